//! Golden snapshots of `mailscope flows` for every capture in samples/, in every output
//! format, and checks of what each sample is known to contain.

mod support;

use std::path::{Path, PathBuf};
use support::*;

fn samples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "pcap" || e == "pcapng" || e == "gz")
            })
            .collect();
    v.sort();
    assert!(v.len() >= 7, "samples/ holds the sample captures");
    v
}

fn name(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// One snapshot per sample and format (`insta::glob!`): every sample is checked even when
/// an earlier one fails; a failed run is reported after all of them.
#[test]
fn flows_json_snapshots() {
    let mut failed = Vec::new();
    insta::glob!("../samples", "*.{pcap,pcapng,gz}", |file| {
        let out = mailscope()
            .arg("flows")
            .arg(file)
            .arg("--json")
            .output()
            .unwrap();
        if !out.status.success() {
            failed.push(file.display().to_string());
        }
        let text = String::from_utf8(out.stdout).unwrap();
        // The input path differs between machines; everything else is stable.
        let text = text.replace(&file.display().to_string(), "<input>");
        insta::assert_snapshot!("flows_json", text);
    });
    assert!(failed.is_empty(), "failed: {failed:?}");
}

#[test]
fn flows_table_snapshots() {
    let mut failed = Vec::new();
    insta::glob!("../samples", "*.{pcap,pcapng,gz}", |file| {
        let out = mailscope().arg("flows").arg(file).output().unwrap();
        if !out.status.success() {
            failed.push(file.display().to_string());
        }
        insta::assert_snapshot!("flows_table", String::from_utf8(out.stdout).unwrap());
    });
    assert!(failed.is_empty(), "failed: {failed:?}");
}

#[test]
fn synthetic_sample_is_what_the_generator_writes_and_reassembles_exactly() {
    let (frames, client, server, (gap_at, gap_len)) = mailscope::synth::disorder_sample();
    let mut w = mailscope::synth::PcapWriter::new(Vec::new()).unwrap();
    for f in &frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/synthetic-disorder.pcap");
    assert!(
        std::fs::read(&file).unwrap() == w.into_inner(),
        "samples/synthetic-disorder.pcap is stale: cargo run --example synth -- sample {}",
        file.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let run = flows(&file, &["--write-streams", dir.path().to_str().unwrap()]);
    let f = &run.flows[0];
    assert_eq!(
        f.gap_list.as_ref().unwrap().client,
        vec![Gap {
            offset: gap_at,
            len: gap_len
        }]
    );
    assert_eq!(f.retransmissions.client, 2);
    let s = f.streams.as_ref().unwrap();
    let got = std::fs::read(&s.client).unwrap();
    let (a, b) = (gap_at as usize, (gap_at + gap_len) as usize);
    assert_eq!(got.len(), client.len());
    assert_eq!(got[..a], client[..a]);
    assert_eq!(got[b..], client[b..]);
    assert_eq!(std::fs::read(&s.server).unwrap(), server);
}

#[test]
fn real_samples_are_complete_gapless_mail_sessions() {
    for file in samples()
        .iter()
        .filter(|f| !name(f).starts_with("synthetic"))
    {
        let run = flows(file, &[]);
        assert_eq!(run.flows.len(), 1, "{}", file.display());
        let f = &run.flows[0];
        // Python's ssl closes an implicit-TLS connection with a reset after its
        // close_notify: every byte was still seen.
        let tls = name(file).contains("tls");
        assert!(
            f.state == "complete" || tls && f.state == "reset",
            "{}: {}",
            file.display(),
            f.state
        );
        assert_eq!(
            f.gaps,
            PerSide {
                client: 0,
                server: 0
            }
        );
        let want = match f.server.port {
            25 | 587 | 465 => "smtp",
            110 | 995 => "pop3",
            143 | 993 => "imap",
            p => panic!("unexpected port {p}"),
        };
        assert_eq!(f.protocol, want);
    }
}
