//! Hostile captures of one connection each (issue 8 item 1): every per-session collection
//! stays within its `Limits`, what is past a limit is counted and reported, and messages
//! keep their exact size and SHA-256 when a memory budget stops them being kept.

mod support;

use mailscope::limits::Limits;
use mailscope::pipeline::{InputConfig, SessionsConfig, sessions};
use mailscope::synth::Side;
use serde_json::Value;
use std::path::Path;

/// Runs the main job with `limits`; returns each session as JSON.
fn run(file: &Path, limits: Limits, all_ports: bool) -> Vec<Value> {
    let cfg = SessionsConfig {
        threads: 2,
        ..SessionsConfig::new(InputConfig {
            all_ports,
            limits,
            ..InputConfig::files(vec![file.to_string_lossy().into_owned()])
        })
    };
    let mut out = Vec::new();
    let mut sink = |s: mailscope::session::Session| {
        out.push(serde_json::to_value(&s).unwrap());
        Ok(())
    };
    let outcome = sessions(&cfg, &mut sink, &mut |_| {}).unwrap();
    assert!(outcome.error.is_none());
    out
}

/// Writes one connection: `steps` of (side, bytes), each acknowledged.
fn capture(dir: &Path, name: &str, port: u16, steps: &[(Side, Vec<u8>)]) -> std::path::PathBuf {
    support::write_steps(dir, name, port, steps, None)
}

fn anomalies<'a>(s: &'a Value, name: &str) -> Vec<&'a Value> {
    s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == name)
        .collect()
}

/// The `limit-reached` anomaly for `limit`, with its count.
fn limit_count(s: &Value, limit: &str) -> u64 {
    let hits: Vec<_> = anomalies(s, "limit-reached")
        .into_iter()
        .filter(|a| a["detail"].as_str().unwrap().starts_with(limit))
        .collect();
    assert_eq!(hits.len(), 1, "one {limit} report in {:?}", s["anomalies"]);
    hits[0]["count"].as_u64().expect("a count")
}

#[test]
fn smtp_client_sending_bare_lines_is_counted_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let lines = 300_000;
    let file = capture(
        dir.path(),
        "x.pcap",
        25,
        &[
            (Side::Server, b"220 mx ESMTP\r\n".to_vec()),
            (Side::Client, b"X\n".repeat(lines)),
        ],
    );
    let s = &run(&file, Limits::default(), false)[0];
    let kept = s["exchanges"].as_array().unwrap().len();
    let omitted = s["exchanges_omitted"]["count"].as_u64().unwrap();
    // The greeting and every line: kept or counted, never lost.
    assert_eq!(kept as u64 + omitted, lines as u64 + 1);
    assert!(kept <= 10_000 + 256, "{kept} exchanges kept");
    assert_eq!(s["exchanges_omitted"]["verbs"]["X"], omitted);
    assert_eq!(anomalies(s, "unknown-command").len(), 100);
    assert_eq!(
        limit_count(s, "max-anomalies: 299900 more \"unknown-command\""),
        lines as u64 - 100
    );
    assert_eq!(limit_count(s, "max-exchanges"), omitted);
    // Nobody answered: at most 1000 commands wait, the older ones stop waiting.
    assert_eq!(limit_count(s, "max-in-flight"), lines as u64 - 1000);
}

#[test]
fn smtp_server_sending_bare_lines_is_counted_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let lines = 300_000;
    let mut server = b"220 mx ESMTP\r\n".to_vec();
    server.extend(b"x\n".repeat(lines));
    let file = capture(
        dir.path(),
        "x.pcap",
        25,
        &[(Side::Server, server), (Side::Client, b"QUIT\r\n".to_vec())],
    );
    let s = &run(&file, Limits::default(), false)[0];
    assert_eq!(anomalies(s, "malformed-reply").len(), 100);
    assert_eq!(
        limit_count(s, "max-anomalies: 299900 more \"malformed-reply\""),
        lines as u64 - 100
    );
}

#[test]
fn smtp_multiline_reply_and_recipients_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut ehlo = b"220 mx ESMTP\r\n".to_vec();
    for _ in 0..5_000 {
        ehlo.extend_from_slice(b"250-EXTENSION\r\n");
    }
    ehlo.extend_from_slice(b"250 LAST\r\n");
    let rcpts = 3_000;
    let mut steps = vec![
        (Side::Server, b"220 mx ESMTP\r\n".to_vec()),
        (Side::Client, b"EHLO c\r\n".to_vec()),
        (Side::Server, ehlo[14..].to_vec()),
        (Side::Client, b"MAIL FROM:<a@example.test>\r\n".to_vec()),
        (Side::Server, b"250 ok\r\n".to_vec()),
    ];
    // Pipelined in batches of 100, as a client with PIPELINING would.
    for batch in 0..rcpts / 100 {
        let rcpt: Vec<u8> = (0..100)
            .flat_map(|i| format!("RCPT TO:<r{}@example.test>\r\n", batch * 100 + i).into_bytes())
            .collect();
        steps.push((Side::Client, rcpt));
        steps.push((Side::Server, b"250 ok\r\n".repeat(100)));
    }
    steps.extend([
        (Side::Client, b"DATA\r\n".to_vec()),
        (Side::Server, b"354 go\r\n".to_vec()),
        (Side::Client, b"Subject: hi\r\n\r\nbody\r\n.\r\n".to_vec()),
        (Side::Server, b"250 queued\r\n".to_vec()),
    ]);
    let file = capture(dir.path(), "x.pcap", 25, &steps);
    let s = &run(&file, Limits::default(), false)[0];
    let ehlo_reply = &s["exchanges"][1]["replies"][0]["lines"];
    assert_eq!(ehlo_reply.as_array().unwrap().len(), 1_000);
    assert_eq!(ehlo_reply[999], "250 LAST", "the final line is kept");
    assert!(limit_count(s, "max-reply-lines") >= 4_000);
    assert_eq!(s["capabilities"].as_array().unwrap().len(), 999);
    let m = &s["messages"][0];
    assert_eq!(m["rcpt_to"].as_array().unwrap().len(), 1_000);
    assert_eq!(limit_count(s, "max-recipients"), rcpts - 1_000);
}

#[test]
fn imap_multiappend_chain_of_tiny_literals_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let literals = 200_000;
    let mut client = b"a1 APPEND INBOX {1+}\r\nX".to_vec();
    for _ in 1..literals {
        client.extend_from_slice(b" {1+}\r\nX");
    }
    client.extend_from_slice(b"\r\n");
    let file = capture(
        dir.path(),
        "x.pcap",
        143,
        &[
            (Side::Server, b"* OK IMAP4rev1 ready\r\n".to_vec()),
            (Side::Client, client),
            (Side::Server, b"a1 OK APPEND completed\r\n".to_vec()),
        ],
    );
    let s = &run(&file, Limits::default(), false)[0];
    // The literals past the line's bounds are framed exactly (the completion still pairs
    // with the command) but not kept.
    let messages = s["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1_000);
    assert!(messages.iter().all(|m| m["size"] == 1));
    assert_eq!(s["exchanges"][1]["status"], "OK");
    assert_eq!(limit_count(s, "max-imap-line"), 1);
}

#[test]
fn one_way_stream_on_another_port_is_not_buffered_for_sniffing() {
    let dir = tempfile::tempdir().unwrap();
    let file = capture(
        dir.path(),
        "x.pcap",
        9999,
        &[(Side::Client, support::bytes(3 << 20, 7))],
    );
    assert!(run(&file, Limits::default(), true).is_empty());
}

#[test]
fn messages_per_session_past_the_limit_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut steps = vec![(Side::Server, b"+OK ready\r\n".to_vec())];
    for i in 0..30 {
        steps.push((Side::Client, format!("RETR {i}\r\n").into_bytes()));
        steps.push((
            Side::Server,
            format!("+OK\r\nSubject: {i}\r\n\r\nbody {i}\r\n.\r\n").into_bytes(),
        ));
    }
    let file = capture(dir.path(), "x.pcap", 110, &steps);
    let limits = Limits {
        max_messages: 10,
        ..Limits::default()
    };
    let s = &run(&file, limits, false)[0];
    assert_eq!(s["messages"].as_array().unwrap().len(), 10);
    assert_eq!(s["messages_omitted"]["count"], 20);
    assert_eq!(limit_count(s, "max-messages"), 20);
}

/// Past the budget for message bytes held over all open sessions, the largest messages in
/// flight stop keeping bytes: they say so, and their size and SHA-256 stay exact.
#[test]
fn global_message_budget_sheds_the_largest_and_keeps_hashes_exact() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.pcap");
    mailscope::synth::write_mail_traffic(std::fs::File::create(&file).unwrap(), 8 << 20, 24, false)
        .unwrap();
    let free = run(&file, Limits::default(), false);
    let tight = run(
        &file,
        Limits {
            max_held_messages: 1 << 20,
            ..Limits::default()
        },
        false,
    );
    assert_eq!(free.len(), tight.len());
    let (mut shed, mut decoded) = (0, 0);
    for (a, b) in free.iter().zip(&tight) {
        let (ma, mb) = (
            a["messages"].as_array().unwrap(),
            b["messages"].as_array().unwrap(),
        );
        assert_eq!(ma.len(), mb.len());
        for (x, y) in ma.iter().zip(mb) {
            assert_eq!(x["size"], y["size"]);
            assert_eq!(x["sha256"], y["sha256"]);
            assert!(x.get("not_decoded").is_none());
            match y.get("not_decoded") {
                Some(why) => {
                    assert!(why.as_str().unwrap().contains("--max-held-messages"));
                    assert_eq!(y["parts"], serde_json::json!([]));
                    shed += 1;
                }
                None => {
                    assert_eq!(x["parts"], y["parts"]);
                    decoded += 1;
                }
            }
        }
    }
    assert!(shed > 0 && decoded > 0, "{shed} shed, {decoded} decoded");
    let reported: u64 = tight
        .iter()
        .filter(|s| {
            s["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m.get("not_decoded").is_some())
        })
        .map(|s| limit_count(s, "max-held-messages"))
        .sum();
    assert_eq!(
        reported, shed,
        "each session says how many of its messages were let go"
    );
}

/// Exchanges that carry messages are kept past the exchange limit only up to as many again:
/// a session of endless tiny messages stays bounded too.
#[test]
fn exchanges_carrying_messages_are_bounded_too() {
    let dir = tempfile::tempdir().unwrap();
    let n = 5_000;
    let mut steps = vec![
        (Side::Server, b"220 mx ESMTP\r\n".to_vec()),
        (
            Side::Client,
            b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n".to_vec(),
        ),
        (Side::Server, b"250 mx\r\n250 ok\r\n250 ok\r\n".to_vec()),
    ];
    for _ in 0..n {
        steps.push((Side::Client, b"DATA\r\n".to_vec()));
        steps.push((Side::Server, b"354 go\r\n".to_vec()));
        steps.push((Side::Client, b".\r\n".to_vec()));
        steps.push((Side::Server, b"250 queued\r\n".to_vec()));
    }
    let file = capture(dir.path(), "x.pcap", 25, &steps);
    let limits = Limits {
        max_exchanges: 1_000,
        max_messages: 1_000,
        ..Limits::default()
    };
    let s = &run(&file, limits, false)[0];
    let kept = s["exchanges"].as_array().unwrap().len() as u64;
    assert!(kept <= 2 * 1_000 + 256, "{kept} exchanges kept");
    let omitted = s["exchanges_omitted"]["count"].as_u64().unwrap();
    assert_eq!(kept + omitted, n + 4);
    assert_eq!(s["messages"].as_array().unwrap().len(), 1_000);
    assert_eq!(s["messages_omitted"]["count"], n - 1_000);
}
