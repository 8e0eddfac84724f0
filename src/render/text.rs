//! The human transcript: one block per session, every command and reply with its time
//! (relative to the session start by default; see [`Clock`]) and, if asked, its frame
//! number, reply latency, a short note of what it means, messages with their MIME tree and
//! the start of their text, anomalies inline. Bytes from the capture never reach the
//! terminal raw: control and bidi characters are shown escaped ([`crate::render::escape`]).
//! Given a terminal's width, lines are cut to it with `…` and a note that does not fit
//! goes to its own line; without one (a pipe, a file) every line is whole.

use crate::render::{escape, explain};
use crate::session::mail::MessageInfo;
use crate::session::phase;
use crate::session::{Anomaly, ClientLine, Exchange, Mark, vocab};
use crate::session::{RunSummary, Session};
use crate::teach::Lang;
use crate::types::{Protocol, Timestamp};
use std::cell::Cell;
use std::io::{self, Write};
use unicode_width::UnicodeWidthChar;

/// How the transcript shows time (tshark's `-t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Seconds since the session's first packet.
    Relative,
    /// Seconds since the line before (in the same session).
    Delta,
    /// The local time of day (TZ, else the system's zone), with the date if `date`.
    Local { date: bool },
    /// The UTC time of day, with the date if `date`.
    Utc { date: bool },
}

/// ANSI styling or none, the time column, frame numbers, and the terminal's width.
#[derive(Clone, Copy)]
pub struct Style {
    color: bool,
    clock: Clock,
    frames: bool,
    width: Option<usize>,
    /// `--explain`: each line explained, in this language.
    explain: Option<Lang>,
}

impl Style {
    pub fn new(color: bool) -> Style {
        Style {
            color,
            clock: Clock::Relative,
            frames: false,
            width: None,
            explain: None,
        }
    }
    /// Explain every command, reply, phase, anomaly and MIME idea (`--explain`).
    pub fn explain(self, explain: Option<Lang>) -> Style {
        Style { explain, ..self }
    }
    /// The time column's format.
    pub fn clock(self, clock: Clock) -> Style {
        Style { clock, ..self }
    }
    /// Frame numbers before the time.
    pub fn frames(self, frames: bool) -> Style {
        Style { frames, ..self }
    }
    /// Cut lines to this many columns (a terminal's width); `None` keeps them whole.
    pub fn width(self, width: Option<usize>) -> Style {
        Style { width, ..self }
    }
    /// The width lines are cut to, if any.
    pub(super) fn columns(&self) -> Option<usize> {
        self.width
    }
    /// The language of `--explain`, if it was asked for.
    pub(super) fn lang(&self) -> Option<Lang> {
        self.explain
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub(super) fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub(super) fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub(super) fn client(&self, s: &str) -> String {
        self.paint("36", s)
    }
    pub(super) fn reply(&self, code: &str, s: &str) -> String {
        match code.as_bytes().first() {
            Some(b'2') | Some(b'3') => self.paint("32", s),
            Some(b'4') => self.paint("33", s),
            Some(b'5') => self.paint("31", s),
            _ => s.to_string(),
        }
    }
    pub(super) fn warn(&self, s: &str) -> String {
        self.paint("33", s)
    }
}

/// Text output has no summary block; when frames were not fully read, this one line (for
/// standard error) names them, as the JSON summary and the table footer count them.
pub fn write_skipped<W: Write>(out: &mut W, summary: &RunSummary) -> io::Result<()> {
    let counts = [
        (
            summary.frames_unsupported_link,
            "frames on unsupported link types",
        ),
        (summary.frames_malformed, "malformed frames"),
        (summary.frames_cut_by_snaplen, "frames cut by snaplen"),
        (summary.segments_out_of_window, "segments out of window"),
        (summary.ip_fragments_dropped, "IP fragments dropped"),
        (summary.pcapng_blocks_skipped, "pcapng blocks skipped"),
        (
            summary.messages_not_decoded,
            "messages not decoded (memory budget, --max-held-messages)",
        ),
    ];
    let parts: Vec<String> = counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if !parts.is_empty() {
        writeln!(
            out,
            "mailscope: of {} frames read, set aside: {} (see the summary of --format json)",
            summary.frames,
            parts.join(", ")
        )?;
    }
    match summary.listed_out_of_order {
        0 => Ok(()),
        n => writeln!(
            out,
            "mailscope: {n} session{} written out of order: an earlier connection stayed open past --max-reorder finished sessions (the ids still give the order)",
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// A live capture's packet counts, one line for standard error (nothing for a file): what
/// the backend handed over, what the kernel (and the interface) dropped, and what
/// mailscope's own limits let go. A backend that cannot count drops is said to, never "0".
pub fn write_capture<W: Write>(out: &mut W, summary: &RunSummary) -> io::Result<()> {
    let Some(c) = &summary.capture else {
        return Ok(());
    };
    let kernel = match c.packets_dropped_by_kernel {
        Some(n) => format!("{n} dropped by the kernel"),
        None => format!("drops not reported by the {} backend", c.backend),
    };
    let interface = c
        .packets_dropped_by_interface
        .map(|n| format!(", {n} dropped by the interface"))
        .unwrap_or_default();
    writeln!(
        out,
        "mailscope: {} ({}): {} packets received, {kernel}{interface}, {} dropped by mailscope's limits",
        escape(&c.interface),
        c.backend,
        c.packets_received,
        c.packets_dropped_by_mailscope
    )
}

/// The time (and frame) column of one session's lines.
pub(super) struct Times {
    clock: Clock,
    frames: bool,
    start: Timestamp,
    /// The time of the line before, for [`Clock::Delta`].
    prev: Cell<Timestamp>,
    zone: Option<jiff::tz::TimeZone>,
}

impl Times {
    /// The column for a session that started at `start`.
    pub(super) fn new(start: Timestamp, st: Style) -> Times {
        Times {
            clock: st.clock,
            frames: st.frames,
            start,
            prev: Cell::new(start),
            zone: matches!(st.clock, Clock::Local { .. }).then(jiff::tz::TimeZone::system),
        }
    }

    /// The column for a line seen at `mark`.
    fn at(&self, mark: Mark) -> String {
        let seconds = |ns: i64| format!("{:>9.3}", ns as f64 / 1e9);
        let time = match self.clock {
            Clock::Relative => seconds(mark.ts.since(self.start)),
            Clock::Delta => seconds(mark.ts.since(self.prev.replace(mark.ts)).max(0)),
            Clock::Utc { date } => {
                let human = mark.ts.to_human();
                match human.split_once(' ') {
                    Some((_, time)) if !date => time.to_string(),
                    _ => human,
                }
            }
            Clock::Local { date } => self.local(mark.ts, date),
        };
        if self.frames {
            format!("{:>6} {time}", mark.frame)
        } else {
            time
        }
    }

    /// `HH:MM:SS.ffffff` (after `YYYY-MM-DD ` with `date`) in the local zone.
    fn local(&self, ts: Timestamp, date: bool) -> String {
        let zone = self.zone.clone().unwrap_or(jiff::tz::TimeZone::UTC);
        let Ok(t) = jiff::Timestamp::from_nanosecond(i128::from(ts.as_nanos().max(0))) else {
            return ts.to_human();
        };
        let z = t.to_zoned(zone);
        let time = format!(
            "{:02}:{:02}:{:02}.{:06}",
            z.hour(),
            z.minute(),
            z.second(),
            z.subsec_nanosecond() / 1000
        );
        if date {
            format!("{:04}-{:02}-{:02} {time}", z.year(), z.month(), z.day())
        } else {
            time
        }
    }
}

/// Indent of the lines under a transcript line (messages, anomalies, notes moved down).
const PAD: &str = "           ";

/// Columns `s` takes on a terminal: its characters' widths, ANSI colour codes left out.
fn visible_width(s: &str) -> usize {
    let mut width = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // `ESC [ … m`: our own colour codes (capture bytes are escaped before).
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            width += c.width().unwrap_or(0);
        }
    }
    width
}

/// `line` cut to `width` columns with `…` at the end; as it is when it fits.
pub(super) fn cut(line: &str, width: usize) -> String {
    if visible_width(line) <= width {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len().min(width * 4 + 8));
    let mut used = 0;
    let mut painted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            painted = true;
            out.push(c);
            for c in chars.by_ref() {
                out.push(c);
                if c == 'm' {
                    break;
                }
            }
            continue;
        }
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    if painted {
        out.push_str("\x1b[0m");
    }
    out
}

/// A writer that cuts every line to a terminal's width ([`cut`]).
struct Fit<'a, W> {
    out: &'a mut W,
    width: usize,
    line: Vec<u8>,
}

impl<W: Write> Fit<'_, W> {
    fn flush_line(&mut self, newline: bool) -> io::Result<()> {
        let line = String::from_utf8_lossy(&self.line);
        let line = cut(&line, self.width);
        self.out.write_all(line.as_bytes())?;
        if newline {
            self.out.write_all(b"\n")?;
        }
        self.line.clear();
        Ok(())
    }
}

impl<W: Write> Write for Fit<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            self.line.extend_from_slice(&rest[..i]);
            self.flush_line(true)?;
            rest = &rest[i + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.flush_line(false)?;
        }
        self.out.flush()
    }
}

/// A transcript line and its note (`# …`): on one line, or, when a terminal is too narrow
/// for both, the note on its own line below.
fn with_note<W: Write>(out: &mut W, st: Style, head: &str, note: &str) -> io::Result<()> {
    let note = note.trim();
    if note.is_empty() {
        return writeln!(out, "{head}");
    }
    let note = st.dim(&format!("# {note}"));
    match st.width {
        Some(w) if visible_width(head) + 2 + visible_width(&note) > w => {
            writeln!(out, "{head}")?;
            writeln!(out, "{PAD}{note}")
        }
        _ => writeln!(out, "{head}  {note}"),
    }
}

/// What a command does, in a few words (from the protocol's [`vocab`] `Verb`).
pub fn verb_note(protocol: Protocol, verb: &str) -> &'static str {
    match protocol {
        Protocol::Pop3 => vocab::pop3::Verb::parse(verb)
            .map_or("not a standard POP3 command", vocab::pop3::Verb::note),
        Protocol::Imap => vocab::imap::Verb::of_command(verb)
            .map_or("not a standard IMAP command", vocab::imap::Verb::note),
        _ => vocab::smtp::Verb::parse(verb)
            .map_or("not a standard SMTP command", vocab::smtp::Verb::note),
    }
}

/// What an IMAP response means.
fn imap_reply_note(code: &str, first_line: &str) -> String {
    match code {
        "OK" => "completed".into(),
        "NO" => "refused".into(),
        "BAD" => "protocol error".into(),
        "+" => "go ahead (continuation)".into(),
        _ => {
            let mut words = first_line.split(' ').skip(1);
            let a = words.next().unwrap_or("").to_ascii_uppercase();
            let b = words.next().unwrap_or("").to_ascii_uppercase();
            match (a.as_str(), b.as_str()) {
                ("OK", _) => "status".into(),
                ("NO", _) => "warning".into(),
                ("BAD", _) => "error".into(),
                ("BYE", _) => "the server is closing the connection".into(),
                ("PREAUTH", _) => "already authenticated".into(),
                ("CAPABILITY", _) => "capabilities".into(),
                ("FLAGS", _) => "flags of the mailbox".into(),
                ("LIST", _) | ("LSUB", _) => "a mailbox".into(),
                ("SEARCH", _) | ("ESEARCH", _) => "matching messages".into(),
                ("STATUS", _) => "mailbox counters".into(),
                ("NAMESPACE", _) => "namespaces".into(),
                ("ID", _) => "server identification".into(),
                ("ENABLED", _) => "extensions enabled".into(),
                (_, "EXISTS") => "messages in the mailbox".into(),
                (_, "RECENT") => "recent messages".into(),
                (_, "EXPUNGE") => "a message was removed".into(),
                (_, "FETCH") => "message data".into(),
                _ => String::new(),
            }
        }
    }
}

/// What a reply means.
pub fn reply_note(protocol: Protocol, code: &str) -> &'static str {
    match protocol {
        Protocol::Pop3 => vocab::pop3::reply_note(code),
        _ => vocab::smtp::reply_note(code),
    }
}

pub(super) fn human_size(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

/// One line per client and server whose connection attempts were refused (SYN answered by
/// RST), after the sessions.
pub fn write_refused<W: Write>(out: &mut W, summary: &RunSummary, st: Style) -> io::Result<()> {
    for r in &summary.refused_by {
        let line = format!(
            "── refused: {} → {} · {} connection attempt{} refused (RST) · first {} UTC",
            r.client,
            r.server,
            r.attempts,
            if r.attempts == 1 { "" } else { "s" },
            r.first.to_human()
        );
        writeln!(out, "{}", st.dim(&line))?;
    }
    let listed: u64 = summary.refused_by.iter().map(|r| r.attempts).sum();
    let refused = summary.refused.unwrap_or(0);
    if refused > listed {
        let line = format!(
            "── refused: {} more connection attempts to other client/server pairs (past --max-connections pairs, counted only)",
            refused - listed
        );
        writeln!(out, "{}", st.dim(&line))?;
    }
    Ok(())
}

/// Writes one session's block (cut to the terminal's width if the style has one).
pub fn write_session<W: Write>(out: &mut W, s: &Session, st: Style) -> io::Result<()> {
    match st.width {
        Some(width) => {
            let mut fit = Fit {
                out,
                width,
                line: Vec::new(),
            };
            write_block(&mut fit, s, st)?;
            fit.flush()
        }
        None => write_block(out, s, st),
    }
}

/// The end of a session's header line: its state, whether it was picked up mid-stream, the
/// proxy tunnel it ran in, its capture file (escaped).
pub(super) fn header_tail(s: &Session) -> String {
    format!(
        "{}{}{}{}",
        s.state,
        if s.handshake {
            ""
        } else {
            " (picked up mid-stream)"
        },
        s.tunnel
            .as_ref()
            .map(|t| format!(" · via {} proxy to {}", t.label, escape(&t.target)))
            .unwrap_or_default(),
        s.file
            .as_ref()
            .map(|f| format!(" · {}", escape(f)))
            .unwrap_or_default(),
    )
}

fn write_block<W: Write>(out: &mut W, s: &Session, st: Style) -> io::Result<()> {
    let times = Times::new(s.start, st);
    let start = s.start.to_human();
    let header = format!(
        "── session {} · {} · {} → {} · {} UTC · {:.3} s · {}",
        s.id,
        s.protocol.as_str().to_ascii_uppercase(),
        s.client,
        s.server,
        start,
        s.duration,
        header_tail(s),
    );
    writeln!(out, "{}", st.bold(&header))?;
    match s.one_sided {
        Some("client") => writeln!(
            out,
            "  {}",
            st.dim(
                "one-sided: only the client's bytes were captured; replies unseen, acceptance unknown"
            )
        )?,
        Some(_) => writeln!(
            out,
            "  {}",
            st.dim("one-sided: only the server's bytes were captured; commands unseen")
        )?,
        None => {}
    }
    if let Some(tls) = &s.tls
        && tls.mode == "implicit"
    {
        write_tls(out, tls, st)?;
        if !tls.decrypted {
            for a in s.anomalies.iter().filter(|a| a.name() != "tls-no-key") {
                write_anomaly(out, a, st)?;
            }
            return Ok(());
        }
    }
    // Where STARTTLS took over, when what follows was decrypted.
    let mut tls_boundary = s
        .tls
        .as_ref()
        .filter(|t| t.mode != "implicit" && t.decrypted);
    let mut anomalies: Vec<&Anomaly> = s.anomalies.iter().collect();
    anomalies.sort_by_key(|a| a.ts);
    // Messages and mailboxes by exchange, found once (not once per exchange).
    let mut by_exchange: Vec<(Vec<usize>, Vec<usize>)> =
        vec![Default::default(); s.exchanges.len()];
    for (n, m) in s.messages.iter().enumerate() {
        if let Some(slot) = by_exchange.get_mut(m.transfer.exchange) {
            slot.0.push(n);
        }
    }
    for (n, mb) in s.mailboxes.iter().enumerate() {
        if let Some(slot) = by_exchange.get_mut(mb.exchange) {
            slot.1.push(n);
        }
    }
    let mut phases = match st.explain {
        Some(_) => phase::changes(s.protocol, &s.exchanges),
        None => Vec::new(),
    }
    .into_iter()
    .peekable();
    for (idx, e) in s.exchanges.iter().enumerate() {
        if let Some(o) = s.exchanges_omitted.as_ref().filter(|o| o.after == idx) {
            write_omitted(out, o, st)?;
        }
        if let Some(lang) = st.explain {
            while let Some(c) = phases.next_if(|c| c.exchange <= idx) {
                write_phase(out, s.protocol, c.phase, lang, st)?;
            }
        }
        if e.tls
            && let Some(tls) = tls_boundary.take()
        {
            write_tls(out, tls, st)?;
        }
        write_exchange(out, s.protocol, &times, e, st)?;
        // Anomalies seen up to the end of this exchange.
        let until = e
            .replies
            .last()
            .map_or(e.mark.ts, |r| r.mark.ts)
            .max(e.mark.ts);
        let split = anomalies.partition_point(|a| a.ts <= until);
        for a in anomalies.drain(..split) {
            write_anomaly(out, a, st)?;
        }
        let (messages, mailboxes) = std::mem::take(&mut by_exchange[idx]);
        for n in messages {
            write_message(out, n + 1, &s.messages[n], st)?;
        }
        for mb in mailboxes.into_iter().map(|n| &s.mailboxes[n]) {
            write_mailbox(out, mb, st)?;
        }
    }
    if let Some(o) = s
        .exchanges_omitted
        .as_ref()
        .filter(|o| o.after >= s.exchanges.len())
    {
        write_omitted(out, o, st)?;
    }
    if let Some(m) = &s.messages_omitted {
        writeln!(
            out,
            "           {}",
            st.dim(&format!(
                "… {} more messages ({}) counted, not kept (limit: --max-messages)",
                m.count,
                human_size(m.bytes)
            ))
        )?;
    }
    if let Some(at) = &s.compression {
        writeln!(
            out,
            "           {}",
            st.dim(&format!(
                "── compressed (COMPRESS=DEFLATE) from {at} on: inflated and read"
            ))
        )?;
    }
    if let Some(tls) = s
        .tls
        .as_ref()
        .filter(|t| t.mode != "implicit" && !t.decrypted)
    {
        write_tls(out, tls, st)?;
    }
    for a in anomalies {
        write_anomaly(out, a, st)?;
    }
    for a in &s.auth {
        write_auth(out, a, st)?;
    }
    if s.gap_bytes.client + s.gap_bytes.server > 0 {
        writeln!(
            out,
            "  {}",
            st.warn(&format!(
                "capture gaps: {} client bytes, {} server bytes missing",
                s.gap_bytes.client, s.gap_bytes.server
            ))
        )?;
    }
    Ok(())
}

/// What marks a transcript line from inside TLS (decrypted).
pub(super) const TLS_MARK: &str = "tls";

/// Where TLS took over, what it said in clear (version, suite, server name, ALPN, the
/// certificate chain), and whether what follows was decrypted (or why not).
pub(super) fn write_tls<W: Write>(
    out: &mut W,
    tls: &crate::proto::event::Tls,
    st: Style,
) -> io::Result<()> {
    let (indent, how) = match tls.mode {
        "implicit" => ("  ", "TLS from the first byte (implicit TLS)".to_owned()),
        _ => ("           ", "── TLS from here on (STARTTLS)".to_owned()),
    };
    let mut facts = Vec::new();
    facts.extend(tls.version.as_deref().map(escape));
    facts.extend(tls.cipher.as_deref().map(escape));
    if let Some(n) = &tls.sni {
        facts.push(format!("server name {}", escape(n)));
    }
    if let Some(a) = &tls.alpn {
        facts.push(format!("ALPN {}", escape(a)));
    }
    if tls.resumed {
        facts.push("resumed session".into());
    }
    let facts = match facts.is_empty() {
        true => String::new(),
        false => format!(": {}", facts.join(", ")),
    };
    let outcome = match (tls.decrypted, &tls.encrypted_bytes) {
        (true, _) => format!("; decrypted with the key log, lines marked {TLS_MARK}"),
        (false, Some(_)) => String::new(),
        (false, None) => "; nothing encrypted was seen".into(),
    };
    writeln!(out, "{indent}{}", st.dim(&format!("{how}{facts}{outcome}")))?;
    if let (false, Some(b)) = (tls.decrypted, &tls.encrypted_bytes) {
        let line = format!(
            "encrypted: {} client bytes, {} server bytes, {}",
            b.client,
            b.server,
            escape(tls.not_decrypted.as_deref().unwrap_or("not decrypted"))
        );
        writeln!(out, "{indent}{}", st.dim(&line))?;
    }
    for (n, c) in tls.certificates.iter().enumerate() {
        writeln!(
            out,
            "{indent}  {}",
            st.dim(&format!(
                "certificate {}: {}, issued by {}, valid {} to {}, sha256 {}",
                n + 1,
                escape(&c.subject),
                escape(&c.issuer),
                escape(&c.not_before),
                escape(&c.not_after),
                c.sha256
            ))
        )?;
    }
    Ok(())
}

/// An IMAP mailbox selected or examined, with what the server said of it.
pub(super) fn write_mailbox<W: Write>(
    out: &mut W,
    mb: &crate::session::Mailbox,
    st: Style,
) -> io::Result<()> {
    let mut facts = Vec::new();
    if let Some(n) = mb.exists {
        facts.push(format!("{n} messages"));
    }
    if let Some(n) = mb.recent {
        facts.push(format!("{n} recent"));
    }
    if let Some(n) = mb.uidvalidity {
        facts.push(format!("UIDVALIDITY {n}"));
    }
    if let Some(n) = mb.uidnext {
        facts.push(format!("UIDNEXT {n}"));
    }
    if mb.read_only {
        facts.push("read-only".into());
    }
    writeln!(
        out,
        "           {} {}: {}",
        st.bold("▤ mailbox"),
        escape(&mb.name),
        facts.join(", ")
    )?;
    Ok(())
}

/// A credential record: mechanism, user, password (as shown: redacted unless revealed),
/// outcome.
pub(super) fn write_auth<W: Write>(
    out: &mut W,
    a: &crate::session::Auth,
    st: Style,
) -> io::Result<()> {
    // NTLM names the user as DOMAIN\user, from a workstation.
    let user = match (&a.domain, &a.username) {
        (Some(d), Some(u)) => format!("{d}\\{u}"),
        (_, u) => u.clone().unwrap_or_else(|| "?".into()),
    };
    let from = a
        .workstation
        .as_ref()
        .map(|w| format!(" from {}", escape(w)))
        .unwrap_or_default();
    writeln!(
        out,
        "  {} {} as {}{from} (password {}): {}",
        st.bold("auth"),
        escape(&a.mechanism),
        escape(&user),
        escape(a.password.as_ref().map_or("-", |p| p.shown())),
        match a.success {
            Some(true) => "succeeded",
            Some(false) => "failed",
            None => "no answer seen",
        }
    )?;
    Ok(())
}

/// With a summary beside it, a long data line is cut (the JSON keeps it whole).
fn shorten(line: &str, summarised: bool) -> String {
    const KEEP: usize = 100;
    match line.char_indices().nth(KEEP) {
        Some((i, _)) if summarised => format!("{}…", &line[..i]),
        _ => line.to_string(),
    }
}

pub(super) fn write_anomaly<W: Write>(out: &mut W, a: &Anomaly, st: Style) -> io::Result<()> {
    let text = format!(
        "! {} ({}): {} — {}",
        a.name(),
        a.rfc(),
        a.explanation(),
        escape(&a.detail)
    );
    writeln!(out, "           {}", st.warn(&text))?;
    if let Some(text) = st.explain.and_then(|lang| explain::anomaly(a, lang)) {
        write_explanation(out, &text, st)?;
    }
    Ok(())
}

/// An explanation (`--explain`) under the line it explains, wrapped to the terminal's width
/// (100 columns without one), dimmed.
fn write_explanation<W: Write>(out: &mut W, text: &str, st: Style) -> io::Result<()> {
    let indent = "             ";
    let width = st
        .width
        .unwrap_or(100)
        .saturating_sub(indent.len() + 2)
        .max(20);
    for (n, line) in explain::wrap(text, width).into_iter().enumerate() {
        let mark = if n == 0 { "↳ " } else { "  " };
        writeln!(out, "{indent}{}", st.dim(&format!("{mark}{line}")))?;
    }
    Ok(())
}

/// The start of a protocol phase (`--explain`): its name, and what happens in it.
pub(super) fn write_phase<W: Write>(
    out: &mut W,
    protocol: Protocol,
    name: &str,
    lang: Lang,
    st: Style,
) -> io::Result<()> {
    let title = match lang {
        Lang::En => format!("── phase: {name} ──"),
        Lang::Zh => format!("── 阶段：{name} ──"),
    };
    writeln!(out, "  {}", st.bold(&title))?;
    if let Some(text) = explain::phase(protocol, name, lang) {
        write_explanation(out, &text, st)?;
    }
    Ok(())
}

/// One exchange: the command as sent (with its note and flags), the client lines and every
/// reply, each with its time column.
pub(super) fn write_exchange<W: Write>(
    out: &mut W,
    protocol: Protocol,
    times: &Times,
    e: &Exchange,
    st: Style,
) -> io::Result<()> {
    // Inside TLS (decrypted): every line says so.
    let tls = if e.tls {
        format!(" {}", st.dim(TLS_MARK))
    } else {
        String::new()
    };
    if let Some(c) = &e.command {
        // The line as it crossed the wire (case and spacing kept, secrets redacted).
        let line = &c.raw;
        // Explained in Chinese, the short English note gives way to the explanation below.
        let note = match st.explain {
            Some(Lang::Zh) => "",
            _ => verb_note(protocol, &c.verb),
        };
        let flags = match (e.pipelined, e.incomplete) {
            (true, true) => " [pipelined, incomplete]",
            (true, false) => " [pipelined]",
            (false, true) => " [incomplete]",
            _ => "",
        };
        let head = format!(
            "  {}{} {} {}",
            st.dim(&times.at(e.mark)),
            tls,
            st.client("C:"),
            st.client(&escape(line)),
        );
        with_note(out, st, &head, &format!("{note}{flags}"))?;
        if let Some(text) = st
            .explain
            .and_then(|lang| explain::command(protocol, c, lang))
        {
            write_explanation(out, &text, st)?;
        }
    }
    // Lines of this exchange's replies that advertise a capability (EHLO, CAPA).
    let capabilities = match (protocol, e.command.as_ref().map(|c| c.verb.as_str())) {
        (Protocol::Smtp, Some("EHLO" | "LHLO")) | (Protocol::Pop3, Some("CAPA")) => st.explain,
        _ => None,
    };
    let mut lines = e.client_lines.iter().peekable();
    let client_line = |out: &mut W, l: &ClientLine| {
        let head = format!(
            "  {}{} {} {}",
            st.dim(&times.at(l.mark)),
            tls,
            st.client("C:"),
            st.client(&escape(&l.text)),
        );
        let note = match st.explain {
            Some(Lang::Zh) => "",
            _ => "SASL response",
        };
        with_note(out, st, &head, note)?;
        if let Some(text) = st
            .explain
            .and_then(|lang| explain::sasl_response(&l.text, lang))
        {
            write_explanation(out, &text, st)?;
        }
        io::Result::Ok(())
    };
    for (n, r) in e.replies.iter().enumerate() {
        // Client lines sent before this reply (frames are in capture order).
        while let Some(l) = lines.next_if(|l| (l.mark.frame, l.mark.ts) < (r.mark.frame, r.mark.ts))
        {
            client_line(out, l)?;
        }
        const SHOWN: usize = 20;
        let shown = if r.lines.len() > SHOWN + 2 {
            SHOWN
        } else {
            r.lines.len()
        };
        for (k, l) in r.lines.iter().take(shown).enumerate() {
            let note = if k + 1 == shown {
                let mut note = if let Some(summary) = &r.summary {
                    escape(summary)
                } else if st.explain == Some(Lang::Zh) {
                    String::new()
                } else if protocol == Protocol::Imap {
                    imap_reply_note(&r.code, &r.lines[0])
                } else {
                    reply_note(protocol, &r.code).to_string()
                };
                if e.command.is_none() && n == 0 && st.explain != Some(Lang::Zh) {
                    note = format!("greeting: {note}");
                }
                let untagged = protocol == Protocol::Imap && r.code == "*";
                if let Some(ms) = r.latency_ms.filter(|_| !untagged) {
                    note = format!("{note} ({ms:.1} ms)");
                }
                Some(note)
            } else {
                None
            };
            let head = format!(
                "  {}{} {} {}",
                st.dim(&times.at(r.mark)),
                tls,
                st.reply(&r.code, "S:"),
                st.reply(&r.code, &escape(&shorten(l, r.summary.is_some()))),
            );
            match note {
                Some(note) => with_note(out, st, &head, &note)?,
                None => writeln!(out, "{head}")?,
            }
            if let Some(lang) = capabilities
                && k > 0
                && let Some(text) = explain::capability(protocol, l, lang)
            {
                write_explanation(out, &text, st)?;
            }
            if protocol == Protocol::Imap
                && let Some(lang) = st.explain
            {
                for text in explain::imap_capabilities(l, lang) {
                    write_explanation(out, &text, st)?;
                }
            }
        }
        if let Some(text) = st
            .explain
            .and_then(|lang| explain::reply(protocol, r, lang))
        {
            write_explanation(out, &text, st)?;
        }
        if shown < r.lines.len() {
            writeln!(
                out,
                "           {}",
                st.dim(&format!("… {} more lines", r.lines.len() - shown))
            )?;
        }
    }
    for l in lines {
        client_line(out, l)?;
    }
    Ok(())
}

/// Where exchanges past `--max-exchanges` were let go: how many, of which verbs, when.
fn write_omitted<W: Write>(
    out: &mut W,
    o: &crate::session::mail::OmittedInfo,
    st: Style,
) -> io::Result<()> {
    let mut verbs: Vec<(&String, &u64)> = o.verbs.iter().collect();
    verbs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let list: Vec<String> = verbs
        .iter()
        .take(8)
        .map(|(v, n)| {
            let v = if v.is_empty() {
                "(reply only)"
            } else {
                v.as_str()
            };
            format!("{} {}", escape(v), n)
        })
        .collect();
    writeln!(
        out,
        "           {}",
        st.dim(&format!(
            "… {} exchanges from {} to {} counted, not kept (limit: --max-exchanges): {}{}",
            o.count,
            o.first,
            o.last,
            list.join(", "),
            if verbs.len() > 8 { ", …" } else { "" }
        ))
    )
}

pub(super) fn write_message<W: Write>(
    out: &mut W,
    n: usize,
    m: &MessageInfo,
    st: Style,
) -> io::Result<()> {
    let pad = "           ";
    let mut flags = Vec::new();
    if m.transfer.truncated {
        flags.push("truncated");
    }
    if m.transfer.incomplete {
        flags.push("incomplete");
    }
    if m.transfer.not_decoded.is_some() {
        flags.push("not decoded: memory budget for messages in flight (--max-held-messages)");
    }
    writeln!(
        out,
        "{pad}{} {} via {}, sha256 {}{}",
        st.bold(&format!("✉ message {n}:")),
        human_size(m.transfer.size),
        m.transfer.origin,
        m.transfer.sha256.as_deref().unwrap_or(""),
        if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join(", "))
        }
    )?;
    let h = &m.mime.headers;
    let env = format!(
        "envelope {} → {}",
        escape(m.transfer.mail_from.as_deref().unwrap_or("<>")),
        escape(&m.transfer.rcpt_to.join(", "))
    );
    if m.transfer.origin.starts_with("smtp") {
        writeln!(out, "{pad}  {env}")?;
    }
    for (label, value) in [
        ("From", &h.from),
        ("To", &h.to),
        ("Cc", &h.cc),
        ("Subject", &h.subject),
        ("Date", &h.date),
        ("Message-ID", &h.message_id),
    ] {
        if let Some(v) = value {
            writeln!(out, "{pad}  {label}: {}", escape(v))?;
        }
    }
    // Leaves by section path, found once (a scan per entity was quadratic in the parts).
    let leaves: std::collections::HashMap<&str, &crate::mime::Part> = m
        .mime
        .parts
        .iter()
        .filter(|p| !p.path.is_empty())
        .map(|p| (p.path.as_str(), p))
        .rev()
        .collect();
    for (depth, path, ctype) in &m.mime.tree {
        let indent = "  ".repeat(*depth);
        let leaf = leaves.get(path.as_str()).copied();
        let detail = match leaf {
            // POP3 `TOP n 0`: the header block without a body line.
            Some(p) if p.size == 0 && m.transfer.origin == "pop3-top" => " (headers only)".into(),
            Some(p) => {
                let mut d = vec![human_size(p.size)];
                if let Some(cs) = &p.charset {
                    d.push(escape(cs));
                }
                if let Some(te) = &p.transfer_encoding {
                    d.push(escape(te));
                }
                if let Some(f) = &p.filename {
                    d.push(format!("\"{}\"", escape(f)));
                }
                format!(" ({})", d.join(", "))
            }
            None => String::new(),
        };
        let label = if path.is_empty() { "·" } else { path };
        writeln!(out, "{pad}  {indent}{label} {}{detail}", escape(ctype))?;
    }
    if let Some(text) = m
        .mime
        .parts
        .iter()
        .find(|p| p.content_type == "text/plain")
        .and_then(|p| p.text.as_ref())
    {
        for line in text.trim_end().lines().take(4) {
            writeln!(out, "{pad}  {}", st.dim(&format!("│ {}", escape(line))))?;
        }
    }
    for a in &m.mime.anomalies {
        writeln!(
            out,
            "{pad}  {}",
            st.warn(&format!("! mime {}: {}", a.name(), escape(&a.detail)))
        )?;
    }
    // `--explain`: the MIME ideas the message uses.
    if let Some(lang) = st.explain {
        for term in explain::message(m, lang) {
            write_explanation(out, &term, st)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every verb a dissector knows has its own note; anything else is "not a standard …
    /// command". Issue 10 found LHLO, BURL, XCLIENT, SORT, THREAD, GETACL, LANG and XTND
    /// known to the dissectors but "not a standard" here.
    #[test]
    fn known_verbs_have_notes() {
        for (protocol, verb) in [
            (Protocol::Smtp, "LHLO"),
            (Protocol::Smtp, "BURL"),
            (Protocol::Smtp, "XCLIENT"),
            (Protocol::Imap, "SORT"),
            (Protocol::Imap, "UID THREAD"),
            (Protocol::Imap, "GETACL"),
            (Protocol::Pop3, "LANG"),
            (Protocol::Pop3, "XTND"),
        ] {
            let note = verb_note(protocol, verb);
            assert!(
                !note.contains("not a standard"),
                "{protocol} {verb}: {note}"
            );
        }
        let all = vocab::smtp::Verb::ALL
            .iter()
            .map(|v| (Protocol::Smtp, v.as_str()));
        let all = all.chain(
            vocab::pop3::Verb::ALL
                .iter()
                .map(|v| (Protocol::Pop3, v.as_str())),
        );
        let all = all.chain(
            vocab::imap::Verb::ALL
                .iter()
                .map(|v| (Protocol::Imap, v.as_str())),
        );
        for (protocol, verb) in all {
            assert!(
                !verb_note(protocol, verb).contains("not a standard"),
                "{verb}"
            );
        }
        assert_eq!(
            verb_note(Protocol::Smtp, "XYZZY"),
            "not a standard SMTP command"
        );
        assert_eq!(
            verb_note(Protocol::Pop3, "XYZZY"),
            "not a standard POP3 command"
        );
        assert_eq!(
            verb_note(Protocol::Imap, "UID XYZZY"),
            "not a standard IMAP command"
        );
    }

    /// POP3 `TOP n 0` carries the header block only: its empty body reads "headers only",
    /// not "(0 B)"; a RETR's empty body still shows its size.
    #[test]
    fn top_without_lines_shows_headers_only() {
        let bytes = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        let show = |origin: &'static str| {
            let mut m = crate::session::mail::envelope(
                crate::proto::transcript::Message {
                    origin,
                    exchange: 0,
                    mark: Default::default(),
                    mail_from: None,
                    rcpt_to: Vec::new(),
                    size: bytes.len() as u64,
                    sha256: None,
                    truncated: false,
                    incomplete: false,
                    not_decoded: None,
                    tls: false,
                    bytes: Default::default(),
                },
                false,
            );
            m.set_decoded(crate::mime::parse(&bytes, false), None);
            let mut out = Vec::new();
            write_message(&mut out, 1, &m, Style::new(false)).unwrap();
            String::from_utf8(out).unwrap()
        };
        let top = show("pop3-top");
        assert!(
            top.contains("  1 multipart/mixed (headers only)\n"),
            "{top}"
        );
        let retr = show("pop3-retr");
        assert!(retr.contains("  1 multipart/mixed (0 B)\n"), "{retr}");
    }
}
