//! Stream transforms (issue 10 item 4): IMAP COMPRESS=DEFLATE is inflated by the pipeline's
//! transform slot, from the byte after the server's OK on (even when the compressed bytes
//! share a segment with it); a hole in a compressed direction stops that direction only,
//! said once with the count of bytes left unread; STARTTLS and implicit TLS are read for the
//! ClientHello by one reader.

mod support;

use mailscope::synth::{Conversation, PcapWriter, Side};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use support::{ip, mailscope};

/// One raw-deflate stream, sync-flushed after each piece (as RFC 4978 peers do).
fn deflate(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    pieces
        .iter()
        .map(|p| {
            z.write_all(p).unwrap();
            z.flush().unwrap();
            std::mem::take(z.get_mut())
        })
        .collect()
}

/// Writes the steps as one connection to port 143, dropping the frames of the steps whose
/// index is in `lose` (a hole the capture missed; the peer's ACK covers it).
fn write(dir: &Path, name: &str, steps: &[(Side, Vec<u8>)], lose: &[usize]) -> PathBuf {
    let mut c = Conversation::new((ip("10.0.0.1"), 40000), (ip("10.0.0.2"), 143), [1, 2]);
    c.handshake();
    for (i, (side, data)) in steps.iter().enumerate() {
        let before = c.frames.len();
        c.send(*side, data);
        if lose.contains(&i) {
            c.frames.truncate(before);
        }
        c.ack(match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
    }
    c.close();
    let file = dir.join(name);
    let mut w = PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    file
}

fn session(file: &Path) -> Value {
    let out = mailscope()
        .arg(file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().next().expect("a session")).unwrap()
}

fn verbs(s: &Value) -> Vec<String> {
    s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["command"]["verb"].as_str().unwrap_or("").to_string())
        .collect()
}

const MESSAGE: &[u8] = b"Subject: inside deflate\r\n\r\nbody\r\n";

fn compressed_session() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let fetch = [
        format!("* 1 FETCH (BODY[] {{{}}}\r\n", MESSAGE.len()).as_bytes(),
        MESSAGE,
        b")\r\nc OK done\r\n",
    ]
    .concat();
    let c = deflate(&[
        b"b SELECT INBOX\r\n",
        b"c FETCH 1 BODY[]\r\n",
        b"d LOGOUT\r\n",
    ]);
    let s = deflate(&[
        b"* 1 EXISTS\r\nb OK [READ-WRITE] selected\r\n",
        &fetch,
        b"* BYE\r\nd OK bye\r\n",
    ]);
    (c, s)
}

/// What a session says, for comparing two captures of it (frames and times apart).
fn gist(s: &Value) -> (Vec<String>, Value, Value, Value) {
    let mut messages = s["messages"].clone();
    for m in messages.as_array_mut().unwrap() {
        let m = m.as_object_mut().unwrap();
        m.remove("frame");
        m.remove("ts");
    }
    (
        verbs(s),
        messages,
        s["mailboxes"].clone(),
        s["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].clone())
            .collect(),
    )
}

#[test]
fn compress_deflate_is_inflated_from_the_byte_after_the_ok_even_in_the_same_segment() {
    let dir = tempfile::tempdir().unwrap();
    // The server speaks first after its OK (an alert), so its first compressed bytes can
    // ride in the OK's own segment.
    let c = deflate(&[
        b"b SELECT INBOX\r\n",
        b"c FETCH 1 BODY[]\r\n",
        b"d LOGOUT\r\n",
    ]);
    let fetch = [
        format!("* 1 FETCH (BODY[] {{{}}}\r\n", MESSAGE.len()).as_bytes(),
        MESSAGE,
        b")\r\nc OK done\r\n",
    ]
    .concat();
    let s = deflate(&[
        b"* OK [ALERT] compressed from here\r\n",
        b"* 1 EXISTS\r\nb OK [READ-WRITE] selected\r\n",
        &fetch,
        b"* BYE\r\nd OK bye\r\n",
    ]);
    let mut ok_and_alert = b"a OK DEFLATE active\r\n".to_vec();
    ok_and_alert.extend_from_slice(&s[0]);
    let tail = [
        (Side::Client, c[0].clone()),
        (Side::Server, s[1].clone()),
        (Side::Client, c[1].clone()),
        (Side::Server, s[2].clone()),
        (Side::Client, c[2].clone()),
        (Side::Server, s[3].clone()),
    ];
    let head = [
        (Side::Server, b"* OK ready\r\n".to_vec()),
        (Side::Client, b"a COMPRESS DEFLATE\r\n".to_vec()),
    ];
    let apart: Vec<_> = head
        .iter()
        .cloned()
        .chain([
            (Side::Server, b"a OK DEFLATE active\r\n".to_vec()),
            (Side::Server, s[0].clone()),
        ])
        .chain(tail.iter().cloned())
        .collect();
    let together: Vec<_> = head
        .iter()
        .cloned()
        .chain([(Side::Server, ok_and_alert)])
        .chain(tail.iter().cloned())
        .collect();
    let apart = session(&write(dir.path(), "apart.pcap", &apart, &[]));
    let together = session(&write(dir.path(), "together.pcap", &together, &[]));
    assert_eq!(gist(&apart), gist(&together));
    let s = together;
    assert_eq!(verbs(&s), ["", "COMPRESS", "", "SELECT", "FETCH", "LOGOUT"]);
    assert!(s["compression"].is_string());
    assert_eq!(
        s["exchanges"][2]["replies"][0]["lines"][0],
        "* OK [ALERT] compressed from here"
    );
    assert_eq!(s["messages"][0]["size"], MESSAGE.len());
    assert_eq!(s["messages"][0]["headers"]["subject"], "inside deflate");
    assert_eq!(s["mailboxes"][0]["exists"], 1);
    assert_eq!(s["anomalies"], Value::Array(vec![]));
}

#[test]
fn a_hole_in_one_compressed_direction_stops_that_direction_only() {
    let dir = tempfile::tempdir().unwrap();
    let (c, sv) = compressed_session();
    let s = &sv;
    let steps = vec![
        (Side::Server, b"* OK ready\r\n".to_vec()),
        (Side::Client, b"a COMPRESS DEFLATE\r\n".to_vec()),
        (Side::Server, b"a OK DEFLATE active\r\n".to_vec()),
        (Side::Client, c[0].clone()),
        (Side::Server, s[0].clone()),
        (Side::Client, c[1].clone()),
        (Side::Server, s[1].clone()),
        (Side::Client, c[2].clone()),
        (Side::Server, s[2].clone()),
    ];
    // The server's SELECT answer is missing: its deflate stream cannot go on.
    let file = write(dir.path(), "hole.pcap", &steps, &[4]);
    let unread = (sv[1].len() + sv[2].len()).to_string();
    let s = session(&file);
    // The client's commands are still read after the hole in the server's direction.
    assert_eq!(verbs(&s), ["", "COMPRESS", "SELECT", "FETCH", "LOGOUT"]);
    let anomalies = s["anomalies"].as_array().unwrap();
    let gaps: Vec<&Value> = anomalies
        .iter()
        .filter(|a| {
            a["detail"]
                .as_str()
                .unwrap()
                .contains("compressed server bytes missing")
        })
        .collect();
    assert_eq!(gaps.len(), 1, "{anomalies:?}");
    assert_eq!(gaps[0]["name"], "gap-in-compressed-stream");
    // The rest of the server's direction is counted, not read.
    assert_eq!(s["unread_bytes"]["server"].to_string(), unread);
    assert_eq!(s["unread_bytes"]["client"], 0);
    assert!(s["messages"].as_array().unwrap().is_empty());
}

#[test]
fn data_that_does_not_inflate_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let steps = vec![
        (Side::Server, b"* OK ready\r\n".to_vec()),
        (Side::Client, b"a COMPRESS DEFLATE\r\n".to_vec()),
        (Side::Server, b"a OK DEFLATE active\r\n".to_vec()),
        (Side::Client, b"\xff\xff\xff\xff not deflate".to_vec()),
        (Side::Client, b"more".to_vec()),
    ];
    let file = write(dir.path(), "corrupt.pcap", &steps, &[]);
    let s = session(&file);
    let names: Vec<&str> = s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["decompression-failed"]);
    // All the client's bytes after the OK were not read: the corrupt ones and the next.
    assert_eq!(s["unread_bytes"]["client"], 16 + 4);
}

/// Writes the steps as one connection to `port` (nothing lost).
fn write_port(dir: &Path, name: &str, port: u16, steps: &[(Side, Vec<u8>)]) -> PathBuf {
    support::write_steps(dir, name, port, steps, None)
}

#[test]
fn the_client_hello_is_read_after_starttls_in_every_protocol_and_on_implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    let hello = mailscope::synth::client_hello("mx.example.net");
    type Steps = Vec<(Side, Vec<u8>)>;
    let cases: [(&str, u16, Steps); 4] = [
        (
            "smtp",
            25,
            vec![
                (Side::Server, b"220 mx ESMTP\r\n".to_vec()),
                (Side::Client, b"EHLO c\r\n".to_vec()),
                (Side::Server, b"250-mx\r\n250 STARTTLS\r\n".to_vec()),
                (Side::Client, b"STARTTLS\r\n".to_vec()),
                (Side::Server, b"220 go ahead\r\n".to_vec()),
            ],
        ),
        (
            "pop3",
            110,
            vec![
                (Side::Server, b"+OK ready\r\n".to_vec()),
                (Side::Client, b"STLS\r\n".to_vec()),
                (Side::Server, b"+OK begin TLS\r\n".to_vec()),
            ],
        ),
        (
            "imap",
            143,
            vec![
                (Side::Server, b"* OK ready\r\n".to_vec()),
                (Side::Client, b"a STARTTLS\r\n".to_vec()),
                (Side::Server, b"a OK begin TLS\r\n".to_vec()),
            ],
        ),
        ("imaps", 993, vec![]),
    ];
    // A client that sends its ClientHello right behind STARTTLS, before the 220: the SMTP
    // dissector holds those bytes and hands them back to the TLS reader.
    let held = [b"STARTTLS\r\n".to_vec(), hello.clone()].concat();
    let smtp_held = (
        "smtp-held",
        25u16,
        vec![
            (Side::Server, b"220 mx ESMTP\r\n".to_vec()),
            (Side::Client, b"EHLO c\r\n".to_vec()),
            (Side::Server, b"250-mx\r\n250 STARTTLS\r\n".to_vec()),
            (Side::Client, held),
            (Side::Server, b"220 go ahead\r\n".to_vec()),
        ],
    );
    for (name, port, mut steps) in cases.into_iter().chain([smtp_held]) {
        if name != "smtp-held" {
            steps.push((Side::Client, hello.clone()));
        }
        steps.push((Side::Server, b"\x16\x03\x03\x00\x02\x02\x00".to_vec()));
        let s = session(&write_port(
            dir.path(),
            &format!("{name}.pcap"),
            port,
            &steps,
        ));
        assert_eq!(s["tls"]["sni"], "mx.example.net", "{name}: {}", s["tls"]);
        let mode = if port == 993 { "implicit" } else { "starttls" };
        assert_eq!(s["tls"]["mode"], mode, "{name}");
        // The TLS bytes are not read as commands or replies.
        assert_eq!(s["anomalies"], Value::Array(vec![]), "{name}");
    }
}

/// Issue 9, "plaintext after STARTTLS": behind a TLS-terminating proxy the bytes after an
/// accepted STARTTLS are cleartext. They are read as text, and the session says so once.
#[test]
fn plaintext_after_starttls_is_read_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let line = |s: &str| format!("{s}\r\n").into_bytes();
    type Steps = Vec<(Side, Vec<u8>)>;
    let message = "Subject: behind a proxy\r\n\r\nhello\r\n";
    let cases: [(&str, u16, Steps, &[&str]); 3] = [
        (
            "smtp",
            25,
            vec![
                (Side::Server, line("220 mx ESMTP")),
                (Side::Client, line("EHLO c")),
                (Side::Server, line("250-mx\r\n250 STARTTLS")),
                (Side::Client, line("STARTTLS")),
                (Side::Server, line("220 go ahead")),
                (Side::Client, line("EHLO c")),
                (Side::Server, line("250 mx")),
                (Side::Client, line("MAIL FROM:<a@example.test>")),
                (Side::Server, line("250 ok")),
                (Side::Client, line("RCPT TO:<b@example.test>")),
                (Side::Server, line("250 ok")),
                (Side::Client, line("DATA")),
                (Side::Server, line("354 go")),
                (Side::Client, format!("{message}.\r\n").into_bytes()),
                (Side::Server, line("250 queued")),
            ],
            &["", "EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "DATA"],
        ),
        (
            "pop3",
            110,
            vec![
                (Side::Server, line("+OK ready")),
                (Side::Client, line("STLS")),
                (Side::Server, line("+OK begin TLS")),
                (Side::Client, line("USER bob")),
                (Side::Server, line("+OK")),
                (Side::Client, line("RETR 1")),
                (Side::Server, format!("+OK\r\n{message}.\r\n").into_bytes()),
            ],
            &["", "STLS", "USER", "RETR"],
        ),
        (
            "imap",
            143,
            vec![
                (Side::Server, line("* OK ready")),
                (Side::Client, line("a STARTTLS")),
                (Side::Server, line("a OK begin TLS")),
                (Side::Client, line("b NOOP")),
                (Side::Server, line("b OK done")),
            ],
            &["", "STARTTLS", "NOOP"],
        ),
    ];
    for (name, port, steps, want) in cases {
        let file = support::write_steps(
            dir.path(),
            &format!("{name}-plain.pcap"),
            port,
            &steps,
            None,
        );
        let s = session(&file);
        assert_eq!(verbs(&s), want, "{name}");
        assert_eq!(s["tls"]["mode"], "starttls", "{name}");
        let names: Vec<&str> = s["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["plaintext-after-starttls"], "{name}");
        if name != "imap" {
            assert_eq!(
                s["messages"][0]["headers"]["subject"], "behind a proxy",
                "{name}"
            );
        }
    }
}

/// Issue 9: `--port 2525=smtps` on a plaintext session looks before it declares TLS.
#[test]
fn a_tls_port_with_plaintext_is_dissected_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let line = |s: &str| format!("{s}\r\n").into_bytes();
    let steps = vec![
        (Side::Server, line("220 mx ESMTP")),
        (Side::Client, line("EHLO c")),
        (Side::Server, line("250 mx")),
        (Side::Client, line("QUIT")),
        (Side::Server, line("221 bye")),
    ];
    let file = write_port(dir.path(), "plain2525.pcap", 2525, &steps);
    let out = mailscope()
        .arg(&file)
        .args(["--format", "json", "--port", "2525=smtps"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let s: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(s["protocol"], "smtp");
    assert_eq!(verbs(&s), ["", "EHLO", "QUIT"]);
    assert!(s["tls"].is_null());
    assert_eq!(s["anomalies"][0]["name"], "plaintext-on-tls-port");
}
