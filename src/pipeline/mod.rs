//! The only place that wires the layers together:
//! capture → packet → flow → (proto: recognition) → session records → render.
//! Messages the dissectors finish are decoded (mime) by `pool`, on worker threads when
//! there are several, and put back into their session before it is handed out.

use crate::capture::{CaptureError, FileReader, InputSource};
use crate::flow::{Chunk, ConnInfo, ConnSummary, Direction, FlowTable, Gap, Handler};
use crate::limits::Limits;
use crate::packet::Decoder;
use crate::proto::Dissector;
use crate::proto::event::{Mark, Side};
use crate::proto::imap::Imap;
use crate::proto::pop3::Pop3;
use crate::proto::smtp::Smtp;
use crate::proto::tunnel::{Progress, Setup, Tunnel};
use crate::proto::{self, Basis, PortMap};
use crate::render::streams::{StreamDir, StreamFile};
use crate::session::mail::MessageInfo;
use crate::session::{self, FlowRecord, PerSide, RunSummary, Session};
use crate::types::Endpoint;
use crate::types::Protocol;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, IsTerminal};
use std::path::PathBuf;

mod pool;
use pool::{Decoded, Done, Pool};

/// What to read and how: shared by every command.
#[derive(Clone, Debug)]
pub struct InputConfig {
    pub input: String,
    pub ports: PortMap,
    /// Follow every TCP connection, not only those on mapped ports.
    pub all_ports: bool,
    pub limits: Limits,
    pub progress: bool,
}

/// A validated `flows` run.
#[derive(Clone, Debug)]
pub struct FlowsConfig {
    pub input: InputConfig,
    pub write_streams: Option<PathBuf>,
    pub filter: Filter,
}

/// Why a run could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}: {1}")]
    Open(String, io::Error),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("writing streams: {0}")]
    Streams(io::Error),
}

/// What a run produced. `error` is set when reading stopped early; everything decoded
/// before that point is in `flows`.
pub struct FlowsOutcome {
    pub summary: RunSummary,
    pub error: Option<RunError>,
    /// The sink failed; reading stopped there.
    pub output_error: Option<io::Error>,
}

/// Hands finished items out in connection-id order (first packet) as soon as every earlier
/// connection has closed: a small reorder buffer instead of holding everything to the end.
struct Ordered<'b, T> {
    /// Closed while an earlier connection is still open; `None` for those not shown.
    waiting: std::collections::BTreeMap<u64, Option<T>>,
    /// The next connection id to hand out.
    next: u64,
    sink: &'b mut dyn FnMut(T) -> io::Result<()>,
    listed: u64,
    error: Option<io::Error>,
}

impl<'b, T> Ordered<'b, T> {
    fn new(sink: &'b mut dyn FnMut(T) -> io::Result<()>) -> Ordered<'b, T> {
        Ordered {
            waiting: std::collections::BTreeMap::new(),
            next: 1,
            sink,
            listed: 0,
            error: None,
        }
    }

    fn settle(&mut self, id: u64, item: Option<T>) {
        self.waiting.insert(id, item);
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            let item = entry.remove();
            self.next += 1;
            if let Some(item) = item
                && self.error.is_none()
            {
                match (self.sink)(item) {
                    Ok(()) => self.listed += 1,
                    Err(e) => self.error = Some(e),
                }
            }
        }
    }
}

struct FlowState {
    head: [Vec<u8>; 2],
    files: Option<[StreamFile; 2]>,
}

struct FlowsHandler<'a, 'b> {
    ports: &'a PortMap,
    /// Bytes of each direction kept for recognising the protocol (`Limits::max_sniff`).
    sniff: usize,
    all_ports: bool,
    filter: &'a Filter,
    streams: Option<StreamDir>,
    out: Ordered<'b, FlowRecord>,
    io_error: Option<io::Error>,
}

impl FlowsHandler<'_, '_> {
    fn keep_error(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            self.io_error.get_or_insert(e);
        }
    }
}

impl Handler for FlowsHandler<'_, '_> {
    type State = FlowState;

    fn open(&mut self, info: &ConnInfo) -> FlowState {
        let files = self.streams.as_mut().map(|dir| {
            [
                dir.stream(info.client, info.server),
                dir.stream(info.server, info.client),
            ]
        });
        FlowState {
            head: [Vec::new(), Vec::new()],
            files,
        }
    }

    fn data(&mut self, state: &mut FlowState, _: &ConnInfo, dir: Direction, chunk: Chunk<'_>) {
        let d = dir.index();
        let head = &mut state.head[d];
        if head.len() < self.sniff {
            let take = (self.sniff - head.len()).min(chunk.data.len());
            head.extend_from_slice(&chunk.data[..take]);
        }
        if let (Some(dirs), Some(files)) = (self.streams.as_mut(), state.files.as_mut()) {
            let r = dirs.write(&mut files[d], chunk.offset, chunk.data);
            self.keep_error(r);
        }
    }

    fn gap(&mut self, state: &mut FlowState, _: &ConnInfo, dir: Direction, gap: Gap) {
        let (offset, len) = (gap.offset, gap.len);
        // A gap in the first bytes makes content recognition unreliable: stop sniffing.
        let head = &mut state.head[dir.index()];
        if head.len() < self.sniff {
            head.resize(self.sniff, 0);
        }
        if let (Some(dirs), Some(files)) = (self.streams.as_mut(), state.files.as_mut()) {
            dirs.gap(&mut files[dir.index()], offset, len);
        }
    }

    fn close(&mut self, mut state: FlowState, summary: &ConnSummary) {
        let by_port = self.ports.get(summary.info.server.port);
        let tunnel = tunnel_in(&state.head, self.sniff);
        let (server, client) = match &tunnel {
            Some((_, [client, server])) => (&server[..], &client[..]),
            None => (&state.head[1][..], &state.head[0][..]),
        };
        // The same recogniser as the main job's, with everything there is to see.
        let r = proto::recognise(by_port, server, client, self.sniff, true);
        let (protocol, basis, tls) = r.map_or((Protocol::Unknown, Basis::None, false), |r| {
            (r.protocol, r.basis, r.tls)
        });
        // Proxy ports are followed for the tunnels they may carry, not listed for themselves.
        let hidden = by_port.is_none()
            && protocol == Protocol::Unknown
            && !self.all_ports
            && tunnel.is_none()
            && proto::PROXY_PORTS.contains(&summary.info.server.port);
        let mut record = FlowRecord::new(summary, protocol, basis, tls);
        record.tunnel =
            tunnel.map(|(setup, _)| format!("{} proxy to {}", setup.kind.as_str(), setup.target));
        if let (Some(dirs), Some(files)) = (self.streams.as_mut(), state.files.as_mut()) {
            let mut result = Ok(());
            for f in files.iter_mut() {
                if let Err(e) = dirs.close(f) {
                    result = Err(e);
                }
            }
            record.streams = Some(PerSide {
                client: dirs.path_of(&files[0]).display().to_string(),
                server: dirs.path_of(&files[1]).display().to_string(),
            });
            let [c, s] = files;
            record.gap_list = Some(PerSide {
                client: std::mem::take(&mut c.gaps),
                server: std::mem::take(&mut s.gaps),
            });
            self.keep_error(result);
        }
        let shown = !hidden && self.filter.allows_flow(&record);
        self.out.settle(record.id, shown.then_some(record));
    }

    fn halted(&self) -> bool {
        self.out.error.is_some()
    }
}

/// The proxy tunnel whose setup opens the first bytes of each side, and the first bytes
/// inside it (client, server). The heads lose the order between sides, which only the
/// "server spoke first" rule needs: a server head alone is no tunnel anyway.
fn tunnel_in(head: &[Vec<u8>; 2], max: usize) -> Option<(Setup, [Vec<u8>; 2])> {
    let mut t = Tunnel::new(max);
    for (side, bytes) in [(Side::Client, &head[0]), (Side::Server, &head[1])] {
        t.on_data(side, bytes, Mark::default());
    }
    if t.progress() != Progress::Established {
        return None;
    }
    let mut inner = [Vec::new(), Vec::new()];
    for (side, bytes, _) in t.take_held() {
        inner[side as usize].extend_from_slice(&bytes);
    }
    Some((t.into_setup()?, inner))
}

/// Reads the whole capture and hands a record per listed connection to `sink`, in order of
/// first packet. Fails outright only when the input cannot be opened or is not a capture.
pub fn flows<'b>(cfg: &FlowsConfig, sink: &'b mut FlowSink<'b>) -> Result<FlowsOutcome, RunError> {
    let streams = match &cfg.write_streams {
        Some(dir) => Some(StreamDir::new(dir).map_err(RunError::Streams)?),
        None => None,
    };
    let mut handler = FlowsHandler {
        ports: &cfg.input.ports,
        sniff: cfg.input.limits.max_sniff,
        all_ports: cfg.input.all_ports,
        filter: &cfg.filter,
        streams,
        out: Ordered::new(sink),
        io_error: None,
    };
    let (mut summary, mut error) = drive(&cfg.input, &mut handler)?;
    if error.is_none()
        && let Some(e) = handler.io_error.take()
    {
        error = Some(RunError::Streams(e));
    }
    summary.listed = handler.out.listed;
    summary.error = error.as_ref().map(|e| e.to_string());
    Ok(FlowsOutcome {
        summary,
        error,
        output_error: handler.out.error,
    })
}

/// The capture → packet → flow loop: feeds every segment on a wanted port to `handler`,
/// closes all connections at the end, and returns the run totals and the capture error
/// that stopped reading early, if any.
fn drive<H: Handler>(
    cfg: &InputConfig,
    handler: &mut H,
) -> Result<(RunSummary, Option<RunError>), RunError> {
    let source = InputSource::open(&cfg.input).map_err(|e| RunError::Open(cfg.input.clone(), e))?;
    let size = source.size;
    let counter = source.progress.clone();
    let mut reader = FileReader::new(source)?;
    let proxies = proto::PROXY_PORTS.into_iter();
    let mut table: FlowTable<H> = FlowTable::new(&cfg.limits, cfg.ports.ports().chain(proxies));
    let mut decoder = Decoder::new(cfg.limits.max_pending_fragments)
        .max_tunnel_depth(cfg.limits.max_tunnel_depth);
    let mut wanted = vec![cfg.all_ports; 65536];
    for p in cfg.ports.ports().chain(proto::PROXY_PORTS) {
        wanted[usize::from(p)] = true;
    }
    let bar = progress_bar(cfg.progress, size);
    let mut error = None;
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                error = Some(RunError::Capture(e));
                break;
            }
        };
        if let Some(bar) = &bar
            && frame.index % 8192 == 0
        {
            bar.set_position(counter.get());
        }
        if handler.halted() {
            break;
        }
        let (ts, index) = (frame.ts, frame.index);
        if let Ok(seg) = decoder.decode(&frame)
            && (wanted[usize::from(seg.src.port)] || wanted[usize::from(seg.dst.port)])
        {
            table.process(&seg, ts, index, handler);
        }
    }
    table.finish(handler);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let ds = &decoder.stats;
    let summary = RunSummary {
        kind: "summary",
        input: cfg.input.clone(),
        frames: reader.frames(),
        tcp_segments: ds.tcp,
        connections: table.stats.connections,
        listed: 0,
        frames_not_ip: ds.not_ip,
        frames_not_tcp: ds.not_tcp,
        frames_malformed: ds.malformed,
        frames_unsupported_link: ds.unsupported_link,
        frames_cut_by_snaplen: ds.truncated_by_snaplen,
        ip_fragments: ds.fragments,
        connections_timed_out: table.stats.timed_out,
        connections_evicted_at_limit: table.stats.evicted_at_limit,
        buffer_limit_flushes: table.stats.buffer_limit_flushes,
        frames_tunnelled: ds.encapsulated,
        frames_tunnels_too_deep: ds.tunnels_too_deep,
        acked_holes_given_up: table.stats.acked_hole_flushes,
        segments_out_of_window: table.stats.out_of_window,
        packets_late: table.stats.late_packets,
        packets_ignored: table.stats.ignored_packets,
        ip_fragments_dropped: ds.fragments_dropped,
        pcapng_blocks_skipped: reader.skipped_blocks,
        messages_not_decoded: 0,
        error: error.as_ref().map(|e| e.to_string()),
    };
    Ok((summary, error))
}

fn progress_bar(enabled: bool, size: Option<u64>) -> Option<indicatif::ProgressBar> {
    let size = size?;
    if !enabled || !io::stderr().is_terminal() || size < (64 << 20) {
        return None;
    }
    let bar = indicatif::ProgressBar::new(size);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

/// Which sessions to show (empty lists mean all).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub protocols: Vec<Protocol>,
    pub ports: Vec<u16>,
    pub hosts: Vec<std::net::IpAddr>,
    pub sessions: Vec<u64>,
}

impl Filter {
    fn allows(&self, id: u64, protocol: Protocol, client: Endpoint, server: Endpoint) -> bool {
        (self.protocols.is_empty() || self.protocols.contains(&protocol))
            && (self.ports.is_empty()
                || self.ports.contains(&client.port)
                || self.ports.contains(&server.port))
            && (self.hosts.is_empty()
                || self.hosts.contains(&client.ip)
                || self.hosts.contains(&server.ip))
            && (self.sessions.is_empty() || self.sessions.contains(&id))
    }

    pub fn allows_flow(&self, f: &FlowRecord) -> bool {
        self.allows(f.id, f.protocol, f.client, f.server)
    }
}

/// A validated run of the main job.
#[derive(Clone, Debug)]
pub struct SessionsConfig {
    pub input: InputConfig,
    pub filter: Filter,
    pub show_secrets: bool,
    pub extract: Option<PathBuf>,
    /// Threads in all: the reading thread plus `threads - 1` MIME decoding workers.
    pub threads: usize,
}

pub struct SessionsOutcome {
    pub summary: RunSummary,
    /// Reading stopped early (everything before it was handed out).
    pub error: Option<RunError>,
    /// The sink failed (a closed pipe, a full disk); reading stopped there.
    pub output_error: Option<io::Error>,
}

/// Where finished sessions go, in order of first packet.
pub type SessionSink<'a> = dyn FnMut(Session) -> io::Result<()> + 'a;

/// Where finished connection records go, in order of first packet.
pub type FlowSink<'a> = dyn FnMut(FlowRecord) -> io::Result<()> + 'a;

/// What a connection turned out to be.
enum Dissect {
    /// Not decided yet: the first bytes are kept until content tells.
    Sniffing(Vec<(Side, Vec<u8>, Mark)>),
    /// A mail dissector and the builder its events are folded into.
    Mail(Box<dyn Dissector>, Box<session::Builder>),
    /// A proxy tunnel's setup being read (proxy ports, and any port with `--all-ports`); once
    /// it opens, the bytes inside are recognised as `Sniffing` does.
    Tunnel(Box<Tunnel>),
    /// TLS from the first byte (465/993/995, or a ClientHello seen).
    Tls(Protocol),
    /// A protocol without a dissector yet, or not mail at all.
    Ignored,
}

struct SessionState {
    /// Connection number and endpoints, for the filter.
    conn: (u64, Endpoint, Endpoint),
    /// What the server port is mapped to: the recogniser's hint.
    hint: Option<proto::PortRole>,
    /// Picked up without its handshake.
    midstream: bool,
    /// The port's protocol, when the content contradicted it (reported with the session).
    port_said: Option<Protocol>,
    dissect: Dissect,
    /// The proxy tunnel the session runs in.
    tunnel: Option<Setup>,
    head: [Vec<u8>; 2],
    messages: Vec<MessageInfo>,
    /// Messages still being decoded elsewhere: (index in `messages`, job).
    pending: Vec<(usize, u64)>,
    /// Messages past `max_messages`: counted, not kept.
    omitted: session::mail::MessagesOmitted,
    /// Message bytes the dissector held at the last look (for the global budget).
    held: usize,
}

/// A closed session waiting for some of its messages to be decoded.
struct Finishing {
    /// `None` when the filter hides it (it still holds its place in the order).
    session: Option<Session>,
    /// Job → index of the message in the session.
    slots: HashMap<u64, usize>,
}

struct SessionsHandler<'a, 'b> {
    cfg: &'a SessionsConfig,
    bounds: proto::Bounds,
    /// Every open session, by connection id (the flow table only holds the id, so that a
    /// memory budget can reach any session's messages in flight).
    open: HashMap<u64, SessionState>,
    /// Message bytes held by all open sessions' dissectors together.
    held: usize,
    /// Messages handed out without their bytes (let go for the budget).
    not_decoded: u64,
    out: Ordered<'b, Session>,
    pool: Pool,
    /// Decoded messages of sessions still open, by job.
    early: HashMap<u64, Done>,
    /// Closed sessions waiting for decoding, by connection id.
    finishing: BTreeMap<u64, Finishing>,
    /// Job → connection id, for the jobs of `finishing` sessions.
    waiting_for: HashMap<u64, u64>,
}

fn side_of(dir: Direction) -> Side {
    match dir {
        Direction::ClientToServer => Side::Client,
        Direction::ServerToClient => Side::Server,
    }
}

impl SessionsHandler<'_, '_> {
    /// Records a finished message and has it decoded, here or by a worker; not at all when
    /// the filters hide its session (a `--session` or `--host` run skips the MIME work of
    /// every other session).
    fn add_message(
        &mut self,
        state: &mut SessionState,
        protocol: Protocol,
        mut m: proto::transcript::Message,
    ) {
        let (id, client, server) = state.conn;
        if !self.cfg.filter.allows(id, protocol, client, server) {
            return;
        }
        if state.messages.len() >= self.cfg.input.limits.max_messages {
            state.omitted.count += 1;
            state.omitted.bytes += m.size;
            return;
        }
        let keep = self.cfg.extract.is_some();
        let bytes = std::mem::take(&mut m.bytes);
        let hash = m.sha256.is_none();
        let shed = m.not_decoded.is_some();
        let mut info = session::mail::envelope(m, false);
        if shed {
            self.not_decoded += 1;
            // Its bytes were let go: size and hash are the dissector's, nothing to decode.
            state.messages.push(info);
            return;
        }
        match self.pool.submit(bytes, keep, hash) {
            Decoded::Now(done) => fill(&mut info, *done, keep),
            Decoded::Later(job) => state.pending.push((state.messages.len(), job)),
        }
        state.messages.push(info);
    }

    /// Takes in whatever the workers have finished.
    fn collect(&mut self) {
        while let Some(done) = self.pool.try_done() {
            self.deliver(done);
        }
    }

    fn deliver(&mut self, done: Done) {
        let Some(conn) = self.waiting_for.remove(&done.id) else {
            self.early.insert(done.id, done);
            return;
        };
        let Some(f) = self.finishing.get_mut(&conn) else {
            return;
        };
        if let Some(idx) = f.slots.remove(&done.id)
            && let Some(info) = f.session.as_mut().and_then(|s| s.messages.get_mut(idx))
        {
            fill(info, done, self.cfg.extract.is_some());
        }
        if f.slots.is_empty()
            && let Some(f) = self.finishing.remove(&conn)
        {
            self.out.settle(conn, f.session);
        }
    }

    /// Hands out a closed session once all its messages are decoded.
    fn finish_session(
        &mut self,
        conn: u64,
        mut session: Option<Session>,
        pending: Vec<(usize, u64)>,
    ) {
        let keep = self.cfg.extract.is_some();
        let mut slots = HashMap::new();
        for (idx, job) in pending {
            match self.early.remove(&job) {
                Some(done) => {
                    if let Some(info) = session.as_mut().and_then(|s| s.messages.get_mut(idx)) {
                        fill(info, done, keep);
                    }
                }
                None => {
                    slots.insert(job, idx);
                    self.waiting_for.insert(job, conn);
                }
            }
        }
        if slots.is_empty() {
            self.out.settle(conn, session);
        } else {
            self.finishing.insert(conn, Finishing { session, slots });
        }
    }

    /// Waits for every outstanding decoding job (after the last connection has closed).
    fn drain(&mut self) {
        while let Some(done) = self.pool.wait_done() {
            self.deliver(done);
        }
        // Only if a worker vanished: hand out what is there rather than lose sessions.
        for (conn, f) in std::mem::take(&mut self.finishing) {
            self.out.settle(conn, f.session);
        }
    }

    fn dissector(&self, protocol: Protocol, midstream: bool) -> Option<Box<dyn Dissector>> {
        match protocol {
            Protocol::Smtp => Some(Box::new(Smtp::new(self.bounds, midstream))),
            Protocol::Pop3 => Some(Box::new(Pop3::new(self.bounds, midstream))),
            Protocol::Imap => Some(Box::new(Imap::new(self.bounds, midstream))),
            _ => None,
        }
    }

    /// The tunnel opened (the bytes inside it are recognised from their start) or there is
    /// none (every byte is recognised as on any other port).
    fn leave_tunnel(&mut self, state: &mut SessionState) {
        let dissect = std::mem::replace(&mut state.dissect, Dissect::Sniffing(Vec::new()));
        let Dissect::Tunnel(mut t) = dissect else {
            state.dissect = dissect;
            return;
        };
        let held = t.take_held();
        if t.progress() == Progress::Established {
            state.tunnel = t.into_setup();
        }
        state.head = [Vec::new(), Vec::new()];
        for (side, bytes, mark) in held {
            self.feed(state, side, &bytes, mark);
        }
    }

    /// Recognises a connection still being sniffed, if its first bytes (or `done`: a gap or
    /// its end) allow, and hands what was buffered to its dissector.
    fn decide(&mut self, state: &mut SessionState, done: bool) {
        if !matches!(state.dissect, Dissect::Sniffing(_)) {
            return;
        }
        let cap = self.cfg.input.limits.max_sniff;
        let Some(r) = proto::recognise(state.hint, &state.head[1], &state.head[0], cap, done)
        else {
            return;
        };
        let Dissect::Sniffing(buffered) = std::mem::replace(&mut state.dissect, Dissect::Ignored)
        else {
            return;
        };
        state.port_said = r.port_said;
        if r.tls || r.protocol == Protocol::Tls {
            state.dissect = Dissect::Tls(r.protocol);
            return;
        }
        // On a mapped port the handshake tells; content found elsewhere (or inside a
        // tunnel, which starts at its beginning) may have been picked up anywhere.
        let midstream = match state.hint {
            Some(_) => state.midstream,
            None => state.tunnel.is_none(),
        };
        if let Some(mut d) = self.dissector(r.protocol, midstream) {
            for (side, bytes, mark) in buffered {
                d.on_data(side, &bytes, mark);
            }
            let builder = Box::new(session::Builder::new(r.protocol, self.bounds));
            state.dissect = Dissect::Mail(d, builder);
            self.fold(state);
        }
    }

    /// Folds the events the session's dissector handed out into its builder; finished
    /// messages go to decoding.
    fn fold(&mut self, state: &mut SessionState) {
        let Dissect::Mail(d, builder) = &mut state.dissect else {
            return;
        };
        let protocol = builder.protocol();
        let mut finished = Vec::new();
        for e in d.take_events() {
            if let Some(m) = builder.apply(e) {
                finished.push(m);
            }
        }
        for m in finished {
            self.add_message(state, protocol, m);
        }
    }

    fn feed(&mut self, state: &mut SessionState, side: Side, data: &[u8], mark: Mark) {
        let sniff = self.cfg.input.limits.max_sniff;
        let head = &mut state.head[side as usize];
        if head.len() < sniff {
            let take = (sniff - head.len()).min(data.len());
            head.extend_from_slice(&data[..take]);
        }
        match &mut state.dissect {
            Dissect::Mail(d, _) => {
                d.on_data(side, data, mark);
                self.fold(state);
            }
            Dissect::Sniffing(buffered) => {
                buffered.push((side, data.to_vec(), mark));
                self.decide(state, false);
            }
            Dissect::Tunnel(t) => match t.on_data(side, data, mark) {
                Progress::NeedMore => {}
                Progress::Refused => state.dissect = Dissect::Ignored,
                Progress::Established | Progress::NotATunnel(_) => self.leave_tunnel(state),
            },
            Dissect::Tls(_) | Dissect::Ignored => {}
        }
    }
}

impl SessionsHandler<'_, '_> {
    /// Notes how many message bytes `state`'s dissector holds now (for the global budget).
    fn note_held(&mut self, state: &mut SessionState) {
        let now = match &state.dissect {
            Dissect::Mail(d, _) => d.held_bytes(),
            _ => 0,
        };
        self.held = self.held - state.held + now;
        state.held = now;
    }

    /// Keeps the message bytes held by all open sessions within `max_held_messages`: past
    /// it, the sessions with the most bytes in flight let go of them (hashed on, not
    /// decoded) until the total is back under half the budget, so the scan is rare.
    fn keep_budget(&mut self) {
        let budget = self.cfg.input.limits.max_held_messages;
        if self.held <= budget {
            return;
        }
        let mut by_size: Vec<(usize, u64)> = self
            .open
            .iter()
            .filter(|(_, s)| s.held > 0)
            .map(|(id, s)| (s.held, *id))
            .collect();
        // Largest first; ties by connection id, so the outcome does not depend on hashing.
        by_size.sort_unstable_by(|a, b| b.cmp(a));
        for (_, id) in by_size {
            if self.held <= budget / 2 {
                break;
            }
            if let Some(state) = self.open.get_mut(&id)
                && let Dissect::Mail(d, _) = &mut state.dissect
            {
                d.shed();
                let now = d.held_bytes();
                self.held = self.held - state.held + now;
                state.held = now;
            }
        }
    }
}

impl Handler for SessionsHandler<'_, '_> {
    /// The connection id: the sessions themselves live in `open`.
    type State = u64;

    fn open(&mut self, info: &ConnInfo) -> u64 {
        let hint = self.cfg.input.ports.get(info.server.port);
        let dissect = match hint {
            Some(role) if role.tls => Dissect::Tls(role.protocol),
            // The port is a hint: the first line decides (see `proto::recognise`).
            Some(_) => Dissect::Sniffing(Vec::new()),
            None => Dissect::Tunnel(Box::new(Tunnel::new(self.cfg.input.limits.max_proxy_setup))),
        };
        let state = SessionState {
            conn: (info.id, info.client, info.server),
            hint,
            midstream: info.midstream,
            port_said: None,
            dissect,
            tunnel: None,
            head: [Vec::new(), Vec::new()],
            messages: Vec::new(),
            pending: Vec::new(),
            omitted: session::mail::MessagesOmitted::default(),
            held: 0,
        };
        self.open.insert(info.id, state);
        info.id
    }

    fn data(&mut self, id: &mut u64, _: &ConnInfo, dir: Direction, chunk: Chunk<'_>) {
        let mark = Mark {
            ts: chunk.ts,
            frame: chunk.frame,
        };
        let Some(mut state) = self.open.remove(id) else {
            return;
        };
        self.feed(&mut state, side_of(dir), chunk.data, mark);
        self.note_held(&mut state);
        self.open.insert(*id, state);
        self.keep_budget();
        self.collect();
    }

    fn gap(&mut self, id: &mut u64, _: &ConnInfo, dir: Direction, gap: Gap) {
        let Some(mut state) = self.open.remove(id) else {
            return;
        };
        // A setup with a hole cannot be read: recognise the bytes as on any other port.
        if let Dissect::Tunnel(t) = &mut state.dissect {
            t.give_up("a gap in the proxy setup");
            self.leave_tunnel(&mut state);
        }
        // The bytes before the gap are all there will be to recognise the protocol by.
        self.decide(&mut state, true);
        if let Dissect::Mail(d, _) = &mut state.dissect {
            d.on_gap(
                side_of(dir),
                gap.len,
                Mark {
                    ts: gap.ts,
                    frame: gap.frame,
                },
            );
            self.fold(&mut state);
        }
        self.note_held(&mut state);
        self.open.insert(*id, state);
        self.keep_budget();
    }

    fn close(&mut self, id: u64, summary: &ConnSummary) {
        let Some(mut state) = self.open.remove(&id) else {
            return;
        };
        self.held -= state.held;
        // Ended during a proxy setup, or before the protocol could be recognised: decide
        // with what there is.
        if let Dissect::Tunnel(t) = &mut state.dissect {
            t.give_up("the connection ended during the proxy setup");
            self.leave_tunnel(&mut state);
        }
        self.decide(&mut state, true);
        let end = Mark {
            ts: summary.end,
            frame: summary.last_frame,
        };
        if let Dissect::Mail(d, _) = &mut state.dissect {
            // The last events: messages cut short, exchanges left waiting, the end.
            d.end(end);
            self.fold(&mut state);
        }
        let dissect = std::mem::replace(&mut state.dissect, Dissect::Ignored);
        let mut session = match dissect {
            Dissect::Mail(_, builder) => {
                let messages = std::mem::take(&mut state.messages);
                let mut s = builder.finish(summary, messages, self.cfg.show_secrets);
                if state.omitted.count > 0 {
                    let o = std::mem::take(&mut state.omitted);
                    let max = self.cfg.input.limits.max_messages;
                    s.anomalies.push(limit_anomaly(
                        summary,
                        o.count,
                        format!("max-messages: messages past the first {max} are counted, not kept ({} times)", o.count),
                    ));
                    s.messages_omitted = Some(o);
                }
                let shed = s
                    .messages
                    .iter()
                    .filter(|m| m.transfer.not_decoded.is_some())
                    .count() as u64;
                if shed > 0 {
                    s.anomalies.push(limit_anomaly(
                        summary,
                        shed,
                        format!("max-held-messages: the memory budget for messages in flight over all sessions made {shed} of this session's messages let go of their bytes (size and SHA-256 exact, not decoded)"),
                    ));
                }
                s
            }
            Dissect::Tls(protocol) => {
                let mut s = session::mail::tls_session(summary, protocol);
                if let Some(tls) = s.tls.as_mut() {
                    let (sni, version) = proto::event::client_hello(&state.head[0]);
                    tls.sni = sni;
                    tls.version = version;
                }
                s
            }
            Dissect::Sniffing(_) | Dissect::Tunnel(_) | Dissect::Ignored => {
                return self.out.settle(summary.info.id, None);
            }
        };
        if let Some(setup) = &state.tunnel {
            session::mail::add_tunnel(&mut session, setup, self.cfg.show_secrets);
        }
        if let Some(port_said) = state.port_said {
            let info = &summary.info;
            let a = proto::event::Anomaly::new(
                proto::vocab::common::Anomaly::PortProtocolMismatch,
                Mark {
                    ts: info.start,
                    frame: info.first_frame,
                },
                format!(
                    "port {} is mapped to {port_said}, but the content is {}",
                    info.server.port, session.protocol
                ),
            );
            session.anomalies.insert(0, a);
        }
        let shown =
            self.cfg
                .filter
                .allows(session.id, session.protocol, session.client, session.server);
        self.finish_session(summary.info.id, shown.then_some(session), state.pending);
        self.collect();
    }

    fn halted(&self) -> bool {
        self.out.error.is_some()
    }
}

/// The main job: every mail session of the capture, dissected, handed to `sink` in order
/// of first packet as soon as every earlier connection has closed.
pub fn sessions<'b>(
    cfg: &SessionsConfig,
    sink: &'b mut SessionSink<'b>,
) -> Result<SessionsOutcome, RunError> {
    std::thread::scope(|scope| sessions_in(scope, cfg, sink))
}

fn sessions_in<'s, 'b>(
    scope: &'s std::thread::Scope<'s, '_>,
    cfg: &SessionsConfig,
    sink: &'b mut SessionSink<'b>,
) -> Result<SessionsOutcome, RunError> {
    let mut handler = SessionsHandler {
        cfg,
        bounds: proto::Bounds::from(&cfg.input.limits),
        out: Ordered::new(sink),
        open: HashMap::new(),
        held: 0,
        not_decoded: 0,
        pool: Pool::new(
            scope,
            cfg.threads.saturating_sub(1),
            cfg.input.limits.max_decoding_bytes,
            crate::mime::Bounds::from(&cfg.input.limits),
        ),
        early: HashMap::new(),
        finishing: BTreeMap::new(),
        waiting_for: HashMap::new(),
    };
    let driven = drive(&cfg.input, &mut handler);
    handler.drain();
    let (mut summary, error) = driven?;
    summary.listed = handler.out.listed;
    summary.messages_not_decoded = handler.not_decoded;
    Ok(SessionsOutcome {
        summary,
        error,
        output_error: handler.out.error,
    })
}

/// A `limit-reached` anomaly the pipeline adds to a session (dated at its end).
fn limit_anomaly(summary: &ConnSummary, count: u64, detail: String) -> proto::event::Anomaly {
    let mut a = proto::transcript::limit_reached(
        Mark {
            ts: summary.end,
            frame: summary.last_frame,
        },
        detail,
    );
    a.count = Some(count);
    a
}

/// Puts a decoded message's MIME facts (and, when extracting, its bytes) into its record.
fn fill(info: &mut MessageInfo, done: Done, keep_raw: bool) {
    info.set_decoded(done.mime, done.sha256);
    if keep_raw {
        info.transfer.bytes = done.bytes;
    }
}
