//! The human transcript: one block per session, every command and reply with its time
//! relative to the session start, reply latency, a short note of what it means, messages
//! with their MIME tree and the start of their text, anomalies inline. Bytes from the
//! capture never reach the terminal raw: control and bidi characters are shown escaped
//! ([`crate::render::escape`]).

use crate::proto::event::Anomaly;
use crate::proto::transcript::{ClientLine, Exchange};
use crate::proto::vocab;
use crate::render::escape;
use crate::session::mail::MessageInfo;
use crate::session::{RunSummary, Session};
use crate::types::Protocol;
use std::io::{self, Write};

/// ANSI styling, or none.
#[derive(Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn new(color: bool) -> Style {
        Style { color }
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn client(&self, s: &str) -> String {
        self.paint("36", s)
    }
    fn reply(&self, code: &str, s: &str) -> String {
        match code.as_bytes().first() {
            Some(b'2') | Some(b'3') => self.paint("32", s),
            Some(b'4') => self.paint("33", s),
            Some(b'5') => self.paint("31", s),
            _ => s.to_string(),
        }
    }
    fn warn(&self, s: &str) -> String {
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

fn rel(session: &Session, at: crate::types::Timestamp) -> String {
    let ms = at.since(session.start) as f64 / 1e6;
    format!("{:>9.3}", ms / 1000.0)
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

fn human_size(n: u64) -> String {
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

/// Writes one session's block.
pub fn write_session<W: Write>(out: &mut W, s: &Session, st: Style) -> io::Result<()> {
    let start = s.start.to_human();
    let header = format!(
        "── session {} · {} · {} → {} · {} UTC · {:.3} s · {}{}{}{}",
        s.id,
        s.protocol.as_str().to_ascii_uppercase(),
        s.client,
        s.server,
        start,
        s.duration,
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
        writeln!(
            out,
            "  {}",
            st.dim(&format!(
                "TLS from the first byte (implicit TLS){}; nothing inside can be read",
                tls.sni
                    .as_ref()
                    .map(|n| format!(", server name {}", escape(n)))
                    .unwrap_or_default()
            ))
        )?;
        return Ok(());
    }
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
    for (idx, e) in s.exchanges.iter().enumerate() {
        if let Some(o) = s.exchanges_omitted.as_ref().filter(|o| o.after == idx) {
            write_omitted(out, o, st)?;
        }
        write_exchange(out, s, idx, e, st)?;
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
    if let Some(tls) = &s.tls {
        writeln!(
            out,
            "           {}",
            st.dim(&format!(
                "── TLS from here on (STARTTLS){}: the rest of the session is encrypted",
                tls.sni
                    .as_ref()
                    .map(|n| format!(", server name {}", escape(n)))
                    .unwrap_or_default()
            ))
        )?;
    }
    for a in anomalies {
        write_anomaly(out, a, st)?;
    }
    for a in &s.auth {
        writeln!(
            out,
            "  {} {} as {} (password {}): {}",
            st.bold("auth"),
            escape(&a.mechanism),
            escape(a.username.as_deref().unwrap_or("?")),
            escape(a.password.as_ref().map_or("-", |p| p.shown())),
            match a.success {
                Some(true) => "succeeded",
                Some(false) => "failed",
                None => "no answer seen",
            }
        )?;
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

/// With a summary beside it, a long data line is cut (the JSON keeps it whole).
fn shorten(line: &str, summarised: bool) -> String {
    const KEEP: usize = 100;
    match line.char_indices().nth(KEEP) {
        Some((i, _)) if summarised => format!("{}…", &line[..i]),
        _ => line.to_string(),
    }
}

fn write_anomaly<W: Write>(out: &mut W, a: &Anomaly, st: Style) -> io::Result<()> {
    let text = format!(
        "! {} ({}): {} — {}",
        a.name(),
        a.rfc(),
        a.explanation(),
        escape(&a.detail)
    );
    writeln!(out, "           {}", st.warn(&text))
}

fn write_exchange<W: Write>(
    out: &mut W,
    s: &Session,
    _idx: usize,
    e: &Exchange,
    st: Style,
) -> io::Result<()> {
    if let Some(c) = &e.command {
        let verb = match &c.tag {
            Some(tag) => format!("{tag} {}", c.verb),
            None => c.verb.clone(),
        };
        let line = if c.args.is_empty() {
            verb
        } else {
            format!("{verb} {}", c.args)
        };
        let note = verb_note(s.protocol, &c.verb);
        let flags = match (e.pipelined, e.incomplete) {
            (true, true) => " [pipelined, incomplete]",
            (true, false) => " [pipelined]",
            (false, true) => " [incomplete]",
            _ => "",
        };
        writeln!(
            out,
            "  {} {} {}  {}",
            st.dim(&rel(s, e.mark.ts)),
            st.client("C:"),
            st.client(&escape(&line)),
            st.dim(&format!("# {note}{flags}"))
        )?;
    }
    let mut lines = e.client_lines.iter().peekable();
    let client_line = |out: &mut W, l: &ClientLine| {
        writeln!(
            out,
            "  {} {} {}  {}",
            st.dim(&rel(s, l.mark.ts)),
            st.client("C:"),
            st.client(&escape(&l.text)),
            st.dim("# SASL response")
        )
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
                } else if s.protocol == Protocol::Imap {
                    imap_reply_note(&r.code, &r.lines[0])
                } else {
                    reply_note(s.protocol, &r.code).to_string()
                };
                if e.command.is_none() && n == 0 {
                    note = format!("greeting: {note}");
                }
                let untagged = s.protocol == Protocol::Imap && r.code == "*";
                if let Some(ms) = r.latency_ms.filter(|_| !untagged) {
                    note = format!("{note} ({ms:.1} ms)");
                }
                format!("  {}", st.dim(&format!("# {note}")))
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {} {} {}{}",
                st.dim(&rel(s, r.mark.ts)),
                st.reply(&r.code, "S:"),
                st.reply(&r.code, &escape(&shorten(l, r.summary.is_some()))),
                note
            )?;
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

fn write_message<W: Write>(out: &mut W, n: usize, m: &MessageInfo, st: Style) -> io::Result<()> {
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
}
