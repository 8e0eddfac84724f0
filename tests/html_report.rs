//! The HTML report (`--format html`) with a hostile capture: script tags, attribute
//! injection, SVG-text breakouts, bidi overrides, NUL and ESC in commands, replies, headers,
//! a file name and the body. Nothing of it may reach the page as markup or as a raw
//! control character, and the page stays well-formed (every tag closed, every `&` an
//! entity), with one ladder arrow per transcript line.

mod support;

use base64::Engine;
use mailscope::synth::{Conversation, PcapWriter, Side};
use std::path::{Path, PathBuf};
use support::{ip, mailscope};

const XSS: &str =
    "<script>alert(1)</script>\"onload=alert(1) '</text><script>x</script>\u{202e}fdp.exe\0\x1b[2J";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn message() -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(format!("From: \"{XSS}\" <evil@example.test>\r\n").as_bytes());
    m.extend_from_slice(format!("To: =?UTF-8?B?{}?= <you@example.test>\r\n", b64(XSS)).as_bytes());
    m.extend_from_slice(format!("Subject: {XSS}\r\n").as_bytes());
    m.extend_from_slice(format!("Message-ID: <{XSS}@example.test>\r\n").as_bytes());
    m.extend_from_slice(b"MIME-Version: 1.0\r\n");
    m.extend_from_slice(b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    m.extend_from_slice(
        format!("--b\r\nContent-Type: text/plain\r\n\r\nbody {XSS}\r\n").as_bytes(),
    );
    m.extend_from_slice(b"--b\r\nContent-Type: application/octet-stream\r\n");
    m.extend_from_slice(
        format!(
            "Content-Disposition: attachment; filename=\"=?UTF-8?B?{}?=\"\r\n",
            b64(XSS)
        )
        .as_bytes(),
    );
    m.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n");
    m
}

fn hostile_capture(dir: &Path) -> PathBuf {
    let mut c = Conversation::new((ip("10.0.0.1"), 40000), (ip("10.0.0.2"), 25), [1, 1]);
    c.handshake();
    let steps: Vec<(Side, Vec<u8>)> = vec![
        (Side::Server, format!("220 mx {XSS} ESMTP\r\n").into_bytes()),
        (Side::Client, format!("EHLO {XSS}\r\n").into_bytes()),
        (
            Side::Server,
            format!("250-mx {XSS}\r\n250 AUTH PLAIN\r\n").into_bytes(),
        ),
        (
            Side::Client,
            format!("MAIL FROM:<{XSS}@example.test>\r\n").into_bytes(),
        ),
        (Side::Server, b"250 ok\r\n".to_vec()),
        (Side::Client, b"RCPT TO:<you@example.test>\r\n".to_vec()),
        (Side::Server, b"250 ok\r\n".to_vec()),
        // An unknown verb made of markup: an anomaly whose detail is hostile too.
        (
            Side::Client,
            format!("<svg/onload=alert(1)> {XSS}\r\n").into_bytes(),
        ),
        (Side::Server, format!("500 {XSS}\r\n").into_bytes()),
        (Side::Client, b"DATA\r\n".to_vec()),
        (Side::Server, b"354 go\r\n".to_vec()),
        (Side::Client, [message(), b".\r\n".to_vec()].concat()),
        (Side::Server, b"250 queued\r\n".to_vec()),
        (Side::Client, b"QUIT\r\n".to_vec()),
        (Side::Server, b"221 bye\r\n".to_vec()),
    ];
    for (side, data) in steps {
        c.send(side, &data);
    }
    c.close();
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    let file = dir.join("hostile.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();
    file
}

fn report(file: &Path, lang: &str) -> String {
    let out = mailscope()
        .arg(file)
        .args(["--format", "html"])
        .env_remove("LC_ALL")
        .env("LANG", lang)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Written out here, not taken from the library: C0, DEL, C1 and the bidi controls.
fn unsafe_char(c: char) -> bool {
    let n = c as u32;
    (n < 0x20 && c != '\n')
        || (0x7f..=0x9f).contains(&n)
        || (0x202a..=0x202e).contains(&n)
        || (0x2066..=0x2069).contains(&n)
}

/// A small well-formedness check (XML rules on the HTML written): the doctype, then tags
/// that nest and close (`<x/>` closes itself), attributes as `name="value"` without `<`,
/// every `&` an entity, and nothing after the root `html` element. Returns the tag names
/// in document order.
fn well_formed(page: &str) -> Vec<String> {
    let body = page
        .strip_prefix("<!DOCTYPE html>\n")
        .expect("starts with the doctype");
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = body;
    let mut closed_root = false;
    while let Some(at) = rest.find(['<', '&']) {
        let text = &rest[..at];
        assert!(
            !closed_root || text.trim().is_empty(),
            "text after </html>: {text:?}"
        );
        rest = &rest[at..];
        if rest.starts_with('&') {
            let end = rest.find(';').expect("entity ends with ;");
            let name = &rest[1..end];
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot")
                || name
                    .strip_prefix('#')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            assert!(ok, "bad entity &{name};");
            rest = &rest[end + 1..];
            continue;
        }
        let end = rest.find('>').expect("tag ends with >");
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        assert!(!tag.contains('<'), "< inside a tag: {tag:?}");
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name, "</{name}> closes <{open}>");
            if stack.is_empty() {
                closed_root = true;
            }
            continue;
        }
        assert!(!closed_root, "a second root <{tag}>");
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()),
            "tag name {name:?}"
        );
        // name="value" pairs, values without a quote.
        attrs = attrs.trim();
        while !attrs.is_empty() {
            let (key, after) = attrs
                .split_once("=\"")
                .unwrap_or_else(|| panic!("attribute in <{name} {attrs}>"));
            assert!(
                key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                "attribute name {key:?} in <{name}>"
            );
            assert!(
                !key.eq_ignore_ascii_case("style") || name == "li",
                "style on <{name}>"
            );
            assert!(
                !key.to_ascii_lowercase().starts_with("on"),
                "event handler {key} on <{name}>"
            );
            let (_, after) = after.split_once('"').expect("attribute value ends");
            attrs = after.trim_start();
        }
        names.push(name.to_string());
        if !self_closing {
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert!(closed_root, "no </html>");
    names
}

#[test]
fn a_hostile_capture_is_shown_escaped_and_the_page_is_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_capture(dir.path());
    for lang in ["C.UTF-8", "zh_CN.UTF-8"] {
        let page = report(&file, lang);
        let lower = page.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{lang}: a script tag");
        assert!(!lower.contains("onload="), "{lang}: onload=");
        assert!(
            !lower.contains("</text><script"),
            "{lang}: SVG text broken out of"
        );
        if let Some((n, line)) = page
            .lines()
            .enumerate()
            .find(|(_, l)| l.chars().any(unsafe_char))
        {
            panic!(
                "{lang}: raw control or bidi character on line {}: {}",
                n + 1,
                line.escape_debug()
            );
        }
        let tags = well_formed(&page);
        assert_eq!(tags.first().map(String::as_str), Some("html"));
        assert!(!tags.iter().any(|t| t.eq_ignore_ascii_case("script")));
        // The hostile strings are there, escaped, in the places they came from.
        let shown = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onload&#61;alert(1) &#39;&lt;/text&gt;&lt;script&gt;x&lt;/script&gt;\\u{202e}fdp.exe\\u{0}\\u{1b}[2J";
        for place in [
            format!("EHLO {shown}"), // a command, in the transcript and the ladder
            format!("220 mx {shown} ESMTP"), // a reply
            format!("<td>{shown}</td>"), // the Subject header
            format!("<td>{shown}</td><td><code>application/octet-stream"), // an attachment name
            format!("body {shown}"), // the decoded text body
        ] {
            assert!(page.contains(&place), "{lang}: {place} not shown");
        }
        assert!(page.contains("unknown-command"), "{lang}: the anomaly");
        // One ladder arrow per transcript line: 6 commands, 8 replies (the EHLO reply's two
        // lines are one), 1 message.
        let arrows = page.matches("<path class=\"arrow").count();
        let lines = page.matches("class=\"tl ").count();
        assert_eq!(arrows, 15, "{lang}");
        assert_eq!(lines, arrows, "{lang}");
        assert_eq!(page.matches("<path class=\"arrow message\"").count(), 1);
    }
}

#[test]
fn the_page_is_in_the_language_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_capture(dir.path());
    let en = report(&file, "C.UTF-8");
    assert!(en.contains("<html lang=\"en\">") && en.contains("<h2>Sessions</h2>"));
    let zh = report(&file, "zh_CN.UTF-8");
    assert!(zh.contains("<html lang=\"zh-Hans\">") && zh.contains("<h2>会话列表</h2>"));
    // The explanations are the knowledge base's Chinese (RCPT TO stays RCPT TO).
    assert!(
        zh.contains("RCPT TO") && zh.contains("收件人"),
        "no Chinese explanation"
    );
    // Offline: nothing is loaded from anywhere.
    for page in [&en, &zh] {
        assert!(page.contains("default-src 'none'"));
        for bad in ["http://", "https://", "src=", "@import", "url("] {
            let outside_svg_ns = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(!outside_svg_ns.contains(bad), "{bad} in the page");
        }
    }
}

/// The page is held until the end (its session list comes first): past
/// `Limits::max_report_sessions` sessions are counted, not drawn, and the page says so.
#[test]
fn the_report_holds_at_most_its_session_limit() {
    use mailscope::pipeline::{InputConfig, SessionsConfig, sessions};
    use mailscope::render::SessionSink;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let cfg = SessionsConfig::new(InputConfig::files(
        ["smtp-attachment.pcap", "pop3-retr.pcap", "imap-fetch.pcap"]
            .iter()
            .map(|f| root.join(f).to_string_lossy().into_owned())
            .collect(),
    ));
    let mut all = Vec::new();
    let mut collect = |s| {
        all.push(s);
        Ok(())
    };
    sessions(&cfg, &mut collect, &mut |_| {}).unwrap();
    assert_eq!(all.len(), 3);
    let mut page = Vec::new();
    let mut sink =
        mailscope::render::sink::Html::new(&mut page, std::io::sink(), mailscope::teach::Lang::En)
            .max_sessions(1);
    for s in all {
        sink.session(s).unwrap();
    }
    sink.finish(&Default::default()).unwrap();
    drop(sink);
    let page = String::from_utf8(page).unwrap();
    assert_eq!(
        page.matches("<svg class=\"ladder\"")
            .count()
            .max(page.matches("class=\"ladder\"").count()),
        1,
        "one session drawn"
    );
    assert!(
        page.contains("2 more sessions are not shown"),
        "the page says how many"
    );
    // The mail-flow picture still links all three.
    assert!(page.contains("class=\"hop\""));
}

/// In Chinese the report's short English notes give way to the explanations, as in the text
/// transcript.
#[test]
fn a_chinese_report_has_no_english_notes() {
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/smtp-attachment.pcap");
    let page = |lang: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailscope"))
            .arg(&sample)
            .args(["--format", "html", "--lang", lang])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(page("en").contains("extended hello"));
    let zh = page("zh");
    assert!(!zh.contains("extended hello") && !zh.contains("envelope recipient"));
    assert!(zh.contains("RCPT TO"));
}
