//! The mail-flow picture: the path of one message across the sessions of a run (a
//! [`Path`] from `session::hops`), as text for a terminal ([`write`], at the end of
//! `--format diagram`) and as SVG ([`svg`], for the HTML report). Each hop is a row, the
//! message travelling left to right: sender → receiver, with the protocol, the server's
//! port and the hop's role on the arrow, and the session, time and envelope under it.
//!
//! ```text
//! ── mail flow · Message-ID <20261126081131.014467@vm> · "Quarterly report"
//!   MUA/MTA 127.0.0.1:46998   ──SMTP 25 relay───────▶ MTA 127.0.0.1:25
//!       session 1 · 08:11:31.876 · carol@example.net → alice@example.test
//!   MDA→mailbox 127.0.0.1:110 ──POP3 110 retrieval──▶ MUA 127.0.0.1:46550
//!       session 2 · 08:11:38.332 · TOP
//!   MUA: Mail User Agent · MTA: Mail Transfer Agent · MDA: Mail Delivery Agent
//! ```
//!
//! Everything from the capture (addresses, the Message-ID, the subject, mailbox names) is
//! escaped: [`escape`] for the terminal, XML escaping on top of it for SVG.

use super::escape;
use super::html::esc;
use super::text::{self, Style};
use crate::session::hops::{Hop, Path, Role};
use crate::teach::{Lang, kb};
use crate::types::{Protocol, Timestamp};
use std::fmt::Write as _;
use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

/// The width drawn to when the style names none.
pub const WIDTH: usize = 80;

/// The two ends of a hop, in the direction the message travelled: (from, to).
pub fn nodes(h: &Hop, first: bool) -> (&'static str, &'static str) {
    match h.role {
        Role::Submission => ("MUA", "MSA"),
        // The first hop seen may be the sender's own program talking to port 25.
        Role::Relay if first => ("MUA/MTA", "MTA"),
        Role::Relay => ("MTA", "MTA"),
        // The MDA put it into the mailbox the POP3/IMAP server reads.
        Role::Retrieval => ("MDA→mailbox", "MUA"),
        Role::Append => ("MUA", "mailbox"),
    }
}

/// `SMTP 587 submission` (`SMTP 587 提交`): what the arrow says.
pub fn label(h: &Hop, lang: Lang) -> String {
    let proto = match h.protocol {
        Protocol::Smtp => "SMTP",
        Protocol::Pop3 => "POP3",
        Protocol::Imap => "IMAP",
        Protocol::Tls => "TLS",
        Protocol::Unknown => "?",
    };
    let role = match (lang, h.role) {
        (Lang::En, r) => r.as_str(),
        (Lang::Zh, Role::Submission) => "提交",
        (Lang::Zh, Role::Relay) => "中继",
        (Lang::Zh, Role::Retrieval) => "取信",
        (Lang::Zh, Role::Append) => "追加",
    };
    format!("{proto} {} {role}", h.server.port)
}

/// The ends of a hop with their addresses, in the direction the message travelled.
fn ends(h: &Hop, first: bool) -> (String, String) {
    let (from, to) = nodes(h, first);
    // Retrieval: the message goes from the server to the client.
    match h.role {
        Role::Retrieval => (format!("{from} {}", h.server), format!("{to} {}", h.client)),
        _ => (format!("{from} {}", h.client), format!("{to} {}", h.server)),
    }
}

/// `08:11:31.921`: the time of day (UTC), to the millisecond.
fn clock(t: Timestamp) -> String {
    let human = t.to_human();
    human.get(11..23).unwrap_or(&human).to_string()
}

/// What is under the arrow: session, time, and the envelope (SMTP), the mailbox (IMAP) or
/// how it crossed (POP3 TOP, SMTP BDAT); capture strings passed through `esc`.
fn detail(h: &Hop, esc: impl Fn(&str) -> String, lang: Lang) -> String {
    let (session, mailbox) = match lang {
        Lang::En => ("session", "mailbox"),
        Lang::Zh => ("会话", "邮箱"),
    };
    let mut parts = vec![format!("{session} {}", h.session), clock(h.time)];
    if let Some(from) = &h.mail_from {
        let to: Vec<String> = h.rcpt_to.iter().map(|r| esc(r)).collect();
        let mut env = format!("{} → {}", esc(from), to.join(", "));
        if h.rcpt_total > h.rcpt_to.len() {
            env.push_str(&format!(" (+{})", h.rcpt_total - h.rcpt_to.len()));
        }
        parts.push(env);
    }
    if let Some(m) = &h.mailbox {
        parts.push(format!("{mailbox} {}", esc(m)));
    }
    match h.origin {
        "pop3-top" => parts.push("TOP".into()),
        "smtp-bdat" => parts.push("BDAT".into()),
        _ => {}
    }
    parts.join(" · ")
}

/// The heading of a path: Message-ID (cut to 40 columns, leaving room for the subject) and
/// subject, escaped.
fn heading(p: &Path) -> String {
    let mut h = format!("Message-ID <{}>", text::cut(&escape(&p.id), 40));
    if let Some(s) = &p.subject {
        h.push_str(&format!(" · \"{}\"", escape(s)));
    }
    h
}

/// The roles of the mail system a path shows, explained in one line from the knowledge
/// base (`MUA: Mail User Agent · …`), in `lang`.
pub fn legend(p: &Path, lang: Lang) -> Option<String> {
    let mut terms: Vec<&str> = Vec::new();
    for (i, h) in p.hops.iter().enumerate() {
        let (a, b) = nodes(h, i == 0);
        for n in [a, b] {
            for t in n.split('/') {
                let t = match t {
                    "MDA→mailbox" => "MDA",
                    "mailbox" => continue,
                    t => t,
                };
                if !terms.contains(&t) {
                    terms.push(t);
                }
            }
        }
    }
    let order = ["MUA", "MSA", "MTA", "MDA"];
    terms.sort_by_key(|t| order.iter().position(|o| o == t));
    let names: Vec<String> = terms
        .iter()
        .filter_map(|t| {
            let text = kb().term(t)?.text(lang).trim();
            // The name before the first colon: `Mail User Agent`, `邮件用户代理 MUA`.
            let name = text
                .split([':', '：'])
                .next()
                .filter(|n| n.len() < text.len())?;
            Some(match lang {
                Lang::En => format!("{t}: {name}"),
                Lang::Zh => name.to_string(),
            })
        })
        .collect();
    (!names.is_empty()).then(|| names.join(" · "))
}

/// Writes the picture of each path, fitted to the style's width ([`WIDTH`] without one):
/// a rule with the Message-ID and subject, a row per hop and its detail line, and the
/// legend. `dropped`: hops not kept (`Limits::max_flow_hops`), said in a last line.
pub fn write<W: Write>(
    out: &mut W,
    paths: &[Path],
    dropped: u64,
    st: Style,
    lang: Lang,
) -> io::Result<()> {
    let width = st.columns().unwrap_or(WIDTH).max(40);
    for p in paths {
        writeln!(out)?;
        let head = text::cut(&format!("── mail flow · {}", heading(p)), width);
        writeln!(out, "{}", st.bold(&head))?;
        let rows: Vec<(String, String, String)> = p
            .hops
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let (from, to) = ends(h, i == 0);
                (from, label(h, lang), to)
            })
            .collect();
        // Columns: `  from  ──label──…▶ to`, aligned when they fit.
        let from_w = rows.iter().map(|r| r.0.width()).max().unwrap_or(0);
        let label_w = rows.iter().map(|r| r.1.width()).max().unwrap_or(0);
        let to_w = rows.iter().map(|r| r.2.width()).max().unwrap_or(0);
        let aligned = 2 + from_w + 1 + 2 + label_w + 3 + to_w <= width;
        for ((from, label, to), h) in rows.iter().zip(&p.hops) {
            let (from, label) = match aligned {
                true => (
                    format!("{from:<from_w$}"),
                    format!("{label}{}", "─".repeat(label_w - label.width())),
                ),
                false => (from.clone(), label.clone()),
            };
            let arrow = format!("──{label}──▶");
            let line = format!("  {from} {} {to}", st.client(&arrow));
            writeln!(out, "{}", text::cut(&line, width))?;
            let under = text::cut(&format!("      {}", detail(h, escape, lang)), width);
            writeln!(out, "{}", st.dim(&under))?;
        }
        if let Some(l) = legend(p, lang) {
            writeln!(out, "{}", st.dim(&text::cut(&format!("  {l}"), width)))?;
        }
    }
    if dropped > 0 {
        let note =
            format!("… {dropped} more message hops counted, not linked (limit: max_flow_hops)");
        writeln!(out, "{}", st.dim(&text::cut(&note, width)))?;
    }
    Ok(())
}

/// Row height and width of the SVG picture, in its own units.
const ROW: usize = 64;
const SVG_WIDTH: usize = 760;

/// One path as an `<svg>` element (no script, no style sheet, no external reference):
/// a `<text class="title">` with the Message-ID and subject, then per hop a
/// `<g class="hop">` holding its two ends (`<text class="node">`), the arrow (`<line>`s)
/// with its label above and the session, time and envelope below (`<text class="label">`,
/// `<text class="detail">`). Drawn in `currentColor`, so it follows the page's light or
/// dark colours. Capture text is escaped.
pub fn svg(p: &Path, lang: Lang) -> String {
    let height = 40 + ROW * p.hops.len() + 8;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"flow\" viewBox=\"0 0 {SVG_WIDTH} {height}\" \
         width=\"{SVG_WIDTH}\" height=\"{height}\" font-family=\"monospace\" font-size=\"14\" \
         fill=\"currentColor\" stroke=\"currentColor\" role=\"img\">"
    );
    let title = format!("Message-ID <{}>", p.id);
    let title = match &p.subject {
        Some(sub) => format!("{title} · \"{sub}\""),
        None => title,
    };
    let _ = write!(
        s,
        "<text class=\"title\" x=\"8\" y=\"22\" stroke=\"none\" font-weight=\"bold\">{}</text>",
        esc(&title)
    );
    let (x1, x2) = (250, 500);
    for (i, h) in p.hops.iter().enumerate() {
        let (from, to) = ends(h, i == 0);
        let y = 40 + ROW * i + ROW / 2;
        let _ = write!(
            s,
            "<g class=\"hop\" data-session=\"{}\" data-role=\"{}\">",
            h.session,
            h.role.as_str()
        );
        let _ = write!(
            s,
            "<text class=\"node\" x=\"{}\" y=\"{}\" text-anchor=\"end\" stroke=\"none\">{}</text>",
            x1 - 8,
            y + 5,
            esc(&from)
        );
        let _ = write!(
            s,
            "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke-width=\"2\"/>\
             <line x1=\"{}\" y1=\"{}\" x2=\"{x2}\" y2=\"{y}\" stroke-width=\"2\"/>\
             <line x1=\"{}\" y1=\"{}\" x2=\"{x2}\" y2=\"{y}\" stroke-width=\"2\"/>",
            x2 - 10,
            y - 6,
            x2 - 10,
            y + 6
        );
        let _ = write!(
            s,
            "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" stroke=\"none\">{}</text>",
            (x1 + x2) / 2,
            y - 8,
            esc(&label(h, lang))
        );
        let _ = write!(
            s,
            "<text class=\"detail\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" stroke=\"none\" font-size=\"12\">{}</text>",
            (x1 + x2) / 2,
            y + 20,
            esc(&detail(h, str::to_string, lang))
        );
        let _ = write!(
            s,
            "<text class=\"node\" x=\"{}\" y=\"{}\" stroke=\"none\">{}</text></g>",
            x2 + 8,
            y + 5,
            esc(&to)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::hops::{link, tests as h};

    fn picture(paths: &[Path], dropped: u64) -> String {
        let mut out = Vec::new();
        write(&mut out, paths, dropped, Style::new(false), Lang::En).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_hop_is_a_row_with_protocol_port_role_and_session() {
        let (paths, _) = link(&h::run(), 100);
        let pic = picture(&paths, 0);
        assert!(
            pic.contains("Message-ID <x@y.example> · \"Quarterly report\""),
            "{pic}"
        );
        let rows: Vec<&str> = pic.lines().filter(|l| l.contains('▶')).collect();
        assert_eq!(rows.len(), 4, "{pic}");
        assert!(rows[0].contains("MUA 10.0.0.5:40001") && rows[0].contains("SMTP 587 submission"));
        assert!(
            rows[0].trim_end().ends_with("MSA 10.0.0.2:587"),
            "{}",
            rows[0]
        );
        assert!(rows[1].contains("MTA 10.0.0.2:40002") && rows[1].contains("SMTP 25 relay"));
        assert!(
            rows[2].contains("MDA→mailbox 10.0.0.3:110") && rows[2].contains("POP3 110 retrieval")
        );
        assert!(rows[2].trim_end().ends_with("MUA 10.0.0.9:40003"));
        assert!(rows[3].contains("IMAP 143 retrieval"));
        assert!(pic.contains("session 1 · "), "{pic}");
        assert!(pic.contains("carol@example.net → alice@example.test"));
        assert!(pic.contains("mailbox INBOX"));
        assert!(
            pic.contains("MUA: Mail User Agent · MSA: Mail Submission Agent"),
            "{pic}"
        );
        for l in pic.lines() {
            assert!(l.width() <= 80, "{l:?} is {} wide", l.width());
        }
    }

    #[test]
    fn nothing_is_drawn_without_a_link_and_the_limit_is_said() {
        assert_eq!(picture(&[], 0), "");
        assert!(picture(&[], 7).contains("7 more message hops"));
    }

    #[test]
    fn hostile_capture_strings_are_escaped_and_fit() {
        let mut sessions = h::run();
        for s in &mut sessions {
            for m in &mut s.messages {
                if m.mime.headers.message_id.is_some() {
                    m.mime.headers.message_id = Some(format!(
                        "<\x1b[2J\u{202e}{}\"><script>@evil.example>",
                        "x".repeat(300)
                    ));
                    m.mime.headers.subject =
                        Some("\x1b]0;pwn\x07 <script>alert(1)</script> \u{202e}fdp.exe".into());
                }
            }
        }
        let (paths, _) = link(&sessions, 100);
        assert_eq!(paths.len(), 1, "{paths:#?}");
        let pic = picture(&paths, 0);
        assert!(pic.contains("<\\u{1b}[2J\\u{202e}xxx"), "{pic}");
        assert!(pic.contains("· \"\\u{1b}]"), "{pic}");
        for l in pic.lines() {
            assert!(!l.chars().any(crate::render::is_unsafe), "{l:?}");
            assert!(l.width() <= 80, "{l:?}");
        }
        let svg = svg(&paths[0], Lang::En);
        assert!(!svg.chars().any(crate::render::is_unsafe));
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert_eq!(svg.matches("<svg").count(), 1);
    }

    #[test]
    fn the_svg_has_one_hop_per_hop_and_nodes_on_both_ends() {
        let (paths, _) = link(&h::run(), 100);
        let svg = svg(&paths[0], Lang::En);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("class=\"hop\"").count(), paths[0].hops.len());
        assert_eq!(
            svg.matches("class=\"node\"").count(),
            2 * paths[0].hops.len()
        );
        assert!(svg.contains("SMTP 587 submission"));
        assert!(svg.contains("data-role=\"relay\""));
    }
}
