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
