//! Output as it happens: a capture arriving through a pipe that stays open (as from
//! `tcpdump -U -w -`) gives each session as soon as it ends, not when the pipe closes; a
//! SIGINT then writes what is open and the totals, exit code 0; flag rules of live capture.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mailscope"))
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name),
    )
    .expect("sample")
}

/// Starts mailscope reading a pipe, writes `bytes` into it and leaves it open.
fn spawn_on_pipe(args: &[&str], bytes: &[u8]) -> Child {
    let mut child = bin()
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .as_mut()
        .expect("stdin")
        .write_all(bytes)
        .expect("written");
    child
}

/// The first stdout line, read on another thread so that a reader that never writes fails
/// the test after `wait` instead of hanging it.
fn first_line(child: &mut Child, wait: Duration) -> Option<String> {
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(wait).ok()
}

#[test]
fn a_session_from_an_open_pipe_is_written_when_it_ends() {
    for args in [&["--format", "json"][..], &["flows", "--json"][..]] {
        let mut child = spawn_on_pipe(args, &sample("smtp-attachment.pcap"));
        // The pipe is still open: the writer may send more at any time.
        let line = first_line(&mut child, Duration::from_secs(20));
        let _ = child.kill();
        let _ = child.wait();
        let line =
            line.unwrap_or_else(|| panic!("{args:?}: nothing written while the pipe was open"));
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        let kind = if args[0] == "flows" {
            "flow"
        } else {
            "session"
        };
        assert_eq!(v["type"], kind, "{args:?}: {line}");
    }
}

#[cfg(unix)]
#[test]
fn sigint_writes_the_open_sessions_and_the_totals() {
    // Every frame of the sample but the last few (its FIN exchange): the session is still
    // open when the signal comes.
    let bytes = sample("submission-auth-login.pcap");
    let mut child = spawn_on_pipe(&["--format", "json"], &bytes[..bytes.len() - 200]);
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    let status = child.wait().expect("exits");
    assert_eq!(status.code(), Some(0), "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let session = lines
        .iter()
        .find(|v| v["type"] == "session")
        .expect("the open session");
    assert_eq!(session["state"], "open");
    assert_eq!(session["exchanges"][0]["replies"][0]["code"], "220");
    assert_eq!(lines.last().expect("lines")["type"], "summary");
}

#[test]
fn live_only_flags_need_an_interface() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/pop3-retr.pcap");
    for (flag, value) in [
        ("-f", Some("port 25")),
        ("-w", Some("/tmp/x.pcap")),
        ("-a", Some("duration:1")),
        ("-p", None),
    ] {
        let mut cmd = bin();
        cmd.arg(&file).arg(flag);
        if let Some(v) = value {
            cmd.arg(v);
        }
        let out = cmd.output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains("-i"), "{flag}: {err}");
    }
    let out = bin()
        .args(["-i", "lo", "-a", "minutes:3"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("duration:SECONDS"));
}

#[test]
fn events_are_for_text_and_json() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/pop3-retr.pcap");
    let out = bin()
        .arg(&file)
        .args(["--format", "table", "--events"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
