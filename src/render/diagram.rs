//! The ladder diagram (`--format diagram`): each session as a sequence diagram for a
//! terminal, in the spirit of sngrep's call flows. Two lanes, client and server; one arrow
//! per transcript line (a command, a client line inside an exchange, a reply — a multi-line
//! reply is one arrow —, a message as a thick arrow in the direction it travelled), with its
//! time since the session start on the left; the TLS boundary as a full-width band;
//! anomalies as `!` notes under the arrows. It fits the terminal's width (80 columns when
//! the output is not a terminal), long labels elided with `…`, and is coloured as the text
//! transcript is ([`Style`]).
//!
//! The order of what is drawn, [`steps`], is shared with the Mermaid printer (`mermaid`):
//!
//! ```text
//!      time  client 127.0.0.1:46998                        server 127.0.0.1:25
//!            │                                                               │
//!      0.000 │◀─ 220 mail.example.test ESMTP ────────────────────────────────│
//!      0.001 │─ EHLO client.example.test ───────────────────────────────────▶│
//!      0.010 │━ ✉ message 1, 8.7 KiB ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━▶│
//! ═══ TLS from here: nothing inside can be read ══════════════════════════════════
//! ```

use super::escape;
use super::text::{self, Style};
use crate::session::mail::MessageInfo;
use crate::session::{Anomaly, Exchange, Mark, Session};
use crate::types::Timestamp;
use std::io::{self, Write};
use unicode_width::UnicodeWidthChar;

/// The width drawn to when the output is not a terminal.
pub const WIDTH: usize = 80;
/// Narrower terminals still get this many columns (the lanes need room for a label).
const MIN_WIDTH: usize = 40;
/// Columns before the client lane: the time (9) and a space.
const TIME: usize = 10;

/// Which way an arrow points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToClient,
}

/// What an arrow stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A command (its label: the line as sent, secrets redacted).
    Command,
    /// A line the client sent inside an exchange (SASL responses, IDLE's DONE).
    ClientLine,
    /// A reply (one arrow for all its lines), with its code.
    Reply { code: &'a str },
    /// A message, by its number in the session (from 1).
    Message { number: usize, size: u64 },
}

/// One arrow: a line of the transcript. `label` comes from the capture (unescaped).
#[derive(Clone, Debug)]
pub struct Arrow<'a> {
    pub mark: Mark,
    pub dir: Dir,
    pub kind: Kind<'a>,
    pub label: String,
}

/// One thing a diagram draws, in order.
#[derive(Clone, Debug)]
pub enum Step<'a> {
    Arrow(Arrow<'a>),
    /// TLS from here: `starttls` (after the upgrade's reply) or `implicit` (from the start).
    Tls {
        mode: &'a str,
        sni: Option<&'a str>,
        /// What follows was decrypted with a key log.
        decrypted: bool,
    },
    /// COMPRESS=DEFLATE from here (inflated and read).
    Compressed,
    /// An anomaly, under the arrow it was seen with.
    Anomaly(&'a Anomaly),
    /// Something counted and not kept, or a fact about the capture (a note line).
    Note(String),
}

/// Whether a message went from client to server (SMTP DATA/BDAT, IMAP APPEND) rather than
/// back (POP3 RETR/TOP, IMAP FETCH).
fn sent_by_client(m: &MessageInfo) -> bool {
    matches!(m.transfer.origin, "smtp-data" | "smtp-bdat" | "imap-append")
}

/// Capture order of two marks.
fn key(m: Mark) -> (u64, Timestamp) {
    (m.frame, m.ts)
}

fn message_arrow(m: &MessageInfo) -> Arrow<'_> {
    let mut flags = Vec::new();
    if m.transfer.truncated {
        flags.push("truncated");
    }
    if m.transfer.incomplete {
        flags.push("incomplete");
    }
    Arrow {
        mark: m.transfer.mark,
        dir: if sent_by_client(m) {
            Dir::ToServer
        } else {
            Dir::ToClient
        },
        kind: Kind::Message {
            number: m.number,
            size: m.transfer.size,
        },
        label: match flags.is_empty() {
            true => String::new(),
            false => format!("({})", flags.join(", ")),
        },
    }
}

/// The arrows of one exchange in the order they crossed the wire: the command, client lines
/// and replies by capture order, and each of its messages where it travelled — one the
/// client sent before the first reply that came after it, one the server sent after the
/// reply that carried it. One pass: no search per message.
fn exchange_arrows<'a>(out: &mut Vec<Step<'a>>, e: &'a Exchange, messages: &[&'a MessageInfo]) {
    if let Some(c) = &e.command {
        out.push(Step::Arrow(Arrow {
            mark: e.mark,
            dir: Dir::ToServer,
            kind: Kind::Command,
            label: c.raw.clone(),
        }));
    }
    let mut pending = messages.iter().copied().peekable();
    let mut lines = e.client_lines.iter().peekable();
    let client_line = |l: &'a crate::session::ClientLine| {
        Step::Arrow(Arrow {
            mark: l.mark,
            dir: Dir::ToServer,
            kind: Kind::ClientLine,
            label: l.text.clone(),
        })
    };
    for r in &e.replies {
        while let Some(l) = lines.next_if(|l| key(l.mark) < key(r.mark)) {
            out.push(client_line(l));
        }
        while let Some(m) =
            pending.next_if(|m| sent_by_client(m) && key(m.transfer.mark) < key(r.mark))
        {
            out.push(Step::Arrow(message_arrow(m)));
        }
        let label = match r.lines.split_first() {
            Some((first, [])) => first.clone(),
            Some((first, rest)) => format!("{first} (+{} lines)", rest.len()),
            None => r.code.clone(),
        };
        out.push(Step::Arrow(Arrow {
            mark: r.mark,
            dir: Dir::ToClient,
            kind: Kind::Reply { code: &r.code },
            label,
        }));
        if let Some(m) =
            pending.next_if(|m| !sent_by_client(m) && key(m.transfer.mark) <= key(r.mark))
        {
            out.push(Step::Arrow(message_arrow(m)));
        }
    }
    out.extend(lines.map(client_line));
    out.extend(pending.map(|m| Step::Arrow(message_arrow(m))));
    if e.replies_omitted > 0 {
        out.push(Step::Note(format!(
            "… {} more replies counted, not kept",
            e.replies_omitted
        )));
    }
    if e.client_lines_omitted > 0 {
        out.push(Step::Note(format!(
            "… {} more client lines counted, not kept",
            e.client_lines_omitted
        )));
    }
}

/// What a session's diagram draws, in order: its arrows (see [`Arrow`]) in capture order, the TLS band before
/// the first arrow past the upgrade (first of all for implicit TLS), the compression band,
/// each anomaly after the arrow it was seen with, and notes on what limits let go. The
/// number of arrows is the number of transcript lines: commands, replies, client lines and
/// messages.
pub fn steps(s: &Session) -> Vec<Step<'_>> {
    let mut arrows: Vec<Step> = Vec::new();
    let mut by_exchange: Vec<Vec<&MessageInfo>> = vec![Vec::new(); s.exchanges.len()];
    let mut unplaced = Vec::new();
    for m in &s.messages {
        match by_exchange.get_mut(m.transfer.exchange) {
            Some(v) => v.push(m),
            None => unplaced.push(m),
        }
    }
    for (idx, e) in s.exchanges.iter().enumerate() {
        if let Some(o) = s.exchanges_omitted.as_ref().filter(|o| o.after == idx) {
            arrows.push(Step::Note(omitted(o.count)));
        }
        exchange_arrows(&mut arrows, e, &by_exchange[idx]);
    }
    if let Some(o) = s
        .exchanges_omitted
        .as_ref()
        .filter(|o| o.after >= s.exchanges.len())
    {
        arrows.push(Step::Note(omitted(o.count)));
    }
    arrows.extend(unplaced.into_iter().map(|m| Step::Arrow(message_arrow(m))));
    if let Some(m) = &s.messages_omitted {
        arrows.push(Step::Note(format!(
            "… {} more messages ({}) counted, not kept",
            m.count,
            text::human_size(m.bytes)
        )));
    }

    // In the order the lines crossed the wire (pipelined commands before their replies); a
    // note stays after the arrow before it. The sort is stable: lines of one frame keep the
    // order above.
    let mut last = (0, s.start);
    let mut keyed: Vec<((u64, Timestamp), Step)> = arrows
        .into_iter()
        .map(|step| {
            if let Step::Arrow(a) = &step {
                last = key(a.mark);
            }
            (last, step)
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    let arrows = keyed.into_iter().map(|(_, step)| step);

    let mut anomalies: Vec<&Anomaly> = s.anomalies.iter().collect();
    anomalies.sort_by_key(|a| a.ts);
    let mut anomalies = anomalies.into_iter().peekable();
    let tls = s.tls.as_ref().map(|t| {
        (
            t.at,
            Step::Tls {
                mode: t.mode,
                sni: t.sni.as_deref(),
                decrypted: t.decrypted,
            },
        )
    });
    let (mut tls, implicit) = match tls {
        Some((_, band)) if s.tls.as_ref().is_some_and(|t| t.mode == "implicit") => {
            (None, Some(band))
        }
        other => (other, None),
    };
    let mut compressed = s.compression;
    let mut out = Vec::with_capacity(arrows.len() + s.anomalies.len() + 2);
    out.extend(implicit);
    for step in arrows {
        if let Step::Arrow(a) = &step {
            if let Some((at, _)) = &tls
                && a.mark.ts > *at
                && let Some((_, band)) = tls.take()
            {
                out.push(band);
            }
            if compressed.is_some_and(|at| a.mark.ts > at) {
                compressed = None;
                out.push(Step::Compressed);
            }
        }
        let until = match &step {
            Step::Arrow(a) => Some(a.mark.ts),
            _ => None,
        };
        out.push(step);
        if let Some(until) = until {
            while let Some(a) = anomalies.next_if(|a| a.ts <= until) {
                out.push(Step::Anomaly(a));
            }
        }
    }
    out.extend(tls.map(|(_, band)| band));
    if compressed.is_some() {
        out.push(Step::Compressed);
    }
    out.extend(anomalies.map(Step::Anomaly));
    if s.gap_bytes.client + s.gap_bytes.server > 0 {
        out.push(Step::Note(format!(
            "capture gaps: {} client bytes, {} server bytes missing",
            s.gap_bytes.client, s.gap_bytes.server
        )));
    }
    out
}

fn omitted(count: u64) -> String {
    format!("… {count} exchanges counted, not kept (limit: --max-exchanges)")
}

/// Columns `s` takes on a terminal (no colour codes in it): its characters' widths.
fn width_of(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `s` (escaped, uncoloured) cut to `max` columns with `…`, and its width.
fn fit(s: &str, max: usize) -> (String, usize) {
    let s = text::cut(s, max);
    let w = width_of(&s);
    (s, w)
}

/// The header line, cut to the width.
fn header(s: &Session) -> String {
    format!(
        "── session {} · {} · {} UTC · {:.3} s · {}",
        s.id,
        s.protocol.as_str().to_ascii_uppercase(),
        s.start.to_human(),
        s.duration,
        text::header_tail(s),
    )
}

/// The drawing of one session at a given width.
struct Ladder {
    width: usize,
    st: Style,
    start: Timestamp,
}

impl Ladder {
    /// Columns between the two lanes.
    fn inner(&self) -> usize {
        self.width - TIME - 2
    }

    /// A line with both lanes and `inner` (already `inner()` wide) between them.
    fn lanes(&self, time: &str, inner: &str) -> String {
        format!("{time:>9} │{inner}│")
    }

    fn empty(&self) -> String {
        self.lanes("", &" ".repeat(self.inner()))
    }

    /// A note between the lanes, painted with `paint`.
    fn note(&self, text: &str, paint: impl Fn(&str) -> String) -> String {
        let inner = self.inner();
        let (text, w) = fit(text, inner - 2);
        let pad = " ".repeat(inner - 1 - w);
        self.lanes("", &format!(" {}{pad}", paint(&text)))
    }

    /// A full-width band: `═══ text ═══…`.
    fn band(&self, text: &str, fill: char) -> String {
        let (text, w) = fit(text, self.width - 8);
        let side = |n: usize| -> String { std::iter::repeat_n(fill, n).collect() };
        let line = format!("{} {text} {}", side(3), side(self.width - 5 - w));
        self.st.bold(&line)
    }

    fn arrow(&self, a: &Arrow) -> String {
        let inner = self.inner();
        let (shaft, head_right, head_left) = match a.kind {
            Kind::Message { .. } => ('━', '▶', '◀'),
            _ => ('─', '▶', '◀'),
        };
        let label = match a.kind {
            Kind::Message { number, size } => {
                let mut l = format!("✉ message {number}, {}", text::human_size(size));
                if !a.label.is_empty() {
                    l.push(' ');
                    l.push_str(&escape(&a.label));
                }
                l
            }
            _ => escape(&a.label),
        };
        // `─ label ─…─▶` or `◀─ label ─…─`: 4 columns of arrow and at least one of shaft.
        let (label, w) = fit(&label, inner - 5);
        let fill: String = std::iter::repeat_n(shaft, inner - 4 - w).collect();
        let body = match a.dir {
            Dir::ToServer => format!("{shaft} {label} {fill}{head_right}"),
            Dir::ToClient => format!("{head_left}{shaft} {label} {fill}"),
        };
        let body = match a.kind {
            Kind::Command | Kind::ClientLine => self.st.client(&body),
            Kind::Reply { code } => self.st.reply(code, &body),
            Kind::Message { .. } => self.st.bold(&body),
        };
        let time = format!("{:>9.3}", a.mark.ts.since(self.start) as f64 / 1e9);
        // A session longer than a day has a wider time column: cut, never wider.
        let line = format!("{} │{body}│", self.st.dim(&time));
        match width_of(&time) > 9 {
            true => text::cut(&line, self.width),
            false => line,
        }
    }
}

/// Writes one session's ladder, fitted to the style's width ([`WIDTH`] without one).
pub fn write_session<W: Write>(out: &mut W, s: &Session, st: Style) -> io::Result<()> {
    let width = st.columns().unwrap_or(WIDTH).max(MIN_WIDTH);
    let l = Ladder {
        width,
        st,
        start: s.start,
    };
    writeln!(out, "{}", st.bold(&text::cut(&header(s), width)))?;
    let client = format!("client {}", s.client);
    let server = format!("server {}", s.server);
    let (cw, sw) = (width_of(&client), width_of(&server));
    if TIME + cw + 1 + sw <= width {
        let pad = " ".repeat(width - TIME - cw - sw);
        writeln!(out, "{:>9} {client}{pad}{server}", "time")?;
    } else {
        writeln!(out, "{:>9} {}", "time", text::cut(&client, width - TIME))?;
        let server = text::cut(&server, width);
        writeln!(out, "{:>w$}", server, w = width)?;
    }
    writeln!(out, "{}", l.empty())?;
    match s.one_sided {
        Some("client") => writeln!(
            out,
            "{}",
            l.note("one-sided: only the client's bytes were captured", |t| st
                .dim(t))
        )?,
        Some(_) => writeln!(
            out,
            "{}",
            l.note("one-sided: only the server's bytes were captured", |t| st
                .dim(t))
        )?,
        None => {}
    }
    for step in steps(s) {
        let line = match step {
            Step::Arrow(a) => l.arrow(&a),
            Step::Tls {
                mode,
                sni,
                decrypted,
            } => {
                let what = tls_band(mode, decrypted).0;
                let band = l.band(what, '═');
                match sni {
                    Some(name) => format!(
                        "{band}\n{}",
                        l.note(&format!("server name {}", escape(name)), |t| st.dim(t))
                    ),
                    None => band,
                }
            }
            Step::Compressed => l.band(
                "compressed (COMPRESS=DEFLATE) from here: inflated and read",
                '─',
            ),
            Step::Anomaly(a) => l.note(&format!("! {}: {}", a.name(), escape(&a.detail)), |t| {
                st.warn(t)
            }),
            Step::Note(n) => l.note(&n, |t| st.dim(t)),
        };
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{}", l.empty())
}

/// What the TLS band says (English, Chinese): where TLS starts, and whether what follows
/// was decrypted.
pub fn tls_band(mode: &str, decrypted: bool) -> (&'static str, &'static str) {
    match (mode, decrypted) {
        ("implicit", false) => (
            "TLS from the first byte: nothing inside can be read",
            "从第一个字节起就是 TLS：其中内容无法读取",
        ),
        ("implicit", true) => (
            "TLS from the first byte: decrypted with the key log",
            "从第一个字节起就是 TLS：已用密钥日志解密",
        ),
        (_, false) => (
            "TLS from here: nothing inside can be read",
            "从这里开始是 TLS：其中内容无法读取",
        ),
        (_, true) => (
            "TLS from here: decrypted with the key log",
            "从这里开始是 TLS：已用密钥日志解密",
        ),
    }
}
