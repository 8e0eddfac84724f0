//! Writes the hostile captures of issue 8's memory table, one connection each (and one of
//! many concurrent sessions), for `bench/hostile.sh`:
//!
//!   cargo run --release --example hostile -- KIND FILE
//!
//! KIND: smtp-client-lines (4 MB of `X\n` from the client), smtp-server-lines (4 MB of `x\n`
//! from the server), imap-multiappend (8 MB chain of `{1+}` literals), data-headers-forever
//! (6 MB of DATA without a blank line), one-way (200 MB from one side on port 9999, for
//! `--all-ports`), concurrent (384 SMTP sessions each with a 1 MiB message in flight at once),
//! deflate-bomb (IMAP COMPRESS=DEFLATE, then 100 MB of untagged responses and 2,000 fetched
//! messages squeezed into a few hundred KB).

use mailscope::synth::{Conversation, PcapWriter, Side};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::process::ExitCode;

type Writer = PcapWriter<BufWriter<File>>;

/// Sends `data` from `side` in pieces of at most 64 KiB, acknowledged, writing the frames.
fn send(w: &mut Writer, c: &mut Conversation, side: Side, data: &[u8]) -> std::io::Result<()> {
    for piece in data.chunks(64 << 10) {
        c.send(side, piece);
        c.ack(match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
        flush(w, c)?;
    }
    Ok(())
}

fn flush(w: &mut Writer, c: &mut Conversation) -> std::io::Result<()> {
    for f in c.frames.drain(..) {
        w.frame(f.ts, &f.data, f.data.len())?;
    }
    Ok(())
}

fn conversation(n: u16, port: u16) -> Conversation {
    let client = IpAddr::from([10, 0, (n >> 8) as u8, n as u8]);
    let mut c = Conversation::new(
        (client, 40000 + n),
        (IpAddr::from([10, 9, 0, 1]), port),
        [7, 9],
    );
    c.handshake();
    c
}

/// One connection on `port`: each step's bytes from its side.
fn one(path: &str, port: u16, steps: &[(Side, Vec<u8>)]) -> std::io::Result<()> {
    let mut w = PcapWriter::new(BufWriter::new(File::create(path)?))?;
    let mut c = conversation(1, port);
    for (side, data) in steps {
        send(&mut w, &mut c, *side, data)?;
    }
    c.close();
    flush(&mut w, &mut c)?;
    w.into_inner().flush()
}

fn write(kind: &str, path: &str) -> std::io::Result<()> {
    match kind {
        "smtp-client-lines" => one(
            path,
            25,
            &[
                (Side::Server, b"220 mx ESMTP\r\n".to_vec()),
                (Side::Client, b"X\n".repeat(2 << 20)),
            ],
        ),
        "smtp-server-lines" => {
            let mut server = b"220 mx ESMTP\r\n".to_vec();
            server.extend(b"x\n".repeat(2 << 20));
            one(path, 25, &[(Side::Server, server)])
        }
        "imap-multiappend" => {
            let mut client = b"a1 APPEND INBOX {1+}\r\nX".to_vec();
            client.extend(b" {1+}\r\nX".repeat(1 << 20));
            client.extend_from_slice(b"\r\n");
            one(
                path,
                143,
                &[
                    (Side::Server, b"* OK IMAP4rev1 ready\r\n".to_vec()),
                    (Side::Client, client),
                ],
            )
        }
        "deflate-bomb" => {
            // One deflate stream, flushed at the end only: each 64 KiB segment inflates to
            // many MB.
            let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(b"* OK [ALERT] compressed\r\n")?;
            for _ in 0..100 {
                z.write_all(&b"* 1 EXISTS\r\n".repeat(80_000))?;
            }
            let message = b"Subject: bomb\r\n\r\nbody\r\n";
            for n in 0..2000 {
                z.write_all(format!("* {n} FETCH (BODY[] {{{}}}\r\n", message.len()).as_bytes())?;
                z.write_all(message)?;
                z.write_all(b")\r\n")?;
            }
            z.flush()?;
            let server = z.finish()?;
            let client = {
                let mut z =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
                z.write_all(b"b FETCH 1:* BODY[]\r\n")?;
                z.flush()?;
                z.finish()?
            };
            one(
                path,
                143,
                &[
                    (Side::Server, b"* OK IMAP4rev1 ready\r\n".to_vec()),
                    (Side::Client, b"a COMPRESS DEFLATE\r\n".to_vec()),
                    (Side::Server, b"a OK DEFLATE active\r\n".to_vec()),
                    (Side::Client, client),
                    (Side::Server, server),
                ],
            )
        }
        "data-headers-forever" => {
            // A header block that never ends: 2 M lines without a colon, no blank line.
            let mut body = b"Subject: forever\r\n".to_vec();
            body.extend(b"X\r\n".repeat(2 << 20));
            body.extend_from_slice(b".\r\n");
            one(
                path,
                25,
                &[
                    (Side::Server, b"220 mx ESMTP\r\n".to_vec()),
                    (
                        Side::Client,
                        b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n".to_vec(),
                    ),
                    (Side::Server, b"250 ok\r\n250 ok\r\n354 go\r\n".to_vec()),
                    (Side::Client, body),
                    (Side::Server, b"250 queued\r\n".to_vec()),
                ],
            )
        }
        "one-way" => {
            let mut w = PcapWriter::new(BufWriter::new(File::create(path)?))?;
            let mut c = conversation(1, 9999);
            let mut block = vec![0u8; 1 << 20];
            mailscope::synth::Rng::new(1).fill(&mut block);
            for _ in 0..200 {
                send(&mut w, &mut c, Side::Client, &block)?;
            }
            c.close();
            flush(&mut w, &mut c)?;
            w.into_inner().flush()
        }
        "concurrent" => {
            // Every session has sent most of its message before any finishes.
            let mut w = PcapWriter::new(BufWriter::new(File::create(path)?))?;
            let n = 384u16;
            let mut convs: Vec<Conversation> = (0..n).map(|i| conversation(i, 25)).collect();
            for c in &mut convs {
                send(&mut w, c, Side::Server, b"220 mx ESMTP\r\n")?;
                send(
                    &mut w,
                    c,
                    Side::Client,
                    b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
                )?;
                send(&mut w, c, Side::Server, b"250 ok\r\n250 ok\r\n354 go\r\n")?;
                send(&mut w, c, Side::Client, b"Subject: big\r\n\r\n")?;
            }
            let line = [b'a'; 76];
            let mut piece = Vec::new();
            for _ in 0..(64 << 10) / 78 {
                piece.extend_from_slice(&line);
                piece.extend_from_slice(b"\r\n");
            }
            for _ in 0..16 {
                for c in &mut convs {
                    send(&mut w, c, Side::Client, &piece)?;
                }
            }
            for c in &mut convs {
                send(&mut w, c, Side::Client, b".\r\nQUIT\r\n")?;
                send(&mut w, c, Side::Server, b"250 queued\r\n221 bye\r\n")?;
                c.close();
                flush(&mut w, c)?;
            }
            w.into_inner().flush()
        }
        _ => Err(std::io::Error::other(format!("unknown kind {kind}"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, path] = args.as_slice() else {
        eprintln!("usage: hostile KIND FILE");
        return ExitCode::from(2);
    };
    match write(kind, path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostile: {e}");
            ExitCode::FAILURE
        }
    }
}
