//! Mermaid output (`--format mermaid`): each session as a heading and a fenced
//! `sequenceDiagram` that GitHub and most Markdown tools draw. Participants `Client` and
//! `Server` with their endpoints; `->>` for every command, client line and reply (the
//! arrows of `diagram::steps`, in the same order); a `Note` for each message and anomaly;
//! the TLS boundary as a `rect` band holding everything after it.
//!
//! Capture text must neither break the diagram nor inject into it (a `;` or a newline would
//! start a statement, `#` a comment, `%%` a comment or directive, `<…>` HTML, a backtick
//! fence would end the Markdown block), so every label goes through [`escape`]: control and
//! bidi characters as `\u{…}` text first ([`crate::render::escape`]), then each character
//! Mermaid or Markdown gives a meaning as its Mermaid entity code (`#35;` for `#`).

use super::diagram::{Dir, Kind, Step, steps};
use super::text;
use crate::session::Session;
use std::io::{self, Write};

/// Longest label kept (in characters), the rest elided with `…`: a capability list or a
/// FETCH line would make a diagram too wide to read.
const LABEL: usize = 120;

/// A capture string made safe for a Mermaid message or note text: see the module doc.
pub fn escape(s: &str) -> String {
    let s = super::escape(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' | ';' | '<' | '>' | '"' | '\'' | '&' | '%' | '`' | '$' | '\u{2028}'
            | '\u{2029}' => {
                out.push_str(&format!("#{};", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to [`LABEL`] characters with `…`.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(LABEL) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Writes one session: a heading line, then the diagram in a ```mermaid block.
pub fn write_session<W: Write>(out: &mut W, s: &Session) -> io::Result<()> {
    writeln!(
        out,
        "### Session {} · {} · {} → {} · {} UTC · {:.3} s · {}",
        s.id,
        s.protocol.as_str().to_ascii_uppercase(),
        s.client,
        s.server,
        s.start.to_human(),
        s.duration,
        s.state,
    )?;
    writeln!(out)?;
    writeln!(out, "```mermaid")?;
    writeln!(out, "sequenceDiagram")?;
    writeln!(
        out,
        "    participant Client as client {}",
        escape(&s.client.to_string())
    )?;
    writeln!(
        out,
        "    participant Server as server {}",
        escape(&s.server.to_string())
    )?;
    let note = |out: &mut W, text: &str| writeln!(out, "    Note over Client,Server: {text}");
    if let Some(t) = &s.tunnel {
        note(
            out,
            &format!("via {} proxy to {}", t.label, escape(&shorten(&t.target))),
        )?;
    }
    match s.one_sided {
        Some("client") => note(out, "one-sided: only the client's bytes were captured")?,
        Some(_) => note(out, "one-sided: only the server's bytes were captured")?,
        None => {}
    }
    let mut in_band = false;
    for step in steps(s) {
        match step {
            Step::Arrow(a) => {
                let time = format!("{:.3}", a.mark.ts.since(s.start) as f64 / 1e9);
                match a.kind {
                    Kind::Message { number, size } => {
                        let way = match a.dir {
                            Dir::ToServer => "client → server",
                            Dir::ToClient => "server → client",
                        };
                        let flags = match a.label.is_empty() {
                            true => String::new(),
                            false => format!(" {}", escape(&a.label)),
                        };
                        note(
                            out,
                            &format!(
                                "{time} s · ✉ message {number}: {}, {way}{flags}",
                                text::human_size(size)
                            ),
                        )?;
                    }
                    _ => {
                        let (from, to) = match a.dir {
                            Dir::ToServer => ("Client", "Server"),
                            Dir::ToClient => ("Server", "Client"),
                        };
                        writeln!(
                            out,
                            "    {from}->>{to}: {time} s · {}",
                            escape(&shorten(&a.label))
                        )?;
                    }
                }
            }
            Step::Tls {
                mode,
                sni,
                decrypted,
            } => {
                writeln!(out, "    rect rgb(255, 236, 210)")?;
                in_band = true;
                let what = super::diagram::tls_band(mode, decrypted).0;
                let sni = sni
                    .map(|n| format!(" (server name {})", escape(&shorten(n))))
                    .unwrap_or_default();
                note(out, &format!("🔒 {what}{sni}"))?;
            }
            Step::Compressed => note(
                out,
                "compressed (COMPRESS=DEFLATE) from here: inflated and read",
            )?,
            Step::Anomaly(a) => note(
                out,
                &format!("! {}: {}", a.name(), escape(&shorten(&a.detail))),
            )?,
            Step::Note(n) => note(out, &escape(&n))?,
        }
    }
    if in_band {
        writeln!(out, "    end")?;
    }
    writeln!(out, "```")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `s` without its entity codes (`#` digits `;`).
    fn strip_entities(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('#') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 && after[digits..].starts_with(';') {
                rest = &after[digits + 1..];
            } else {
                out.push('#');
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }

    /// Nothing Mermaid or Markdown reads as syntax survives: statement ends, comments,
    /// directives, HTML, fences, math; control and bidi characters are shown as text.
    #[test]
    fn escape_leaves_no_syntax() {
        let hostile = "a;b#c<script>\"x\"'&%%{init}%%`$$\u{2028}\n\r\x1b[2J\u{202e}end -->> ```";
        let e = escape(hostile);
        let bare = strip_entities(&e);
        for bad in [
            ';', '#', '<', '>', '"', '\'', '&', '%', '`', '$', '\n', '\r', '\x1b', '\u{202e}',
            '\u{2028}',
        ] {
            assert!(!bare.contains(bad), "{bad:?} in {e}");
        }
        assert!(
            e.starts_with("a#59;b#35;c#60;script#62;#34;x#34;#39;#38;#37;#37;{init}"),
            "{e}"
        );
        assert!(
            e.ends_with("\\u{1b}[2J\\u{202e}end --#62;#62; #96;#96;#96;"),
            "{e}"
        );
        // Plain text stays as it is.
        assert_eq!(
            escape("EHLO client.example.test"),
            "EHLO client.example.test"
        );
        assert_eq!(escape("Grüße 東京 ✉"), "Grüße 東京 ✉");
    }
}
