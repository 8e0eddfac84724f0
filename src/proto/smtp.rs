//! SMTP dissector (RFC 5321, 3030 CHUNKING, 2920 PIPELINING, 3207 STARTTLS, 4954 AUTH,
//! 1869/6531/3461 parameters): both byte streams of one connection in, a [`Transcript`] out.
//! Sans-IO: it sees bytes in any chunking, never packets or clocks; the same input gives the
//! same transcript however it is split.
//!
//! ```text
//!  client:  Command ──DATA──▶ Hold ──354──▶ Data ──CRLF.CRLF──▶ Command
//!              │                 └──4xx/5xx──▶ Discard (rejected content) ──▶ Command
//!              ├──BDAT n──▶ Chunk(n bytes, counted exactly) ──▶ Command
//!              ├──BDAT bad args──▶ Hold ──2xx──▶ Chunk / ──4xx/5xx──▶ Command
//!              ├──AUTH──▶ Sasl (lines are SASL responses) ──2xx/5xx──▶ Command
//!              └──STARTTLS──▶ Hold ──220──▶ Tls (nothing more is parsed)
//!  server:  lines "ddd-…" accumulate, "ddd …" completes a reply; each reply goes to the
//!           oldest command still waiting (pipelining) if its code can answer it (220
//!           greets, 354 answers DATA, 334 AUTH, 221 QUIT, x.1.y MAIL/RCPT), else to the
//!           first waiting command it names, else it stands alone; DATA, AUTH take several.
//! ```
//!
//! A mail transaction (MAIL, RCPTs, the content) is settled when the server has answered
//! all its commands, or the session ends: only then is its message stored, with the
//! sender of its own MAIL and the recipients the server accepted (pipelined or not).
//!
//! Framing comes before grammar: the client stream is cut into command lines, DATA content
//! or BDAT chunks first, so message content can never be read as commands. Bytes the client
//! sends after DATA or STARTTLS are held until the server's answer says what they are.

pub use super::Bounds;
use super::dotstuff::Unstuffer;
use super::event::{self, Auth, Mark, Secret, Side, Tls, sasl_response};
use super::line::{Lines, MessageBytes, strip_eol, truncate};
pub use super::transcript::{ClientLine, Command, Exchange, Message, Reply, Transcript};
use super::vocab::smtp::{Anomaly, Verb};
use std::collections::VecDeque;

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets with the CRLF.
const MAX_COMMAND_LINE: usize = 512;
/// RFC 5321 4.5.3.1.6: a text line (DATA) is at most 1000 octets with the CRLF.
const MAX_TEXT_LINE: usize = 1000;
/// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with the CRLF.
const MAX_REPLY_LINE: usize = 512;
/// Client bytes held after DATA or STARTTLS for the server's answer. Clients wait for it, so
/// past this the client is taken not to be waiting (after DATA the bytes are read as the
/// message; after STARTTLS the rest is not kept).
const MAX_HELD: usize = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hold {
    Data,
    StartTls,
    /// A BDAT whose arguments are a syntax error: a chunk follows only if it is accepted.
    Bdat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Command,
    Sasl,
    Hold(Hold),
    /// DATA content; `keep` is false for content sent after DATA was refused.
    Data {
        keep: bool,
    },
    Chunk {
        remaining: u64,
        last: bool,
    },
    Tls,
}

/// A message being received.
struct Building {
    origin: &'static str,
    mark: Mark,
    body: MessageBytes,
    incomplete: bool,
    eight_bit: bool,
    long_line: bool,
    bare_lf: bool,
}

impl Building {
    fn new(origin: &'static str, mark: Mark) -> Building {
        Building {
            origin,
            mark,
            body: MessageBytes::default(),
            incomplete: false,
            eight_bit: false,
            long_line: false,
            bare_lf: false,
        }
    }

    fn push(&mut self, data: &[u8], max: usize) {
        self.eight_bit = self.eight_bit || !data.is_ascii();
        self.body.push(data, max);
    }
}

/// A message whose content ended, waiting for its transaction's envelope.
struct Ended {
    b: Building,
    cut: bool,
    exchange: usize,
}

/// One mail transaction as the client sent it (MAIL, RCPTs, content). Its envelope is
/// settled once the server answered every command in it, or the session ended.
struct Txn {
    /// Exchange of its MAIL (None: it began before the capture).
    mail: Option<usize>,
    mail_from: Option<String>,
    /// BODY=8BITMIME (or another non-7BIT body) or SMTPUTF8 declared.
    eight_bit_ok: bool,
    /// Recipients named (up to `max_replies`): exchange, address, the server's answer
    /// (None: not answered).
    rcpts: Vec<(usize, String, Option<bool>)>,
    /// Recipients before this one are answered (replies come in order).
    answered: usize,
    /// The last exchange that belongs to it.
    last: usize,
    /// The client ended it (content ended, RSET, DATA refused): no command joins it.
    closed: bool,
    /// Its MAIL was sent while an earlier transaction was open and is not answered yet.
    nested: bool,
    /// The message size its MAIL declared (RFC 1870 `SIZE=`).
    size: Option<u64>,
    message: Option<Ended>,
}

impl Txn {
    fn new(mail: Option<usize>, last: usize) -> Txn {
        Txn {
            mail,
            mail_from: None,
            eight_bit_ok: false,
            rcpts: Vec::new(),
            answered: 0,
            last,
            closed: false,
            nested: false,
            size: None,
            message: None,
        }
    }
}

/// The SMTP dissector for one connection.
pub struct Smtp {
    bounds: Bounds,
    /// Everything the session told so far (see `Dissector`, which hands it out).
    pub(super) t: Transcript,
    client: Client,
    unstuff: Unstuffer,
    building: Option<Building>,
    held: Vec<u8>,
    held_mark: Mark,
    /// The BDAT with bad arguments whose answer decides what the held bytes are.
    held_bdat: Option<usize>,
    client_line: Lines,
    server_line: Lines,
    /// Lines of a multi-line reply so far.
    reply: Vec<String>,
    reply_mark: Mark,
    pending: VecDeque<usize>,
    greeting_seen: bool,
    midstream: bool,
    /// After a gap in the client stream: skip lines until one looks like a command.
    client_resync: bool,
    server_resync: bool,
    offsets: [u64; 2],
    /// Mail transactions whose envelope is not settled, oldest first; the client's
    /// commands join the last one while it is open.
    txns: VecDeque<Txn>,
    ehlo_done: bool,
    /// Replies are known to pair with commands: false mid-stream until the commands seen
    /// are all answered (replies to commands before the capture are not anomalies).
    synced: bool,
    /// Messages completed so far (also those already handed out as events).
    message_count: usize,
    /// DATA commands whose content was read without waiting for the 354 (a client that
    /// did not wait, or a one-sided capture): their 354, should it come, starts nothing.
    unanswered_data: usize,
    /// Inside `release_held`: bytes held again wait for its loop.
    releasing: bool,
}

impl Smtp {
    /// `midstream`: the connection was picked up without its start, so a missing greeting
    /// is expected.
    pub fn new(bounds: Bounds, midstream: bool) -> Smtp {
        Smtp {
            bounds,
            t: Transcript::new(bounds),
            client: Client::Command,
            unstuff: Unstuffer::default(),
            building: None,
            held: Vec::new(),
            held_mark: Mark::default(),
            held_bdat: None,
            client_line: Lines::default(),
            server_line: Lines::default(),
            reply: Vec::new(),
            reply_mark: Mark::default(),
            pending: VecDeque::new(),
            greeting_seen: false,
            midstream,
            client_resync: midstream,
            server_resync: midstream,
            offsets: [0, 0],
            txns: VecDeque::new(),
            ehlo_done: false,
            synced: !midstream,
            message_count: 0,
            unanswered_data: 0,
            releasing: false,
        }
    }

    fn anomaly(&mut self, kind: Anomaly, mark: Mark, detail: impl Into<String>) {
        self.t.anomaly(event::Anomaly::new(kind, mark, detail));
    }

    fn anomaly_once(&mut self, kind: Anomaly, mark: Mark, detail: impl Into<String>) {
        self.t.anomaly_once(event::Anomaly::new(kind, mark, detail));
    }

    /// Bytes from one side, in stream order.
    pub fn on_data(&mut self, side: Side, data: &[u8], mark: Mark) {
        match side {
            Side::Client => {
                self.offsets[0] += data.len() as u64;
                self.client_bytes(data, mark)
            }
            Side::Server => {
                self.offsets[1] += data.len() as u64;
                self.server_bytes(data, mark)
            }
        }
    }

    /// `len` bytes from `side` are missing.
    pub fn on_gap(&mut self, side: Side, len: u64, mark: Mark) {
        match side {
            Side::Client => {
                self.offsets[0] += len;
                let partial = std::mem::take(&mut self.client_line.buf);
                let partial_mark = self.client_line.start;
                self.client_line.clear();
                if !partial.is_empty() && self.client == Client::Command && !self.client_resync {
                    // The gap cut a command line: one command is damaged. It still gets a
                    // reply, so keep it (marked incomplete) to keep the pairing right.
                    let text = String::from_utf8_lossy(strip_eol(&partial)).into_owned();
                    let (verb, args) = text.split_once([' ', '\t']).unwrap_or((&text, ""));
                    let mut command = Command::new(verb.to_ascii_uppercase(), format!("{args}…"))
                        .sent(format!("{text}…"));
                    // A cut AUTH may hold a secret (an initial response): not shown.
                    if verb.eq_ignore_ascii_case("AUTH") && !args.is_empty() {
                        command.redact();
                    }
                    let pipelined = !self.pending.is_empty();
                    let idx = self
                        .t
                        .push_exchange(Exchange::of(partial_mark, command, pipelined));
                    self.t.set_incomplete(idx);
                    self.t.in_flight(&mut self.pending, idx, mark);
                }
                match self.client {
                    Client::Data { keep } => {
                        if keep && let Some(b) = self.building.as_mut() {
                            b.incomplete = true;
                            self.anomaly(
                                Anomaly::GapInMessage,
                                mark,
                                format!("{len} bytes missing"),
                            );
                        }
                        self.unstuff.desync();
                    }
                    Client::Chunk { remaining, last } => {
                        let lost = len.min(remaining);
                        if let Some(b) = self.building.as_mut() {
                            b.incomplete = true;
                            b.body.size += lost;
                        }
                        self.anomaly(Anomaly::GapInMessage, mark, format!("{len} bytes missing"));
                        self.client = Client::Chunk {
                            remaining: remaining - lost,
                            last,
                        };
                        if remaining - lost == 0 {
                            self.end_chunk(last);
                        }
                        if len > lost {
                            self.client_resync = true;
                        }
                    }
                    Client::Tls => {}
                    _ => {
                        self.client_resync = true;
                        self.anomaly(Anomaly::Gap, mark, format!("{len} client bytes missing"));
                    }
                }
                if let Some(&i) = self.pending.back() {
                    self.t.set_incomplete(i);
                }
            }
            Side::Server => {
                self.offsets[1] += len;
                self.server_line.clear();
                self.reply.clear();
                if self.client != Client::Tls {
                    self.server_resync = true;
                    self.anomaly(Anomaly::Gap, mark, format!("{len} server bytes missing"));
                    if let Some(&i) = self.pending.front() {
                        self.t.set_incomplete(i);
                    }
                }
            }
        }
    }

    /// Bytes of messages in flight kept for decoding.
    pub fn held_bytes(&self) -> usize {
        let waiting: usize = self
            .txns
            .iter()
            .filter_map(|t| t.message.as_ref())
            .map(|e| e.b.body.held())
            .sum();
        self.building.as_ref().map_or(0, |b| b.body.held()) + waiting
    }

    /// Stops keeping the bytes of the message in flight (memory budget).
    pub fn shed(&mut self) {
        if let Some(b) = self.building.as_mut() {
            b.body.shed();
        }
        for e in self.txns.iter_mut().filter_map(|t| t.message.as_mut()) {
            e.b.body.shed();
        }
    }

    /// Hands out the messages completed since the last call (their indices, as exchanges
    /// refer to them, count from the first message of the connection).
    /// Both directions ended: whatever is unfinished stays marked incomplete.
    /// STARTTLS was accepted but the bytes after it are plain text (the pipeline looked):
    /// read on as text.
    pub fn resume_text(&mut self) {
        if self.client == Client::Tls {
            self.client = Client::Command;
        }
    }

    /// Both directions ended: messages cut short are stored, exchanges still waiting are
    /// marked incomplete, and the end is recorded (the last events).
    pub fn end(&mut self, mark: Mark) {
        while self.server_silent()
            && self.client == Client::Hold(Hold::Data)
            && !self.held.is_empty()
        {
            self.accept_unanswered_data();
        }
        if let Some(b) = self.building.take() {
            let keep = !matches!(self.client, Client::Data { keep: false });
            if keep {
                self.anomaly(
                    Anomaly::MessageCutShort,
                    mark,
                    "the connection ended inside a message",
                );
                let idx = self.pending.back().copied().unwrap_or(0);
                self.end_content(b, true, idx);
            }
        }
        self.settle(true);
        self.t.end(std::mem::take(&mut self.pending));
    }

    /// Ends the session and hands over the transcript (for reading it directly).
    pub fn finish(mut self, mark: Mark) -> Transcript {
        self.end(mark);
        self.t.finish();
        self.t
    }

    // ----- client side ---------------------------------------------------------------

    fn client_bytes(&mut self, mut data: &[u8], mark: Mark) {
        while !data.is_empty() {
            match self.client {
                Client::Tls => {
                    // TLS: the pipeline reads it (transform::tls), and hands over the plaintext.
                    return;
                }
                Client::Hold(hold) => {
                    if self.held.is_empty() {
                        self.held_mark = mark;
                    }
                    match hold {
                        Hold::Data => {
                            crate::copies::count(crate::copies::Site::Held, data.len());
                            self.held.extend_from_slice(data);
                            if self.held.len() >= MAX_HELD && !self.releasing {
                                self.accept_unanswered_data();
                            }
                        }
                        Hold::Bdat => {
                            crate::copies::count(crate::copies::Site::Held, data.len());
                            self.held.extend_from_slice(data);
                            if self.held.len() >= MAX_HELD && !self.releasing {
                                // Not waiting for the answer: read as the server would
                                // after its syntax error, as commands.
                                self.client = Client::Command;
                                self.release_held();
                            }
                        }
                        Hold::StartTls => {
                            let room = MAX_HELD.saturating_sub(self.held.len());
                            let n = data.len().min(room);
                            crate::copies::count(crate::copies::Site::Held, n);
                            self.held.extend_from_slice(&data[..n]);
                        }
                    }
                    return;
                }
                Client::Data { keep } => {
                    let n = self.data_bytes(data, mark, keep);
                    data = &data[n..];
                }
                Client::Chunk { remaining, last } => {
                    let n = (remaining.min(data.len() as u64)) as usize;
                    if let Some(b) = self.building.as_mut() {
                        b.push(&data[..n], self.bounds.max_message);
                    }
                    data = &data[n..];
                    let remaining = remaining - n as u64;
                    self.client = Client::Chunk { remaining, last };
                    if remaining == 0 {
                        self.end_chunk(last);
                    }
                }
                Client::Command | Client::Sasl => {
                    let (n, done) = self.client_line.take(data, mark, self.bounds.max_line);
                    data = &data[n..];
                    if done {
                        let start = self.client_line.start;
                        let overlong = self.client_line.overlong;
                        let line = std::mem::take(&mut self.client_line.buf);
                        self.client_line.clear();
                        self.client_line_done(&line, overlong, start);
                    }
                }
            }
        }
    }

    fn client_line_done(&mut self, raw: &[u8], overlong: bool, mark: Mark) {
        let line = strip_eol(raw);
        if !raw.ends_with(b"\r\n") {
            self.anomaly_once(Anomaly::BareLf, mark, "a client line ends in LF without CR");
        }
        if line.contains(&b'\r') {
            self.anomaly_once(
                Anomaly::BareCr,
                mark,
                "a client line contains a CR not followed by LF",
            );
        }
        if overlong || raw.len() > MAX_COMMAND_LINE && self.client == Client::Command {
            self.anomaly(
                Anomaly::LineTooLong,
                mark,
                format!("client line of {}+ bytes (limit 512)", raw.len()),
            );
        }
        let text = String::from_utf8_lossy(line).into_owned();
        if self.client == Client::Sasl {
            self.sasl_line(text, mark);
            return;
        }
        if self.client_resync {
            // After a gap (or mid-stream), only something that looks like a command resyncs.
            let verb = text.split(' ').next().unwrap_or("").to_ascii_uppercase();
            if Verb::parse(&verb).is_none() {
                return;
            }
            self.client_resync = false;
        }
        if line.is_empty() {
            return;
        }
        self.command(text, mark);
    }

    fn command(&mut self, text: String, mark: Mark) {
        // Words are split on any blank (RFC 5321 says space; a tab must not hide a secret).
        let (verb_raw, args) = match text.split_once([' ', '\t']) {
            Some((v, a)) => (v, a.trim_start()),
            None => (text.as_str(), ""),
        };
        let verb = verb_raw.to_ascii_uppercase();
        if !self.greeting_seen && !self.midstream && self.t.exchanges.is_empty() {
            self.anomaly(
                Anomaly::MissingGreeting,
                mark,
                format!("{verb} sent before any greeting"),
            );
        }
        if Verb::parse(&verb).is_none() {
            self.anomaly(Anomaly::UnknownCommand, mark, truncate(&text, 80));
        }
        let mut command = Command::new(verb.clone(), args).sent(text.as_str());
        let known = Verb::parse(&verb);
        match known {
            Some(Verb::Mail | Verb::Rcpt) => {
                let (address, params) = parse_path(args);
                command.address = address;
                command.params = params;
            }
            Some(Verb::Auth) => {
                let mut it = args.splitn(2, [' ', '\t']);
                let mech = it.next().unwrap_or("").to_ascii_uppercase();
                if it.next().map(str::trim).is_some_and(|s| !s.is_empty()) {
                    command.args = format!("{mech} <redacted>");
                    command.secret_args = Some(Secret::new(args));
                }
            }
            _ => {}
        }
        let pipelined = !self.pending.is_empty();
        if pipelined && self.ehlo_done && !self.t.capabilities().iter().any(|c| c == "PIPELINING") {
            self.anomaly_once(
                Anomaly::PipeliningNotOffered,
                mark,
                format!("{verb} sent before earlier commands were answered"),
            );
        }
        let idx = self.t.push_exchange(Exchange::of(mark, command, pipelined));
        if self.t.in_flight(&mut self.pending, idx, mark).is_some() {
            self.settle(false);
        }
        match known {
            Some(Verb::Mail) => {
                let ex = &self.t.exchanges[idx];
                let cmd = ex.command.as_ref();
                let mut txn = Txn::new(Some(idx), idx);
                txn.mail_from = cmd.and_then(|c| c.address.clone());
                txn.eight_bit_ok = cmd.is_some_and(|c| {
                    c.params.iter().any(|(k, v)| {
                        (k == "BODY"
                            && v.as_deref()
                                .is_some_and(|v| !v.eq_ignore_ascii_case("7BIT")))
                            || k == "SMTPUTF8"
                    })
                });
                txn.size = cmd.and_then(|c| {
                    c.params
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("SIZE"))
                        .and_then(|(_, v)| v.as_deref()?.parse::<u64>().ok())
                });
                txn.nested = self.txns.back().is_some_and(|t| !t.closed);
                self.push_txn(txn);
            }
            Some(Verb::Rcpt) => {
                let address = self.t.exchanges[idx]
                    .command
                    .as_ref()
                    .and_then(|c| c.address.clone());
                let n = self.open_txn(idx);
                if let Some(a) = address {
                    if self.txns[n].rcpts.len() < self.bounds.max_replies {
                        self.txns[n].rcpts.push((idx, a, None));
                    } else {
                        let cap = self.bounds.max_replies;
                        self.t.limit("max-sent-recipients", mark, || {
                            format!("recipients named in one transaction past the first {cap} are counted, not kept")
                        });
                    }
                }
            }
            Some(Verb::Data) => {
                self.open_txn(idx);
                self.client = Client::Hold(Hold::Data);
                self.held.clear();
            }
            Some(Verb::Rset) => {
                if let Some(t) = self.txns.back_mut().filter(|t| !t.closed) {
                    t.closed = true;
                    t.last = idx;
                }
            }
            Some(Verb::StartTls) => {
                self.client = Client::Hold(Hold::StartTls);
                self.held.clear();
            }
            Some(Verb::Bdat) => match bdat_args(args) {
                Some((size, last)) => {
                    self.open_txn(idx);
                    self.start_chunk(size, last, mark);
                }
                None => {
                    // RFC 3030 2: a syntax error. The server answers 501 and reads commands;
                    // what follows is held until its answer says so.
                    self.anomaly(Anomaly::BadBdatSize, mark, truncate(&text, 80));
                    if !self.server_silent() {
                        self.client = Client::Hold(Hold::Bdat);
                        self.held_bdat = Some(idx);
                        self.held.clear();
                    }
                }
            },
            Some(Verb::Auth) => {
                let mechanism = args
                    .split([' ', '\t'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                let initial = args
                    .split_once([' ', '\t'])
                    .map(|(_, r)| r.trim().to_string());
                self.t.add_auth(Auth::new(mechanism, idx), mark);
                if let Some(initial) = initial.filter(|s| !s.is_empty() && s != "=") {
                    self.sasl_decode(&initial);
                }
                self.client = Client::Sasl;
            }
            _ => {}
        }
    }

    /// A DATA message, its buffer sized from its transaction's `SIZE=` (a client's estimate:
    /// a little more is planned, so that a close one does not make the buffer grow at its end).
    fn data_building(&self, mark: Mark) -> Building {
        let mut b = Building::new("smtp-data", mark);
        if let Some(size) = self.txns.back().filter(|t| !t.closed).and_then(|t| t.size) {
            let planned = size.saturating_add(size / 64).saturating_add(4096);
            b.body.expect(planned);
        }
        b
    }

    fn start_chunk(&mut self, size: u64, last: bool, mark: Mark) {
        let b = self
            .building
            .get_or_insert_with(|| Building::new("smtp-bdat", mark));
        // The chunk's size is exact: the buffer's growth ends on it.
        b.body.expect(b.body.size.saturating_add(size));
        self.client = Client::Chunk {
            remaining: size,
            last,
        };
        if size == 0 {
            self.end_chunk(last);
        }
    }

    /// The transaction the client's commands join (the open one, or one begun before the
    /// capture), now also holding exchange `idx`: its position in `txns`.
    fn open_txn(&mut self, idx: usize) -> usize {
        if self.txns.back().is_none_or(|t| t.closed) {
            self.push_txn(Txn::new(None, idx));
        }
        let n = self.txns.len() - 1;
        self.txns[n].last = self.txns[n].last.max(idx);
        n
    }

    /// Past `max_in_flight` transactions not settled (a server that never answers), the
    /// oldest is settled as it stands.
    fn push_txn(&mut self, txn: Txn) {
        self.txns.push_back(txn);
        if self.txns.len() > self.bounds.max_in_flight.max(1)
            && let Some(old) = self.txns.pop_front()
        {
            self.store(old);
        }
    }

    /// Stores the messages of the transactions the server finished answering (all of them
    /// when `all`: the session ended, or the server is silent).
    fn settle(&mut self, all: bool) {
        let oldest = self.pending.front().copied().unwrap_or(usize::MAX);
        while let Some(t) = self.txns.front() {
            // An open transaction ends when a later MAIL is accepted (or stops waiting).
            let replaced = |next: &Txn| !next.nested || next.mail.is_none_or(|m| m < oldest);
            let ended = t.closed || self.txns.get(1).is_some_and(replaced);
            if !(all || ended && t.last < oldest) {
                break;
            }
            if let Some(t) = self.txns.pop_front() {
                self.store(t);
            }
        }
    }

    /// A RCPT's answer, recorded in the transaction that named it.
    fn rcpt_answered(&mut self, idx: usize, accepted: bool, mark: Mark) {
        for t in self.txns.iter_mut() {
            while t.rcpts.get(t.answered).is_some_and(|r| r.0 < idx) {
                t.answered += 1;
            }
            match t.rcpts.get_mut(t.answered) {
                Some(r) if r.0 == idx => {
                    r.2 = Some(accepted);
                    t.answered += 1;
                    return;
                }
                Some(_) => break,
                None => {}
            }
        }
        if accepted {
            let cap = self.bounds.max_replies;
            self.t.limit("max-recipients", mark, || {
                format!("recipients of one transaction past the first {cap} are counted, not kept")
            });
        }
    }

    /// A MAIL's answer. A refused MAIL sent inside an open transaction leaves that one as
    /// it was (what followed joins it); an accepted one replaces it.
    fn mail_answered(&mut self, idx: usize, accepted: bool) {
        let Some(n) = self.txns.iter().position(|t| t.mail == Some(idx)) else {
            return;
        };
        let nested = std::mem::replace(&mut self.txns[n].nested, false);
        let outer_open = n > 0 && !self.txns[n - 1].closed;
        if accepted {
            if nested && outer_open {
                self.txns[n - 1].closed = true;
            }
        } else if nested && outer_open {
            if let Some(inner) = self.txns.remove(n) {
                let outer = &mut self.txns[n - 1];
                let room = self.bounds.max_replies.saturating_sub(outer.rcpts.len());
                outer.rcpts.extend(inner.rcpts.into_iter().take(room));
                outer.last = outer.last.max(inner.last);
                outer.closed = inner.closed;
                outer.message = inner.message;
            }
        } else {
            self.txns[n].mail_from = None;
        }
    }

    /// A SASL response line from the client.
    fn sasl_line(&mut self, text: String, mark: Mark) {
        let Some(&idx) = self.pending.back() else {
            self.client = Client::Command;
            return self.command(text, mark);
        };
        self.t.sasl_line(idx, text, mark);
    }

    /// Decodes one SASL response into the current AUTH record; true if it carried a secret.
    fn sasl_decode(&mut self, response: &str) -> bool {
        self.t
            .update_last_auth(|auth| sasl_response(auth, response))
            .unwrap_or(false)
    }

    /// DATA content through the shared unstuffer. Returns bytes consumed.
    fn data_bytes(&mut self, data: &[u8], mark: Mark, keep: bool) -> usize {
        let max = self.bounds.max_message;
        let building = &mut self.building;
        let ended = self.unstuff.feed(data, MAX_TEXT_LINE, |piece| {
            if let Some(b) = building.as_mut() {
                b.push(piece, max);
            }
        });
        match ended {
            Some(n) => {
                if self.unstuff.bare_lf_end {
                    self.anomaly_once(Anomaly::BareLf, mark, "end of data marked by .LF");
                }
                self.end_data(keep);
                n
            }
            None => data.len(),
        }
    }

    fn end_data(&mut self, keep: bool) {
        self.client = Client::Command;
        let mut building = self.building.take();
        if let Some(b) = building.as_mut() {
            b.bare_lf = self.unstuff.bare_lf;
            b.long_line = self.unstuff.long_line;
        }
        self.unstuff.reset();
        if !keep {
            return;
        }
        if let Some(b) = building {
            let idx = self
                .pending
                .iter()
                .rev()
                .copied()
                .find(|&i| self.verb_of(i) == Some(Verb::Data))
                .unwrap_or(0);
            self.end_content(b, false, idx);
        }
    }

    fn end_chunk(&mut self, last: bool) {
        self.client = Client::Command;
        let idx = self.pending.back().copied().unwrap_or(0);
        if last {
            if let Some(b) = self.building.take() {
                // Sets the exchange's message index.
                self.end_content(b, false, idx);
            }
        } else if self.t.exchanges.get(idx).is_some() {
            // The index the message will get when its LAST chunk arrives.
            self.t.set_message(idx, Some(self.message_count));
        }
    }

    /// A message's content ended: it gets its index now, and is stored when its
    /// transaction's envelope is settled.
    fn end_content(&mut self, b: Building, cut: bool, exchange: usize) {
        let n = self.open_txn(exchange);
        if b.eight_bit && !self.txns[n].eight_bit_ok {
            self.anomaly(
                Anomaly::EightBitWithout8BitMime,
                b.mark,
                "message has 8-bit bytes but MAIL FROM did not declare BODY=8BITMIME",
            );
        }
        if b.long_line {
            self.anomaly(Anomaly::LineTooLong, b.mark, "message line over 1000 bytes");
        }
        if b.bare_lf && b.origin == "smtp-data" {
            self.anomaly(
                Anomaly::BareLf,
                b.mark,
                "message line ends in LF without CR",
            );
        }
        let index = self.message_count;
        self.message_count += 1;
        if self.t.exchanges.get(exchange).is_some() {
            self.t.set_message(exchange, Some(index));
        }
        let t = &mut self.txns[n];
        t.closed = true;
        t.message = Some(Ended { b, cut, exchange });
        self.settle(self.server_silent());
    }

    /// Stores a settled transaction's message: the recipients the server accepted, and
    /// those whose answer the capture does not show.
    fn store(&mut self, t: Txn) {
        let Some(e) = t.message else { return };
        let rcpt_to = t
            .rcpts
            .into_iter()
            .filter(|r| r.2 != Some(false))
            .map(|r| r.1)
            .collect();
        self.t.add_message(Message {
            incomplete: e.b.incomplete || e.cut,
            mail_from: t.mail_from,
            rcpt_to,
            ..e.b
                .body
                .into_message(e.b.origin, e.b.mark, e.exchange, self.bounds.max_message)
        });
    }

    /// The standard verb of exchange `idx`'s command, if it has one.
    fn verb_of(&self, idx: usize) -> Option<Verb> {
        self.t.exchanges[idx]
            .command
            .as_ref()
            .and_then(|c| Verb::parse(&c.verb))
    }

    /// Nothing at all came from the server: a one-sided capture (or the server's direction
    /// is missing). Replies will not tell what the client's bytes are.
    fn server_silent(&self) -> bool {
        self.offsets[1] == 0
    }

    /// One-sided capture: DATA will get no 354 the capture shows, so the bytes after it are
    /// read as the message it announced (acceptance unknown).
    fn accept_unanswered_data(&mut self) {
        self.start_unanswered_data();
        self.release_held();
    }

    fn start_unanswered_data(&mut self) {
        self.unanswered_data += 1;
        self.client = Client::Data { keep: true };
        self.building = Some(self.data_building(self.held_mark));
        self.unstuff.reset();
    }

    /// Re-feeds client bytes held while a DATA/STARTTLS answer was awaited. Bytes held again
    /// while doing so (a later DATA among them) are released by this loop, not by a nested
    /// call: the depth stays constant however many DATA commands the bytes hold.
    fn release_held(&mut self) {
        loop {
            let held = std::mem::take(&mut self.held);
            let mark = self.held_mark;
            if !held.is_empty() {
                let outer = std::mem::replace(&mut self.releasing, true);
                self.client_bytes(&held, mark);
                self.releasing = outer;
            }
            if self.releasing
                || self.client != Client::Hold(Hold::Data)
                || self.held.len() < MAX_HELD
            {
                return;
            }
            self.start_unanswered_data();
        }
    }

    // ----- server side ---------------------------------------------------------------

    fn server_bytes(&mut self, mut data: &[u8], mark: Mark) {
        while !data.is_empty() {
            if self.client == Client::Tls && self.t.tls().is_some() {
                return;
            }
            let (n, done) = self.server_line.take(data, mark, self.bounds.max_line);
            data = &data[n..];
            if done {
                let start = self.server_line.start;
                let overlong = self.server_line.overlong;
                let line = std::mem::take(&mut self.server_line.buf);
                self.server_line.clear();
                self.server_line_done(&line, overlong, start);
            }
        }
    }

    fn server_line_done(&mut self, raw: &[u8], overlong: bool, mark: Mark) {
        let line = strip_eol(raw);
        if overlong || raw.len() > MAX_REPLY_LINE {
            self.anomaly(
                Anomaly::LineTooLong,
                mark,
                format!("reply line of {}+ bytes (limit 512)", raw.len()),
            );
        }
        let text = String::from_utf8_lossy(line).into_owned();
        let is_reply = line.len() >= 3
            && line[..3].iter().all(u8::is_ascii_digit)
            && matches!(line.get(3), None | Some(b' ') | Some(b'-'));
        if self.server_resync {
            if !is_reply {
                return;
            }
            self.server_resync = false;
        }
        if !is_reply {
            self.anomaly(Anomaly::MalformedReply, mark, truncate(&text, 80));
            return;
        }
        if self.reply.is_empty() {
            self.reply_mark = mark;
        } else if self.reply[0].get(..3) != text.get(..3) {
            self.anomaly(
                Anomaly::ReplyCodeMismatch,
                mark,
                format!("{} inside a {} reply", &text[..3], &self.reply[0][..3]),
            );
        }
        let last = line.get(3) != Some(&b'-');
        if last && self.reply.len() >= self.bounds.max_reply_lines.max(1) {
            // The final line carries the outcome: it replaces the last line kept.
            self.reply.pop();
        }
        let mut lines = std::mem::take(&mut self.reply);
        self.t.reply_line(&mut lines, text, mark);
        self.reply = lines;
        if last {
            let lines = std::mem::take(&mut self.reply);
            let code = lines[0][..3].to_string();
            let enhanced = enhanced_code(&lines[0]);
            self.dispatch(Reply {
                mark: self.reply_mark,
                code,
                enhanced,
                lines,
                summary: None,
                headers: None,
                latency_ms: None,
            });
        }
    }

    /// Gives a complete reply to the command waiting for it.
    fn dispatch(&mut self, reply: Reply) {
        let mark = reply.mark;
        let front = self.pending.front().copied();
        let paired = match front {
            Some(i) if self.fits(i, &reply) => Some(i),
            Some(_) => self.repair(&reply),
            None => None,
        };
        let Some(idx) = paired else {
            let greeting =
                !self.greeting_seen && (self.t.exchanges.is_empty() || reply.code == "220");
            self.greeting_seen = true;
            if greeting && reply.code == "220" {
                self.synced = true;
            }
            if !greeting && reply.code != "421" && self.synced {
                match front {
                    Some(i) => {
                        let verb = self.t.exchanges[i]
                            .command
                            .as_ref()
                            .map_or(String::new(), |c| c.verb.clone());
                        self.anomaly_once(
                            Anomaly::ReplyWithoutCommand,
                            mark,
                            format!("{} cannot answer the {verb} waiting", reply.lines[0]),
                        );
                    }
                    None => self.anomaly(
                        Anomaly::ReplyWithoutCommand,
                        mark,
                        format!("{} with no command waiting", reply.lines[0]),
                    ),
                }
            }
            self.t
                .push_exchange(Exchange::unsolicited(mark, vec![reply]));
            return;
        };
        self.greeting_seen = true;
        let verb = self.verb_of(idx);
        let code = reply.code.clone();
        let positive = code.starts_with('2');
        let lines = reply.lines.clone();
        self.t.add_reply(idx, reply);
        let mut complete = true;
        match verb {
            Some(Verb::Data) => {
                let first = self.t.exchanges[idx].replies.len() == 1;
                if first && code == "354" {
                    complete = false;
                    if self.unanswered_data > 0 {
                        // The content was already read without waiting for this.
                        self.unanswered_data -= 1;
                    } else {
                        self.building = Some(self.data_building(mark));
                        self.unstuff.reset();
                        if let Client::Hold(Hold::Data) = self.client {
                            self.client = Client::Data { keep: true };
                            self.release_held();
                        }
                    }
                } else if first {
                    if let Some(t) = self.txns.back_mut().filter(|t| !t.closed && t.last == idx) {
                        t.closed = true;
                    }
                    // DATA refused: anything the client sent anyway is rejected content.
                    if self.client == Client::Hold(Hold::Data) {
                        if self.held.is_empty() {
                            self.client = Client::Command;
                        } else {
                            self.anomaly(
                                Anomaly::DataAfterRejectedData,
                                mark,
                                format!("DATA got {code} but the client sent content"),
                            );
                            self.client = Client::Data { keep: false };
                            self.unstuff.reset();
                            self.release_held();
                        }
                    }
                } else if matches!(self.client, Client::Data { .. }) {
                    // The end-of-data marker was lost (gap): the reply proves the end.
                    if let Some(b) = self.building.take() {
                        self.end_content(b, true, idx);
                    }
                    self.client = Client::Command;
                    self.client_resync = true;
                }
            }
            // Only the answer to the BDAT that started the hold (an earlier pipelined BDAT's
            // answer says nothing of the held bytes).
            Some(Verb::Bdat)
                if self.client == Client::Hold(Hold::Bdat) && self.held_bdat == Some(idx) =>
            {
                // The answer to a BDAT with bad arguments: accepted, its chunk follows;
                // refused (501), what follows is commands.
                let args = self.t.exchanges[idx]
                    .command
                    .as_ref()
                    .map_or(String::new(), |c| c.args.clone());
                let size = args
                    .split_ascii_whitespace()
                    .next()
                    .and_then(|s| s.parse::<u64>().ok());
                self.client = Client::Command;
                if positive && let Some(size) = size {
                    let last = args.to_ascii_uppercase().contains("LAST");
                    self.open_txn(idx);
                    self.start_chunk(size, last, self.held_mark);
                }
                self.release_held();
            }
            Some(Verb::Bdat) if !positive && self.building.is_some() => {
                self.anomaly(
                    Anomaly::DataAfterRejectedData,
                    mark,
                    format!("BDAT chunk refused with {code}"),
                );
            }
            Some(Verb::Auth) => {
                if code == "334" {
                    complete = false;
                } else {
                    self.t.update_auth_of(idx, |a| a.success = Some(positive));
                    if self.client == Client::Sasl {
                        self.client = Client::Command;
                    }
                }
            }
            Some(Verb::StartTls) => {
                if code == "220" {
                    self.client = Client::Tls;
                    self.t.set_tls(Tls::new(
                        "starttls",
                        mark,
                        self.offsets[0] - self.held.len() as u64,
                        self.offsets[1],
                    ));
                    // Client bytes held meanwhile are TLS already (a ClientHello).
                    let held = std::mem::take(&mut self.held);
                    self.t.give_back(held);
                } else {
                    self.anomaly(Anomaly::StartTlsRefused, mark, lines[0].clone());
                    self.t.starttls_refused();
                    self.client = Client::Command;
                    self.release_held();
                }
            }
            Some(Verb::Ehlo | Verb::Lhlo) if positive => {
                self.ehlo_done = true;
                let caps = lines.iter().skip(1).map(|l| {
                    // Keywords upper-cased, parameters as sent.
                    let c = l.get(4..).unwrap_or("").trim();
                    match c.split_once(' ') {
                        Some((k, v)) => format!("{} {v}", k.to_ascii_uppercase()),
                        None => c.to_ascii_uppercase(),
                    }
                });
                self.t.set_capabilities(caps, mark);
            }
            Some(Verb::Helo) if positive => self.ehlo_done = true,
            Some(Verb::Mail) => self.mail_answered(idx, positive),
            Some(Verb::Rcpt) => self.rcpt_answered(idx, positive, mark),
            _ => {}
        }
        if complete && let Some(i) = self.pending.pop_front() {
            self.t.complete(i);
            if self.pending.is_empty() {
                self.synced = true;
            }
        }
        self.settle(false);
    }

    /// Whether `reply` can answer exchange `idx`, by what its code means: 220 greets (or
    /// answers STARTTLS), 354 answers DATA, 334 and 235 answer AUTH, 221 answers QUIT, an
    /// addressing status (x.1.y) answers MAIL, RCPT, VRFY or EXPN; 4xx/5xx answer anything.
    fn fits(&self, idx: usize, reply: &Reply) -> bool {
        let code = reply.code.as_str();
        let verb = self.verb_of(idx);
        let addressing = reply
            .enhanced
            .as_deref()
            .is_some_and(|e| e.split('.').nth(1) == Some("1"));
        if addressing
            && matches!(
                verb,
                Some(Verb::Data | Verb::Bdat | Verb::Quit | Verb::Ehlo | Verb::Helo | Verb::Lhlo)
            )
        {
            return false;
        }
        if code.starts_with(['4', '5']) {
            return true;
        }
        let first = self
            .t
            .exchanges
            .get(idx)
            .is_none_or(|e| e.replies.is_empty());
        let plain = code.starts_with('2') && !matches!(code, "220" | "221" | "235");
        match verb {
            Some(Verb::Data) if first => code == "354",
            Some(Verb::Auth) => code == "334" || code == "235",
            Some(Verb::StartTls) => code == "220",
            Some(Verb::Quit) => code == "221",
            Some(
                Verb::Data
                | Verb::Bdat
                | Verb::Ehlo
                | Verb::Helo
                | Verb::Lhlo
                | Verb::Mail
                | Verb::Rcpt
                | Verb::Rset
                | Verb::Noop,
            ) => plain,
            _ => !matches!(code, "220" | "354" | "334" | "235"),
        }
    }

    /// A reply that cannot answer the oldest command waiting, but says which command it
    /// answers (354, 334/235, 220): paired with the first waiting command it fits, the
    /// commands before it stop waiting (their answers are not in the capture).
    fn repair(&mut self, reply: &Reply) -> Option<usize> {
        if !matches!(reply.code.as_str(), "354" | "334" | "235" | "220") {
            return None;
        }
        /// How far down the queue a reply is looked for.
        const LOOK: usize = 16;
        let k = self
            .pending
            .iter()
            .take(LOOK)
            .position(|&i| self.fits(i, reply))?;
        for _ in 0..k {
            if let Some(i) = self.pending.pop_front() {
                self.t.give_up(i);
            }
        }
        self.pending.front().copied()
    }
}

/// `BDAT` arguments (RFC 3030 2: `chunk-size [SP "LAST"]`) → size and LAST; None for a
/// syntax error.
fn bdat_args(args: &str) -> Option<(u64, bool)> {
    let mut it = args.split_ascii_whitespace();
    let size = it.next()?;
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let size = size.parse::<u64>().ok()?;
    let last = match it.next() {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return None,
    };
    it.next().is_none().then_some((size, last))
}

/// `FROM:<path> PARAM=VALUE …` / `TO:<path> …` → address and parameters.
fn parse_path(args: &str) -> (Option<String>, Vec<(String, Option<String>)>) {
    let rest = match args.split_once(':') {
        Some((_, r)) => r.trim_start(),
        None => return (None, Vec::new()),
    };
    let (address, params) = if let Some(r) = rest.strip_prefix('<') {
        match r.find('>') {
            Some(end) => (r[..end].to_string(), &r[end + 1..]),
            None => (r.to_string(), ""),
        }
    } else {
        match rest.split_once(' ') {
            Some((a, p)) => (a.to_string(), p),
            None => (rest.to_string(), ""),
        }
    };
    let params = params
        .split_ascii_whitespace()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), Some(v.to_string())),
            None => (p.to_ascii_uppercase(), None),
        })
        .collect();
    (Some(address), params)
}

/// RFC 3463 `class.subject.detail` at the start of a reply's text.
fn enhanced_code(line: &str) -> Option<String> {
    let text = line.get(4..)?;
    let token = text.split(' ').next()?;
    let mut parts = token.split('.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    let ok = matches!(class, "2" | "4" | "5")
        && (1..=3).contains(&subject.len())
        && (1..=3).contains(&detail.len())
        && subject
            .bytes()
            .chain(detail.bytes())
            .all(|b| b.is_ascii_digit())
        && parts.next().is_none();
    ok.then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::testkit::{BOUNDS, verbs};

    /// Feeds a `C:`/`S:` transcript (each element one side's bytes).
    fn run(steps: &[(Side, &[u8])]) -> Transcript {
        crate::proto::testkit::run(Box::new(Smtp::new(BOUNDS, false)), steps, &[])
    }

    use Side::{Client as C, Server as S};

    /// BDAT's size is what the chunk holds in memory while it arrives; MAIL's SIZE= (an
    /// estimate) a little more. Unannounced, 100000 bytes take 124 KiB of pieces.
    #[test]
    fn messages_hold_about_their_announced_size() {
        let feed = |head: &[u8], body: &[u8]| {
            let mut d = Smtp::new(BOUNDS, false);
            for (side, bytes) in [
                (S, &b"220 mx\r\n"[..]),
                (C, b"EHLO c\r\n"),
                (S, b"250-mx\r\n250 CHUNKING\r\n"),
                (C, head),
                (S, b"250 ok\r\n250 ok\r\n354 go\r\n"),
            ] {
                d.on_data(side, bytes, Mark::default());
            }
            for piece in body.chunks(1000) {
                d.on_data(C, piece, Mark::default());
            }
            d.held_bytes()
        };
        let body = crate::proto::testkit::hundred_k();
        let bdat = feed(
            b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 100000 LAST\r\n",
            &body,
        );
        assert_eq!(bdat, 100_000);
        let data = feed(
            b"MAIL FROM:<a@x> SIZE=100000\r\nRCPT TO:<b@y>\r\nDATA\r\n",
            &body,
        );
        assert!(
            (100_000..=100_000 + 100_000 / 64 + 4096).contains(&data),
            "{data}"
        );
    }

    /// RFC 5321 appendix D.1, a typical SMTP transaction.
    #[test]
    fn rfc5321_d1() {
        let t = run(&[
            (S, b"220 foo.com Simple Mail Transfer Service Ready\r\n"),
            (C, b"EHLO bar.com\r\n"),
            (S, b"250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n"),
            (C, b"MAIL FROM:<Smith@bar.com>\r\n"),
            (S, b"250 OK\r\n"),
            (C, b"RCPT TO:<Jones@foo.com>\r\n"),
            (S, b"250 OK\r\n"),
            (C, b"RCPT TO:<Green@foo.com>\r\n"),
            (S, b"550 No such user here\r\n"),
            (C, b"RCPT TO:<Brown@foo.com>\r\n"),
            (S, b"250 OK\r\n"),
            (C, b"DATA\r\n"),
            (S, b"354 Start mail input; end with <CRLF>.<CRLF>\r\n"),
            (C, b"Blah blah blah...\r\n...etc. etc. etc.\r\n.\r\n"),
            (S, b"250 OK\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"221 foo.com Service closing transmission channel\r\n"),
        ]);
        let v = verbs(&t);
        assert_eq!(v[0], ("".into(), vec!["220".into()]));
        assert_eq!(v[6], ("DATA".into(), vec!["354".into(), "250".into()]));
        assert_eq!(t.messages.len(), 1);
        let m = &t.messages[0];
        assert_eq!(m.bytes, b"Blah blah blah...\r\n..etc. etc. etc.\r\n");
        assert_eq!(m.mail_from.as_deref(), Some("Smith@bar.com"));
        assert_eq!(m.rcpt_to, vec!["Jones@foo.com", "Brown@foo.com"]);
        assert_eq!(t.exchanges[6].message, Some(0));
        assert_eq!(t.capabilities(), vec!["8BITMIME", "SIZE", "DSN", "HELP"]);
        assert!(t.anomalies().is_empty(), "{:?}", t.anomalies());
    }

    /// RFC 2920 3.2: everything pipelined, replies pair in order.
    #[test]
    fn pipelining_pairs_in_order() {
        let t = run(&[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO c\r\n"),
            (S, b"250-mx\r\n250 PIPELINING\r\n"),
            (C, b"MAIL FROM:<a@x> SIZE=20 BODY=8BITMIME\r\nRCPT TO:<b@y> NOTIFY=NEVER\r\nRCPT TO:<c@y>\r\nDATA\r\n"),
            (S, b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no\r\n354 go\r\n"),
            (C, b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"),
            (S, b"250 2.0.0 queued\r\n221 bye\r\n"),
        ]);
        let v = verbs(&t);
        assert_eq!(v[2].1, vec!["250"]);
        assert_eq!(v[4].1, vec!["550"]);
        assert_eq!(v[5], ("DATA".into(), vec!["354".into(), "250".into()]));
        assert_eq!(v[6], ("QUIT".into(), vec!["221".into()]));
        assert_eq!(t.exchanges[2].replies[0].enhanced.as_deref(), Some("2.1.0"));
        assert!(t.exchanges[3].pipelined);
        let cmd = t.exchanges[2].command.as_ref().unwrap();
        assert_eq!(cmd.params[0], ("SIZE".into(), Some("20".into())));
        assert_eq!(t.messages[0].rcpt_to, vec!["b@y"]);
        assert!(t.anomalies().is_empty(), "{:?}", t.anomalies());
    }

    /// RFC 3030: BDAT chunks counted exactly; dots and CRLF.CRLF inside are content.
    #[test]
    fn bdat_chunks_are_counted_not_scanned() {
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"EHLO c\r\n"),
            (S, b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
            (
                C,
                b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 13\r\nab\r\n.\r\n..cd\r\n",
            ),
            (S, b"250 ok\r\n250 ok\r\n250 12 octets\r\n"),
            (C, b"BDAT 3 LAST\r\nxyzBDAT 0 LAST\r\n"),
            (S, b"250 done\r\n503 no\r\n"),
        ]);
        assert_eq!(t.messages[0].bytes, b"ab\r\n.\r\n..cd\r\nxyz");
        assert_eq!(t.messages[0].origin, "smtp-bdat");
        assert_eq!(t.exchanges[4].message, Some(0));
        assert_eq!(t.exchanges[5].message, Some(0));
        // BDAT 0 LAST without a transaction: an empty message.
        assert_eq!(t.messages[1].bytes, b"");
    }

    #[test]
    fn auth_plain_login_and_redaction() {
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"AUTH PLAIN AGJvYgBzM2NyM3QgcGFzcyJ3b3Jk\r\n"),
            (S, b"535 5.7.8 nope\r\n"),
            (C, b"AUTH LOGIN\r\n"),
            (S, b"334 VXNlcm5hbWU6\r\n"),
            (C, b"YWxpY2U=\r\n"),
            (S, b"334 UGFzc3dvcmQ6\r\n"),
            (C, b"V29uZGVybGFuZC0yMDI0\r\n"),
            (S, b"235 2.7.0 ok\r\n"),
        ]);
        assert_eq!(t.auth().len(), 2);
        assert_eq!(t.auth()[0].username.as_deref(), Some("bob"));
        assert_eq!(
            t.auth()[0].password.as_ref().unwrap().expose(),
            "s3cr3t pass\"word"
        );
        assert_eq!(t.auth()[0].success, Some(false));
        assert_eq!(t.auth()[1].username.as_deref(), Some("alice"));
        assert_eq!(t.auth()[1].success, Some(true));
        let ex = &t.exchanges[2];
        assert_eq!(verbs(&t)[2].1, vec!["334", "334", "235"]);
        assert_eq!(ex.client_lines[0].text, "YWxpY2U=");
        assert_eq!(ex.client_lines[1].text, "<redacted>");
        assert_eq!(
            t.exchanges[1].command.as_ref().unwrap().args,
            "PLAIN <redacted>"
        );
    }

    /// RFC 3030 section 4.1: a bodyless message in one BDAT LAST chunk.
    #[test]
    fn rfc3030_bdat_last() {
        let t = run(&[
            (S, b"220 cnri.reston.va.us SMTP service ready\r\n"),
            (C, b"EHLO ymir.claremont.edu\r\n"),
            (S, b"250-cnri.reston.va.us says hello\r\n250 CHUNKING\r\n"),
            (C, b"MAIL FROM:<Sam@Random.com>\r\n"),
            (S, b"250 <Sam@Random.com>... Sender ok\r\n"),
            (C, b"RCPT TO:<Susan@Random.com>\r\n"),
            (S, b"250 <Susan@random.com>... Recipient ok\r\n"),
            (C, b"BDAT 86 LAST\r\n"),
            (C, b"To: Susan@random.com\r\n"),
            (C, b"From: Sam@random.com\r\n"),
            (C, b"Subject: This is a bodyless test message\r\n"),
            (S, b"250 Message OK, 86 octets received\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"221 Goodbye\r\n"),
        ]);
        assert_eq!(t.messages.len(), 1);
        assert_eq!(t.messages[0].size, 86);
        assert_eq!(t.messages[0].rcpt_to, vec!["Susan@Random.com"]);
        let v = verbs(&t);
        assert_eq!(v[4], ("BDAT".into(), vec!["250".into()]));
        assert_eq!(v[5], ("QUIT".into(), vec!["221".into()]));
        assert!(t.anomalies().is_empty(), "{:?}", t.anomalies());
    }

    /// RFC 4954 section 8: AUTH CRAM-MD5 with a challenge and a response.
    #[test]
    fn rfc4954_cram_md5() {
        let t = run(&[
            (S, b"220 smtp.example.com ESMTP server ready\r\n"),
            (C, b"EHLO client.example.com\r\n"),
            (S, b"250-smtp.example.com Hello client.example.com\r\n250-AUTH DIGEST-MD5 CRAM-MD5\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n"),
            (C, b"AUTH CRAM-MD5\r\n"),
            (S, b"334 PENCeUxFREJoU0NnbmhNWitOMjNGNndAZWx3b29kLmlubm9zb2Z0LmNvbT4=\r\n"),
            (C, b"ZnJlZCA5ZTk1YWVlMDljNDBhZjJiODRhMGMyYjNiYmFlNzg2ZQ==\r\n"),
            (S, b"235 2.7.0 Authentication successful\r\n"),
        ]);
        assert_eq!(t.auth()[0].mechanism, "CRAM-MD5");
        assert_eq!(t.auth()[0].username.as_deref(), Some("fred"));
        assert_eq!(t.auth()[0].success, Some(true));
        assert_eq!(verbs(&t)[2].1, vec!["334", "235"]);
        assert_eq!(t.exchanges[2].client_lines[0].text, "<redacted>");
        assert_eq!(t.capabilities()[0], "AUTH DIGEST-MD5 CRAM-MD5");
    }

    #[test]
    fn starttls_stops_parsing() {
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"STARTTLS\r\n"),
            (S, b"220 2.0.0 Ready to start TLS\r\n"),
            (C, b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"),
            (S, b"\x16\x03\x03garbage\r\n250 not parsed\r\n"),
        ]);
        assert_eq!(t.exchanges.len(), 2);
        let tls = t.tls().unwrap();
        assert_eq!((tls.client_offset, tls.server_offset), (10, 38));
        assert!(t.anomalies().is_empty());
    }

    #[test]
    fn rejected_data_content_is_not_commands() {
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"MAIL FROM:<a@x>\r\n"),
            (S, b"250 ok\r\n"),
            (C, b"DATA\r\n"),
            (C, b"QUIT\r\nhello\r\n.\r\nNOOP\r\n"),
            (S, b"554 no valid recipients\r\n250 ok\r\n"),
        ]);
        assert!(
            t.anomalies()
                .iter()
                .any(|a| a.name() == "data-after-rejected-data")
        );
        assert_eq!(t.messages.len(), 0);
        let v = verbs(&t);
        assert_eq!(v.len(), 4);
        assert_eq!(v[3], ("NOOP".into(), vec!["250".into()]));
    }

    #[test]
    fn anomalies_are_named() {
        let t = run(&[
            (C, b"HELO early\r\n"),
            (S, b"220 mx\r\n"),
            (C, b"XYZZY\r\n"),
            (S, b"250-a\r\n251 b\r\n"),
            (S, b"250 surprise\r\n"),
            // The 220 is the greeting: HELO and XYZZY have their replies, this has none.
            (S, b"250 again\r\n"),
        ]);
        let names: Vec<&str> = t.anomalies().iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            vec![
                "missing-greeting",
                "unknown-command",
                "reply-code-mismatch",
                "reply-without-command"
            ]
        );
    }

    #[test]
    fn more_named_anomalies() {
        let long = format!("VRFY {}\r\n", "x".repeat(600));
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"EHLO c\r\n"),
            (S, b"250-mx\r\n250 SIZE 100\r\n"),
            (C, b"NOOP\r\nNOOP\r\n"),
            (S, b"250 ok\r\n250 ok\r\n"),
            (C, long.as_bytes()),
            (S, b"252 maybe\r\n"),
            (C, b"MAIL FROM:<a@x>\r\n"),
            (S, b"250 ok\r\n"),
            (C, b"RCPT TO:<b@y>\r\n"),
            (S, b"250 ok\r\n"),
            (C, b"DATA\r\n"),
            (S, b"354 go\r\n"),
            (C, "Subject: caf\u{e9}\r\nbare\nlf\r\n.\r\n".as_bytes()),
            (S, b"250 ok\r\n"),
            (C, b"STARTTLS\r\n"),
            (S, b"454 4.7.0 TLS not available\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"221 bye\r\n"),
        ]);
        let names: Vec<&str> = t.anomalies().iter().map(|a| a.name()).collect();
        for want in [
            "pipelining-not-offered",
            "line-too-long",
            "8bit-without-8bitmime",
            "bare-lf",
            "starttls-refused",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        // STARTTLS refused: the session goes on in the clear.
        assert!(t.tls().is_none());
        assert_eq!(verbs(&t).last().unwrap().0, "QUIT");
    }

    #[test]
    fn gap_in_data_resyncs_on_the_final_reply() {
        let mut s = Smtp::new(BOUNDS, false);
        let m = Mark::default();
        s.on_data(S, b"220 mx\r\n", m);
        s.on_data(C, b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", m);
        s.on_data(S, b"250 ok\r\n250 ok\r\n354 go\r\n", m);
        s.on_data(C, b"Subject: x\r\n\r\nfirst part\r\n", m);
        // The rest of the message and the end marker are lost.
        s.on_gap(C, 500, m);
        s.on_data(S, b"250 queued\r\n", m);
        s.on_data(C, b"tail of a lost line\r\nQUIT\r\n", m);
        s.on_data(S, b"221 bye\r\n", m);
        let t = s.finish(m);
        assert_eq!(t.messages.len(), 1);
        assert!(t.messages[0].incomplete);
        assert_eq!(t.messages[0].bytes, b"Subject: x\r\n\r\nfirst part\r\n");
        let v = verbs(&t);
        // Message data after the gap is never read as commands; QUIT is found again.
        assert_eq!(
            v.last().unwrap(),
            &("QUIT".to_string(), vec!["221".to_string()])
        );
        assert_eq!(v.len(), 5);
        assert!(t.anomalies().iter().any(|a| a.name() == "gap-in-message"));
    }

    #[test]
    fn gap_in_commands_resyncs_at_the_next_command() {
        let mut s = Smtp::new(BOUNDS, false);
        let m = Mark::default();
        s.on_data(S, b"220 mx\r\n", m);
        s.on_data(C, b"EHLO c\r\nMAIL FR", m);
        s.on_gap(C, 20, m);
        s.on_data(C, b"est>\r\nRCPT TO:<b@y>\r\n", m);
        s.on_data(S, b"250 ok\r\n250 ok\r\n250 ok\r\n", m);
        let t = s.finish(m);
        let v: Vec<String> = verbs(&t).into_iter().map(|(v, _)| v).collect();
        // The damaged MAIL is kept (incomplete) and gets its reply; RCPT gets its own.
        assert_eq!(v, vec!["", "EHLO", "MAIL", "RCPT"]);
        assert!(t.exchanges[2].incomplete);
        assert_eq!(t.exchanges[3].replies.len(), 1);
        assert!(
            !t.anomalies()
                .iter()
                .any(|a| a.name() == "reply-without-command")
        );
    }

    /// Issue 9: a session with PIPELINING, CHUNKING, enhanced codes (as Postfix answers),
    /// a DATA message with a refused recipient and a BDAT message.
    const REAL: &[(Side, &[u8])] = &[
        (S, b"220 mx.example.test ESMTP Postfix\r\n"),
        (C, b"EHLO client.example.test\r\n"),
        (S, b"250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 CHUNKING\r\n"),
        (C, b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n"),
        (S, b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@example.test>: Recipient address rejected\r\n354 End data with <CR><LF>.<CR><LF>\r\n"),
        (C, b"Subject: first\r\n\r\nHello Bob.\r\n.\r\n"),
        (S, b"250 2.0.0 Ok: queued as 1111\r\n"),
        (C, b"MAIL FROM:<carol@example.test>\r\nRCPT TO:<dave@example.test>\r\nBDAT 24 LAST\r\nSubject: second\r\n\r\nHi.\r\n"),
        (S, b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as 2222\r\n"),
        (C, b"QUIT\r\n"),
        (S, b"221 2.0.0 Bye\r\n"),
    ];

    fn bad_pairing(t: &Transcript) -> Vec<String> {
        t.anomalies()
            .iter()
            .filter(|a| {
                matches!(
                    a.name(),
                    "data-after-rejected-data" | "reply-without-command"
                )
            })
            .map(|a| format!("{} {}", a.name(), a.detail))
            .collect()
    }

    /// Issue 9 "Greeting missing or client first": the session picked up at every byte
    /// (mid-stream), and the same with the client's first bytes before the server's: no
    /// false pairing anomalies, and each message whose command is inside is decoded.
    #[test]
    fn every_cut_pairs_replies_by_meaning() {
        let whole = run(REAL);
        assert_eq!(whole.messages.len(), 2);
        assert!(whole.anomalies().is_empty(), "{:?}", whole.anomalies());
        let total: usize = REAL.iter().map(|s| s.1.len()).sum();
        // Where each message's command starts, in the interleaved byte sequence.
        let at = |needle: &[u8]| {
            let mut off = 0;
            for (_, d) in REAL {
                if let Some(p) = d.windows(needle.len()).position(|w| w == needle) {
                    return off + p;
                }
                off += d.len();
            }
            unreachable!()
        };
        let (data_at, bdat_at) = (at(b"DATA\r\n"), at(b"BDAT 24"));
        for cut in 0..total {
            let mut steps: Vec<(Side, &[u8])> = Vec::new();
            let mut off = 0;
            for &(side, d) in REAL {
                if off + d.len() > cut {
                    steps.push((side, &d[cut.saturating_sub(off)..]));
                }
                off += d.len();
            }
            let mut client_first = steps.clone();
            if let Some(i) = client_first.iter().position(|s| s.0 == C) {
                let step = client_first.remove(i);
                client_first.insert(0, step);
            }
            for (variant, steps) in [("cut", steps), ("client first", client_first)] {
                for midstream in [true, false] {
                    if cut > 0 && !midstream {
                        continue;
                    }
                    let t = crate::proto::testkit::run(
                        Box::new(Smtp::new(BOUNDS, midstream)),
                        &steps,
                        &[],
                    );
                    let bad = bad_pairing(&t);
                    assert!(bad.is_empty(), "{variant} at {cut}: {bad:?}");
                    let subjects: Vec<bool> = [&b"Subject: first"[..], b"Subject: second"]
                        .iter()
                        .map(|s| t.messages.iter().any(|m| m.bytes.starts_with(s)))
                        .collect();
                    if cut <= data_at {
                        assert!(subjects[0], "{variant} at {cut}: first message lost");
                    }
                    if cut <= bdat_at {
                        assert!(subjects[1], "{variant} at {cut}: second message lost");
                    }
                }
            }
        }
    }

    /// Issue 9: the greeting after the client's first command is the greeting, not the
    /// command's reply; later replies do not shift.
    #[test]
    fn greeting_after_the_client_spoke_is_not_a_reply() {
        let t = run(&[
            (C, b"EHLO c\r\n"),
            (S, b"220 mx ESMTP\r\n"),
            (S, b"250-mx\r\n250 PIPELINING\r\n"),
            (C, b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
            (S, b"250 ok\r\n250 ok\r\n354 go\r\n"),
            (C, b"Subject: x\r\n\r\nbody\r\n.\r\n"),
            (S, b"250 queued\r\n"),
        ]);
        let v = verbs(&t);
        assert_eq!(v[0], ("EHLO".into(), vec!["250".into()]));
        assert_eq!(v[1], ("".into(), vec!["220".into()]));
        assert_eq!(v[4], ("DATA".into(), vec!["354".into(), "250".into()]));
        assert_eq!(t.messages.len(), 1);
        assert_eq!(t.messages[0].rcpt_to, vec!["b@y"]);
        assert!(bad_pairing(&t).is_empty(), "{:?}", t.anomalies());
    }

    /// Issue 9: MAIL, RCPTs and BDAT LAST with its chunk before any reply: the envelope
    /// is settled once the replies are in, with the recipients the server accepted.
    #[test]
    fn pipelined_bdat_last_settles_the_envelope_on_the_replies() {
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"EHLO c\r\n"),
            (S, b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
            (C, b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<no@y>\r\nRCPT TO:<c@y>\r\nBDAT 5 LAST\r\nhello"),
            (S, b"250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n250 queued\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"221 bye\r\n"),
        ]);
        assert_eq!(t.messages.len(), 1);
        assert_eq!(t.messages[0].bytes, b"hello");
        assert_eq!(t.messages[0].mail_from.as_deref(), Some("a@x"));
        assert_eq!(t.messages[0].rcpt_to, vec!["b@y", "c@y"]);
        assert_eq!(t.exchanges[6].message, Some(0));
    }

    /// Issue 9: a MAIL pipelined right behind the end of a message (after `.` or BDAT
    /// LAST, before its reply) starts the next transaction; the ended one keeps its sender.
    #[test]
    fn mail_pipelined_after_the_end_keeps_each_sender() {
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"EHLO c\r\n"),
            (S, b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
            (C, b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 3 LAST\r\none"),
            (C, b"MAIL FROM:<c@x>\r\nRCPT TO:<d@y>\r\nDATA\r\n"),
            (
                S,
                b"250 ok\r\n250 ok\r\n250 queued\r\n250 ok\r\n250 ok\r\n354 go\r\n",
            ),
            (
                C,
                b"two\r\n.\r\nMAIL FROM:<e@x>\r\nRCPT TO:<f@y>\r\nBDAT 5 LAST\r\nthree",
            ),
            (S, b"250 queued\r\n250 ok\r\n250 ok\r\n250 queued\r\n"),
        ]);
        let env: Vec<(Option<&str>, Vec<String>)> = t
            .messages
            .iter()
            .map(|m| (m.mail_from.as_deref(), m.rcpt_to.clone()))
            .collect();
        assert_eq!(
            env,
            vec![
                (Some("a@x"), vec!["b@y".to_string()]),
                (Some("c@x"), vec!["d@y".to_string()]),
                (Some("e@x"), vec!["f@y".to_string()]),
            ]
        );
    }

    /// Issue 9: a nested MAIL refused with 503 leaves the open transaction as it was.
    #[test]
    fn refused_nested_mail_keeps_the_open_transaction() {
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"MAIL FROM:<a@x>\r\n"),
            (S, b"250 ok\r\n"),
            (C, b"RCPT TO:<b@y>\r\n"),
            (S, b"250 ok\r\n"),
            (C, b"MAIL FROM:<z@x>\r\n"),
            (S, b"503 5.5.1 Error: nested MAIL command\r\n"),
            (C, b"RCPT TO:<c@y>\r\n"),
            (S, b"250 ok\r\n"),
            (C, b"DATA\r\n"),
            (S, b"354 go\r\n"),
            (C, b"Subject: x\r\n\r\n.\r\n"),
            (S, b"250 queued\r\n"),
        ]);
        assert_eq!(t.messages.len(), 1);
        assert_eq!(t.messages[0].mail_from.as_deref(), Some("a@x"));
        assert_eq!(t.messages[0].rcpt_to, vec!["b@y", "c@y"]);
    }

    /// Issue 9: a BDAT with bad arguments is a syntax error; the server answers 501 and
    /// reads the following bytes as commands, so they are held until that answer.
    #[test]
    fn invalid_bdat_carries_no_chunk() {
        for bad in [
            &b"BDAT 5 X\r\n"[..],
            b"BDAT 1234 SCRAMBLE\r\n",
            b"BDAT 99999999999999999999999 LAST\r\n",
        ] {
            let mut client = bad.to_vec();
            client.extend_from_slice(b"MAIL FROM:<a@x>\r\nQUIT\r\n");
            let t = run(&[
                (S, b"220 mx\r\n"),
                (C, b"EHLO c\r\n"),
                (S, b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
                (C, &client),
                (S, b"501 5.5.4 Syntax error\r\n250 ok\r\n221 bye\r\n"),
            ]);
            let v = verbs(&t);
            let bad = String::from_utf8_lossy(bad);
            assert_eq!(v[2], ("BDAT".into(), vec!["501".into()]), "{bad}");
            assert_eq!(v[3], ("MAIL".into(), vec!["250".into()]), "{bad}");
            assert_eq!(v[4], ("QUIT".into(), vec!["221".into()]), "{bad}");
            assert!(t.messages.is_empty(), "{bad}");
        }
        // Accepted anyway (a lenient server): the stated chunk follows.
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"BDAT 2 X\r\nokQUIT\r\n"),
            (S, b"250 ok\r\n221 bye\r\n"),
        ]);
        assert_eq!(verbs(&t)[2], ("QUIT".into(), vec!["221".into()]));
    }

    /// The answer to an earlier pipelined BDAT does not decide what the bytes held after an
    /// invalid BDAT are: only that BDAT's own answer does.
    #[test]
    fn a_pipelined_bdat_answer_is_not_the_held_bdat_answer() {
        let t = run(&[
            (S, b"220 mx\r\n"),
            (C, b"EHLO c\r\n"),
            (S, b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
            (
                C,
                b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 3\r\nabcBDAT 4 X\r\nQUIT\r\n",
            ),
            (
                S,
                b"250 ok\r\n250 ok\r\n250 ok\r\n501 5.5.4 bad\r\n221 bye\r\n",
            ),
        ]);
        let v: Vec<String> = verbs(&t).into_iter().map(|(v, _)| v).collect();
        assert_eq!(v, ["", "EHLO", "MAIL", "RCPT", "BDAT", "BDAT", "QUIT"]);
        let names: Vec<&str> = t.anomalies().iter().map(|a| a.name()).collect();
        // No LAST chunk ever came: the message is cut short, and holds the first chunk only.
        assert_eq!(names, ["bad-bdat-size", "message-cut-short"]);
        assert_eq!(t.messages[0].bytes, b"abc");
    }

    /// A command cut by a gap keeps an AUTH secret out of its arguments and its line.
    #[test]
    fn an_auth_cut_by_a_gap_is_redacted() {
        let mut d = Smtp::new(BOUNDS, false);
        let m = Mark::default();
        d.on_data(S, b"220 mx\r\n", m);
        d.on_data(C, b"AUTH PLAIN U0VDUkVUcGFzc3dvcmQ", m);
        d.on_gap(C, 10, m);
        let t = d.finish(m);
        let c = t.exchanges.iter().find_map(|e| e.command.as_ref()).unwrap();
        assert!(!c.raw.contains("U0VD") && !c.args.contains("U0VD"), "{c:?}");
        assert_eq!(c.raw, "AUTH <redacted>");
    }

    /// A message waiting for its transaction's replies is held in flight: counted by
    /// `held_bytes` and let go by `shed` (the memory budget), hashed all the same.
    #[test]
    fn messages_waiting_for_replies_answer_to_the_budget() {
        let mut s = Smtp::new(BOUNDS, false);
        let m = Mark::default();
        s.on_data(S, b"220 mx\r\n", m);
        s.on_data(
            C,
            b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 5 LAST\r\nhello",
            m,
        );
        assert_eq!(s.held_bytes(), 5);
        s.shed();
        assert_eq!(s.held_bytes(), 0);
        s.on_data(S, b"250 ok\r\n250 ok\r\n250 queued\r\n", m);
        let t = s.finish(m);
        assert_eq!(t.messages.len(), 1);
        assert!(t.messages[0].not_decoded.is_some());
        assert_eq!(t.messages[0].size, 5);
        assert_eq!(t.messages[0].rcpt_to, vec!["b@y"]);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const SESSION: &[(Side, &[u8])] = &[
            (S, b"220 mx ESMTP\r\n"),
            (C, b"EHLO c\r\n"),
            (S, b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
            (C, b"AUTH PLAIN AGFsaWNlAHB3\r\n"),
            (S, b"235 ok\r\n"),
            (C, b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
            (S, b"250 ok\r\n250 ok\r\n354 go\r\n"),
            (C, b"Subject: hi\r\n\r\n..dot\r\n.x\r\nline\r\n.\r\n"),
            (S, b"250 queued\r\n"),
            (C, b"BDAT 8\r\n.\r\n\r\n.\r\nBDAT 0 LAST\r\nQUIT\r\n"),
            (S, b"250 ok\r\n250 ok\r\n221 bye\r\n"),
        ];

        /// The hand-written session, byte by byte and in pairs (cutting every CRLF).
        #[test]
        fn fixed_session_cut_small() {
            let whole = run(SESSION);
            assert_eq!(
                &whole.messages[0].bytes.to_vec()[..],
                &b"Subject: hi\r\n\r\n.dot\r\nx\r\nline\r\n"[..]
            );
            assert_eq!(whole.messages[1].bytes, b".\r\n\r\n.\r\n");
            for cuts in [&[1][..], &[2], &[3, 1]] {
                let split =
                    crate::proto::testkit::run(Box::new(Smtp::new(BOUNDS, false)), SESSION, cuts);
                let fp = crate::proto::testkit::fingerprint;
                assert_eq!(fp(&split), fp(&whole));
            }
        }

        proptest! {
            /// Any generated session (pipelined or not, 8-bit dot-stuffed DATA, BDAT of any
            /// bytes): the same transcript however each side's bytes are cut.
            #[test]
            fn chunking_does_not_matter(
                script in crate::proto::testkit::smtp_script(),
                cuts in crate::proto::testkit::cuts(),
            ) {
                crate::proto::testkit::check_chunking(|| Box::new(Smtp::new(BOUNDS, false)), &script, &cuts)?;
            }

            /// Arbitrary bytes never panic and never grow buffers past the limits.
            #[test]
            fn hostile_input_is_bounded(
                chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..40)
            ) {
                let b = crate::proto::testkit::TIGHT;
                crate::proto::testkit::hostile(Box::new(Smtp::new(b, false)), &b, &chunks, 3);
            }
        }
    }
}
