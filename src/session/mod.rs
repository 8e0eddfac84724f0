//! Session layer: the one serialisable model every renderer reads.
//!
//! For now it holds the per-connection record of `mailscope flows` ([`FlowRecord`]) and the
//! run summary ([`RunSummary`]); the mail-session model of the SMTP/POP3/IMAP dissectors joins
//! it here. Renderers never look below this layer.

pub mod builder;
pub mod hops;
pub mod mail;
pub mod phase;

// The record types the model holds, and the vocabularies that explain them: renderers
// take them from here, not from the dissectors' modules.
pub use crate::proto::event::{Anomaly, Auth, Event, Mark};
pub use crate::proto::transcript::{ClientLine, Command, Exchange, Mailbox, Reply};
pub use crate::proto::vocab;
pub use builder::Builder;
pub use mail::Session;

use crate::flow::{ConnSummary, Direction};
use crate::proto::Basis;
use crate::types::{Endpoint, Protocol, Timestamp};
use serde::Serialize;

/// Which session an event belongs to (events come before the session is whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The connection's number (as `flows` counts).
    pub id: u64,
    /// The session's number, given when it was recognised as mail (in order of recognition;
    /// the whole session's `id` is this number when events are on).
    pub number: u64,
    pub protocol: Protocol,
    pub client: Endpoint,
    pub server: Endpoint,
    /// The connection's first packet.
    pub start: Timestamp,
    /// Picked up without its handshake.
    pub midstream: bool,
}

/// A value per direction: `client` is what the client sent, `server` what the server sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PerSide<T> {
    pub client: T,
    pub server: T,
}

impl PerSide<u64> {
    pub fn is_zero(&self) -> bool {
        self.client == 0 && self.server == 0
    }
}

impl<T: Copy> PerSide<T> {
    pub fn from_dirs(v: [T; 2]) -> PerSide<T> {
        PerSide {
            client: v[Direction::ClientToServer.index()],
            server: v[Direction::ServerToClient.index()],
        }
    }
}

/// A hole in one direction's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct GapRecord {
    pub offset: u64,
    pub len: u64,
}

/// One TCP connection, as `mailscope flows` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct FlowRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub protocol: Protocol,
    /// How `protocol` was decided.
    pub recognised_by: Basis,
    /// TLS from the first byte (SMTPS/POP3S/IMAPS or a TLS ClientHello seen).
    pub implicit_tls: bool,
    pub start: Timestamp,
    pub end: Timestamp,
    pub duration: f64,
    pub first_frame: u64,
    pub state: &'static str,
    /// The handshake was seen (false: picked up mid-stream).
    pub handshake: bool,
    pub packets: PerSide<u64>,
    /// Payload bytes delivered in order (gaps not counted).
    pub bytes: PerSide<u64>,
    pub gaps: PerSide<u64>,
    pub gap_bytes: PerSide<u64>,
    pub retransmissions: PerSide<u64>,
    pub out_of_order: PerSide<u64>,
    pub overlap_conflicts: PerSide<u64>,
    /// The proxy tunnel the protocol runs in: `socks5 proxy to mx.example.net:25`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<PerSide<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_list: Option<PerSide<Vec<GapRecord>>>,
}

impl FlowRecord {
    pub fn new(summary: &ConnSummary, protocol: Protocol, basis: Basis, tls: bool) -> FlowRecord {
        let info = &summary.info;
        let stat = |f: fn(&crate::flow::DirStats) -> u64| {
            PerSide::from_dirs([f(&summary.dirs[0]), f(&summary.dirs[1])])
        };
        FlowRecord {
            kind: "flow",
            id: info.id,
            client: info.client,
            server: info.server,
            protocol,
            recognised_by: basis,
            implicit_tls: tls,
            start: info.start,
            end: summary.end,
            duration: summary.end.since(info.start).max(0) as f64 / 1e9,
            first_frame: info.first_frame,
            state: summary.state.as_str(),
            handshake: summary.handshake,
            packets: PerSide::from_dirs(summary.packets),
            bytes: stat(|d| d.bytes),
            gaps: stat(|d| d.gaps),
            gap_bytes: stat(|d| d.gap_bytes),
            retransmissions: stat(|d| d.retransmissions),
            out_of_order: stat(|d| d.out_of_order),
            overlap_conflicts: stat(|d| d.overlap_conflicts),
            tunnel: None,
            streams: None,
            gap_list: None,
        }
    }
}

/// End-of-run totals (the last JSON line, the footer of the table).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunSummary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub input: String,
    pub frames: u64,
    pub tcp_segments: u64,
    pub connections: u64,
    pub listed: u64,
    pub frames_not_ip: u64,
    pub frames_not_tcp: u64,
    pub frames_malformed: u64,
    pub frames_unsupported_link: u64,
    pub frames_cut_by_snaplen: u64,
    pub ip_fragments: u64,
    pub connections_timed_out: u64,
    pub connections_evicted_at_limit: u64,
    pub buffer_limit_flushes: u64,
    /// Frames whose packet was inside IP-in-IP or GRE (unwrapped).
    pub frames_tunnelled: u64,
    /// Frames skipped for nesting more tunnel layers than the limit (also counted malformed).
    pub frames_tunnels_too_deep: u64,
    /// Holes the receiver acknowledged that were given up as gaps before their segment came
    /// (`max_acked_hole_bytes`, `acked_hole_timeout`, or the peer's data answered past them).
    pub acked_holes_given_up: u64,
    /// TCP segments ignored because their sequence number was absurdly far ahead.
    pub segments_out_of_window: u64,
    /// Packets after their connection had closed (late retransmissions, stray ACKs).
    pub packets_late: u64,
    /// Packets of no connection: a bare ACK, FIN or RST seen without any payload before.
    pub packets_ignored: u64,
    /// IP fragments dropped because too many datagrams were pending at once.
    pub ip_fragments_dropped: u64,
    /// pcapng packet blocks naming an interface never described.
    pub pcapng_blocks_skipped: u64,
    /// Messages whose bytes were let go to stay within `--max-held-messages` (size and
    /// SHA-256 exact, not decoded).
    pub messages_not_decoded: u64,
    /// A capture error that stopped reading early, with frame number and offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Items written after items of later connections: the reorder buffer was full
    /// (`--max-reorder`), so it stopped waiting for connections still open.
    pub listed_out_of_order: u64,
    /// Connection attempts answered by RST (SYN, RST, nothing else): not sessions. The
    /// main job only (`flows` lists them as connections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<u64>,
    /// The refused attempts by client and server, in order of the first (for people; at
    /// most `Limits::max_connections` pairs, the rest only counted in `refused`).
    #[serde(skip)]
    pub refused_by: Vec<Refused>,
    /// A live capture's packet counts (`-i`); absent for files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<crate::types::CaptureStats>,
}

/// Connection attempts from one client address to one server refused with RST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub client: std::net::IpAddr,
    pub server: Endpoint,
    pub attempts: u64,
    pub first: Timestamp,
}
