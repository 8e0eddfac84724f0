//! The HTML report (`--format html`): one self-contained, offline page for a classroom
//! projector. It holds the input's summary, the session list, and per session its ladder
//! diagram as inline SVG (drawn here from [`diagram::steps`], so it has exactly the arrows
//! of `--format diagram`: one per transcript line), the transcript with its explanations
//! (collapsible `<details>`, in English or Chinese), the protocol phases, each message's
//! headers, MIME tree, decoded text bodies and attachments, and the anomalies. A section
//! `#flow` holds the mail-flow picture when one is drawn ([`write_flow`]).
//!
//! The page needs nothing outside itself: inline CSS (large type, high contrast, light and
//! dark by `prefers-color-scheme`), no script, no font, image or style by URL, and a
//! Content-Security-Policy that forbids loading anything. It is the same for the same
//! input (no wall-clock time in it).
//!
//! Everything from the capture goes through [`esc`]: first [`super::escape`] (control and
//! bidi characters as `\u{…}`, as the text transcript shows them), then HTML escaping of
//! `& < > " ' =`, which is safe in element text, in quoted attributes and in SVG `<text>`.

use super::diagram::{self, Dir, Kind, Step};
use super::text::{self, cut, human_size};
use super::{escape, explain};
use crate::session::mail::MessageInfo;
use crate::session::{Anomaly, Exchange, RunSummary, Session, phase};
use crate::teach::Lang;
use crate::types::{Protocol, Timestamp};
use std::io::{self, Write};

/// `s` with `& < > " ' =` as character references (nothing else changed): safe in text,
/// in a quoted attribute and in SVG text; `=` too, so that no capture text reads as an
/// attribute (`"onload=…`) even to a naive filter.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '=' => out.push_str("&#61;"),
            c => out.push(c),
        }
    }
    out
}

/// A string from the capture, safe in HTML text, a quoted attribute or SVG text: control
/// and bidi characters shown as `\u{…}` ([`super::escape`]), then HTML-escaped.
pub fn esc(s: &str) -> String {
    html(&escape(s))
}

/// [`esc`] cut to `width` columns with `…`.
fn esc_cut(s: &str, width: usize) -> String {
    html(&cut(&escape(s), width))
}

/// Several lines (a text body) for a `<pre>`: each line escaped, the line breaks kept.
fn esc_lines(s: &str) -> String {
    s.lines().map(esc).collect::<Vec<_>>().join("\n")
}

/// A word of the page in its language.
fn tr(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// Seconds since the session start, as the diagram and the transcript show them.
fn secs(at: Timestamp, start: Timestamp) -> String {
    format!("{:.3}", at.since(start) as f64 / 1e9)
}

/// The colour class of a reply: `ok`, `more` (go on), `warn` or `err`.
fn tone(code: &str) -> &'static str {
    match code.as_bytes().first() {
        Some(b'2') | Some(b'+') if code != "-ERR" => match code {
            "+" => "more",
            _ => "ok",
        },
        Some(b'3') => "more",
        Some(b'4') => "warn",
        Some(b'5') => "err",
        _ => match code {
            "-ERR" | "BAD" | "BYE" => "err",
            "NO" => "warn",
            "OK" | "PREAUTH" => "ok",
            _ => "info",
        },
    }
}

/// What the session list shows of a session; kept while its section waits for the page.
#[derive(Clone, Debug)]
pub struct Row {
    id: u64,
    protocol: Protocol,
    client: String,
    server: String,
    start: String,
    duration: f64,
    state: &'static str,
    tls: Option<&'static str>,
    exchanges: usize,
    messages: usize,
    anomalies: usize,
}

impl Row {
    pub fn of(s: &Session) -> Row {
        Row {
            id: s.id,
            protocol: s.protocol,
            client: s.client.to_string(),
            server: s.server.to_string(),
            start: s.start.to_human(),
            duration: s.duration,
            state: s.state,
            tls: s.tls.as_ref().map(|t| t.mode),
            exchanges: s.exchanges.len(),
            messages: s.messages.len(),
            anomalies: s.anomalies.len()
                + s.messages
                    .iter()
                    .map(|m| m.mime.anomalies.len())
                    .sum::<usize>(),
        }
    }
}

const CSS: &str = r#"
:root{color-scheme:light dark;--bg:#fff;--fg:#000;--dim:#3a3a3a;--lane:#555;--client:#0037a6;--ok:#00600a;--more:#5b2a9e;--warn:#8a4500;--err:#b00000;--info:#333;--band:#e4e4e4;--code:#f2f2f2;--rule:#999;--link:#0037a6}
@media (prefers-color-scheme:dark){:root{--bg:#0d0d0d;--fg:#fff;--dim:#d0d0d0;--lane:#aaa;--client:#8cc8ff;--ok:#7ce38b;--more:#d1b3ff;--warn:#ffc46b;--err:#ff8a8a;--info:#e0e0e0;--band:#2b2b2b;--code:#1b1b1b;--rule:#666;--link:#8cc8ff}}
html{font-size:20px}
body{background:var(--bg);color:var(--fg);font-family:system-ui,"Noto Sans","Noto Sans CJK SC","Microsoft YaHei",sans-serif;line-height:1.5;margin:0 auto;max-width:78rem;padding:1rem 1.5rem}
h1{font-size:1.8rem;margin:.5rem 0}h2{font-size:1.5rem;border-bottom:3px solid var(--rule);margin-top:2.5rem}h3{font-size:1.2rem;margin-top:1.8rem}
a{color:var(--link)}
code,pre,.mono,.tl summary,.tl>div{font-family:ui-monospace,"DejaVu Sans Mono","Noto Sans Mono CJK SC",monospace}
pre{background:var(--code);padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid var(--rule);padding:.2rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right}
.dim,.note{color:var(--dim)}
.tl{margin:.15rem 0;word-break:break-all}
.tl summary{cursor:pointer}
.tl .t{color:var(--dim);display:inline-block;min-width:5.5ch;text-align:right}
.tl.c .who,.tl.c code{color:var(--client)}
.tl.m code{font-weight:bold}
.ok{color:var(--ok)}.more{color:var(--more)}.warn{color:var(--warn)}.err{color:var(--err)}.info{color:var(--info)}
.explain{border-left:4px solid var(--rule);margin:.3rem 0 .6rem 6.5ch;padding:.1rem .8rem;font-family:system-ui,"Noto Sans CJK SC",sans-serif}
.explain p{margin:.3rem 0}
.phase{font-weight:bold;margin-top:.8rem}
.anomaly{color:var(--warn)}
.band{background:var(--band);font-weight:bold;padding:.2rem .6rem;margin:.4rem 0}
.tlsmark{font-size:.75em;padding:0 .25rem;border-radius:.2rem;background:var(--band)}
svg.ladder{width:100%;height:auto;display:block;margin:.5rem 0}
svg.ladder text{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:16px;fill:var(--fg)}
svg.ladder .lane{stroke:var(--lane);stroke-width:3}
svg.ladder .arrow{fill:none;stroke-width:2.5;stroke:var(--client)}
svg.ladder .arrow.reply.ok{stroke:var(--ok)}svg.ladder .arrow.reply.more{stroke:var(--more)}svg.ladder .arrow.reply.warn{stroke:var(--warn)}svg.ladder .arrow.reply.err{stroke:var(--err)}svg.ladder .arrow.reply.info{stroke:var(--info)}
svg.ladder .arrow.message{stroke:var(--fg);stroke-width:6}
svg.ladder text.time,svg.ladder text.note{fill:var(--dim)}
svg.ladder text.anomaly{fill:var(--warn)}
svg.ladder rect.band{fill:var(--band)}
svg.ladder text.lanehead{font-weight:bold}
@media print{details{display:block}}
"#;

/// Writes the whole page: head, the input's summary, the session list, the mail-flow
/// section, then `sections` (what [`write_session`] wrote for each row, in order).
///
/// `flow` is the mail-flow picture, pre-rendered SVG (see [`write_flow`]); `None` leaves
/// the section with a short note.
/// The note that ends the sessions when there were more than the report shows
/// (`Limits::max_report_sessions`).
pub fn write_omitted<W: Write>(
    out: &mut W,
    omitted: u64,
    max: usize,
    lang: Lang,
) -> io::Result<()> {
    let text = match lang {
        Lang::En => format!(
            "{omitted} more sessions are not shown: the report holds at most {max}. Pick others with --session, --host or --proto."
        ),
        Lang::Zh => format!(
            "另有 {omitted} 个会话未显示：报告最多容纳 {max} 个。可用 --session、--host 或 --proto 选择其他会话。"
        ),
    };
    writeln!(out, "<p class=\"omitted\">{}</p>", esc(&text))
}

pub fn write_page<W: Write>(
    out: &mut W,
    summary: &RunSummary,
    rows: &[Row],
    sections: &[u8],
    flow: Option<&str>,
    lang: Lang,
) -> io::Result<()> {
    let input = esc(&summary.input);
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"{}\">", tr(lang, "en", "zh-Hans"))?;
    writeln!(out, "<head>")?;
    writeln!(out, "<meta charset=\"utf-8\"/>")?;
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>"
    )?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
    )?;
    writeln!(out, "<meta name=\"generator\" content=\"mailscope\"/>")?;
    writeln!(out, "<title>mailscope — {input}</title>")?;
    writeln!(out, "<style>{CSS}</style>")?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")?;
    writeln!(out, "<header>")?;
    writeln!(
        out,
        "<h1>{}</h1>",
        tr(lang, "mailscope report", "mailscope 邮件会话报告")
    )?;
    writeln!(
        out,
        "<p>{} <code>{input}</code></p>",
        tr(lang, "Input:", "输入文件：")
    )?;
    let mut facts = vec![
        (tr(lang, "frames", "帧数"), summary.frames.to_string()),
        (
            tr(lang, "TCP connections", "TCP 连接"),
            summary.connections.to_string(),
        ),
        (
            tr(lang, "mail sessions", "邮件会话"),
            rows.len().to_string(),
        ),
        (
            tr(lang, "messages", "邮件"),
            rows.iter().map(|r| r.messages).sum::<usize>().to_string(),
        ),
    ];
    if let Some(n) = summary.refused.filter(|n| *n > 0) {
        facts.push((
            tr(lang, "refused connections", "被拒绝的连接"),
            n.to_string(),
        ));
    }
    write!(out, "<table class=\"facts\">")?;
    for (k, v) in facts {
        write!(out, "<tr><th>{k}</th><td class=\"num\">{v}</td></tr>")?;
    }
    writeln!(out, "</table>")?;
    if let Some(e) = &summary.error {
        writeln!(
            out,
            "<p class=\"err\">{} {}</p>",
            tr(lang, "Reading stopped early:", "读取提前停止："),
            esc(e)
        )?;
    }
    writeln!(out, "</header>")?;

    writeln!(out, "<nav id=\"sessions\">")?;
    writeln!(out, "<h2>{}</h2>", tr(lang, "Sessions", "会话列表"))?;
    if rows.is_empty() {
        writeln!(
            out,
            "<p>{}</p>",
            tr(
                lang,
                "No mail session in this input.",
                "输入中没有邮件会话。"
            )
        )?;
    } else {
        writeln!(out, "<table>")?;
        writeln!(
            out,
            "<tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            tr(lang, "protocol", "协议"),
            tr(lang, "client", "客户端"),
            tr(lang, "server", "服务器"),
            tr(lang, "start (UTC)", "开始时间 (UTC)"),
            tr(lang, "seconds", "秒"),
            tr(lang, "exchanges", "交互"),
            tr(lang, "messages", "邮件"),
            tr(lang, "anomalies", "异常"),
            tr(lang, "state", "状态"),
        )?;
        for r in rows {
            writeln!(
                out,
                "<tr><td><a href=\"#s{id}\">{id}</a></td><td>{proto}{tls}</td><td class=\"mono\">{client}</td><td class=\"mono\">{server}</td><td>{start}</td><td class=\"num\">{dur:.3}</td><td class=\"num\">{ex}</td><td class=\"num\">{msg}</td><td class=\"num\">{an}</td><td>{state}</td></tr>",
                id = r.id,
                proto = r.protocol.as_str().to_ascii_uppercase(),
                tls = match r.tls {
                    Some(mode) => format!(" · TLS ({mode})"),
                    None => String::new(),
                },
                client = esc(&r.client),
                server = esc(&r.server),
                start = esc(&r.start),
                dur = r.duration,
                ex = r.exchanges,
                msg = r.messages,
                an = r.anomalies,
                state = esc(r.state),
            )?;
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "</nav>")?;
    write_flow(out, flow, lang)?;
    writeln!(out, "<main>")?;
    out.write_all(sections)?;
    writeln!(out, "</main>")?;
    writeln!(
        out,
        "<footer><p class=\"dim\">{}</p></footer>",
        tr(
            lang,
            "Made by mailscope. Everything from the capture is shown escaped: control and direction characters as \\u{…}.",
            "由 mailscope 生成。抓包中的所有内容均经过转义显示：控制字符和文字方向字符显示为 \\u{…}。"
        )
    )?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

/// The mail-flow section (`<section id="flow">`): the picture of the hops a message took
/// across the capture's sessions (MUA → MSA/MTA → MTA → MDA → MUA), linked by Message-ID.
///
/// HOOK for the flow picture: `svg` is a complete `<svg>…</svg>` element drawn by the
/// caller, inserted as it is — every string from the capture in it must already be escaped
/// (with [`esc`]). `None` (no picture yet, or a capture with a single hop) writes a note.
pub fn write_flow<W: Write>(out: &mut W, svg: Option<&str>, lang: Lang) -> io::Result<()> {
    writeln!(out, "<section id=\"flow\">")?;
    writeln!(out, "<h2>{}</h2>", tr(lang, "Mail flow", "邮件流转"))?;
    match svg {
        Some(svg) => writeln!(out, "{svg}")?,
        None => writeln!(
            out,
            "<p class=\"dim\">{}</p>",
            tr(
                lang,
                "No message was seen on more than one hop in this capture.",
                "本次抓包中没有同一封邮件经过多跳的记录。"
            )
        )?,
    }
    writeln!(out, "</section>")
}

/// Width of the ladder's drawing (SVG user units; the page scales it to its width).
const SVG_W: usize = 1000;
/// The client and server lanes.
const CLIENT_X: usize = 110;
const SERVER_X: usize = 980;
/// Height of one row (an arrow and its label, a band, a note).
const ROW: usize = 36;
/// Above the first row: the lane headings.
const TOP: usize = 50;
/// Columns a label gets between the lanes (16px monospace: about 9.6 units a column).
const LABEL_COLS: usize = 86;

/// One session's ladder as an inline `<svg>`: client and server lanes, one `<path
/// class="arrow …">` per arrow of [`diagram::steps`] (`arrow message` for a message), its
/// label and relative time as `<text>`, the TLS boundary as a band.
pub fn write_ladder<W: Write>(out: &mut W, s: &Session, lang: Lang) -> io::Result<()> {
    let steps = diagram::steps(s);
    let rows = steps.len()
        + steps
            .iter()
            .filter(|st| matches!(st, Step::Tls { sni: Some(_), .. }))
            .count();
    let height = TOP + rows * ROW + 20;
    writeln!(
        out,
        "<svg class=\"ladder\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {SVG_W} {height}\" role=\"img\" aria-label=\"{} {}\">",
        tr(lang, "ladder diagram of session", "会话时序图"),
        s.id
    )?;
    writeln!(
        out,
        "<text class=\"lanehead\" x=\"{CLIENT_X}\" y=\"22\">{} {}</text>",
        tr(lang, "client", "客户端"),
        esc(&s.client.to_string())
    )?;
    writeln!(
        out,
        "<text class=\"lanehead\" x=\"{SERVER_X}\" y=\"22\" text-anchor=\"end\">{} {}</text>",
        tr(lang, "server", "服务器"),
        esc(&s.server.to_string())
    )?;
    writeln!(
        out,
        "<text class=\"time\" x=\"{}\" y=\"22\" text-anchor=\"end\">{}</text>",
        CLIENT_X - 16,
        tr(lang, "s", "秒")
    )?;
    let bottom = height - 10;
    for x in [CLIENT_X, SERVER_X] {
        writeln!(
            out,
            "<line class=\"lane\" x1=\"{x}\" y1=\"32\" x2=\"{x}\" y2=\"{bottom}\"/>"
        )?;
    }
    let mid = (CLIENT_X + SERVER_X) / 2;
    let mut y = TOP;
    let text_row = |out: &mut W, y: usize, class: &str, text: &str| {
        writeln!(
            out,
            "<text class=\"{class}\" x=\"{}\" y=\"{}\">{text}</text>",
            CLIENT_X + 12,
            y + 22
        )
    };
    for step in &steps {
        match step {
            Step::Arrow(a) => {
                let ay = y + ROW - 8;
                let (class, label) = match a.kind {
                    Kind::Command => ("arrow command".to_string(), esc_cut(&a.label, LABEL_COLS)),
                    Kind::ClientLine => ("arrow line".to_string(), esc_cut(&a.label, LABEL_COLS)),
                    Kind::Reply { code } => (
                        format!("arrow reply {}", tone(code)),
                        esc_cut(&a.label, LABEL_COLS),
                    ),
                    Kind::Message { number, size } => {
                        let mut l = format!(
                            "✉ {} {number}, {}",
                            tr(lang, "message", "邮件"),
                            human_size(size)
                        );
                        if !a.label.is_empty() {
                            l.push(' ');
                            l.push_str(&a.label);
                        }
                        ("arrow message".to_string(), esc_cut(&l, LABEL_COLS))
                    }
                };
                let d = match a.dir {
                    Dir::ToServer => format!(
                        "M{CLIENT_X},{ay} H{} M{},{} L{},{ay} L{},{}",
                        SERVER_X - 2,
                        SERVER_X - 14,
                        ay - 7,
                        SERVER_X - 2,
                        SERVER_X - 14,
                        ay + 7
                    ),
                    Dir::ToClient => format!(
                        "M{SERVER_X},{ay} H{} M{},{} L{},{ay} L{},{}",
                        CLIENT_X + 2,
                        CLIENT_X + 14,
                        ay - 7,
                        CLIENT_X + 2,
                        CLIENT_X + 14,
                        ay + 7
                    ),
                };
                writeln!(
                    out,
                    "<g><title>{}</title><text class=\"time\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{label}</text><path class=\"{class}\" d=\"{d}\"/></g>",
                    esc(&a.label),
                    CLIENT_X - 16,
                    ay + 5,
                    secs(a.mark.ts, s.start),
                    ay - 8,
                )?;
            }
            Step::Tls {
                mode,
                sni,
                decrypted,
            } => {
                let (en, zh) = super::diagram::tls_band(mode, *decrypted);
                let what = tr(lang, en, zh);
                writeln!(
                    out,
                    "<rect class=\"band tls\" x=\"0\" y=\"{}\" width=\"{SVG_W}\" height=\"{}\"/><text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{what}</text>",
                    y + 4,
                    ROW - 8,
                    y + 24
                )?;
                if let Some(name) = sni {
                    y += ROW;
                    text_row(
                        out,
                        y,
                        "note",
                        &format!(
                            "{} {}",
                            tr(lang, "server name", "服务器名称"),
                            esc_cut(name, LABEL_COLS)
                        ),
                    )?;
                }
            }
            Step::Compressed => {
                writeln!(
                    out,
                    "<rect class=\"band\" x=\"0\" y=\"{}\" width=\"{SVG_W}\" height=\"{}\"/><text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    y + 4,
                    ROW - 8,
                    y + 24,
                    tr(
                        lang,
                        "compressed (COMPRESS=DEFLATE) from here: inflated and read",
                        "从这里开始压缩 (COMPRESS=DEFLATE)：已解压读取"
                    )
                )?;
            }
            Step::Anomaly(a) => text_row(
                out,
                y,
                "anomaly",
                &esc_cut(&format!("! {}: {}", a.name(), a.detail), LABEL_COLS),
            )?,
            Step::Note(n) => text_row(out, y, "note", &esc_cut(n, LABEL_COLS))?,
        }
        y += ROW;
    }
    writeln!(out, "</svg>")
}

/// An explanation block under a transcript line: its paragraphs, escaped.
fn explain_block(paras: &[String]) -> String {
    let mut s = String::from("<div class=\"explain\">");
    for p in paras {
        s.push_str(&format!("<p>{}</p>", esc(p)));
    }
    s.push_str("</div>");
    s
}

/// One transcript line (`class` `c` client, `s` server, `m` message): collapsible when it
/// has an explanation, plain otherwise. `head` is HTML already.
fn line<W: Write>(out: &mut W, class: &str, head: &str, paras: &[String]) -> io::Result<()> {
    if paras.is_empty() {
        writeln!(out, "<div class=\"tl {class}\"><div>{head}</div></div>")
    } else {
        writeln!(
            out,
            "<details class=\"tl {class}\"><summary>{head}</summary>{}</details>",
            explain_block(paras)
        )
    }
}

fn note_span(note: &str) -> String {
    match note.is_empty() {
        true => String::new(),
        false => format!(" <span class=\"note\"># {}</span>", esc(note)),
    }
}

/// An exchange's lines in the transcript: the command, client lines and replies (each with
/// its explanation), in the order of the text transcript.
fn write_exchange<W: Write>(
    out: &mut W,
    s: &Session,
    e: &Exchange,
    lang: Lang,
    greeting: bool,
) -> io::Result<()> {
    // Inside TLS (decrypted): every line says so.
    let tls = match e.tls {
        true => format!(" <span class=\"tlsmark\">{}</span>", text::TLS_MARK),
        false => String::new(),
    };
    let protocol = s.protocol;
    if let Some(c) = &e.command {
        // In Chinese, the short English note gives way to the explanation below it.
        let mut note = match lang {
            Lang::En => text::verb_note(protocol, &c.verb).to_string(),
            Lang::Zh => String::new(),
        };
        if e.pipelined {
            note.push_str(tr(lang, " [pipelined]", " [流水线]"));
        }
        if e.incomplete {
            note.push_str(tr(lang, " [incomplete]", " [不完整]"));
        }
        let head = format!(
            "<span class=\"t\">{}</span>{tls} <b class=\"who\">C:</b> <code>{}</code>{}",
            secs(e.mark.ts, s.start),
            esc(&c.raw),
            note_span(&note)
        );
        let paras: Vec<String> = explain::command(protocol, c, lang).into_iter().collect();
        line(out, "c", &head, &paras)?;
    }
    let capabilities = matches!(
        (protocol, e.command.as_ref().map(|c| c.verb.as_str())),
        (Protocol::Smtp, Some("EHLO" | "LHLO")) | (Protocol::Pop3, Some("CAPA"))
    );
    let mut lines = e.client_lines.iter().peekable();
    let client_line = |out: &mut W, l: &crate::session::ClientLine| {
        let head = format!(
            "<span class=\"t\">{}</span>{tls} <b class=\"who\">C:</b> <code>{}</code>{}",
            secs(l.mark.ts, s.start),
            esc(&l.text),
            note_span(tr(lang, "SASL response", "SASL 响应"))
        );
        line(out, "c", &head, &[])
    };
    for (n, r) in e.replies.iter().enumerate() {
        while let Some(l) = lines.next_if(|l| (l.mark.frame, l.mark.ts) < (r.mark.frame, r.mark.ts))
        {
            client_line(out, l)?;
        }
        let first = r.lines.first().map_or(r.code.as_str(), String::as_str);
        let more = match r.lines.len() {
            0 | 1 => String::new(),
            k => format!(
                " <span class=\"note\">(+{} {})</span>",
                k - 1,
                tr(lang, "lines", "行")
            ),
        };
        let mut note = match &r.summary {
            Some(summary) => summary.clone(),
            None if protocol == Protocol::Imap || lang == Lang::Zh => String::new(),
            None => text::reply_note(protocol, &r.code).to_string(),
        };
        if greeting && n == 0 {
            note = match note.is_empty() {
                true => tr(lang, "greeting", "问候").to_string(),
                false => format!("{}: {note}", tr(lang, "greeting", "问候")),
            };
        }
        let tone = tone(&r.code);
        let head = format!(
            "<span class=\"t\">{}</span>{tls} <b class=\"who {tone}\">S:</b> <code class=\"{tone}\">{}</code>{more}{}",
            secs(r.mark.ts, s.start),
            esc(first),
            note_span(&note)
        );
        let mut paras = Vec::new();
        if r.lines.len() > 1 {
            // The whole reply, then what each advertised capability is.
            paras.push(r.lines.join("\n"));
        }
        if capabilities {
            for l in r.lines.iter().skip(1) {
                if let Some(text) = explain::capability(protocol, l, lang) {
                    paras.push(format!("{l} — {text}"));
                }
            }
        }
        if let Some(text) = explain::reply(protocol, r, lang) {
            paras.push(text);
        }
        // A multi-line reply's lines are shown in full, as preformatted text.
        if r.lines.len() > 1 {
            let all = format!("<pre>{}</pre>", esc_lines(&paras.remove(0)));
            let rest = match paras.is_empty() {
                true => String::new(),
                false => explain_block(&paras),
            };
            writeln!(
                out,
                "<details class=\"tl s\"><summary>{head}</summary><div class=\"explain\">{all}</div>{rest}</details>"
            )?;
        } else {
            line(out, "s", &head, &paras)?;
        }
    }
    for l in lines {
        client_line(out, l)?;
    }
    Ok(())
}

fn anomaly_item(a: &Anomaly, lang: Lang) -> String {
    let mut s = format!(
        "<li><b class=\"anomaly\">{}</b> <span class=\"dim\">({})</span> {} — <code>{}</code>",
        esc(a.name()),
        esc(a.rfc()),
        esc(a.explanation()),
        esc(&a.detail)
    );
    if let Some(text) = explain::anomaly(a, lang) {
        s.push_str(&explain_block(&[text]));
    }
    s.push_str("</li>");
    s
}

/// One session's section (`<section id="sN">`): facts, ladder, transcript, phases,
/// messages and anomalies.
pub fn write_session<W: Write>(out: &mut W, s: &Session, lang: Lang) -> io::Result<()> {
    writeln!(out, "<section class=\"session\" id=\"s{}\">", s.id)?;
    writeln!(
        out,
        "<h2>{} {} · {} · <span class=\"mono\">{} → {}</span></h2>",
        tr(lang, "Session", "会话"),
        s.id,
        s.protocol.as_str().to_ascii_uppercase(),
        esc(&s.client.to_string()),
        esc(&s.server.to_string())
    )?;
    let mut facts = vec![
        format!("{} UTC", esc(&s.start.to_human())),
        format!("{:.3} s", s.duration),
        esc(s.state),
    ];
    if !s.handshake {
        facts.push(tr(lang, "picked up mid-stream", "从中途开始捕获").into());
    }
    if let Some(t) = &s.tunnel {
        facts.push(format!(
            "{} {} → {}",
            tr(lang, "via proxy", "经代理"),
            esc(t.label),
            esc(&t.target)
        ));
    }
    if let Some(f) = &s.file {
        facts.push(esc(f));
    }
    match s.one_sided {
        Some("client") => facts.push(
            tr(
                lang,
                "one-sided: only the client's bytes were captured",
                "单向：只捕获到客户端发送的数据",
            )
            .into(),
        ),
        Some(_) => facts.push(
            tr(
                lang,
                "one-sided: only the server's bytes were captured",
                "单向：只捕获到服务器发送的数据",
            )
            .into(),
        ),
        None => {}
    }
    writeln!(out, "<p class=\"dim\">{}</p>", facts.join(" · "))?;

    writeln!(out, "<h3>{}</h3>", tr(lang, "Ladder diagram", "时序图"))?;
    write_ladder(out, s, lang)?;

    writeln!(
        out,
        "<h3>{}</h3>",
        tr(
            lang,
            "Transcript (click a line for its explanation)",
            "会话记录（点击一行查看解释）"
        )
    )?;
    writeln!(out, "<div class=\"transcript\">")?;
    if let Some(tls) = s.tls.as_ref().filter(|t| t.mode == "implicit") {
        writeln!(
            out,
            "<p class=\"band\">{}{}</p>",
            match tls.decrypted {
                true => tr(
                    lang,
                    "TLS from the first byte (implicit TLS), decrypted with the key log",
                    "从第一个字节起就是 TLS（隐式 TLS），已用密钥日志解密"
                ),
                false => tr(
                    lang,
                    "TLS from the first byte (implicit TLS): nothing inside can be read",
                    "从第一个字节起就是 TLS（隐式 TLS）：其中内容无法读取"
                ),
            },
            tls.sni
                .as_ref()
                .map(|n| format!(" · {}", esc(n)))
                .unwrap_or_default()
        )?;
    }
    let changes = phase::changes(s.protocol, &s.exchanges);
    let mut phases = changes.iter().peekable();
    let mut anomalies: Vec<&Anomaly> = s.anomalies.iter().collect();
    anomalies.sort_by_key(|a| a.ts);
    let mut anomalies = anomalies.into_iter().peekable();
    let mut by_exchange: Vec<Vec<&MessageInfo>> = vec![Vec::new(); s.exchanges.len()];
    for m in &s.messages {
        if let Some(v) = by_exchange.get_mut(m.transfer.exchange) {
            v.push(m);
        }
    }
    for (idx, e) in s.exchanges.iter().enumerate() {
        if let Some(o) = s.exchanges_omitted.as_ref().filter(|o| o.after == idx) {
            writeln!(
                out,
                "<p class=\"dim\">… {} {}</p>",
                o.count,
                tr(
                    lang,
                    "exchanges counted, not kept (limit: --max-exchanges)",
                    "次交互只计数、未保留（上限：--max-exchanges）"
                )
            )?;
        }
        while let Some(c) = phases.next_if(|c| c.exchange <= idx) {
            let paras: Vec<String> = explain::phase(s.protocol, c.phase, lang)
                .into_iter()
                .collect();
            writeln!(
                out,
                "<details class=\"phase\"><summary>{} {}</summary>{}</details>",
                tr(lang, "phase:", "阶段："),
                esc(c.phase),
                explain_block(&paras)
            )?;
        }
        write_exchange(out, s, e, lang, idx == 0 && e.command.is_none())?;
        if let Some(tls) = s.tls.as_ref().filter(|t| t.mode != "implicit")
            && e.replies.last().is_some_and(|r| r.mark.ts <= tls.at)
            && s.exchanges
                .get(idx + 1)
                .is_none_or(|next| next.mark.ts > tls.at)
        {
            writeln!(
                out,
                "<p class=\"band\">{}{}</p>",
                match tls.decrypted {
                    true => tr(
                        lang,
                        "TLS from here on (STARTTLS), decrypted with the key log",
                        "从这里开始是 TLS (STARTTLS)，已用密钥日志解密"
                    ),
                    false => tr(
                        lang,
                        "TLS from here on (STARTTLS): the rest of the session is encrypted",
                        "从这里开始是 TLS (STARTTLS)：会话其余部分已加密"
                    ),
                },
                tls.sni
                    .as_ref()
                    .map(|n| format!(" · {}", esc(n)))
                    .unwrap_or_default()
            )?;
        }
        let until = e
            .replies
            .last()
            .map_or(e.mark.ts, |r| r.mark.ts)
            .max(e.mark.ts);
        let mut list = String::new();
        while let Some(a) = anomalies.next_if(|a| a.ts <= until) {
            list.push_str(&anomaly_item(a, lang));
        }
        if !list.is_empty() {
            writeln!(out, "<ul class=\"anomalies\">{list}</ul>")?;
        }
        for m in &by_exchange[idx] {
            let head = format!(
                "<span class=\"t\">{}</span> <b>✉</b> <code>{} {}</code> <span class=\"note\">{}, {} {}, <a href=\"#s{}-m{}\">{}</a></span>",
                secs(m.transfer.mark.ts, s.start),
                tr(lang, "message", "邮件"),
                m.number,
                human_size(m.transfer.size),
                tr(lang, "via", "来自"),
                esc(m.transfer.origin),
                s.id,
                m.number,
                tr(
                    lang,
                    "headers, parts and attachments below",
                    "首部、各部分和附件见下文"
                )
            );
            line(out, "m", &head, &explain::message(m, lang))?;
        }
    }
    writeln!(out, "</div>")?;

    if !changes.is_empty() {
        writeln!(out, "<h3>{}</h3>", tr(lang, "Phases", "协议阶段"))?;
        writeln!(out, "<ol class=\"phases\">")?;
        for c in &changes {
            let at = s
                .exchanges
                .get(c.exchange)
                .map(|e| secs(e.mark.ts, s.start))
                .unwrap_or_default();
            write!(
                out,
                "<li><b>{}</b> <span class=\"dim\">({at} s)</span>",
                esc(c.phase)
            )?;
            if let Some(text) = explain::phase(s.protocol, c.phase, lang) {
                write!(out, " — {}", esc(&text))?;
            }
            writeln!(out, "</li>")?;
        }
        writeln!(out, "</ol>")?;
    }

    if !s.auth.is_empty() {
        writeln!(out, "<h3>{}</h3>", tr(lang, "Authentication", "身份验证"))?;
        writeln!(out, "<ul>")?;
        for a in &s.auth {
            let user = match (&a.domain, &a.username) {
                (Some(d), Some(u)) => format!("{d}\\{u}"),
                (_, u) => u.clone().unwrap_or_else(|| "?".into()),
            };
            writeln!(
                out,
                "<li><code>{}</code> {} <code>{}</code> ({} <code>{}</code>): {}</li>",
                esc(&a.mechanism),
                tr(lang, "as", "用户"),
                esc(&user),
                tr(lang, "password", "密码"),
                esc(a.password.as_ref().map_or("-", |p| p.shown())),
                match (a.success, lang) {
                    (Some(true), Lang::En) => "succeeded",
                    (Some(true), Lang::Zh) => "成功",
                    (Some(false), Lang::En) => "failed",
                    (Some(false), Lang::Zh) => "失败",
                    (None, Lang::En) => "no answer seen",
                    (None, Lang::Zh) => "未见应答",
                }
            )?;
        }
        writeln!(out, "</ul>")?;
    }

    if !s.messages.is_empty() {
        writeln!(out, "<h3>{}</h3>", tr(lang, "Messages", "邮件"))?;
        for m in &s.messages {
            write_message(out, s.id, m, lang)?;
        }
    }
    if let Some(m) = &s.messages_omitted {
        writeln!(
            out,
            "<p class=\"dim\">… {} {} ({})</p>",
            m.count,
            tr(
                lang,
                "more messages counted, not kept",
                "封邮件只计数、未保留"
            ),
            human_size(m.bytes)
        )?;
    }

    writeln!(out, "<h3>{}</h3>", tr(lang, "Anomalies", "异常"))?;
    let mime: usize = s.messages.iter().map(|m| m.mime.anomalies.len()).sum();
    if s.anomalies.is_empty() && mime == 0 {
        writeln!(out, "<p>{}</p>", tr(lang, "None.", "无。"))?;
    } else {
        writeln!(out, "<ul class=\"anomalies\">")?;
        for a in &s.anomalies {
            writeln!(out, "{}", anomaly_item(a, lang))?;
        }
        for m in &s.messages {
            for a in &m.mime.anomalies {
                writeln!(
                    out,
                    "<li><b class=\"anomaly\">mime {}</b> ({} {}) <code>{}</code></li>",
                    esc(a.name()),
                    tr(lang, "message", "邮件"),
                    m.number,
                    esc(&a.detail)
                )?;
            }
        }
        writeln!(out, "</ul>")?;
    }
    if s.gap_bytes.client + s.gap_bytes.server > 0 {
        writeln!(
            out,
            "<p class=\"warn\">{} {} / {}</p>",
            tr(
                lang,
                "capture gaps (client / server bytes missing):",
                "抓包缺失（客户端 / 服务器缺少的字节数）："
            ),
            s.gap_bytes.client,
            s.gap_bytes.server
        )?;
    }
    writeln!(out, "</section>")
}

/// A message: envelope, headers, MIME tree, decoded text bodies, attachments and what its
/// MIME ideas mean.
fn write_message<W: Write>(out: &mut W, id: u64, m: &MessageInfo, lang: Lang) -> io::Result<()> {
    writeln!(
        out,
        "<article class=\"message\" id=\"s{id}-m{}\">",
        m.number
    )?;
    let mut flags = Vec::new();
    if m.transfer.truncated {
        flags.push(tr(lang, "truncated", "被截断"));
    }
    if m.transfer.incomplete {
        flags.push(tr(lang, "incomplete", "不完整"));
    }
    if m.transfer.not_decoded.is_some() {
        flags.push(tr(
            lang,
            "not decoded (memory budget)",
            "未解码（内存预算）",
        ));
    }
    writeln!(
        out,
        "<h4>✉ {} {} · {} · {} <code>{}</code>{}</h4>",
        tr(lang, "message", "邮件"),
        m.number,
        human_size(m.transfer.size),
        tr(lang, "via", "来自"),
        esc(m.transfer.origin),
        match flags.is_empty() {
            true => String::new(),
            false => format!(" [{}]", flags.join(", ")),
        }
    )?;
    writeln!(out, "<table class=\"headers\">")?;
    if m.transfer.origin.starts_with("smtp") {
        writeln!(
            out,
            "<tr><th>{}</th><td><code>{}</code> → <code>{}</code></td></tr>",
            tr(lang, "envelope", "信封"),
            esc(m.transfer.mail_from.as_deref().unwrap_or("<>")),
            esc(&m.transfer.rcpt_to.join(", "))
        )?;
    }
    let h = &m.mime.headers;
    for (label, value) in [
        ("From", &h.from),
        ("To", &h.to),
        ("Cc", &h.cc),
        ("Subject", &h.subject),
        ("Date", &h.date),
        ("Message-ID", &h.message_id),
    ] {
        if let Some(v) = value {
            writeln!(out, "<tr><th>{label}</th><td>{}</td></tr>", esc(v))?;
        }
    }
    if let Some(sha) = &m.transfer.sha256 {
        writeln!(
            out,
            "<tr><th>sha256</th><td><code>{}</code></td></tr>",
            esc(sha)
        )?;
    }
    writeln!(out, "</table>")?;
    if !h.raw.is_empty() {
        writeln!(
            out,
            "<details><summary>{} ({})</summary><pre>",
            tr(lang, "All headers as sent", "原始首部"),
            h.raw.len()
        )?;
        for (name, value) in &h.raw {
            writeln!(out, "{}: {}", esc(name), esc(value))?;
        }
        writeln!(out, "</pre></details>")?;
    }

    if !m.mime.tree.is_empty() {
        writeln!(out, "<h5>{}</h5>", tr(lang, "MIME tree", "MIME 结构树"))?;
        writeln!(out, "<ul class=\"tree\">")?;
        for (depth, path, ctype) in &m.mime.tree {
            let part = m
                .mime
                .parts
                .iter()
                .find(|p| !path.is_empty() && &p.path == path);
            let mut detail = Vec::new();
            if let Some(p) = part {
                detail.push(human_size(p.size));
                if let Some(cs) = &p.charset {
                    detail.push(esc(cs));
                }
                if let Some(te) = &p.transfer_encoding {
                    detail.push(esc(te));
                }
                if let Some(d) = &p.disposition {
                    detail.push(esc(d));
                }
                if let Some(f) = &p.filename {
                    detail.push(format!("\"{}\"", esc(f)));
                }
            }
            writeln!(
                out,
                "<li style=\"margin-left:{}em\"><code>{} {}</code>{}</li>",
                (*depth).min(20) * 2,
                esc(if path.is_empty() { "·" } else { path }),
                esc(ctype),
                match detail.is_empty() {
                    true => String::new(),
                    false => format!(" <span class=\"dim\">({})</span>", detail.join(", ")),
                }
            )?;
        }
        writeln!(out, "</ul>")?;
    }

    let bodies: Vec<_> = m
        .mime
        .parts
        .iter()
        .filter_map(|p| p.text.as_ref().map(|t| (p, t)))
        .collect();
    if !bodies.is_empty() {
        writeln!(
            out,
            "<h5>{}</h5>",
            tr(lang, "Decoded text bodies", "解码后的正文")
        )?;
        for (p, t) in bodies {
            writeln!(
                out,
                "<p class=\"dim\"><code>{} {}</code></p><pre class=\"body\">{}</pre>",
                esc(&p.path),
                esc(&p.content_type),
                esc_lines(t.trim_end())
            )?;
        }
    }

    let attachments: Vec<_> = m
        .mime
        .parts
        .iter()
        .filter(|p| {
            p.filename.is_some()
                || p.disposition
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case("attachment"))
        })
        .collect();
    if !attachments.is_empty() {
        writeln!(out, "<h5>{}</h5>", tr(lang, "Attachments", "附件"))?;
        writeln!(
            out,
            "<table class=\"attachments\"><tr><th>{}</th><th>{}</th><th>{}</th><th>sha256</th></tr>",
            tr(lang, "name", "文件名"),
            tr(lang, "type", "类型"),
            tr(lang, "size", "大小")
        )?;
        for p in attachments {
            writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{} ({} B)</td><td><code>{}</code></td></tr>",
                esc(p.filename.as_deref().unwrap_or("-")),
                esc(&p.content_type),
                human_size(p.size),
                p.size,
                esc(&p.sha256)
            )?;
        }
        writeln!(out, "</table>")?;
    }

    let terms = explain::message(m, lang);
    if !terms.is_empty() {
        writeln!(
            out,
            "<details class=\"terms\"><summary>{}</summary>{}</details>",
            tr(lang, "What the MIME terms mean", "MIME 术语解释"),
            explain_block(&terms)
        )?;
    }
    writeln!(out, "</article>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_shows_controls_and_bidi_escaped_then_html_escapes() {
        assert_eq!(
            esc("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            esc("\"onload=alert(1) 'x' &"),
            "&quot;onload&#61;alert(1) &#39;x&#39; &amp;"
        );
        assert_eq!(esc("a\u{202e}b\0c\x1bd"), "a\\u{202e}b\\u{0}c\\u{1b}d");
        assert_eq!(esc_lines("a<b\r\nc\x07\n"), "a&lt;b\nc\\u{7}");
        // Cutting happens before HTML escaping: an entity is never cut in half.
        let cut = esc_cut(&"&".repeat(100), 10);
        assert!(cut.ends_with("&amp;…") || cut.ends_with('…'), "{cut}");
        assert!(!cut.contains("&amp&") && !cut.ends_with("&am"), "{cut}");
    }

    #[test]
    fn tones_follow_the_reply_class() {
        assert_eq!(tone("250"), "ok");
        assert_eq!(tone("354"), "more");
        assert_eq!(tone("451"), "warn");
        assert_eq!(tone("550"), "err");
        assert_eq!(tone("+OK"), "ok");
        assert_eq!(tone("-ERR"), "err");
        assert_eq!(tone("+"), "more");
        assert_eq!(tone("NO"), "warn");
        assert_eq!(tone("BAD"), "err");
        assert_eq!(tone("*"), "info");
    }
}
