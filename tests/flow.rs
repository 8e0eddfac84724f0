//! The mail-flow picture at the end of `--format diagram`: sessions that carried the same
//! message (one Message-ID) are linked into its hops, in time order, with their roles;
//! the bundled samples (one message sent, then fetched by POP3 and by IMAP) draw it, a
//! single capture draws nothing, and hostile capture text is escaped.

mod support;

use mailscope::limits::Limits;
use mailscope::pipeline::{InputConfig, SessionsConfig, sessions};
use mailscope::render::flowpic;
use mailscope::session::Session;
use mailscope::session::hops::{self, Role};
use mailscope::synth::{Conversation, PcapWriter, Side};
use mailscope::types::Timestamp;
use std::io;
use std::path::{Path, PathBuf};
use support::{ip, mailscope};
use unicode_width::UnicodeWidthStr;

fn sample(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
        .to_string_lossy()
        .into()
}

/// `mailscope ARGS… --format diagram`: its standard output (no colour).
fn diagram(inputs: &[String]) -> String {
    let out = mailscope()
        .args(inputs)
        .args(["--format", "diagram"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The mail-flow part of a diagram's output: from its first rule on.
fn flow_part(out: &str) -> Option<&str> {
    out.find("── mail flow").map(|i| &out[i..])
}

#[test]
fn the_samples_message_is_drawn_from_submission_to_both_retrievals() {
    let inputs: Vec<String> = ["smtp-attachment.pcap", "pop3-retr.pcap", "imap-fetch.pcap"]
        .iter()
        .map(|n| sample(n))
        .collect();
    let out = diagram(&inputs);
    let flow = flow_part(&out).expect("a mail-flow picture");
    for l in flow.lines() {
        assert!(l.width() <= 80, "{l:?} is {} columns", l.width());
    }
    insta::assert_snapshot!("samples_flow", flow);
}

#[test]
fn one_capture_alone_draws_no_flow() {
    for name in ["smtp-attachment.pcap", "pop3-retr.pcap", "imap-fetch.pcap"] {
        let out = diagram(&[sample(name)]);
        assert!(flow_part(&out).is_none(), "{name}: {out}");
    }
}

/// The message, with `id` as its Message-ID header and a hostile subject.
fn message(id: &str) -> Vec<u8> {
    format!(
        "Message-ID: {id}\r\nSubject: \x1b[2J\u{202e}<script>alert(1)</script>\r\n\
         From: carol@example.net\r\nTo: alice@example.test\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

/// A scripted connection from 10.0.0.`client` to 10.0.0.`server`:`port`, starting at
/// second `at` of the capture.
fn conversation(
    (client, server, port): (u8, u8, u16),
    at: i64,
    steps: &[(Side, Vec<u8>)],
) -> Conversation {
    let mut c = Conversation::new(
        (ip(&format!("10.0.0.{client}")), 40000 + u16::from(client)),
        (ip(&format!("10.0.0.{server}")), port),
        [1000, 2000],
    );
    c.ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + at * 1_000_000_000);
    c.handshake();
    for (side, data) in steps {
        c.send(*side, data);
        c.ack(match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
    }
    c.close();
    c
}

fn smtp(msg: &[u8], auth: bool) -> Vec<(Side, Vec<u8>)> {
    let mut v = vec![
        (Side::Server, b"220 mx.example.test ESMTP\r\n".to_vec()),
        (Side::Client, b"EHLO client.example.test\r\n".to_vec()),
        (
            Side::Server,
            b"250-mx.example.test\r\n250 AUTH PLAIN\r\n".to_vec(),
        ),
    ];
    if auth {
        v.push((
            Side::Client,
            b"AUTH PLAIN AGNhcm9sAHNlY3JldA==\r\n".to_vec(),
        ));
        v.push((Side::Server, b"235 2.7.0 ok\r\n".to_vec()));
    }
    v.extend([
        (Side::Client, b"MAIL FROM:<carol@example.net>\r\n".to_vec()),
        (Side::Server, b"250 2.1.0 Ok\r\n".to_vec()),
        (Side::Client, b"RCPT TO:<alice@example.test>\r\n".to_vec()),
        (Side::Server, b"250 2.1.5 Ok\r\n".to_vec()),
        (Side::Client, b"DATA\r\n".to_vec()),
        (Side::Server, b"354 go\r\n".to_vec()),
        (Side::Client, [msg, b".\r\n"].concat()),
        (Side::Server, b"250 2.0.0 queued\r\n".to_vec()),
        (Side::Client, b"QUIT\r\n".to_vec()),
        (Side::Server, b"221 2.0.0 Bye\r\n".to_vec()),
    ]);
    v
}

fn pop3(msg: &[u8]) -> Vec<(Side, Vec<u8>)> {
    vec![
        (Side::Server, b"+OK ready\r\n".to_vec()),
        (Side::Client, b"USER alice\r\n".to_vec()),
        (Side::Server, b"+OK\r\n".to_vec()),
        (Side::Client, b"PASS secret\r\n".to_vec()),
        (Side::Server, b"+OK logged in\r\n".to_vec()),
        (Side::Client, b"RETR 1\r\n".to_vec()),
        (
            Side::Server,
            [b"+OK message follows\r\n".as_slice(), msg, b".\r\n"].concat(),
        ),
        (Side::Client, b"QUIT\r\n".to_vec()),
        (Side::Server, b"+OK bye\r\n".to_vec()),
    ]
}

/// A capture of one message's three hops (submission on 587 with AUTH, relay on 25, POP3
/// RETR; the Message-ID written three ways RFC 5322 counts as one), plus a message relayed
/// once, written out of time order.
fn write_capture(dir: &Path) -> PathBuf {
    let conversations = [
        conversation(
            (2, 3, 25),
            20,
            &smtp(&message("<hop-1@MX.Example.TEST>"), false),
        ),
        conversation(
            (9, 3, 110),
            30,
            &pop3(&message("  <hop-1@mx.example.test>")),
        ),
        conversation(
            (5, 2, 587),
            10,
            &smtp(&message("<hop-1@mx.example.test>"), true),
        ),
        conversation(
            (7, 3, 25),
            40,
            &smtp(&message("<alone@mx.example.test>"), false),
        ),
    ];
    let mut frames: Vec<_> = conversations.iter().flat_map(|c| c.frames.iter()).collect();
    frames.sort_by_key(|f| f.ts);
    let file = dir.join("hops.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
    for f in frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    file
}

fn read(file: &Path) -> Vec<Session> {
    let cfg = SessionsConfig::new(InputConfig::files(vec![file.to_string_lossy().into()]));
    let mut out = Vec::new();
    let mut sink = |s: Session| -> io::Result<()> {
        out.push(s);
        Ok(())
    };
    sessions(&cfg, &mut sink, &mut |_| {}).unwrap();
    out
}

#[test]
fn submission_relay_and_retrieval_are_linked_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_capture(dir.path());
    let sessions = read(&file);
    assert_eq!(sessions.len(), 4);
    let (paths, dropped) = hops::link(&sessions, Limits::default().max_flow_hops);
    assert_eq!(dropped, 0);
    // The message relayed once is not linked.
    assert_eq!(paths.len(), 1, "{paths:#?}");
    let p = &paths[0];
    assert_eq!(p.id, "hop-1@mx.example.test");
    let got: Vec<(Role, u16, &str)> = p
        .hops
        .iter()
        .map(|h| (h.role, h.server.port, h.origin))
        .collect();
    assert_eq!(
        got,
        [
            (Role::Submission, 587, "smtp-data"),
            (Role::Relay, 25, "smtp-data"),
            (Role::Retrieval, 110, "pop3-retr"),
        ]
    );
    assert!(p.hops.windows(2).all(|w| w[0].time < w[1].time));
    assert_eq!(p.hops[0].client.ip, ip("10.0.0.5"));
    assert_eq!(p.hops[1].mail_from.as_deref(), Some("carol@example.net"));

    // The SVG for the HTML report: one `hop` group per hop, capture text escaped.
    let svg = flowpic::svg(p, mailscope::teach::Lang::En);
    assert_eq!(svg.matches("class=\"hop\"").count(), 3);
    assert!(
        !svg.contains("<script") && svg.contains("&lt;script&gt;"),
        "{svg}"
    );
    assert!(!svg.chars().any(mailscope::render::is_unsafe));

    // The picture at the end of the diagram output: three rows, 80 columns, nothing raw.
    let out = diagram(&[file.to_string_lossy().into()]);
    let flow = flow_part(&out).expect("a mail-flow picture");
    assert_eq!(flow.matches("── mail flow").count(), 1, "{flow}");
    assert!(!flow.contains("alone@"), "{flow}");
    let rows: Vec<&str> = flow.lines().filter(|l| l.contains('▶')).collect();
    assert_eq!(rows.len(), 3, "{flow}");
    assert!(rows[0].contains("MUA 10.0.0.5") && rows[0].contains("SMTP 587 submission"));
    assert!(rows[1].contains("MTA 10.0.0.2") && rows[1].contains("SMTP 25 relay"));
    assert!(rows[2].contains("POP3 110 retrieval") && rows[2].contains("MUA 10.0.0.9"));
    for l in flow.lines() {
        assert!(l.width() <= 80, "{l:?}");
        assert!(!l.chars().any(mailscope::render::is_unsafe), "{l:?}");
    }
    assert!(flow.contains("\\u{1b}[2J\\u{202e}<script>"), "{flow}");
}
