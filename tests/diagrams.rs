//! The diagrams (`--format diagram`, `--format mermaid`): every sample's ladder fits its
//! width, has one arrow per transcript line, and hostile capture text can neither reach the
//! terminal raw nor break or inject into a Mermaid diagram.

mod support;

use mailscope::pipeline::{InputConfig, SessionsConfig, sessions};
use mailscope::render::text::Style;
use mailscope::render::{diagram, is_unsafe, mermaid};
use mailscope::session::Session;
use mailscope::synth::{Conversation, PcapWriter, Side};
use std::io;
use std::path::{Path, PathBuf};
use support::mailscope;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    v
}

/// The sessions of a capture, as the pipeline builds them.
fn read(file: &Path) -> Vec<Session> {
    let cfg = SessionsConfig::new(InputConfig::files(vec![file.to_string_lossy().into()]));
    let mut out = Vec::new();
    let mut sink = |s: Session| -> io::Result<()> {
        out.push(s);
        Ok(())
    };
    sessions(&cfg, &mut sink, &mut |_| {}).unwrap();
    out
}

fn ladder(s: &Session, st: Style) -> String {
    let mut out = Vec::new();
    diagram::write_session(&mut out, s, st).unwrap();
    String::from_utf8(out).unwrap()
}

fn mermaid_of(s: &Session) -> String {
    let mut out = Vec::new();
    mermaid::write_session(&mut out, s).unwrap();
    String::from_utf8(out).unwrap()
}

/// `s` without our ANSI colour codes.
fn plain(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Columns a line takes: by its characters (as the terminal counts) and as a string (as
/// unicode-width counts sequences); both must fit.
fn columns(line: &str) -> usize {
    let chars: usize = line.chars().map(|c| c.width().unwrap_or(0)).sum();
    chars.max(UnicodeWidthStr::width(line))
}

fn assert_fits(text: &str, width: usize, what: &str) {
    for line in plain(text).lines() {
        assert!(
            columns(line) <= width,
            "{what}: {} columns > {width}:\n{line}",
            columns(line)
        );
    }
}

/// An arrow line: the time, the client lane, then a shaft or an arrowhead pointing at it.
fn is_arrow(line: &str) -> bool {
    let mut chars = line.chars().skip(10);
    chars.next() == Some('│') && matches!(chars.next(), Some('─' | '━' | '◀'))
}

/// Transcript lines of a session: commands, replies (a multi-line reply is one), client
/// lines, messages.
fn transcript_lines(s: &Session) -> usize {
    let exchanges: usize = s
        .exchanges
        .iter()
        .map(|e| usize::from(e.command.is_some()) + e.replies.len() + e.client_lines.len())
        .sum();
    exchanges + s.messages.len()
}

/// Every line of every sample's ladder fits: 80 columns (the default, as the CLI draws to a
/// pipe), and narrower or wider terminals, coloured or not.
#[test]
fn ladder_fits_its_width() {
    for file in samples() {
        let (stdout, _, code) = run(&["--format", "diagram"], &file);
        assert_eq!(code, 0);
        assert_fits(&stdout, 80, &file.display().to_string());
        for s in read(&file) {
            for width in [40, 57, 80, 132] {
                for color in [false, true] {
                    let text = ladder(&s, Style::new(color).width(Some(width)));
                    assert_fits(&text, width, &format!("{} at {width}", file.display()));
                }
            }
            // A tiny terminal still gets the narrowest ladder, never a panic.
            let text = ladder(&s, Style::new(false).width(Some(5)));
            assert_fits(&text, 40, &file.display().to_string());
        }
    }
}

/// One arrow per transcript line in both formats, for every sample (SASL client lines in
/// submission-auth-login, messages both ways, pipelined BDAT, STARTTLS).
#[test]
fn one_arrow_per_transcript_line() {
    let mut total = 0;
    for file in samples() {
        for s in read(&file) {
            let want = transcript_lines(&s);
            total += want;
            let text = plain(&ladder(&s, Style::new(true).width(Some(80))));
            let arrows = text.lines().filter(|l| is_arrow(l)).count();
            assert_eq!(arrows, want, "{}:\n{text}", file.display());
            let thick = text
                .lines()
                .filter(|l| is_arrow(l) && l.contains('✉'))
                .count();
            assert_eq!(thick, s.messages.len(), "{}", file.display());
            let m = mermaid_of(&s);
            let signals = m
                .lines()
                .filter(|l| {
                    l.starts_with("    Client->>Server: ") || l.starts_with("    Server->>Client: ")
                })
                .count();
            let messages = m
                .lines()
                .filter(|l| {
                    l.starts_with("    Note over Client,Server: ") && l.contains(" · ✉ message ")
                })
                .count();
            assert_eq!(signals + messages, want, "{}:\n{m}", file.display());
            assert_eq!(messages, s.messages.len(), "{}", file.display());
        }
    }
    assert!(total > 100, "the samples hold {total} transcript lines");
}

/// Where a message is drawn: DATA's after 354 and before the final 250, client to server;
/// RETR's and FETCH's after the reply that carried it, server to client.
#[test]
fn messages_travel_where_they_did() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let smtp = plain(&ladder(
        &read(&dir.join("smtp-attachment.pcap"))[0],
        Style::new(false),
    ));
    let lines: Vec<&str> = smtp.lines().filter(|l| is_arrow(l)).collect();
    let at = lines.iter().position(|l| l.contains('✉')).unwrap();
    assert!(lines[at - 1].contains("◀─ 354 "), "{smtp}");
    assert!(lines[at].contains("│━ ✉ message 1, 8.7 KiB ━"), "{smtp}");
    assert!(lines[at].ends_with("━▶│"), "{smtp}");
    assert!(lines[at + 1].contains("◀─ 250 2.0.0 Ok: queued"), "{smtp}");
    let pop = plain(&ladder(
        &read(&dir.join("pop3-retr.pcap"))[0],
        Style::new(false),
    ));
    let lines: Vec<&str> = pop.lines().filter(|l| is_arrow(l)).collect();
    let at = lines.iter().position(|l| l.contains("message 2")).unwrap();
    assert!(lines[at - 2].contains("─ RETR 1 "), "{pop}");
    assert!(lines[at - 1].contains("◀─ +OK 9164 octets"), "{pop}");
    assert!(lines[at].contains("│◀━ ✉ message 2, 8.9 KiB ━"), "{pop}");
    let imap = plain(&ladder(
        &read(&dir.join("imap-fetch.pcap"))[0],
        Style::new(false),
    ));
    let lines: Vec<&str> = imap.lines().filter(|l| is_arrow(l)).collect();
    let at = lines.iter().position(|l| l.contains('✉')).unwrap();
    assert!(
        lines[at - 1].contains("◀─ * 1 FETCH (BODY[] {9164})"),
        "{imap}"
    );
    assert!(lines[at + 1].contains("NGPK7 OK"), "{imap}");
}

/// The TLS boundary is a full-width band: after STARTTLS's 220, or first of all.
#[test]
fn tls_is_a_band() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let s = &read(&dir.join("submission-starttls-auth.pcap"))[0];
    let text = ladder(s, Style::new(false));
    let lines: Vec<&str> = text.lines().collect();
    let band = lines
        .iter()
        .position(|l| l.starts_with("═══ TLS from here: nothing inside can be read ═"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(columns(lines[band]), 80, "{text}");
    assert!(
        lines[band - 1].contains("◀─ 220 2.0.0 Ready to start TLS"),
        "{text}"
    );
    let m = mermaid_of(s);
    assert!(
        m.contains("    rect rgb(255, 236, 210)\n    Note over Client,Server: 🔒 TLS from here: nothing inside can be read\n    end\n```\n"),
        "{m}"
    );
}

fn run(args: &[&str], file: &Path) -> (String, String, i32) {
    let out = mailscope().arg(file).args(args).output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A capture whose every line is hostile: terminal escapes, bidi overrides, Mermaid syntax
/// (`-->>`, `end`, `%%` directives, `;`, `#`), HTML, Markdown fences, wide characters.
fn hostile_capture(dir: &Path) -> PathBuf {
    let mut c = Conversation::new(
        ("10.0.0.1".parse().unwrap(), 40000),
        ("10.0.0.2".parse().unwrap(), 25),
        [1, 1],
    );
    c.handshake();
    let say = |c: &mut Conversation, side: Side, line: &str| c.send(side, line.as_bytes());
    say(
        &mut c,
        Side::Server,
        "220 evil\x1b[2J\x1b]0;pwned\x07 ESMTP -->> end\r\n",
    );
    say(
        &mut c,
        Side::Client,
        "EHLO invoice\u{202e}fdp.exe\u{2066}x\u{2069}\r\n",
    );
    say(
        &mut c,
        Side::Server,
        "250-ok; Server->>Client: injected\r\n250-```\r\n250 %%{init: {\"theme\":\"dark\"}}%%\r\n",
    );
    say(&mut c, Side::Client, "end\r\n");
    say(&mut c, Side::Server, "500 5.5.2 end\r\n");
    say(&mut c, Side::Client, "%%{init: {'theme':'forest'}}%%\r\n");
    say(
        &mut c,
        Side::Server,
        "500 <script>alert(\"x\")</script> #35; &amp; $$x$$ `code`\r\n",
    );
    say(
        &mut c,
        Side::Client,
        &format!("NOOP {}\r\n", "東京".repeat(40)),
    );
    say(
        &mut c,
        Side::Server,
        &format!("250 {}\r\n", "é".repeat(300)),
    );
    say(&mut c, Side::Client, "MAIL FROM:<a;b#c@x>\r\n");
    say(&mut c, Side::Server, "250 ok\r\n");
    say(&mut c, Side::Client, "RCPT TO:<\"q\u{202e}\"@x>\r\n");
    say(&mut c, Side::Server, "250 ok\r\n");
    say(&mut c, Side::Client, "DATA\r\n");
    say(&mut c, Side::Server, "354 go\r\n");
    say(&mut c, Side::Client, "Subject: hi\r\n\r\nbody\r\n.\r\n");
    say(&mut c, Side::Server, "250 queued\r\n");
    say(&mut c, Side::Client, "QUIT\r\n");
    say(&mut c, Side::Server, "221 bye\r\n");
    c.close();
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    let file = dir.join("hostile.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();
    file
}

/// `s` without its Mermaid entity codes (`#` digits `;`).
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

#[test]
fn hostile_labels_stay_labels() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_capture(dir.path());
    let s = read(&file);
    assert_eq!(s.len(), 1);
    let want = transcript_lines(&s[0]);
    assert_eq!(want, 19, "the capture's lines were all dissected");

    // The ladder: nothing raw, every line within 80 columns, one arrow per line.
    let (text, _, code) = run(&["--format", "diagram"], &file);
    assert_eq!(code, 0);
    assert!(!text.chars().any(|c| is_unsafe(c) && c != '\n'), "{text}");
    assert!(
        text.contains("\\u{1b}[2J\\u{1b}]0;pwned\\u{7} ESMTP -->> end"),
        "{text}"
    );
    assert!(
        text.contains("EHLO invoice\\u{202e}fdp.exe\\u{2066}x\\u{2069}"),
        "{text}"
    );
    assert!(text.contains("─ NOOP 東京東京"), "{text}");
    assert!(text.contains("…"), "long labels are elided: {text}");
    assert_fits(&text, 80, "hostile");
    assert_eq!(text.lines().filter(|l| is_arrow(l)).count(), want, "{text}");

    // Mermaid: one fenced block; inside it only our statements, and their texts free of
    // anything Mermaid or Markdown would read (entity codes aside).
    let (m, _, code) = run(&["--format", "mermaid"], &file);
    assert_eq!(code, 0);
    assert!(!m.chars().any(|c| is_unsafe(c) && c != '\n'), "{m}");
    let lines: Vec<&str> = m.lines().collect();
    assert!(lines[0].starts_with("### Session 1 · SMTP · 10.0.0.1:40000 → 10.0.0.2:25"));
    assert_eq!(lines[2], "```mermaid");
    assert_eq!(lines[3], "sequenceDiagram");
    assert_eq!(*lines.last().unwrap(), "```");
    assert_eq!(m.matches("```").count(), 2, "{m}");
    let body = &lines[4..lines.len() - 1];
    let mut signals = 0;
    for line in body {
        let text = [
            "    participant Client as ",
            "    participant Server as ",
            "    Client->>Server: ",
            "    Server->>Client: ",
            "    Note over Client,Server: ",
        ]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .unwrap_or_else(|| panic!("not one of ours: {line:?}\n{m}"));
        signals += usize::from(line.contains("->>"));
        let bare = strip_entities(text);
        for bad in [';', '#', '<', '>', '"', '\'', '&', '%', '`', '$'] {
            assert!(!bare.contains(bad), "{bad:?} in {line}");
        }
    }
    assert_eq!(signals + s[0].messages.len(), want, "{m}");
    assert!(
        m.contains(" s · end\n    Note over Client,Server: ! unknown-command: end\n"),
        "{m}"
    );
    assert!(m.contains("--#62;#62; end\n"), "{m}");
    assert!(
        m.contains("250-ok#59; Server-#62;#62;Client: injected (+2 lines)\n"),
        "{m}"
    );
    assert!(
        m.contains("#37;#37;{init: {#39;theme#39;:#39;forest#39;}}#37;#37;"),
        "{m}"
    );
    assert!(m.contains("#60;script#62;alert(#34;x#34;)#60;/script#62; #35;35#59; #38;amp#59; #36;#36;x#36;#36; #96;code#96;"), "{m}");
    assert!(m.contains("invoice\\u{202e}fdp.exe"), "{m}");
}

/// The ladder is in capture order: pipelined commands (and BDAT's chunk) cross before any
/// of their replies come back, as they did on the wire.
#[test]
fn pipelined_commands_cross_before_their_replies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let text = plain(&ladder(
        &read(&dir.join("smtp-pipelined-bdat.pcap"))[0],
        Style::new(false),
    ));
    let arrows: Vec<&str> = text.lines().filter(|l| is_arrow(l)).collect();
    let heads: Vec<&str> = arrows
        .iter()
        .map(|l| {
            l.split(" │")
                .nth(1)
                .unwrap_or("")
                .split(' ')
                .nth(1)
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        heads[3..13],
        [
            "mail", "rcpt", "rcpt", "BDAT", "✉", "250", "250", "550", "250", "quit"
        ],
        "{text}"
    );
}

/// The diagrams draw whole sessions: `--events` (a live feed) is refused with them, as with
/// tables.
#[test]
fn events_are_refused_with_diagrams() {
    let file = samples().remove(0);
    for format in ["diagram", "mermaid"] {
        let (stdout, stderr, code) = run(&["--format", format, "--events"], &file);
        assert_eq!(code, 2, "{format}: {stdout}");
        assert!(stderr.contains("--events"), "{stderr}");
    }
}

/// A TLS 1.2 ClientHello naming `host` (as tests/sessions.rs builds it).
fn client_hello(host: &[u8]) -> Vec<u8> {
    let mut sni = vec![0, 0];
    let list_len = (host.len() + 3) as u16;
    sni.extend_from_slice(&(list_len + 2).to_be_bytes());
    sni.extend_from_slice(&list_len.to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(host.len() as u16).to_be_bytes());
    sni.extend_from_slice(host);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    body.extend_from_slice(&sni);
    let mut hs = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// Implicit TLS: the band comes first, with the server name the ClientHello gave (escaped,
/// however hostile), and nothing else is drawn.
#[test]
fn implicit_tls_is_a_band_from_the_first_byte() {
    let mut c = Conversation::new(
        ("10.0.0.1".parse().unwrap(), 40001),
        ("10.0.0.2".parse().unwrap(), 465),
        [1, 1],
    );
    c.handshake();
    c.send(
        Side::Client,
        &client_hello(b"x\x1b[2J;#35;-->>\xe2\x80\xaeend"),
    );
    c.send(Side::Server, b"\x16\x03\x03\x00\x02\x02\x00");
    c.close();
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smtps.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();
    let (text, _, code) = run(&["--format", "diagram"], &file);
    assert_eq!(code, 0);
    assert!(!text.chars().any(|c| is_unsafe(c) && c != '\n'), "{text}");
    assert_fits(&text, 80, "implicit");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[3].starts_with("═══ TLS from the first byte: nothing inside can be read ═"),
        "{text}"
    );
    assert!(
        lines[4].contains(" server name x\\u{1b}[2J;#35;-->>\\u{202e}end "),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| is_arrow(l)).count(), 0, "{text}");
    let (m, _, code) = run(&["--format", "mermaid"], &file);
    assert_eq!(code, 0);
    assert!(!m.chars().any(|c| is_unsafe(c) && c != '\n'), "{m}");
    assert!(!m.contains("->>"), "{m}");
    assert_eq!(m.matches("\n    end\n").count(), 1, "{m}");
    assert!(
        m.contains("(server name x\\u{1b}[2J#59;#35;35#59;--#62;#62;\\u{202e}end)\n"),
        "{m}"
    );
}
