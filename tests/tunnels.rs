//! Tunnelled sessions end to end (issue 8, item 4): mail inside IP-in-IP and GRE packets is
//! followed as if it were plain.

mod support;

use mailscope::synth::{self, Conversation, Encap, PcapWriter, Rng, Side, SynthFrame};
use std::net::IpAddr;
use std::path::Path;
use support::*;

fn write_pcap(path: &Path, frames: &[SynthFrame]) {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    std::fs::write(path, w.into_inner()).unwrap();
}

/// A whole mail session (`protocol`: 0 SMTP, 1 POP3, 2 IMAP) between two hosts.
fn mail_frames(client: &str, server: &str, port: u16, protocol: u8) -> Vec<SynthFrame> {
    let mut rng = Rng::new(77);
    let message = synth::mail_message(&mut rng, 3, 5000);
    let mut conv = Conversation::new((ip(client), 40100), (ip(server), port), [10, 20]);
    conv.handshake();
    for (side, data) in synth::session_script(protocol, &message) {
        conv.send(side, &data);
        conv.ack(match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
    }
    conv.close();
    conv.frames
}

/// Runs the main job on `frames` and returns its session lines (JSON).
fn sessions_of(frames: &[SynthFrame], extra: &[&str]) -> (Vec<String>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.pcap");
    write_pcap(&file, frames);
    let out = mailscope()
        .arg(&file)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut summary = serde_json::Value::Null;
    let mut sessions = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "summary" {
            summary = v;
        } else {
            sessions.push(line.to_string());
        }
    }
    (sessions, summary)
}

fn wrap(frames: &[SynthFrame], outer: (IpAddr, IpAddr), how: Encap) -> Vec<SynthFrame> {
    frames
        .iter()
        .map(|f| SynthFrame {
            data: synth::encapsulate(&f.data, outer, how),
            ..f.clone()
        })
        .collect()
}

/// Sessions with every frame number removed (fragmenting adds frames).
fn without_frames(sessions: &[String]) -> Vec<serde_json::Value> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("frame");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    sessions
        .iter()
        .map(|s| {
            let mut v = serde_json::from_str(s).unwrap();
            strip(&mut v);
            v
        })
        .collect()
}

fn v4_outer() -> (IpAddr, IpAddr) {
    (ip("198.51.100.1"), ip("198.51.100.2"))
}

/// The plain session, for comparison; it has one session with one message.
fn plain(frames: &[SynthFrame]) -> Vec<String> {
    let (sessions, _) = sessions_of(frames, &[]);
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].contains("\"sha256\""), "{}", sessions[0]);
    sessions
}

#[test]
fn smtp_in_6in4_reads_as_plain() {
    let frames = mail_frames("2001:db8::1", "2001:db8::25", 25, 0);
    let want = plain(&frames);
    let (got, _) = sessions_of(&wrap(&frames, v4_outer(), Encap::IpInIp), &[]);
    assert_eq!(got, want);
}

#[test]
fn pop3_in_ipv4_in_ipv4_reads_as_plain() {
    let frames = mail_frames("10.9.0.1", "10.9.0.2", 110, 1);
    let want = plain(&frames);
    let (got, _) = sessions_of(&wrap(&frames, v4_outer(), Encap::IpInIp), &[]);
    assert_eq!(got, want);
}

#[test]
fn gre_with_every_optional_field_reads_as_plain() {
    for (inner, outer) in [
        (("10.9.0.1", "10.9.0.2"), v4_outer()),
        (("2001:db8::1", "2001:db8::25"), v4_outer()),
        (
            ("10.9.0.1", "10.9.0.2"),
            (ip("2001:db8:f::1"), ip("2001:db8:f::2")),
        ),
    ] {
        let frames = mail_frames(inner.0, inner.1, 25, 0);
        let want = plain(&frames);
        for how in [
            Encap::Gre {
                checksum: false,
                key: None,
                seq: None,
            },
            Encap::Gre {
                checksum: true,
                key: Some(0xdead_beef),
                seq: Some(7),
            },
            Encap::Gre {
                checksum: false,
                key: Some(1),
                seq: None,
            },
            Encap::GreEthernet,
            Encap::Erspan2,
        ] {
            let (got, _) = sessions_of(&wrap(&frames, outer, how), &[]);
            assert_eq!(got, want, "{how:?} over {outer:?}");
        }
    }
}

#[test]
fn imap_in_gre_in_6in4_reads_as_plain() {
    let frames = mail_frames("10.9.0.1", "10.9.0.2", 143, 2);
    let want = plain(&frames);
    let gre = Encap::Gre {
        checksum: false,
        key: Some(5),
        seq: None,
    };
    let inner = wrap(&frames, (ip("2001:db8:1::1"), ip("2001:db8:1::2")), gre);
    let (got, _) = sessions_of(&wrap(&inner, v4_outer(), Encap::IpInIp), &[]);
    assert_eq!(got, want);
}

/// Fragmented tunnel packets (a router fragmenting the outer IPv4 datagram), fragments
/// carried in a tunnel (the sender fragmenting before encapsulation), and both at once.
#[test]
fn fragments_outside_and_inside_the_tunnel_are_reassembled() {
    let frames = mail_frames("10.9.0.1", "10.9.0.2", 25, 0);
    let want = without_frames(&plain(&frames));
    let gre = Encap::Gre {
        checksum: true,
        key: None,
        seq: Some(1),
    };
    let split = |frames: &[SynthFrame], size| -> Vec<SynthFrame> {
        frames
            .iter()
            .flat_map(|f| {
                synth::fragment_ipv4(&f.data, size)
                    .into_iter()
                    .map(|data| SynthFrame { data, ..f.clone() })
            })
            .collect()
    };
    let outer_fragments = split(&wrap(&frames, v4_outer(), gre), 512);
    assert!(outer_fragments.len() > frames.len() + 5);
    let (got, summary) = sessions_of(&outer_fragments, &[]);
    assert_eq!(without_frames(&got), want, "outer fragments");
    assert!(summary["ip_fragments"].as_u64().unwrap() > 10);

    let inner_fragments = wrap(&split(&frames, 600), v4_outer(), Encap::IpInIp);
    let (got, _) = sessions_of(&inner_fragments, &[]);
    assert_eq!(without_frames(&got), want, "inner fragments");

    let both = split(&wrap(&split(&frames, 600), v4_outer(), gre), 256);
    let (got, _) = sessions_of(&both, &[]);
    assert_eq!(
        without_frames(&got),
        want,
        "fragments of tunnelled fragments"
    );
}

/// `Limits::max_tunnel_depth` (4): four layers are peeled, a fifth makes the frame skipped
/// as malformed, so a hostile packet cannot make the decoder recurse.
#[test]
fn tunnel_nesting_is_bounded() {
    let frames = mail_frames("10.9.0.1", "10.9.0.2", 25, 0);
    let want = plain(&frames);
    let mut nested = frames.clone();
    for _ in 0..4 {
        nested = wrap(&nested, v4_outer(), Encap::IpInIp);
    }
    let (got, _) = sessions_of(&nested, &[]);
    assert_eq!(got, want, "four layers");
    let nested = wrap(&nested, v4_outer(), Encap::GreEthernet);
    let (got, summary) = sessions_of(&nested, &[]);
    assert!(got.is_empty(), "five layers: {got:?}");
    assert_eq!(summary["frames_malformed"], frames.len() as u64);
}
