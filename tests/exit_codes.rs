//! Exit codes on inputs of which nothing, or only part, could be decoded: a capture that holds
//! frames but none mailscope can read fails with exit code 1 and a one-line reason naming
//! the frame and byte offset; a capture that is partly readable, or readable but without mail,
//! succeeds.

mod support;

use mailscope::synth::{PcapWriter, PcapngWriter};
use mailscope::types::Timestamp;
use std::path::{Path, PathBuf};
use support::{mailscope, smtp_conversation};

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], file: &Path) -> Outcome {
    let out = mailscope()
        .args(args)
        .arg(file)
        .arg("--no-progress")
        .output()
        .expect("runs");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the main command (text and JSON) and `flows` (table and JSON) on `file`.
fn every_command(file: &Path) -> Vec<(&'static str, Outcome)> {
    vec![
        ("text", run(&[], file)),
        ("json", run(&["--format", "json"], file)),
        ("flows", run(&["flows"], file)),
        ("flows --json", run(&["flows", "--json"], file)),
    ]
}

fn write(dir: &Path, name: &str, bytes: Vec<u8>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The frames of a small SMTP session (Ethernet).
fn smtp_frames() -> Vec<(Timestamp, Vec<u8>)> {
    let (c, _, _) = smtp_conversation(40000, [1000, 2000]);
    c.frames.into_iter().map(|f| (f.ts, f.data)).collect()
}

/// Asserts exit code 1 and one stderr line holding every piece of `want`.
fn assert_fails(file: &Path, want: &[&str]) {
    for (what, out) in every_command(file) {
        assert_eq!(out.code, 1, "{what}: exit code; stderr: {}", out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: one stderr line: {}", out.stderr);
        for w in want {
            assert!(lines[0].contains(w), "{what}: {w:?} not in {:?}", lines[0]);
        }
        if what.contains("json") {
            // The summary still comes, and carries the reason.
            let last = out.stdout.lines().last().expect("a summary line");
            let v: serde_json::Value = serde_json::from_str(last).unwrap();
            assert_eq!(v["type"], "summary", "{what}");
            let error = v["error"].as_str().expect("summary.error");
            assert!(error.contains(want[0]), "{what}: {error}");
        }
    }
}

fn assert_succeeds(file: &Path, sessions: usize) -> Vec<(&'static str, Outcome)> {
    let outs = every_command(file);
    for (what, out) in &outs {
        assert_eq!(out.code, 0, "{what}: exit code; stderr: {}", out.stderr);
    }
    let json = &outs[1].1.stdout;
    let n = json
        .lines()
        .filter(|l| l.contains("\"type\":\"session\""))
        .count();
    assert_eq!(n, sessions, "sessions listed");
    outs
}

#[test]
fn pcap_whose_every_frame_is_on_an_unsupported_link_type_fails() {
    let dir = tempfile::tempdir().unwrap();
    // LINKTYPE_USER0 (147): nothing mailscope can decode.
    let mut w = PcapWriter::with_options(Vec::new(), 147, 65535, false, false).unwrap();
    for (ts, data) in smtp_frames() {
        w.frame(ts, &data, data.len()).unwrap();
    }
    let file = write(dir.path(), "user0.pcap", w.into_inner());
    assert_fails(
        &file,
        &[
            "no frame could be decoded: link type 147 (USER0) is not supported",
            "frame 1 at byte offset 24",
        ],
    );
    // Big-endian, and a link type without a name.
    let mut w = PcapWriter::with_options(Vec::new(), 4242, 65535, true, false).unwrap();
    for (ts, data) in smtp_frames().into_iter().take(2) {
        w.frame(ts, &data, data.len()).unwrap();
    }
    let file = write(dir.path(), "odd.pcap", w.into_inner());
    assert_fails(
        &file,
        &[
            "no frame could be decoded: link type 4242 is not supported",
            "frame 1 at byte offset 24",
        ],
    );
}

#[test]
fn pcapng_whose_packets_come_before_any_interface_description_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    for (ts, data) in smtp_frames() {
        w.epb(0, ts, &data).unwrap();
    }
    let file = write(dir.path(), "no-idb.pcapng", w.into_inner());
    // The section header block is 28 bytes long: the first packet block follows it.
    assert_fails(
        &file,
        &[
            "no frame could be decoded: packet block for interface 0 \
             comes before any interface description block",
            "frame 1 at byte offset 28",
        ],
    );
}

/// A pcapng Section Header Block with the given version, then an IDB (Ethernet) and one EPB.
fn pcapng_with_version(major: u16, minor: u16, frame: &[u8]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = (body.len() + 12) as u32;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&len.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&major.to_le_bytes());
    shb.extend_from_slice(&minor.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    block(&mut out, 1, &idb);
    let mut epb = Vec::new();
    epb.extend_from_slice(&0u32.to_le_bytes());
    epb.extend_from_slice(&0u32.to_le_bytes());
    epb.extend_from_slice(&0u32.to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(frame);
    while epb.len() % 4 != 0 {
        epb.push(0);
    }
    block(&mut out, 6, &epb);
    out
}

#[test]
fn pcapng_of_an_unknown_major_version_fails() {
    let dir = tempfile::tempdir().unwrap();
    let frame = &smtp_frames()[0].1;
    let file = write(dir.path(), "v2.pcapng", pcapng_with_version(2, 0, frame));
    assert_fails(
        &file,
        &[
            "pcapng version 2.0 is not supported",
            "frame 1 at byte offset 0",
        ],
    );
    // The same file as version 1.0 reads (no mail port: nothing listed, but no error) …
    let file = write(dir.path(), "v1.pcapng", pcapng_with_version(1, 0, frame));
    for (what, out) in every_command(&file) {
        assert_eq!(out.code, 0, "{what}: {}", out.stderr);
    }
    // … and so does an unknown minor version (the format promises compatibility).
    let file = write(dir.path(), "v1-9.pcapng", pcapng_with_version(1, 9, frame));
    for (what, out) in every_command(&file) {
        assert_eq!(out.code, 0, "{what}: {}", out.stderr);
    }
}

#[test]
fn partial_success_exits_zero_and_counts_what_was_skipped() {
    let dir = tempfile::tempdir().unwrap();
    // Interface 0 is USER0, interface 1 Ethernet: the USER0 frames are skipped.
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let user = w.interface(147, 6).unwrap();
    let eth = w.interface(1, 6).unwrap();
    for (ts, data) in smtp_frames() {
        w.epb(user, ts, &data).unwrap();
        w.epb(eth, ts, &data).unwrap();
    }
    let file = write(dir.path(), "mixed.pcapng", w.into_inner());
    let n = smtp_frames().len();
    let outs = assert_succeeds(&file, 1);
    for (what, out) in &outs {
        if what.contains("json") {
            let last = out.stdout.lines().last().unwrap();
            let v: serde_json::Value = serde_json::from_str(last).unwrap();
            assert_eq!(v["frames_unsupported_link"], n as u64, "{what}");
            assert!(v.get("error").is_none(), "{what}");
        }
    }
    let flows_table = &outs[2].1.stdout;
    assert!(
        flows_table.contains(&format!("{n} on unsupported link types")),
        "{flows_table}"
    );
    let table = run(&["--format", "table"], &file);
    assert_eq!(table.code, 0);
    assert!(
        table
            .stdout
            .contains(&format!("{n} on unsupported link types")),
        "{}",
        table.stdout
    );
    // Text mode has no summary block; the skipped frames are named on stderr.
    let text = &outs[0].1;
    assert!(
        text.stderr
            .contains(&format!("{n} frames on unsupported link types")),
        "{}",
        text.stderr
    );

    // Packet blocks before the first interface description, then readable ones.
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let frames = smtp_frames();
    w.epb(0, frames[0].0, &frames[0].1).unwrap();
    w.interface(1, 6).unwrap();
    for (ts, data) in &frames {
        w.epb(0, *ts, data).unwrap();
    }
    let file = write(dir.path(), "late-idb.pcapng", w.into_inner());
    assert_succeeds(&file, 1);
}

#[test]
fn readable_captures_without_mail_succeed() {
    let dir = tempfile::tempdir().unwrap();
    // No frames at all, even on a link type mailscope cannot decode.
    for link in [1, 147] {
        let w = PcapWriter::with_options(Vec::new(), link, 65535, false, false).unwrap();
        let file = write(dir.path(), &format!("empty-{link}.pcap"), w.into_inner());
        assert_succeeds(&file, 0);
    }
    // A pcapng with an interface and no packets.
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    w.interface(147, 6).unwrap();
    let file = write(dir.path(), "empty.pcapng", w.into_inner());
    assert_succeeds(&file, 0);
    // Decodable traffic on no mail port.
    let mut c = mailscope::synth::Conversation::new(
        (support::ip("10.0.0.1"), 40000),
        (support::ip("10.0.0.2"), 80),
        [1, 1],
    );
    c.handshake();
    c.send(mailscope::synth::Side::Client, b"GET / HTTP/1.0\r\n\r\n");
    c.close();
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    let file = write(dir.path(), "http.pcap", w.into_inner());
    for (what, out) in assert_succeeds(&file, 0) {
        if what.starts_with("flows") {
            assert!(out.stderr.is_empty(), "{what}: {}", out.stderr);
        } else {
            // The main command says why it lists nothing (issue 9), still exit 0.
            assert_eq!(
                out.stderr.trim_end(),
                "mailscope: no connections on mail ports; 1 TCP connection on other ports — try --all-ports",
                "{what}"
            );
        }
    }
}
