//! Review of the batched hand-over and the JSON rendering on worker threads (issue 14):
//! output that must not depend on `-j`.

mod support;

use mailscope::synth::{Conversation, PcapWriter, Side};
use mailscope::types::Timestamp;
use std::path::Path;
use support::{ip, mailscope, smtp_conversation};

/// An SMTP session without a message (EHLO, QUIT), from client port `from`, starting at
/// `start` (nanoseconds).
fn without_message(from: u16, start: i64) -> Conversation {
    let mut c = Conversation::new((ip("10.0.0.1"), from), (ip("10.0.0.2"), 25), [7, 9]);
    c.ts = Timestamp::from_nanos(start);
    c.handshake();
    for (side, data) in [
        (Side::Server, &b"220 mx.example.test ESMTP\r\n"[..]),
        (Side::Client, b"EHLO client.example.test\r\n"),
        (Side::Server, b"250 mx.example.test\r\n"),
        (Side::Client, b"QUIT\r\n"),
        (Side::Server, b"221 2.0.0 Bye\r\n"),
    ] {
        c.send(side, data);
    }
    c.close();
    c
}

fn json(file: &Path, extra: &[&str]) -> (String, String, i32) {
    let out = mailscope()
        .arg(file)
        .args(["--format", "json", "--no-progress"])
        .args(extra)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A session whose small message waits in a batch that never fills (the sessions after it
/// have no message) must not be given up on by the reorder buffer: the batch used to be
/// sent only when full or at the end, so with more later sessions than `--max-reorder`
/// the first one came out last with `-j 2`, but first with `-j 1`.
#[test]
fn a_message_waiting_in_a_batch_does_not_reorder_the_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("polling.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
    let (first, _, _) = smtp_conversation(40000, [100, 200]);
    let mut conversations = vec![first];
    let start = 1_700_000_010_000_000_000i64;
    for i in 0..400u16 {
        conversations.push(without_message(
            41000 + i,
            start + i64::from(i) * 10_000_000,
        ));
    }
    for c in &conversations {
        for f in &c.frames {
            w.frame(f.ts, &f.data, f.data.len()).unwrap();
        }
    }
    drop(w);
    let reorder = ["--max-reorder", "200"];
    let (one, err, code) = json(&file, &[&reorder[..], &["-j", "1"]].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(one.lines().count(), 402, "401 sessions and the summary");
    assert!(
        one.contains("\"listed_out_of_order\":0"),
        "{}",
        one.lines().last().unwrap()
    );
    for j in ["2", "3"] {
        let (many, err, code) = json(&file, &[&reorder[..], &["-j", j]].concat());
        assert_eq!(code, 0, "{err}");
        let first = many.lines().next().unwrap_or_default();
        assert!(
            many == one,
            "-j {j} differs from -j 1: first line {:.80}…, summary {}",
            first,
            many.lines().last().unwrap_or_default()
        );
    }
}
