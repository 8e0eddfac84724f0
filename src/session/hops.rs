//! The hops of a message across sessions: which sessions of a run carried the same message,
//! linked by its Message-ID, in time order, each with its role in the mail flow (MUA → MSA
//! → MTA → MDA → MUA). Pure: sessions in, [`Path`]s out; the mail-flow picture
//! (`render::flowpic`) draws them.
//!
//! ```text
//! session 1  SMTP 10.0.0.5 → 10.0.0.2:587  submission  Message-ID <x@y>
//! session 2  SMTP 10.0.0.2 → 10.0.0.3:25   relay       Message-ID <x@y>   ─┐ one Path
//! session 3  POP3 10.0.0.9 → 10.0.0.3:110  retrieval   Message-ID <x@y>   ─┘
//! ```
//!
//! The Message-ID is normalised as RFC 5322 §3.6.4 allows (surrounding angle brackets and
//! white space dropped, the domain part's case folded; the local part is case-sensitive).
//! A message without one, or with one longer than a header line may be (998 bytes), is not
//! linked. A session that carries the same message twice (POP3 TOP then RETR) is one hop,
//! the first. What is kept answers to `Limits::max_flow_hops`: one [`Fact`] per session
//! and Message-ID, envelope strings cut to [`TEXT`] bytes and at most [`RCPT`] recipients
//! each; linking sorts them once (O(n log n)).

use crate::session::mail::{MessageInfo, Session};
use crate::types::{Endpoint, Protocol, Timestamp};
use std::collections::HashSet;

/// Bytes of a capture string (envelope address, mailbox, subject) a hop keeps; longer ones
/// are cut (at a character boundary) and end in `…`.
pub const TEXT: usize = 200;
/// Envelope recipients a hop keeps; the rest are counted in [`Hop::rcpt_total`].
pub const RCPT: usize = 3;
/// The longest Message-ID linked: RFC 5322 §2.1.1's line length.
const MAX_ID: usize = 998;

/// What a hop was in the mail flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// SMTP from a MUA to an MSA: to port 587 or 465, or with AUTH.
    Submission,
    /// SMTP between MTAs: to port 25 (or another port without AUTH).
    Relay,
    /// POP3 or IMAP: the recipient's MUA fetching the message from its mailbox.
    Retrieval,
    /// IMAP APPEND: a MUA storing a copy into a mailbox (a Sent folder).
    Append,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submission => "submission",
            Role::Relay => "relay",
            Role::Retrieval => "retrieval",
            Role::Append => "append",
        }
    }
}

/// One session's part in a message's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    /// The session's id (as the other formats number it).
    pub session: u64,
    pub protocol: Protocol,
    pub role: Role,
    pub client: Endpoint,
    pub server: Endpoint,
    /// When the message crossed (its transfer's mark).
    pub time: Timestamp,
    /// How it crossed: `smtp-data`, `smtp-bdat`, `pop3-retr`, `pop3-top`, `imap-fetch`,
    /// `imap-append`.
    pub origin: &'static str,
    /// SMTP: the envelope sender (cut to [`TEXT`]).
    pub mail_from: Option<String>,
    /// SMTP: the first [`RCPT`] envelope recipients the server accepted (each cut).
    pub rcpt_to: Vec<String>,
    /// SMTP: how many recipients there were in all.
    pub rcpt_total: usize,
    /// IMAP: the mailbox selected when it crossed (cut).
    pub mailbox: Option<String>,
}

/// A hop and the message it carried: what a run keeps of each session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// The normalised Message-ID (see [`normalise`]).
    pub id: String,
    /// The message's Subject, decoded (cut).
    pub subject: Option<String>,
    pub hop: Hop,
}

/// One message seen in at least two sessions: its hops in time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The normalised Message-ID, without angle brackets.
    pub id: String,
    /// The Subject of its first hop that had one.
    pub subject: Option<String>,
    pub hops: Vec<Hop>,
}

/// `id` as it is compared: white space and one pair of angle brackets around it dropped,
/// the domain part (after the last `@`) in lower case. `None` for an empty or over-long one.
pub fn normalise(id: &str) -> Option<String> {
    let t = id.trim();
    let t = t
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(t)
        .trim();
    if t.is_empty() || t.len() > MAX_ID {
        return None;
    }
    Some(match t.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => t.to_string(),
    })
}

/// `s` cut to [`TEXT`] bytes at a character boundary, with `…` when cut.
fn cut(s: &str) -> String {
    if s.len() <= TEXT {
        return s.to_string();
    }
    let mut end = TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The role of a session that carried `m`.
pub fn role(s: &Session, m: &MessageInfo) -> Role {
    match (s.protocol, m.transfer.origin) {
        (_, "imap-append") => Role::Append,
        (Protocol::Pop3 | Protocol::Imap, _) => Role::Retrieval,
        _ if matches!(s.server.port, 587 | 465) || !s.auth.is_empty() => Role::Submission,
        _ => Role::Relay,
    }
}

/// The hop facts of one session: one per Message-ID it carried (the first message with
/// it), in the session's order.
pub fn facts(s: &Session) -> Vec<Fact> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for m in &s.messages {
        let Some(id) = m.mime.headers.message_id.as_deref().and_then(normalise) else {
            continue;
        };
        if !seen.insert(id.clone()) {
            continue;
        }
        // The mailbox selected last before the exchange that carried it.
        let mailbox = (s.protocol == Protocol::Imap)
            .then(|| {
                s.mailboxes
                    .iter()
                    .rfind(|b| b.exchange <= m.transfer.exchange)
                    .map(|b| cut(&b.name))
            })
            .flatten();
        let hop = Hop {
            session: s.id,
            protocol: s.protocol,
            role: role(s, m),
            client: s.client,
            server: s.server,
            time: m.transfer.mark.ts,
            origin: m.transfer.origin,
            mail_from: m.transfer.mail_from.as_deref().map(cut),
            rcpt_to: m
                .transfer
                .rcpt_to
                .iter()
                .take(RCPT)
                .map(|r| cut(r))
                .collect(),
            rcpt_total: m.transfer.rcpt_to.len(),
            mailbox,
        };
        out.push(Fact {
            id,
            subject: m.mime.headers.subject.as_deref().map(cut),
            hop,
        });
    }
    out
}

/// The hop facts of a run, kept as sessions pass (a sink keeps this, not the sessions):
/// at most `max` of them (`Limits::max_flow_hops`), the rest counted.
#[derive(Clone, Debug, Default)]
pub struct Links {
    facts: Vec<Fact>,
    max: usize,
    /// Facts past `max`, counted and not kept.
    pub dropped: u64,
}

impl Links {
    pub fn new(max: usize) -> Links {
        Links {
            facts: Vec::new(),
            max,
            dropped: 0,
        }
    }

    /// Keeps the hop facts of `s` (only those with a Message-ID).
    pub fn add(&mut self, s: &Session) {
        for f in facts(s) {
            if self.facts.len() < self.max {
                self.facts.push(f);
            } else {
                self.dropped += 1;
            }
        }
    }

    /// The messages seen in at least two sessions, each with its hops in time order (then
    /// session id), in order of their first hop.
    pub fn paths(&self) -> Vec<Path> {
        let mut facts: Vec<&Fact> = self.facts.iter().collect();
        facts.sort_by(|a, b| {
            (&a.id, a.hop.time, a.hop.session).cmp(&(&b.id, b.hop.time, b.hop.session))
        });
        let mut paths = Vec::new();
        for group in facts.chunk_by(|a, b| a.id == b.id) {
            // One fact per session and id (`facts`), unless a session id came twice.
            let sessions: HashSet<u64> = group.iter().map(|f| f.hop.session).collect();
            if sessions.len() < 2 {
                continue;
            }
            paths.push(Path {
                id: group[0].id.clone(),
                subject: group.iter().find_map(|f| f.subject.clone()),
                hops: group.iter().map(|f| f.hop.clone()).collect(),
            });
        }
        paths.sort_by_key(|p| p.hops.first().map(|h| (h.time, h.session)));
        paths
    }
}

/// The linked messages of `sessions`, keeping at most `max` hop facts (see [`Links`]).
pub fn link(sessions: &[Session], max: usize) -> (Vec<Path>, u64) {
    let mut links = Links::new(max);
    for s in sessions {
        links.add(s);
    }
    (links.paths(), links.dropped)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mime::MimeInfo;
    use crate::proto::event::{Auth, Mark};
    use crate::proto::transcript::{Mailbox, Message};
    use std::net::{IpAddr, Ipv4Addr};

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            port,
        }
    }

    /// A message with the given Message-ID header and subject, crossing at second `at`.
    pub(crate) fn message(
        origin: &'static str,
        id: Option<&str>,
        subject: &str,
        at: i64,
    ) -> MessageInfo {
        let mut mime = MimeInfo::default();
        mime.headers.message_id = id.map(str::to_string);
        mime.headers.subject = Some(subject.to_string());
        MessageInfo {
            number: 1,
            transfer: Message {
                origin,
                exchange: 0,
                mark: Mark {
                    frame: at as u64,
                    ts: Timestamp::from_nanos(at * 1_000_000_000),
                },
                mail_from: origin
                    .starts_with("smtp")
                    .then(|| "carol@example.net".to_string()),
                rcpt_to: if origin.starts_with("smtp") {
                    vec!["alice@example.test".into()]
                } else {
                    Vec::new()
                },
                size: 100,
                sha256: None,
                truncated: false,
                incomplete: false,
                not_decoded: None,
                tls: false,
                bytes: Default::default(),
            },
            mime,
        }
    }

    /// A session `id` of `protocol` from 10.0.0.`client` to 10.0.0.`server`:`port`.
    pub(crate) fn session(
        id: u64,
        protocol: Protocol,
        (client, server, port): (u8, u8, u16),
        messages: Vec<MessageInfo>,
    ) -> Session {
        let start = messages
            .first()
            .map(|m| m.transfer.mark.ts)
            .unwrap_or_default();
        Session {
            kind: "session",
            id,
            file: None,
            protocol,
            client: ep(client, 40000 + id as u16),
            server: ep(server, port),
            start,
            end: start,
            duration: 0.0,
            state: "complete",
            handshake: true,
            one_sided: None,
            tunnel: None,
            tls: None,
            auth: Vec::new(),
            capabilities: Vec::new(),
            exchanges: Vec::new(),
            messages,
            anomalies: Vec::new(),
            mailboxes: Vec::new(),
            compression: None,
            exchanges_omitted: None,
            messages_omitted: None,
            gap_bytes: Default::default(),
            unread_bytes: Default::default(),
        }
    }

    /// Submission on 587, relay on 25, POP3 retrieval, IMAP fetch of `<x@Y.example>`, plus
    /// a message seen once and one without a Message-ID; given out of time order.
    pub(crate) fn run() -> Vec<Session> {
        let subj = "Quarterly report";
        let mut imap = session(
            4,
            Protocol::Imap,
            (9, 3, 143),
            vec![message("imap-fetch", Some("x@y.EXAMPLE"), subj, 40)],
        );
        imap.mailboxes.push(Mailbox {
            name: "INBOX".into(),
            read_only: false,
            exists: Some(1),
            recent: None,
            uidvalidity: None,
            uidnext: None,
            flags: None,
            exchange: 0,
        });
        vec![
            session(
                3,
                Protocol::Pop3,
                (9, 3, 110),
                vec![
                    message("pop3-top", Some(" <x@Y.example> "), subj, 30),
                    message("pop3-retr", Some("<x@y.example>"), subj, 31),
                    message("pop3-retr", Some("<once@y.example>"), "alone", 32),
                    message("pop3-retr", None, "no id", 33),
                ],
            ),
            session(
                1,
                Protocol::Smtp,
                (5, 2, 587),
                vec![message("smtp-data", Some("<x@Y.example>"), subj, 10)],
            ),
            imap,
            session(
                2,
                Protocol::Smtp,
                (2, 3, 25),
                vec![message("smtp-bdat", Some("<x@y.example>"), subj, 20)],
            ),
            // The local part is case-sensitive: not the same message.
            session(
                5,
                Protocol::Smtp,
                (2, 3, 25),
                vec![message("smtp-data", Some("<X@y.example>"), subj, 50)],
            ),
        ]
    }

    #[test]
    fn normalise_drops_brackets_and_folds_only_the_domain() {
        assert_eq!(
            normalise(" <Ab.C@Mail.Example> ").unwrap(),
            "Ab.C@mail.example"
        );
        assert_eq!(normalise("Ab.C@mail.example").unwrap(), "Ab.C@mail.example");
        assert_eq!(normalise("<no-at-sign>").unwrap(), "no-at-sign");
        assert_eq!(normalise("<>"), None);
        assert_eq!(normalise("  "), None);
        assert_eq!(normalise(&"a".repeat(MAX_ID + 1)), None);
    }

    #[test]
    fn hops_are_linked_by_message_id_in_time_order_with_their_roles() {
        let (paths, dropped) = link(&run(), 100);
        assert_eq!(dropped, 0);
        assert_eq!(paths.len(), 1, "{paths:#?}");
        let p = &paths[0];
        assert_eq!(p.id, "x@y.example");
        assert_eq!(p.subject.as_deref(), Some("Quarterly report"));
        let got: Vec<(u64, Role, &str)> = p
            .hops
            .iter()
            .map(|h| (h.session, h.role, h.origin))
            .collect();
        assert_eq!(
            got,
            [
                (1, Role::Submission, "smtp-data"),
                (2, Role::Relay, "smtp-bdat"),
                // TOP then RETR in one session: one hop, the first.
                (3, Role::Retrieval, "pop3-top"),
                (4, Role::Retrieval, "imap-fetch"),
            ]
        );
        assert_eq!(p.hops[0].mail_from.as_deref(), Some("carol@example.net"));
        assert_eq!(p.hops[1].rcpt_to, ["alice@example.test"]);
        assert_eq!(p.hops[3].mailbox.as_deref(), Some("INBOX"));
        assert_eq!(p.hops[2].mailbox, None);
    }

    #[test]
    fn smtp_with_auth_is_submission_on_any_port_and_without_it_relay() {
        let m = message("smtp-data", Some("<a@b>"), "s", 1);
        let mut s = session(1, Protocol::Smtp, (1, 2, 2525), vec![m.clone()]);
        assert_eq!(role(&s, &m), Role::Relay);
        s.auth.push(Auth {
            mechanism: "PLAIN".into(),
            username: Some("u".into()),
            password: None,
            authzid: None,
            domain: None,
            workstation: None,
            success: Some(true),
            exchange: 0,
        });
        assert_eq!(role(&s, &m), Role::Submission);
        let s465 = session(1, Protocol::Smtp, (1, 2, 465), vec![m.clone()]);
        assert_eq!(role(&s465, &m), Role::Submission);
        let a = message("imap-append", Some("<a@b>"), "s", 1);
        let imap = session(1, Protocol::Imap, (1, 2, 143), vec![a.clone()]);
        assert_eq!(role(&imap, &a), Role::Append);
    }

    #[test]
    fn a_message_seen_in_one_session_only_is_not_linked() {
        let (paths, _) = link(&run()[..1], 100);
        assert!(paths.is_empty(), "{paths:#?}");
    }

    #[test]
    fn hops_past_the_limit_are_counted_not_kept() {
        // 3 facts fit: submission, relay and the POP3 session's first (x@y); the rest
        // (POP3's `once`, the IMAP fetch, session 5) are counted.
        let mut sessions = run();
        sessions.sort_by_key(|s| s.id);
        let (paths, dropped) = link(&sessions, 3);
        assert_eq!(dropped, 3);
        assert_eq!(paths.len(), 1);
        assert_eq!(paths[0].hops.len(), 3);
        // A hostile capture: many sessions each with many distinct ids stay bounded.
        let many: Vec<MessageInfo> = (0..1000)
            .map(|i| message("pop3-retr", Some(&format!("<{i}@h>")), "s", i))
            .collect();
        let s = session(9, Protocol::Pop3, (1, 2, 110), many);
        let mut links = Links::new(100);
        for _ in 0..50 {
            links.add(&s);
        }
        assert_eq!(links.facts.len(), 100);
        assert_eq!(links.dropped, 50 * 1000 - 100);
    }

    #[test]
    fn long_capture_strings_are_cut() {
        let mut m = message("smtp-data", Some("<a@b>"), &"s".repeat(5000), 1);
        m.transfer.mail_from = Some("é".repeat(3000));
        m.transfer.rcpt_to = (0..10).map(|i| format!("r{i}@x")).collect();
        let f = &facts(&session(1, Protocol::Smtp, (1, 2, 25), vec![m]))[0];
        assert!(f.subject.as_ref().unwrap().len() <= TEXT + 3);
        assert!(f.hop.mail_from.as_ref().unwrap().ends_with('…'));
        assert_eq!(f.hop.rcpt_to.len(), RCPT);
        assert_eq!(f.hop.rcpt_total, 10);
    }
}
