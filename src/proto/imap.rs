//! IMAP dissector (RFC 9051 / 3501 with LITERAL+ / LITERAL- (RFC 7888), BINARY (3516),
//! IDLE (2177), SASL-IR (4959), STARTTLS, COMPRESS (4978), ID, ENABLE, NAMESPACE): both byte
//! streams of one connection in, a [`Transcript`] out. Sans-IO.
//!
//! Framing before grammar: each direction is cut into *logical lines* — text pieces and
//! literals (`{n}`, `{n+}`, `{n-}`, `~{n}`), any number of them — before anything is parsed,
//! so literal data can never be read as a command or response. A literal's announced size is
//! never trusted for allocation: what arrives is stored up to the message limit, the rest only
//! counted and hashed.
//!
//! ```text
//!  client line ends in {n}  ──▶ Hold (bytes kept) ──server "+"──▶ Literal(n) ──▶ rest of line
//!                                  (the "+" waits with the line; first reply of its exchange)
//!                                  └──tagged NO/BAD──▶ literal refused, held bytes are commands
//!  client line ends in {n+} ──▶ Literal(n) at once (LITERAL+)
//!  tag AUTHENTICATE ──▶ Sasl (lines are SASL responses) ──tagged──▶ Command
//!  tag IDLE ──"+"──▶ Idle ──DONE──▶ Command;  tag STARTTLS/COMPRESS ──OK──▶ nothing parsed
//!  server: "+ …" continuation, "* …" untagged (to the oldest command in flight),
//!          "tag OK|NO|BAD" completes the command with that tag
//! ```

use super::event::{self, Auth, Mark, Secret, Side, Tls, Upgrade, sasl_response};
use super::imap_grammar::{self as grammar, Value, Words};
use super::line::{MessageBytes, strip_eol, truncate};
pub use super::transcript::{ClientLine, Command, Exchange, Mailbox, Message, Reply, Transcript};
use super::vocab::imap::{Anomaly, Verb};
use base64::Engine;
use std::collections::VecDeque;

pub use super::Bounds;

/// Lines longer than this are reported (RFC 7162 3.2.1 recommends clients keep to 8192).
const LONG_LINE: usize = 8192;
/// Client bytes held while a synchronising literal waits for the server's "+"; past this
/// the client is taken not to be waiting.
const MAX_HELD: usize = 64 << 10;

/// One literal of a logical line.
#[derive(Clone, Debug)]
struct Literal {
    announced: u64,
    /// The bytes received so far (`body.size` of them, gaps included).
    body: MessageBytes,
    /// A gap or the end of the connection cut it short.
    cut: bool,
    mark: Mark,
}

/// A logical line being assembled: text pieces and literals alternate; the text before a
/// literal ends with its `{n}` marker.
#[derive(Default)]
struct Logical {
    texts: Vec<Vec<u8>>,
    literals: Vec<Literal>,
    current: Vec<u8>,
    start: Mark,
    overlong: bool,
    /// Bytes of the whole logical line outside literals.
    len: usize,
    /// Literals and text pieces past the line's bounds: framed (their bytes skipped) but
    /// not kept.
    dropped: u64,
    /// The literal being received is one of those.
    skipping: bool,
}

impl Logical {
    fn is_empty(&self) -> bool {
        self.texts.is_empty() && self.current.is_empty() && self.literals.is_empty()
    }
}

/// Literal marker at the end of a line: (size, non-synchronising).
fn literal_marker(line: &[u8]) -> Option<(u64, bool)> {
    let line = strip_eol(line);
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|b| *b == b'{')?;
    let mut inner = &body[open + 1..];
    let non_sync = inner.ends_with(b"+") || inner.ends_with(b"-");
    if non_sync {
        inner = &inner[..inner.len() - 1];
    }
    if inner.is_empty() || inner.len() > 20 || !inner.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(inner).ok()?.parse().ok()?;
    Some((n, non_sync))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Line,
    /// Waiting for the server's "+" before a synchronising literal.
    Hold,
    Literal {
        remaining: u64,
    },
    Sasl,
    Idle,
    /// TLS: nothing more is parsed (the pipeline reads what it can of it).
    Opaque,
    /// COMPRESS=DEFLATE was accepted: the rest of the bytes at hand are compressed. They
    /// are left to the pipeline, which inflates them (and all that follows) and hands the
    /// result back: see `Event::Upgrade`.
    Switching,
}

/// The IMAP dissector for one connection.
pub struct Imap {
    bounds: Bounds,
    /// Everything the session told so far (see `Dissector`, which hands it out).
    pub(super) t: Transcript,
    client: Mode,
    server: Mode,
    cl: Logical,
    sl: Logical,
    held: Vec<u8>,
    held_mark: Mark,
    /// Tag of the command whose synchronising literal is awaited.
    held_tag: Option<String>,
    /// The server's go-aheads ("+") for the literals of the command line still being
    /// framed: they join its exchange, first, once the line is complete (or refused).
    held_replies: Vec<Reply>,
    /// Exchanges in flight, oldest first.
    pending: VecDeque<usize>,
    greeting_seen: bool,
    midstream: bool,
    /// A completion was paired with its command: from here on, a completion for a tag not
    /// in flight is an anomaly even in a capture that started mid-session.
    paired: bool,
    client_resync: bool,
    server_resync: bool,
    offsets: [u64; 2],
    message_count: usize,
    login_disabled: bool,
    /// Size of the synchronising literal awaiting the server's "+".
    pending_literal: Option<u64>,
    /// Inside `stop_waiting`: bytes held again wait for its loop.
    releasing: bool,
    /// Tag → exchange of the commands in flight (a lookup per completion, not a scan).
    tags: std::collections::HashMap<String, VecDeque<usize>>,
    /// And back: exchange → tag, for the commands in flight (both maps stay as small as
    /// the queue of commands in flight).
    tag_of: std::collections::HashMap<usize, String>,
}

impl Imap {
    pub fn new(bounds: Bounds, midstream: bool) -> Imap {
        Imap {
            bounds,
            t: Transcript::new(bounds),
            client: Mode::Line,
            server: Mode::Line,
            cl: Logical::default(),
            sl: Logical::default(),
            held: Vec::new(),
            held_mark: Mark::default(),
            held_tag: None,
            held_replies: Vec::new(),
            pending: VecDeque::new(),
            greeting_seen: false,
            midstream,
            paired: false,
            client_resync: midstream,
            server_resync: midstream,
            offsets: [0, 0],
            message_count: 0,
            login_disabled: false,
            pending_literal: None,
            releasing: false,
            tags: std::collections::HashMap::new(),
            tag_of: std::collections::HashMap::new(),
        }
    }

    fn anomaly(&mut self, kind: Anomaly, mark: Mark, detail: impl Into<String>) {
        self.t.anomaly(event::Anomaly::new(kind, mark, detail));
    }

    /// Bytes of literals in flight kept for decoding.
    pub fn held_bytes(&self) -> usize {
        [&self.cl, &self.sl]
            .iter()
            .flat_map(|l| l.literals.iter())
            .map(|l| l.body.held())
            .sum()
    }

    /// Stops keeping the bytes of the literals in flight (memory budget).
    pub fn shed(&mut self) {
        for l in self
            .cl
            .literals
            .iter_mut()
            .chain(self.sl.literals.iter_mut())
        {
            l.body.shed();
        }
    }

    pub fn on_data(&mut self, side: Side, data: &[u8], mark: Mark) {
        let d = match side {
            Side::Client => 0,
            Side::Server => 1,
        };
        self.offsets[d] += data.len() as u64;
        match side {
            Side::Client => self.client_bytes(data, mark),
            Side::Server => self.server_bytes(data, mark),
        }
    }

    pub fn on_gap(&mut self, side: Side, len: u64, mark: Mark) {
        let (mode, logical) = match side {
            Side::Client => {
                self.offsets[0] += len;
                (&mut self.client, &mut self.cl)
            }
            Side::Server => {
                self.offsets[1] += len;
                (&mut self.server, &mut self.sl)
            }
        };
        match *mode {
            Mode::Opaque => return,
            Mode::Literal { remaining } => {
                let lost = len.min(remaining);
                if let Some(l) = logical.literals.last_mut() {
                    l.cut = true;
                    l.body.size += lost;
                }
                *mode = if remaining > lost {
                    Mode::Literal {
                        remaining: remaining - lost,
                    }
                } else {
                    Mode::Line
                };
                self.anomaly(
                    Anomaly::LiteralCutShort,
                    mark,
                    format!("{len} bytes of a literal missing"),
                );
                if len <= lost {
                    return;
                }
            }
            _ => {}
        }
        // Outside a literal: the current line is lost; resynchronise on the next good line.
        let (mode, logical) = match side {
            Side::Client => (&mut self.client, &mut self.cl),
            Side::Server => (&mut self.server, &mut self.sl),
        };
        *logical = Logical::default();
        if matches!(*mode, Mode::Literal { .. } | Mode::Line | Mode::Hold) {
            // A held command line is gone with the gap: what follows is parsed afresh.
            *mode = Mode::Line;
        }
        if side == Side::Client {
            self.held.clear();
            self.held_tag = None;
            self.pending_literal = None;
            // The command they answered is lost with the gap; the go-aheads are still shown.
            let replies = std::mem::take(&mut self.held_replies);
            if !replies.is_empty() {
                self.t
                    .push_exchange(Exchange::unsolicited(replies[0].mark, replies));
            }
        }
        match side {
            Side::Client => self.client_resync = true,
            Side::Server => self.server_resync = true,
        }
        self.anomaly(Anomaly::Gap, mark, format!("{len} bytes missing"));
        if let Some(&i) = self.pending.front() {
            self.t.set_incomplete(i);
        }
    }

    /// STARTTLS was accepted but the bytes after it are plain text (the pipeline looked):
    /// read on as text.
    pub fn resume_text(&mut self) {
        if self.client == Mode::Opaque {
            self.client = Mode::Line;
        }
        if self.server == Mode::Opaque {
            self.server = Mode::Line;
        }
    }

    /// Both directions ended: messages cut short are stored, exchanges still waiting are
    /// marked incomplete, and the end is recorded (the last events).
    pub fn end(&mut self, mark: Mark) {
        // Bytes held for a "+" that never came (a one-sided capture): the literal they are.
        while self.client == Mode::Hold && !self.held.is_empty() {
            self.stop_waiting();
        }
        if [&self.cl, &self.sl]
            .iter()
            .any(|l| l.literals.iter().any(|l| l.body.size < l.announced))
        {
            self.anomaly(
                Anomaly::LiteralCutShort,
                mark,
                "the connection ended inside a literal",
            );
        }
        // A command cut short inside one of its literals: shown as far as it came, with the
        // go-aheads it got.
        if matches!(self.client, Mode::Hold | Mode::Literal { .. }) && !self.cl.literals.is_empty()
        {
            let mut partial = std::mem::take(&mut self.cl);
            for l in &mut partial.literals {
                l.cut |= l.body.size < l.announced;
            }
            if self.client == Mode::Hold {
                // Never sent: the server's "+" did not come.
                partial.literals.pop();
            }
            self.client = Mode::Line;
            self.client_line(partial);
        }
        self.t.end(std::mem::take(&mut self.pending));
    }

    /// Ends the session and hands over the transcript (for reading it directly).
    pub fn finish(mut self, mark: Mark) -> Transcript {
        self.end(mark);
        self.t.finish();
        self.t
    }

    // ----- framing -------------------------------------------------------------------------

    /// Feeds bytes of one direction through the framer; complete logical lines come back.
    fn frame(
        mode: &mut Mode,
        logical: &mut Logical,
        data: &[u8],
        mark: Mark,
        bounds: Bounds,
    ) -> (usize, Option<Logical>, Option<(u64, bool)>) {
        match *mode {
            Mode::Literal { remaining } => {
                let n = remaining.min(data.len() as u64) as usize;
                if !logical.skipping
                    && let Some(l) = logical.literals.last_mut()
                {
                    l.body.push(&data[..n], bounds.max_message);
                }
                let remaining = remaining - n as u64;
                *mode = if remaining == 0 {
                    // Whole: its pieces become one buffer now (the grammar reads the line's
                    // literals in place, and a message literal is handed over as it is).
                    if let Some(l) = logical.literals.last_mut() {
                        l.body.join();
                    }
                    Mode::Line
                } else {
                    Mode::Literal { remaining }
                };
                (n, None, None)
            }
            _ => {
                if logical.is_empty() {
                    logical.start = mark;
                }
                let (n, done) = match memchr::memchr(b'\n', data) {
                    Some(i) => (i + 1, true),
                    None => (data.len(), false),
                };
                let room = bounds.max_line.saturating_sub(logical.current.len());
                if n > room {
                    logical.overlong = true;
                }
                crate::copies::count(crate::copies::Site::Line, n.min(room));
                logical.current.extend_from_slice(&data[..n.min(room)]);
                logical.len += n;
                if !done {
                    return (n, None, None);
                }
                let text = std::mem::take(&mut logical.current);
                let marker = if *mode == Mode::Line {
                    literal_marker(&text)
                } else {
                    None
                };
                // The first piece (tag and command) is always kept; later ones while the line
                // stays within its bounds.
                if logical.texts.is_empty() || logical.len <= bounds.max_imap_line {
                    logical.texts.push(text);
                } else {
                    logical.dropped += 1;
                }
                match marker {
                    Some((size, non_sync)) => {
                        logical.skipping = logical.literals.len() >= bounds.max_imap_literals
                            || logical.len > bounds.max_imap_line;
                        if logical.skipping {
                            logical.dropped += 1;
                        } else {
                            let mut body = MessageBytes::default();
                            body.expect(size);
                            logical.literals.push(Literal {
                                announced: size,
                                body,
                                cut: false,
                                mark,
                            });
                        }
                        (n, None, Some((size, non_sync)))
                    }
                    None => (n, Some(std::mem::take(logical)), None),
                }
            }
        }
    }

    fn client_bytes(&mut self, mut data: &[u8], mark: Mark) {
        while !data.is_empty() {
            match self.client {
                Mode::Opaque => {
                    // TLS: the pipeline reads it (transform::tls), and hands over the plaintext.
                    return;
                }
                Mode::Hold => {
                    if self.held.is_empty() {
                        self.held_mark = mark;
                    }
                    crate::copies::count(crate::copies::Site::Held, data.len());
                    self.held.extend_from_slice(data);
                    if self.held.len() > MAX_HELD && !self.releasing {
                        // Clients wait for "+" before a synchronising literal; this one
                        // did not (or the server's side is not in the capture).
                        self.stop_waiting();
                    }
                    return;
                }
                _ => {}
            }
            let (n, line, literal) =
                Self::frame(&mut self.client, &mut self.cl, data, mark, self.bounds);
            data = &data[n..];
            if let Some((size, non_sync)) = literal {
                if non_sync || size == 0 {
                    self.client = if size == 0 {
                        Mode::Line
                    } else {
                        Mode::Literal { remaining: size }
                    };
                } else {
                    // Synchronising: the client waits for "+" (or a refusal).
                    self.held_tag = self.cl.texts.first().and_then(|t| first_token(t));
                    self.client = Mode::Hold;
                    self.held.clear();
                    self.pending_literal = Some(size);
                }
            }
            if let Some(line) = line {
                self.client_line(line);
            }
        }
    }

    fn server_bytes(&mut self, mut data: &[u8], mark: Mark) {
        while !data.is_empty() {
            if self.server == Mode::Opaque {
                return;
            }
            let (n, line, literal) =
                Self::frame(&mut self.server, &mut self.sl, data, mark, self.bounds);
            data = &data[n..];
            if let Some((size, _)) = literal {
                self.server = if size == 0 {
                    Mode::Line
                } else {
                    Mode::Literal { remaining: size }
                };
            }
            if let Some(line) = line {
                self.server_line(line);
            }
            if self.server == Mode::Switching {
                // The compressed bytes start right after this line: the pipeline inflates
                // them from here on, and the client's from all it sends next.
                let server_offset = self.offsets[1] - data.len() as u64;
                self.t
                    .upgrade(Upgrade::Deflate, self.offsets[0], server_offset);
                self.server = Mode::Line;
                return;
            }
        }
    }
}

impl Imap {
    // ----- client grammar -------------------------------------------------------------------

    fn client_line(&mut self, mut line: Logical) {
        let mark = line.start;
        self.line_bounds(&line);
        if line.overlong || line.len > LONG_LINE {
            self.anomaly(
                Anomaly::LineTooLong,
                mark,
                format!("client line of {} bytes", line.len),
            );
        }
        let Some(first_raw) = line.texts.first() else {
            return;
        };
        let first = String::from_utf8_lossy(strip_eol(first_raw)).into_owned();
        match self.client {
            Mode::Sasl | Mode::Idle => {
                let Some(&idx) = self.pending.back() else {
                    self.client = Mode::Line;
                    return;
                };
                if self.client == Mode::Sasl {
                    self.t.sasl_line(idx, first, mark);
                    return;
                }
                if first.trim().eq_ignore_ascii_case("DONE") {
                    self.client = Mode::Line;
                }
                self.t
                    .add_client_line(idx, ClientLine::new(mark, first, false));
                return;
            }
            _ => {}
        }
        // Words are split on any blank (RFC 9051 says space; a tab must not hide a secret).
        let mut words = first.splitn(3, [' ', '\t']);
        let tag = words.next().unwrap_or("").to_string();
        let mut verb = words.next().unwrap_or("").to_ascii_uppercase();
        let mut rest = words.next().unwrap_or("").to_string();
        if verb == "UID" {
            let (sub, r) = rest.split_once([' ', '\t']).unwrap_or((rest.as_str(), ""));
            verb = format!("UID {}", sub.to_ascii_uppercase());
            rest = r.to_string();
        }
        if self.client_resync {
            if tag.is_empty() || Verb::of_command(&verb).is_none() {
                return;
            }
            self.client_resync = false;
        }
        if tag.is_empty() || verb.is_empty() {
            self.anomaly(Anomaly::MalformedCommand, mark, truncate(&first, 80));
            return;
        }
        if !self.greeting_seen && !self.midstream && self.t.exchanges.is_empty() {
            self.anomaly(
                Anomaly::CommandBeforeGreeting,
                mark,
                format!("{tag} {verb}"),
            );
        }
        if Verb::of_command(&verb).is_none() {
            self.anomaly(Anomaly::UnknownCommand, mark, truncate(&first, 80));
        }
        if self.in_flight(Some(&tag)).is_some() {
            self.anomaly(
                Anomaly::TagReused,
                mark,
                format!("tag {tag} is still in flight"),
            );
        }
        let idx = self.t.exchanges.len();
        let known = Verb::parse(&verb);
        // COPY and MOVE (and their UID forms) name the mailbox second; these name it first.
        let copies = matches!(Verb::of_command(&verb), Some(Verb::Copy | Verb::Move));
        let names_mailbox = copies
            || matches!(
                known,
                Some(
                    Verb::Select
                        | Verb::Examine
                        | Verb::Create
                        | Verb::Delete
                        | Verb::Rename
                        | Verb::Subscribe
                        | Verb::Unsubscribe
                        | Verb::Status
                        | Verb::Append
                )
            );
        let reads_args = names_mailbox || known == Some(Verb::Login);
        let parsed = if reads_args {
            self.command_args(&line, mark)
        } else {
            Args::default()
        };
        // Arguments as sent, literals after their markers; the messages APPEND carries are
        // shown as messages, not here.
        let append = known == Some(Verb::Append);
        let messages_from = usize::from(parsed.name_is_literal);
        let chars = self.bounds.max_imap_text_chars;
        let args = shown_args(&rest, &line, |k, l| {
            (!append || k < messages_from).then(|| literal_text(l, chars))
        });
        // As sent: the line's own tag, verb and blanks, then the arguments (with the
        // literals' contents after their markers, as shown above). `rest` is the end of
        // the first line as it came.
        let raw = match first.strip_suffix(rest.as_str()) {
            Some(head) => format!("{head}{args}"),
            None => format!("{tag} {verb} {args}"),
        };
        let mut command = Command::tagged(tag.clone(), verb.clone(), args.clone()).sent(raw);
        let strings = [parsed.first, parsed.second];
        match known {
            Some(Verb::Login) => {
                if self.login_disabled {
                    self.anomaly(
                        Anomaly::LoginAfterLoginDisabled,
                        mark,
                        "LOGIN although LOGINDISABLED",
                    );
                }
                let [user, pass] = strings;
                let marker = |k: Option<usize>| {
                    k.and_then(|k| line.texts.get(k))
                        .map(|t| format!("{} ", marker_text(t)))
                        .unwrap_or_default()
                };
                let [user_literal, pass_literal] = parsed.literals;
                command.args = format!(
                    "{}{} {}<redacted>",
                    marker(user_literal),
                    user.as_deref().unwrap_or(""),
                    marker(pass_literal),
                );
                command.secret_args = Some(Secret::new(args.clone()));
                self.t.add_auth(
                    Auth {
                        username: user,
                        password: pass.map(Secret::new),
                        ..Auth::new("LOGIN", idx)
                    },
                    mark,
                );
            }
            Some(Verb::Authenticate) => {
                let mut it = args.split_ascii_whitespace();
                let mechanism = it.next().unwrap_or("").to_ascii_uppercase();
                let mut auth = Auth::new(mechanism.clone(), idx);
                if let Some(initial) = it.next() {
                    command.args = format!("{mechanism} <redacted>");
                    command.secret_args = Some(Secret::new(args.clone()));
                    if initial != "=" {
                        sasl_response(&mut auth, initial);
                    }
                }
                self.t.add_auth(auth, mark);
                self.client = Mode::Sasl;
            }
            _ if names_mailbox => {
                let name_at = usize::from(copies);
                command.mailbox = strings[name_at].as_deref().map(decode_mutf7);
            }
            _ => {}
        }
        let mut appended = 0;
        if known == Some(Verb::Append) {
            // Every literal is a message (several with MULTIAPPEND, RFC 3502), except a
            // mailbox name sent as a literal: then the first text holds nothing but its marker.
            for lit in line
                .literals
                .iter_mut()
                .skip(usize::from(parsed.name_is_literal))
            {
                self.store_literal_message(lit, "imap-append", idx);
                appended += 1;
            }
        }
        self.t.push_exchange(Exchange {
            incomplete: line.literals.iter().any(|l| l.cut),
            ..Exchange::of(mark, command, !self.pending.is_empty())
        });
        for reply in std::mem::take(&mut self.held_replies) {
            self.t.add_reply(idx, reply);
        }
        if appended > 0 {
            self.t.set_message(idx, Some(self.message_count - appended));
        }
        if let Some(old) = self.t.in_flight(&mut self.pending, idx, mark) {
            self.forget_tag(old);
        }
        // A reused tag queues behind the command in flight with it (which completes first).
        self.tags.entry(tag.clone()).or_default().push_back(idx);
        self.tag_of.insert(idx, tag);
    }

    /// Reports a logical line that went past its bounds (its extra pieces were not kept).
    fn line_bounds(&mut self, line: &Logical) {
        if line.dropped > 0 {
            let (bytes, literals) = (self.bounds.max_imap_line, self.bounds.max_imap_literals);
            self.t.limit("max-imap-line", line.start, || {
                format!(
                    "pieces of one logical line past {bytes} bytes or {literals} literals are framed, not kept"
                )
            });
        }
    }

    /// The first two astrings of a command's arguments (lists flattened, literals read from
    /// the framed line in place), and whether the first argument is a literal.
    fn command_args(&mut self, line: &Logical, mark: Mark) -> Args {
        let kept: Vec<_> = line.literals.iter().map(|l| l.body.kept()).collect();
        let framed = grammar::Line::new(
            line.texts.iter().map(Vec::as_slice),
            kept.iter().map(|k| &**k),
        );
        let mut reader = framed.reader(self.bounds.max_imap_depth);
        let args = reader.values(grammar::command_args(framed.text()), Words::Astring);
        self.depth_bound(reader.too_deep, mark);
        let mut strings = Vec::with_capacity(2);
        astrings(&args, &mut strings);
        let literals = [0, 1].map(|i| strings.get(i).and_then(|s| s.1));
        let mut strings = strings
            .into_iter()
            .map(|s| String::from_utf8_lossy(s.0).into_owned());
        Args {
            first: strings.next(),
            second: strings.next(),
            name_is_literal: matches!(args.first(), Some(Value::Literal(_))),
            literals,
        }
    }

    /// Reports lists nested past `max_imap_depth` (skipped, not read).
    fn depth_bound(&mut self, too_deep: bool, mark: Mark) {
        if too_deep {
            let depth = self.bounds.max_imap_depth;
            self.t.limit("max-imap-depth", mark, || {
                format!("IMAP lists nested deeper than {depth} are skipped, not read")
            });
        }
    }

    /// Moves a literal's bytes into a message.
    fn store_literal_message(&mut self, lit: &mut Literal, origin: &'static str, exchange: usize) {
        self.message_count += 1;
        let incomplete = lit.cut || lit.body.size < lit.announced;
        let body = std::mem::take(&mut lit.body);
        self.t.add_message(Message {
            incomplete,
            ..body.into_message(origin, lit.mark, exchange, self.bounds.max_message)
        });
    }

    // ----- server grammar -------------------------------------------------------------------

    fn server_line(&mut self, mut line: Logical) {
        let mark = line.start;
        self.line_bounds(&line);
        if line.overlong || line.len > LONG_LINE {
            self.anomaly(
                Anomaly::LineTooLong,
                mark,
                format!("server line of {} bytes", line.len),
            );
        }
        let Some(first_raw) = line.texts.first() else {
            return;
        };
        let first = String::from_utf8_lossy(strip_eol(first_raw)).into_owned();
        let mut text = first.clone();
        for t in &line.texts[1..] {
            text.push_str(&String::from_utf8_lossy(strip_eol(t)));
        }
        let (tag, rest) = first.split_once(' ').unwrap_or((first.as_str(), ""));
        let kind = if tag == "+" {
            "+"
        } else if tag == "*" {
            "*"
        } else {
            "tagged"
        };
        if self.server_resync {
            let word = rest.split(' ').next().unwrap_or("").to_ascii_uppercase();
            // The rest of a line cut by the capture's start has no tag (" OK …").
            let plausible = kind == "+"
                || (kind == "*")
                || (!tag.is_empty() && matches!(word.as_str(), "OK" | "NO" | "BAD"));
            if !plausible {
                return;
            }
            self.server_resync = false;
        }
        let code_word = rest.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let resp_code = grammar::resp_text_code(rest.as_bytes())
            .ok()
            .map(|(_, code)| String::from_utf8_lossy(code).into_owned());
        if let Some(code) = &resp_code {
            let upper = code.to_ascii_uppercase();
            if let Some(caps) = upper.strip_prefix("CAPABILITY ") {
                self.set_capabilities(caps, mark);
            }
        }
        let reply = Reply {
            mark,
            code: match kind {
                "tagged" => code_word.clone(),
                k => k.to_string(),
            },
            enhanced: resp_code.clone(),
            lines: vec![truncate(&text, self.bounds.max_imap_text_chars)],
            summary: None,
            headers: None,
            latency_ms: None,
        };
        match kind {
            "+" => self.continuation(reply),
            "*" => self.untagged(reply, &mut line, rest, mark),
            _ => self.tagged(tag, &code_word, reply, mark),
        }
    }

    fn set_capabilities(&mut self, caps: &str, mark: Mark) {
        self.t
            .set_capabilities(caps.split_ascii_whitespace().map(str::to_string), mark);
        self.login_disabled = self.t.capabilities().iter().any(|c| c == "LOGINDISABLED");
    }

    /// Reads the held bytes as the literal they follow, without the server's "+". Bytes held
    /// again meanwhile (a later literal marker among them) are taken by this loop, not by a
    /// nested call.
    fn stop_waiting(&mut self) {
        loop {
            let size = self.pending_literal.take().unwrap_or(0);
            self.client = Mode::Literal { remaining: size };
            let held = std::mem::take(&mut self.held);
            let mark = self.held_mark;
            let outer = std::mem::replace(&mut self.releasing, true);
            self.client_bytes(&held, mark);
            self.releasing = outer;
            if self.releasing || self.client != Mode::Hold || self.held.len() <= MAX_HELD {
                return;
            }
        }
    }

    fn continuation(&mut self, reply: Reply) {
        if self.client == Mode::Hold {
            // The go-ahead for a synchronising literal: its command is still being framed.
            // Kept up to the replies an exchange keeps; past that, counted (a command line
            // that never ends must not grow them).
            let cap = self.bounds.max_replies.max(1);
            if self.held_replies.len() < cap {
                self.held_replies.push(reply);
            } else {
                self.t.limit("max-replies", reply.mark, || {
                    format!("replies to one command past the first {cap} are counted, not kept")
                });
            }
            let size = self.pending_literal.take().unwrap_or(0);
            self.client = Mode::Literal { remaining: size };
            let held = std::mem::take(&mut self.held);
            let mark = self.held_mark;
            self.client_bytes(&held, mark);
            return;
        }
        match self.pending.back().copied() {
            Some(i) => {
                if self.verb_of(i) == Some(Verb::Idle) {
                    self.client = Mode::Idle;
                }
                self.t.add_reply(i, reply);
            }
            // Before the first pairing of a capture that started mid-session: a cut line,
            // or the answer to a command sent before the capture.
            None if self.midstream && !self.paired => {
                self.t
                    .push_exchange(Exchange::unsolicited(reply.mark, vec![reply]));
            }
            None => self.anomaly(
                Anomaly::UnexpectedContinuation,
                reply.mark,
                reply.lines[0].clone(),
            ),
        }
    }

    fn untagged(&mut self, reply: Reply, line: &mut Logical, rest: &str, mark: Mark) {
        let words: Vec<&str> = rest.splitn(3, ' ').collect();
        let w0 = words.first().copied().unwrap_or("").to_ascii_uppercase();
        let w1 = words.get(1).copied().unwrap_or("").to_ascii_uppercase();
        let greeting =
            !self.greeting_seen && self.t.exchanges.is_empty() && self.pending.is_empty();
        if matches!(w0.as_str(), "OK" | "PREAUTH" | "BYE") && greeting {
            self.greeting_seen = true;
            self.t
                .push_exchange(Exchange::unsolicited(mark, vec![reply]));
            return;
        }
        self.greeting_seen = true;
        if w0 == "CAPABILITY" {
            let caps = rest.get(w0.len()..).unwrap_or("").trim().to_string();
            self.set_capabilities(&caps, mark);
        }
        // Attributed to the oldest command in flight (or to none: unsolicited).
        let idx = match self.pending.front().copied() {
            Some(i) => i,
            None => self
                .t
                .push_exchange(Exchange::unsolicited(mark, Vec::new())),
        };
        let mut reply = reply;
        if w1 == "FETCH" {
            let kept: Vec<_> = line.literals.iter().map(|l| l.body.kept()).collect();
            let framed = grammar::Line::new(
                line.texts.iter().map(Vec::as_slice),
                kept.iter().map(|k| &**k),
            );
            if let Some(from) = grammar::fetch_data(framed.text()) {
                let mut reader = framed.reader(self.bounds.max_imap_depth);
                let data = reader.values(from, Words::FetchItem);
                let too_deep = reader.too_deep;
                let reading = grammar::fetch_reading(&data, &self.bounds);
                reply.summary = reading.summary.map(|s| format!("message {w0}: {s}"));
                reply.headers = reading.headers.map(Box::new);
                self.depth_bound(too_deep, mark);
                if reading.fields_dropped > 0 {
                    let cap = self.bounds.max_imap_header_fields;
                    self.t.limit("max-imap-header-fields", mark, || {
                        format!(
                            "FETCH replies with more than {cap} header fields (or Received lines): the rest are not kept"
                        )
                    });
                }
            }
            self.fetch(line, idx);
        }
        if matches!(self.verb_of(idx), Some(Verb::Select | Verb::Examine)) {
            self.mailbox_fact(idx, &w0, &w1, rest, reply.enhanced.as_deref());
        }
        self.t.add_reply(idx, reply);
        if line.literals.iter().any(|l| l.cut) {
            self.t.set_incomplete(idx);
        }
    }

    /// Messages out of a FETCH response: every literal whose item is a whole message
    /// (`BODY[]`, `RFC822`, `BINARY[]`); sections and partial fetches are not messages.
    fn fetch(&mut self, line: &mut Logical, idx: usize) {
        for (i, lit) in line.literals.iter_mut().enumerate() {
            let before = String::from_utf8_lossy(&line.texts[i]).to_ascii_uppercase();
            let Some(item) = fetch_item(&before) else {
                continue;
            };
            let whole = matches!(item.as_str(), "BODY[]" | "RFC822" | "BINARY[]");
            if whole {
                self.store_literal_message(lit, "imap-fetch", idx);
                self.t.set_message(idx, Some(self.message_count - 1));
            }
        }
    }

    fn mailbox_fact(&mut self, idx: usize, w0: &str, w1: &str, rest: &str, code: Option<&str>) {
        let name = self.t.exchanges[idx]
            .command
            .as_ref()
            .and_then(|c| c.mailbox.clone())
            .unwrap_or_default();
        if self.t.mailboxes().last().is_none_or(|m| m.exchange != idx) {
            let mark = self.t.exchanges[idx].mark;
            let read_only = self.verb_of(idx) == Some(Verb::Examine);
            self.t.add_mailbox(
                Mailbox {
                    name,
                    read_only,
                    exchange: idx,
                    ..Mailbox::default()
                },
                mark,
            );
        }
        let number = w0.parse::<u64>().ok();
        self.t.update_mailbox_of(idx, |m| {
            match (w1, number) {
                ("EXISTS", Some(n)) => m.exists = Some(n),
                ("RECENT", Some(n)) => m.recent = Some(n),
                _ => {}
            }
            if w0 == "FLAGS" {
                m.flags = Some(rest[5..].trim().to_string());
            }
            if let Some(code) = code {
                let mut it = code.split_ascii_whitespace();
                let key = it.next().unwrap_or("").to_ascii_uppercase();
                let value = it.next().and_then(|v| v.parse::<u64>().ok());
                match key.as_str() {
                    "UIDVALIDITY" => m.uidvalidity = value,
                    "UIDNEXT" => m.uidnext = value,
                    "READ-ONLY" => m.read_only = true,
                    _ => {}
                }
            }
        });
    }

    /// The exchange of the command in flight with this tag.
    fn in_flight(&self, tag: Option<&str>) -> Option<usize> {
        let idx = *self.tags.get(tag?)?.front()?;
        // An entry whose exchange was let go (past the exchange limit) is not in flight.
        self.t.exchanges.get(idx).map(|_| idx)
    }

    /// Removes exchange `idx`'s tag from the tags in flight.
    fn forget_tag(&mut self, idx: usize) {
        let Some(tag) = self.tag_of.remove(&idx) else {
            return;
        };
        if let Some(queue) = self.tags.get_mut(&tag) {
            queue.retain(|&i| i != idx);
            if queue.is_empty() {
                self.tags.remove(&tag);
            }
        }
    }

    /// The standard verb of exchange `idx`'s command (`None` for UID forms and unknown
    /// ones).
    fn verb_of(&self, idx: usize) -> Option<Verb> {
        self.t.exchanges[idx]
            .command
            .as_ref()
            .and_then(|c| Verb::parse(&c.verb))
    }

    fn tagged(&mut self, tag: &str, status: &str, reply: Reply, mark: Mark) {
        // A refused synchronising literal: the client never sends it, and its command line
        // ends where the literal would have started.
        let refused = self.client == Mode::Hold && self.held_tag.as_deref() == Some(tag);
        if refused {
            self.pending_literal = None;
            let mut partial = std::mem::take(&mut self.cl);
            partial.literals.pop();
            self.client = Mode::Line;
            self.client_line(partial);
        }
        let Some(idx) = self.in_flight(Some(tag)) else {
            if self.midstream && !self.paired {
                // The completion of a command sent before the capture started.
                self.t
                    .push_exchange(Exchange::unsolicited(mark, vec![reply]));
                return;
            }
            self.anomaly(
                Anomaly::CompletionForUnknownTag,
                mark,
                format!("{tag} {status} with no such command in flight"),
            );
            self.t
                .push_exchange(Exchange::unsolicited(mark, vec![reply]));
            return;
        };
        self.paired = true;
        if self.pending.front() == Some(&idx) {
            self.pending.pop_front();
        } else {
            self.pending.retain(|&i| i != idx);
        }
        self.forget_tag(idx);
        let ok = status == "OK";
        if status == "BAD" {
            self.anomaly(Anomaly::BadResponse, mark, reply.lines[0].clone());
        }
        self.t.add_reply(idx, reply);
        let verb = self.verb_of(idx);
        if refused {
            let held = std::mem::take(&mut self.held);
            let m = self.held_mark;
            self.client_bytes(&held, m);
        }
        match verb {
            Some(Verb::Login | Verb::Authenticate) => {
                self.t.update_auth_of(idx, |a| a.success = Some(ok));
                if self.client == Mode::Sasl {
                    self.client = Mode::Line;
                }
            }
            Some(Verb::Idle) if self.client == Mode::Idle => self.client = Mode::Line,
            Some(Verb::StartTls) if !ok => self.t.starttls_refused(),
            Some(Verb::StartTls) => {
                self.client = Mode::Opaque;
                self.server = Mode::Opaque;
                self.t
                    .set_tls(Tls::new("starttls", mark, self.offsets[0], self.offsets[1]));
            }
            Some(Verb::Compress) if ok => {
                // From the next byte on, both directions are raw deflate (RFC 4978).
                self.server = Mode::Switching;
                self.t.set_compression(mark);
            }
            _ => {}
        }
        // Last: the login's outcome, TLS or compression belong to the exchange too.
        self.t.complete(idx);
    }
}

fn first_token(text: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(text);
    s.split(' ').next().map(str::to_string)
}

/// The FETCH item a literal belongs to, from the text just before its `{n}` marker:
/// `BODY[]`, `BODY[2.1]<0>`, `RFC822`, `BINARY[]`, `RFC822.HEADER`, ….
fn fetch_item(before: &str) -> Option<String> {
    let without_marker = before.trim_end_matches(['\r', '\n']);
    let cut = without_marker.rfind('{')?;
    let head = without_marker[..cut].trim_end();
    let start = ["BODY[", "BINARY[", "BINARY.SIZE[", "RFC822"]
        .iter()
        .filter_map(|k| head.rfind(k))
        .max()?;
    Some(head[start..].trim().to_string())
}

/// The first astrings of command arguments (at most `out`'s capacity), lists flattened.
/// Each with the framed literal it is, if it is one.
fn astrings<'v>(values: &'v [Value], out: &mut Vec<(&'v [u8], Option<usize>)>) {
    for v in values {
        if out.len() == out.capacity() {
            return;
        }
        match v {
            Value::List(items) => astrings(items, out),
            v => {
                let literal = match v {
                    Value::Literal(grammar::Literal {
                        framed: Some((k, _)),
                        ..
                    }) => Some(*k),
                    _ => None,
                };
                out.extend(v.astring().map(|s| (s, literal)));
            }
        }
    }
}

/// What a command's arguments give the transcript.
#[derive(Default)]
struct Args {
    first: Option<String>,
    second: Option<String>,
    name_is_literal: bool,
    /// Which framed literal the first and the second argument are, if they are.
    literals: [Option<usize>; 2],
}

/// The literal marker that ends a text piece as sent (`{5}`, `{5+}`, `~{5}`).
fn marker_text(text: &[u8]) -> String {
    let text = strip_eol(text);
    let open = text.iter().rposition(|b| *b == b'{').unwrap_or(0);
    let open = if open > 0 && text[open - 1] == b'~' {
        open - 1
    } else {
        open
    };
    String::from_utf8_lossy(&text[open..]).into_owned()
}

/// A command's arguments as they crossed the wire: `rest` (the first text after the verb),
/// then each literal's content after its marker (`show` gives it, or `None`: the marker
/// alone) and the text piece after it.
fn shown_args(
    rest: &str,
    line: &Logical,
    show: impl Fn(usize, &Literal) -> Option<String>,
) -> String {
    let mut args = rest.to_string();
    for (k, t) in line.texts.iter().enumerate().skip(1) {
        // Pieces were dropped past the line's bounds: texts and literals no longer pair.
        if line.dropped == 0
            && let Some(content) = line.literals.get(k - 1).and_then(|l| show(k - 1, l))
        {
            args.push(' ');
            args.push_str(&content);
        }
        args.push_str(&String::from_utf8_lossy(strip_eol(t)));
    }
    args
}

/// A literal's content as text, at most `chars` characters (`max_imap_text_chars`).
fn literal_text(l: &Literal, chars: usize) -> String {
    truncate(&String::from_utf8_lossy(&l.body.kept()), chars)
}

/// RFC 3501 5.1.3 modified UTF-7 mailbox names → Unicode (invalid input is kept as is).
pub fn decode_mutf7(name: &str) -> String {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::IMAP_MUTF7,
        base64::engine::general_purpose::NO_PAD,
    );
    let mut out = String::new();
    let mut rest = name;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(dash) = after.find('-') else {
            out.push_str(&rest[amp..]);
            return out;
        };
        let chunk = &after[..dash];
        if chunk.is_empty() {
            out.push('&');
        } else {
            match engine.decode(chunk) {
                Ok(bytes) if bytes.len() % 2 == 0 => {
                    let units: Vec<u16> = bytes
                        .chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                    out.push_str(&String::from_utf16_lossy(&units));
                }
                _ => {
                    out.push('&');
                    out.push_str(chunk);
                    out.push('-');
                }
            }
        }
        rest = &after[dash + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::testkit::BOUNDS;
    use Side::{Client as C, Server as S};

    /// A literal's size is what it holds in memory while it arrives.
    #[test]
    fn a_literal_holds_its_size() {
        let mut d = Imap::new(BOUNDS, false);
        d.on_data(S, b"* OK ready\r\n", Mark::default());
        d.on_data(C, b"a FETCH 1 BODY[]\r\n", Mark::default());
        d.on_data(S, b"* 1 FETCH (BODY[] {100000}\r\n", Mark::default());
        for piece in crate::proto::testkit::hundred_k().chunks(1000) {
            d.on_data(S, piece, Mark::default());
        }
        assert_eq!(d.held_bytes(), 100_000);
    }

    fn run(steps: &[(Side, &[u8])]) -> Transcript {
        crate::proto::testkit::run(Box::new(Imap::new(BOUNDS, false)), steps, &[])
    }

    #[test]
    fn the_raw_line_is_the_line_as_sent() {
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (C, b"a1\tnoop\r\n"),
            (S, b"a1 OK done\r\n"),
            (C, b"a2 uid  fetch 1:* (FLAGS)\r\n"),
            (S, b"a2 OK done\r\n"),
            (C, b"a3 select {5}\r\n"),
            (S, b"+ go on\r\n"),
            (C, b"INBOX\r\n"),
            (S, b"a3 OK selected\r\n"),
        ]);
        let raw: Vec<&str> = t
            .exchanges
            .iter()
            .filter_map(|e| e.command.as_ref().map(|c| c.raw.as_str()))
            .collect();
        // Blanks and case as they came; a literal's content after its marker.
        assert_eq!(
            raw,
            [
                "a1\tnoop",
                "a2 uid  fetch 1:* (FLAGS)",
                "a3 select {5} INBOX"
            ]
        );
    }

    fn summary(t: &Transcript) -> Vec<(String, String, Option<String>)> {
        t.exchanges
            .iter()
            .filter_map(|e| {
                let c = e.command.as_ref()?;
                Some((
                    c.tag.clone().unwrap_or_default(),
                    c.verb.clone(),
                    e.status().map(str::to_string),
                ))
            })
            .collect()
    }

    /// RFC 9051 section 8, the sample session (abridged literal sizes kept exact).
    #[test]
    fn rfc9051_sample() {
        let t = run(&[
            (S, b"* OK [CAPABILITY STARTTLS AUTH=SCRAM-SHA-256 LOGINDISABLED IMAP4rev2] IMAP4rev2 Service Ready\r\n"),
            (C, b"a001 login mrc secret\r\n"),
            (S, b"a001 NO [PRIVACYREQUIRED] LOGIN disabled\r\n"),
            (C, b"a002 select inbox\r\n"),
            (S, b"* 18 EXISTS\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [UIDVALIDITY 3857529045] UIDs valid\r\n* LIST () \"/\" INBOX\r\na002 OK [READ-WRITE] SELECT completed\r\n"),
            (C, b"a003 fetch 12 full\r\n"),
            (S, b"* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286)\r\na003 OK FETCH completed\r\n"),
            (C, b"a004 fetch 12 body[header]\r\n"),
            (S, b"* 12 FETCH (BODY[HEADER] {22}\r\nSubject: afternoon\r\n\r\n)\r\na004 OK FETCH completed\r\n"),
            (C, b"a005 store 12 +flags \\deleted\r\n"),
            (S, b"* 12 FETCH (FLAGS (\\Seen \\Deleted))\r\na005 OK +FLAGS completed\r\n"),
            (C, b"a006 logout\r\n"),
            (S, b"* BYE IMAP4rev2 server terminating connection\r\na006 OK LOGOUT completed\r\n"),
        ]);
        let s = summary(&t);
        assert_eq!(s.len(), 6);
        assert_eq!(s[0], ("a001".into(), "LOGIN".into(), Some("NO".into())));
        assert_eq!(s[1].2.as_deref(), Some("OK"));
        // A header-only section fetch is not a message.
        assert!(t.messages.is_empty());
        assert_eq!(t.mailboxes()[0].exists, Some(18));
        assert_eq!(t.mailboxes()[0].uidvalidity, Some(3857529045));
        assert_eq!(t.auth()[0].username.as_deref(), Some("mrc"));
        assert_eq!(t.auth()[0].success, Some(false));
        let names: Vec<&str> = t.anomalies().iter().map(|a| a.name()).collect();
        assert_eq!(names, vec!["login-after-logindisabled"]);
        // Untagged responses belong to the command in flight, in order.
        assert_eq!(t.exchanges[2].replies.len(), 5);
    }

    #[test]
    fn synchronising_literals_in_login_and_append() {
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (C, b"A1 LOGIN {5}\r\n"),
            (S, b"+ ok\r\n"),
            (C, b"alice {15}\r\n"),
            (S, b"+ ok\r\n"),
            (C, b"Wonder\"land 24\\\r\n"),
            (S, b"A1 OK logged in\r\n"),
            (C, b"A2 APPEND INBOX (\\Seen) {14}\r\n"),
            (S, b"+ Ready\r\n"),
            (C, b"Subject: x\r\n\r\n\r\n"),
            (S, b"A2 OK [APPENDUID 1 7] done\r\n"),
            (
                C,
                b"A3 APPEND &AMQ-rger {12+}\r\nSubject: y\r\n\r\nA4 NOOP\r\n",
            ),
            (S, b"A3 OK done\r\nA4 OK noop\r\n"),
        ]);
        assert_eq!(t.auth()[0].username.as_deref(), Some("alice"));
        assert_eq!(
            t.auth()[0].password.as_ref().unwrap().expose(),
            "Wonder\"land 24\\"
        );
        assert_eq!(t.auth()[0].success, Some(true));
        // Literal arguments as they crossed the wire: the marker, then the content.
        let login = t.exchanges[1].command.as_ref().unwrap();
        assert_eq!(login.args, "{5} alice {15} <redacted>");
        let mut revealed = login.clone();
        revealed.reveal();
        assert_eq!(revealed.args, "{5} alice {15} Wonder\"land 24\\");
        // A message literal is the message: its marker only.
        let append = t.exchanges[2].command.as_ref().unwrap();
        assert_eq!(append.args, "INBOX (\\Seen) {14}");
        assert_eq!(
            t.exchanges[3].command.as_ref().unwrap().args,
            "&AMQ-rger {12+}"
        );
        let s = summary(&t);
        assert_eq!(
            s.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["A1", "A2", "A3", "A4"]
        );
        assert_eq!(t.messages.len(), 2);
        assert_eq!(t.messages[0].origin, "imap-append");
        assert_eq!(t.messages[0].bytes, b"Subject: x\r\n\r\n");
        assert_eq!(t.messages[1].bytes, b"Subject: y\r\n");
        assert_eq!(
            t.exchanges[3].command.as_ref().unwrap().mailbox.as_deref(),
            Some("Ärger")
        );
    }

    /// The server's go-ahead for a synchronising literal is part of the command's exchange,
    /// in wire order before its completion, also while the command line is still held.
    #[test]
    fn continuations_for_synchronising_literals_are_kept() {
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (C, b"A1 LOGIN {5}\r\n"),
            (S, b"+ ok\r\n"),
            (C, b"alice {3}\r\n"),
            (S, b"+ Ready for more\r\n"),
            (C, b"pwd\r\n"),
            (S, b"A1 OK logged in\r\n"),
            (C, b"A2 APPEND INBOX {4}\r\n"),
            (S, b"+ Ready\r\n"),
            (C, b"ab\r\n\r\nA3 NOOP\r\n"),
            (S, b"A2 OK done\r\nA3 OK\r\n"),
            // The second literal is refused: the first go-ahead still belongs to A4.
            (C, b"A4 APPEND INBOX {2}\r\n"),
            (S, b"+ go\r\n"),
            (C, b"xy {99999}\r\n"),
            (S, b"A4 NO [TOOBIG] too big\r\n"),
        ]);
        let codes = |i: usize| -> Vec<String> {
            t.exchanges
                .get(i)
                .unwrap()
                .replies
                .iter()
                .map(|r| r.lines[0].clone())
                .collect()
        };
        assert_eq!(codes(1), ["+ ok", "+ Ready for more", "A1 OK logged in"]);
        assert_eq!(codes(2), ["+ Ready", "A2 OK done"]);
        assert_eq!(codes(3), ["A3 OK"]);
        assert_eq!(codes(4), ["+ go", "A4 NO [TOOBIG] too big"]);
        assert!(t.anomalies().is_empty(), "{:?}", t.anomalies());
    }

    /// RFC 3502: several messages in one APPEND; a mailbox name sent as a literal is not one.
    #[test]
    fn multiappend_and_literal_mailbox_names() {
        let t = run(&[
            (
                S,
                b"* OK [CAPABILITY IMAP4rev1 LITERAL+ MULTIAPPEND] ready\r\n",
            ),
            (
                C,
                b"A1 APPEND {5+}\r\nINBOX (\\Seen) {8+}\r\nA: one\r\n {8+}\r\nA: two\r\n\r\n",
            ),
            (S, b"A1 OK [APPENDUID 38505 3955:3956] APPEND completed\r\n"),
        ]);
        assert_eq!(t.messages.len(), 2);
        assert_eq!(t.messages[0].bytes, b"A: one\r\n");
        assert_eq!(t.messages[1].bytes, b"A: two\r\n");
        assert_eq!(t.exchanges[1].message, Some(0));
        assert_eq!(
            t.exchanges[1].command.as_ref().unwrap().mailbox.as_deref(),
            Some("INBOX")
        );
    }

    /// Literals in other commands' arguments are shown after their markers; a password
    /// given as an atom is redacted beside a user name given as a literal.
    #[test]
    fn literal_arguments_are_shown_as_literals() {
        let t = run(&[
            (S, b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
            (C, b"A1 LOGIN {5+}\r\nalice pw\r\n"),
            (S, b"A1 OK in\r\n"),
            (C, b"A2 SELECT {5}\r\n"),
            (S, b"+ go\r\n"),
            (C, b"INBOX\r\n"),
            (S, b"A2 OK done\r\n"),
            (
                C,
                b"A3 SEARCH CHARSET UTF-8 TEXT {6+}\r\n\xd0\xb4\xd0\xb0 x\r\n",
            ),
            (S, b"A3 OK done\r\n"),
        ]);
        let args = |i: usize| {
            t.exchanges
                .get(i)
                .unwrap()
                .command
                .as_ref()
                .unwrap()
                .args
                .clone()
        };
        assert_eq!(args(1), "{5+} alice <redacted>");
        assert_eq!(args(2), "{5} INBOX");
        assert_eq!(args(3), "CHARSET UTF-8 TEXT {6+} \u{434}\u{430} x");
        assert_eq!(
            t.exchanges
                .get(2)
                .unwrap()
                .command
                .as_ref()
                .unwrap()
                .mailbox
                .as_deref(),
            Some("INBOX")
        );
    }

    /// A header-section fetch is how clients list a mailbox: its fields are decoded (RFC
    /// 2047, charsets, addresses), shown in the summary and kept on the reply. Not a message.
    #[test]
    fn header_fetches_are_decoded() {
        let head = b"Date: Thu, 26 Nov 2026 08:11:31 +0000\r\nFrom: =?iso-8859-1?q?J=F6rg?= <jorg@example.net>\r\nSubject: =?utf-8?b?Q2Fmw6kgbWVudQ==?=\r\nTo: alice@example.test\r\n\r\n";
        let mut resp = format!(
            "* 2 FETCH (UID 7 BODY[HEADER.FIELDS (DATE FROM SUBJECT TO)] {{{}}}\r\n",
            head.len()
        )
        .into_bytes();
        resp.extend_from_slice(head);
        resp.extend_from_slice(b")\r\n* 3 FETCH (BODY[HEADER] {22}\r\nSubject: afternoon\r\n\r\n)\r\n* 4 FETCH (RFC822.HEADER {2}\r\n\r\n)\r\nf OK done\r\n");
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (
                C,
                b"f UID FETCH 7:9 (BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT TO)])\r\n",
            ),
            (S, &resp),
        ]);
        let replies = &t.exchanges.get(1).unwrap().replies;
        assert_eq!(
            replies[0].summary.as_deref(),
            Some(
                "message 2: UID 7; headers: \"Café menu\" from Jörg <jorg@example.net> to alice@example.test, date Thu, 26 Nov 2026 08:11:31 +0000"
            )
        );
        let h = replies[0].headers.as_ref().unwrap();
        assert_eq!(h.subject.as_deref(), Some("Café menu"));
        assert_eq!(h.from.as_deref(), Some("Jörg <jorg@example.net>"));
        assert_eq!(h.raw.len(), 4);
        assert_eq!(
            replies[1].summary.as_deref(),
            Some("message 3: headers: \"afternoon\"")
        );
        // An empty header section: nothing to decode, its size only.
        assert_eq!(
            replies[2].summary.as_deref(),
            Some("message 4: RFC822.HEADER (2 bytes)")
        );
        assert!(replies[2].headers.is_none());
        assert!(t.messages.is_empty());
    }

    /// A capture that ends inside a literal still shows the command and its go-ahead.
    #[test]
    fn command_cut_inside_its_literal_is_shown() {
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (C, b"A1 APPEND INBOX {40}\r\n"),
            (S, b"+ Ready\r\n"),
            (C, b"Subject: cut\r\n"),
        ]);
        let e = t.exchanges.get(1).unwrap();
        assert_eq!(e.command.as_ref().unwrap().verb, "APPEND");
        assert_eq!(e.replies[0].lines, ["+ Ready"]);
        assert!(e.incomplete);
        assert_eq!(t.messages.len(), 1);
        assert!(t.messages[0].incomplete);
        let names: Vec<&str> = t.anomalies().iter().map(|a| a.name()).collect();
        assert_eq!(names, ["literal-cut-short"]);
    }

    #[test]
    fn refused_synchronising_literal_is_never_read() {
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (C, b"A1 APPEND INBOX {4294967295}\r\n"),
            (S, b"A1 NO [TOOBIG] too big\r\n"),
            (C, b"A2 LOGOUT\r\n"),
            (S, b"* BYE\r\nA2 OK bye\r\n"),
        ]);
        let s = summary(&t);
        assert_eq!(s[0].2.as_deref(), Some("NO"));
        assert_eq!(s[1], ("A2".into(), "LOGOUT".into(), Some("OK".into())));
        assert!(t.messages.is_empty());
    }

    #[test]
    fn several_literals_in_one_fetch_and_partial_fetches() {
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (C, b"f1 UID FETCH 7 (BODY.PEEK[HEADER] BODY.PEEK[] BODY[]<0.4>)\r\n"),
            (S, b"* 1 FETCH (UID 7 BODY[HEADER] {12}\r\nSubject: z\r\n BODY[] {16}\r\nSubject: z\r\n\r\nhi BODY[]<0> {4}\r\nSubj)\r\n"),
            (S, b"f1 OK done\r\n"),
        ]);
        assert_eq!(summary(&t)[0].1, "UID FETCH");
        assert_eq!(t.messages.len(), 1);
        assert_eq!(t.messages[0].origin, "imap-fetch");
        assert_eq!(t.messages[0].bytes, b"Subject: z\r\n\r\nhi");
        assert_eq!(t.exchanges[1].message, Some(0));
    }

    #[test]
    fn idle_authenticate_starttls() {
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (C, b"a AUTHENTICATE PLAIN\r\n"),
            (S, b"+ \r\n"),
            (C, b"AGJvYgBzM2NyM3QgcGFzcyJ3b3Jk\r\n"),
            (S, b"a OK done\r\n"),
            (C, b"b IDLE\r\n"),
            (S, b"+ idling\r\n* 4 EXISTS\r\n"),
            (C, b"DONE\r\n"),
            (S, b"b OK IDLE terminated\r\n"),
            (C, b"c STARTTLS\r\n"),
            (S, b"c OK begin TLS\r\n"),
            (
                C,
                b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00d LOGIN x y\r\n",
            ),
        ]);
        let s = summary(&t);
        assert_eq!(s.len(), 3);
        assert_eq!(t.auth()[0].username.as_deref(), Some("bob"));
        assert_eq!(t.auth()[0].success, Some(true));
        assert_eq!(t.exchanges[1].client_lines[0].text, "<redacted>");
        assert_eq!(t.exchanges[2].client_lines[0].text, "DONE");
        assert_eq!(t.exchanges[2].replies.len(), 3);
        assert!(t.tls().is_some());
    }

    #[test]
    fn compress_deflate_asks_for_the_transform_from_the_byte_after_the_ok() {
        use crate::proto::Dissector;
        use crate::proto::event::{Event, Upgrade};
        let mut d = Imap::new(BOUNDS, false);
        let m = Mark::default();
        d.on_data(S, b"* OK ready\r\n", m);
        d.on_data(C, b"a COMPRESS DEFLATE\r\n", m);
        // Compressed bytes right behind the OK, in the same piece: not read as text.
        d.on_data(
            S,
            b"a OK DEFLATE active\r\n\x02\x00garbage\r\nz BAD x\r\n",
            m,
        );
        let upgrades: Vec<(Upgrade, u64, u64)> = d
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Upgrade {
                    kind,
                    client_offset,
                    server_offset,
                    ..
                } => Some((kind, client_offset, server_offset)),
                _ => None,
            })
            .collect();
        assert_eq!(upgrades, [(Upgrade::Deflate, 20, 12 + 21)]);
        // What comes next is what the pipeline inflated: read as usual.
        d.on_data(C, b"b NOOP\r\n", m);
        d.on_data(S, b"b OK done\r\n", m);
        let t = d.finish(m);
        assert!(t.compression().is_some());
        let s = summary(&t);
        assert_eq!(
            s.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(),
            ["COMPRESS", "NOOP"]
        );
        assert!(t.anomalies().is_empty(), "{:?}", t.anomalies());
    }

    #[test]
    fn tag_anomalies() {
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (C, b"a NOOP\r\na NOOP\r\n"),
            (S, b"zz OK what\r\na BAD no\r\na OK fine\r\n"),
        ]);
        let names: Vec<&str> = t.anomalies().iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            vec!["tag-reused", "completion-for-unknown-tag", "bad-response"]
        );
    }

    #[test]
    fn modified_utf7() {
        assert_eq!(decode_mutf7("INBOX"), "INBOX");
        assert_eq!(decode_mutf7("&AOQ-rger"), "ärger");
        assert_eq!(decode_mutf7("&AMQ-rger"), "Ärger");
        assert_eq!(
            decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            "~peter/mail/台北/日本語"
        );
        assert_eq!(decode_mutf7("a&-b"), "a&b");
        assert_eq!(decode_mutf7("bad&!!-x"), "bad&!!-x");
    }

    /// The dissector reads FETCH replies within its bounds' IMAP display caps, and reports
    /// header fields it did not keep.
    #[test]
    fn fetched_headers_past_the_cap_are_reported() {
        let head = b"Received: from a\r\nReceived: from b\r\nReceived: from c\r\nSubject: a long subject\r\nFrom: a@b.test\r\n\r\n";
        let mut resp = format!("* 1 FETCH (BODY[HEADER] {{{}}}\r\n", head.len()).into_bytes();
        resp.extend_from_slice(head);
        resp.extend_from_slice(b")\r\nf OK done\r\n");
        let steps = [
            (S, &b"* OK ready\r\n"[..]),
            (C, b"f FETCH 1 BODY.PEEK[HEADER]\r\n"),
            (S, &resp),
        ];
        let limits = |t: &Transcript| -> Vec<String> {
            t.anomalies()
                .iter()
                .filter(|a| a.name() == "limit-reached")
                .map(|a| a.detail.clone())
                .collect()
        };
        let t = run(&steps);
        let h = t.exchanges[1].replies[0].headers.as_ref().unwrap();
        assert_eq!((h.raw.len(), h.received.len()), (5, 3));
        assert!(limits(&t).is_empty());

        let bounds = Bounds {
            max_imap_field_chars: 6,
            max_imap_header_chars: 4,
            max_imap_header_fields: 2,
            ..BOUNDS
        };
        let t = crate::proto::testkit::run(Box::new(Imap::new(bounds, false)), &steps, &[]);
        let r = &t.exchanges[1].replies[0];
        assert_eq!(
            r.summary.as_deref(),
            Some("message 1: headers: \"a long…\" from a@b.te…")
        );
        let h = r.headers.as_ref().unwrap();
        assert_eq!(h.subject.as_deref(), Some("a lo…"));
        assert_eq!((h.raw.len(), h.received.len()), (2, 2));
        let limits = limits(&t);
        assert_eq!(limits.len(), 1, "{:?}", t.anomalies());
        assert!(
            limits[0].contains("more than 2 header fields"),
            "{limits:?}"
        );
    }

    /// `max_imap_text_chars` cuts each server line kept and each literal shown among a
    /// command's arguments; the cut ends in `…`.
    #[test]
    fn server_lines_and_literal_arguments_answer_to_their_cap() {
        let steps = [
            (S, &b"* OK ready for the day\r\n"[..]),
            (C, b"A1 SEARCH TEXT {12}\r\n"),
            (S, b"+ go ahead\r\n"),
            (C, b"hello world!\r\n"),
            (S, b"A1 OK search done\r\n"),
        ];
        let shown = |t: &Transcript| {
            let e = t.exchanges.get(1).unwrap();
            let args = e.command.as_ref().unwrap().args.clone();
            let lines: Vec<String> = e.replies.iter().map(|r| r.lines[0].clone()).collect();
            (args, lines, t.exchanges[0].replies[0].lines[0].clone())
        };
        assert_eq!(
            shown(&run(&steps)),
            (
                "TEXT {12} hello world!".to_string(),
                vec!["+ go ahead".to_string(), "A1 OK search done".to_string()],
                "* OK ready for the day".to_string()
            )
        );
        let bounds = Bounds {
            max_imap_text_chars: 5,
            ..BOUNDS
        };
        let t = crate::proto::testkit::run(Box::new(Imap::new(bounds, false)), &steps, &[]);
        assert_eq!(
            shown(&t),
            (
                "TEXT {12} hello…".to_string(),
                vec!["+ go …".to_string(), "A1 OK…".to_string()],
                "* OK …".to_string()
            )
        );
    }

    /// Lists nested past `max_imap_depth` are skipped and reported; the rest is still read.
    #[test]
    fn deep_nesting_is_reported() {
        let deep = format!(
            "* 1 FETCH (UID 9 X {}{})\r\n",
            "(".repeat(40),
            ")".repeat(40)
        );
        let login = format!("a LOGIN {}bob{} pw\r\n", "(".repeat(40), ")".repeat(40));
        let t = run(&[
            (S, b"* OK ready\r\n"),
            (C, b"f FETCH 1 UID\r\n"),
            (S, deep.as_bytes()),
            (S, b"f OK done\r\n"),
            (C, login.as_bytes()),
            (S, b"a OK in\r\n"),
        ]);
        assert_eq!(
            t.exchanges[1].replies[0].summary.as_deref(),
            Some("message 1: UID 9")
        );
        // The user name was nested too deep to read; the password that follows is read.
        assert_eq!(t.auth()[0].username.as_deref(), Some("pw"));
        let limits: Vec<&str> = t
            .anomalies()
            .iter()
            .filter(|a| a.name() == "limit-reached")
            .map(|a| a.detail.as_str())
            .collect();
        assert_eq!(limits.len(), 1, "{:?}", t.anomalies());
        assert!(limits[0].contains("nested deeper than 32"), "{limits:?}");
    }

    /// A capture that starts anywhere in a real session (both sides cut at the same point
    /// of the wire, `midstream`): no panic, no anomaly the session does not have, and every
    /// tagged completion is paired with the command of its tag.
    #[test]
    fn capture_cut_at_every_point() {
        const SESSION: &[(Side, &[u8])] = &[
            (S, b"* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Dovecot ready.\r\n"),
            (C, b"a1 CAPABILITY\r\n"),
            (S, b"* CAPABILITY IMAP4rev1 LITERAL+ IDLE\r\na1 OK done\r\n"),
            (C, b"a2 LOGIN {5}\r\n"),
            (S, b"+ OK\r\n"),
            (C, b"alice {6}\r\n"),
            (S, b"+ OK\r\n"),
            (C, b"s3cr3t\r\n"),
            (S, b"* CAPABILITY IMAP4rev1 MOVE\r\na2 OK Logged in\r\n"),
            (C, b"a3 SELECT INBOX\r\n"),
            (S, b"* FLAGS (\\Seen)\r\n* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\na3 OK [READ-WRITE] done\r\n"),
            (C, b"a4 FETCH 1:2 (UID ENVELOPE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])\r\n"),
            (S, b"* 1 FETCH (UID 1 ENVELOPE (\"d\" {5}\r\nHello ((NIL NIL \"bob\" \"x.test\")) NIL NIL NIL NIL NIL NIL NIL) BODY[HEADER.FIELDS (FROM SUBJECT)] {36}\r\nFrom: bob@x.test\r\nSubject: Hello\r\n\r\n)\r\n"),
            (S, b"* 2 FETCH (UID 2 ENVELOPE (\"d\" \"Hi\" NIL NIL NIL NIL NIL NIL NIL NIL) BODY[HEADER.FIELDS (FROM SUBJECT)] {2}\r\n\r\n)\r\na4 OK Fetch completed.\r\n"),
            (C, b"a5 FETCH 1 BODY[]\r\n"),
            (S, b"* 1 FETCH (BODY[] {56}\r\nSubject: Hello\r\n\r\na5 OK not a reply\r\n* 9 EXISTS\r\n+ no\r\n)\r\na5 OK done\r\n"),
            (C, b"a6 APPEND INBOX {24}\r\n"),
            (S, b"+ Ready for literal data\r\n"),
            (C, b"Subject: x\r\n\r\nhi, all.\r\n\r\n"),
            (S, b"a6 OK [APPENDUID 7 3] Append completed.\r\n"),
            (C, b"a7 IDLE\r\n"),
            (S, b"+ idling\r\n* 3 EXISTS\r\n"),
            (C, b"DONE\r\n"),
            (S, b"a7 OK Idle completed.\r\n"),
            (C, b"a8 LOGOUT\r\n"),
            (S, b"* BYE Logging out\r\na8 OK Logout completed.\r\n"),
        ];
        let whole = run(SESSION);
        assert!(whole.anomalies().is_empty(), "{:?}", whole.anomalies());
        assert_eq!(whole.messages.len(), 2);
        let total: usize = SESSION.iter().map(|s| s.1.len()).sum();
        for cut in 0..=total {
            let steps = crate::proto::testkit::cut_before(SESSION, cut);
            let t = crate::proto::testkit::run(Box::new(Imap::new(BOUNDS, true)), &steps, &[]);
            let names: Vec<&str> = t.anomalies().iter().map(|a| a.name()).collect();
            assert!(
                names.is_empty(),
                "cut at {cut}: {names:?} {:?}",
                t.anomalies()
            );
            for e in t.exchanges.iter() {
                let Some(tag) = e.command.as_ref().and_then(|c| c.tag.as_deref()) else {
                    continue;
                };
                for r in e
                    .replies
                    .iter()
                    .filter(|r| matches!(r.code.as_str(), "OK" | "NO" | "BAD"))
                {
                    assert!(
                        r.lines[0].starts_with(&format!("{tag} ")),
                        "cut at {cut}: {tag} paired with {:?}",
                        r.lines[0]
                    );
                }
            }
        }
    }

    /// A command line that never ends, its synchronising literals each answered by a
    /// go-ahead: the go-aheads kept for it are bounded, the rest counted.
    #[test]
    fn go_aheads_held_for_an_unending_command_are_bounded() {
        let mut b = BOUNDS;
        b.max_replies = 3;
        let mut d = Imap::new(b, false);
        let m = Mark::default();
        d.on_data(S, b"* OK ready\r\n", m);
        d.on_data(C, b"a1 NOOP {1}\r\n", m);
        for _ in 0..10 {
            d.on_data(S, b"+ go ahead\r\n", m);
            d.on_data(C, b"x {1}\r\n", m);
        }
        assert!(d.held_replies.len() <= 3);
        let t = d.finish(m);
        assert!(
            t.anomalies()
                .iter()
                .any(|a| a.name() == "limit-reached" && a.detail.starts_with("max-replies")),
            "{:?}",
            t.anomalies()
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const SESSION: &[(Side, &[u8])] = &[
            (S, b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
            (C, b"1 LOGIN {5}\r\n"),
            (S, b"+ go\r\n"),
            (C, b"alice {2+}\r\npw\r\n2 SELECT INBOX\r\n"),
            (S, b"1 OK in\r\n* 2 EXISTS\r\n2 OK [READ-WRITE] done\r\n"),
            (C, b"3 FETCH 1:2 BODY[]\r\n"),
            (S, b"* 1 FETCH (BODY[] {9}\r\nA: b\r\n\r\nc)\r\n* 2 FETCH (BODY[] {3}\r\nxyz)\r\n3 OK\r\n"),
            (C, b"4 APPEND x {3+}\r\nabc\r\n5 LOGOUT\r\n"),
            (S, b"4 OK\r\n* BYE\r\n5 OK\r\n"),
        ];

        /// The hand-written session, byte by byte and in pairs (cutting every CRLF).
        #[test]
        fn fixed_session_cut_small() {
            let whole = run(SESSION);
            assert_eq!(whole.messages.len(), 3);
            for cuts in [&[1][..], &[2], &[3, 1]] {
                let split =
                    crate::proto::testkit::run(Box::new(Imap::new(BOUNDS, false)), SESSION, cuts);
                let fp = crate::proto::testkit::fingerprint;
                assert_eq!(fp(&split), fp(&whole));
            }
        }

        proptest! {
            /// Any generated session (literal LOGIN, FETCH and APPEND literals of any bytes,
            /// synchronising or not): the same transcript however each side's bytes are cut,
            /// literal announcements and literals included.
            #[test]
            fn chunking_does_not_matter(
                script in crate::proto::testkit::imap_script(),
                cuts in crate::proto::testkit::cuts(),
            ) {
                crate::proto::testkit::check_chunking(|| Box::new(Imap::new(BOUNDS, false)), &script, &cuts)?;
            }

            #[test]
            fn hostile_input_is_bounded(
                chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..40)
            ) {
                let b = crate::proto::testkit::TIGHT;
                crate::proto::testkit::hostile(Box::new(Imap::new(b, false)), &b, &chunks, 7);
            }
        }
    }
}
