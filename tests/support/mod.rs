//! Shared helpers for the CLI tests: run `mailscope flows` and read its JSON Lines into typed
//! records, build synthetic captures.
#![allow(dead_code)]

use assert_cmd::Command;
use mailscope::synth::{Conversation, Side};
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, Deserialize, Clone, PartialEq)]
pub struct Endpoint {
    pub ip: String,
    pub port: u16,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct PerSide {
    pub client: u64,
    pub server: u64,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Streams {
    pub client: String,
    pub server: String,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct Gap {
    pub offset: u64,
    pub len: u64,
}

#[derive(Debug, Deserialize, Clone)]
pub struct GapList {
    pub client: Vec<Gap>,
    pub server: Vec<Gap>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Flow {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub protocol: String,
    pub implicit_tls: bool,
    pub start: String,
    pub state: String,
    pub handshake: bool,
    pub packets: PerSide,
    pub bytes: PerSide,
    pub gaps: PerSide,
    pub gap_bytes: PerSide,
    pub retransmissions: PerSide,
    pub out_of_order: PerSide,
    pub overlap_conflicts: PerSide,
    pub streams: Option<Streams>,
    pub gap_list: Option<GapList>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct Summary {
    pub frames: u64,
    pub connections: u64,
    pub listed: u64,
    pub frames_cut_by_snaplen: u64,
    pub ip_fragments: u64,
    pub connections_evicted_at_limit: u64,
    pub buffer_limit_flushes: u64,
    pub error: Option<String>,
}

pub struct Run {
    pub flows: Vec<Flow>,
    pub summary: Summary,
    pub code: i32,
    pub stderr: String,
}

pub fn mailscope() -> Command {
    Command::cargo_bin("mailscope").expect("binary built")
}

/// Parses `flows --json` output.
pub fn parse(stdout: &[u8]) -> (Vec<Flow>, Summary) {
    let text = std::str::from_utf8(stdout).expect("JSON output is UTF-8");
    let mut flows = Vec::new();
    let mut summary = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        match v["type"].as_str() {
            Some("flow") => flows.push(serde_json::from_value(v).expect("flow record")),
            Some("summary") => summary = Some(serde_json::from_value(v).expect("summary")),
            other => panic!("unexpected record type {other:?}"),
        }
    }
    (flows, summary.expect("a summary line"))
}

/// `mailscope flows FILE --json [extra…]`.
pub fn flows(file: &Path, extra: &[&str]) -> Run {
    let out = mailscope()
        .arg("flows")
        .arg(file)
        .arg("--json")
        .args(extra)
        .output()
        .expect("runs");
    let (flows, summary) = parse(&out.stdout);
    Run {
        flows,
        summary,
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test IP")
}

/// Deterministic pseudo-random bytes.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0; len];
    mailscope::synth::Rng::new(seed).fill(&mut v);
    v
}

/// A small SMTP-looking exchange on port 25; returns the conversation and what each side sent.
pub fn smtp_conversation(client_port: u16, isn: [u32; 2]) -> (Conversation, Vec<u8>, Vec<u8>) {
    let mut c = Conversation::new((ip("10.0.0.1"), client_port), (ip("10.0.0.2"), 25), isn);
    c.handshake();
    let mut client = Vec::new();
    let mut server = Vec::new();
    let body = bytes(5000, u64::from(client_port));
    let steps: Vec<(Side, Vec<u8>)> = vec![
        (Side::Server, b"220 mx.example.test ESMTP\r\n".to_vec()),
        (Side::Client, b"EHLO client.example.test\r\n".to_vec()),
        (
            Side::Server,
            b"250-mx.example.test\r\n250 PIPELINING\r\n".to_vec(),
        ),
        (
            Side::Client,
            b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n".to_vec(),
        ),
        (
            Side::Server,
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n".to_vec(),
        ),
        (Side::Client, mailscope::synth::base64_mime(&body)),
        (Side::Client, b".\r\nQUIT\r\n".to_vec()),
        (
            Side::Server,
            b"250 2.0.0 queued\r\n221 2.0.0 Bye\r\n".to_vec(),
        ),
    ];
    for (side, data) in steps {
        c.send(side, &data);
        match side {
            Side::Client => client.extend_from_slice(&data),
            Side::Server => server.extend_from_slice(&data),
        }
        c.ack(match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
    }
    c.close();
    (c, client, server)
}

/// Writes one connection 10.0.0.1:40000 → 10.0.0.2:`port` to `dir/name`: `steps` of (side,
/// bytes), each acknowledged by the other side. With `only`, just the frames that side sent
/// (a one-sided capture).
pub fn write_steps<B: AsRef<[u8]>>(
    dir: &Path,
    name: &str,
    port: u16,
    steps: &[(Side, B)],
    only: Option<Side>,
) -> std::path::PathBuf {
    let mut c = Conversation::new((ip("10.0.0.1"), 40000), (ip("10.0.0.2"), port), [1, 2]);
    c.handshake();
    for (side, data) in steps {
        c.send(*side, data.as_ref());
        c.ack(match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
    }
    c.close();
    let file = dir.join(name);
    let mut w = mailscope::synth::PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
    for f in &c.frames {
        // Ethernet (14 bytes), then the IPv4 source address at 12..16.
        let from_client = f.data[26..30] == [10, 0, 0, 1];
        if only.is_none_or(|side| from_client == (side == Side::Client)) {
            w.frame(f.ts, &f.data, f.data.len()).unwrap();
        }
    }
    file
}
