//! Writes the project's synthetic captures.
//!
//!   cargo run --release --example synth -- sample FILE
//!       the disorder sample (reordering, retransmission, overlap, one lost segment)
//!   cargo run --release --example synth -- traffic FILE MEGABYTES [--disorder] [--tls]
//!       benchmark traffic: concurrent SMTP/POP3/IMAP sessions with large attachments;
//!       `--disorder`: delayed ACKs every second segment, 2 % of data segments held back
//!       1–3 frames (often behind the ACK covering them), 1 % retransmitted;
//!       `--tls`: the same sessions as implicit TLS on 465/995/993 (TLS 1.3 AES-128-GCM, every
//!       fourth TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256), their secrets in `FILE.keys` (NSS key log)

use mailscope::synth;
use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

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
            let disorder = rest.contains(&"--disorder");
            let n = if rest.contains(&"--tls") {
                let mut keys = BufWriter::new(File::create(format!("{path}.keys"))?);
                synth::write_traffic(File::create(path)?, Some(&mut keys), mb << 20, 64, disorder)?
            } else {
                synth::write_mail_traffic(File::create(path)?, mb << 20, 64, disorder)?
            };
            eprintln!("{path}: {n} sessions");
            Ok(())
        })(),
        _ => {
            eprintln!(
                "usage: synth sample FILE | synth traffic FILE MEGABYTES [--disorder] [--tls]"
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
