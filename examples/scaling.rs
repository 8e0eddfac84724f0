//! Writes one capture for `bench/scaling.sh`: a single connection whose hostile count is N.
//!
//!   cargo run --release --example scaling -- CASE N FILE
//!
//! MIME cases (one SMTP message carrying the count): `parts`, `headers`, `words` (encoded
//! words in one Subject), `addresses` (in one To), `received`, `nesting`, `headers-forever`
//! (N header-looking lines without a colon and no blank line).
//! Protocol cases: `rcpt` (RCPT TO per transaction), `pipelined` (commands sent together in
//! full segments), `xlines` (an SMTP client sending `X\n`), `literals` (an IMAP APPEND with
//! a chain of N `{1+}` literals), `fetch-items` (one FETCH response with N items, each
//! a one-byte literal, so the line never grows past `max_line`),
//! `anomalies` (an SMTP server sending N malformed reply lines).

use mailscope::synth::{Conversation, PcapWriter, Side};
use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

const CASES: &[&str] = &[
    "parts",
    "headers",
    "words",
    "addresses",
    "received",
    "nesting",
    "headers-forever",
    "rcpt",
    "pipelined",
    "xlines",
    "literals",
    "fetch-items",
    "anomalies",
];

/// A message whose hostile count is `n`.
fn message(case: &str, n: usize) -> Vec<u8> {
    let mut m = Vec::new();
    let mut put = |s: &str| m.extend_from_slice(s.as_bytes());
    match case {
        "parts" => {
            put("From: a@example.test\r\nSubject: parts\r\n");
            put("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
            for i in 0..n {
                put(&format!(
                    "--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
                ));
            }
            put("--b--\r\n");
        }
        "headers" => {
            for i in 0..n {
                put(&format!("X-Header-{i}: value {i}\r\n"));
            }
            put("Subject: headers\r\n\r\nbody\r\n");
        }
        "words" => {
            put("Subject:");
            for _ in 0..n {
                put(" =?UTF-8?B?w6k=?=\r\n");
            }
            put("From: a@example.test\r\n\r\nbody\r\n");
        }
        "addresses" => {
            put("To:");
            for i in 0..n {
                put(&format!(" u{i}@example.test,\r\n"));
            }
            put(" last@example.test\r\nSubject: addresses\r\n\r\nbody\r\n");
        }
        "received" => {
            for i in 0..n {
                put(&format!(
                    "Received: from h{i}.example.test by mx.example.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                ));
            }
            put("Subject: received\r\n\r\nbody\r\n");
        }
        "nesting" => {
            put("Subject: nesting\r\n");
            for i in 0..n {
                put(&format!(
                    "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
                ));
            }
            put("Content-Type: text/plain\r\n\r\ninnermost\r\n");
            for i in (0..n).rev() {
                put(&format!("--b{i}--\r\n"));
            }
        }
        "headers-forever" => {
            put("Subject: forever\r\n");
            for _ in 0..n {
                put("X\r\n");
            }
        }
        _ => {}
    }
    m
}

fn write(case: &str, n: usize, path: &str) -> std::io::Result<()> {
    let ip = |d| IpAddr::V4(Ipv4Addr::new(10, 0, 0, d));
    let port = if matches!(case, "literals" | "fetch-items") {
        143
    } else {
        25
    };
    let mut c = Conversation::new((ip(1), 40000), (ip(2), port), [1000, 2000]);
    c.handshake();
    let server = |c: &mut Conversation, s: &str| c.send(Side::Server, s.as_bytes());
    let client = |c: &mut Conversation, s: &str| c.send(Side::Client, s.as_bytes());
    match case {
        "literals" | "fetch-items" => {
            server(&mut c, "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
            client(&mut c, "a1 LOGIN alice secret\r\n");
            server(&mut c, "a1 OK done\r\n");
            if case == "literals" {
                let mut line = b"a2 APPEND INBOX {1+}\r\nx".to_vec();
                for _ in 0..n {
                    line.extend_from_slice(b" {1+}\r\nx");
                }
                line.extend_from_slice(b"\r\n");
                c.send(Side::Client, &line);
                server(&mut c, "a2 OK APPEND completed\r\n");
            } else {
                client(&mut c, "a2 SELECT INBOX\r\n");
                server(&mut c, "* 1 EXISTS\r\na2 OK [READ-WRITE] done\r\n");
                client(&mut c, "a3 FETCH 1 (BODY[])\r\n");
                let mut line = b"* 1 FETCH (UID 1".to_vec();
                for i in 0..n {
                    line.extend_from_slice(format!(" BODY[{i}] {{1}}\r\nx").as_bytes());
                }
                line.extend_from_slice(b")\r\na3 OK done\r\n");
                c.send(Side::Server, &line);
            }
            client(&mut c, "a9 LOGOUT\r\n");
            server(&mut c, "* BYE\r\na9 OK done\r\n");
        }
        _ => {
            server(&mut c, "220 mx.example.test ESMTP\r\n");
            client(&mut c, "EHLO client.example.test\r\n");
            server(&mut c, "250-mx.example.test\r\n250 PIPELINING\r\n");
            match case {
                "xlines" => c.send(Side::Client, &b"X\n".repeat(n)),
                "anomalies" => c.send(Side::Server, &b"x\n".repeat(n)),
                "pipelined" => {
                    c.send(Side::Client, &b"NOOP\r\n".repeat(n));
                    c.send(Side::Server, &b"250 2.0.0 Ok\r\n".repeat(n));
                }
                _ => {
                    client(&mut c, "MAIL FROM:<a@example.test>\r\n");
                    server(&mut c, "250 Ok\r\n");
                    let rcpts = if case == "rcpt" { n } else { 1 };
                    let mut cmds = Vec::new();
                    let mut replies = Vec::new();
                    for i in 0..rcpts {
                        cmds.extend_from_slice(
                            format!("RCPT TO:<u{i}@example.test>\r\n").as_bytes(),
                        );
                        replies.extend_from_slice(b"250 Ok\r\n");
                    }
                    c.send(Side::Client, &cmds);
                    c.send(Side::Server, &replies);
                    client(&mut c, "DATA\r\n");
                    server(&mut c, "354 go ahead\r\n");
                    let mut body = match case {
                        "rcpt" => b"Subject: rcpt\r\n\r\nbody\r\n".to_vec(),
                        _ => message(case, n),
                    };
                    body.extend_from_slice(b"\r\n.\r\n");
                    c.send(Side::Client, &body);
                    server(&mut c, "250 queued\r\n");
                }
            }
            client(&mut c, "QUIT\r\n");
            server(&mut c, "221 bye\r\n");
        }
    }
    c.close();
    let mut w = PcapWriter::new(BufWriter::new(File::create(path)?))?;
    for f in &c.frames {
        w.frame(f.ts, &f.data, f.data.len())?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [case, n, path] = args.as_slice() else {
        eprintln!("usage: scaling CASE N FILE (CASE: {})", CASES.join(", "));
        return ExitCode::from(2);
    };
    let (Some(case), Ok(n)) = (CASES.iter().find(|c| *c == case), n.parse::<usize>()) else {
        eprintln!("usage: scaling CASE N FILE (CASE: {})", CASES.join(", "));
        return ExitCode::from(2);
    };
    match write(case, n, path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scaling: {e}");
            ExitCode::FAILURE
        }
    }
}
