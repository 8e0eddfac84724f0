//! Flow layer: TCP segments → bidirectional connections → in-order byte streams.
//!
//! Owns the connection table (keyed by the 4-tuple), client/server roles, connection state
//! and timeouts, and one [`Reassembler`] per direction. It hands each connection's bytes, gaps
//! and end to a [`Handler`] in stream order; it never interprets those bytes.
//!
//! ```text
//!                 SYN / SYN-ACK / payload
//!   (no entry) ───────────────────────────▶ open ──FIN both ways, all delivered──▶ closed
//!        ▲   pure ACK/FIN/RST: ignored        │ ──RST──────────────────────────────▶ closed (reset)
//!        │                                    │ ──idle > timeout───────────────────▶ closed (timed out)
//!        └──── tombstone ◀── closed            └──end of capture──────────────────▶ closed (open)
//!              (late packets ignored; a new SYN starts a new connection)
//! ```
//!
//! Roles: the sender of a SYN (or the receiver of a SYN-ACK) is the client; without a
//! handshake, the side on a well-known server port is the server; failing that, the first side
//! to send payload is the server (mail servers greet first).

mod reassembly;
mod seq;

pub use reassembly::{Bounds, Chunk, DirStats, Output, Reassembler};
pub use seq::SeqNumber;

use crate::limits::Limits;
use crate::packet::Segment;
use crate::types::Timestamp;
use crate::types::{Endpoint, FastMap};
use serde::Serialize;

/// Which way bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }
}

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndState {
    /// Handshake seen, closed with FIN in both directions.
    Complete,
    /// Picked up without a handshake, closed with FIN.
    MidStream,
    Reset,
    TimedOut,
    /// Still open when the capture ended.
    Open,
    /// Closed early because the connection limit was reached.
    Evicted,
}

impl EndState {
    pub fn as_str(self) -> &'static str {
        match self {
            EndState::Complete => "complete",
            EndState::MidStream => "mid-stream",
            EndState::Reset => "reset",
            EndState::TimedOut => "timed-out",
            EndState::Open => "open",
            EndState::Evicted => "evicted",
        }
    }
}

/// What is known about a connection from its first packet on.
#[derive(Clone, Debug, Serialize)]
pub struct ConnInfo {
    /// 1-based, in order of first packet.
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub start: Timestamp,
    pub first_frame: u64,
    /// The first packet was not a SYN: the start of the conversation may be missing.
    pub midstream: bool,
}

/// A finished connection.
#[derive(Clone, Debug)]
pub struct ConnSummary {
    pub info: ConnInfo,
    pub end: Timestamp,
    /// The connection's last frame.
    pub last_frame: u64,
    pub state: EndState,
    /// The handshake (SYN or SYN-ACK) was seen.
    pub handshake: bool,
    /// Packets per direction (`Direction::index`).
    pub packets: [u64; 2],
    pub dirs: [DirStats; 2],
}

/// Bytes of one direction the capture does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// Stream offset of the first missing byte.
    pub offset: u64,
    pub len: u64,
    /// Time and frame of the packet that made the gap certain.
    pub ts: Timestamp,
    pub frame: u64,
}

/// Receives each connection's events, in stream order per direction.
pub trait Handler {
    type State;
    fn open(&mut self, info: &ConnInfo) -> Self::State;
    fn data(&mut self, state: &mut Self::State, info: &ConnInfo, dir: Direction, chunk: Chunk<'_>);
    fn gap(&mut self, state: &mut Self::State, info: &ConnInfo, dir: Direction, gap: Gap);
    fn close(&mut self, state: Self::State, summary: &ConnSummary);
    /// True once the consumer wants no more input (its output failed, say).
    fn halted(&self) -> bool {
        false
    }
}

/// Table-wide counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TableStats {
    pub connections: u64,
    pub timed_out: u64,
    pub evicted_at_limit: u64,
    /// Packets of connections never opened (a bare ACK/FIN/RST mid-stream).
    pub ignored_packets: u64,
    /// Packets arriving after their connection closed.
    pub late_packets: u64,
    pub buffer_limit_flushes: u64,
    /// Segments ignored as absurdly far ahead, over all closed connections.
    pub out_of_window: u64,
    /// Holes the peer acknowledged that were given up before their segment came (a bound
    /// of `Limits` reached, or the peer's data answered past them), over closed connections.
    pub acked_hole_flushes: u64,
}

type Key = (Endpoint, Endpoint);

fn key_of(a: Endpoint, b: Endpoint) -> Key {
    if a <= b { (a, b) } else { (b, a) }
}

struct Conn<S> {
    info: ConnInfo,
    /// FIN seen both ways and every byte delivered; only the final ACK is awaited.
    closing: bool,
    last_ts: Timestamp,
    last_frame: u64,
    handshake: bool,
    rst: bool,
    packets: [u64; 2],
    dirs: [Reassembler; 2],
    state: S,
}

impl<S> Conn<S> {
    /// How the connection ended if it ends now; `otherwise` when it is not finished.
    fn end_state(&self, otherwise: EndState) -> EndState {
        match (
            self.dirs.iter().all(Reassembler::is_finished),
            self.handshake,
        ) {
            (true, true) => EndState::Complete,
            (true, false) => EndState::MidStream,
            _ => otherwise,
        }
    }
}

/// The connection table.
pub struct FlowTable<H: Handler> {
    conns: FastMap<Key, Conn<H::State>>,
    tombstones: FastMap<Key, Timestamp>,
    bounds: Bounds,
    max_connections: usize,
    idle_timeout_ns: i64,
    total_buffered: usize,
    next_id: u64,
    /// The table's clock: the latest time a packet or [`FlowTable::tick`] brought.
    now: Timestamp,
    /// The latest frame processed (what a sweep without a packet dates its gaps by).
    frame: u64,
    last_sweep: Timestamp,
    server_ports: Vec<bool>,
    pub stats: TableStats,
}

impl<H: Handler> FlowTable<H> {
    /// `server_ports`: ports that mark the server side when no handshake was seen.
    pub fn new(limits: &Limits, server_ports: impl IntoIterator<Item = u16>) -> FlowTable<H> {
        let mut ports = vec![false; 65536];
        for p in server_ports {
            ports[usize::from(p)] = true;
        }
        FlowTable {
            conns: FastMap::default(),
            tombstones: FastMap::default(),
            bounds: Bounds {
                max_buffered_bytes: limits.max_buffered_bytes,
                max_buffered_segments: limits.max_buffered_segments,
                max_total_buffered: limits.max_total_buffered,
                max_acked_hole_bytes: limits.max_acked_hole_bytes,
                acked_hole_timeout_ns: i64::try_from(limits.acked_hole_timeout.as_nanos())
                    .unwrap_or(i64::MAX),
            },
            max_connections: limits.max_connections.max(1),
            idle_timeout_ns: i64::try_from(limits.idle_timeout.as_nanos()).unwrap_or(i64::MAX),
            total_buffered: 0,
            next_id: 1,
            now: Timestamp::default(),
            frame: 0,
            last_sweep: Timestamp::default(),
            server_ports: ports,
            stats: TableStats::default(),
        }
    }

    /// Feeds one segment seen at `ts` in frame `frame`.
    /// Each packet advances the clock as [`FlowTable::tick`] does (the capture clock).
    pub fn process(&mut self, seg: &Segment<'_>, ts: Timestamp, frame: u64, handler: &mut H) {
        self.frame = frame;
        self.tick(ts, handler);
        let key = key_of(seg.src, seg.dst);
        let fresh_syn = seg.flags.syn && !seg.flags.ack;
        if let Some(conn) = self.conns.get(&key) {
            // Port reuse: a new handshake on a connection that already ended one way.
            let dir = if seg.src == conn.info.client { 0 } else { 1 };
            let ended = conn.rst || conn.dirs.iter().any(Reassembler::fin_seen);
            if fresh_syn && dir == 0 && ended {
                let state = self.ending_state(key, EndState::Open, handler);
                self.close(key, state, handler);
            }
        }
        if !self.conns.contains_key(&key) {
            if self.tombstones.contains_key(&key) {
                if fresh_syn {
                    self.tombstones.remove(&key);
                } else {
                    self.stats.late_packets += 1;
                    return;
                }
            }
            if !seg.flags.syn && seg.payload.is_empty() && seg.missing == 0 {
                self.stats.ignored_packets += 1;
                return;
            }
            if self.conns.len() >= self.max_connections {
                self.evict(handler);
            }
            let (client, server) = self.roles(seg);
            let info = ConnInfo {
                id: self.next_id,
                client,
                server,
                start: ts,
                first_frame: frame,
                midstream: !seg.flags.syn,
            };
            self.next_id += 1;
            self.stats.connections += 1;
            let state = handler.open(&info);
            self.conns.insert(
                key,
                Conn {
                    info,
                    closing: false,
                    last_ts: ts,
                    last_frame: frame,
                    handshake: false,
                    rst: false,
                    packets: [0; 2],
                    dirs: [Reassembler::new(), Reassembler::new()],
                    state,
                },
            );
        }
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let dir = if seg.src == conn.info.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let d = dir.index();
        conn.last_ts = conn.last_ts.max(ts);
        conn.last_frame = frame;
        conn.packets[d] += 1;

        if seg.flags.rst {
            conn.rst = true;
            self.close(key, EndState::Reset, handler);
            return;
        }
        let Conn {
            info, dirs, state, ..
        } = conn;
        let total = &mut self.total_buffered;
        let bounds = &self.bounds;
        let mut emit = |dir: Direction, o: Output<'_>| emit(handler, state, info, dir, o);
        let mut seq = seg.seq;
        if seg.flags.syn {
            conn.handshake = true;
            dirs[d].syn(seg.seq);
            if seg.flags.ack && !dirs[1 - d].started() {
                // SYN-ACK without the SYN: the client's ISN is one before what is acked.
                dirs[1 - d].syn(seg.ack.wrapping_sub(1));
            }
            seq = seq.wrapping_add(1);
        }
        let carries_data = !seg.payload.is_empty() || seg.missing > 0;
        if seg.flags.ack {
            let other = dir.reverse();
            dirs[other.index()].ack(seg.ack, ts, frame, total, &mut |o| emit(other, o));
            // New data from the peer answers what it acknowledges: what it answers goes
            // first, so holes below its ACK are given up before its data is delivered.
            if carries_data && dirs[d].is_new(seq, seg.payload.len(), seg.missing) {
                dirs[other.index()].answered(seg.ack, ts, frame, total, &mut |o| emit(other, o));
            }
        }
        if carries_data || seg.flags.fin {
            let before = dirs[d].stats.limit_flushes;
            dirs[d].segment(
                seq,
                seg.payload,
                seg.missing,
                seg.flags.fin,
                ts,
                frame,
                bounds,
                total,
                &mut |o| emit(dir, o),
            );
            self.stats.buffer_limit_flushes += dirs[d].stats.limit_flushes - before;
        }
        // Holes the peer acknowledged wait for their late segment only so long.
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            dirs[dir.index()].expire(ts, frame, bounds, total, &mut |o| emit(dir, o));
        }
        if dirs[0].is_finished() && dirs[1].is_finished() {
            // Both FINs are in and every byte is accounted for. Wait for the final ACK (a
            // segment without FIN) so it is counted with the connection, as tshark does;
            // if it came already (a late segment completed the stream), close now.
            let fins_acked = dirs.iter().all(Reassembler::fin_acked);
            if (conn.closing || fins_acked) && !seg.flags.fin {
                let state = conn.end_state(EndState::Open);
                self.close(key, state, handler);
            } else {
                conn.closing = true;
            }
        }
    }

    /// Lets time advance to `now` without a packet: connections idle past the timeout are
    /// closed, acknowledged holes whose time is up become gaps (dated at the last frame
    /// seen). File mode advances the clock by the capture's timestamps, through
    /// [`FlowTable::process`]; live capture calls this from the wall clock between packets.
    /// A clock that goes back is ignored. The work is done at most every tenth of the idle
    /// timeout (at least every second), so calling it often is cheap.
    pub fn tick(&mut self, now: Timestamp, handler: &mut H) {
        if now > self.now {
            self.now = now;
        }
        if self.now.since(self.last_sweep) > self.sweep_interval() {
            self.sweep(self.frame, handler);
        }
    }

    fn roles(&self, seg: &Segment<'_>) -> (Endpoint, Endpoint) {
        if seg.flags.syn {
            return if seg.flags.ack {
                (seg.dst, seg.src)
            } else {
                (seg.src, seg.dst)
            };
        }
        let src_known = self.server_ports[usize::from(seg.src.port)];
        let dst_known = self.server_ports[usize::from(seg.dst.port)];
        match (src_known, dst_known) {
            (false, true) => (seg.src, seg.dst),
            (true, false) => (seg.dst, seg.src),
            // Mail servers speak first: whoever sends the first payload is the server.
            _ => (seg.dst, seg.src),
        }
    }

    fn sweep_interval(&self) -> i64 {
        (self.idle_timeout_ns / 10).max(1_000_000_000)
    }

    /// Closes connections idle for longer than the timeout, gives up acknowledged holes of
    /// quiet connections whose bound passed meanwhile, and forgets old tombstones.
    fn sweep(&mut self, frame: u64, handler: &mut H) {
        self.last_sweep = self.now;
        let now = self.now;
        let timeout = self.idle_timeout_ns;
        let mut idle: Vec<(u64, Key)> = self
            .conns
            .iter()
            .filter(|(_, c)| now.since(c.last_ts) > timeout)
            .map(|(k, c)| (c.info.id, *k))
            .collect();
        idle.sort_unstable_by_key(|(id, _)| *id);
        for (_, key) in idle {
            let state = self.ending_state(key, EndState::TimedOut, handler);
            if state == EndState::TimedOut {
                self.stats.timed_out += 1;
            }
            self.close(key, state, handler);
        }
        let mut waiting: Vec<(u64, Key)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.dirs.iter().any(Reassembler::waits_on_ack))
            .map(|(k, c)| (c.info.id, *k))
            .collect();
        waiting.sort_unstable_by_key(|(id, _)| *id);
        for (_, key) in waiting {
            let Some(conn) = self.conns.get_mut(&key) else {
                continue;
            };
            let Conn {
                info, dirs, state, ..
            } = conn;
            for dir in [Direction::ClientToServer, Direction::ServerToClient] {
                dirs[dir.index()].expire(
                    now,
                    frame,
                    &self.bounds,
                    &mut self.total_buffered,
                    &mut |o| emit(handler, state, info, dir, o),
                );
            }
            if dirs.iter().all(Reassembler::is_finished) {
                let state = conn.end_state(EndState::Open);
                self.close(key, state, handler);
            }
        }
        self.tombstones.retain(|_, t| now.since(*t) <= timeout);
    }

    /// How a connection ends if it ends now: holes its peer acknowledged are given up first
    /// (their segments can no longer come), then [`Conn::end_state`].
    fn ending_state(&mut self, key: Key, otherwise: EndState, handler: &mut H) -> EndState {
        let Some(conn) = self.conns.get_mut(&key) else {
            return otherwise;
        };
        let Conn {
            info,
            dirs,
            state,
            last_ts,
            last_frame,
            ..
        } = conn;
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            dirs[dir.index()].give_up_acked(
                *last_ts,
                *last_frame,
                &mut self.total_buffered,
                &mut |o| emit(handler, state, info, dir, o),
            );
        }
        conn.end_state(otherwise)
    }

    /// Makes room for one more connection by closing the least recently active ones.
    fn evict(&mut self, handler: &mut H) {
        let mut by_age: Vec<(Timestamp, u64, Key)> = self
            .conns
            .iter()
            .map(|(k, c)| (c.last_ts, c.info.id, *k))
            .collect();
        // Evict a sixteenth at once so the O(n) scan is amortised.
        let n = (by_age.len() / 16).max(1);
        by_age.select_nth_unstable(n - 1);
        let mut victims: Vec<_> = by_age[..n].to_vec();
        victims.sort_unstable();
        for (_, _, key) in victims {
            self.stats.evicted_at_limit += 1;
            self.close(key, EndState::Evicted, handler);
        }
    }

    fn close(&mut self, key: Key, end: EndState, handler: &mut H) {
        let Some(conn) = self.conns.remove(&key) else {
            return;
        };
        let Conn {
            info,
            mut dirs,
            mut state,
            last_ts,
            last_frame,
            handshake,
            packets,
            ..
        } = conn;
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            dirs[dir.index()].finish(last_ts, last_frame, &mut self.total_buffered, &mut |o| {
                emit(handler, &mut state, &info, dir, o)
            });
        }
        self.stats.acked_hole_flushes +=
            dirs[0].stats.acked_hole_flushes + dirs[1].stats.acked_hole_flushes;
        self.stats.out_of_window += dirs[0].stats.out_of_window + dirs[1].stats.out_of_window;
        let summary = ConnSummary {
            end: last_ts,
            last_frame,
            state: end,
            handshake,
            packets,
            dirs: [dirs[0].stats, dirs[1].stats],
            info,
        };
        handler.close(state, &summary);
        if self.tombstones.len() < self.max_connections {
            self.tombstones.insert(key, last_ts);
        }
    }

    /// End of capture: every connection still open is closed, in order of first packet.
    pub fn finish(&mut self, handler: &mut H) {
        let mut open: Vec<(u64, Key)> = self.conns.iter().map(|(k, c)| (c.info.id, *k)).collect();
        open.sort_unstable();
        for (_, key) in open {
            let state = self.ending_state(key, EndState::Open, handler);
            self.close(key, state, handler);
        }
    }
}

/// Hands one reassembler output to the handler.
fn emit<H: Handler>(
    handler: &mut H,
    state: &mut H::State,
    info: &ConnInfo,
    dir: Direction,
    o: Output<'_>,
) {
    match o {
        Output::Data(chunk) => handler.data(state, info, dir, chunk),
        Output::Gap {
            offset,
            len,
            ts,
            frame,
        } => handler.gap(
            state,
            info,
            dir,
            Gap {
                offset,
                len,
                ts,
                frame,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Flags;

    /// Records what the table hands on.
    #[derive(Default)]
    struct Log {
        events: Vec<String>,
        closed: Vec<(u64, EndState)>,
    }

    impl Handler for Log {
        type State = ();
        fn open(&mut self, _: &ConnInfo) {}
        fn data(&mut self, _: &mut (), info: &ConnInfo, dir: Direction, chunk: Chunk<'_>) {
            let text = String::from_utf8_lossy(chunk.data);
            self.events
                .push(format!("{} {dir:?} {} {text}", info.id, chunk.offset));
        }
        fn gap(&mut self, _: &mut (), info: &ConnInfo, dir: Direction, gap: Gap) {
            self.events.push(format!(
                "{} {dir:?} {} gap {}",
                info.id, gap.offset, gap.len
            ));
        }
        fn close(&mut self, _: (), summary: &ConnSummary) {
            self.closed.push((summary.info.id, summary.state));
        }
    }

    const CLIENT: u8 = 1;
    const SERVER: u8 = 2;

    struct Feed {
        table: FlowTable<Log>,
        log: Log,
        frame: u64,
        /// Seconds into the capture.
        now: i64,
    }

    impl Feed {
        fn new() -> Feed {
            Feed {
                table: FlowTable::new(&Limits::default(), [25]),
                log: Log::default(),
                frame: 0,
                now: 0,
            }
        }
        /// One packet from `from` (CLIENT or SERVER) of the connection on client port `port`.
        fn packet(&mut self, port: u16, from: u8, seq: u32, ack: u32, flags: &str, data: &[u8]) {
            let ep = |host: u8| Endpoint {
                ip: [10, 0, 0, host].into(),
                port: if host == CLIENT { port } else { 25 },
            };
            let seg = Segment {
                src: ep(from),
                dst: ep(if from == CLIENT { SERVER } else { CLIENT }),
                seq,
                ack,
                flags: Flags {
                    syn: flags.contains('S'),
                    ack: flags.contains('A'),
                    fin: flags.contains('F'),
                    rst: false,
                },
                payload: data,
                missing: 0,
            };
            self.frame += 1;
            let ts = Timestamp::from_nanos(self.now * 1_000_000_000);
            self.table.process(&seg, ts, self.frame, &mut self.log);
        }
        /// A connection whose client stream has a hole at 3..9 (seq 4..10) that the server
        /// acknowledged, closed with FIN both ways and the final ACK.
        fn closed_with_acked_hole(&mut self, port: u16) {
            self.packet(port, CLIENT, 0, 0, "S", b"");
            self.packet(port, SERVER, 100, 1, "SA", b"");
            self.packet(port, CLIENT, 1, 101, "A", b"");
            self.packet(port, CLIENT, 1, 101, "A", b"abc");
            self.packet(port, CLIENT, 10, 101, "A", b"xyz");
            self.packet(port, SERVER, 101, 13, "A", b"");
            self.packet(port, CLIENT, 13, 101, "FA", b"");
            self.packet(port, SERVER, 101, 14, "FA", b"");
            self.packet(port, CLIENT, 14, 102, "A", b"");
        }
    }

    /// The late segment after both FINs and the final ACK completes the stream and closes the
    /// connection at once, complete and without a gap.
    #[test]
    fn late_segment_after_the_close_completes_the_connection() {
        let mut f = Feed::new();
        f.closed_with_acked_hole(40000);
        assert!(f.log.closed.is_empty());
        f.packet(40000, CLIENT, 4, 101, "A", b"defghi");
        assert_eq!(f.log.closed, vec![(1, EndState::Complete)]);
        assert_eq!(
            f.log.events,
            vec![
                "1 ClientToServer 0 abc",
                "1 ClientToServer 3 defghi",
                "1 ClientToServer 9 xyz"
            ]
        );
    }

    /// A connection that goes quiet with an acknowledged hole gives it up once its timeout
    /// passed, found by the periodic sweep while other connections go on.
    #[test]
    fn a_quiet_connection_gives_up_its_acked_hole_at_the_sweep() {
        let mut f = Feed::new();
        f.closed_with_acked_hole(40000);
        f.now = 2;
        f.packet(40001, CLIENT, 0, 0, "S", b"");
        assert!(f.log.closed.is_empty(), "the sweep runs every 30 s");
        f.now = 31;
        f.packet(40001, CLIENT, 0, 0, "S", b"");
        assert_eq!(f.log.closed, vec![(1, EndState::Complete)]);
        assert_eq!(f.table.stats.acked_hole_flushes, 1);
        assert_eq!(
            f.log.events,
            vec![
                "1 ClientToServer 0 abc",
                "1 ClientToServer 3 gap 6",
                "1 ClientToServer 9 xyz"
            ]
        );
        // At the end of the capture, an acknowledged hole is given up before the state is
        // decided: FIN both ways, so complete.
        let mut f = Feed::new();
        f.closed_with_acked_hole(40000);
        f.table.finish(&mut f.log);
        assert_eq!(f.log.closed, vec![(1, EndState::Complete)]);
    }

    /// Time advances without a packet: a connection idle past the timeout is closed by
    /// `tick` alone (live capture calls it from the wall clock), and not before.
    #[test]
    fn tick_alone_closes_an_idle_connection() {
        let mut f = Feed::new();
        f.packet(40000, CLIENT, 0, 0, "S", b"");
        f.packet(40000, SERVER, 100, 1, "SA", b"");
        f.packet(40000, CLIENT, 1, 101, "A", b"HELO x\r\n");
        let at = |s: i64| Timestamp::from_nanos(s * 1_000_000_000);
        f.table.tick(at(200), &mut f.log);
        assert!(
            f.log.closed.is_empty(),
            "200 s idle is within the 300 s timeout"
        );
        f.table.tick(at(301), &mut f.log);
        assert_eq!(f.log.closed, vec![(1, EndState::TimedOut)]);
        assert_eq!(f.table.stats.timed_out, 1);
        // A clock that goes back changes nothing.
        f.table.tick(at(5), &mut f.log);
        assert_eq!(f.log.closed.len(), 1);
    }
}
