//! Facts are not dropped between layers (issue 8 item 7): gaps keep their frame, counters
//! reach the summary, and both commands recognise a connection the same way.

mod support;

use mailscope::synth::{Conversation, PcapWriter, Side};
use serde_json::Value;
use std::path::Path;
use support::{ip, mailscope};

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write(file: &Path, frames: &[mailscope::synth::SynthFrame]) {
    let mut w = PcapWriter::new(std::fs::File::create(file).unwrap()).unwrap();
    for f in frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
}

#[test]
fn smtp_on_the_pop3_port_is_smtp_for_both_commands_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Conversation::new((ip("10.0.0.1"), 40000), (ip("10.0.0.2"), 110), [1, 2]);
    c.handshake();
    for (side, data) in [
        (Side::Server, &b"220 mx.example.test ESMTP Postfix\r\n"[..]),
        (Side::Client, b"EHLO c\r\n"),
        (Side::Server, b"250 mx\r\n"),
        (Side::Client, b"QUIT\r\n"),
        (Side::Server, b"221 bye\r\n"),
    ] {
        c.send(side, data);
    }
    c.close();
    let file = dir.path().join("smtp110.pcap");
    write(&file, &c.frames);

    let flows = mailscope()
        .arg("flows")
        .arg(&file)
        .arg("--json")
        .output()
        .unwrap();
    let flow = &json_lines(&flows.stdout)[0];
    assert_eq!(flow["protocol"], "smtp");
    assert_eq!(flow["recognised_by"], "content");

    let main = mailscope()
        .arg(&file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let s = &json_lines(&main.stdout)[0];
    assert_eq!(s["protocol"], "smtp");
    let verbs: Vec<&str> = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["command"]["verb"].as_str())
        .collect();
    assert_eq!(verbs, ["EHLO", "QUIT"]);
    let names: Vec<&str> = s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["port-protocol-mismatch"], "no false POP3 anomalies");
    assert!(
        s["anomalies"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("port 110 is mapped to pop3")
    );
}

#[test]
fn gaps_keep_their_frame_and_counters_reach_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _, _) = support::smtp_conversation(40001, [100, 200]);
    // Lose one client data segment in the middle of the message: a gap.
    let lost = c.frames.iter().position(|f| f.payload_len == 1448).unwrap();
    c.frames.remove(lost);
    let mut frames = c.frames.clone();
    // A late packet after the close.
    frames.push(frames[frames.len() - 2].clone());
    let file = dir.path().join("gap.pcap");
    write(&file, &frames);
    let out = mailscope()
        .arg(&file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    let gap = lines[0]["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "gap-in-message")
        .expect("a gap anomaly")
        .clone();
    let frame = gap["frame"].as_u64().unwrap();
    assert!(
        frame > lost as u64,
        "the gap's frame is the packet past it, not 0: {frame}"
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["packets_late"], 1);
    for key in [
        "segments_out_of_window",
        "packets_ignored",
        "ip_fragments_dropped",
        "pcapng_blocks_skipped",
        "messages_not_decoded",
    ] {
        assert_eq!(summary[key], 0, "{key}");
    }
}
