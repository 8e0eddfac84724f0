//! One-sided captures (issue 8 item 3): asymmetric routing or a one-way SPAN port gives only
//! one direction of a connection. The side that was seen is decoded, messages included, and
//! the session says it is one-sided.

mod support;

use mailscope::synth::{Conversation, PcapWriter, Side};
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{ip, mailscope};

/// Writes the frames one side sent.
fn one_side(dir: &Path, name: &str, port: u16, steps: &[(Side, &[u8])], keep: Side) -> PathBuf {
    support::write_steps(dir, name, port, steps, Some(keep))
}

fn run(file: &Path, format: &str) -> String {
    let out = mailscope()
        .arg(file)
        .args(["--format", format])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn session(file: &Path) -> Value {
    serde_json::from_str(run(file, "json").lines().next().expect("a session")).unwrap()
}

const MESSAGE_1: &[u8] =
    b"From: a@example.test\r\nTo: b@example.test\r\nSubject: first\r\n\r\nHello.\r\n";
const MESSAGE_2: &[u8] = b"From: a@example.test\r\nSubject: second\r\n\r\n..dot-stuffed\r\n";

#[test]
fn client_only_smtp_decodes_every_message_with_the_envelope_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let mut data1 = MESSAGE_1.to_vec();
    data1.extend_from_slice(b".\r\n");
    let mut data2 = MESSAGE_2.to_vec();
    data2.extend_from_slice(b".\r\n");
    let steps: Vec<(Side, &[u8])> = vec![
        (Side::Server, b"220 mx ESMTP\r\n"),
        (Side::Client, b"EHLO c.example.test\r\n"),
        (Side::Server, b"250-mx\r\n250 PIPELINING\r\n"),
        (Side::Client, b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n"),
        (Side::Server, b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
        (Side::Client, &data1),
        (Side::Server, b"250 queued\r\n"),
        (Side::Client, b"MAIL FROM:<a@example.test>\r\nRCPT TO:<d@example.test>\r\nDATA\r\n"),
        (Side::Server, b"250 ok\r\n250 ok\r\n354 go\r\n"),
        (Side::Client, &data2),
        (Side::Server, b"250 queued\r\n"),
        (Side::Client, b"QUIT\r\n"),
        (Side::Server, b"221 bye\r\n"),
    ];
    let file = one_side(dir.path(), "client.pcap", 25, &steps, Side::Client);
    let s = session(&file);
    assert_eq!(s["protocol"], "smtp");
    assert_eq!(s["one_sided"], "client");
    let m = s["messages"].as_array().unwrap();
    assert_eq!(m.len(), 2, "{}", s["messages"]);
    assert_eq!(m[0]["headers"]["subject"], "first");
    assert_eq!(m[0]["mail_from"], "a@example.test");
    assert_eq!(
        m[0]["rcpt_to"],
        serde_json::json!(["b@example.test", "c@example.test"])
    );
    assert_eq!(m[0]["size"], MESSAGE_1.len());
    assert_eq!(m[1]["headers"]["subject"], "second");
    assert_eq!(m[1]["rcpt_to"], serde_json::json!(["d@example.test"]));
    assert_eq!(m[1]["size"], MESSAGE_2.len() - 1, "dot-unstuffed");
    let verbs: Vec<&str> = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["command"]["verb"].as_str())
        .collect();
    assert_eq!(
        verbs,
        [
            "EHLO", "MAIL", "RCPT", "RCPT", "DATA", "MAIL", "RCPT", "DATA", "QUIT"
        ]
    );
    let text = run(&file, "text");
    assert!(text.contains("one-sided"), "{text}");
    assert!(text.contains("acceptance unknown"), "{text}");
}

#[test]
fn server_only_pop3_decodes_retrieved_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut retr = format!("+OK {} octets\r\n", MESSAGE_1.len()).into_bytes();
    retr.extend_from_slice(MESSAGE_1);
    retr.extend_from_slice(b".\r\n");
    let steps: Vec<(Side, &[u8])> = vec![
        (Side::Server, b"+OK Dovecot ready.\r\n"),
        (Side::Client, b"USER alice\r\n"),
        (Side::Server, b"+OK\r\n"),
        (Side::Client, b"PASS secret\r\n"),
        (Side::Server, b"+OK Logged in.\r\n"),
        (Side::Client, b"LIST\r\n"),
        (Side::Server, b"+OK 1 messages:\r\n1 88\r\n.\r\n"),
        (Side::Client, b"RETR 1\r\n"),
        (Side::Server, &retr),
        (Side::Client, b"QUIT\r\n"),
        (Side::Server, b"+OK Logging out.\r\n"),
    ];
    let file = one_side(dir.path(), "server.pcap", 110, &steps, Side::Server);
    let s = session(&file);
    assert_eq!(s["protocol"], "pop3");
    assert_eq!(s["one_sided"], "server");
    let m = s["messages"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{}", s);
    assert_eq!(m[0]["origin"], "pop3-retr");
    assert_eq!(m[0]["headers"]["subject"], "first");
    assert_eq!(m[0]["size"], MESSAGE_1.len());
    // The listing is not taken for a message.
    let codes: Vec<&str> = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["+OK"; 6]);
}

#[test]
fn server_only_imap_decodes_fetched_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut fetch = format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", MESSAGE_1.len()).into_bytes();
    fetch.extend_from_slice(MESSAGE_1);
    fetch.extend_from_slice(b")\r\na3 OK Fetch completed.\r\n");
    let steps: Vec<(Side, &[u8])> = vec![
        (Side::Server, b"* OK [CAPABILITY IMAP4rev1] ready\r\n"),
        (Side::Client, b"a1 LOGIN alice secret\r\n"),
        (Side::Server, b"a1 OK Logged in\r\n"),
        (Side::Client, b"a2 SELECT INBOX\r\n"),
        (
            Side::Server,
            b"* 1 EXISTS\r\na2 OK [READ-WRITE] Select completed.\r\n",
        ),
        (Side::Client, b"a3 UID FETCH 7 (BODY.PEEK[])\r\n"),
        (Side::Server, &fetch),
    ];
    let file = one_side(dir.path(), "server.pcap", 143, &steps, Side::Server);
    let s = session(&file);
    assert_eq!(s["protocol"], "imap");
    assert_eq!(s["one_sided"], "server");
    let m = s["messages"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{}", s);
    assert_eq!(m[0]["origin"], "imap-fetch");
    assert_eq!(m[0]["headers"]["subject"], "first");
}

/// A large message from a client-only capture is decoded as it streams (the bytes after
/// DATA are not held for a 354 that never comes), with its exact size and hash.
#[test]
fn client_only_large_message_streams_with_exact_hash() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let mut message = b"From: a@example.test\r\nSubject: big\r\n\r\n".to_vec();
    for i in 0..6000 {
        message.extend(format!("line {i:05} of a long message body, long enough\r\n").bytes());
    }
    let mut data = message.clone();
    data.extend_from_slice(b".\r\nQUIT\r\n");
    let steps: Vec<(Side, &[u8])> = vec![
        (
            Side::Client,
            b"EHLO c\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
        ),
        (Side::Client, &data),
    ];
    let file = one_side(dir.path(), "big.pcap", 587, &steps, Side::Client);
    let s = session(&file);
    let m = &s["messages"][0];
    assert_eq!(m["size"], message.len());
    assert_eq!(m["sha256"], hex::encode(sha2::Sha256::digest(&message)));
    assert_eq!(m["headers"]["subject"], "big");
    assert_eq!(
        s["exchanges"].as_array().unwrap().last().unwrap()["command"]["verb"],
        "QUIT"
    );
}

/// Bytes a client sends before the go-ahead it should wait for are held only so far (64 KiB):
/// an IMAP APPEND with a synchronising literal from a client-only capture is still a message.
#[test]
fn client_only_imap_append_with_a_synchronising_literal_is_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut append = format!("a2 APPEND INBOX {{{}}}\r\n", MESSAGE_1.len()).into_bytes();
    let mut rest = MESSAGE_1.to_vec();
    rest.extend_from_slice(b"\r\na3 LOGOUT\r\n");
    append.extend_from_slice(&rest);
    let steps: Vec<(Side, &[u8])> = vec![
        (Side::Client, b"a1 LOGIN alice secret\r\n"),
        (Side::Client, &append),
    ];
    let file = one_side(dir.path(), "append.pcap", 143, &steps, Side::Client);
    let s = session(&file);
    assert_eq!(s["one_sided"], "client");
    let m = s["messages"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{s}");
    assert_eq!(m[0]["origin"], "imap-append");
    assert_eq!(m[0]["headers"]["subject"], "first");
}

/// A client that sends a large message without waiting for 354 (both sides captured): the
/// content is read as the message once 64 KiB are held, and the late 354 starts nothing.
#[test]
fn smtp_client_not_waiting_for_354_still_gives_the_message() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let mut message = b"Subject: eager\r\n\r\n".to_vec();
    while message.len() < 200_000 {
        message.extend_from_slice(b"a line of the message body that goes on and on\r\n");
    }
    let mut data = b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n".to_vec();
    data.extend_from_slice(&message);
    data.extend_from_slice(b".\r\n");
    let steps: Vec<(Side, &[u8])> = vec![
        (Side::Server, b"220 mx ESMTP\r\n"),
        (Side::Client, &data),
        (
            Side::Server,
            b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
        ),
        (Side::Client, b"QUIT\r\n"),
        (Side::Server, b"221 bye\r\n"),
    ];
    let file = dir.path().join("eager.pcap");
    let mut c = Conversation::new((ip("10.0.0.1"), 40000), (ip("10.0.0.2"), 25), [1, 2]);
    c.handshake();
    for (side, d) in &steps {
        c.send(*side, d);
    }
    c.close();
    let mut w = PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    drop(w);
    let s = session(&file);
    assert!(s.get("one_sided").is_none());
    let m = &s["messages"][0];
    assert_eq!(m["sha256"], hex::encode(sha2::Sha256::digest(&message)));
    assert_eq!(m["rcpt_to"], serde_json::json!(["c@d"]));
    let data_ex = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["command"]["verb"] == "DATA")
        .unwrap();
    assert_eq!(data_ex["status"], "250");
    assert_eq!(
        s["exchanges"].as_array().unwrap().last().unwrap()["status"],
        "221"
    );
}

/// Many DATA commands in large segments that nobody answers: read as messages without a
/// nested call per DATA (this once overflowed the stack).
#[test]
fn unanswered_data_commands_in_large_segments_do_not_nest() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n".to_vec();
    data.extend(b".\r\nDATA\r\n".repeat(20_000));
    let mut c = Conversation::new((ip("10.0.0.1"), 40000), (ip("10.0.0.2"), 25), [1, 2]);
    c.mss = 65_000;
    c.handshake();
    c.send(Side::Client, &data);
    c.close();
    let file = dir.path().join("deep.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
    for f in c.frames.iter().filter(|f| f.data[26..30] == [10, 0, 0, 1]) {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    drop(w);
    let s = session(&file);
    let kept = s["messages"].as_array().unwrap().len() as u64;
    let omitted = s["messages_omitted"]["count"].as_u64().unwrap_or(0);
    assert_eq!(kept + omitted, 20_000, "every DATA's content is a message");
}
