//! The protocol-neutral transcript every dissector produces: exchanges of a command and its
//! replies, messages that crossed the wire, credentials, TLS, anomalies.
//!
//! It is also where a session's collections are bounded (issue: hostile input must not grow
//! memory without limit). Exchanges past [`Bounds::max_exchanges`] are counted and
//! summarised instead of kept; replies per exchange, lines per reply, client lines per
//! exchange and anomalies per name have caps too. Reaching one is recorded and becomes a
//! `limit-reached` anomaly with the count when the transcript is finished.

use super::Bounds;
use super::event::{Anomaly, Auth, Mark, Secret, Tls};
use super::vocab;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// A client command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Upper-cased command name.
    pub verb: String,
    /// IMAP tag.
    pub tag: Option<String>,
    /// Arguments as sent (secrets replaced by `<redacted>`).
    pub args: String,
    /// The arguments unredacted, when they carry a secret (AUTH initial response).
    pub secret_args: Option<Secret>,
    /// MAIL/RCPT: the path without angle brackets.
    pub address: Option<String>,
    /// MAIL/RCPT ESMTP parameters, `KEY` or `KEY=VALUE`, in order.
    pub params: Vec<(String, Option<String>)>,
    /// IMAP: the mailbox the command names, decoded from modified UTF-7.
    pub mailbox: Option<String>,
}

/// A complete (possibly multi-line) server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
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
    pub summary: Option<String>,
}

/// A line the client sent inside an exchange that is not a command: SASL responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientLine {
    pub mark: Mark,
    /// As sent, or `<redacted>` when it carries a secret.
    pub text: String,
    pub secret: Option<Secret>,
}

/// A command with every reply it got; the greeting is an exchange without command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
}

impl Exchange {
    /// Code of the last reply: the exchange's outcome.
    pub fn status(&self) -> Option<&str> {
        self.replies.last().map(|r| r.code.as_str())
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

    pub fn get_mut(&mut self, n: usize) -> Option<&mut Exchange> {
        match self.locate(n)? {
            Loc::Recent(i) => self.recent.get_mut(i),
            Loc::Settled(i) => self.settled.get_mut(i).map(|(_, e)| e),
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

impl std::ops::IndexMut<usize> for Exchanges {
    fn index_mut(&mut self, n: usize) -> &mut Exchange {
        match self.locate(n) {
            Some(Loc::Recent(i)) if i < self.recent.len() => &mut self.recent[i],
            Some(Loc::Settled(i)) if i < self.settled.len() => &mut self.settled[i].1,
            _ => {
                self.scratch = Exchange::default();
                &mut self.scratch
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Loc {
    Recent(usize),
    Settled(usize),
}

/// A message transferred with DATA or BDAT.
#[derive(Clone, Debug)]
pub struct Message {
    /// `smtp-data`, `smtp-bdat`, `pop3-retr`, `pop3-top`, `imap-fetch`, `imap-append`.
    pub origin: &'static str,
    pub mark: Mark,
    /// The message as transferred (dot-unstuffed, without the final `.CRLF`), up to the
    /// size limit.
    pub bytes: Vec<u8>,
    /// Size of the whole message, also past the limit.
    pub size: u64,
    /// SHA-256 over every byte seen, when that is more than `bytes` (a truncated message);
    /// `None`: it is the SHA-256 of `bytes`, left to the decoding stage.
    pub sha256: Option<String>,
    pub truncated: bool,
    /// A gap fell inside it: bytes are missing.
    pub incomplete: bool,
    /// Why its bytes were not kept for decoding (a memory budget), if so.
    pub not_decoded: Option<&'static str>,
    pub mail_from: Option<String>,
    /// Recipients the server accepted.
    pub rcpt_to: Vec<String>,
    /// The exchange that ended it (DATA, or BDAT … LAST).
    pub exchange: usize,
}

/// Everything the dissector learned about one connection.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    pub exchanges: Exchanges,
    pub messages: Vec<Message>,
    pub auth: Vec<Auth>,
    pub tls: Option<Tls>,
    pub anomalies: Vec<Anomaly>,
    /// Capabilities the server offered (SMTP EHLO, POP3 CAPA, IMAP CAPABILITY).
    pub capabilities: Vec<String>,
    /// IMAP: mailboxes selected or examined, with what the server said about them.
    pub mailboxes: Vec<Mailbox>,
    /// IMAP COMPRESS=DEFLATE: where compression started (nothing after it is parsed).
    pub compression: Option<Mark>,
    bounds: Bounds,
    /// Anomalies seen per name (kept or not).
    anomaly_counts: HashMap<&'static str, u64>,
    /// Limits reached: name of the limit → (first time, how many times, what it caps).
    limits: BTreeMap<&'static str, (Mark, u64, String)>,
}

impl Transcript {
    pub fn new(bounds: Bounds) -> Transcript {
        Transcript {
            exchanges: Exchanges::new(bounds.max_exchanges),
            bounds,
            ..Transcript::default()
        }
    }

    /// Records an anomaly: the first `max_anomalies` of each name are kept, the rest counted.
    pub fn anomaly(&mut self, a: Anomaly) {
        let seen = self.anomaly_counts.entry(a.name()).or_insert(0);
        *seen += 1;
        if *seen <= self.bounds.max_anomalies as u64 {
            self.anomalies.push(a);
        }
    }

    /// Counts one event past a limit (reported once, with the count, by [`finish`]).
    ///
    /// [`finish`]: Transcript::finish
    pub fn limit(&mut self, name: &'static str, mark: Mark, what: impl FnOnce() -> String) {
        self.limits
            .entry(name)
            .and_modify(|e| e.1 += 1)
            .or_insert_with(|| (mark, 1, what()));
    }

    /// Adds an exchange, letting go of old ones past the cap unless something refers to them.
    pub fn push_exchange(&mut self, ex: Exchange) -> usize {
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
            self.limit("max-exchanges", mark, || {
                format!("exchanges past the first {cap} are counted, not kept")
            });
        }
        n
    }

    /// Adds a reply to exchange `n`. Past `max_replies` the newest reply replaces the last
    /// one kept (it is the exchange's outcome) and the one it replaces is counted.
    pub fn add_reply(&mut self, n: usize, reply: Reply) {
        let cap = self.bounds.max_replies.max(1);
        let mark = reply.mark;
        let ex = &mut self.exchanges[n];
        if ex.replies.len() < cap {
            ex.replies.push(reply);
            return;
        }
        ex.replies_omitted += 1;
        if let Some(last) = ex.replies.last_mut() {
            *last = reply;
        }
        self.limit("max-replies", mark, || {
            format!("replies to one command past the first {cap} are counted, not kept")
        });
    }

    /// Adds a client line (SASL response, IDLE's DONE) to exchange `n`, up to `max_replies`.
    pub fn add_client_line(&mut self, n: usize, line: ClientLine) {
        let cap = self.bounds.max_replies;
        let mark = line.mark;
        let ex = &mut self.exchanges[n];
        if ex.client_lines.len() < cap {
            ex.client_lines.push(line);
            return;
        }
        ex.client_lines_omitted += 1;
        self.limit("max-client-lines", mark, || {
            format!("client lines in one exchange past the first {cap} are counted, not kept")
        });
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
        self.exchanges[old].incomplete = true;
        self.limit("max-in-flight", mark, || {
            format!("commands waiting for a reply past {cap}: the oldest stop waiting")
        });
        Some(old)
    }

    /// Adds a credential record, up to `max_exchanges` of them.
    pub fn add_auth(&mut self, auth: Auth, mark: Mark) {
        let cap = self.bounds.max_exchanges;
        if self.auth.len() < cap {
            self.auth.push(auth);
        } else {
            self.limit("max-auth", mark, || {
                format!("authentication attempts past the first {cap} are counted, not kept")
            });
        }
    }

    /// Adds a mailbox record, up to `max_exchanges` of them.
    pub fn add_mailbox(&mut self, mailbox: Mailbox, mark: Mark) {
        let cap = self.bounds.max_exchanges;
        if self.mailboxes.len() < cap {
            self.mailboxes.push(mailbox);
        } else {
            self.limit("max-mailboxes", mark, || {
                format!("mailbox selections past the first {cap} are counted, not kept")
            });
        }
    }

    /// Sets the capability list, keeping at most `max_reply_lines` entries.
    pub fn set_capabilities(&mut self, caps: impl Iterator<Item = String>, mark: Mark) {
        let cap = self.bounds.max_reply_lines;
        self.capabilities = caps.take(cap.saturating_add(1)).collect();
        if self.capabilities.len() > cap {
            self.capabilities.truncate(cap);
            self.limit("max-reply-lines", mark, || {
                format!("capabilities past the first {cap} are not kept")
            });
        }
    }

    /// The dissector is done: turns every limit reached, and every anomaly name past its
    /// cap, into one `limit-reached` anomaly with the count.
    pub fn finish(&mut self) {
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
