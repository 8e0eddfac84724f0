//! Writes the project's synthetic captures.
//!
//!   cargo run --release --example synth -- sample FILE
//!       the disorder sample (reordering, retransmission, overlap, one lost segment)
//!   cargo run --release --example synth -- traffic FILE MEGABYTES [--disorder] [--tls]
//!           [--concurrency N] [--attachments MIN-MAX]
//!       benchmark traffic: concurrent SMTP/POP3/IMAP sessions with large attachments;
//!       `--concurrency N`: sessions open at once (default 64; the benchmark's captures);
//!       `--attachments MIN-MAX`: attachment sizes in bytes, MIN up to but not including
//!       MAX (default 16384-1048576; small
//!       ones make many small messages);
//!       `--disorder`: delayed ACKs every second segment, 2 % of data segments held back
//!       1–3 frames (often behind the ACK covering them), 1 % retransmitted;
//!       `--tls`: the same sessions as implicit TLS on 465/995/993 (TLS 1.3 AES-128-GCM, every
//!       fourth TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256), their secrets in `FILE.keys` (NSS key log)

use mailscope::synth;
use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

/// Sessions open at once in `traffic` unless `--concurrency` says otherwise: the benchmark's
/// captures (and the figures quoted for them) are made with it.
const DEFAULT_CONCURRENCY: usize = 64;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result: std::io::Result<()> = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["sample", path] => (|| -> std::io::Result<()> {
            let (frames, _, _, _) = synth::disorder_sample();
            let mut w = synth::PcapWriter::new(File::create(path)?)?;
            for f in &frames {
                w.frame(f.ts, &f.data, f.data.len())?;
            }
            Ok(())
        })(),
        ["traffic", path, mb, rest @ ..] => (|| -> std::io::Result<()> {
            let mb: u64 = mb.parse().map_err(|_| std::io::Error::other("MEGABYTES"))?;
            let (mut disorder, mut tls, mut concurrency) = (false, false, DEFAULT_CONCURRENCY);
            let mut attachments = synth::ATTACHMENTS;
            let mut options = rest.iter();
            while let Some(&option) = options.next() {
                match option {
                    "--disorder" => disorder = true,
                    "--tls" => tls = true,
                    "--concurrency" => {
                        concurrency = options
                            .next()
                            .and_then(|n| n.parse().ok())
                            .filter(|&n: &usize| n > 0)
                            .ok_or_else(|| std::io::Error::other("--concurrency N (N > 0)"))?;
                    }
                    "--attachments" => {
                        attachments = options
                            .next()
                            .and_then(|r| r.split_once('-'))
                            .and_then(|(a, b)| Some(a.parse().ok()?..b.parse().ok()?))
                            .filter(|r: &std::ops::Range<usize>| r.start < r.end)
                            .ok_or_else(|| std::io::Error::other("--attachments MIN-MAX"))?;
                    }
                    _ => return Err(std::io::Error::other(format!("unknown option {option}"))),
                }
            }
            let mut keys = match tls {
                true => Some(BufWriter::new(File::create(format!("{path}.keys"))?)),
                false => None,
            };
            let n = synth::write_traffic_with(
                File::create(path)?,
                keys.as_mut().map(|k| k as &mut dyn std::io::Write),
                mb << 20,
                concurrency,
                disorder,
                attachments,
            )?;
            eprintln!("{path}: {n} sessions, at most {concurrency} open at once");
            Ok(())
        })(),
        _ => {
            eprintln!(
                "usage: synth sample FILE | synth traffic FILE MEGABYTES [--disorder] [--tls] \
                 [--concurrency N] [--attachments MIN-MAX]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth: {e}");
            ExitCode::FAILURE
        }
    }
}
