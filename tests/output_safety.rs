//! No output format hands a control or bidi character from the capture to the terminal raw:
//! text and table show them escaped, JSON writes them as `\uXXXX` (and parses back to the
//! identical strings), extracted file names hold no control, bidi or path character.

mod support;

use base64::Engine;
use mailscope::synth::{Conversation, PcapWriter, Side};
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{ip, mailscope};

/// What must never appear raw: C0, DEL, C1 (U+009B is the 8-bit CSI) and the bidi
/// embeddings, overrides and isolates. Written out here, not taken from the library.
fn unsafe_char(c: char) -> bool {
    let n = c as u32;
    n < 0x20
        || (0x7f..=0x9f).contains(&n)
        || (0x202a..=0x202e).contains(&n)
        || (0x2066..=0x2069).contains(&n)
}

/// Asserts `out` is UTF-8 and holds no unsafe character but the newlines framing it.
fn assert_safe(what: &str, out: &[u8]) {
    let text = std::str::from_utf8(out).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    for (line_no, line) in text.lines().enumerate() {
        if let Some(c) = line.chars().find(|c| unsafe_char(*c)) {
            panic!(
                "{what}: raw U+{:04X} on line {}: {}",
                c as u32,
                line_no + 1,
                line.escape_debug()
            );
        }
    }
    assert!(!text.contains('\r'), "{what}: raw CR");
}

const ESC_AND_FRIENDS: &str = "\x1b[2J\x1b]0;pwned\x07\u{9b}31m\u{202e}\0";
/// The same without NUL, which separates the fields of SASL PLAIN.
const NO_NUL: &str = "\x1b[2J\x1b]0;pwned\x07\u{9b}31m\u{202e}";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The hostile message: raw and RFC 2047-encoded controls in From, To, Subject and two
/// attachment names.
fn message() -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(b"From: \"Evil \x1b[31mRed\x07\" <evil@example.test>\r\n");
    // Encoded words decoding to C1 CSI and RLO.
    m.extend_from_slice(b"To: =?UTF-8?Q?=C2=9B31m_=E2=80=AE_you?= <you@example.test>\r\n");
    // Raw: ESC, BEL, NUL, 8-bit CSI in UTF-8, a lone 0x9B byte, RLO.
    m.extend_from_slice("Subject: hi \x1b[1m\x07\0 \u{9b}2J \u{202e}fdp.exe ".as_bytes());
    m.extend_from_slice(b"\x9b[0m raw\r\n");
    m.extend_from_slice(b"MIME-Version: 1.0\r\n");
    m.extend_from_slice(b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    m.extend_from_slice(b"--b\r\nContent-Type: text/plain\r\n\r\nbody \x1b[5m text\r\n");
    m.extend_from_slice(b"--b\r\nContent-Type: application/octet-stream\r\n");
    m.extend_from_slice(
        format!(
            "Content-Disposition: attachment; filename=\"=?UTF-8?B?{}?=\"\r\n",
            b64("inv\u{9b}31m\u{202e}gpj.exe")
        )
        .as_bytes(),
    );
    m.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n");
    m.extend_from_slice(b"--b\r\nContent-Type: application/octet-stream\r\n");
    m.extend_from_slice(
        "Content-Disposition: attachment; filename=\"x\x1b[2J\x07\u{202e}rcs.pdf\"\r\n".as_bytes(),
    );
    m.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\nAwQF\r\n--b--\r\n");
    m
}

/// An SMTP session whose commands, replies, credentials and message all hold ESC, CSI
/// (7- and 8-bit, in UTF-8 and as a raw 0x9B byte), BEL, RLO and NUL.
fn hostile_capture(dir: &Path) -> PathBuf {
    let mut c = Conversation::new((ip("10.0.0.1"), 40000), (ip("10.0.0.2"), 25), [1, 1]);
    c.handshake();
    let auth = b64(&format!("\0us{NO_NUL}er\0pa{NO_NUL}ss"));
    let steps: Vec<(Side, Vec<u8>)> = vec![
        (Side::Server, b"220 mx\x1b[2J ESMTP\r\n".to_vec()),
        (
            Side::Client,
            [
                b"EHLO host".as_slice(),
                ESC_AND_FRIENDS.as_bytes(),
                b"\x9b[1m\r\n",
            ]
            .concat(),
        ),
        (
            Side::Server,
            "250-mx\u{202e}\r\n250 AUTH PLAIN\x1b[0m\r\n"
                .as_bytes()
                .to_vec(),
        ),
        (Side::Client, format!("AUTH PLAIN {auth}\r\n").into_bytes()),
        (Side::Server, b"235 ok\r\n".to_vec()),
        (
            Side::Client,
            format!("MAIL FROM:<ev{ESC_AND_FRIENDS}il@example.test>\r\n").into_bytes(),
        ),
        (Side::Server, b"250 ok\r\n".to_vec()),
        (
            Side::Client,
            "RCPT TO:<you\u{9b}\u{2066}@example.test>\r\n"
                .as_bytes()
                .to_vec(),
        ),
        (Side::Server, b"250 ok\r\n".to_vec()),
        // An unknown verb with ESC in the verb itself.
        (
            Side::Client,
            [
                b"X\x1b[7mEVIL ".as_slice(),
                ESC_AND_FRIENDS.as_bytes(),
                b"\x9b\r\n",
            ]
            .concat(),
        ),
        (Side::Server, b"500 what\x07\r\n".to_vec()),
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

/// Runs mailscope (colour off, as in a pipe) and returns stdout; asserts success and that
/// stderr is safe too.
fn run(args: &[&str]) -> Vec<u8> {
    let out = mailscope()
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    assert_safe(&format!("stderr of {args:?}"), &out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The session record of JSON output (compact: one per line; pretty: a stream of values).
fn values(out: &[u8]) -> Vec<Value> {
    serde_json::Deserializer::from_slice(out)
        .into_iter::<Value>()
        .map(|v| v.expect("valid JSON"))
        .collect()
}

fn strings(v: &Value, into: &mut Vec<String>) {
    match v {
        Value::String(s) => into.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, into)),
        Value::Object(o) => o.values().for_each(|v| strings(v, into)),
        _ => {}
    }
}

#[test]
fn text_and_table_show_control_and_bidi_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_capture(dir.path());
    let f = file.to_str().unwrap();
    let text = run(&[f]);
    assert_safe("text", &text);
    let text = String::from_utf8(text).unwrap();
    // The hostile strings are shown, escaped, in each place they came from.
    for want in [
        "EHLO host\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{9b}31m\\u{202e}\\u{0}\\u{fffd}[1m",
        "MAIL FROM:<ev\\u{1b}[2J",
        "RCPT TO:<you\\u{9b}\\u{2066}@example.test>",
        "C: X\\u{1b}[7mEVIL \\u{1b}[2J",
        "unknown-command",
        "\\u{202e}\\u{0}\\u{fffd}\n",
        "auth PLAIN as us\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{9b}31m\\u{202e}er",
        "S: 250-mx\\u{202e}",
        "Subject: hi \\u{1b}[1m\\u{7}\\u{0} \\u{9b}2J \\u{202e}fdp.exe",
        "From: Evil \\u{1b}[31mRed\\u{7} <evil@example.test>",
        "\\u{9b}31m \\u{202e} you",
        "inv\\u{9b}31m\\u{202e}gpj.exe",
        "x\\u{1b}[2J\\u{7}\\u{202e}rcs.pdf",
    ] {
        assert!(text.contains(want), "text lacks {want:?}:\n{text}");
    }
    for args in [
        vec![f, "--format", "table"],
        vec![f, "--format", "table", "--show-secrets"],
    ] {
        let table = run(&args);
        assert_safe(&format!("{args:?}"), &table);
        let table = String::from_utf8(table).unwrap();
        for want in [
            "\\u{202e}fdp.exe",
            "inv\\u{9b}31m\\u{202e}gpj.exe",
            "\\u{1b}[31mRed",
        ] {
            assert!(table.contains(want), "table lacks {want:?}:\n{table}");
        }
        if args.contains(&"--show-secrets") {
            assert!(table.contains("us\\u{1b}[2J"), "{table}");
        }
    }
}

#[test]
fn json_escapes_control_and_bidi_characters_and_reads_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_capture(dir.path());
    let f = file.to_str().unwrap();
    let compact = run(&[f, "--format", "json", "--show-secrets"]);
    assert_safe("json", &compact);
    for line in std::str::from_utf8(&compact).unwrap().lines() {
        serde_json::from_str::<Value>(line).expect("each line is one JSON value");
    }
    let pretty = run(&[f, "--format", "json", "--pretty", "--show-secrets"]);
    assert_safe("json --pretty", &pretty);
    let (compact, pretty) = (values(&compact), values(&pretty));
    assert_eq!(compact, pretty, "compact and pretty hold the same values");
    assert_eq!(compact.len(), 2, "a session and the summary");
    // The values are the capture's, raw: escaping is only how JSON writes them.
    let mut all = Vec::new();
    strings(&compact[0], &mut all);
    let has = |want: &str| all.iter().any(|s| s.contains(want));
    for want in [
        format!("host{ESC_AND_FRIENDS}\u{fffd}[1m"),
        format!("ev{ESC_AND_FRIENDS}il@example.test"),
        "you\u{9b}\u{2066}@example.test".into(),
        "X\x1b[7mEVIL".into(),
        "hi \x1b[1m\x07\0 \u{9b}2J \u{202e}fdp.exe".into(),
        "Evil \x1b[31mRed\x07".into(),
        "\u{9b}31m \u{202e} you".into(),
        "inv\u{9b}31m\u{202e}gpj.exe".into(),
        "x\x1b[2J\x07\u{202e}rcs.pdf".into(),
        format!("us{NO_NUL}er"),
        format!("pa{NO_NUL}ss"),
        "500 what\x07".into(),
    ] {
        assert!(
            has(&want),
            "no JSON string holds {:?}",
            want.escape_debug().to_string()
        );
    }
}

#[test]
fn flows_table_and_json_are_safe() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_capture(dir.path());
    let f = file.to_str().unwrap();
    assert_safe("flows", &run(&["flows", f]));
    for args in [["flows", f, "--json"], ["flows", f, "--pretty"]] {
        let out = run(&args);
        assert_safe(&format!("{args:?}"), &out);
        assert_eq!(values(&out).len(), 2, "{args:?}: a flow and the summary");
    }
}

#[test]
fn extracted_names_and_index_are_safe() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_capture(dir.path());
    let out = dir.path().join("out");
    run(&[file.to_str().unwrap(), "--extract", out.to_str().unwrap()]);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().expect("UTF-8 name"))
        .collect();
    names.sort();
    for n in &names {
        assert!(
            !n.starts_with('.')
                && !n.chars().any(|c| mailscope::render::is_unsafe(c)
                    || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')),
            "unsafe file name {n:?}"
        );
    }
    assert_eq!(
        names.len(),
        4,
        "{names:?}: index, message and two attachments"
    );
    let index = std::fs::read(out.join("index.json")).unwrap();
    assert_safe("index.json", &index);
    let index: Value = serde_json::from_slice(&index).unwrap();
    let originals: Vec<&str> = index
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["original_name"].as_str())
        .collect();
    assert_eq!(
        originals,
        ["inv\u{9b}31m\u{202e}gpj.exe", "x\x1b[2J\x07\u{202e}rcs.pdf"]
    );
}

#[test]
fn error_messages_are_one_safe_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no\x1b[2J\u{9b}such\u{202e}.pcap");
    for args in [vec![], vec!["flows"]] {
        let out = mailscope()
            .args(&args)
            .arg(&missing)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1));
        assert_safe("stderr", &out.stderr);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("no\\u{1b}[2J\\u{9b}such\\u{202e}.pcap"),
            "{stderr}"
        );
    }
}

/// The live views (live text, the JSON event feed) show the hostile capture safely too:
/// they print with the file view's printers, fed the events as they come.
#[test]
fn live_views_are_safe() {
    use mailscope::pipeline::{InputConfig, SessionsConfig, sessions};
    use mailscope::render::{SessionSink, live::LiveText, sink, text::Style};
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_capture(dir.path());
    let cfg = |show_secrets| SessionsConfig {
        show_secrets,
        ..SessionsConfig::new(InputConfig::files(vec![file.to_string_lossy().into()]))
    };
    for show_secrets in [false, true] {
        let (mut out, mut notes) = (Vec::new(), Vec::new());
        let mut live = LiveText::new(&mut out, &mut notes, Style::new(false), show_secrets);
        assert!(live.wants_events());
        sessions(&cfg(show_secrets), &mut live, &mut |_| {}).unwrap();
        drop(live);
        assert_safe("live text", &out);
        assert_safe("live notes", &notes);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\\u{1b}[2J"), "{text}");
        assert!(text.contains("C: EHLO host"), "{text}");
        let mut out = Vec::new();
        let mut json = sink::Json::new(&mut out, false).events(show_secrets);
        sessions(&cfg(show_secrets), &mut json, &mut |_| {}).unwrap();
        drop(json);
        assert_safe("json events", &out);
        let lines = values(&out);
        assert!(lines.iter().any(|v| v["type"] == "exchange"));
    }
}
