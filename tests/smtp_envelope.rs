//! SMTP envelopes through the whole pipeline (issue 9): a client with PIPELINING and
//! CHUNKING sends MAIL, RCPT, `BDAT n LAST` and the chunk in one write, the next MAIL
//! right behind it, and speaks before the greeting; the JSON keeps each message's own
//! sender and the recipients the server accepted.

mod support;

use mailscope::synth::Side;
use serde_json::Value;

#[test]
fn pipelined_bdat_last_and_client_first_keep_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let steps: Vec<(Side, &[u8])> = vec![
        (Side::Client, b"EHLO c.example.test\r\n"),
        (Side::Server, b"220 mx ESMTP Postfix\r\n"),
        (Side::Server, b"250-mx\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n"),
        (
            Side::Client,
            b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<x@example.test>\r\nBDAT 16 LAST\r\nSubject: one\r\n\r\nMAIL FROM:<c@example.test>\r\nRCPT TO:<d@example.test>\r\nBDAT 16 LAST\r\nSubject: two\r\n\r\n",
        ),
        (
            Side::Server,
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <x@example.test>: rejected\r\n250 2.0.0 Ok: queued\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued\r\n",
        ),
        (Side::Client, b"QUIT\r\n"),
        (Side::Server, b"221 2.0.0 Bye\r\n"),
    ];
    let file = support::write_steps(dir.path(), "s.pcap", 25, &steps, None);
    let out = support::mailscope()
        .arg(&file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s: Value =
        serde_json::from_slice(out.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    let m = s["messages"].as_array().unwrap();
    assert_eq!(m.len(), 2, "{s}");
    assert_eq!(m[0]["mail_from"], "a@example.test");
    assert_eq!(m[0]["rcpt_to"], serde_json::json!(["b@example.test"]));
    assert_eq!(m[0]["headers"]["subject"], "one");
    assert_eq!(m[1]["mail_from"], "c@example.test");
    assert_eq!(m[1]["rcpt_to"], serde_json::json!(["d@example.test"]));
    let names: Vec<&str> = s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(!names.contains(&"reply-without-command"), "{names:?}");
}
