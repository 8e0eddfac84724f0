//! TLS through the whole program: `--tls-keylog` on the TLS samples (made from real
//! clients and servers by samples/make-samples.sh), key logs that are wrong, partial or
//! malformed, embedded secrets, and a STARTTLS downgrade.

mod support;

use mailscope::synth::{Conversation, PcapWriter, Side};
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::*;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// `mailscope FILE --format json ARGS`: the sessions, stderr, exit code.
fn run(file: &Path, args: &[&str]) -> (Vec<Value>, String, i32) {
    let out = mailscope()
        .arg(file)
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let sessions = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "session")
        .collect();
    (
        sessions,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn anomalies(s: &Value) -> Vec<String> {
    s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Verbs of the exchanges inside TLS.
fn inside(s: &Value) -> Vec<String> {
    s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["tls"] == true)
        .filter_map(|e| e["command"]["verb"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_starttls_sample_decrypts_with_its_key_log() {
    let file = sample("smtp-starttls-tls13.pcap");
    let keys = sample("smtp-starttls-tls13.keys");
    let (s, stderr, code) = run(&file, &["--tls-keylog", keys.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let s = &s[0];
    assert_eq!(s["tls"]["decrypted"], true);
    assert_eq!(s["tls"]["version"], "TLS 1.3");
    assert_eq!(s["tls"]["cipher"], "TLS_AES_128_GCM_SHA256");
    assert_eq!(
        inside(s),
        ["EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"],
        "{s}"
    );
    // The exchanges before STARTTLS are not marked; the message is.
    assert!(s["exchanges"][1].get("tls").is_none());
    assert_eq!(s["messages"][0]["tls"], true);
    // The password stays redacted inside TLS too.
    assert_eq!(s["auth"][0]["password"], "<redacted>");
    assert!(anomalies(s).is_empty(), "{s}");
}

#[test]
fn without_a_key_log_what_tls_says_in_clear_and_why_not() {
    let (s, _, code) = run(&sample("pop3-stls-tls12-cbc.pcap"), &[]);
    assert_eq!(code, 0);
    let tls = &s[0]["tls"];
    assert_eq!(tls["decrypted"], false);
    assert_eq!(tls["not_decrypted"], "no key log given (--tls-keylog FILE)");
    assert_eq!(tls["cipher"], "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256");
    assert_eq!(tls["sni"], "mail.example.test");
    // TLS 1.2 sends the certificate in clear.
    assert_eq!(tls["certificates"][0]["subject"], "CN=mail.example.test");
    assert!(tls["encrypted_bytes"]["client"].as_u64().unwrap() > 0);
    assert!(inside(&s[0]).is_empty());
    // No anomaly: no key log was asked for.
    assert!(!anomalies(&s[0]).contains(&"tls-no-key".to_owned()));
    // The text says it in one line.
    let out = mailscope()
        .arg(sample("pop3-stls-tls12-cbc.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("encrypted: ") && text.contains("no key log given (--tls-keylog FILE)"),
        "{text}"
    );
}

#[test]
fn a_key_log_without_the_session_is_tls_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.keys");
    // A well-formed line for another connection.
    std::fs::write(
        &other,
        format!("CLIENT_RANDOM {} {}\n", "11".repeat(32), "22".repeat(48)),
    )
    .unwrap();
    let (s, stderr, code) = run(
        &sample("pop3-stls-tls12-cbc.pcap"),
        &["--tls-keylog", other.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(anomalies(&s[0]), ["tls-no-key"]);
    assert_eq!(
        s[0]["tls"]["not_decrypted"],
        "no key in the key log for this session"
    );
}

#[test]
fn a_wrong_key_is_tls_decrypt_failed_and_nothing_is_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let keys = std::fs::read_to_string(sample("pop3-stls-tls12-cbc.keys")).unwrap();
    // The same client random, another master secret.
    let wrong: String = keys
        .lines()
        .map(|l| match l.split(' ').collect::<Vec<_>>()[..] {
            ["CLIENT_RANDOM", r, _] => format!("CLIENT_RANDOM {r} {}\n", "ab".repeat(48)),
            _ => format!("{l}\n"),
        })
        .collect();
    let file = dir.path().join("wrong.keys");
    std::fs::write(&file, wrong).unwrap();
    let (s, _, code) = run(
        &sample("pop3-stls-tls12-cbc.pcap"),
        &["--tls-keylog", file.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    let a = anomalies(&s[0]);
    assert_eq!(
        a.iter().filter(|n| *n == "tls-decrypt-failed").count(),
        2,
        "one per direction: {a:?}"
    );
    assert!(inside(&s[0]).is_empty());
    assert_eq!(s[0]["tls"]["decrypted"], false);
}

#[test]
fn malformed_key_log_lines_are_skipped_by_number_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let keys = std::fs::read_to_string(sample("smtp-starttls-tls13.keys")).unwrap();
    let secret = "cd".repeat(40);
    let file = dir.path().join("messy.keys");
    std::fs::write(
        &file,
        format!(
            "NOT_A_LABEL {} {secret}\nCLIENT_RANDOM short {secret}\n{keys}",
            "00".repeat(32)
        ),
    )
    .unwrap();
    let (s, stderr, code) = run(
        &sample("smtp-starttls-tls13.pcap"),
        &["--tls-keylog", file.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert!(
        stderr.contains("line 1: ") && stderr.contains("line 2: "),
        "{stderr}"
    );
    assert!(!stderr.contains(&secret[..16]), "{stderr}");
    // The good lines still decrypt.
    assert_eq!(s[0]["tls"]["decrypted"], true);
}

#[test]
fn a_missing_key_log_file_is_an_error_naming_it() {
    let (_, stderr, code) = run(
        &sample("smtp-starttls-tls13.pcap"),
        &["--tls-keylog", "/nonexistent/keys.txt"],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--tls-keylog /nonexistent/keys.txt"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn secrets_embedded_in_a_pcapng_are_used_without_the_flag() {
    let (s, _, code) = run(&sample("imaps-tls12.pcapng"), &[]);
    assert_eq!(code, 0);
    let s = &s[0];
    assert_eq!(s["tls"]["mode"], "implicit");
    assert_eq!(s["tls"]["decrypted"], true);
    assert_eq!(
        inside(s),
        ["CAPABILITY", "LOGIN", "SELECT", "FETCH", "LOGOUT"]
    );
    assert_eq!(s["messages"][0]["tls"], true);
}

/// A capture of one SMTP session on 587 from the given lines (client and server in turn).
fn smtp_capture(dir: &Path, lines: &[(Side, &str)]) -> PathBuf {
    let mut c = Conversation::new(
        ("10.0.0.1".parse().unwrap(), 40001),
        ("10.0.0.2".parse().unwrap(), 587),
        [1, 1],
    );
    c.handshake();
    for (side, line) in lines {
        c.send(*side, line.as_bytes());
    }
    c.close();
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    let file = dir.join("smtp.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();
    file
}

#[test]
fn credentials_in_clear_after_a_refused_starttls_are_a_downgrade() {
    let dir = tempfile::tempdir().unwrap();
    let session = |starttls_reply: &str| {
        vec![
            (Side::Server, "220 mx ESMTP\r\n".to_owned()),
            (Side::Client, "EHLO c\r\n".to_owned()),
            (
                Side::Server,
                "250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n".to_owned(),
            ),
            (Side::Client, "STARTTLS\r\n".to_owned()),
            (Side::Server, format!("{starttls_reply}\r\n")),
            (
                Side::Client,
                "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n".to_owned(),
            ),
            (Side::Server, "235 ok\r\n".to_owned()),
            (Side::Client, "QUIT\r\n".to_owned()),
            (Side::Server, "221 bye\r\n".to_owned()),
        ]
    };
    let refused = session("454 4.7.0 TLS not available");
    let lines: Vec<(Side, &str)> = refused.iter().map(|(s, l)| (*s, l.as_str())).collect();
    let (s, _, _) = run(&smtp_capture(dir.path(), &lines), &[]);
    assert!(
        anomalies(&s[0]).contains(&"tls-downgrade".to_owned()),
        "{:?}",
        anomalies(&s[0])
    );
    // No STARTTLS attempted: no downgrade said (the definition: offered, refused).
    let plain: Vec<(Side, &str)> = lines
        .iter()
        .filter(|(_, l)| !l.starts_with("STARTTLS") && !l.starts_with("454"))
        .copied()
        .collect();
    let (s, _, _) = run(&smtp_capture(dir.path(), &plain), &[]);
    assert!(!anomalies(&s[0]).contains(&"tls-downgrade".to_owned()));
}

/// A TLS connection made by `synth::tls_script` around `clear` (TLS 1.3), on `port`: the
/// capture and its key log.
fn tls_capture(dir: &Path, port: u16, clear: &[(Side, Vec<u8>)]) -> (PathBuf, PathBuf) {
    let (script, keys) =
        mailscope::synth::tls_script(7, mailscope::synth::TlsVersion::Tls13, "mx.test", clear);
    let mut c = Conversation::new(
        ("10.0.0.1".parse().unwrap(), 40002),
        ("10.0.0.2".parse().unwrap(), port),
        [1, 1],
    );
    c.handshake();
    for (side, bytes) in &script {
        c.send(*side, bytes);
    }
    c.close();
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    let (file, keylog) = (dir.join(format!("tls{port}.pcap")), dir.join("tls.keys"));
    std::fs::write(&file, w.into_inner()).unwrap();
    std::fs::write(&keylog, keys).unwrap();
    (file, keylog)
}

#[test]
fn imap_compress_inside_tls_is_inflated_after_the_decryption() {
    use flate2::{Compress, Compression, FlushCompress};
    let deflate = |text: &[u8]| {
        // One raw deflate stream per direction would keep its state; each side sends one
        // burst here, flushed so it can be read at once.
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(text.len() + 64);
        c.compress_vec(text, &mut out, FlushCompress::Sync).unwrap();
        out
    };
    let clear = vec![
        (Side::Server, b"* OK ready\r\n".to_vec()),
        (Side::Client, b"a1 LOGIN alice secret\r\n".to_vec()),
        (Side::Server, b"a1 OK logged in\r\n".to_vec()),
        (Side::Client, b"a2 COMPRESS DEFLATE\r\n".to_vec()),
        (Side::Server, b"a2 OK DEFLATE active\r\n".to_vec()),
        (Side::Client, deflate(b"a3 SELECT INBOX\r\na4 LOGOUT\r\n")),
        (
            Side::Server,
            deflate(b"* 2 EXISTS\r\na3 OK [READ-WRITE] done\r\n* BYE\r\na4 OK bye\r\n"),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (file, keys) = tls_capture(dir.path(), 993, &clear);
    let (s, stderr, code) = run(&file, &["--tls-keylog", keys.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let s = &s[0];
    assert_eq!(s["tls"]["decrypted"], true);
    assert_eq!(inside(s), ["LOGIN", "COMPRESS", "SELECT", "LOGOUT"], "{s}");
    assert_eq!(s["exchanges"][3]["status"], "OK", "{s}");
    assert!(anomalies(s).is_empty(), "{:?}", anomalies(s));
}

#[test]
fn tls_on_an_unmapped_port_is_dissected_by_what_is_inside() {
    let clear = vec![
        (Side::Server, b"220 mx.test ESMTP\r\n".to_vec()),
        (Side::Client, b"EHLO c.test\r\n".to_vec()),
        (Side::Server, b"250 mx.test\r\n".to_vec()),
        (Side::Client, b"QUIT\r\n".to_vec()),
        (Side::Server, b"221 bye\r\n".to_vec()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (file, keys) = tls_capture(dir.path(), 2465, &clear);
    let (s, stderr, code) = run(
        &file,
        &["--all-ports", "--tls-keylog", keys.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    let s = &s[0];
    assert_eq!(s["protocol"], "smtp", "{s}");
    assert_eq!(s["tls"]["mode"], "implicit");
    assert_eq!(inside(s), ["EHLO", "QUIT"], "{s}");
}
