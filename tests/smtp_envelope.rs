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

/// The frames of a little-endian Ethernet pcap: the file header, then each record whole.
fn frames(pcap: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(&pcap[at..at + 16 + len]);
        at += 16 + len;
    }
    (&pcap[..24], out)
}

/// A record's TCP source port and payload (Ethernet, IPv4).
fn tcp(record: &[u8]) -> (u16, &[u8]) {
    let ip = &record[16 + 14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = &ip[ihl..total];
    let doff = usize::from(tcp[12] >> 4) * 4;
    (u16::from_be_bytes([tcp[0], tcp[1]]), &tcp[doff..])
}

/// Issue 9 "Greeting missing or client first", on a real Postfix session: the capture
/// picked up at every frame, and the same with the client's first data before the
/// greeting (a client that does not wait for it). No false pairing anomalies; the message is decoded whenever its DATA is in.
#[test]
fn every_cut_of_a_postfix_session_pairs_replies_by_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/smtp-attachment.pcap"
    ))
    .unwrap();
    let (header, all) = frames(&pcap);
    let data_at = all
        .iter()
        .position(|f| tcp(f).1.starts_with(b"DATA\r\n"))
        .expect("a DATA command");
    let rcpt_at = all
        .iter()
        .position(|f| tcp(f).1.starts_with(b"RCPT "))
        .expect("a RCPT command");
    for cut in 0..all.len() {
        let kept: Vec<&[u8]> = all[cut..].to_vec();
        let mut client_first = kept.clone();
        let carrying = |f: &&[u8], client: bool| {
            let (port, payload) = tcp(f);
            !payload.is_empty() && (port != 25) == client
        };
        if let (Some(c), Some(s)) = (
            client_first.iter().position(|f| carrying(f, true)),
            client_first.iter().position(|f| carrying(f, false)),
        ) && s < c
            && tcp(client_first[s]).1.starts_with(b"220 ")
        {
            let f = client_first.remove(c);
            client_first.insert(s, f);
        }
        for (variant, frames) in [("cut", kept), ("client first", client_first)] {
            let file = dir.path().join("cut.pcap");
            let mut bytes = header.to_vec();
            frames.iter().for_each(|f| bytes.extend_from_slice(f));
            std::fs::write(&file, bytes).unwrap();
            let out = support::mailscope()
                .arg(&file)
                .args(["--format", "json"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{variant} at frame {cut}");
            let session = out
                .stdout
                .split(|&b| b == b'\n')
                .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
                .find(|v| v["type"] == "session");
            let Some(s) = session else {
                assert!(cut > data_at, "{variant} at frame {cut}: no session");
                continue;
            };
            let bad: Vec<&Value> = s["anomalies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| {
                    matches!(
                        a["name"].as_str(),
                        Some("data-after-rejected-data" | "reply-without-command")
                    )
                })
                .collect();
            assert!(bad.is_empty(), "{variant} at frame {cut}: {bad:?}");
            if cut <= data_at {
                let m = &s["messages"][0];
                assert_eq!(
                    m["headers"]["subject"], "Quarterly report",
                    "{variant} at {cut}"
                );
                if cut <= rcpt_at {
                    let want = serde_json::json!(["alice@example.test"]);
                    assert_eq!(m["rcpt_to"], want, "{variant} at {cut}");
                }
            }
        }
    }
}

/// The sample made with real Postfix (samples/pipelined-bdat.py): MAIL, two RCPT (the second
/// refused with 550) and `BDAT 137 LAST` with its chunk in one write, lower-case verbs.
#[test]
fn the_postfix_pipelined_bdat_sample_keeps_its_envelope() {
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/smtp-pipelined-bdat.pcap");
    let out = support::mailscope()
        .arg(&file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let s: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let m = &s["messages"][0];
    assert_eq!(m["origin"], "smtp-bdat");
    assert_eq!(m["mail_from"], "carol@example.net");
    assert_eq!(m["rcpt_to"], serde_json::json!(["alice@example.test"]));
    assert_eq!(m["headers"]["subject"], "pipelined BDAT");
    assert_eq!(s["anomalies"], serde_json::json!([]));
    let raw: Vec<&str> = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["command"]["raw"].as_str())
        .collect();
    assert_eq!(
        raw,
        [
            "ehlo client.example.test",
            "mail FROM:<carol@example.net>",
            "rcpt TO:<alice@example.test>",
            "rcpt TO:<nobody@example.test>",
            "BDAT 137 LAST",
            "quit"
        ]
    );
}
