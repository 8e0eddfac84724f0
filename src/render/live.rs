//! The live transcript (text output of a live capture, `-i`): the file view's lines, printed
//! as they happen instead of a block per finished session. A session's header prints when
//! it is recognised, each command with its replies when the exchange is complete, a
//! message's summary when it is decoded, and one line when the session ends. Several
//! sessions' lines interleave, so every line starts with the session's number, `[3] `.
//!
//! Each open session's events are folded by a [`Builder`] (freed when the session ends), so
//! an exchange is printed from the same record the file view prints, by the same functions
//! of [`super::text`]. Capture strings are escaped there; secrets stay redacted unless
//! `--show-secrets`.

use super::SessionSink;
use super::text::{self, Style, Times};
use crate::proto::Bounds;
use crate::session::mail::{MessageInfo, settle_exchange};
use crate::session::{Builder, Event, Origin, RunSummary, Session};
use crate::types::{Endpoint, Protocol, Timestamp};
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

/// Narrowest a cut line's text gets beside its `[N] ` prefix.
const MIN_COLUMNS: usize = 20;

/// An open session's record, folded from its events, and the exchanges not shown yet:
/// what tells a live sink when an exchange is complete (shared with the JSON events).
pub(super) struct Tracked {
    builder: Builder,
    /// Exchanges begun and not shown yet (by number), oldest first.
    pending: Vec<usize>,
    /// Prune `pending` of exchanges the builder let go when it grows past this.
    prune_at: usize,
    /// Messages already shown (by number, from 1).
    pub(super) announced: HashSet<usize>,
    /// Credential records already shown (by position): each once, when its outcome is
    /// known (or when the session ends without one).
    pub(super) auth_shown: HashSet<usize>,
}

impl Tracked {
    pub(super) fn new(protocol: Protocol, bounds: Bounds) -> Tracked {
        Tracked {
            builder: Builder::new(protocol, bounds),
            pending: Vec::new(),
            prune_at: 64,
            announced: HashSet::new(),
            auth_shown: HashSet::new(),
        }
    }

    pub(super) fn transcript(&self) -> &crate::proto::transcript::Transcript {
        self.builder.transcript()
    }

    /// Folds an event in (not a message's: its bytes are not cloned) and returns the
    /// exchanges complete with it, by number: a command's when it is told complete, one
    /// without command (a greeting) when its reply comes, and at the end every one not
    /// shown yet.
    pub(super) fn fold(&mut self, e: &Event) -> Vec<usize> {
        if matches!(e, Event::Message(_) | Event::Upgrade { .. }) {
            return Vec::new();
        }
        let number = self.builder.transcript().exchanges.len();
        self.builder.apply(e.clone());
        let t = self.builder.transcript();
        match e {
            Event::Exchange(ex) if ex.command.is_none() && !ex.replies.is_empty() => {
                vec![number]
            }
            Event::Exchange(_) => {
                self.pending.push(number);
                if self.pending.len() > self.prune_at {
                    self.pending.retain(|&n| t.exchanges.get(n).is_some());
                    self.prune_at = (self.pending.len() * 2).max(64);
                }
                Vec::new()
            }
            Event::Complete { exchange } => self.shown(*exchange),
            Event::Reply { exchange, .. }
                if t.exchanges
                    .get(*exchange)
                    .is_some_and(|x| x.command.is_none()) =>
            {
                self.shown(*exchange)
            }
            Event::End => std::mem::take(&mut self.pending),
            _ => Vec::new(),
        }
    }

    /// Exchange `n`, now shown, unless it was already.
    fn shown(&mut self, n: usize) -> Vec<usize> {
        match self.pending.iter().position(|&p| p == n) {
            Some(i) => {
                self.pending.remove(i);
                vec![n]
            }
            None => Vec::new(),
        }
    }

    /// Exchange `n` as the session will hold it (latencies set, secrets shown only if
    /// asked for), while it is kept.
    pub(super) fn exchange(
        &self,
        n: usize,
        show_secrets: bool,
    ) -> Option<crate::session::Exchange> {
        let mut e = self.builder.transcript().exchanges.get(n)?.clone();
        settle_exchange(&mut e, self.builder.protocol(), show_secrets);
        Some(e)
    }
}

/// What is known of an open session.
struct Open {
    tracked: Tracked,
    times: Times,
    /// `--explain`: the session's protocol phase, as its exchanges are shown.
    phase: crate::session::phase::Tracker,
}

/// The live transcript's sink; the notes on what was skipped and the capture's packet
/// counts go to `notes` (standard error) at the end.
pub struct LiveText<W, N> {
    out: W,
    notes: N,
    style: Style,
    show_secrets: bool,
    bounds: Bounds,
    open: HashMap<u64, Open>,
    /// Whether anything was written (for the blank line before the refused lines).
    wrote: bool,
}

impl<W: Write, N: Write> LiveText<W, N> {
    pub fn new(out: W, notes: N, style: Style, show_secrets: bool) -> Self {
        LiveText {
            out,
            notes,
            style,
            show_secrets,
            bounds: Bounds::from(&crate::limits::Limits::default()),
            open: HashMap::new(),
            wrote: false,
        }
    }

    /// The bounds a session's record is kept within (the run's limits).
    pub fn bounds(mut self, bounds: Bounds) -> Self {
        self.bounds = bounds;
        self
    }

    /// Writes what `f` writes, each line after `[number] ` (see [`emit`]).
    fn emit(
        &mut self,
        number: u64,
        f: impl FnOnce(&mut Vec<u8>, Style) -> io::Result<()>,
    ) -> io::Result<()> {
        self.wrote = true;
        emit(&mut self.out, self.style, number, f)
    }

    fn header(
        &mut self,
        number: u64,
        protocol: Protocol,
        (client, server): (Endpoint, Endpoint),
        start: Timestamp,
        midstream: bool,
    ) -> io::Result<()> {
        self.emit(number, |out, st| {
            let line = format!(
                "── session {number} · {} · {client} → {server} · {} UTC{}",
                protocol.as_str().to_ascii_uppercase(),
                start.to_human(),
                if midstream {
                    " (picked up mid-stream)"
                } else {
                    ""
                },
            );
            writeln!(out, "{}", st.bold(&line))
        })
    }

    /// Opens the record of a session (on its start, or its first event if no start came).
    fn open(&mut self, o: &Origin) -> io::Result<()> {
        if self.open.contains_key(&o.number) {
            return Ok(());
        }
        self.header(
            o.number,
            o.protocol,
            (o.client, o.server),
            o.start,
            o.midstream,
        )?;
        self.open.insert(
            o.number,
            Open {
                tracked: Tracked::new(o.protocol, self.bounds),
                times: Times::new(o.start, self.style),
                phase: crate::session::phase::Tracker::new(o.protocol),
            },
        );
        Ok(())
    }

    /// Prints exchange `n` of session `number` (if still kept), with the credentials and
    /// mailboxes it carried.
    fn print_exchange(&mut self, number: u64, n: usize) -> io::Result<()> {
        let Some(open) = self.open.get_mut(&number) else {
            return Ok(());
        };
        let Some(e) = open.tracked.exchange(n, self.show_secrets) else {
            return Ok(());
        };
        // Credentials once their outcome is known (POP3's USER waits for PASS's answer).
        let shown = &mut open.tracked.auth_shown;
        let mut auth: Vec<_> = open
            .tracked
            .builder
            .transcript()
            .auth()
            .iter()
            .enumerate()
            .filter(|(i, a)| a.exchange <= n && a.success.is_some() && shown.insert(*i))
            .map(|(_, a)| a.clone())
            .collect();
        // `--explain`: the phases this exchange begins.
        let phases = match self.style.lang() {
            Some(_) => open.phase.step(n, &e),
            None => Vec::new(),
        };
        let open = &*open;
        let t = open.tracked.transcript();
        if self.show_secrets {
            for p in auth.iter_mut().filter_map(|a| a.password.as_mut()) {
                p.reveal();
            }
        }
        let mailboxes: Vec<_> = t
            .mailboxes()
            .iter()
            .filter(|m| m.exchange == n)
            .cloned()
            .collect();
        let protocol = open.tracked.builder.protocol();
        self.wrote = true;
        emit(&mut self.out, self.style, number, |out, st| {
            if let Some(lang) = st.lang() {
                for p in &phases {
                    text::write_phase(out, protocol, p, lang, st)?;
                }
            }
            text::write_exchange(out, protocol, &open.times, &e, st)?;
            for m in &mailboxes {
                text::write_mailbox(out, m, st)?;
            }
            for a in &auth {
                text::write_auth(out, a, st)?;
            }
            Ok(())
        })
    }

    /// Prints message `info` of session `number` unless it was printed already.
    fn print_message(&mut self, number: u64, info: &MessageInfo) -> io::Result<()> {
        if let Some(open) = self.open.get_mut(&number)
            && !open.tracked.announced.insert(info.number)
        {
            return Ok(());
        }
        self.emit(number, |out, st| {
            text::write_message(out, info.number, info, st)
        })
    }
}

/// Writes what `f` writes with `style`, each line after `[number] ` and, for a terminal, cut
/// to its width (the text beside the prefix is laid out for the columns left).
fn emit<W: Write>(
    out: &mut W,
    style: Style,
    number: u64,
    f: impl FnOnce(&mut Vec<u8>, Style) -> io::Result<()>,
) -> io::Result<()> {
    let prefix = format!("[{number}] ");
    let columns = style
        .columns()
        .map(|w| w.saturating_sub(prefix.len()).max(MIN_COLUMNS));
    let mut buf = Vec::new();
    f(&mut buf, style.width(columns))?;
    let prefix = style.dim(&prefix);
    for line in String::from_utf8_lossy(&buf).lines() {
        match columns {
            Some(w) => writeln!(out, "{prefix}{}", text::cut(line, w))?,
            None => writeln!(out, "{prefix}{line}")?,
        }
    }
    Ok(())
}

impl<W: Write, N: Write> SessionSink for LiveText<W, N> {
    fn wants_events(&self) -> bool {
        true
    }

    fn start(&mut self, o: &Origin) -> io::Result<()> {
        self.open(o)
    }

    fn event(&mut self, o: &Origin, e: &Event) -> io::Result<()> {
        if matches!(e, Event::Message(_) | Event::Upgrade { .. }) {
            return Ok(());
        }
        self.open(o)?;
        let Some(open) = self.open.get_mut(&o.number) else {
            return Ok(());
        };
        let anomalies_before = open.tracked.transcript().anomalies().len();
        let print = open.tracked.fold(e);
        let mut notes = Vec::new();
        // Anomalies as they are recorded (and, at the end, the limits reached).
        let t = open.tracked.transcript();
        notes.extend(t.anomalies().iter().skip(anomalies_before).cloned());
        let tls = match e {
            Event::Tls(tls) if tls.mode != "implicit" => Some(tls.sni.clone()),
            _ => None,
        };
        let compression = match e {
            Event::Compression(mark) => Some(mark.ts),
            _ => None,
        };
        for n in print {
            self.print_exchange(o.number, n)?;
        }
        if !notes.is_empty() {
            self.emit(o.number, |out, st| {
                for a in &notes {
                    text::write_anomaly(out, a, st)?;
                }
                Ok(())
            })?;
        }
        if let Some(sni) = tls {
            self.emit(o.number, |out, st| {
                let line = format!(
                    "── TLS from here on (STARTTLS){}",
                    sni.as_ref()
                        .map(|n| format!(", server name {}", super::escape(n)))
                        .unwrap_or_default()
                );
                writeln!(out, "           {}", st.dim(&line))
            })?;
        }
        if let Some(at) = compression {
            self.emit(o.number, |out, st| {
                let line =
                    format!("── compressed (COMPRESS=DEFLATE) from {at} on: inflated and read");
                writeln!(out, "           {}", st.dim(&line))
            })?;
        }
        Ok(())
    }

    fn message(&mut self, o: &Origin, info: &MessageInfo) -> io::Result<()> {
        self.open(o)?;
        self.print_message(o.number, info)
    }

    fn session(&mut self, s: Session) -> io::Result<()> {
        let number = s.id;
        let open = match self.open.remove(&number) {
            Some(open) => Some(open),
            None => {
                // No event came for it (TLS from the first byte, a pipeline that does not
                // stream): its header and exchanges now.
                self.header(
                    number,
                    s.protocol,
                    (s.client, s.server),
                    s.start,
                    !s.handshake,
                )?;
                let times = Times::new(s.start, self.style);
                self.emit(number, |out, st| {
                    for e in &s.exchanges {
                        text::write_exchange(out, s.protocol, &times, e, st)?;
                    }
                    Ok(())
                })?;
                None
            }
        };
        let (announced, auth_shown) = open
            .map(|o| (o.tracked.announced, o.tracked.auth_shown))
            .unwrap_or_default();
        // Credentials whose outcome never came.
        let unsettled: Vec<_> = s
            .auth
            .iter()
            .enumerate()
            .filter(|(i, _)| !auth_shown.contains(i))
            .map(|(_, a)| a)
            .collect();
        if !unsettled.is_empty() {
            self.emit(number, |out, st| {
                for a in &unsettled {
                    text::write_auth(out, a, st)?;
                }
                Ok(())
            })?;
        }
        for m in s.messages.iter().filter(|m| !announced.contains(&m.number)) {
            self.emit(number, |out, st| text::write_message(out, m.number, m, st))?;
        }
        let exchanges =
            s.exchanges.len() as u64 + s.exchanges_omitted.as_ref().map_or(0, |o| o.count);
        let messages = s.messages.len() as u64 + s.messages_omitted.as_ref().map_or(0, |m| m.count);
        let plural = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let state = match s.state {
            "open" => "still open when the capture stopped".to_string(),
            state => state.to_string(),
        };
        let mut line = format!(
            "── end: {state} after {:.3} s, {}, {}",
            s.duration,
            plural(exchanges, "exchange"),
            plural(messages, "message"),
        );
        match &s.tls {
            Some(t) if t.mode == "implicit" && t.decrypted => {
                line.push_str(", TLS from the first byte, decrypted");
            }
            Some(t) if t.mode == "implicit" => {
                line.push_str(", TLS from the first byte: nothing inside can be read");
            }
            Some(t) if !t.decrypted => line.push_str(", encrypted after STARTTLS"),
            _ => {}
        }
        if s.gap_bytes.client + s.gap_bytes.server > 0 {
            line.push_str(&format!(
                ", capture gaps: {} client bytes, {} server bytes missing",
                s.gap_bytes.client, s.gap_bytes.server
            ));
        }
        self.emit(number, |out, st| writeln!(out, "{}", st.bold(&line)))
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        if !summary.refused_by.is_empty() && self.wrote {
            writeln!(self.out)?;
        }
        text::write_refused(&mut self.out, summary, self.style)?;
        if summary.error.is_none() {
            text::write_skipped(&mut self.notes, summary)?;
        }
        text::write_capture(&mut self.notes, summary)
    }
}
