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
