//! The protocol-neutral transcript every dissector produces: exchanges of a command and its
//! replies, messages that crossed the wire, credentials, TLS, anomalies. These record types
//! are also the session model's (`session::Session` holds them as they are, serialised with
//! serde): one set of types from the dissector to the JSON output.
//!
//! It is also where a session's collections are bounded (issue: hostile input must not grow
//! memory without limit). Exchanges past [`Bounds::max_exchanges`] are counted and
//! summarised instead of kept; replies per exchange, lines per reply, client lines per
//! exchange and anomalies per name have caps too. Reaching one is recorded and becomes a
//! `limit-reached` anomaly with the count when the transcript is finished.

use super::Bounds;
use super::event::{Anomaly, Auth, Event, Mark, Secret, Tls, Upgrade};
use super::vocab;
use serde::Serialize;
use serde::ser::SerializeStruct;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// A client command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Command {
    /// Upper-cased command name.
    pub verb: String,
    /// Arguments as sent (secrets replaced by `<redacted>`).
    pub args: String,
    /// IMAP tag; `None` for SMTP and POP3.
    pub tag: Option<String>,
    /// The command as it crossed the wire, case and spacing kept (without CRLF; an IMAP
    /// command with its literal markers and the text between them), secrets redacted as in
    /// `args`.
    pub raw: String,
    /// The arguments unredacted, when they carry a secret (AUTH initial response).
    #[serde(skip)]
    pub secret_args: Option<Secret>,
    /// `raw` unredacted, when the arguments carry a secret.
    #[serde(skip)]
    pub secret_raw: Option<Secret>,
    /// MAIL/RCPT: the path without angle brackets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// MAIL/RCPT ESMTP parameters, `KEY` or `KEY=VALUE`, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<(String, Option<String>)>,
    /// IMAP: the mailbox the command names, decoded from modified UTF-7.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<String>,
}

impl Command {
    /// A command as sent (`verb` as it is to be shown, upper-cased by the caller).
    pub fn new(verb: impl Into<String>, args: impl Into<String>) -> Command {
        let (verb, args) = (verb.into(), args.into());
        let raw = match args.is_empty() {
            true => verb.clone(),
            false => format!("{verb} {args}"),
        };
        Command {
            verb,
            args,
            tag: None,
            raw,
            secret_args: None,
            secret_raw: None,
            address: None,
            params: Vec::new(),
            mailbox: None,
        }
    }

    /// An IMAP command with its tag.
    pub fn tagged(
        tag: impl Into<String>,
        verb: impl Into<String>,
        args: impl Into<String>,
    ) -> Command {
        let tag = tag.into();
        let c = Command::new(verb, args);
        Command {
            raw: format!("{tag} {}", c.raw),
            tag: Some(tag),
            ..c
        }
    }

    /// The command as it crossed the wire (see `raw`).
    pub fn sent(self, raw: impl Into<String>) -> Command {
        Command {
            raw: raw.into(),
            ..self
        }
    }

    /// Redacts `raw` as `args` was redacted, when the arguments carry a secret: the part of
    /// the line that held them is replaced by the redacted arguments.
    fn hide_secret_raw(&mut self) {
        let Some(secret) = &self.secret_args else {
            return;
        };
        if self.secret_raw.is_some() {
            return;
        }
        let exposed = secret.expose();
        let raw = std::mem::take(&mut self.raw);
        self.raw = match raw.rfind(exposed).filter(|_| !exposed.is_empty()) {
            Some(at) => format!("{}{}{}", &raw[..at], self.args, &raw[at + exposed.len()..]),
            // The arguments are not in the line as such: show the verb as sent, then them.
            None => {
                let head = raw.split(' ').take(1 + usize::from(self.tag.is_some()));
                format!("{} {}", head.collect::<Vec<_>>().join(" "), self.args)
            }
        };
        self.secret_raw = Some(Secret::new(raw));
    }

    /// The arguments carry a secret: shown redacted unless `--show-secrets`.
    pub fn redact(&mut self) {
        let args = std::mem::replace(&mut self.args, "<redacted>".into());
        self.secret_args = Some(Secret::new(args));
    }

    /// `--show-secrets`: the arguments as sent, secret included.
    pub fn reveal(&mut self) {
        if let Some(s) = self.secret_args.take() {
            self.args = s.into_exposed();
        }
        if let Some(s) = self.secret_raw.take() {
            self.raw = s.into_exposed();
        }
    }
}

/// A complete (possibly multi-line) server reply.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reply {
    #[serde(flatten)]
    pub mark: Mark,
    /// SMTP: the three-digit code; POP3: `+OK`, `-ERR` or `+`; IMAP: `OK`, `NO`, `BAD`,
    /// `+` or the untagged response's name.
    pub code: String,
    /// SMTP: RFC 3463 enhanced status code, e.g. `2.1.0`; POP3/IMAP: the response code in
    /// brackets, e.g. `AUTH` or `CAPABILITY`.
    pub enhanced: Option<String>,
    /// Every line, code and separator included, without CRLF.
    pub lines: Vec<String>,
    /// A short reading of the reply's data (IMAP FETCH: UID, flags, size, envelope, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// IMAP: the header fields a FETCH of a header section (`BODY[HEADER]`,
    /// `BODY[HEADER.FIELDS (…)]`, `RFC822.HEADER`) carried, decoded. Not a message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Box<crate::mime::Headers>>,
    /// Milliseconds since the command (or the previous reply of the exchange); set when the
    /// session is built.
    pub latency_ms: Option<f64>,
}

/// A line the client sent inside an exchange that is not a command: SASL responses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientLine {
    #[serde(flatten)]
    pub mark: Mark,
    /// As sent, or `<redacted>` when it carries a secret.
    pub text: String,
    #[serde(skip)]
    pub secret: Option<Secret>,
}

impl ClientLine {
    /// A line as sent; with `secret`, shown redacted unless `--show-secrets`.
    pub fn new(mark: Mark, text: String, secret: bool) -> ClientLine {
        if secret {
            ClientLine {
                mark,
                text: "<redacted>".into(),
                secret: Some(Secret::new(text)),
            }
        } else {
            ClientLine {
                mark,
                text,
                secret: None,
            }
        }
    }

    /// `--show-secrets`: the line as sent.
    pub fn reveal(&mut self) {
        if let Some(s) = self.secret.take() {
            self.text = s.into_exposed();
        }
    }
}

/// A command with every reply it got; the greeting is an exchange without command.
/// Serialised with its outcome (`status`, the last reply's code) after the replies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exchange {
    pub mark: Mark,
    pub command: Option<Command>,
    pub client_lines: Vec<ClientLine>,
    pub replies: Vec<Reply>,
    /// Sent while earlier commands were still unanswered.
    pub pipelined: bool,
    /// Index into the transcript's messages of the message this exchange carried.
    pub message: Option<usize>,
    /// A gap or the end of the capture cut it short.
    pub incomplete: bool,
    /// Replies past [`Bounds::max_replies`]: counted, not kept (the last one is kept as the
    /// exchange's outcome).
    pub replies_omitted: u64,
    /// Client lines past [`Bounds::max_replies`]: counted, not kept.
    pub client_lines_omitted: u64,
    /// The command (or the reply, for the greeting) came inside TLS, decrypted.
    pub tls: bool,
}

impl Exchange {
    /// The exchange a command opens; `pipelined` when earlier ones were still unanswered.
    pub fn of(mark: Mark, command: Command, pipelined: bool) -> Exchange {
        Exchange {
            mark,
            command: Some(command),
            pipelined,
            ..Exchange::default()
        }
    }

    /// Replies without a command: the greeting, an unsolicited response.
    pub fn unsolicited(mark: Mark, replies: Vec<Reply>) -> Exchange {
        Exchange {
            mark,
            replies,
            ..Exchange::default()
        }
    }

    /// Code of the last reply: the exchange's outcome.
    pub fn status(&self) -> Option<&str> {
        self.replies.last().map(|r| r.code.as_str())
    }
}

impl Serialize for Exchange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Exchange", 11)?;
        st.serialize_field("ts", &self.mark.ts)?;
        st.serialize_field("frame", &self.mark.frame)?;
        st.serialize_field("command", &self.command)?;
        st.serialize_field("client_lines", &self.client_lines)?;
        st.serialize_field("replies", &self.replies)?;
        st.serialize_field("status", &self.status())?;
        st.serialize_field("message", &self.message)?;
        st.serialize_field("pipelined", &self.pipelined)?;
        st.serialize_field("incomplete", &self.incomplete)?;
        if self.replies_omitted > 0 {
            st.serialize_field("replies_omitted", &self.replies_omitted)?;
        }
        if self.client_lines_omitted > 0 {
            st.serialize_field("client_lines_omitted", &self.client_lines_omitted)?;
        }
        if self.tls {
            st.serialize_field("tls", &true)?;
        }
        st.end()
    }
}

/// What [`Exchanges`] counted instead of keeping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Omitted {
    /// Exchanges not kept.
    pub count: u64,
    /// The first and last of them.
    pub first: Option<Mark>,
    pub last: Option<Mark>,
    /// How many of each command verb (`""` for exchanges without command); at most
    /// [`MAX_OMITTED_VERBS`] distinct verbs, the rest under `"…"`.
    pub verbs: BTreeMap<String, u64>,
    /// How many exchanges were kept before the first omitted one (where to say so).
    pub after: usize,
}

/// Distinct verbs counted in [`Omitted::verbs`].
pub const MAX_OMITTED_VERBS: usize = 32;

/// Exchanges past the cap kept while they may still get replies.
const RECENT: usize = 256;

/// A session's exchanges, addressed by their number in order of creation (stable while the
/// dissector runs). The first `max_exchanges` are kept; after that only the most recent few
/// (still open to replies) and those a message, credential or mailbox refers to (up to
/// `max_exchanges` more) are kept, and the rest are counted in [`Omitted`]. Indexing an exchange that was let go reaches a scratch
/// exchange whose contents are discarded: never a panic.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exchanges {
    /// The first `cap`, then the pinned ones, with their numbers, in order.
    settled: Vec<(usize, Exchange)>,
    /// The most recent exchanges past the cap; `recent[0]` has number `recent_base`.
    recent: VecDeque<Exchange>,
    recent_base: usize,
    next: usize,
    cap: usize,
    /// Exchanges kept past the cap because something refers to them; at most `cap`.
    pinned: usize,
    scratch: Exchange,
    pub omitted: Omitted,
}

impl Exchanges {
    pub fn new(cap: usize) -> Exchanges {
        Exchanges {
            cap,
            ..Exchanges::default()
        }
    }

    /// Number of exchanges created so far (kept or not): the number the next one gets.
    pub fn len(&self) -> usize {
        self.next
    }

    pub fn is_empty(&self) -> bool {
        self.next == 0
    }

    /// Adds an exchange; `pinned(n)` says whether exchange `n`, about to be let go, is
    /// referred to and must be kept. Returns the new exchange's number.
    pub fn push(&mut self, ex: Exchange, pinned: impl Fn(usize, &Exchange) -> bool) -> usize {
        let n = self.next;
        self.next += 1;
        if n < self.cap {
            self.settled.push((n, ex));
            return n;
        }
        if self.recent.is_empty() {
            self.recent_base = n;
        }
        self.recent.push_back(ex);
        while self.recent.len() > RECENT {
            let Some(old) = self.recent.pop_front() else {
                break;
            };
            let number = self.recent_base;
            self.recent_base += 1;
            if self.pinned < self.cap && pinned(number, &old) {
                self.pinned += 1;
                self.settled.push((number, old));
            } else {
                self.omit(&old);
            }
        }
        n
    }

    fn omit(&mut self, ex: &Exchange) {
        let o = &mut self.omitted;
        if o.count == 0 {
            o.after = self.cap;
            o.first = Some(ex.mark);
        }
        o.count += 1;
        o.last = Some(ex.mark);
        let verb = ex.command.as_ref().map_or("", |c| c.verb.as_str());
        if let Some(c) = o.verbs.get_mut(verb) {
            *c += 1;
        } else if o.verbs.len() < MAX_OMITTED_VERBS {
            o.verbs.insert(verb.to_string(), 1);
        } else {
            *o.verbs.entry("…".to_string()).or_insert(0) += 1;
        }
    }

    fn locate(&self, n: usize) -> Option<Loc> {
        if n >= self.recent_base && n - self.recent_base < self.recent.len() {
            return Some(Loc::Recent(n - self.recent_base));
        }
        let i = self.settled.binary_search_by_key(&n, |(k, _)| *k).ok()?;
        Some(Loc::Settled(i))
    }

    pub fn get(&self, n: usize) -> Option<&Exchange> {
        match self.locate(n)? {
            Loc::Recent(i) => self.recent.get(i),
            Loc::Settled(i) => self.settled.get(i).map(|(_, e)| e),
        }
    }

    /// Exchange `n` to change, or a scratch exchange whose changes are discarded when `n`
    /// was let go (only [`Transcript`]'s methods change exchanges, and record it).
    fn at(&mut self, n: usize) -> &mut Exchange {
        match self.locate(n) {
            Some(Loc::Recent(i)) if i < self.recent.len() => &mut self.recent[i],
            Some(Loc::Settled(i)) if i < self.settled.len() => &mut self.settled[i].1,
            _ => {
                self.scratch = Exchange::default();
                &mut self.scratch
            }
        }
    }

    /// The exchanges kept, in order, with their numbers.
    pub fn iter(&self) -> impl Iterator<Item = &Exchange> {
        self.settled
            .iter()
            .map(|(_, e)| e)
            .chain(self.recent.iter())
    }

    /// The exchanges kept, in order, and the number each had while the dissector ran (to
    /// translate references with [`Kept::position`]).
    pub fn into_kept(self) -> (Vec<Exchange>, Kept, Omitted) {
        let mut numbers = Vec::with_capacity(self.settled.len() + self.recent.len());
        let mut list = Vec::with_capacity(numbers.capacity());
        for (n, e) in self.settled {
            numbers.push(n);
            list.push(e);
        }
        for (i, e) in self.recent.into_iter().enumerate() {
            numbers.push(self.recent_base + i);
            list.push(e);
        }
        (list, Kept(numbers), self.omitted)
    }
}

/// The numbers of the exchanges kept, in order.
#[derive(Clone, Debug, Default)]
pub struct Kept(Vec<usize>);

impl Kept {
    /// Position in the kept list of exchange number `n`; for one that was let go, the
    /// position of the next kept exchange (where the omission is reported).
    pub fn position(&self, n: usize) -> usize {
        match self.0.binary_search(&n) {
            Ok(i) | Err(i) => i,
        }
    }

    /// The numbers, in order.
    pub fn numbers(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().copied()
    }

    /// Whether exchange number `n` was kept.
    pub fn contains(&self, n: usize) -> bool {
        self.0.binary_search(&n).is_ok()
    }
}

impl<'a> IntoIterator for &'a Exchanges {
    type Item = &'a Exchange;
    type IntoIter = std::iter::Chain<
        std::iter::Map<
            std::slice::Iter<'a, (usize, Exchange)>,
            fn(&(usize, Exchange)) -> &Exchange,
        >,
        std::collections::vec_deque::Iter<'a, Exchange>,
    >;
    fn into_iter(self) -> Self::IntoIter {
        let second: fn(&(usize, Exchange)) -> &Exchange = |(_, e)| e;
        self.settled.iter().map(second).chain(self.recent.iter())
    }
}

impl std::ops::Index<usize> for Exchanges {
    type Output = Exchange;
    fn index(&self, n: usize) -> &Exchange {
        self.get(n).unwrap_or(&self.scratch)
    }
}

#[derive(Clone, Copy)]
enum Loc {
    Recent(usize),
    Settled(usize),
}

/// A message that crossed the wire (SMTP DATA/BDAT, POP3 RETR/TOP, IMAP FETCH/APPEND): what
/// the transfer told. The session model adds what MIME decoding found.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    /// `smtp-data`, `smtp-bdat`, `pop3-retr`, `pop3-top`, `imap-fetch`, `imap-append`.
    pub origin: &'static str,
    /// The exchange that ended it (DATA, or BDAT … LAST).
    pub exchange: usize,
    #[serde(flatten)]
    pub mark: Mark,
    pub mail_from: Option<String>,
    /// Recipients the server accepted.
    pub rcpt_to: Vec<String>,
    /// Size of the whole message, also past the limit.
    pub size: u64,
    /// SHA-256 over every byte seen, when that is more than `bytes` (a truncated message);
    /// `None`: it is the SHA-256 of `bytes`, left to the decoding stage.
    #[serde(serialize_with = "hash_or_empty")]
    pub sha256: Option<String>,
    pub truncated: bool,
    /// A gap fell inside it: bytes are missing.
    pub incomplete: bool,
    /// Why its bytes were not kept for decoding (a memory budget), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_decoded: Option<&'static str>,
    /// Transferred inside TLS (decrypted).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
    /// The message as transferred (dot-unstuffed, without the final `.CRLF`), up to the
    /// size limit, in the pieces it was kept in; moved to the decoder (which joins them),
    /// and kept afterwards only for `--extract`.
    #[serde(skip)]
    pub bytes: super::line::Pieces,
}

fn hash_or_empty<S: serde::Serializer>(h: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(h.as_deref().unwrap_or(""))
}

/// Everything the dissector learned about one connection, and the changes to it not yet
/// handed out.
///
/// Every change goes through a method here, and each method that a dissector calls
/// records the change as an [`Event`] (taken with [`Transcript::take_events`]). The session
/// builder replays the events onto its own `Transcript` ([`Transcript::apply`]), so the
/// model it builds equals the dissector's transcript by construction, while a live view
/// shows the same events as they come. Derived effects (an exchange let go past the cap, a
/// reply counted past `max_replies`) are not recorded: replaying the change re-derives them.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    /// Read freely; changed only through the methods (`Exchanges` has no `IndexMut`).
    pub exchanges: Exchanges,
    /// Messages finished and not yet handed out as events (filled by `finish` for a
    /// transcript whose events were never taken: the dissectors' unit tests).
    pub messages: Vec<Message>,
    auth: Vec<Auth>,
    tls: Option<Tls>,
    anomalies: Vec<Anomaly>,
    capabilities: Vec<String>,
    mailboxes: Vec<Mailbox>,
    compression: Option<Mark>,
    bounds: Bounds,
    /// Anomalies seen per name (kept or not).
    anomaly_counts: HashMap<&'static str, u64>,
    /// Limits reached: name of the limit → (first time, how many times, what it caps).
    limits: BTreeMap<&'static str, (Mark, u64, String)>,
    /// Events not yet taken.
    events: Vec<Event>,
    /// Which changes become events.
    record: Record,
    /// Anomaly kinds reported by [`Transcript::anomaly_once`].
    once: Vec<vocab::AnomalyKind>,
    /// The bytes read now are TLS plaintext (decrypted by the pipeline): exchanges and
    /// messages from here on are marked.
    inside_tls: bool,
    /// The server refused STARTTLS (STLS): credentials in clear after it are reported.
    starttls_refused: bool,
}

/// Which changes a [`Transcript`] records as events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Record {
    /// None: a replica, built by replaying events.
    #[default]
    Nothing,
    /// What the pipeline must act on: finished messages, upgrades, the end.
    Structural,
    /// Every change (a live view is listening).
    All,
}

/// What a [`Transcript`] holds, moved out of it (to build the session model).
#[derive(Debug, Default)]
pub struct Parts {
    pub exchanges: Exchanges,
    pub auth: Vec<Auth>,
    pub tls: Option<Tls>,
    pub anomalies: Vec<Anomaly>,
    pub capabilities: Vec<String>,
    pub mailboxes: Vec<Mailbox>,
    pub compression: Option<Mark>,
}

impl Transcript {
    /// A dissector's transcript: records what the pipeline must act on (messages,
    /// upgrades, the end) as events; every change too after [`Transcript::record_all`].
    pub fn new(bounds: Bounds) -> Transcript {
        Transcript {
            record: Record::Structural,
            ..Transcript::replica(bounds)
        }
    }

    /// From now on every change is recorded as an event (a live view is listening).
    pub fn record_all(&mut self) {
        if self.record == Record::Structural {
            self.record = Record::All;
        }
    }

    /// A transcript built by replaying events ([`Transcript::apply`]); records nothing.
    pub fn replica(bounds: Bounds) -> Transcript {
        Transcript {
            exchanges: Exchanges::new(bounds.max_exchanges),
            bounds,
            ..Transcript::default()
        }
    }

    /// Records a change, when every change is recorded.
    fn record(&mut self, event: impl FnOnce() -> Event) {
        if self.record == Record::All {
            self.events.push(event());
        }
    }

    /// Records what the pipeline must act on (unless this is a replica).
    fn record_structural(&mut self, event: Event) {
        if self.record != Record::Nothing {
            self.events.push(event);
        }
    }

    /// The events since the last call, in order.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Replays one change of a dissector's transcript. `Message` events are not the
    /// transcript's (the pipeline decodes them) and are ignored; `End` finishes it.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Exchange(ex) => {
                self.push_exchange(ex);
            }
            Event::Reply { exchange, reply } => self.add_reply(exchange, reply),
            Event::ReplyLines {
                exchange,
                lines,
                mark,
            } => self.extend_reply(exchange, lines, mark),
            Event::ClientLine { exchange, line } => self.add_client_line(exchange, line),
            Event::Incomplete { exchange } => self.set_incomplete(exchange),
            Event::Pipelined {
                exchange,
                pipelined,
            } => self.set_pipelined(exchange, pipelined),
            Event::MessageOf { exchange, message } => self.set_message(exchange, message),
            Event::Auth { auth, mark } => self.add_auth(auth, mark),
            Event::AuthUpdate { index, auth } => {
                if let Some(a) = self.auth.get_mut(index) {
                    *a = auth;
                }
            }
            Event::Mailbox { mailbox, mark } => self.add_mailbox(mailbox, mark),
            Event::MailboxUpdate { index, mailbox } => {
                if let Some(m) = self.mailboxes.get_mut(index) {
                    *m = mailbox;
                }
            }
            Event::Capabilities { list, mark } => self.set_capabilities(list.into_iter(), mark),
            Event::Tls(tls) => self.tls = Some(tls),
            Event::Compression(mark) => self.compression = Some(mark),
            Event::Anomaly(a) => self.anomaly(a),
            Event::Limit { name, mark, what } => {
                self.note_limit(name, mark, || what.unwrap_or_default())
            }
            Event::Message(_) | Event::Upgrade { .. } | Event::Complete { .. } => {}
            Event::End => self.finish(),
        }
    }

    /// The limits it keeps to.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Credentials seen, in order.
    pub fn auth(&self) -> &[Auth] {
        &self.auth
    }
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }
    /// Capabilities the server offered (SMTP EHLO, POP3 CAPA, IMAP CAPABILITY).
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }
    /// IMAP: mailboxes selected or examined, with what the server said about them.
    pub fn mailboxes(&self) -> &[Mailbox] {
        &self.mailboxes
    }
    /// IMAP COMPRESS=DEFLATE: where compression started.
    pub fn compression(&self) -> Option<Mark> {
        self.compression
    }

    /// Everything it holds, moved out.
    pub fn into_parts(self) -> Parts {
        Parts {
            exchanges: self.exchanges,
            auth: self.auth,
            tls: self.tls,
            anomalies: self.anomalies,
            capabilities: self.capabilities,
            mailboxes: self.mailboxes,
            compression: self.compression,
        }
    }

    /// Records an anomaly: the first `max_anomalies` of each name are kept, the rest counted.
    pub fn anomaly(&mut self, a: Anomaly) {
        let seen = self.anomaly_counts.entry(a.name()).or_insert(0);
        *seen += 1;
        if *seen <= self.bounds.max_anomalies as u64 {
            self.record(|| Event::Anomaly(a.clone()));
            self.anomalies.push(a);
        } else {
            // Counted; a replica counts it too.
            self.record(|| Event::Anomaly(a));
        }
    }

    /// Records an anomaly of this kind only the first time it is asked for.
    pub fn anomaly_once(&mut self, a: Anomaly) {
        if !self.once.contains(&a.kind) {
            self.once.push(a.kind);
            self.anomaly(a);
        }
    }

    /// A SASL response inside exchange `n` (SMTP AUTH, POP3 AUTH, IMAP AUTHENTICATE):
    /// decoded into the last credentials, and kept redacted when it carried a secret.
    pub fn sasl_line(&mut self, n: usize, text: String, mark: Mark) {
        let secret = self
            .update_last_auth(|auth| super::event::sasl_response(auth, text.trim()))
            .unwrap_or(false);
        self.add_client_line(n, ClientLine::new(mark, text, secret));
    }

    /// Counts one event past a limit (reported once, with the count, by [`finish`]).
    ///
    /// [`finish`]: Transcript::finish
    pub fn limit(&mut self, name: &'static str, mark: Mark, what: impl FnOnce() -> String) {
        let first = !self.limits.contains_key(name);
        let what = first.then(what);
        self.record(|| Event::Limit {
            name,
            mark,
            what: what.clone(),
        });
        self.note_limit(name, mark, || what.unwrap_or_default());
    }

    /// [`Transcript::limit`] without recording: for effects a replay derives itself.
    fn note_limit(&mut self, name: &'static str, mark: Mark, what: impl FnOnce() -> String) {
        self.limits
            .entry(name)
            .and_modify(|e| e.1 += 1)
            .or_insert_with(|| (mark, 1, what()));
    }

    /// Adds an exchange, letting go of old ones past the cap unless something refers to them.
    pub fn push_exchange(&mut self, mut ex: Exchange) -> usize {
        if let Some(c) = ex.command.as_mut() {
            c.hide_secret_raw();
        }
        ex.tls |= self.inside_tls;
        self.record(|| Event::Exchange(ex.clone()));
        let (auth, mailboxes) = (&self.auth, &self.mailboxes);
        let before = self.exchanges.omitted.count;
        let n = self.exchanges.push(ex, |n, e| {
            e.message.is_some()
                || auth.iter().rev().take(64).any(|a| a.exchange == n)
                || mailboxes.iter().rev().take(64).any(|m| m.exchange == n)
        });
        if self.exchanges.omitted.count > before {
            let cap = self.bounds.max_exchanges;
            let mark = self.exchanges.omitted.last.unwrap_or_default();
            self.note_limit("max-exchanges", mark, || {
                format!("exchanges past the first {cap} are counted, not kept")
            });
        }
        n
    }

    /// Adds a reply to exchange `n`. Past `max_replies` the newest reply replaces the last
    /// one kept (it is the exchange's outcome) and the one it replaces is counted.
    pub fn add_reply(&mut self, n: usize, reply: Reply) {
        self.record(|| Event::Reply {
            exchange: n,
            reply: reply.clone(),
        });
        let cap = self.bounds.max_replies.max(1);
        let mark = reply.mark;
        let ex = self.exchanges.at(n);
        if ex.replies.len() < cap {
            ex.replies.push(reply);
            return;
        }
        ex.replies_omitted += 1;
        if let Some(last) = ex.replies.last_mut() {
            *last = reply;
        }
        self.note_limit("max-replies", mark, || {
            format!("replies to one command past the first {cap} are counted, not kept")
        });
    }

    /// Adds lines to the last reply of exchange `n` (a POP3 multi-line body arriving), up
    /// to `max_reply_lines` in all.
    pub fn extend_reply(&mut self, n: usize, lines: Vec<String>, mark: Mark) {
        if lines.is_empty() {
            return;
        }
        self.record(|| Event::ReplyLines {
            exchange: n,
            lines: lines.clone(),
            mark,
        });
        let cap = self.bounds.max_reply_lines.max(1);
        let mut dropped = false;
        if let Some(r) = self.exchanges.at(n).replies.last_mut() {
            for l in lines {
                if r.lines.len() < cap {
                    r.lines.push(l);
                } else {
                    dropped = true;
                }
            }
        }
        if dropped {
            self.note_limit("max-reply-lines", mark, || {
                format!("lines of one reply past the first {cap} are counted, not kept")
            });
        }
    }

    /// Adds a client line (SASL response, IDLE's DONE) to exchange `n`, up to `max_replies`.
    pub fn add_client_line(&mut self, n: usize, line: ClientLine) {
        self.record(|| Event::ClientLine {
            exchange: n,
            line: line.clone(),
        });
        let cap = self.bounds.max_replies;
        let mark = line.mark;
        let ex = self.exchanges.at(n);
        if ex.client_lines.len() < cap {
            ex.client_lines.push(line);
            return;
        }
        ex.client_lines_omitted += 1;
        self.note_limit("max-client-lines", mark, || {
            format!("client lines in one exchange past the first {cap} are counted, not kept")
        });
    }

    /// Exchange `n` was cut short: a gap, the end of the capture, or given up waiting.
    pub fn set_incomplete(&mut self, n: usize) {
        if self.exchanges.get(n).is_some_and(|e| e.incomplete) {
            return;
        }
        self.record(|| Event::Incomplete { exchange: n });
        self.exchanges.at(n).incomplete = true;
    }

    /// Nothing more comes for exchange `n` (its final reply came).
    pub fn complete(&mut self, n: usize) {
        self.record(|| Event::Complete { exchange: n });
    }

    /// Exchange `n` stops waiting for its reply: cut short, and complete.
    pub fn give_up(&mut self, n: usize) {
        self.set_incomplete(n);
        self.complete(n);
    }

    /// Whether exchange `n` was sent while earlier commands were unanswered.
    pub fn set_pipelined(&mut self, n: usize, pipelined: bool) {
        if self
            .exchanges
            .get(n)
            .is_some_and(|e| e.pipelined == pipelined)
        {
            return;
        }
        self.record(|| Event::Pipelined {
            exchange: n,
            pipelined,
        });
        self.exchanges.at(n).pipelined = pipelined;
    }

    /// Exchange `n` carried message number `message`.
    pub fn set_message(&mut self, n: usize, message: Option<usize>) {
        self.record(|| Event::MessageOf {
            exchange: n,
            message,
        });
        self.exchanges.at(n).message = message;
    }

    /// Adds a line to a multi-line reply being assembled, up to `max_reply_lines`; true
    /// when it was kept.
    pub fn reply_line(&mut self, lines: &mut Vec<String>, line: String, mark: Mark) -> bool {
        let cap = self.bounds.max_reply_lines;
        if lines.len() < cap {
            lines.push(line);
            return true;
        }
        self.limit("max-reply-lines", mark, || {
            format!("lines of one reply past the first {cap} are counted, not kept")
        });
        false
    }

    /// Queues exchange `n` as waiting for its reply. Past `max_in_flight` commands waiting,
    /// the oldest stops waiting (marked incomplete, counted): a client that is never
    /// answered cannot grow the queue, or the search for a tag, without bound.
    /// Returns the exchange that stopped waiting, if one did.
    pub fn in_flight(
        &mut self,
        pending: &mut VecDeque<usize>,
        n: usize,
        mark: Mark,
    ) -> Option<usize> {
        pending.push_back(n);
        let cap = self.bounds.max_in_flight.max(1);
        if pending.len() <= cap {
            return None;
        }
        let old = pending.pop_front()?;
        self.give_up(old);
        self.limit("max-in-flight", mark, || {
            format!("commands waiting for a reply past {cap}: the oldest stop waiting")
        });
        Some(old)
    }

    /// Adds a credential record, up to `max_exchanges` of them.
    pub fn add_auth(&mut self, auth: Auth, mark: Mark) {
        // Credentials in clear after the server's STARTTLS was refused: the upgrade may
        // have been stripped on the path.
        if self.starttls_refused && self.tls.is_none() {
            self.anomaly_once(Anomaly::new(
                vocab::common::Anomaly::TlsDowngrade,
                mark,
                format!(
                    "{} credentials sent in clear after the STARTTLS upgrade was refused",
                    auth.mechanism
                ),
            ));
        }
        self.record(|| Event::Auth {
            auth: auth.clone(),
            mark,
        });
        let cap = self.bounds.max_exchanges;
        if self.auth.len() < cap {
            self.auth.push(auth);
        } else {
            self.note_limit("max-auth", mark, || {
                format!("authentication attempts past the first {cap} are counted, not kept")
            });
        }
    }

    /// Changes the last credential record (`f` returns what it wants to tell).
    pub fn update_last_auth<R>(&mut self, f: impl FnOnce(&mut Auth) -> R) -> Option<R> {
        let index = self.auth.len().checked_sub(1)?;
        self.update_auth(index, f)
    }

    /// Changes the last credential record of exchange `n`.
    pub fn update_auth_of<R>(&mut self, n: usize, f: impl FnOnce(&mut Auth) -> R) -> Option<R> {
        let index = self.auth.iter().rposition(|a| a.exchange == n)?;
        self.update_auth(index, f)
    }

    fn update_auth<R>(&mut self, index: usize, f: impl FnOnce(&mut Auth) -> R) -> Option<R> {
        let a = self.auth.get_mut(index)?;
        let r = f(a);
        if self.record == Record::All {
            let auth = self.auth[index].clone();
            self.record(|| Event::AuthUpdate { index, auth });
        }
        Some(r)
    }

    /// Adds a mailbox record, up to `max_exchanges` of them.
    pub fn add_mailbox(&mut self, mailbox: Mailbox, mark: Mark) {
        self.record(|| Event::Mailbox {
            mailbox: mailbox.clone(),
            mark,
        });
        let cap = self.bounds.max_exchanges;
        if self.mailboxes.len() < cap {
            self.mailboxes.push(mailbox);
        } else {
            self.note_limit("max-mailboxes", mark, || {
                format!("mailbox selections past the first {cap} are counted, not kept")
            });
        }
    }

    /// Changes the last mailbox record, if exchange `n` made it.
    pub fn update_mailbox_of(&mut self, n: usize, f: impl FnOnce(&mut Mailbox)) {
        let Some(index) = self.mailboxes.len().checked_sub(1) else {
            return;
        };
        let Some(m) = self.mailboxes.get_mut(index).filter(|m| m.exchange == n) else {
            return;
        };
        f(m);
        if self.record == Record::All {
            let mailbox = self.mailboxes[index].clone();
            self.record(|| Event::MailboxUpdate { index, mailbox });
        }
    }

    /// Sets the capability list, keeping at most `max_reply_lines` entries.
    pub fn set_capabilities(&mut self, caps: impl Iterator<Item = String>, mark: Mark) {
        let cap = self.bounds.max_reply_lines;
        let list: Vec<String> = caps.take(cap.saturating_add(1)).collect();
        self.record(|| Event::Capabilities {
            list: list.clone(),
            mark,
        });
        self.capabilities = list;
        if self.capabilities.len() > cap {
            self.capabilities.truncate(cap);
            self.note_limit("max-reply-lines", mark, || {
                format!("capabilities past the first {cap} are not kept")
            });
        }
    }

    /// Where TLS took over: recorded, and the stream upgraded to TLS from its offsets on.
    pub fn set_tls(&mut self, tls: Tls) {
        if self.tls.as_ref() == Some(&tls) {
            return;
        }
        let (client_offset, server_offset) = (tls.client_offset, tls.server_offset);
        let first = self.tls.is_none();
        self.record(|| Event::Tls(tls.clone()));
        self.tls = Some(tls);
        if first {
            self.upgrade(Upgrade::Tls, client_offset, server_offset);
        }
    }

    /// What the pipeline read of the TLS the session switched to.
    pub fn tls_info(&mut self, info: &crate::transform::tls::conn::Info) {
        if let Some(mut tls) = self.tls.clone() {
            tls.learn(info);
            self.set_tls(tls);
        }
    }

    /// The stream is in another encoding from these offsets on (see [`Event::Upgrade`]).
    pub fn upgrade(&mut self, kind: Upgrade, client_offset: u64, server_offset: u64) {
        self.record_structural(Event::Upgrade {
            kind,
            client_offset,
            server_offset,
            client_held: Vec::new(),
        });
    }

    /// Client bytes the dissector held that turn out to be past the offset of the upgrade
    /// it just asked for: handed back, to go through the transform first.
    pub fn give_back(&mut self, held: Vec<u8>) {
        if let Some(Event::Upgrade { client_held, .. }) = self
            .events
            .iter_mut()
            .rev()
            .find(|e| matches!(e, Event::Upgrade { .. }))
        {
            client_held.extend_from_slice(&held);
        }
    }

    /// The bytes from here on are the plaintext of TLS, decrypted by the pipeline: the
    /// exchanges and messages that start now are marked `tls`.
    pub fn set_inside_tls(&mut self) {
        self.inside_tls = true;
    }

    /// The server refused the client's STARTTLS (POP3 STLS).
    pub fn starttls_refused(&mut self) {
        self.starttls_refused = true;
    }

    /// Whether the bytes read now are TLS plaintext.
    pub fn inside_tls(&self) -> bool {
        self.inside_tls
    }

    /// IMAP COMPRESS=DEFLATE started.
    pub fn set_compression(&mut self, mark: Mark) {
        self.record(|| Event::Compression(mark));
        self.compression = Some(mark);
    }

    /// A message finished: handed out as an event (or kept in `messages` for a transcript
    /// that records nothing).
    pub fn add_message(&mut self, mut m: Message) {
        m.tls |= self.inside_tls;
        match self.record {
            Record::Nothing => self.messages.push(m),
            _ => self.events.push(Event::Message(m)),
        }
    }

    /// The dissector is done: the commands still `waiting` for their replies stop waiting
    /// (incomplete), and the end is recorded (the replica finishes on it).
    pub fn end(&mut self, waiting: impl IntoIterator<Item = usize>) {
        for n in waiting {
            self.give_up(n);
        }
        self.record_structural(Event::End);
    }

    /// The transcript is done: turns every limit reached, and every anomaly name past its
    /// cap, into one `limit-reached` anomaly with the count. Messages whose events were not
    /// taken are kept in `messages`, for whoever reads the transcript directly.
    pub fn finish(&mut self) {
        // Messages not handed out yet stay readable here.
        for e in self.take_events() {
            if let Event::Message(m) = e {
                self.messages.push(m);
            }
        }
        let cap = self.bounds.max_anomalies as u64;
        let mut over: Vec<(&'static str, u64)> = self
            .anomaly_counts
            .iter()
            .filter(|(_, n)| **n > cap)
            .map(|(k, n)| (*k, *n - cap))
            .collect();
        over.sort_unstable();
        for (name, more) in over {
            let mark = self
                .anomalies
                .iter()
                .rev()
                .find(|a| a.name() == name)
                .map(|a| Mark {
                    ts: a.ts,
                    frame: a.frame,
                })
                .unwrap_or_default();
            let mut a = limit_reached(
                mark,
                format!(
                    "max-anomalies: {more} more {name:?} anomalies past the first {cap} are counted, not listed"
                ),
            );
            a.count = Some(more);
            self.anomalies.push(a);
        }
        for (name, (mark, count, what)) in std::mem::take(&mut self.limits) {
            let mut a = limit_reached(mark, format!("{name}: {what} ({count} times)"));
            a.count = Some(count);
            self.anomalies.push(a);
        }
        self.anomaly_counts.clear();
    }
}

/// The anomaly that says a resource limit was reached.
pub fn limit_reached(mark: Mark, detail: String) -> Anomaly {
    Anomaly::new(vocab::common::Anomaly::LimitReached, mark, detail)
}

/// An IMAP mailbox as SELECT/EXAMINE reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    pub name: String,
    pub read_only: bool,
    pub exists: Option<u64>,
    pub recent: Option<u64>,
    pub uidvalidity: Option<u64>,
    pub uidnext: Option<u64>,
    pub flags: Option<String>,
    pub exchange: usize,
}
