//! The mail-session model: one [`Session`] per connection. It holds the dissectors' record
//! types ([`Exchange`], [`Auth`], [`Tls`], [`Mailbox`], [`Message`], …) as they are, moved
//! out of the transcript, plus what only the session knows (the connection, MIME results,
//! reply latencies, what limits set aside). This is the JSON contract of
//! `mailscope FILE --format json` (see `docs/session.schema.json`); renderers read only this.

use crate::flow::ConnSummary;
use crate::mime::MimeInfo;
use crate::proto::event::{Anomaly, Auth, Secret, Tls};
use crate::proto::transcript::{Exchange, Mailbox, Message, Transcript};
use crate::types::{Endpoint, Protocol, Timestamp};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Session {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u64,
    /// The capture file its first packet came from, when several were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub protocol: Protocol,
    pub client: Endpoint,
    pub server: Endpoint,
    pub start: Timestamp,
    pub end: Timestamp,
    pub duration: f64,
    pub state: &'static str,
    /// The TCP handshake was seen (false: picked up mid-stream).
    pub handshake: bool,
    /// Only one direction was captured (asymmetric routing, a one-way SPAN port): `client`
    /// or `server`, the side that was seen. Absent for a two-sided capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_sided: Option<&'static str>,
    /// The session ran inside a proxy tunnel (HTTP CONNECT, SOCKS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelInfo>,
    pub tls: Option<Tls>,
    pub auth: Vec<Auth>,
    pub capabilities: Vec<String>,
    pub exchanges: Vec<Exchange>,
    pub messages: Vec<MessageInfo>,
    pub anomalies: Vec<Anomaly>,
    /// IMAP: mailboxes selected or examined.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mailboxes: Vec<Mailbox>,
    /// IMAP COMPRESS=DEFLATE: when compression started; nothing after it is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<Timestamp>,
    /// Exchanges past `--max-exchanges`: counted and summarised, not kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchanges_omitted: Option<OmittedInfo>,
    /// Messages past the per-session limit: counted, not kept or decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_omitted: Option<MessagesOmitted>,
    /// Stream bytes the capture lacks, per direction.
    pub gap_bytes: crate::session::PerSide<u64>,
    /// Stream bytes not read because a stream transform gave up on them (a hole in, or
    /// corrupt, COMPRESS=DEFLATE data), per direction; absent when none.
    #[serde(skip_serializing_if = "crate::session::PerSide::is_zero")]
    pub unread_bytes: crate::session::PerSide<u64>,
}

/// Exchanges counted instead of kept.
#[derive(Clone, Debug, Serialize)]
pub struct OmittedInfo {
    pub count: u64,
    /// Index of the first exchange kept after the omitted ones began (they are reported
    /// before it).
    pub after: usize,
    pub first: Timestamp,
    pub last: Timestamp,
    /// Omitted exchanges per command verb (`""`: no command).
    pub verbs: std::collections::BTreeMap<String, u64>,
}

/// Messages counted instead of kept.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MessagesOmitted {
    pub count: u64,
    /// Their sizes added up.
    pub bytes: u64,
}

/// The proxy tunnel a session ran in.
#[derive(Clone, Debug, Serialize)]
pub struct TunnelInfo {
    /// `http-connect`, `socks4`, `socks4a` or `socks5`.
    pub kind: &'static str,
    /// How a person names it: `HTTP CONNECT`, `SOCKS5`.
    #[serde(skip)]
    pub label: &'static str,
    /// The proxy: the server end of the connection.
    pub proxy: Endpoint,
    /// `host:port` the client asked the proxy for.
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `<redacted>` unless secrets were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
}

/// A message of the session: what the transfer told, and what MIME decoding found.
#[derive(Clone, Debug, Serialize)]
pub struct MessageInfo {
    /// 1-based position in the session's `messages` (the array index plus one), as the text
    /// output numbers it.
    pub number: usize,
    #[serde(flatten)]
    pub transfer: Message,
    #[serde(flatten)]
    pub mime: MimeInfo,
}

/// The model of a message without its MIME decoding: what the transfer told (envelope,
/// size; the hash only if the dissector computed it, for a truncated message). Its bytes
/// stay in `transfer.bytes` only when `keep_raw` (for `--extract`).
/// [`MessageInfo::set_decoded`] completes it; the pipeline may decode elsewhere.
pub fn envelope(mut m: Message, keep_raw: bool) -> MessageInfo {
    if !keep_raw {
        m.bytes = Default::default();
    }
    MessageInfo {
        number: 0,
        transfer: m,
        mime: MimeInfo::default(),
    }
}

impl MessageInfo {
    /// Fills in what decoding found: the MIME facts and, unless the dissector had to
    /// compute it, the SHA-256 of the message bytes.
    pub fn set_decoded(&mut self, mime: MimeInfo, sha256: Option<String>) {
        if sha256.is_some() {
            self.transfer.sha256 = sha256;
        }
        self.mime = mime;
    }

    /// The message bytes, when they were kept (for `--extract`).
    pub fn raw(&self) -> Option<&[u8]> {
        // Joined by the decoder, so one piece.
        let b = &self.transfer.bytes;
        (!b.is_empty()).then(|| b.single()).flatten()
    }
}

/// Puts exchanges into the model's form: secrets shown if asked for, reply latencies set
/// (`protocol` decides how they are counted).
pub fn settle_exchange(e: &mut Exchange, protocol: Protocol, show_secrets: bool) {
    let when = e.mark.ts;
    let mut prev = when;
    let has_command = e.command.is_some();
    for r in &mut e.replies {
        let at = r.mark.ts;
        // IMAP: the tagged completion counts from the command, untagged data has no
        // latency of its own; SMTP/POP3: from the previous step.
        r.latency_ms = match (protocol, r.code.as_str()) {
            (Protocol::Imap, "OK" | "NO" | "BAD") => Some(at.since(when)),
            (Protocol::Imap, _) => None,
            _ => Some(at.since(prev)),
        }
        .filter(|_| has_command)
        .map(|ns| ns as f64 / 1e6);
        prev = at;
    }
    if show_secrets {
        if let Some(c) = e.command.as_mut() {
            c.reveal();
        }
        e.client_lines.iter_mut().for_each(|l| l.reveal());
    }
}

/// Builds a session from the connection summary and a dissector's transcript, moving its
/// records into the model.
pub fn session(
    summary: &ConnSummary,
    protocol: Protocol,
    t: Transcript,
    mut messages: Vec<MessageInfo>,
    show_secrets: bool,
) -> Session {
    let t = t.into_parts();
    // Exchanges past the limit were let go: references are translated to positions in the
    // list kept (one to an exchange let go points where the omission is reported).
    let (mut exchanges, kept, omitted) = t.exchanges.into_kept();
    for (i, m) in messages.iter_mut().enumerate() {
        m.transfer.exchange = kept.position(m.transfer.exchange);
        m.number = i + 1;
    }
    let message_count = messages.len();
    for e in &mut exchanges {
        settle_exchange(e, protocol, show_secrets);
        // A message past the per-session limit was counted, not kept.
        e.message = e.message.filter(|&i| i < message_count);
    }
    let mut auth = t.auth;
    for a in &mut auth {
        a.exchange = kept.position(a.exchange);
        if show_secrets && let Some(p) = a.password.as_mut() {
            p.reveal();
        }
    }
    let mut mailboxes = t.mailboxes;
    for m in &mut mailboxes {
        m.exchange = kept.position(m.exchange);
    }
    Session {
        tls: t.tls,
        auth,
        capabilities: t.capabilities,
        exchanges,
        messages,
        anomalies: t.anomalies,
        mailboxes,
        compression: t.compression.map(|m| m.ts),
        exchanges_omitted: (omitted.count > 0).then(|| OmittedInfo {
            count: omitted.count,
            after: kept.position(omitted.after),
            first: omitted.first.unwrap_or_default().ts,
            last: omitted.last.unwrap_or_default().ts,
            verbs: omitted.verbs,
        }),
        ..base(summary, protocol)
    }
}

/// The side seen, when the capture holds bytes from one side only.
pub fn one_sided(summary: &ConnSummary) -> Option<&'static str> {
    let seen = |d: usize| summary.dirs[d].bytes + summary.dirs[d].gap_bytes > 0;
    match (seen(0), seen(1)) {
        (true, false) => Some("client"),
        (false, true) => Some("server"),
        _ => None,
    }
}

/// A session with the connection's facts and nothing dissected yet.
fn base(summary: &ConnSummary, protocol: Protocol) -> Session {
    let info = &summary.info;
    Session {
        kind: "session",
        id: info.id,
        file: None,
        protocol,
        client: info.client,
        server: info.server,
        start: info.start,
        end: summary.end,
        duration: summary.end.since(info.start).max(0) as f64 / 1e9,
        state: summary.state.as_str(),
        handshake: summary.handshake,
        one_sided: one_sided(summary),
        tunnel: None,
        tls: None,
        auth: Vec::new(),
        capabilities: Vec::new(),
        exchanges: Vec::new(),
        messages: Vec::new(),
        anomalies: Vec::new(),
        mailboxes: Vec::new(),
        compression: None,
        exchanges_omitted: None,
        messages_omitted: None,
        gap_bytes: crate::session::PerSide::from_dirs([
            summary.dirs[0].gap_bytes,
            summary.dirs[1].gap_bytes,
        ]),
        unread_bytes: crate::session::PerSide::default(),
    }
}

/// A session on an implicit-TLS port (465/993/995): nothing inside can be read.
pub fn tls_session(summary: &ConnSummary, protocol: Protocol) -> Session {
    let info = &summary.info;
    Session {
        tls: Some(Tls::new(
            "implicit",
            crate::proto::event::Mark {
                ts: info.start,
                frame: info.first_frame,
            },
            0,
            0,
        )),
        ..base(summary, protocol)
    }
}

/// Puts the proxy setup a session ran inside in front of it: the tunnel facts, and the
/// proxy request and answer as its first exchange(s) (the indices into the exchanges move).
pub fn add_tunnel(s: &mut Session, setup: &crate::proto::tunnel::Setup, show_secrets: bool) {
    let n = setup.exchanges.len();
    let mut exchanges = setup.exchanges.clone();
    for e in &mut exchanges {
        settle_exchange(e, Protocol::Unknown, show_secrets);
    }
    exchanges.append(&mut s.exchanges);
    s.exchanges = exchanges;
    s.auth.iter_mut().for_each(|a| a.exchange += n);
    s.messages.iter_mut().for_each(|m| m.transfer.exchange += n);
    s.mailboxes.iter_mut().for_each(|m| m.exchange += n);
    if let Some(o) = s.exchanges_omitted.as_mut() {
        o.after += n;
    }
    s.tunnel = Some(TunnelInfo {
        kind: setup.kind.as_str(),
        label: setup.kind.label(),
        proxy: s.server,
        target: setup.target.clone(),
        user: setup.user.clone(),
        password: setup.password.clone().map(|mut p| {
            if show_secrets {
                p.reveal();
            }
            p
        }),
    });
}
