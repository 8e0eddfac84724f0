//! Protocol layer: which mail protocol a connection speaks, and sans-IO dissectors that turn
//! its byte streams into events (`event::Event`, recorded by `transcript::Transcript`).
//! Nothing here sees packets, sockets or clocks: only bytes.
//!
//! This module owns the [`Dissector`] trait, the limits every dissector enforces
//! ([`Bounds`]), the default port map (25/587 SMTP, 110 POP3, 143 IMAP; 465/995/993 the same
//! protocols under implicit TLS), recognition by content ([`recognise`]) and, in `vocab`,
//! every verb, reply code and anomaly the dissectors know.

pub mod dotstuff;
pub mod event;
pub mod imap;
pub mod imap_grammar;
pub mod line;
pub mod pop3;
pub mod smtp;
#[cfg(test)]
mod testkit;
pub mod transcript;
pub mod tunnel;
pub mod vocab;

use crate::types::Protocol;
use serde::Serialize;
use std::collections::BTreeMap;

/// Limits every dissector enforces (from [`crate::limits::Limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Longest line kept; longer lines are cut (and reported).
    pub max_line: usize,
    /// Bytes of a message kept for MIME; past it the message is marked truncated.
    pub max_message: usize,
    /// Exchanges kept in full per session; later ones are counted and summarised.
    pub max_exchanges: usize,
    /// Replies (and client lines) kept per exchange.
    pub max_replies: usize,
    /// Lines kept per multi-line reply.
    pub max_reply_lines: usize,
    /// Anomalies kept per name per session.
    pub max_anomalies: usize,
    /// IMAP: bytes of one logical line (its text parts and the literals that are not
    /// messages), and the number of literals in it.
    pub max_imap_line: usize,
    pub max_imap_literals: usize,
    /// Commands waiting for their reply at once.
    pub max_in_flight: usize,
    /// IMAP: parenthesised lists nested in one line that are read.
    pub max_imap_depth: usize,
    /// IMAP: characters of one field shown in a FETCH summary.
    pub max_imap_field_chars: usize,
    /// IMAP: characters kept of each header value on a FETCH reply.
    pub max_imap_header_chars: usize,
    /// IMAP: header fields (and Received lines) kept on a FETCH reply.
    pub max_imap_header_fields: usize,
    /// IMAP: characters kept of each server line and of each literal among a command's
    /// arguments.
    pub max_imap_text_chars: usize,
}

impl From<&crate::limits::Limits> for Bounds {
    fn from(limits: &crate::limits::Limits) -> Bounds {
        Bounds {
            max_line: limits.max_line,
            max_message: limits.max_message,
            max_exchanges: limits.max_exchanges,
            max_replies: limits.max_replies,
            max_reply_lines: limits.max_reply_lines,
            max_anomalies: limits.max_anomalies,
            max_imap_line: limits.max_imap_line,
            max_imap_literals: limits.max_imap_literals,
            max_in_flight: limits.max_in_flight,
            max_imap_depth: limits.max_imap_depth,
            max_imap_field_chars: limits.max_imap_field_chars,
            max_imap_header_chars: limits.max_imap_header_chars,
            max_imap_header_fields: limits.max_imap_header_fields,
            max_imap_text_chars: limits.max_imap_text_chars,
        }
    }
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds::from(&crate::limits::Limits::default())
    }
}

/// What every sans-IO mail dissector offers the pipeline.
pub trait Dissector {
    /// Bytes from one side, in stream order, any chunking.
    fn on_data(&mut self, side: event::Side, data: &[u8], mark: event::Mark);
    /// `len` bytes from `side` are missing.
    fn on_gap(&mut self, side: event::Side, len: u64, mark: event::Mark);
    /// Changes to the transcript since the last call, in order (messages among them).
    fn take_events(&mut self) -> Vec<event::Event>;
    /// The transcript as the dissector keeps it (read only: changes reach others as events).
    fn transcript(&self) -> &transcript::Transcript;
    /// From now on every change is an event, not only messages, upgrades and the end (a
    /// live view is listening).
    fn record_all(&mut self);
    /// The transcript once the session has ended: what the session is built from.
    fn into_transcript(self: Box<Self>) -> transcript::Transcript;
    /// An anomaly the pipeline found in the session's streams (a transform that gave up).
    fn note(&mut self, anomaly: event::Anomaly);
    /// What the pipeline read of the TLS the session switched to.
    fn tls_info(&mut self, info: &crate::transform::tls::conn::Info);
    /// The connection is TLS from its first byte (implicit TLS: 465, 993, 995): the
    /// pipeline decrypts it, when it can, and hands over the plaintext.
    fn implicit_tls(&mut self, mark: event::Mark);
    /// The bytes after an accepted STARTTLS are not TLS (the pipeline looked): read on as
    /// text.
    fn resume_text(&mut self);
    /// The bytes from here on are the plaintext of the session's TLS (the pipeline
    /// decrypts them): read as the protocol after STARTTLS (or from the start, for implicit
    /// TLS), each exchange and message marked as inside TLS.
    fn inside_tls(&mut self);
    /// Bytes of messages in flight kept for decoding.
    fn held_bytes(&self) -> usize;
    /// Stop keeping the bytes of the messages in flight: they are hashed instead, and
    /// marked as not decoded (a memory budget over all sessions was reached).
    fn shed(&mut self);
    /// Both directions ended: the last changes follow, ending with `Event::End`.
    fn end(&mut self, mark: event::Mark);
}

/// The `Dissector` trait for a dissector type with inherent `on_data`, `on_gap`,
/// `held_bytes`, `shed` and `end`, and its transcript in a field `t`.
macro_rules! dissector {
    ($t:ty) => {
        impl Dissector for $t {
            fn on_data(&mut self, side: event::Side, data: &[u8], mark: event::Mark) {
                <$t>::on_data(self, side, data, mark)
            }
            fn on_gap(&mut self, side: event::Side, len: u64, mark: event::Mark) {
                <$t>::on_gap(self, side, len, mark)
            }
            fn take_events(&mut self) -> Vec<event::Event> {
                self.t.take_events()
            }
            fn transcript(&self) -> &transcript::Transcript {
                &self.t
            }
            fn record_all(&mut self) {
                self.t.record_all()
            }
            fn into_transcript(self: Box<Self>) -> transcript::Transcript {
                let mut t = self.t;
                t.finish();
                t
            }
            fn note(&mut self, anomaly: event::Anomaly) {
                self.t.anomaly(anomaly)
            }
            fn tls_info(&mut self, info: &crate::transform::tls::conn::Info) {
                self.t.tls_info(info)
            }
            fn implicit_tls(&mut self, mark: event::Mark) {
                self.t.set_tls(event::Tls::new("implicit", mark, 0, 0))
            }
            fn resume_text(&mut self) {
                <$t>::resume_text(self)
            }
            fn inside_tls(&mut self) {
                <$t>::resume_text(self);
                self.t.set_inside_tls();
            }
            fn held_bytes(&self) -> usize {
                <$t>::held_bytes(self)
            }
            fn shed(&mut self) {
                <$t>::shed(self)
            }
            fn end(&mut self, mark: event::Mark) {
                <$t>::end(self, mark)
            }
        }
    };
}

dissector!(smtp::Smtp);
dissector!(pop3::Pop3);
dissector!(imap::Imap);
use std::str::FromStr;

/// What a server port is taken to carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRole {
    pub protocol: Protocol,
    /// Implicit TLS (SMTPS 465, POP3S 995, IMAPS 993).
    pub tls: bool,
}

impl FromStr for PortRole {
    type Err = String;
    fn from_str(s: &str) -> Result<PortRole, String> {
        let (protocol, tls) = match s.to_ascii_lowercase().as_str() {
            "smtp" => (Protocol::Smtp, false),
            "smtps" => (Protocol::Smtp, true),
            "pop3" | "pop" => (Protocol::Pop3, false),
            "pop3s" | "pops" => (Protocol::Pop3, true),
            "imap" => (Protocol::Imap, false),
            "imaps" => (Protocol::Imap, true),
            other => {
                return Err(format!(
                    "unknown protocol {other:?} (expected smtp, smtps, pop3, pop3s, imap, imaps)"
                ));
            }
        };
        Ok(PortRole { protocol, tls })
    }
}

/// Server port → protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMap(BTreeMap<u16, PortRole>);

impl Default for PortMap {
    fn default() -> PortMap {
        let mut map = BTreeMap::new();
        for (port, protocol, tls) in [
            (25, Protocol::Smtp, false),
            (587, Protocol::Smtp, false),
            (465, Protocol::Smtp, true),
            (110, Protocol::Pop3, false),
            (995, Protocol::Pop3, true),
            (143, Protocol::Imap, false),
            (993, Protocol::Imap, true),
        ] {
            map.insert(port, PortRole { protocol, tls });
        }
        PortMap(map)
    }
}

impl PortMap {
    pub fn insert(&mut self, port: u16, role: PortRole) {
        self.0.insert(port, role);
    }
    pub fn get(&self, port: u16) -> Option<PortRole> {
        self.0.get(&port).copied()
    }
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.keys().copied()
    }
}

/// Server ports of proxies (SOCKS 1080, Squid 3128, HTTP alternate 8080) whose connections
/// are checked for a tunnel setup ([`tunnel`]) with mail inside; with `--all-ports` every
/// connection on a port without a mail protocol is.
pub const PROXY_PORTS: [u16; 3] = [1080, 3128, 8080];

/// How a protocol was recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    Port,
    Content,
    None,
}

/// What a connection was recognised as, and on what grounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recognition {
    pub protocol: Protocol,
    /// TLS from the first byte.
    pub tls: bool,
    pub basis: Basis,
    /// The protocol the port is mapped to, when the content contradicted it (and won).
    pub port_said: Option<Protocol>,
}

/// The one recogniser of `mailscope` and `mailscope flows`: the port's mapping is a hint,
/// the first bytes of each side decide. Content that clearly names another mail protocol
/// wins over the port (and says so in `port_said`); TLS from the first byte on a plain port
/// keeps the port's protocol. Returns `None` while more bytes could still change the
/// answer: nothing recognisable yet, the server's first line not complete, no side past
/// `cap` bytes, and `done` false (the connection is still open and had no gap).
pub fn recognise(
    hint: Option<PortRole>,
    server_head: &[u8],
    client_head: &[u8],
    cap: usize,
    done: bool,
) -> Option<Recognition> {
    let content = sniff(server_head, client_head);
    // The server's first line (mail servers speak first), or all there is.
    let enough = done
        || server_head.len() >= cap
        || client_head.len() >= cap
        || server_head.contains(&b'\n');
    let by = |role: PortRole, basis, port_said| Recognition {
        protocol: role.protocol,
        tls: role.tls,
        basis,
        port_said,
    };
    match (hint, content) {
        (Some(p), Some(c)) if c.protocol != p.protocol && c.protocol != Protocol::Tls => {
            Some(by(c, Basis::Content, Some(p.protocol)))
        }
        (Some(p), Some(c)) => Some(Recognition {
            tls: p.tls || c.tls,
            ..by(p, Basis::Port, None)
        }),
        (Some(p), None) => enough.then(|| by(p, Basis::Port, None)),
        (None, Some(c)) => Some(by(c, Basis::Content, None)),
        (None, None) => {
            (server_head.len() >= cap || client_head.len() >= cap || done).then_some(Recognition {
                protocol: Protocol::Unknown,
                tls: false,
                basis: Basis::None,
                port_said: None,
            })
        }
    }
}

/// Recognises a protocol from the first bytes each side sent. Content wins over the port
/// when it is unambiguous (an SMTP server on port 110 is still SMTP).
pub fn sniff(server_first: &[u8], client_first: &[u8]) -> Option<PortRole> {
    let is_tls = |b: &[u8]| b.len() >= 3 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04;
    if is_tls(client_first) || is_tls(server_first) {
        return Some(PortRole {
            protocol: Protocol::Tls,
            tls: true,
        });
    }
    let line = first_line(server_first);
    let upper = line.to_ascii_uppercase();
    let role = |protocol| {
        Some(PortRole {
            protocol,
            tls: false,
        })
    };
    if upper.starts_with(b"220") && contains(&upper, b"SMTP") {
        return role(Protocol::Smtp);
    }
    if upper.starts_with(b"+OK") {
        return role(Protocol::Pop3);
    }
    if upper.starts_with(b"* OK") || upper.starts_with(b"* PREAUTH") {
        return role(Protocol::Imap);
    }
    let client = first_line(client_first).to_ascii_uppercase();
    if client.starts_with(b"EHLO ") || client.starts_with(b"HELO ") {
        return role(Protocol::Smtp);
    }
    if upper.starts_with(b"220 ") || upper.starts_with(b"220-") {
        // A 220 greeting without "SMTP" in it is still most likely SMTP.
        return role(Protocol::Smtp);
    }
    None
}

fn first_line(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    &b[..end.min(512)]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_greetings() {
        let p = |s: &[u8], c: &[u8]| sniff(s, c).map(|r| r.protocol);
        assert_eq!(p(b"220 mx ESMTP Postfix\r\n", b""), Some(Protocol::Smtp));
        assert_eq!(p(b"+OK Dovecot ready.\r\n", b""), Some(Protocol::Pop3));
        assert_eq!(
            p(b"* OK [CAPABILITY IMAP4rev1] ready\r\n", b""),
            Some(Protocol::Imap)
        );
        assert_eq!(p(b"", b"\x16\x03\x01\x02\x00"), Some(Protocol::Tls));
        assert_eq!(p(b"HTTP/1.1 200 OK\r\n", b"GET /"), None);
    }

    #[test]
    fn content_that_contradicts_the_port_wins_and_says_so() {
        let pop3 = Some(PortRole {
            protocol: Protocol::Pop3,
            tls: false,
        });
        let r = recognise(pop3, b"220 mx ESMTP Postfix\r\n", b"", 512, false).unwrap();
        assert_eq!(
            (r.protocol, r.basis, r.port_said),
            (Protocol::Smtp, Basis::Content, Some(Protocol::Pop3))
        );
        // Agreeing or silent content: the port decides, once a first line is complete.
        let r = recognise(pop3, b"+OK ready\r\n", b"", 512, false).unwrap();
        assert_eq!(
            (r.protocol, r.basis, r.port_said),
            (Protocol::Pop3, Basis::Port, None)
        );
        assert_eq!(recognise(pop3, b"250 o", b"", 512, false), None);
        let r = recognise(pop3, b"250 ok\r\n", b"", 512, false).unwrap();
        assert_eq!((r.protocol, r.basis), (Protocol::Pop3, Basis::Port));
        // TLS from the first byte keeps the port's protocol.
        let r = recognise(pop3, b"", b"\x16\x03\x01\x02\x00", 512, false).unwrap();
        assert_eq!((r.protocol, r.tls), (Protocol::Pop3, true));
        // No mapping: content or, past the cap or at the end, unknown.
        assert_eq!(
            recognise(None, b"HTTP/1.1 200 OK\r\n", b"", 512, false),
            None
        );
        let r = recognise(None, b"HTTP/1.1 200 OK\r\n", b"", 512, true).unwrap();
        assert_eq!(r.protocol, Protocol::Unknown);
    }

    #[test]
    fn port_roles_parse() {
        assert_eq!(
            "smtps".parse::<PortRole>().unwrap(),
            PortRole {
                protocol: Protocol::Smtp,
                tls: true
            }
        );
        assert!("http".parse::<PortRole>().is_err());
    }
}
