//! POP3 dissector (RFC 1939, 2449 CAPA/RESP-CODES/PIPELINING, 1734/5034 AUTH with SASL-IR,
//! 2595 STLS, 6856 UTF8): both byte streams of one connection in, a [`Transcript`] out.
//! Sans-IO: same transcript however the bytes are split.
//!
//! ```text
//!  client:  Command ──AUTH mech──▶ Sasl (lines are SASL responses) ──+OK/-ERR──▶ Command
//!              └──STLS ─(+OK)─▶ Tls
//!  server:  Status ──+OK to RETR/TOP/LIST/UIDL/CAPA/AUTH──▶ Multi (dot-stuffed, until ".")
//!              │                                              └──▶ Status
//!              └──"+ " during AUTH: a SASL challenge
//! ```
//!
//! Whether a `+OK` starts a multi-line answer depends on the command *and its arguments*
//! (`LIST` is multi-line, `LIST 1` is not); responses pair FIFO with commands, so this holds
//! under pipelining too. A multi-line answer ends at the terminating dot line, never at the
//! octet count a `+OK` may announce.

use super::dotstuff::Unstuffer;
use super::event::{self, Auth, Mark, Secret, Side, Tls, sasl_response};
use super::line::{Lines, MessageBytes, strip_eol, truncate};
pub use super::transcript::{ClientLine, Command, Exchange, Message, Reply, Transcript};
use super::vocab::pop3::{Anomaly, Verb};
use std::collections::VecDeque;

/// RFC 2449 4: a command line is at most 255 octets with the CRLF.
const MAX_COMMAND_LINE: usize = 255;
/// RFC 2449 4: a response's first line is at most 512 octets with the CRLF.
const MAX_STATUS_LINE: usize = 512;
/// Lines of a listing (LIST, UIDL, CAPA) kept in the reply.
/// Failed logins in a row that make a password-guessing anomaly.
const GUESSING_RUN: u32 = 3;

pub use super::smtp::Bounds;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Command,
    Sasl,
    Tls,
}

/// What a multi-line answer being read is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// RETR / TOP: a message.
    Message(&'static str),
    /// LIST / UIDL / CAPA / AUTH: lines kept in the reply.
    Listing,
}

struct Building {
    mark: Mark,
    body: MessageBytes,
    incomplete: bool,
}

impl Building {
    fn new(mark: Mark) -> Building {
        Building {
            mark,
            body: MessageBytes::default(),
            incomplete: false,
        }
    }
}

/// The POP3 dissector for one connection.
pub struct Pop3 {
    bounds: Bounds,
    /// Everything the session told so far (see `Dissector`, which hands it out).
    pub(super) t: Transcript,
    client: Client,
    client_line: Lines,
    server_line: Lines,
    /// Reading a multi-line answer for the exchange at the front of `pending`.
    body: Option<Body>,
    unstuff: Unstuffer,
    building: Option<Building>,
    /// Listing lines: partial line across chunks.
    listing_line: Vec<u8>,
    pending: VecDeque<usize>,
    greeting_seen: bool,
    midstream: bool,
    client_resync: bool,
    server_resync: bool,
    /// A server answer has met its command.
    answered: bool,
    offsets: [u64; 2],
    failed_logins: u32,
    /// Server-only capture: an `+OK` without a command seen (its exchange, where it began,
    /// whether it counted octets) whose next line tells whether an answer body follows.
    unseen_command: Option<(usize, Mark, bool)>,
    message_count: usize,
}

impl Pop3 {
    pub fn new(bounds: Bounds, midstream: bool) -> Pop3 {
        Pop3 {
            bounds,
            t: Transcript::new(bounds),
            client: Client::Command,
            client_line: Lines::default(),
            server_line: Lines::default(),
            body: None,
            unstuff: Unstuffer::default(),
            building: None,
            listing_line: Vec::new(),
            pending: VecDeque::new(),
            greeting_seen: false,
            midstream,
            client_resync: midstream,
            server_resync: midstream,
            answered: false,
            offsets: [0, 0],
            failed_logins: 0,
            unseen_command: None,
            message_count: 0,
        }
    }

    fn anomaly(&mut self, kind: Anomaly, mark: Mark, detail: impl Into<String>) {
        self.t.anomaly(event::Anomaly::new(kind, mark, detail));
    }

    pub fn on_data(&mut self, side: Side, data: &[u8], mark: Mark) {
        match side {
            Side::Client => {
                self.offsets[0] += data.len() as u64;
                self.client_bytes(data, mark);
            }
            Side::Server => {
                self.offsets[1] += data.len() as u64;
                self.server_bytes(data, mark);
            }
        }
    }

    pub fn on_gap(&mut self, side: Side, len: u64, mark: Mark) {
        match side {
            Side::Client => {
                self.offsets[0] += len;
                self.client_line.clear();
                if self.client != Client::Tls {
                    self.client_resync = true;
                    self.anomaly(Anomaly::Gap, mark, format!("{len} client bytes missing"));
                }
            }
            Side::Server => {
                self.offsets[1] += len;
                self.server_line.clear();
                self.unseen_command = None;
                if self.client == Client::Tls {
                    return;
                }
                match self.body {
                    Some(body) => {
                        if let Some(b) = self.building.as_mut() {
                            b.incomplete = true;
                        }
                        self.listing_line.clear();
                        self.unstuff.desync();
                        let what = match body {
                            Body::Message(_) => "message",
                            Body::Listing => "listing",
                        };
                        self.anomaly(
                            Anomaly::GapInMultiline,
                            mark,
                            format!("{len} bytes of a {what} missing"),
                        );
                    }
                    None => {
                        self.server_resync = true;
                        self.anomaly(Anomaly::Gap, mark, format!("{len} server bytes missing"));
                    }
                }
                if let Some(&i) = self.pending.front() {
                    self.t.set_incomplete(i);
                }
            }
        }
    }

    /// Bytes of messages in flight kept for decoding.
    pub fn held_bytes(&self) -> usize {
        self.building.as_ref().map_or(0, |b| b.body.held())
    }

    /// Stops keeping the bytes of the message in flight (memory budget).
    pub fn shed(&mut self) {
        if let Some(b) = self.building.as_mut() {
            b.body.shed();
        }
    }

    /// STLS was accepted but the bytes after it are plain text (the pipeline looked): read
    /// on as text.
    pub fn resume_text(&mut self) {
        if self.client == Client::Tls {
            self.client = Client::Command;
        }
    }

    /// Both directions ended: messages cut short are stored, exchanges still waiting are
    /// marked incomplete, and the end is recorded (the last events).
    pub fn end(&mut self, mark: Mark) {
        if let Some(b) = self.building.take() {
            self.anomaly(
                Anomaly::MessageCutShort,
                mark,
                "the connection ended inside a message",
            );
            let idx = self.pending.front().copied().unwrap_or(0);
            let origin = match self.body {
                Some(Body::Message(o)) => o,
                _ => "pop3-retr",
            };
            self.store_message(b, origin, true, idx);
        }
        self.t.end(std::mem::take(&mut self.pending));
    }

    /// Ends the session and hands over the transcript (for reading it directly).
    pub fn finish(mut self, mark: Mark) -> Transcript {
        self.end(mark);
        self.t.finish();
        self.t
    }

    // ----- client ------------------------------------------------------------------------

    fn client_bytes(&mut self, mut data: &[u8], mark: Mark) {
        while !data.is_empty() {
            if self.client == Client::Tls {
                // TLS: the pipeline reads it (transform::tls), and hands over the plaintext.
                return;
            }
            let (n, done) = self.client_line.take(data, mark, self.bounds.max_line);
            data = &data[n..];
            if done {
                let start = self.client_line.start;
                let overlong = self.client_line.overlong;
                let raw = std::mem::take(&mut self.client_line.buf);
                self.client_line.clear();
                self.client_line_done(&raw, overlong, start);
            }
        }
    }

    fn client_line_done(&mut self, raw: &[u8], overlong: bool, mark: Mark) {
        let line = strip_eol(raw);
        let text = String::from_utf8_lossy(line).into_owned();
        if self.client == Client::Sasl {
            if let Some(&idx) = self.pending.back() {
                self.t.sasl_line(idx, text, mark);
                return;
            }
            self.client = Client::Command;
        }
        if overlong || raw.len() > MAX_COMMAND_LINE {
            self.anomaly(
                Anomaly::LineTooLong,
                mark,
                format!("command line of {}+ bytes (limit 255)", raw.len()),
            );
        }
        // Words are split on any blank (a tab must not hide a secret).
        let (verb_raw, args) = match text.split_once([' ', '\t']) {
            Some((v, a)) => (v, a.to_string()),
            None => (text.as_str(), String::new()),
        };
        let verb = verb_raw.to_ascii_uppercase();
        if self.client_resync {
            if Verb::parse(&verb).is_none() {
                return;
            }
            self.client_resync = false;
        }
        if line.is_empty() {
            return;
        }
        if Verb::parse(&verb).is_none() {
            self.anomaly(Anomaly::UnknownCommand, mark, truncate(&text, 80));
        }
        if !self.greeting_seen && !self.midstream && self.t.exchanges.is_empty() {
            self.anomaly(
                Anomaly::MissingGreeting,
                mark,
                format!("{verb} sent before the greeting"),
            );
        }
        let mut command = Command::new(verb.clone(), args.clone()).sent(text.as_str());
        let idx = self.t.exchanges.len();
        match Verb::parse(&verb) {
            Some(Verb::User) => self.t.add_auth(
                Auth {
                    username: Some(args.clone()),
                    password: None,
                    ..Auth::new("USER/PASS", idx)
                },
                mark,
            ),
            Some(Verb::Pass) => {
                command.args = "<redacted>".into();
                command.secret_args = Some(Secret::new(args.clone()));
                let after_user = self
                    .t
                    .auth()
                    .last()
                    .is_some_and(|a| a.mechanism == "USER/PASS" && a.password.is_none());
                match after_user {
                    true => {
                        self.t.update_last_auth(|a| {
                            a.password = Some(Secret::new(args.clone()));
                            a.exchange = idx;
                        });
                    }
                    false => self.t.add_auth(
                        Auth {
                            username: None,
                            password: Some(Secret::new(args.clone())),
                            ..Auth::new("USER/PASS", idx)
                        },
                        mark,
                    ),
                }
            }
            Some(Verb::Apop) => {
                let (name, digest) = args.split_once([' ', '\t']).unwrap_or((args.as_str(), ""));
                command.args = format!("{name} <redacted>");
                command.secret_args = Some(Secret::new(args.clone()));
                self.t.add_auth(
                    Auth {
                        username: Some(name.to_string()),
                        password: Some(Secret::new(digest)),
                        ..Auth::new("APOP", idx)
                    },
                    mark,
                );
            }
            Some(Verb::Auth) if !args.trim().is_empty() => {
                let mut it = args.trim().splitn(2, [' ', '\t']);
                let mechanism = it.next().unwrap_or("").to_ascii_uppercase();
                let initial = it.next().map(str::trim).filter(|s| !s.is_empty());
                let mut auth = Auth::new(mechanism.clone(), idx);
                if let Some(initial) = initial {
                    command.args = format!("{mechanism} <redacted>");
                    command.secret_args = Some(Secret::new(args.clone()));
                    if initial != "=" {
                        sasl_response(&mut auth, initial);
                    }
                }
                self.t.add_auth(auth, mark);
                self.client = Client::Sasl;
            }
            _ => {}
        }
        let pipelined = !self.pending.is_empty();
        self.t.push_exchange(Exchange::of(mark, command, pipelined));
        self.t.in_flight(&mut self.pending, idx, mark);
    }

    // ----- server ------------------------------------------------------------------------

    fn server_bytes(&mut self, mut data: &[u8], mark: Mark) {
        while !data.is_empty() {
            if self.client == Client::Tls {
                return;
            }
            if let Some(body) = self.body {
                let n = self.body_bytes(body, data, mark);
                data = &data[n..];
                continue;
            }
            let (n, done) = self.server_line.take(data, mark, self.bounds.max_line);
            data = &data[n..];
            if done {
                let start = self.server_line.start;
                let overlong = self.server_line.overlong;
                let raw = std::mem::take(&mut self.server_line.buf);
                self.server_line.clear();
                match self.unseen_command.take() {
                    Some(ok) if !overlong && !is_status(&raw) => self.unseen_body(ok, &raw, start),
                    _ => self.status_line(&raw, overlong, start),
                }
            }
        }
    }

    /// Server-only capture: the line after an `+OK` whose command was not captured is not a
    /// status line, so the `+OK` began a multi-line answer. A message (RETR/TOP) when the
    /// `+OK` counts octets or the first line is a header field; a listing otherwise.
    fn unseen_body(&mut self, (idx, ok_mark, octets): (usize, Mark, bool), raw: &[u8], mark: Mark) {
        let body = if octets || looks_like_header(raw) {
            self.building = Some(Building::new(ok_mark));
            Body::Message("pop3-retr")
        } else {
            Body::Listing
        };
        self.pending.push_front(idx);
        self.body = Some(body);
        self.unstuff.reset();
        let n = self.body_bytes(body, raw, mark);
        if n < raw.len() {
            // The answer ended inside this line (".\r\n"): the rest is a status line.
            self.server_bytes(&raw[n..], mark);
        }
    }

    /// Bytes of a multi-line answer; returns bytes consumed.
    fn body_bytes(&mut self, body: Body, data: &[u8], mark: Mark) -> usize {
        let max = self.bounds.max_message;
        let ended = match body {
            Body::Message(_) => {
                let building = &mut self.building;
                self.unstuff.feed(data, usize::MAX, |piece| {
                    if let Some(b) = building.as_mut() {
                        b.body.push(piece, max);
                    }
                })
            }
            Body::Listing => {
                let line = &mut self.listing_line;
                let cap = self.bounds.max_line;
                let mut finished_lines = Vec::new();
                let ended = self.unstuff.feed(data, usize::MAX, |piece| {
                    // A piece may hold several lines.
                    for part in piece.split_inclusive(|&b| b == b'\n') {
                        let room = cap.saturating_sub(line.len());
                        crate::copies::count(crate::copies::Site::Line, part.len().min(room));
                        line.extend_from_slice(&part[..part.len().min(room)]);
                        if part.ends_with(b"\n") {
                            finished_lines
                                .push(String::from_utf8_lossy(strip_eol(line)).into_owned());
                            line.clear();
                        }
                    }
                });
                if let Some(&idx) = self.pending.front() {
                    self.t.extend_reply(idx, finished_lines, mark);
                }
                ended
            }
        };
        match ended {
            Some(n) => {
                self.end_body(body, mark);
                n
            }
            None => data.len(),
        }
    }

    fn end_body(&mut self, body: Body, mark: Mark) {
        self.body = None;
        self.unstuff.reset();
        self.listing_line.clear();
        let Some(idx) = self.pending.pop_front() else {
            return;
        };
        match body {
            Body::Message(origin) => {
                if let Some(b) = self.building.take() {
                    self.store_message(b, origin, false, idx);
                }
            }
            Body::Listing => {
                if self.verb_of(idx) == Some(Verb::Capa)
                    && let Some(r) = self.t.exchanges[idx].replies.last()
                {
                    let caps: Vec<String> = r.lines.iter().skip(1).cloned().collect();
                    self.t.set_capabilities(caps.into_iter(), mark);
                }
            }
        }
        self.t.complete(idx);
    }

    fn store_message(&mut self, b: Building, origin: &'static str, cut: bool, exchange: usize) {
        let index = self.message_count;
        self.message_count += 1;
        self.t.add_message(Message {
            incomplete: b.incomplete || cut,
            ..b.body
                .into_message(origin, b.mark, exchange, self.bounds.max_message)
        });
        if self.t.exchanges.get(exchange).is_some() {
            self.t.set_message(exchange, Some(index));
        }
    }

    /// The standard verb of exchange `idx`'s command, if it has one.
    fn verb_of(&self, idx: usize) -> Option<Verb> {
        self.t.exchanges[idx]
            .command
            .as_ref()
            .and_then(|c| Verb::parse(&c.verb))
    }

    fn args_of(&self, idx: usize) -> String {
        self.t.exchanges[idx]
            .command
            .as_ref()
            .map_or(String::new(), |c| c.args.clone())
    }

    fn status_line(&mut self, raw: &[u8], overlong: bool, mark: Mark) {
        let line = strip_eol(raw);
        let text = String::from_utf8_lossy(line).into_owned();
        let code = if text.starts_with("+OK") {
            "+OK"
        } else if text.starts_with("-ERR") {
            "-ERR"
        } else if text.starts_with('+') {
            "+"
        } else {
            ""
        };
        if self.server_resync {
            if code.is_empty() {
                return;
            }
            self.server_resync = false;
        }
        if code.is_empty() {
            self.anomaly(Anomaly::MalformedResponse, mark, truncate(&text, 80));
            return;
        }
        if overlong || raw.len() > MAX_STATUS_LINE {
            self.anomaly(
                Anomaly::LineTooLong,
                mark,
                format!("status line of {}+ bytes (limit 512)", raw.len()),
            );
        }
        // RFC 2449 response code in brackets after the status indicator.
        let resp_code = text
            .get(code.len()..)
            .map(str::trim_start)
            .filter(|r| r.starts_with('['))
            .and_then(|r| r[1..].split(']').next())
            .map(str::to_string);
        let reply = Reply {
            mark,
            code: code.to_string(),
            enhanced: resp_code,
            lines: vec![text.clone()],
            summary: None,
            headers: None,
            latency_ms: None,
        };
        let Some(&idx) = self.pending.front() else {
            let greeting = !self.greeting_seen && self.t.exchanges.is_empty();
            self.greeting_seen = true;
            if !greeting && self.offsets[0] > 0 {
                self.anomaly(
                    Anomaly::ResponseWithoutCommand,
                    mark,
                    format!("{} with no command waiting", truncate(&text, 60)),
                );
            }
            let idx = self
                .t
                .push_exchange(Exchange::unsolicited(mark, vec![reply]));
            // Nothing from the client so far: its commands may not be in the capture at all
            // (a one-sided capture). Whether this answer goes on is told by the next line.
            if !greeting && self.offsets[0] == 0 && code == "+OK" {
                let octets = text.to_ascii_lowercase().contains("octets");
                self.unseen_command = Some((idx, mark, octets));
            }
            // Picked up mid-stream, before any answer met its command: this may answer a
            // command sent before the capture began, multi-line perhaps. What follows up to
            // the next status line is its rest, skipped quietly.
            if self.midstream && !self.answered && self.unseen_command.is_none() {
                self.server_resync = true;
            }
            return;
        };
        self.greeting_seen = true;
        self.answered = true;
        let verb = self.verb_of(idx);
        let args = self.args_of(idx);
        self.t.add_reply(idx, reply);
        if code == "+" {
            if verb != Some(Verb::Auth) {
                self.anomaly(Anomaly::UnexpectedContinuation, mark, truncate(&text, 60));
                if let Some(i) = self.pending.pop_front() {
                    self.t.complete(i);
                }
            }
            return;
        }
        let ok = code == "+OK";
        match verb {
            Some(Verb::Pass | Verb::Apop | Verb::Auth)
                if !(verb == Some(Verb::Auth) && args.trim().is_empty()) =>
            {
                self.t.update_auth_of(idx, |a| a.success = Some(ok));
                if self.client == Client::Sasl {
                    self.client = Client::Command;
                }
                if ok {
                    self.failed_logins = 0;
                } else {
                    self.failed_logins += 1;
                    if self.failed_logins >= GUESSING_RUN {
                        let detail = format!("{} failed logins in a row", self.failed_logins);
                        self.t.anomaly_once(event::Anomaly::new(
                            Anomaly::PasswordGuessing,
                            mark,
                            detail,
                        ));
                    }
                }
            }
            Some(Verb::User) if !ok => {
                self.t.update_auth_of(idx, |a| a.success = Some(false));
            }
            Some(Verb::Stls) if ok => {
                self.client = Client::Tls;
                self.t
                    .set_tls(Tls::new("starttls", mark, self.offsets[0], self.offsets[1]));
            }
            Some(Verb::Stls) => self.t.starttls_refused(),
            _ => {}
        }
        let body = if ok { multiline(verb, &args) } else { None };
        match body {
            Some(body) => {
                self.body = Some(body);
                self.unstuff.reset();
                if let Body::Message(_) = body {
                    let mut b = Building::new(mark);
                    if let Some(n) = announced_octets(&text) {
                        b.body.expect(n);
                    }
                    self.building = Some(b);
                }
            }
            None => {
                if let Some(i) = self.pending.pop_front() {
                    self.t.complete(i);
                }
            }
        }
    }
}

/// Whether a positive answer to this command is multi-line (RFC 1939, 2449, 5034).
fn multiline(verb: Option<Verb>, args: &str) -> Option<Body> {
    let no_args = args.trim().is_empty();
    match verb? {
        Verb::Retr => Some(Body::Message("pop3-retr")),
        Verb::Top => Some(Body::Message("pop3-top")),
        Verb::List | Verb::Uidl if no_args => Some(Body::Listing),
        Verb::Capa => Some(Body::Listing),
        // AUTH without a mechanism lists the mechanisms (common extension).
        Verb::Auth if no_args => Some(Body::Listing),
        _ => None,
    }
}

/// A POP3 status line: `+OK`, `-ERR` or a `+` continuation.
fn is_status(raw: &[u8]) -> bool {
    raw.starts_with(b"+") || raw.starts_with(b"-ERR")
}

/// `Name: value` with a field name of printable characters (RFC 5322 2.2).
fn looks_like_header(raw: &[u8]) -> bool {
    let name_end = raw.iter().position(|&b| b == b':');
    name_end.is_some_and(|n| n > 0 && raw[..n].iter().all(|b| (33..=126).contains(b)))
}

/// The size a `+OK` answer to RETR announces, as RFC 1939 writes it ("+OK 120 octets", or
/// "(120 octets)"): a number directly followed by the word "octets".
fn announced_octets(text: &str) -> Option<u64> {
    let mut words = text.split_ascii_whitespace().peekable();
    while let Some(w) = words.next() {
        if let Ok(n) = w.trim_start_matches('(').parse::<u64>()
            && words
                .peek()
                .and_then(|next| next.get(..6))
                .is_some_and(|word| word.eq_ignore_ascii_case("octets"))
        {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::testkit::{BOUNDS, verbs};
    use Side::{Client as C, Server as S};

    /// The announced size is what the message holds in memory while it arrives, where
    /// unannounced pieces would take 124 KiB for it.
    #[test]
    fn a_retr_holds_the_announced_octets() {
        let mut d = Pop3::new(BOUNDS, false);
        d.on_data(S, b"+OK ready\r\n", Mark::default());
        d.on_data(C, b"RETR 1\r\n", Mark::default());
        d.on_data(S, b"+OK 100000 octets\r\n", Mark::default());
        for piece in crate::proto::testkit::hundred_k().chunks(1000) {
            d.on_data(S, piece, Mark::default());
        }
        assert_eq!(d.held_bytes(), 100_000);
    }

    fn run(steps: &[(Side, &[u8])]) -> Transcript {
        crate::proto::testkit::run(Box::new(Pop3::new(BOUNDS, false)), steps, &[])
    }

    /// RFC 1939 section 10, the example POP3 session.
    #[test]
    fn rfc1939_example() {
        let t = run(&[
            (
                S,
                b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
            ),
            (C, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
            (S, b"+OK mrose's maildrop has 2 messages (320 octets)\r\n"),
            (C, b"STAT\r\n"),
            (S, b"+OK 2 320\r\n"),
            (C, b"LIST\r\n"),
            (S, b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"),
            (C, b"RETR 1\r\n"),
            (
                S,
                b"+OK 120 octets\r\nSubject: one\r\n\r\n..dot line\r\n.\r\n",
            ),
            (C, b"DELE 1\r\n"),
            (S, b"+OK message 1 deleted\r\n"),
            (C, b"RETR 2\r\n"),
            (S, b"+OK 200 octets\r\nSubject: two\r\n\r\nbody\r\n.\r\n"),
            (C, b"DELE 2\r\n"),
            (S, b"+OK message 2 deleted\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"+OK dewey POP3 server signing off (maildrop empty)\r\n"),
        ]);
        let v = verbs(&t);
        assert_eq!(v.len(), 9);
        assert_eq!(v[3], ("LIST".into(), vec!["+OK".into()]));
        assert_eq!(t.exchanges[3].replies[0].lines[1..], ["1 120", "2 200"]);
        assert_eq!(t.messages.len(), 2);
        assert_eq!(t.messages[0].bytes, b"Subject: one\r\n\r\n.dot line\r\n");
        assert_eq!(t.messages[0].origin, "pop3-retr");
        assert_eq!(t.exchanges[4].message, Some(0));
        assert_eq!(t.auth()[0].mechanism, "APOP");
        assert_eq!(t.auth()[0].username.as_deref(), Some("mrose"));
        assert_eq!(t.auth()[0].success, Some(true));
        assert_eq!(
            t.exchanges[1].command.as_ref().unwrap().args,
            "mrose <redacted>"
        );
        assert!(t.anomalies().is_empty(), "{:?}", t.anomalies());
    }

    /// RFC 2449: CAPA, pipelined commands, multi-line depends on the arguments.
    #[test]
    fn rfc2449_capa_and_pipelining() {
        let t = run(&[
            (S, b"+OK ready\r\n"),
            (C, b"CAPA\r\n"),
            (S, b"+OK Capability list follows\r\nTOP\r\nUSER\r\nPIPELINING\r\nRESP-CODES\r\n.\r\n"),
            (C, b"USER alice\r\nPASS secret\r\nLIST 1\r\nUIDL\r\nTOP 1 0\r\n"),
            (S, b"+OK\r\n+OK [IN-USE] hmm\r\n+OK 1 120\r\n+OK\r\n1 abc\r\n.\r\n+OK\r\nSubject: x\r\n\r\n.\r\n"),
        ]);
        assert_eq!(
            t.capabilities(),
            vec!["TOP", "USER", "PIPELINING", "RESP-CODES"]
        );
        let v = verbs(&t);
        assert_eq!(v.len(), 7);
        assert_eq!(t.exchanges[4].replies[0].lines, vec!["+OK 1 120"]);
        assert_eq!(t.exchanges[5].replies[0].lines[1..], ["1 abc"]);
        assert_eq!(
            t.exchanges[3].replies[0].enhanced.as_deref(),
            Some("IN-USE")
        );
        assert_eq!(t.messages[0].origin, "pop3-top");
        assert_eq!(t.auth()[0].username.as_deref(), Some("alice"));
        assert_eq!(t.auth()[0].password.as_ref().unwrap().expose(), "secret");
        assert_eq!(t.exchanges[3].command.as_ref().unwrap().args, "<redacted>");
        assert!(t.exchanges[4].pipelined);
    }

    #[test]
    fn auth_plain_with_continuation_and_guessing() {
        let t = run(&[
            (S, b"+OK ready\r\n"),
            (C, b"AUTH PLAIN\r\n"),
            (S, b"+ \r\n"),
            (C, b"AGFsaWNlAFdvbmRlcmxhbmQtMjAyNA==\r\n"),
            (S, b"+OK Logged in.\r\n"),
            (C, b"USER bob\r\nPASS a\r\n"),
            (S, b"+OK\r\n-ERR [AUTH] no\r\n"),
            (C, b"PASS b\r\n"),
            (S, b"-ERR [AUTH] no\r\n"),
            (C, b"PASS c\r\n"),
            (S, b"-ERR [AUTH] no\r\n"),
        ]);
        assert_eq!(
            verbs(&t)[1],
            ("AUTH".into(), vec!["+".into(), "+OK".into()])
        );
        assert_eq!(t.auth()[0].username.as_deref(), Some("alice"));
        assert_eq!(t.auth()[0].success, Some(true));
        assert_eq!(t.exchanges[1].client_lines[0].text, "<redacted>");
        assert!(
            t.anomalies()
                .iter()
                .any(|a| a.name() == "password-guessing")
        );
    }

    #[test]
    fn multiline_end_is_the_dot_not_the_octet_count() {
        let t = run(&[
            (S, b"+OK\r\n"),
            (C, b"RETR 1\r\n"),
            // The count says 5, the message is longer: the dot line decides.
            (S, b"+OK 5 octets\r\nline one\r\nline two\r\n.\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"+OK bye\r\n"),
        ]);
        assert_eq!(t.messages[0].bytes, b"line one\r\nline two\r\n");
        assert_eq!(verbs(&t)[2].0, "QUIT");
    }

    #[test]
    fn stls_stops_parsing() {
        let t = run(&[
            (S, b"+OK\r\n"),
            (C, b"STLS\r\n"),
            (S, b"+OK Begin TLS negotiation\r\n"),
            (C, b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"),
            (S, b"\x16\x03\x03junk\r\n+OK not parsed\r\n"),
        ]);
        assert_eq!(t.exchanges.len(), 2);
        assert!(t.tls().is_some());
    }

    /// Issue 9, "greeting missing": a capture that starts anywhere in a real POP3 session
    /// (picked up mid-stream) gives no false anomaly about replies without a command, and
    /// every RETR whose command is inside the capture keeps its message.
    #[test]
    fn capture_cut_at_every_point() {
        const SESSION: &[(Side, &[u8])] = &[
            (S, b"+OK Dovecot ready.\r\n"),
            (C, b"CAPA\r\n"),
            (S, b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\n.\r\n"),
            (C, b"USER alice\r\n"),
            (S, b"+OK\r\n"),
            (C, b"PASS s3cr3t\r\n"),
            (S, b"+OK Logged in.\r\n"),
            (C, b"STAT\r\n"),
            (S, b"+OK 2 300\r\n"),
            (C, b"LIST\r\n"),
            (S, b"+OK 2 messages:\r\n1 120\r\n2 180\r\n.\r\n"),
            (C, b"RETR 1\r\n"),
            (
                S,
                b"+OK 120 octets\r\nSubject: one\r\n\r\n..dot\r\nbody\r\n.\r\n",
            ),
            (C, b"TOP 2 0\r\n"),
            (S, b"+OK\r\nSubject: two\r\n\r\n.\r\n"),
            (C, b"QUIT\r\n"),
            (S, b"+OK Logging out.\r\n"),
        ];
        let whole = run(SESSION);
        assert!(whole.anomalies().is_empty(), "{:?}", whole.anomalies());
        assert_eq!(whole.messages.len(), 2);
        let total: usize = SESSION.iter().map(|s| s.1.len()).sum();
        let retr_at: usize = SESSION.iter().take(11).map(|s| s.1.len()).sum();
        for cut in 0..=total {
            let steps = crate::proto::testkit::cut_before(SESSION, cut);
            let t = crate::proto::testkit::run(Box::new(Pop3::new(BOUNDS, true)), &steps, &[]);
            let names: Vec<&str> = t.anomalies().iter().map(|a| a.name()).collect();
            assert!(names.is_empty(), "cut at {cut}: {names:?}");
            if cut <= retr_at {
                assert!(
                    t.messages
                        .iter()
                        .any(|m| m.bytes.starts_with(b"Subject: one")),
                    "cut at {cut}: RETR 1 lost its message"
                );
            }
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const SESSION: &[(Side, &[u8])] = &[
            (S, b"+OK ready <1.2@host>\r\n"),
            (C, b"CAPA\r\nUSER alice\r\nPASS pw\r\n"),
            (S, b"+OK\r\nUSER\r\nTOP\r\n.\r\n+OK\r\n+OK in\r\n"),
            (C, b"LIST\r\nRETR 1\r\nTOP 1 1\r\nQUIT\r\n"),
            (S, b"+OK\r\n1 20\r\n.\r\n+OK\r\nSubject: a\r\n\r\n..x\r\n.\r\n+OK\r\nSubject: a\r\n\r\n.\r\n+OK bye\r\n"),
        ];

        /// The hand-written session, byte by byte and in pairs (cutting every CRLF).
        #[test]
        fn fixed_session_cut_small() {
            let whole = run(SESSION);
            assert_eq!(
                &whole.messages[0].bytes.to_vec()[..],
                &b"Subject: a\r\n\r\n.x\r\n"[..]
            );
            for cuts in [&[1][..], &[2], &[3, 1]] {
                let split =
                    crate::proto::testkit::run(Box::new(Pop3::new(BOUNDS, false)), SESSION, cuts);
                let fp = crate::proto::testkit::fingerprint;
                assert_eq!(fp(&split), fp(&whole));
            }
        }

        proptest! {
            /// Any generated session (pipelined commands, RETR and TOP with 8-bit dot-stuffed
            /// bodies, listings): the same transcript however each side's bytes are cut.
            #[test]
            fn chunking_does_not_matter(
                script in crate::proto::testkit::pop3_script(),
                cuts in crate::proto::testkit::cuts(),
            ) {
                crate::proto::testkit::check_chunking(|| Box::new(Pop3::new(BOUNDS, false)), &script, &cuts)?;
            }

            #[test]
            fn hostile_input_is_bounded(
                chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..40)
            ) {
                let b = crate::proto::testkit::TIGHT;
                crate::proto::testkit::hostile(Box::new(Pop3::new(b, false)), &b, &chunks, 5);
            }
        }
    }

    #[test]
    fn the_size_a_retr_answer_announces() {
        assert_eq!(announced_octets("120 octets"), Some(120));
        assert_eq!(
            announced_octets("message follows (4711 Octets)"),
            Some(4711)
        );
        assert_eq!(announced_octets("2 messages (320 octets)"), Some(320));
        assert_eq!(announced_octets("message follows"), None);
        assert_eq!(announced_octets("99999999999999999999999 octets"), None);
    }
}
