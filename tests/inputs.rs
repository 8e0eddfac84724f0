//! What a user expects of inputs and outputs: several captures (files, gzip, directories)
//! read as one stream, messages numbered from 1, mail sessions numbered the same with or
//! without `--all-ports`, refused connections folded, empty results explained, `--pretty`
//! only for JSON. JSON is read into values, not compared as strings.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::mailscope;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let out = mailscope()
        .args(args)
        .arg("--no-progress")
        .output()
        .expect("runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The JSON lines of `stdout` of type `kind`.
fn records(stdout: &str, kind: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .filter(|v| v["type"] == kind)
        .collect()
}

#[test]
fn pretty_is_refused_with_text_output() {
    let file = sample("smtp-attachment.pcap");
    let out = run(&[s(&file), "--pretty"]);
    assert_eq!(out.code, 2, "usage error: {}", out.stderr);
    assert!(out.stderr.contains("--pretty"), "{}", out.stderr);
    assert!(out.stderr.contains("--format json"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let out = run(&[s(&file), "--format", "table", "--pretty"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    // Still fine with JSON (main command and flows).
    assert_eq!(run(&[s(&file), "--format", "json", "--pretty"]).code, 0);
    assert_eq!(run(&["flows", s(&file), "--pretty"]).code, 0);
}

#[test]
fn messages_are_numbered_from_one() {
    let file = sample("imap-fetch.pcap");
    let out = run(&[s(&file), "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sessions = records(&out.stdout, "session");
    let messages: Vec<&Value> = sessions
        .iter()
        .flat_map(|s| s["messages"].as_array().unwrap())
        .collect();
    assert!(!messages.is_empty());
    for s in &sessions {
        for (i, m) in s["messages"].as_array().unwrap().iter().enumerate() {
            assert_eq!(m["number"], i + 1, "message {i}");
        }
    }
    let text = run(&[s(&file)]);
    assert!(text.stdout.contains("✉ message 1:"), "{}", text.stdout);
    assert!(!text.stdout.contains("✉ message 0:"), "{}", text.stdout);
}

/// `FILE.gz` next to the sample: the same capture, gzip-compressed.
fn gzipped(dir: &Path, name: &str) -> PathBuf {
    use std::io::Write;
    let path = dir.join(format!("{name}.gz"));
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&std::fs::read(sample(name)).unwrap()).unwrap();
    gz.finish().unwrap();
    path
}

/// Three captures (one gzipped), named out of time order, read as one: sessions in order of
/// first packet across files, numbered on, each naming its file; frame numbers those of the
/// merged capture; the summary counts every frame. Two files used to be a clap error.
#[test]
fn several_inputs_are_merged_by_time_like_mergecap() {
    let dir = tempfile::tempdir().unwrap();
    let pop3 = sample("pop3-retr.pcap");
    let smtp = gzipped(dir.path(), "smtp-attachment.pcap");
    let imap = sample("imap-fetch.pcap");
    let out = run(&[s(&pop3), s(&smtp), s(&imap), "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sessions = records(&out.stdout, "session");
    let got: Vec<(u64, &str, &str)> = sessions
        .iter()
        .map(|v| {
            (
                v["id"].as_u64().unwrap(),
                v["protocol"].as_str().unwrap(),
                v["file"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "smtp", s(&smtp)),
            (2, "pop3", s(&pop3)),
            (3, "imap", s(&imap))
        ]
    );
    let frames = |file: &Path| {
        let out = run(&[s(file), "--format", "json"]);
        records(&out.stdout, "summary")[0]["frames"]
            .as_u64()
            .unwrap()
    };
    let (f_smtp, f_pop3, f_imap) = (frames(&smtp), frames(&pop3), frames(&imap));
    let summary = &records(&out.stdout, "summary")[0];
    assert_eq!(summary["frames"], f_smtp + f_pop3 + f_imap);
    // The captures do not overlap in time: the POP3 session's frames follow the SMTP ones.
    let first = sessions[1]["exchanges"][0]["frame"].as_u64().unwrap();
    assert!(first > f_smtp, "frame {first} continues after {f_smtp}");
    // The text header names the file; one input names none.
    let text = run(&[s(&pop3), s(&smtp)]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let headers: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.starts_with("──"))
        .collect();
    assert!(
        headers[0].ends_with(&format!(" · {}", s(&smtp))),
        "{headers:?}"
    );
    assert!(
        headers[1].ends_with(&format!(" · {}", s(&pop3))),
        "{headers:?}"
    );
    let one = run(&[s(&pop3), "--format", "json"]);
    assert!(records(&one.stdout, "session")[0].get("file").is_none());
    // `flows` takes several inputs too, and still works as a subcommand.
    let flows = run(&["flows", s(&pop3), s(&smtp), "--json"]);
    assert_eq!(flows.code, 0, "{}", flows.stderr);
    assert_eq!(records(&flows.stdout, "flow").len(), 2);
}

/// A directory is read as the captures inside it, by name; one without captures says it is
/// a directory (exit 1), not "corrupt gzip data".
#[test]
fn a_directory_reads_the_captures_inside() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["smtp-attachment.pcap", "pop3-retr.pcap"] {
        std::fs::copy(sample(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a capture").unwrap();
    let out = run(&[s(dir.path()), "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let files: Vec<String> = records(&out.stdout, "session")
        .iter()
        .map(|v| v["file"].as_str().unwrap().to_owned())
        .collect();
    let inside = |n: &str| dir.path().join(n).display().to_string();
    assert_eq!(
        files,
        [inside("smtp-attachment.pcap"), inside("pop3-retr.pcap")]
    );
    let empty = tempfile::tempdir().unwrap();
    let out = run(&[s(empty.path())]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("is a directory"), "{}", out.stderr);
    assert!(!out.stderr.contains("gzip"), "{}", out.stderr);
}

/// A capture of a web connection on port 80, then (`mail`) an SMTP session on port 25,
/// then `more` web connections.
fn web_and_mail(dir: &Path, mail: bool, more: u16) -> PathBuf {
    use mailscope::synth::{Conversation, PcapWriter, Side};
    let ip = |s: &str| s.parse().unwrap();
    let web = |port: u16| {
        let mut c = Conversation::new((ip("10.0.0.1"), port), (ip("10.0.0.3"), 80), [5, 6]);
        c.handshake();
        c.send(Side::Client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        c.send(
            Side::Server,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        );
        c.close();
        c.frames
    };
    let mut parts = vec![web(30000)];
    if mail {
        parts.push(support::smtp_conversation(40000, [1000, 2000]).0.frames);
    }
    parts.extend((1..=more).map(|k| web(30000 + k)));
    // One after the other in time, whatever each conversation's clock said.
    let path = dir.join(format!("web-{mail}-{more}.pcap"));
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    let mut ns = 1_700_000_000_000_000_000;
    for f in parts.into_iter().flatten() {
        ns += 1000;
        let ts = mailscope::types::Timestamp::from_nanos(ns);
        w.frame(ts, &f.data, f.data.len()).unwrap();
    }
    path
}

/// Session numbers count mail sessions: following a web connection too (`--all-ports`)
/// does not renumber them; `flows` keeps connection numbers.
#[test]
fn all_ports_leaves_session_numbers_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = web_and_mail(dir.path(), true, 0);
    let ids = |extra: &[&str]| {
        let mut args = vec![s(&file), "--format", "json"];
        args.extend(extra);
        let out = run(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        records(&out.stdout, "session")
            .iter()
            .map(|v| v["id"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&[]), [1]);
    assert_eq!(ids(&["--all-ports"]), [1]);
    assert_eq!(ids(&["--all-ports", "--session", "1"]), [1]);
    let flows = run(&["flows", s(&file), "--json", "--all-ports"]);
    let conns: Vec<u64> = records(&flows.stdout, "flow")
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect();
    assert_eq!(conns, [1, 2], "flows numbers connections");
}

/// Nothing listed: stderr says why in one line, the exit code stays 0.
#[test]
fn empty_results_explain_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let why = |args: &[&str]| {
        let out = run(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {}", out.stderr);
        lines[0].to_owned()
    };
    let web = web_and_mail(dir.path(), false, 2);
    assert_eq!(
        why(&[s(&web)]),
        "mailscope: no connections on mail ports; 3 TCP connections on other ports — try --all-ports"
    );
    assert_eq!(
        why(&[s(&web), "--all-ports"]),
        "mailscope: no mail session: 3 connections followed, none recognised as SMTP, POP3 or IMAP"
    );
    let smtp = sample("smtp-attachment.pcap");
    assert_eq!(
        why(&[s(&smtp), "--session", "99"]),
        "mailscope: --session 99: only session 1 exists"
    );
    assert_eq!(
        why(&[s(&smtp), "--host", "10.9.9.9"]),
        "mailscope: --host 10.9.9.9 matched no connection"
    );
    assert_eq!(
        why(&[s(&smtp), "--proto", "imap"]),
        "mailscope: --proto imap matched none of the 1 session"
    );
    // JSON still ends with its summary; the explanation goes to stderr only.
    let out = run(&[s(&web), "--format", "json"]);
    assert_eq!(records(&out.stdout, "summary").len(), 1);
    assert!(out.stderr.contains("try --all-ports"), "{}", out.stderr);
}

/// `attempts` connection attempts from 10.0.0.1 to 10.0.0.2:25, each SYN answered by RST
/// (a closed port), then a real SMTP session from another port.
fn refused_then_mail(dir: &Path, attempts: u32) -> PathBuf {
    use etherparse::PacketBuilder;
    let frame = |from_client: bool, syn: bool, seq: u32, ack: u32| {
        let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let (src, dst, sp, dp) = if from_client {
            ([10, 0, 0, 1], [10, 0, 0, 2], 39999, 25)
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1], 25, 39999)
        };
        let mut b = eth.ipv4(src, dst, 64).tcp(sp, dp, seq, 65535);
        if syn {
            b = b.syn();
        } else {
            b = b.rst().ack(ack);
        }
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        out
    };
    let path = dir.join("refused.pcap");
    let mut w = mailscope::synth::PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    let mut ns = 1_600_000_000_000_000_000i64;
    let mut put = |data: &[u8]| {
        ns += 1_000_000;
        w.frame(
            mailscope::types::Timestamp::from_nanos(ns),
            data,
            data.len(),
        )
        .unwrap();
    };
    for _ in 0..attempts {
        put(&frame(true, true, 1000, 0));
        put(&frame(false, false, 0, 1001));
    }
    let (mail, _, _) = support::smtp_conversation(40000, [1000, 2000]);
    for f in &mail.frames {
        put(&f.data);
    }
    path
}

/// SYN answered by RST, once per retransmission: one line per client and server, a
/// `refused` count in the JSON summary, and no empty "reset" sessions.
#[test]
fn refused_connection_attempts_are_folded() {
    let dir = tempfile::tempdir().unwrap();
    let file = refused_then_mail(dir.path(), 3);
    let out = run(&[s(&file), "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sessions = records(&out.stdout, "session");
    assert_eq!(sessions.len(), 1, "{}", out.stdout);
    assert_eq!(sessions[0]["id"], 1);
    assert_eq!(sessions[0]["state"], "complete");
    assert_eq!(records(&out.stdout, "summary")[0]["refused"], 3);
    let text = run(&[s(&file)]);
    let lines: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.contains("refused"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", text.stdout);
    assert!(
        lines[0].contains("10.0.0.1 → 10.0.0.2:25")
            && lines[0].contains("3 connection attempts refused"),
        "{}",
        lines[0]
    );
    assert!(!text.stdout.contains("· reset"), "{}", text.stdout);
}

#[test]
fn output_goes_to_the_file_o_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.json");
    let input = sample("pop3-retr.pcap");
    let to_file = run(&[s(&input), "--format", "json", "-o", s(&file)]);
    assert_eq!((to_file.code, to_file.stdout.as_str()), (0, ""));
    let to_stdout = run(&[s(&input), "--format", "json"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), to_stdout.stdout);
    let nowhere = run(&[s(&input), "-o", "/nonexistent-dir/x.txt"]);
    assert_eq!(nowhere.code, 1);
    assert!(
        nowhere.stderr.contains("-o /nonexistent-dir/x.txt"),
        "{}",
        nowhere.stderr
    );
}

#[test]
fn o_never_overwrites_an_input_nor_a_file_on_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.pcap");
    std::fs::copy(sample("pop3-retr.pcap"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let same = run(&[s(&input), "-o", s(&input)]);
    assert_eq!(same.code, 2, "{}", same.stderr);
    assert!(same.stderr.contains("that is an input"));
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // A run that cannot read its input, or a usage error, leaves an existing file alone.
    let report = dir.path().join("r.html");
    std::fs::write(&report, "keep").unwrap();
    let missing = dir.path().join("missing.pcap");
    assert_eq!(
        run(&[s(&missing), "--format", "html", "-o", s(&report)]).code,
        1
    );
    assert_eq!(run(&[s(&input), "--pretty", "-o", s(&report)]).code, 2);
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "keep");
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}
