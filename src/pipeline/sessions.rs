//! The main job: every mail session of the capture. Recognises each connection's protocol
//! (port hint, proxy tunnel, first bytes), runs its dissector, has the messages it finishes
//! decoded by [`super::pool`], and builds the session once the connection has closed and
//! its messages are back.

use super::config::{RunError, SessionsConfig, SessionsOutcome};
use super::drive::{Driven, Inputs, Opened, OtherPorts, ProgressSink, drive, open};
use super::ordering::Ordered;
use super::pool::{Decoded, Done, Finished, Key, Pool, Rendered};
use super::rendering::InOrder;
use super::streams::{Request, Step, Streams};
use crate::capture::FrameSource;
use crate::flow::{Chunk, ConnInfo, ConnSummary, Direction, EndState, Gap, Handler};
use crate::proto;
use crate::proto::Dissector;
use crate::proto::event::{Event, Mark, Side};
use crate::proto::imap::Imap;
use crate::proto::pop3::Pop3;
use crate::proto::smtp::Smtp;
use crate::proto::tunnel::{Progress, Setup, Tunnel};
use crate::render::SessionSink;
use crate::session::mail::MessageInfo;
use crate::session::{self, Origin, Session};
use crate::types::{Endpoint, Protocol, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// What a connection turned out to be.
enum Dissect {
    /// Not decided yet: the first bytes are kept until content tells.
    Sniffing(Vec<(Side, Vec<u8>, Mark)>),
    /// A mail dissector.
    Mail(Box<dyn Dissector>, Protocol),
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
    /// The connection's first packet.
    start: Timestamp,
    /// The session's number once recognised as mail, when events are on (0 before).
    number: u64,
    /// The input its first packet came from (a position in `SessionsHandler::files`).
    input: usize,
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
    /// Messages out for decoding: their results are filled into `messages` as they come.
    outstanding: usize,
    /// Messages past `max_messages`: counted, not kept.
    omitted: session::mail::MessagesOmitted,
    /// Message bytes the dissector held at the last look (for the global budget).
    held: usize,
    /// What each direction passes through on its way to the dissector.
    streams: Streams,
    /// Transforms that gave up: reported when the session ends.
    /// The buffer pieces out of a transform are handed over in.
    piece: Vec<u8>,
    /// A port mapped to implicit TLS carried plaintext: dissected by content, said once.
    tls_port_plain: bool,
    /// TLS plaintext has reached the dissector (it was told: `Dissector::inside_tls`).
    tls_plain: bool,
    /// What the connection's TLS reported, for a session without a dissector: kept as a
    /// transcript keeps anomalies (at most `max_anomalies` of a name, the rest counted).
    tls_anomalies: Option<Box<proto::transcript::Transcript>>,
    /// TLS on a port no mail protocol is mapped to: the plaintext decrypted so far, in
    /// order (bounded by `max_sniff` per side, give or take a chunk), until the protocol
    /// inside is recognised.
    tls_heads: Vec<(Side, Vec<u8>)>,
}

/// A mail session on its way out: it gets its number (mail sessions count from 1 in order
/// of first packet, whatever the filters show) when its turn comes.
enum Listed {
    Shown(Box<Session>),
    /// `--host`, `--proto` or `--port` hide it: it is numbered, not written.
    Hidden,
}

/// A closed session waiting for some of its messages to be decoded: the one record of a
/// closed connection that decoding results (keyed by connection and message index) find.
struct Closing {
    /// `None` when the connection was no mail session (it still holds its place in the
    /// order).
    session: Option<Listed>,
    /// Messages not back from decoding yet.
    outstanding: usize,
    /// Who to tell of its messages as they are decoded (a live view; `None` when hidden).
    origin: Option<Origin>,
}

struct SessionsHandler<'a, 'b> {
    cfg: &'a SessionsConfig,
    bounds: proto::Bounds,
    /// Every open session, by connection id (the flow table only holds the id, so that a
    /// memory budget can reach any session's messages in flight).
    open: crate::types::FastMap<u64, SessionState>,
    /// Message bytes held by all open sessions' dissectors together.
    held: usize,
    /// Messages handed out without their bytes (let go for the budget).
    not_decoded: u64,
    out: Ordered<'b, Listed>,
    /// The sink's `start`, `event` and `message`, when it wants the events of open sessions
    /// (a live view).
    live: Option<&'b mut LiveSink<'b>>,
    /// Sessions are numbered when recognised and written when they end (a live capture, or
    /// a sink that wants events), instead of numbered and written in order of first packet.
    streaming: bool,
    /// Mail sessions recognised so far (their numbers, when streaming).
    recognised: u64,
    pool: Pool,
    /// Closed sessions waiting for decoding, by connection id.
    closing: BTreeMap<u64, Closing>,
    /// The capture files, when there are several (each session names its own).
    files: Vec<String>,
    /// The input the frame being handled came from.
    input: usize,
    /// Connections `--host` lets through (to explain an empty result).
    hosts_matched: u64,
    /// Refused connection attempts (SYN answered by RST) the filters show, by client
    /// address and server: count and first time (at most `max_connections` pairs).
    refused: HashMap<(IpAddr, Endpoint), (u64, Timestamp)>,
    refused_total: u64,
    /// The run's TLS secrets.
    keys: super::keys::KeyStore,
    /// Sessions are rendered on the worker threads (see `rendering`) with this.
    renderer: Option<crate::render::Renderer>,
    /// Sessions the reorder buffer handed out, to be rendered (filled by its sink).
    to_render: &'b std::cell::RefCell<std::collections::VecDeque<Box<Session>>>,
    /// Their renderings, waiting for their turn.
    in_order: InOrder,
    /// The sink's `rendered`.
    write_rendered: &'b mut dyn FnMut(&[u8]) -> std::io::Result<()>,
}

/// What a live view hears of open sessions.
enum Live<'e> {
    Start(&'e Origin),
    Event(&'e Origin, &'e Event),
    Message(&'e Origin, &'e MessageInfo),
}

/// Where events of open sessions go.
type LiveSink<'b> = dyn FnMut(Live<'_>) -> std::io::Result<()> + 'b;

/// Which session `state` is, for a live view.
fn origin(state: &SessionState, protocol: Protocol) -> Origin {
    let (id, client, server) = state.conn;
    Origin {
        id,
        number: state.number,
        protocol,
        client,
        server,
        start: state.start,
        midstream: state.midstream,
    }
}

impl SessionState {
    /// The protocol, once recognised as a mail session (or TLS on a mail port).
    fn protocol(&self) -> Option<Protocol> {
        match self.dissect {
            Dissect::Mail(_, p) | Dissect::Tls(p) => Some(p),
            _ => None,
        }
    }
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
        if !self.cfg.filter.allows_conn(protocol, client, server) {
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
        let key = Key {
            conn: id,
            index: state.messages.len(),
        };
        info.number = key.index + 1;
        let now = match self.pool.submit(key, bytes, keep, hash) {
            Decoded::Now(done) => {
                fill(&mut info, *done, keep);
                true
            }
            Decoded::Later => {
                state.outstanding += 1;
                false
            }
        };
        if now && self.live.is_some() {
            let origin = origin(state, protocol);
            if self.shown(&origin) {
                self.tell(Live::Message(&origin, &info));
            }
        }
        state.messages.push(info);
    }

    /// Whether a live view hears of the session: the filters show it.
    fn shown(&self, origin: &Origin) -> bool {
        let f = &self.cfg.filter;
        f.allows_conn(origin.protocol, origin.client, origin.server)
            && (!self.streaming || f.allows_id(origin.number))
    }

    /// Tells the live view (if any, and until writing to it failed).
    fn tell(&mut self, what: Live<'_>) {
        if self.out.error.is_some() {
            return;
        }
        if let Some(live) = self.live.as_deref_mut()
            && let Err(e) = live(what)
        {
            self.out.error = Some(e);
        }
    }

    /// The connection turned out to be a mail session (or TLS on a mail port): when
    /// streaming it gets its number now, and a live view hears of it.
    fn recognised(&mut self, state: &mut SessionState, protocol: Protocol) {
        if !self.streaming || state.number != 0 {
            return;
        }
        self.recognised += 1;
        state.number = self.recognised;
        let origin = origin(state, protocol);
        if self.live.is_some() && self.shown(&origin) {
            self.tell(Live::Start(&origin));
        }
    }

    /// Takes in whatever the workers have finished.
    fn collect(&mut self) {
        while let Some(finished) = self.pool.try_done() {
            self.finished(finished);
        }
        self.pump();
    }

    fn finished(&mut self, finished: Finished) {
        match finished {
            Finished::Decoded(done) => self.deliver(done),
            Finished::Rendered(Rendered {
                seq,
                bytes,
                session,
            }) => {
                // Freed here, by the thread that allocated it (see `pool::Rendered`).
                drop(session);
                self.in_order.fill(seq, bytes);
                self.write_in_order();
            }
        }
    }

    /// Hands the sessions the reorder buffer let go of to the workers for rendering (past
    /// `rendering::AHEAD` unwritten it waits for them; with none left it renders here), and
    /// writes what is ready.
    fn pump(&mut self) {
        let Some(renderer) = self.renderer else {
            return;
        };
        let mut queued = false;
        loop {
            let Some(session) = self.to_render.borrow_mut().pop_front() else {
                break;
            };
            if self.out.error.is_some() {
                continue;
            }
            // AHEAD sessions out and not written (the first of them still with a busy
            // worker): wait for the workers rather than pile up more.
            self.wait_for_renderings();
            let (seq, to_workers, bytes) = self.in_order.next();
            queued |= to_workers;
            let now = match to_workers {
                true => self.pool.render(seq, session, renderer, bytes),
                false => Some(Pool::render_here(seq, session, renderer, bytes)),
            };
            if let Some(Rendered { seq, bytes, .. }) = now {
                self.in_order.fill(seq, bytes);
            }
        }
        // Streaming, a session goes out as soon as it is rendered, not when a batch fills.
        if queued && self.streaming {
            self.pool.flush();
        }
        self.write_in_order();
    }

    /// Takes in what the workers finish until fewer than `rendering::AHEAD` sessions are
    /// out and unwritten (or nothing more can come).
    fn wait_for_renderings(&mut self) {
        while self.in_order.pending() >= super::rendering::AHEAD {
            let Some(finished) = self.pool.wait_done() else {
                break;
            };
            self.finished(finished);
        }
    }

    /// Writes the renderings whose turn it is; a failure stops all writing, as the reorder
    /// buffer's does.
    fn write_in_order(&mut self) {
        if self.out.error.is_some() {
            return;
        }
        if let Err(e) = self.in_order.write_ready(self.write_rendered) {
            self.out.error = Some(e);
        }
    }

    /// Puts a decoded message into its session, open or closed; hands a closed session out
    /// once its last message is back.
    fn deliver(&mut self, done: Done) {
        let Key { conn, index } = done.key;
        let keep = self.cfg.extract.is_some();
        if let Some(mut state) = self.open.remove(&conn) {
            state.outstanding = state.outstanding.saturating_sub(1);
            if let Some(info) = state.messages.get_mut(index) {
                fill(info, done, keep);
            }
            if self.live.is_some()
                && let Some(protocol) = state.protocol()
                && let Some(info) = state.messages.get(index)
            {
                let origin = origin(&state, protocol);
                if self.shown(&origin) {
                    self.tell(Live::Message(&origin, info));
                }
            }
            self.open.insert(conn, state);
            return;
        }
        let Some(mut c) = self.closing.remove(&conn) else {
            return;
        };
        c.outstanding = c.outstanding.saturating_sub(1);
        if let Some(Listed::Shown(s)) = c.session.as_mut()
            && let Some(info) = s.messages.get_mut(index)
        {
            fill(info, done, keep);
            if let Some(origin) = &c.origin {
                self.tell(Live::Message(origin, info));
            }
        }
        if c.outstanding == 0 {
            self.settle(conn, c.session);
        } else {
            self.closing.insert(conn, c);
        }
    }

    /// Hands a finished connection's item to the reorder buffer. A closed session waiting
    /// for messages still in the pool's batch would wait for the batch to fill, and the
    /// sessions after it may bring no more messages: the buffer would fill up and give up
    /// on it, and the output would depend on `-j`. So once the buffer is half full while
    /// sessions wait for their messages, the batch goes to the workers.
    fn settle(&mut self, conn: u64, item: Option<Listed>) {
        self.out.settle(conn, item);
        if !self.closing.is_empty() && self.out.half_full() {
            self.pool.flush();
        }
    }

    /// Hands out a closed session once all its messages are decoded.
    fn finish_session(
        &mut self,
        conn: u64,
        session: Option<Listed>,
        outstanding: usize,
        origin: Option<Origin>,
    ) {
        if outstanding == 0 {
            self.settle(conn, session);
        } else {
            self.closing.insert(
                conn,
                Closing {
                    session,
                    outstanding,
                    origin,
                },
            );
        }
    }

    /// Folds a refused connection attempt into the count of its client and server.
    fn add_refused(&mut self, state: &SessionState, summary: &ConnSummary) {
        let (_, client, server) = state.conn;
        let protocol = state.hint.map_or(Protocol::Unknown, |h| h.protocol);
        if !self.cfg.filter.allows_conn(protocol, client, server) {
            return;
        }
        self.refused_total += 1;
        let key = (client.ip, server);
        let max = self.cfg.input.limits.max_connections;
        if let Some((n, _)) = self.refused.get_mut(&key) {
            *n += 1;
        } else if self.refused.len() < max {
            self.refused.insert(key, (1, summary.info.start));
        }
    }

    /// Waits for every job out, decoding and rendering (after the last connection has
    /// closed). Sessions numbered for rendering that never came back (only if a worker
    /// thread ended) are an output error, not silently missing lines.
    fn drain(&mut self) {
        self.finish_all();
        // Only if a worker vanished: hand out what is there rather than lose sessions.
        for (conn, c) in std::mem::take(&mut self.closing) {
            self.out.settle(conn, c.session);
        }
        self.finish_all();
        let lost = self.in_order.pending();
        if lost > 0 && self.out.error.is_none() {
            self.out.error = Some(std::io::Error::other(format!(
                "{lost} sessions were not rendered (a worker thread ended)"
            )));
        }
    }

    /// Waits for every job out, rendering and writing the sessions they finish.
    fn finish_all(&mut self) {
        loop {
            self.pump();
            let Some(finished) = self.pool.wait_done() else {
                break;
            };
            self.finished(finished);
        }
    }

    fn dissector(&self, protocol: Protocol, midstream: bool) -> Option<Box<dyn Dissector>> {
        let mut d: Box<dyn Dissector> = match protocol {
            Protocol::Smtp => Box::new(Smtp::new(self.bounds, midstream)),
            Protocol::Pop3 => Box::new(Pop3::new(self.bounds, midstream)),
            Protocol::Imap => Box::new(Imap::new(self.bounds, midstream)),
            _ => return None,
        };
        // A live view listens: every change is an event.
        if self.live.is_some() {
            d.record_all();
        }
        Some(d)
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
            self.recognised(state, r.protocol);
            for (side, bytes, mark) in buffered {
                self.tls_data(state, side, &bytes, mark);
            }
            return;
        }
        // On a mapped port the handshake tells; content found elsewhere (or inside a
        // tunnel, which starts at its beginning) may have been picked up anywhere.
        let midstream = match state.hint {
            Some(_) => state.midstream,
            None => state.tunnel.is_none(),
        };
        if let Some(d) = self.dissector(r.protocol, midstream) {
            state.dissect = Dissect::Mail(d, r.protocol);
            self.recognised(state, r.protocol);
            for (side, bytes, mark) in buffered {
                self.hand_over(state, side, &bytes, mark);
            }
        }
    }

    /// Takes the events the session's dissector handed out: finished messages go to
    /// decoding, every event to a live view if one listens. Returns the upgrades the
    /// dissector asked for.
    fn fold(&mut self, state: &mut SessionState) -> Vec<Request> {
        let Dissect::Mail(_, protocol) = &state.dissect else {
            return Vec::new();
        };
        let protocol = *protocol;
        let origin = origin(state, protocol);
        let Dissect::Mail(d, _) = &mut state.dissect else {
            return Vec::new();
        };
        let mut finished = Vec::new();
        let mut upgrades = Vec::new();
        let shown = self.out.error.is_none() && self.shown(&origin);
        let mut live = if shown {
            self.live.as_deref_mut()
        } else {
            None
        };
        let mut live_error = None;
        for e in d.take_events() {
            if let Some(live) = live.as_mut()
                && live_error.is_none()
            {
                live_error = live(Live::Event(&origin, &e)).err();
            }
            match e {
                Event::Upgrade {
                    kind,
                    client_offset,
                    server_offset,
                    client_held,
                } => upgrades.push(Request {
                    kind,
                    offsets: [client_offset, server_offset],
                    client_held,
                }),
                Event::Message(m) => finished.push(m),
                _ => {}
            }
        }
        if let Some(e) = live_error {
            self.out.error.get_or_insert(e);
        }
        for m in finished {
            self.add_message(state, protocol, m);
        }
        upgrades
    }

    /// Hands bytes of one direction to the session's dissector, through the direction's
    /// transform one bounded piece at a time (each piece's events taken before the next is
    /// made), and puts in place the transforms the dissector asks for: the bytes past an
    /// upgrade's offset are handed over again, through the new transform.
    fn hand_over(&mut self, state: &mut SessionState, side: Side, data: &[u8], mark: Mark) {
        if !matches!(state.dissect, Dissect::Mail(..)) {
            return;
        }
        if !state.streams.transformed(side) {
            if let Dissect::Mail(d, _) = &mut state.dissect {
                d.on_data(side, data, mark);
            }
            state.streams.fed(side, data.len());
            let requests = self.fold(state);
            self.upgrade(state, requests, side, Some(data), mark);
            return;
        }
        if state.streams.plaintext_after_tls(data)
            && let Dissect::Mail(d, _) = &mut state.dissect
        {
            d.resume_text();
            d.note(proto::event::Anomaly::new(
                proto::vocab::common::Anomaly::PlaintextAfterStarttls,
                mark,
                format!(
                    "the {} sent {} after the upgrade",
                    if side == Side::Client {
                        "client"
                    } else {
                        "server"
                    },
                    describe_start(data)
                ),
            ));
            self.fold(state);
            return self.hand_over(state, side, data, mark);
        }
        let mut rest = data;
        let mut piece = std::mem::take(&mut state.piece);
        loop {
            let step = state
                .streams
                .step(side, &mut rest, &mut piece, &mut self.keys);
            self.tls_notes(state, mark);
            match step {
                Step::Out(more) => {
                    if !piece.is_empty()
                        && let Dissect::Mail(d, _) = &mut state.dissect
                    {
                        if !state.tls_plain && state.streams.through_tls(side) {
                            state.tls_plain = true;
                            d.inside_tls();
                        }
                        self.plain(state, side, &piece, mark);
                    }
                    if !more {
                        break;
                    }
                }
                Step::Failed(f) => {
                    self.transform_failed(state, side, f, mark);
                    break;
                }
                Step::Unread => break,
            }
        }
        state.piece = piece;
    }

    /// Bytes out of a direction's transform, to the dissector: through the inner stage when
    /// there is one (COMPRESS inside TLS), and putting one in place when the dissector asks.
    fn plain(&mut self, state: &mut SessionState, side: Side, data: &[u8], mark: Mark) {
        if !state.streams.inner(side) {
            if let Dissect::Mail(d, _) = &mut state.dissect {
                d.on_data(side, data, mark);
            }
            for req in self.fold(state) {
                let tail = state.streams.install_inner(&req, side, data.len());
                if !state.streams.inner(side) {
                    continue;
                }
                if !req.client_held.is_empty() {
                    self.plain(state, Side::Client, &req.client_held, mark);
                }
                if let Some(start) = tail {
                    self.plain(state, side, &data[start..], mark);
                }
            }
            return;
        }
        let mut rest = data;
        let mut out = Vec::new();
        loop {
            match state.streams.step_inner(side, &mut rest, &mut out) {
                Step::Out(more) => {
                    if !out.is_empty()
                        && let Dissect::Mail(d, _) = &mut state.dissect
                    {
                        d.on_data(side, &out, mark);
                        self.fold(state);
                    }
                    if !more {
                        break;
                    }
                }
                Step::Failed(f) => {
                    self.transform_failed(state, side, f, mark);
                    break;
                }
                Step::Unread => break,
            }
        }
    }

    /// What the connection's TLS reported (alerts, missing keys, records that did not
    /// decrypt, holes), as anomalies of the session, in order.
    fn tls_notes(&mut self, state: &mut SessionState, mark: Mark) {
        let notes = state.streams.take_tls_notes();
        if notes.is_empty() {
            return;
        }
        // Without any key log, keys are not missing: the session's tls says why it was not
        // decrypted, and no anomaly is raised.
        let given = self.keys.given();
        let anomalies: Vec<_> = notes
            .into_iter()
            .filter(|n| given || !matches!(n, crate::transform::tls::conn::Note::NoKey { .. }))
            .filter_map(|n| tls_anomaly(n, mark, &self.cfg.input.limits))
            .collect();
        match &mut state.dissect {
            Dissect::Mail(d, _) => {
                for a in anomalies {
                    d.note(a);
                }
                self.fold(state);
            }
            _ => {
                let bounds = self.bounds;
                let t = state.tls_anomalies.get_or_insert_with(|| {
                    Box::new(proto::transcript::Transcript::replica(bounds))
                });
                for a in anomalies {
                    t.anomaly(a);
                }
            }
        }
    }

    /// Bytes of a connection that is TLS from its first byte. On a mail port the protocol's
    /// dissector takes the plaintext (when the keys are known); elsewhere the TLS is read
    /// for what it says in clear, and for the protocol its plaintext shows.
    fn tls_data(&mut self, state: &mut SessionState, side: Side, data: &[u8], mark: Mark) {
        let Dissect::Tls(protocol) = state.dissect else {
            return;
        };
        if self.implicit_tls(state, protocol, state.midstream, side, mark) {
            return self.hand_over(state, side, data, mark);
        }
        let limits = &self.cfg.input.limits;
        let cap = limits.max_sniff;
        let kept = |side: Side, heads: &[(Side, Vec<u8>)]| -> usize {
            heads
                .iter()
                .filter(|(s, _)| *s == side)
                .map(|(_, b)| b.len())
                .sum()
        };
        let keep = kept(side, &state.tls_heads) < cap;
        let mut plain = Vec::new();
        state
            .streams
            .read_tls(side, data, &mut self.keys, limits, &mut plain, keep);
        self.tls_notes(state, mark);
        if plain.is_empty() {
            return;
        }
        state.tls_heads.push((side, plain));
        // The protocol inside, by its first lines: read on as that protocol's session.
        let head = |side: Side| -> Vec<u8> {
            let pieces = state.tls_heads.iter().filter(|(s, _)| *s == side);
            pieces.flat_map(|(_, b)| b.iter().copied()).collect()
        };
        let (server, client) = (head(Side::Server), head(Side::Client));
        let Some(r) = proto::recognise(None, &server, &client, cap, false) else {
            return;
        };
        if r.tls || !self.implicit_tls(state, r.protocol, false, side, mark) {
            return;
        }
        if let Dissect::Mail(d, _) = &mut state.dissect {
            d.inside_tls();
        }
        state.tls_plain = true;
        for (side, bytes) in std::mem::take(&mut state.tls_heads) {
            state.streams.fed(side, bytes.len());
            self.plain(state, side, &bytes, mark);
        }
    }

    /// A mail session in TLS from its first byte: `protocol`'s dissector, told so, and the
    /// TLS stages in place from offset 0 (the connection's TLS read so far is kept). False
    /// when `protocol` has no dissector.
    fn implicit_tls(
        &mut self,
        state: &mut SessionState,
        protocol: Protocol,
        midstream: bool,
        side: Side,
        mark: Mark,
    ) -> bool {
        let Some(mut d) = self.dissector(protocol, midstream) else {
            return false;
        };
        self.recognised(state, protocol);
        d.implicit_tls(Mark {
            ts: state.start,
            frame: mark.frame,
        });
        state.dissect = Dissect::Mail(d, protocol);
        let requests = self.fold(state);
        self.upgrade(state, requests, side, None, mark);
        true
    }

    /// Puts in place the transforms asked for. `chunk`: the bytes of `side` just handed
    /// over untransformed, whose part past the offset is handed over again through it.
    fn upgrade(
        &mut self,
        state: &mut SessionState,
        requests: Vec<Request>,
        side: Side,
        chunk: Option<&[u8]>,
        mark: Mark,
    ) {
        for req in requests {
            let len = chunk.map_or(0, <[u8]>::len);
            let limits = &self.cfg.input.limits;
            let tail = state
                .streams
                .install(&req, side, chunk.is_some(), len, limits);
            if !req.client_held.is_empty() {
                self.hand_over(state, Side::Client, &req.client_held, mark);
            }
            if let (Some(start), Some(chunk)) = (tail, chunk) {
                self.hand_over(state, side, &chunk[start..], mark);
            }
        }
    }

    /// A transform gave up: said once, in order, as the dissector's protocol says it; the
    /// rest of that direction is counted (the session's `unread_bytes`), not read.
    fn transform_failed(
        &mut self,
        state: &mut SessionState,
        side: Side,
        f: crate::transform::Failure,
        mark: Mark,
    ) {
        let who = match side {
            Side::Client => "client",
            Side::Server => "server",
        };
        // TLS itself failed, or an inflater (alone, or behind TLS).
        let tls = state.streams.failed_tls(side);
        let a = match f {
            crate::transform::Failure::Corrupt(why) if tls => proto::event::Anomaly::new(
                proto::vocab::common::Anomaly::TlsMalformed,
                mark,
                format!("{who} TLS: {why}; the rest of the {who}'s bytes is not read"),
            ),
            crate::transform::Failure::Gap(len) if tls => proto::event::Anomaly::new(
                proto::vocab::common::Anomaly::TlsGap,
                mark,
                format!(
                    "{len} {who} bytes missing in the TLS handshake: the records after it cannot be followed; the rest of the {who}'s bytes is not read"
                ),
            ),
            crate::transform::Failure::Corrupt(why) => proto::event::Anomaly::new(
                proto::vocab::imap::Anomaly::DecompressionFailed,
                mark,
                format!(
                    "{who} COMPRESS=DEFLATE data: {why}; the rest of the {who}'s bytes is not read"
                ),
            ),
            crate::transform::Failure::Gap(len) => proto::event::Anomaly::new(
                proto::vocab::imap::Anomaly::CompressedGap,
                mark,
                format!(
                    "{len} compressed {who} bytes missing; the rest of the {who}'s bytes is not read"
                ),
            ),
        };
        if let Dissect::Mail(d, _) = &mut state.dissect {
            d.note(a);
            self.fold(state);
        }
    }

    fn feed(&mut self, state: &mut SessionState, side: Side, data: &[u8], mark: Mark) {
        let sniff = self.cfg.input.limits.max_sniff;
        let head = &mut state.head[side as usize];
        if head.len() < sniff {
            let take = (sniff - head.len()).min(data.len());
            crate::copies::count(crate::copies::Site::Sniff, take);
            head.extend_from_slice(&data[..take]);
        }
        match &mut state.dissect {
            Dissect::Mail(..) => self.hand_over(state, side, data, mark),
            Dissect::Sniffing(buffered) => {
                crate::copies::count(crate::copies::Site::Sniff, data.len());
                buffered.push((side, data.to_vec(), mark));
                self.decide(state, false);
            }
            Dissect::Tunnel(t) => match t.on_data(side, data, mark) {
                Progress::NeedMore => {}
                Progress::Refused => state.dissect = Dissect::Ignored,
                Progress::Established | Progress::NotATunnel(_) => self.leave_tunnel(state),
            },
            Dissect::Tls(protocol) => {
                let protocol = *protocol;
                let first = state.head[side as usize].len() == data.len().min(sniff);
                // The first bytes of a side on a port mapped to implicit TLS: a server that
                // speaks first, or anything but a TLS record, is plaintext.
                let plain = first
                    && !data.is_empty()
                    && (side == Side::Server && state.head[0].is_empty()
                        || !crate::transform::starts_tls_record(data));
                if plain && state.hint.is_some_and(|h| h.tls) && !state.tls_port_plain {
                    state.tls_port_plain = true;
                    state.hint = Some(proto::PortRole {
                        protocol,
                        tls: false,
                    });
                    crate::copies::count(crate::copies::Site::Sniff, data.len());
                    state.dissect = Dissect::Sniffing(vec![(side, data.to_vec(), mark)]);
                    self.decide(state, false);
                    return;
                }
                self.tls_data(state, side, data, mark);
            }
            Dissect::Ignored => {}
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
        self.hosts_matched += u64::from(self.cfg.filter.allows_host(info.client, info.server));
        let hint = self.cfg.input.ports.get(info.server.port);
        let dissect = match hint {
            Some(role) if role.tls => Dissect::Tls(role.protocol),
            // The port is a hint: the first line decides (see `proto::recognise`).
            Some(_) => Dissect::Sniffing(Vec::new()),
            None => Dissect::Tunnel(Box::new(Tunnel::new(self.cfg.input.limits.max_proxy_setup))),
        };
        let state = SessionState {
            conn: (info.id, info.client, info.server),
            start: info.start,
            number: 0,
            input: self.input,
            hint,
            midstream: info.midstream,
            port_said: None,
            dissect,
            tunnel: None,
            head: [Vec::new(), Vec::new()],
            messages: Vec::new(),
            outstanding: 0,
            omitted: session::mail::MessagesOmitted::default(),
            held: 0,
            streams: Streams::default(),
            piece: Vec::new(),
            tls_port_plain: false,
            tls_plain: false,
            tls_anomalies: None,
            tls_heads: Vec::new(),
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
        // A TLS port's session is one once bytes flow (a refused or silent connection is
        // none; plaintext on it was recognised by content in `feed`).
        if let Dissect::Tls(protocol) = state.dissect {
            self.recognised(&mut state, protocol);
        }
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
        let mark = Mark {
            ts: gap.ts,
            frame: gap.frame,
        };
        let side = side_of(dir);
        match state.streams.gap(side, gap.len) {
            Ok(Some(len)) => {
                if let Dissect::Mail(d, _) = &mut state.dissect {
                    d.on_gap(side, len, mark);
                    let requests = self.fold(&mut state);
                    self.upgrade(&mut state, requests, side, None, mark);
                }
            }
            Ok(None) => {
                if matches!(state.dissect, Dissect::Tls(_)) {
                    state.streams.tls_gap(side, gap.len);
                }
            }
            Err(f) => self.transform_failed(&mut state, side, f, mark),
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
        if refused(summary) {
            self.add_refused(&state, summary);
            return self.settle(summary.info.id, None);
        }
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
        state.streams.finish_tls();
        self.tls_notes(&mut state, end);
        if let Dissect::Mail(d, _) = &mut state.dissect {
            // What the pipeline read of the TLS the session switched to.
            if let Some(tls) = state.streams.tls() {
                d.tls_info(tls.info());
            }
            // The last events: messages cut short, exchanges left waiting, the end.
            d.end(end);
            self.fold(&mut state);
        }
        // A TLS port's connection that closed without a byte is still listed: numbered now.
        if let Dissect::Tls(protocol) = state.dissect {
            self.recognised(&mut state, protocol);
        }
        let dissect = std::mem::replace(&mut state.dissect, Dissect::Ignored);
        let mut session = match dissect {
            Dissect::Mail(d, protocol) => {
                let messages = std::mem::take(&mut state.messages);
                let t = d.into_transcript();
                let mut s =
                    session::mail::session(summary, protocol, t, messages, self.cfg.show_secrets);
                s.unread_bytes = crate::session::PerSide::from_dirs(state.streams.unread());
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
                if let (Some(tls), Some(conn)) = (s.tls.as_mut(), state.streams.tls()) {
                    tls.learn(conn.info());
                }
                if let Some(mut t) = state.tls_anomalies.take() {
                    t.finish();
                    s.anomalies.append(&mut t.into_parts().anomalies);
                }
                s
            }
            Dissect::Sniffing(_) | Dissect::Tunnel(_) | Dissect::Ignored => {
                return self.settle(summary.info.id, None);
            }
        };
        if self.files.len() > 1 {
            session.file = self.files.get(state.input).cloned();
        }
        if let Some(setup) = &state.tunnel {
            session::mail::add_tunnel(&mut session, setup, self.cfg.show_secrets);
        }
        if state.tls_port_plain {
            let info = &summary.info;
            let a = proto::event::Anomaly::new(
                proto::vocab::common::Anomaly::PlaintextOnTlsPort,
                Mark {
                    ts: info.start,
                    frame: info.first_frame,
                },
                format!(
                    "port {} is mapped to implicit TLS, but the first bytes are not a TLS record",
                    info.server.port
                ),
            );
            session.anomalies.insert(0, a);
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
        let origin = origin(&state, session.protocol);
        let shown = self.shown(&origin);
        if self.streaming {
            session.id = state.number;
        }
        let item = match shown {
            true => Listed::Shown(Box::new(session)),
            false => Listed::Hidden,
        };
        let origin = (shown && self.live.is_some()).then_some(origin);
        self.finish_session(summary.info.id, Some(item), state.outstanding, origin);
        self.collect();
    }

    fn halted(&self) -> bool {
        self.out.error.is_some()
    }
}

impl Inputs for SessionsHandler<'_, '_> {
    fn input(&mut self, i: usize) {
        self.input = i;
    }

    /// Finishes what waits, then sends the work gathered (messages, and sessions to render
    /// that finishing handed out) so that nothing waits for a batch to fill past this tick.
    fn idle(&mut self) {
        self.collect();
        self.pool.flush();
    }

    fn secrets(&mut self, text: &[u8]) {
        self.keys.add_embedded(text);
    }
}

/// The main job: every mail session of the capture, dissected, handed to `sink` in order
/// of first packet as soon as every earlier connection has closed (within
/// `Limits::max_reorder`), then the totals (unless writing failed). `progress` hears how
/// far reading has come.
pub fn sessions(
    cfg: &SessionsConfig,
    sink: &mut dyn SessionSink,
    progress: &mut ProgressSink<'_>,
) -> Result<SessionsOutcome, RunError> {
    let Opened { mut source, files } = open(&cfg.input)?;
    std::thread::scope(|scope| sessions_in(scope, cfg, source.as_mut(), files, sink, progress))
}

/// The main job on frames from any source (`cfg.input.input` only names it): a file reader,
/// or a live capture backend.
pub fn sessions_from(
    cfg: &SessionsConfig,
    source: &mut dyn FrameSource,
    sink: &mut dyn SessionSink,
    progress: &mut ProgressSink<'_>,
) -> Result<SessionsOutcome, RunError> {
    std::thread::scope(|scope| sessions_in(scope, cfg, source, Vec::new(), sink, progress))
}

fn sessions_in<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    cfg: &SessionsConfig,
    source: &mut dyn FrameSource,
    files: Vec<String>,
    sink: &mut dyn SessionSink,
    progress: &mut ProgressSink<'_>,
) -> Result<SessionsOutcome, RunError> {
    // Whole sessions and (for a live view) the events of open ones go to the same sink.
    let wants_events = sink.wants_events();
    let streaming = wants_events || source.as_it_comes();
    let sink = std::cell::RefCell::new(sink);
    // Mail sessions are numbered as they go out, so that `--all-ports` (which adds
    // connections, not mail sessions, on other ports) leaves their numbers alone.
    let numbered = std::cell::Cell::new(0u64);
    // When streaming, they were numbered as they were recognised (and filtered then).
    // With worker threads and a sink that renders a session by itself alone (JSON lines),
    // the workers render the sessions, numbered here, and the bytes are written in order
    // (see `rendering`).
    let renderer = match cfg.threads > 1 {
        true => sink.borrow().renderer(),
        false => None,
    };
    let to_render = std::cell::RefCell::new(std::collections::VecDeque::new());
    let mut write = |item| {
        numbered.set(numbered.get() + 1);
        match item {
            Listed::Shown(mut s) => {
                if !streaming {
                    s.id = numbered.get();
                }
                if !cfg.filter.allows_id(s.id) {
                    Ok(false)
                } else if renderer.is_some() {
                    to_render.borrow_mut().push_back(s);
                    Ok(true)
                } else {
                    sink.borrow_mut().session(*s).map(|()| true)
                }
            }
            Listed::Hidden => Ok(false),
        }
    };
    let mut write_rendered = |bytes: &[u8]| sink.borrow_mut().rendered(bytes);
    let mut live = |what: Live<'_>| {
        let mut sink = sink.borrow_mut();
        match what {
            Live::Start(o) => sink.start(o),
            Live::Event(o, e) => sink.event(o, e),
            Live::Message(o, m) => sink.message(o, m),
        }
    };
    // Streaming, a session is written as soon as it ends.
    let max_reorder = match streaming {
        true => 0,
        false => cfg.input.limits.max_reorder,
    };
    // Frames that come as they are captured (an interface, a pipe): the client writing the
    // key log may add a session's keys after the run started.
    let keys = super::keys::KeyStore::open(
        cfg.tls_keylog.as_ref(),
        source.as_it_comes(),
        cfg.input.limits.max_keylog_entries,
    )?;
    let mut handler = SessionsHandler {
        cfg,
        bounds: proto::Bounds::from(&cfg.input.limits),
        out: Ordered::new(&mut write, max_reorder),
        live: wants_events.then_some(&mut live as &mut LiveSink<'_>),
        streaming,
        recognised: 0,
        open: crate::types::FastMap::default(),
        held: 0,
        not_decoded: 0,
        pool: Pool::new(
            scope,
            cfg.threads.saturating_sub(1),
            cfg.input.limits.max_decoding_bytes,
            crate::mime::Bounds::from(&cfg.input.limits),
        ),
        closing: BTreeMap::new(),
        files,
        input: 0,
        hosts_matched: 0,
        refused: HashMap::new(),
        refused_total: 0,
        keys,
        renderer,
        to_render: &to_render,
        in_order: InOrder::default(),
        write_rendered: &mut write_rendered,
    };
    let Driven {
        mut summary,
        error,
        other_ports,
    } = drive(&cfg.input, source, &mut handler, progress);
    handler.drain();
    summary.listed = handler.out.listed;
    // Streaming, sessions are written as they end: not out of order.
    summary.listed_out_of_order = match streaming {
        true => 0,
        false => handler.out.out_of_order,
    };
    summary.messages_not_decoded = handler.not_decoded;
    summary.refused = Some(handler.refused_total);
    let mut refused: Vec<session::Refused> = handler
        .refused
        .drain()
        .map(|((client, server), (attempts, first))| session::Refused {
            client,
            server,
            attempts,
            first,
        })
        .collect();
    refused.sort_by_key(|r| (r.first, r.client, r.server));
    summary.refused_by = refused;
    let mut output_error = handler.out.error.take();
    let hosts_matched = handler.hosts_matched;
    drop(handler);
    if output_error.is_none() {
        output_error = sink.borrow_mut().finish(&summary).err();
    }
    let empty = (summary.listed == 0 && error.is_none() && output_error.is_none()).then(|| {
        let seen = Seen {
            sessions: numbered.get(),
            connections: summary.connections,
            other_ports: &other_ports,
            hosts_matched,
        };
        why_empty(cfg, &seen)
    });
    Ok(SessionsOutcome {
        summary,
        error,
        output_error,
        empty,
    })
}

/// The start of a stream, for saying what it held: its first line, escaped, cut short.
fn describe_start(data: &[u8]) -> String {
    let line = data.split(|&b| b == b'\n').next().unwrap_or(data);
    let line = String::from_utf8_lossy(&line[..line.len().min(40)]);
    format!("{:?}", line.trim_end())
}

/// What a run saw, to explain why it listed nothing.
struct Seen<'a> {
    /// Mail sessions (numbered).
    sessions: u64,
    /// Connections followed (on mail ports, or all with `--all-ports`).
    connections: u64,
    other_ports: &'a OtherPorts,
    hosts_matched: u64,
}

/// One line saying why no session was listed: nothing on mail ports (and what there is
/// elsewhere), no mail in what was followed, or which filter matched nothing.
fn why_empty(cfg: &SessionsConfig, seen: &Seen<'_>) -> String {
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let other = seen.other_ports.count() as u64;
    let elsewhere = if cfg.input.all_ports || other == 0 {
        String::new()
    } else {
        format!(
            "; {}{} on other ports — try --all-ports",
            if seen.other_ports.at_limit {
                "at least "
            } else {
                ""
            },
            plural(other, "TCP connection", "TCP connections")
        )
    };
    let f = &cfg.filter;
    if seen.sessions == 0 {
        return match (seen.connections, cfg.input.all_ports) {
            (0, false) => format!("no connections on mail ports{elsewhere}"),
            (0, true) => "no TCP connections in the capture".into(),
            (n, _) => format!(
                "no mail session: {} followed, none recognised as SMTP, POP3 or IMAP{elsewhere}",
                plural(n, "connection", "connections")
            ),
        };
    }
    if !f.sessions.is_empty() && f.sessions.iter().all(|&id| id > seen.sessions) {
        let asked: Vec<String> = f.sessions.iter().map(u64::to_string).collect();
        return match seen.sessions {
            1 => format!("--session {}: only session 1 exists", asked.join(", ")),
            n => format!("--session {}: only sessions 1–{n} exist", asked.join(", ")),
        };
    }
    if !f.hosts.is_empty() && seen.hosts_matched == 0 {
        let hosts: Vec<String> = f.hosts.iter().map(ToString::to_string).collect();
        return format!("--host {} matched no connection", hosts.join(", "));
    }
    let mut given = Vec::new();
    let mut flag = |name: &str, values: Vec<String>| {
        if !values.is_empty() {
            given.push(format!("{name} {}", values.join(",")));
        }
    };
    flag(
        "--proto",
        f.protocols.iter().map(ToString::to_string).collect(),
    );
    flag("--port", f.ports.iter().map(ToString::to_string).collect());
    flag("--host", f.hosts.iter().map(ToString::to_string).collect());
    flag(
        "--session",
        f.sessions.iter().map(ToString::to_string).collect(),
    );
    format!(
        "{} matched none of the {}",
        given.join(" "),
        plural(seen.sessions, "session", "sessions")
    )
}

/// A connection attempt answered by RST: the client's SYN (the handshake seen), one packet
/// from the server (its RST, no SYN-ACK), no bytes either way.
fn refused(summary: &ConnSummary) -> bool {
    summary.state == EndState::Reset
        && summary.handshake
        && summary.packets[Direction::ServerToClient.index()] == 1
        && summary
            .dirs
            .iter()
            .all(|d| d.bytes == 0 && d.gap_bytes == 0)
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
        info.transfer.bytes = done.bytes.into();
    }
}

/// A note of a connection's TLS as the session's anomaly (`None`: nothing to report, as
/// the normal close_notify).
fn tls_anomaly(
    note: crate::transform::tls::conn::Note,
    mark: Mark,
    limits: &crate::limits::Limits,
) -> Option<proto::event::Anomaly> {
    use crate::transform::tls::conn::Note;
    use proto::vocab::common::Anomaly as A;
    let who = |client: bool| if client { "client" } else { "server" };
    Some(match note {
        Note::Alert { code: 0, .. } => return None,
        Note::Alert {
            client,
            fatal,
            description,
            code,
        } => proto::event::Anomaly::new(
            A::TlsAlert,
            mark,
            format!(
                "the {} sent a {} alert: {description} ({code})",
                who(client),
                if fatal { "fatal" } else { "warning" }
            ),
        ),
        Note::DecryptFailed { client, why } => proto::event::Anomaly::new(
            A::TlsDecryptFailed,
            mark,
            format!(
                "{} {why}; the rest of the {}'s bytes is not read",
                who(client),
                who(client)
            ),
        ),
        Note::NoKey { why } => proto::event::Anomaly::new(A::TlsNoKey, mark, why),
        Note::Resynced { client, skipped } => proto::event::Anomaly::new(
            A::TlsGap,
            mark,
            format!(
                "{} bytes missing inside TLS: reading went on from the next record that decrypts ({skipped} bytes passed over)",
                who(client)
            ),
        ),
        Note::HoleUnread { client, skipped } => proto::event::Anomaly::new(
            A::TlsGap,
            mark,
            format!(
                "{} bytes missing inside TLS, and no record after the hole decrypted before the end ({skipped} bytes not read)",
                who(client)
            ),
        ),
        Note::CertificatesCut { total, max } => proto::transcript::limit_reached(
            mark,
            format!(
                "max-tls-certificates: the server's certificate chain has {total} certificates; the first {max} are listed"
            ),
        ),
        Note::HandshakeTooLong { client, len } => proto::transcript::limit_reached(
            mark,
            format!(
                "max-tls-handshake: a {len}-byte TLS handshake message from the {} was skipped (the bound is {})",
                who(client),
                limits.max_tls_handshake
            ),
        ),
    })
}
