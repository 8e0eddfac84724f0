//! The main job (`mailscope FILE`) end to end: golden snapshots of every sample in every
//! format, the JSON checked against docs/session.schema.json, secrets, extraction, filters
//! and terminal safety.

mod support;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use support::mailscope;

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    v.sort();
    v
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

fn run(args: &[&str], file: &Path) -> (String, String, i32) {
    // A TLS sample comes with its key log beside it (samples/X.keys).
    let keys = file.with_extension("keys");
    let keylog: Vec<&std::ffi::OsStr> = match keys.exists() {
        true => vec!["--tls-keylog".as_ref(), keys.as_os_str()],
        false => Vec::new(),
    };
    // The HTML report's language comes from the environment: English here, whatever the
    // machine's locale.
    let out = mailscope()
        .arg(file)
        .args(args)
        .args(keylog)
        .env_remove("LC_ALL")
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[derive(Deserialize)]
struct Auth {
    mechanism: String,
    username: Option<String>,
    password: Option<String>,
    success: Option<bool>,
}

#[derive(Deserialize)]
struct Part {
    path: String,
    filename: Option<String>,
    size: u64,
    sha256: String,
}

#[derive(Deserialize)]
struct Headers {
    subject: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    origin: String,
    headers: Headers,
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Session {
    id: u64,
    protocol: String,
    auth: Vec<Auth>,
    messages: Vec<Message>,
    tls: Option<serde_json::Value>,
}

fn sessions(stdout: &str) -> Vec<Session> {
    stdout
        .lines()
        .filter(|l| l.contains("\"type\":\"session\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// One snapshot per sample and format (`insta::glob!`): every sample is checked even when
/// an earlier one fails; a failed run is reported after all of them.
#[test]
fn snapshots_in_every_format() {
    let mut failed = Vec::new();
    insta::glob!("../samples", "*.{pcap,pcapng}", |file| {
        for (format, extra) in [
            ("text", None),
            ("json", None),
            ("table", Some("--show-secrets")),
            ("diagram", None),
            ("mermaid", None),
            ("html", None),
        ] {
            let mut args = vec!["--format", format];
            args.extend(extra);
            let (stdout, stderr, code) = run(&args, file);
            if code != 0 {
                failed.push(format!("{} {format}: {stderr}", file.display()));
            }
            let stdout = stdout.replace(&file.display().to_string(), "<input>");
            insta::assert_snapshot!(format, stdout);
        }
    });
    assert!(failed.is_empty(), "failed: {failed:?}");
}

#[test]
fn json_output_matches_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/session.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut checked = 0;
    for file in samples() {
        for args in [
            vec!["--format", "json"],
            vec!["--format", "json", "--show-secrets"],
            // Limits reached: exchanges and messages counted, messages cut short.
            vec![
                "--format",
                "json",
                "--max-exchanges",
                "2",
                "--max-messages",
                "0",
                "--max-message",
                "64",
            ],
        ] {
            let (stdout, _, _) = run(&args, &file);
            for line in stdout.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let errors: Vec<String> =
                    validator.iter_errors(&v).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{}: {errors:?}", file.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 10);
    // The schema is not vacuous: a session without exchanges fails it.
    let bad = serde_json::json!({"type": "session", "id": 1});
    assert!(!validator.is_valid(&bad));
    // It is closed: a field it does not list fails it, at the top and deep inside, so a
    // field added to the model without the schema fails this test.
    let (stdout, _, _) = run(&["--format", "json"], &sample("smtp-attachment.pcap"));
    let good: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert!(validator.is_valid(&good));
    for pointer in [
        "",
        "/exchanges/1",
        "/exchanges/1/replies/0",
        "/messages/0/parts/0",
    ] {
        let mut v = good.clone();
        v.pointer_mut(pointer)
            .and_then(|o| o.as_object_mut())
            .unwrap_or_else(|| panic!("{pointer} is an object"))
            .insert("not_in_the_schema".into(), serde_json::json!(1));
        assert!(!validator.is_valid(&v), "extra field at {pointer:?} passed");
    }
}

#[test]
fn passwords_redacted_unless_asked() {
    let file = sample("submission-auth-login.pcap");
    let (stdout, _, _) = run(&["--format", "json"], &file);
    assert!(!stdout.contains("Wonderland-2024"));
    let s = &sessions(&stdout)[0];
    assert_eq!((s.id, s.protocol.as_str()), (1, "smtp"));
    assert_eq!(s.auth[0].mechanism, "LOGIN");
    assert_eq!(s.auth[0].username.as_deref(), Some("alice"));
    assert_eq!(s.auth[0].password.as_deref(), Some("<redacted>"));
    assert_eq!(s.auth[0].success, Some(true));
    let (text, _, _) = run(&[], &file);
    assert!(!text.contains("Wonderland-2024") && !text.contains("V29uZGVybGFuZC0yMDI0"));
    let (stdout, _, _) = run(&["--format", "json", "--show-secrets"], &file);
    assert_eq!(
        sessions(&stdout)[0].auth[0].password.as_deref(),
        Some("Wonderland-2024")
    );
}

#[test]
fn starttls_and_decoded_subjects() {
    let (stdout, _, _) = run(
        &["--format", "json"],
        &sample("submission-starttls-auth.pcap"),
    );
    let s = &sessions(&stdout)[0];
    assert_eq!(s.tls.as_ref().unwrap()["mode"], "starttls");
    assert!(s.messages.is_empty());
    let (stdout, _, _) = run(&["--format", "json"], &sample("submission-auth-login.pcap"));
    let s = &sessions(&stdout)[0];
    assert_eq!(
        s.messages[0].headers.subject.as_deref(),
        Some("Grüße aus Berlin")
    );
}

#[test]
fn extract_writes_messages_and_attachments_safely() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let file = sample("smtp-attachment.pcap");
    for _ in 0..2 {
        let (_, stderr, code) = run(&["--extract", out.to_str().unwrap()], &file);
        assert_eq!(code, 0, "{stderr}");
    }
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The second run overwrote nothing.
    assert_eq!(
        names,
        vec![
            "index-1.json",
            "index.json",
            "session1-msg1-1.eml",
            "session1-msg1-part2-report-1.pdf",
            "session1-msg1-part2-report.pdf",
            "session1-msg1.eml",
        ]
    );
    let (stdout, _, _) = run(&["--format", "json"], &file);
    let m = &sessions(&stdout)[0].messages[0];
    let pdf = m.parts.iter().find(|p| p.path == "2").unwrap();
    assert_eq!(pdf.filename.as_deref(), Some("report.pdf"));
    let bytes = std::fs::read(out.join("session1-msg1-part2-report.pdf")).unwrap();
    assert_eq!(bytes.len() as u64, pdf.size);
    assert!(bytes.starts_with(b"%PDF-1.4"));
    let _ = &pdf.sha256;
    assert_eq!(m.origin, "smtp-data");
}

#[test]
fn filters() {
    let file = sample("smtp-attachment.pcap");
    for (args, want) in [
        (vec!["--proto", "smtp"], 1),
        (vec!["--proto", "imap"], 0),
        (vec!["--port", "25"], 1),
        (vec!["--port", "26"], 0),
        (vec!["--host", "127.0.0.1"], 1),
        (vec!["--host", "10.9.9.9"], 0),
        (vec!["--session", "1"], 1),
        (vec!["--session", "2"], 0),
    ] {
        let mut a = vec!["--format", "json"];
        a.extend(args.iter().copied());
        let (stdout, _, code) = run(&a, &file);
        assert_eq!(code, 0);
        assert_eq!(sessions(&stdout).len(), want, "{args:?}");
    }
    let (_, _, code) = run(&["--proto", "http"], &file);
    assert_eq!(code, 2);
}

#[test]
fn control_characters_never_reach_the_terminal() {
    use mailscope::synth::{Conversation, PcapWriter, Side};
    use mailscope::types::Timestamp;
    let mut c = Conversation::new(
        ("10.0.0.1".parse().unwrap(), 40000),
        ("10.0.0.2".parse().unwrap(), 25),
        [1, 1],
    );
    c.handshake();
    c.send(Side::Server, b"220 evil\x1b[2J\x1b]0;pwned\x07 ESMTP\r\n");
    c.send(Side::Client, b"EHLO \x1b[31mred\r\n");
    c.close();
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    let _ = Timestamp::default();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evil.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();
    for format in ["text", "table"] {
        let (stdout, _, code) = run(&["--format", format], &file);
        assert_eq!(code, 0);
        assert!(!stdout.contains('\x1b'), "{format}: {stdout}");
        assert!(!stdout.contains('\x07'), "{format}");
    }
    let (stdout, _, _) = run(&[], &file);
    assert!(stdout.contains("\\u{1b}[2J"));
}

/// A TLS 1.2 ClientHello naming `host`.
fn client_hello(host: &str) -> Vec<u8> {
    let name = host.as_bytes();
    let mut sni = vec![0, 0];
    let list_len = (name.len() + 3) as u16;
    sni.extend_from_slice(&(list_len + 2).to_be_bytes());
    sni.extend_from_slice(&list_len.to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
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

#[test]
fn implicit_tls_port_is_a_tls_session_with_sni() {
    use mailscope::synth::{Conversation, PcapWriter, Side};
    let mut c = Conversation::new(
        ("10.0.0.1".parse().unwrap(), 40001),
        ("10.0.0.2".parse().unwrap(), 465),
        [1, 1],
    );
    c.handshake();
    c.send(Side::Client, &client_hello("smtp.example.test"));
    c.send(Side::Server, b"\x16\x03\x03\x00\x02\x02\x00");
    c.close();
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smtps.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();
    let (stdout, _, code) = run(&["--format", "json"], &file);
    assert_eq!(code, 0);
    let s = &sessions(&stdout)[0];
    assert_eq!(s.protocol, "smtp");
    let tls = s.tls.as_ref().unwrap();
    assert_eq!(tls["mode"], "implicit");
    assert_eq!(tls["sni"], "smtp.example.test");
    let (text, _, _) = run(&[], &file);
    assert!(text.contains("implicit TLS"), "{text}");
    assert!(text.contains("smtp.example.test"));
}

/// A capture with POP3 on port 1100 and IMAP on port 10143.
fn odd_ports_capture(dir: &Path) -> PathBuf {
    use mailscope::synth::{Conversation, PcapWriter, Side};
    let mut frames = Vec::new();
    let mut p = Conversation::new(
        ("10.0.0.1".parse().unwrap(), 40010),
        ("10.0.0.2".parse().unwrap(), 1100),
        [1, 1],
    );
    p.handshake();
    p.send(Side::Server, b"+OK ready\r\n");
    p.send(Side::Client, b"RETR 1\r\n");
    p.send(Side::Server, b"+OK\r\nSubject: pop\r\n\r\nbody\r\n.\r\n");
    p.close();
    frames.extend(p.frames);
    let mut i = Conversation::new(
        ("10.0.0.1".parse().unwrap(), 40011),
        ("10.0.0.2".parse().unwrap(), 10143),
        [1, 1],
    );
    i.handshake();
    i.send(Side::Server, b"* OK IMAP ready\r\n");
    i.send(Side::Client, b"a FETCH 1 BODY[]\r\n");
    i.send(
        Side::Server,
        b"* 1 FETCH (BODY[] {23}\r\nSubject: imap\r\n\r\nbody\r\n)\r\na OK\r\n",
    );
    i.close();
    frames.extend(i.frames);
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for (n, f) in frames.iter().enumerate() {
        let ts = mailscope::types::Timestamp::from_nanos(1_700_000_000_000_000_000 + n as i64);
        w.frame(ts, &f.data, f.data.len()).unwrap();
    }
    let file = dir.join("odd.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();
    file
}

#[test]
fn pop3_and_imap_on_other_ports_by_mapping_or_content() {
    let dir = tempfile::tempdir().unwrap();
    let file = odd_ports_capture(dir.path());
    let (stdout, _, _) = run(&["--format", "json"], &file);
    assert!(
        sessions(&stdout).is_empty(),
        "unmapped ports are not followed by default"
    );
    for args in [
        vec![
            "--format",
            "json",
            "--port",
            "1100=pop3",
            "--port",
            "10143=imap",
        ],
        vec!["--format", "json", "--all-ports"],
    ] {
        let (stdout, _, code) = run(&args, &file);
        assert_eq!(code, 0);
        let s = sessions(&stdout);
        let protos: Vec<&str> = s.iter().map(|s| s.protocol.as_str()).collect();
        assert_eq!(protos, vec!["pop3", "imap"], "{args:?}");
        assert_eq!(s[0].messages[0].origin, "pop3-retr");
        assert_eq!(s[0].messages[0].headers.subject.as_deref(), Some("pop"));
        assert_eq!(s[1].messages[0].origin, "imap-fetch");
        assert_eq!(s[1].messages[0].headers.subject.as_deref(), Some("imap"));
    }
}

/// Decoding on worker threads changes nothing: every session, message, part hash and
/// anomaly comes out the same, in the same order, for 1, 2 or 4 threads, also when the
/// decoding budget is so small that the reading thread decodes most messages itself; with
/// large messages and with many small ones (which go to the workers in batches).
#[test]
fn output_is_the_same_for_any_number_of_threads() {
    for attachments in [mailscope::synth::ATTACHMENTS, 0..2048] {
        same_for_any_number_of_threads(attachments);
    }
}

fn same_for_any_number_of_threads(attachments: std::ops::Range<usize>) {
    use mailscope::pipeline::{InputConfig, SessionsConfig, sessions};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.pcap");
    let small = attachments.end < 4096;
    mailscope::synth::write_traffic_with(
        std::fs::File::create(&file).unwrap(),
        None,
        if small { 1 << 20 } else { 6 << 20 },
        16,
        true,
        attachments,
    )
    .unwrap();
    let run = |threads: usize, budget: usize| -> Vec<String> {
        let limits = mailscope::limits::Limits {
            max_decoding_bytes: budget,
            ..Default::default()
        };
        let cfg = SessionsConfig {
            threads,
            ..SessionsConfig::new(InputConfig {
                limits,
                ..InputConfig::files(vec![file.to_string_lossy().into_owned()])
            })
        };
        let mut out = Vec::new();
        let mut sink = |s: mailscope::session::Session| {
            out.push(serde_json::to_string(&s).unwrap());
            Ok(())
        };
        let outcome = sessions(&cfg, &mut sink, &mut |_| {}).unwrap();
        assert!(outcome.error.is_none());
        out
    };
    let one = run(1, 4 << 20);
    let messages: usize = one.iter().map(|s| s.matches("\"origin\"").count()).sum();
    let least = if small { 200 } else { 8 };
    assert!(
        one.len() >= least && messages >= least,
        "{} sessions, {messages} messages",
        one.len()
    );
    assert!(
        one.iter().all(|s| !s.contains("\"parts\":[]")),
        "every message decoded"
    );
    for (threads, budget) in [(2, 4 << 20), (4, 4 << 20), (4, 1), (3, 300 << 10)] {
        assert!(
            run(threads, budget) == one,
            "{threads} threads, budget {budget}"
        );
    }
}

/// The JSON lines are the same for any number of threads, also when the workers render
/// the sessions (JSON without events is rendered there and written in order): many small
/// sessions and a few large ones, compact and `--pretty`, with a `--session` filter, and on
/// every sample.
#[test]
fn json_lines_are_the_same_for_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.pcap");
    mailscope::synth::write_traffic_with(
        std::fs::File::create(&file).unwrap(),
        None,
        2 << 20,
        16,
        true,
        0..6000,
    )
    .unwrap();
    let mut files = samples();
    files.push(file);
    for file in &files {
        for extra in [&[][..], &["--pretty"], &["--session", "3"]] {
            let args = |j: &'static str| [&["--format", "json", "-j", j][..], extra].concat();
            let (one, err, code) = run(&args("1"), file);
            assert_eq!(code, 0, "{}: {err}", file.display());
            for j in ["2", "3"] {
                let (many, err, _) = run(&args(j), file);
                assert!(
                    many == one,
                    "{} {extra:?}: -j {j} differs from -j 1: {err}",
                    file.display()
                );
            }
        }
    }
    let (out, _, _) = run(&["--format", "json"], files.last().unwrap());
    assert!(out.lines().count() > 200, "many sessions");
}

/// A message over `--max-message` is truncated for MIME, but its size and SHA-256 still
/// cover every byte, in every protocol.
#[test]
fn truncated_messages_keep_their_full_size_and_hash() {
    for name in ["smtp-attachment.pcap", "pop3-retr.pcap", "imap-fetch.pcap"] {
        let file = sample(name);
        let facts = |args: &[&str]| -> Vec<(u64, String, bool)> {
            let (out, err, code) = run(&[&["--format", "json"], args].concat(), &file);
            assert_eq!(code, 0, "{err}");
            out.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|v| v["type"] == "session")
                .flat_map(|v| v["messages"].as_array().cloned().unwrap_or_default())
                .map(|m| {
                    (
                        m["size"].as_u64().unwrap(),
                        m["sha256"].as_str().unwrap().to_string(),
                        m["truncated"].as_bool().unwrap(),
                    )
                })
                .collect()
        };
        let whole = facts(&[]);
        let cut = facts(&["--max-message", "300"]);
        assert!(!whole.is_empty(), "{name}");
        assert_eq!(whole.len(), cut.len(), "{name}");
        for ((size, sha, truncated), (cut_size, cut_sha, cut_truncated)) in whole.iter().zip(&cut) {
            assert!(!truncated && *cut_truncated == (*size > 300), "{name}");
            assert_eq!((size, sha), (cut_size, cut_sha), "{name}");
            assert_eq!(sha.len(), 64, "{name}");
        }
    }
}

/// Issue 9, "show what was sent": lower- and mixed-case commands (Python's smtplib sends
/// `ehlo` and `mail FROM:`) appear in the text transcript as they crossed the wire; JSON
/// keeps `verb` upper-cased and adds `raw`, the exact line, secrets redacted unless asked.
#[test]
fn commands_are_shown_as_sent() {
    use mailscope::synth::Side::{Client as C, Server as S};
    let dir = tempfile::tempdir().unwrap();
    let steps: Vec<(mailscope::synth::Side, &[u8])> = vec![
        (S, b"220 mx ESMTP\r\n"),
        (C, b"ehlo [127.0.0.1]\r\n"),
        (S, b"250-mx\r\n250 AUTH PLAIN\r\n"),
        (C, b"auth plain AGJvYgBodW50ZXIy\r\n"),
        (S, b"235 ok\r\n"),
        (C, b"mail FROM:<bob@example.test>  SIZE=12\r\n"),
        (S, b"250 ok\r\n"),
        (C, b"Quit\r\n"),
        (S, b"221 bye\r\n"),
    ];
    let file = support::write_steps(dir.path(), "lower.pcap", 25, &steps, None);
    let (text, _, _) = run(&[], &file);
    for want in [
        "C: ehlo [127.0.0.1]",
        "C: auth PLAIN <redacted>",
        "C: mail FROM:<bob@example.test>  SIZE=12",
        "C: Quit",
    ] {
        assert!(text.contains(want), "text lacks {want:?}:\n{text}");
    }
    let (json, _, _) = run(&["--format", "json"], &file);
    let s: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    let commands: Vec<(&str, &str)> = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["command"].is_null())
        .map(|e| {
            (
                e["command"]["verb"].as_str().unwrap(),
                e["command"]["raw"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        commands,
        [
            ("EHLO", "ehlo [127.0.0.1]"),
            ("AUTH", "auth PLAIN <redacted>"),
            ("MAIL", "mail FROM:<bob@example.test>  SIZE=12"),
            ("QUIT", "Quit"),
        ]
    );
    assert!(!json.contains("AGJvYgBodW50ZXIy"), "the secret leaked");
    let (shown, _, _) = run(&["--format", "json", "--show-secrets"], &file);
    assert!(shown.contains(r#""raw":"auth plain AGJvYgBodW50ZXIy""#));
}

#[test]
fn pop3_and_imap_commands_are_shown_as_sent() {
    use mailscope::synth::Side::{Client as C, Server as S};
    let dir = tempfile::tempdir().unwrap();
    type Steps<'a> = Vec<(mailscope::synth::Side, &'a [u8])>;
    let cases: [(u16, Steps, &[&str]); 2] = [
        (
            110,
            vec![
                (S, b"+OK ready\r\n"),
                (C, b"user bob\r\n"),
                (S, b"+OK\r\n"),
                (C, b"pass hunter2\r\n"),
                (S, b"+OK\r\n"),
                (C, b"stat\r\n"),
                (S, b"+OK 0 0\r\n"),
            ],
            &["user bob", "pass <redacted>", "stat"],
        ),
        (
            143,
            vec![
                (S, b"* OK ready\r\n"),
                (C, b"a1 login bob hunter2\r\n"),
                (S, b"a1 OK done\r\n"),
                (C, b"a2 uid fetch 1:* (FLAGS)\r\n"),
                (S, b"a2 OK done\r\n"),
            ],
            &["a1 login bob <redacted>", "a2 uid fetch 1:* (FLAGS)"],
        ),
    ];
    for (port, steps, want) in cases {
        let file = support::write_steps(dir.path(), &format!("{port}.pcap"), port, &steps, None);
        let (json, _, _) = run(&["--format", "json"], &file);
        let s: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        let raw: Vec<&str> = s["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["command"]["raw"].as_str())
            .collect();
        assert_eq!(raw, want, "port {port}");
        assert!(!json.contains("hunter2"), "port {port}: the secret leaked");
    }
}

/// Issue 9: AUTH NTLM over SMTP, POP3 and IMAP: the NTLMSSP AUTHENTICATE message gives the
/// user, domain and workstation; its response is the secret, redacted.
#[test]
fn ntlm_is_decoded_in_every_protocol() {
    use base64::Engine;
    use mailscope::synth::Side::{Client as C, Server as S};
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let negotiate = b64(b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2");
    let challenge = b64(&[b"NTLMSSP\0\x02\0\0\0".as_slice(), &[0; 40]].concat());
    let authenticate = b64(&mailscope::synth::ntlm_authenticate(
        "CORP", "alice", "WS01",
    ));
    let line = |s: &str| format!("{s}\r\n").into_bytes();
    let dir = tempfile::tempdir().unwrap();
    type Steps = Vec<(mailscope::synth::Side, Vec<u8>)>;
    let cases: [(u16, Steps); 3] = [
        (
            25,
            vec![
                (S, line("220 mx ESMTP")),
                (C, line("EHLO ws01")),
                (S, line("250 AUTH NTLM")),
                (C, line(&format!("AUTH NTLM {negotiate}"))),
                (S, line(&format!("334 {challenge}"))),
                (C, line(&authenticate)),
                (S, line("235 2.7.0 Authentication successful")),
            ],
        ),
        (
            110,
            vec![
                (S, line("+OK ready")),
                (C, line("AUTH NTLM")),
                (S, line("+")),
                (C, line(&negotiate)),
                (S, line(&format!("+ {challenge}"))),
                (C, line(&authenticate)),
                (S, line("+OK logged in")),
            ],
        ),
        (
            143,
            vec![
                (S, line("* OK ready")),
                (C, line("a1 AUTHENTICATE NTLM")),
                (S, line("+")),
                (C, line(&negotiate)),
                (S, line(&format!("+ {challenge}"))),
                (C, line(&authenticate)),
                (S, line("a1 OK done")),
            ],
        ),
    ];
    for (port, steps) in cases {
        let file =
            support::write_steps(dir.path(), &format!("ntlm{port}.pcap"), port, &steps, None);
        let (json, _, _) = run(&["--format", "json"], &file);
        let s: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        let a = &s["auth"][0];
        assert_eq!(
            (
                &a["mechanism"],
                &a["username"],
                &a["domain"],
                &a["workstation"]
            ),
            (
                &"NTLM".into(),
                &"alice".into(),
                &"CORP".into(),
                &"WS01".into()
            ),
            "port {port}: {a}"
        );
        assert_eq!(a["password"], "<redacted>", "port {port}");
        assert_eq!(a["success"], true, "port {port}");
        assert!(
            !json.contains(&authenticate),
            "port {port}: the response leaked"
        );
        assert!(
            !json.contains("1111111111"),
            "port {port}: the NT response leaked"
        );
        let (text, _, _) = run(&[], &file);
        assert!(
            text.contains("NTLM as CORP\\alice from WS01"),
            "port {port}:\n{text}"
        );
    }
}

/// A tab between the words of a command must not hide a secret from redaction (review of
/// issue 9): SMTP `AUTH PLAIN<tab>ir`, POP3 `PASS<tab>pw`, IMAP `AUTHENTICATE<tab>PLAIN<tab>ir`.
#[test]
fn a_tab_does_not_hide_a_secret() {
    use mailscope::synth::Side::{Client as C, Server as S};
    let dir = tempfile::tempdir().unwrap();
    type Steps<'a> = Vec<(mailscope::synth::Side, &'a [u8])>;
    let cases: [(u16, Steps); 3] = [
        (
            25,
            vec![
                (S, b"220 mx ESMTP\r\n"),
                (C, b"AUTH PLAIN\tAGJvYgBodW50ZXIy\r\n"),
                (S, b"235 ok\r\n"),
            ],
        ),
        (
            110,
            vec![
                (S, b"+OK ready\r\n"),
                (C, b"USER bob\r\n"),
                (S, b"+OK\r\n"),
                (C, b"PASS\thunter2\r\n"),
                (S, b"+OK\r\n"),
            ],
        ),
        (
            143,
            vec![
                (S, b"* OK ready\r\n"),
                (C, b"a AUTHENTICATE\tPLAIN\tAGJvYgBodW50ZXIy\r\n"),
                (S, b"a OK done\r\n"),
            ],
        ),
    ];
    for (port, steps) in cases {
        let file = support::write_steps(dir.path(), &format!("tab{port}.pcap"), port, &steps, None);
        for format in ["json", "text"] {
            let (out, _, _) = run(&["--format", format], &file);
            assert!(
                !out.contains("hunter2") && !out.contains("AGJvYgBodW50ZXIy"),
                "port {port}, {format}: a secret leaked:\n{out}"
            );
        }
    }
}
