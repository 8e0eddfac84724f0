//! The mail-session model: one [`Session`] per connection, built from a dissector's
//! transcript and the MIME summaries of its messages. This is the JSON contract of
//! `mailscope FILE --format json` (see `docs/session.schema.json`); renderers read only this.

use crate::flow::ConnSummary;
use crate::mime::{Headers, MimeInfo, Part};
use crate::proto::event::{Anomaly, Mark};
use crate::proto::transcript::{Message, Transcript};
use crate::types::Endpoint;
use crate::types::Protocol;
use crate::types::Timestamp;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Session {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u64,
    pub protocol: Protocol,
    pub client: Endpoint,
    pub server: Endpoint,
    pub start: String,
    pub end: String,
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
    pub tls: Option<TlsInfo>,
    pub auth: Vec<AuthInfo>,
    pub capabilities: Vec<String>,
    pub exchanges: Vec<ExchangeInfo>,
    pub messages: Vec<MessageInfo>,
    pub anomalies: Vec<AnomalyInfo>,
    /// IMAP: mailboxes selected or examined.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mailboxes: Vec<MailboxInfo>,
    /// IMAP COMPRESS=DEFLATE: when compression started (RFC 3339); nothing after it is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// Exchanges past `--max-exchanges`: counted and summarised, not kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchanges_omitted: Option<OmittedInfo>,
    /// Messages past the per-session limit: counted, not kept or decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_omitted: Option<MessagesOmitted>,
    /// Stream bytes the capture lacks, per direction.
    pub gap_bytes: crate::session::PerSide<u64>,
    /// Session start, for relative times; not serialised.
    #[serde(skip)]
    pub start_ts: Timestamp,
}

/// Exchanges counted instead of kept.
#[derive(Clone, Debug, Serialize)]
pub struct OmittedInfo {
    pub count: u64,
    /// Index of the first exchange kept after the omitted ones began (they are reported
    /// before it).
    pub after: usize,
    pub first: String,
    pub last: String,
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
    pub password: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MailboxInfo {
    pub name: String,
    pub read_only: bool,
    pub exists: Option<u64>,
    pub recent: Option<u64>,
    pub uidvalidity: Option<u64>,
    pub uidnext: Option<u64>,
    pub flags: Option<String>,
    pub exchange: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct TlsInfo {
    /// `starttls` or `implicit`.
    pub mode: &'static str,
    /// When TLS took over (RFC 3339).
    pub at: String,
    pub frame: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuthInfo {
    pub mechanism: String,
    pub username: Option<String>,
    /// `<redacted>` unless secrets were asked for.
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authzid: Option<String>,
    pub success: Option<bool>,
    pub exchange: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct CommandInfo {
    pub verb: String,
    pub args: String,
    /// IMAP tag; null for SMTP and POP3.
    pub tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<(String, Option<String>)>,
    /// IMAP: the mailbox named, decoded from modified UTF-7.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReplyInfo {
    pub ts: String,
    pub frame: u64,
    pub code: String,
    pub enhanced: Option<String>,
    pub lines: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Milliseconds since the command (or the previous reply of the exchange).
    pub latency_ms: Option<f64>,
    #[serde(skip)]
    pub at: Timestamp,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClientLineInfo {
    pub ts: String,
    pub frame: u64,
    pub text: String,
    #[serde(skip)]
    pub at: Timestamp,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExchangeInfo {
    pub ts: String,
    pub frame: u64,
    pub command: Option<CommandInfo>,
    /// Lines the client sent inside the exchange (SASL responses).
    pub client_lines: Vec<ClientLineInfo>,
    pub replies: Vec<ReplyInfo>,
    /// Code of the final reply.
    pub status: Option<String>,
    pub message: Option<usize>,
    pub pipelined: bool,
    pub incomplete: bool,
    /// Replies past `max_replies`: counted, not kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub replies_omitted: u64,
    /// Client lines past `max_replies`: counted, not kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub client_lines_omitted: u64,
    #[serde(skip)]
    pub at: Timestamp,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Serialize)]
pub struct MessageInfo {
    pub origin: &'static str,
    /// Index of the exchange that carried it.
    pub exchange: usize,
    pub ts: String,
    pub frame: u64,
    pub mail_from: Option<String>,
    pub rcpt_to: Vec<String>,
    pub size: u64,
    pub sha256: String,
    pub truncated: bool,
    pub incomplete: bool,
    /// Why the message was not decoded via MIME (its size and SHA-256 are still exact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_decoded: Option<String>,
    pub content_type: Option<String>,
    pub headers: Headers,
    pub parts: Vec<Part>,
    pub mime_anomalies: Vec<crate::mime::MimeAnomaly>,
    /// Entities with depth and section, containers included (for drawing the tree).
    #[serde(skip)]
    pub tree: Vec<(usize, String, String)>,
    /// The message bytes, kept only for `--extract`.
    #[serde(skip)]
    pub raw: Option<Vec<u8>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnomalyInfo {
    pub name: &'static str,
    pub rfc: &'static str,
    pub explanation: &'static str,
    pub ts: String,
    pub frame: u64,
    pub detail: String,
    /// `limit-reached`: how many things were counted instead of kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip)]
    pub at: Timestamp,
}

impl From<&Anomaly> for AnomalyInfo {
    fn from(a: &Anomaly) -> AnomalyInfo {
        AnomalyInfo {
            name: a.name(),
            rfc: a.rfc(),
            explanation: a.explanation(),
            ts: a.ts.to_rfc3339(),
            frame: a.frame,
            detail: a.detail.clone(),
            count: a.count,
            at: a.ts,
        }
    }
}

/// The model of a message without its MIME decoding: what the transfer told (envelope,
/// size; the hash only if the dissector computed it, for a truncated message).
/// [`MessageInfo::set_decoded`] completes it; the pipeline may decode elsewhere.
pub fn envelope(m: Message, keep_raw: bool) -> MessageInfo {
    MessageInfo {
        origin: m.origin,
        exchange: m.exchange,
        ts: m.mark.ts.to_rfc3339(),
        frame: m.mark.frame,
        mail_from: m.mail_from,
        rcpt_to: m.rcpt_to,
        size: m.size,
        sha256: m.sha256.unwrap_or_default(),
        truncated: m.truncated,
        incomplete: m.incomplete,
        not_decoded: m.not_decoded.map(str::to_string),
        content_type: None,
        headers: Headers::default(),
        parts: Vec::new(),
        mime_anomalies: Vec::new(),
        tree: Vec::new(),
        raw: keep_raw.then_some(m.bytes),
    }
}

impl MessageInfo {
    /// Fills in what decoding found: the MIME facts and, unless the dissector had to
    /// compute it, the SHA-256 of the message bytes.
    pub fn set_decoded(&mut self, mime: MimeInfo, sha256: Option<String>) {
        if let Some(h) = sha256 {
            self.sha256 = h;
        }
        self.content_type = mime.content_type;
        self.headers = mime.headers;
        self.parts = mime.parts;
        self.mime_anomalies = mime.anomalies;
        self.tree = mime.tree;
    }
}

fn at(mark: Mark) -> (String, u64, Timestamp) {
    (mark.ts.to_rfc3339(), mark.frame, mark.ts)
}

/// One exchange of the model; `protocol` decides how reply latencies are counted.
fn exchange_info(
    e: &crate::proto::transcript::Exchange,
    protocol: Protocol,
    show_secrets: bool,
) -> ExchangeInfo {
    let (ts, frame, when) = at(e.mark);
    let mut prev = when;
    let replies = e
        .replies
        .iter()
        .map(|r| {
            let (ts, frame, rat) = at(r.mark);
            // IMAP: the tagged completion counts from the command, untagged data
            // has no latency of its own; SMTP/POP3: from the previous step.
            let latency = match (protocol, r.code.as_str()) {
                (Protocol::Imap, "OK" | "NO" | "BAD") => Some(rat.since(when)),
                (Protocol::Imap, _) => None,
                _ => Some(rat.since(prev)),
            }
            .filter(|_| e.command.is_some())
            .map(|ns| ns as f64 / 1e6);
            prev = rat;
            ReplyInfo {
                ts,
                frame,
                code: r.code.clone(),
                enhanced: r.enhanced.clone(),
                lines: r.lines.clone(),
                summary: r.summary.clone(),
                latency_ms: latency,
                at: rat,
            }
        })
        .collect();
    ExchangeInfo {
        ts,
        frame,
        command: e.command.as_ref().map(|c| CommandInfo {
            verb: c.verb.clone(),
            args: match (&c.secret_args, show_secrets) {
                (Some(s), true) => s.expose().to_string(),
                _ => c.args.clone(),
            },
            tag: c.tag.clone(),
            address: c.address.clone(),
            params: c.params.clone(),
            mailbox: c.mailbox.clone(),
        }),
        client_lines: e
            .client_lines
            .iter()
            .map(|l| {
                let (ts, frame, lat) = at(l.mark);
                ClientLineInfo {
                    ts,
                    frame,
                    text: match (&l.secret, show_secrets) {
                        (Some(s), true) => s.expose().to_string(),
                        _ => l.text.clone(),
                    },
                    at: lat,
                }
            })
            .collect(),
        replies,
        status: e.status().map(str::to_string),
        message: e.message,
        pipelined: e.pipelined,
        incomplete: e.incomplete,
        replies_omitted: e.replies_omitted,
        client_lines_omitted: e.client_lines_omitted,
        at: when,
    }
}

/// Builds a session from the connection summary and a dissector's transcript.
pub fn session(
    summary: &ConnSummary,
    protocol: Protocol,
    mut t: Transcript,
    mut messages: Vec<MessageInfo>,
    show_secrets: bool,
) -> Session {
    // Exchanges past the limit were let go: references are translated to positions in the
    // list kept (one to an exchange let go points where the omission is reported).
    let (kept_list, kept, omitted) = std::mem::take(&mut t.exchanges).into_kept();
    for m in &mut messages {
        m.exchange = kept.position(m.exchange);
    }
    let message_count = messages.len();
    let exchanges = kept_list
        .iter()
        .map(|e| {
            let mut x = exchange_info(e, protocol, show_secrets);
            // A message past the per-session limit was counted, not kept.
            x.message = x.message.filter(|&i| i < message_count);
            x
        })
        .collect();
    Session {
        tls: t.tls.as_ref().map(|tls| TlsInfo {
            mode: tls.mode,
            at: tls.at.to_rfc3339(),
            frame: tls.frame,
            sni: tls.sni.clone(),
            version: tls.version.clone(),
        }),
        auth: t
            .auth
            .iter()
            .map(|a| AuthInfo {
                mechanism: a.mechanism.clone(),
                username: a.username.clone(),
                password: a
                    .password
                    .as_ref()
                    .map(|p| p.shown(show_secrets).to_string()),
                authzid: a.authzid.clone(),
                success: a.success,
                exchange: kept.position(a.exchange),
            })
            .collect(),
        capabilities: t.capabilities.clone(),
        exchanges,
        messages,
        anomalies: t.anomalies.iter().map(AnomalyInfo::from).collect(),
        mailboxes: t
            .mailboxes
            .iter()
            .map(|m| MailboxInfo {
                name: m.name.clone(),
                read_only: m.read_only,
                exists: m.exists,
                recent: m.recent,
                uidvalidity: m.uidvalidity,
                uidnext: m.uidnext,
                flags: m.flags.clone(),
                exchange: kept.position(m.exchange),
            })
            .collect(),
        compression: t.compression.map(|m| m.ts.to_rfc3339()),
        exchanges_omitted: (omitted.count > 0).then(|| OmittedInfo {
            count: omitted.count,
            after: kept.position(omitted.after),
            first: omitted.first.unwrap_or_default().ts.to_rfc3339(),
            last: omitted.last.unwrap_or_default().ts.to_rfc3339(),
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
        protocol,
        client: info.client,
        server: info.server,
        start: info.start.to_rfc3339(),
        end: summary.end.to_rfc3339(),
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
        start_ts: info.start,
    }
}

/// A session on an implicit-TLS port (465/993/995): nothing inside can be read.
pub fn tls_session(summary: &ConnSummary, protocol: Protocol) -> Session {
    let info = &summary.info;
    Session {
        tls: Some(TlsInfo {
            mode: "implicit",
            at: info.start.to_rfc3339(),
            frame: info.first_frame,
            sni: None,
            version: None,
        }),
        ..base(summary, protocol)
    }
}

/// Puts the proxy setup a session ran inside in front of it: the tunnel facts, and the
/// proxy request and answer as its first exchange(s) (the indices into the exchanges move).
pub fn add_tunnel(s: &mut Session, setup: &crate::proto::tunnel::Setup, show_secrets: bool) {
    let n = setup.exchanges.len();
    let mut exchanges: Vec<ExchangeInfo> = setup
        .exchanges
        .iter()
        .map(|e| exchange_info(e, Protocol::Unknown, show_secrets))
        .collect();
    exchanges.append(&mut s.exchanges);
    s.exchanges = exchanges;
    s.auth.iter_mut().for_each(|a| a.exchange += n);
    s.messages.iter_mut().for_each(|m| m.exchange += n);
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
        password: setup
            .password
            .as_ref()
            .map(|p| p.shown(show_secrets).to_string()),
    });
}
