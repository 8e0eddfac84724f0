//! Human tables (comfy-table). Capture strings pass through [`crate::render::escape`]; the
//! footer line names what was skipped, as the JSON summary counts it. The messages table
//! keeps the envelope (envelope from/to) and the header (From/To) in separate columns. Given
//! a terminal's width, columns are arranged to fit it and long cells wrap.

use crate::session::{FlowRecord, RunSummary};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, CellAlignment, ContentArrangement, Table};
use std::io::{self, Write};

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// An empty table in the house style: bold headers in colour, or no styling; with a `width` (a terminal's), the
/// columns are arranged to fit it and long cells wrap; without one, every cell is whole.
fn new_table(header: Vec<&str>, color: bool, width: Option<u16>) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    // Never ask the terminal behind our back: the width is given, or there is none.
    t.force_no_tty();
    match width {
        Some(w) => t
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(w),
        None => t.set_content_arrangement(ContentArrangement::Disabled),
    };
    if color {
        t.enforce_styling();
        t.set_header(
            header
                .into_iter()
                .map(|h| Cell::new(h).add_attribute(Attribute::Bold)),
        );
    } else {
        t.set_header(header);
    }
    t
}

/// The `flows` table: a row per connection, then a one-line summary.
pub fn write_flows<W: Write>(
    out: &mut W,
    flows: &[FlowRecord],
    summary: &RunSummary,
    color: bool,
    width: Option<u16>,
) -> io::Result<()> {
    let mut table = new_table(
        vec![
            "#",
            "client",
            "server",
            "proto",
            "start (UTC)",
            "duration",
            "pkts c→s/s→c",
            "bytes c→s",
            "bytes s→c",
            "gaps",
            "state",
        ],
        color,
        width,
    );
    for f in flows {
        let proto = if f.implicit_tls && f.protocol != crate::types::Protocol::Tls {
            format!("{}/tls", f.protocol)
        } else {
            f.protocol.to_string()
        };
        let gaps = f.gaps.client + f.gaps.server;
        let gaps = if gaps == 0 {
            "0".to_string()
        } else {
            format!(
                "{gaps} ({})",
                human_bytes(f.gap_bytes.client + f.gap_bytes.server)
            )
        };
        let state = if f.handshake || f.state == "mid-stream" {
            f.state.to_string()
        } else {
            format!("{} (mid-stream)", f.state)
        };
        let start = f.start.to_human();
        table.add_row(vec![
            Cell::new(f.id).set_alignment(CellAlignment::Right),
            Cell::new(f.client),
            Cell::new(f.server),
            Cell::new(proto),
            Cell::new(start),
            Cell::new(format!("{:.3}s", f.duration)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{}/{}", f.packets.client, f.packets.server))
                .set_alignment(CellAlignment::Right),
            Cell::new(human_bytes(f.bytes.client)).set_alignment(CellAlignment::Right),
            Cell::new(human_bytes(f.bytes.server)).set_alignment(CellAlignment::Right),
            Cell::new(gaps).set_alignment(CellAlignment::Right),
            Cell::new(state),
        ]);
    }
    writeln!(out, "{table}")?;
    write!(
        out,
        "{} connection(s) listed of {} seen; {} frames, {} TCP segments",
        summary.listed, summary.connections, summary.frames, summary.tcp_segments
    )?;
    writeln!(out, "{}", skipped_notes(summary))
}

/// `; N malformed; N on unsupported link types; …` for every nonzero count of frames or
/// connections not fully read, as the JSON summary has them; empty when there is none.
pub fn skipped_notes(summary: &RunSummary) -> String {
    let notes = [
        (summary.frames_malformed, "malformed"),
        (summary.frames_cut_by_snaplen, "cut by snaplen"),
        (summary.ip_fragments, "IP fragments"),
        (summary.frames_unsupported_link, "on unsupported link types"),
        (summary.connections_timed_out, "connections timed out"),
        (
            summary.connections_evicted_at_limit,
            "connections evicted at the limit",
        ),
        (
            summary.buffer_limit_flushes,
            "holes given up at the buffer limit",
        ),
        (summary.frames_tunnelled, "frames unwrapped from tunnels"),
        (
            summary.frames_tunnels_too_deep,
            "frames nested too deep in tunnels",
        ),
        (
            summary.acked_holes_given_up,
            "acknowledged holes given up as gaps",
        ),
        (summary.segments_out_of_window, "segments out of window"),
        (
            summary.packets_late,
            "packets after their connection closed",
        ),
        (summary.packets_ignored, "packets of no connection"),
        (summary.ip_fragments_dropped, "IP fragments dropped"),
        (summary.pcapng_blocks_skipped, "pcapng blocks skipped"),
        (
            summary.messages_not_decoded,
            "messages not decoded (memory budget)",
        ),
        (
            summary.listed_out_of_order,
            "listed after later ones (reorder limit)",
        ),
    ];
    notes
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("; {n} {what}"))
        .collect()
}

/// The main job's table view: sessions, then messages, then (with `--show-secrets`)
/// credentials.
pub fn write_sessions<W: Write>(
    out: &mut W,
    sessions: &[crate::session::Session],
    summary: &RunSummary,
    show_secrets: bool,
    color: bool,
    width: Option<u16>,
) -> io::Result<()> {
    use crate::render::escape;
    let new_table = |header: Vec<&str>| new_table(header, color, width);
    let mut t = new_table(vec![
        "#",
        "proto",
        "client",
        "server",
        "start (UTC)",
        "duration",
        "commands",
        "messages",
        "auth",
        "tls",
        "anomalies",
        "state",
    ]);
    for s in sessions {
        let auth = s
            .auth
            .iter()
            .map(|a| {
                format!(
                    "{} {}{}",
                    a.mechanism,
                    a.username.as_deref().unwrap_or("?"),
                    match a.success {
                        Some(true) => " ✓",
                        Some(false) => " ✗",
                        None => "",
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        t.add_row(vec![
            Cell::new(s.id).set_alignment(CellAlignment::Right),
            Cell::new(s.protocol),
            Cell::new(s.client),
            Cell::new(s.server),
            Cell::new(s.start.to_human()),
            Cell::new(format!("{:.3}s", s.duration)).set_alignment(CellAlignment::Right),
            Cell::new(s.exchanges.iter().filter(|e| e.command.is_some()).count())
                .set_alignment(CellAlignment::Right),
            Cell::new(s.messages.len()).set_alignment(CellAlignment::Right),
            Cell::new(escape(&auth)),
            // The mode, and whether what is inside was read (a key log).
            Cell::new(s.tls.as_ref().map_or(String::new(), |t| match t.decrypted {
                true => format!("{} (decrypted)", t.mode),
                false => t.mode.to_owned(),
            })),
            Cell::new(s.anomalies.len()).set_alignment(CellAlignment::Right),
            Cell::new(s.state),
        ]);
    }
    writeln!(out, "Sessions\n{t}")?;
    let mut t = new_table(vec![
        "session",
        "#",
        "via",
        "envelope from",
        "envelope to",
        "From",
        "To",
        "subject",
        "size",
        "parts",
        "attachments",
    ]);
    for s in sessions {
        for m in &s.messages {
            let attachments: Vec<String> = m
                .mime
                .parts
                .iter()
                .filter(|p| p.filename.is_some() || p.disposition.as_deref() == Some("attachment"))
                .map(|p| {
                    format!(
                        "{} ({})",
                        escape(p.filename.as_deref().unwrap_or("unnamed")),
                        human_bytes(p.size)
                    )
                })
                .collect();
            t.add_row(vec![
                Cell::new(s.id).set_alignment(CellAlignment::Right),
                Cell::new(m.number).set_alignment(CellAlignment::Right),
                Cell::new(m.transfer.origin),
                // The envelope (SMTP MAIL FROM / RCPT TO; none for POP3 and IMAP) and the
                // header fields, each in its own column: they differ for lists, bounces,
                // Bcc and forwarding, and mixing them misleads.
                Cell::new(escape(m.transfer.mail_from.as_deref().unwrap_or(""))),
                Cell::new(escape(&m.transfer.rcpt_to.join(", "))),
                Cell::new(escape(m.mime.headers.from.as_deref().unwrap_or(""))),
                Cell::new(escape(m.mime.headers.to.as_deref().unwrap_or(""))),
                Cell::new(escape(m.mime.headers.subject.as_deref().unwrap_or(""))),
                Cell::new(human_bytes(m.transfer.size)).set_alignment(CellAlignment::Right),
                Cell::new(m.mime.parts.len()).set_alignment(CellAlignment::Right),
                Cell::new(attachments.join(", ")),
            ]);
        }
    }
    writeln!(out, "Messages\n{t}")?;
    let imap: Vec<&crate::session::Session> = sessions
        .iter()
        .filter(|s| s.protocol == crate::types::Protocol::Imap)
        .collect();
    if !imap.is_empty() {
        let mut t = new_table(vec![
            "session", "tag", "command", "mailbox", "status", "result", "latency",
        ]);
        for s in imap {
            for (i, e) in s.exchanges.iter().enumerate() {
                let Some(c) = &e.command else { continue };
                let mailbox = s.mailboxes.iter().find(|m| m.exchange == i).map(|m| {
                    format!(
                        "{} ({} messages{})",
                        m.name,
                        m.exists.map_or("?".into(), |n| n.to_string()),
                        if m.read_only { ", read-only" } else { "" }
                    )
                });
                let result = e
                    .replies
                    .last()
                    .map(|r| {
                        let line = &r.lines[0];
                        line.split_once(' ')
                            .map(|(_, rest)| rest.split_once(' ').map_or("", |(_, t)| t))
                            .unwrap_or("")
                            .chars()
                            .take(50)
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                let latency = e
                    .replies
                    .last()
                    .and_then(|r| r.latency_ms)
                    .map_or(String::new(), |ms| format!("{ms:.1} ms"));
                t.add_row(vec![
                    Cell::new(s.id),
                    Cell::new(escape(c.tag.as_deref().unwrap_or(""))),
                    Cell::new(escape(&c.verb)),
                    Cell::new(escape(
                        &mailbox.or_else(|| c.mailbox.clone()).unwrap_or_default(),
                    )),
                    Cell::new(escape(e.status().unwrap_or("-"))),
                    Cell::new(escape(&result)),
                    Cell::new(latency).set_alignment(CellAlignment::Right),
                ]);
            }
        }
        writeln!(out, "Mailbox operations (IMAP)\n{t}")?;
    }
    if show_secrets {
        let mut t = new_table(vec![
            "session",
            "mechanism",
            "username",
            "password",
            "result",
        ]);
        for s in sessions {
            for a in &s.auth {
                t.add_row(vec![
                    Cell::new(s.id),
                    Cell::new(escape(&a.mechanism)),
                    Cell::new(escape(a.username.as_deref().unwrap_or(""))),
                    Cell::new(escape(a.password.as_ref().map_or("", |p| p.shown()))),
                    Cell::new(match a.success {
                        Some(true) => "success",
                        Some(false) => "failure",
                        None => "unknown",
                    }),
                ]);
            }
        }
        writeln!(out, "Credentials\n{t}")?;
    }
    writeln!(
        out,
        "{} session(s) of {} connection(s); {} frames{}",
        summary.listed,
        summary.connections,
        summary.frames,
        skipped_notes(summary)
    )
}
