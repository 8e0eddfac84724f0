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
    let (got, summary) = sessions_of(&nested, &[]);
    assert_eq!(got, want, "four layers");
    assert_eq!(summary["frames_tunnelled"], frames.len() as u64);
    let nested = wrap(&nested, v4_outer(), Encap::GreEthernet);
    let (got, summary) = sessions_of(&nested, &[]);
    assert!(got.is_empty(), "five layers: {got:?}");
    assert_eq!(summary["frames_malformed"], frames.len() as u64);
    assert_eq!(summary["frames_tunnels_too_deep"], frames.len() as u64);
}

/// A mail session (`protocol` as in [`synth::session_script`]) behind the proxy `setup`
/// steps, on `port`.
fn proxied(port: u16, setup: &[(Side, &[u8])], protocol: u8) -> Vec<SynthFrame> {
    let mut rng = Rng::new(77);
    let message = synth::mail_message(&mut rng, 3, 5000);
    let mut conv = Conversation::new((ip("10.8.0.1"), 40200), (ip("10.8.0.2"), port), [1, 2]);
    conv.handshake();
    let script = synth::session_script(protocol, &message);
    let steps = setup.iter().map(|(s, d)| (*s, d.to_vec())).chain(script);
    for (side, data) in steps {
        conv.send(side, &data);
        conv.ack(match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
    }
    conv.close();
    conv.frames
}

/// Each exchange's verb, arguments and status.
type Exchanges = Vec<(String, String, String)>;

/// Each exchange's verb, arguments and status; each message's exchange and hash.
fn outline(session: &str) -> (Exchanges, Vec<(u64, String)>) {
    let v: serde_json::Value = serde_json::from_str(session).unwrap();
    let exchanges = v["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let c = &e["command"];
            (
                c["verb"].as_str().unwrap_or("").to_string(),
                c["args"].as_str().unwrap_or("").to_string(),
                e["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let messages = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["exchange"].as_u64().unwrap(),
                m["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (exchanges, messages)
}

/// The tunnelled session reads like the plain one, after one proxy exchange in front.
fn check_tunnelled(
    frames: &[SynthFrame],
    extra: &[&str],
    protocol: u8,
    port: u16,
    proxy: (&str, &str, &str),
) -> serde_json::Value {
    let (plain, _) = sessions_of(&mail_frames("10.9.0.1", "10.9.0.2", port, protocol), extra);
    let (want_ex, want_msgs) = outline(&plain[0]);
    let (got, _) = sessions_of(frames, extra);
    assert_eq!(got.len(), 1, "{got:?}");
    let (ex, msgs) = outline(&got[0]);
    let (verb, target, status) = proxy;
    assert_eq!(ex[0], (verb.into(), target.into(), status.into()));
    assert_eq!(ex[1..], want_ex[..]);
    let shifted: Vec<_> = want_msgs.into_iter().map(|(e, h)| (e + 1, h)).collect();
    assert_eq!(msgs, shifted);
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v["protocol"], plain_protocol(protocol));
    v
}

fn plain_protocol(protocol: u8) -> &'static str {
    ["smtp", "pop3", "imap"][usize::from(protocol)]
}

const HTTP_CONNECT: &[(Side, &[u8])] = &[
    (
        Side::Client,
        b"CONNECT mail.example.test:25 HTTP/1.1\r\nHost: mail.example.test:25\r\n\r\n",
    ),
    (Side::Server, b"HTTP/1.1 200 Connection established\r\n\r\n"),
];

#[test]
fn smtp_via_http_connect_on_8080() {
    let v = check_tunnelled(
        &proxied(8080, HTTP_CONNECT, 0),
        &[],
        0,
        25,
        ("CONNECT", "mail.example.test:25", "200"),
    );
    assert_eq!(v["tunnel"]["kind"], "http-connect");
    assert_eq!(v["tunnel"]["target"], "mail.example.test:25");
    assert_eq!(v["tunnel"]["proxy"]["port"], 8080);
    // The text header names the tunnel.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.pcap");
    write_pcap(&file, &proxied(8080, HTTP_CONNECT, 0));
    let out = mailscope().arg(&file).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(" · via HTTP CONNECT proxy to mail.example.test:25"),
        "{text}"
    );
}

#[test]
fn pop3_via_socks4_on_1080() {
    let setup: &[(Side, &[u8])] = &[
        (Side::Client, b"\x04\x01\x00\x6e\xc0\x00\x02\x6e\x00"),
        (Side::Server, b"\x00\x5a\x00\x00\x00\x00\x00\x00"),
    ];
    let v = check_tunnelled(
        &proxied(1080, setup, 1),
        &[],
        1,
        110,
        ("SOCKS4 CONNECT", "192.0.2.110:110", "0x5a"),
    );
    assert_eq!(v["tunnel"]["kind"], "socks4");
}

const SOCKS5_AUTH: &[(Side, &[u8])] = &[
    (Side::Client, b"\x05\x01\x02"),
    (Side::Server, b"\x05\x02"),
    (Side::Client, b"\x01\x05proxy\x0bProxyPass-9"),
    (Side::Server, b"\x01\x00"),
    (
        Side::Client,
        b"\x05\x01\x00\x03\x11imap.example.test\x00\x8f",
    ),
    (Side::Server, b"\x05\x00\x00\x01\x0a\x08\x00\x02\x9c\x40"),
];

#[test]
fn imap_via_socks5_with_password_redacted_unless_asked() {
    let frames = proxied(1080, SOCKS5_AUTH, 2);
    let v = check_tunnelled(
        &frames,
        &[],
        2,
        143,
        ("SOCKS5 CONNECT", "imap.example.test:143", "succeeded"),
    );
    assert_eq!(v["tunnel"]["kind"], "socks5");
    assert_eq!(v["tunnel"]["user"], "proxy");
    assert_eq!(v["tunnel"]["password"], "<redacted>");
    assert!(!v.to_string().contains("ProxyPass-9"));
    let v = check_tunnelled(
        &frames,
        &["--show-secrets"],
        2,
        143,
        ("SOCKS5 CONNECT", "imap.example.test:143", "succeeded"),
    );
    assert_eq!(v["tunnel"]["password"], "ProxyPass-9");
    assert_eq!(
        v["exchanges"][0]["client_lines"][1]["text"],
        "username/password: proxy ProxyPass-9"
    );
}

#[test]
fn smtp_via_socks5_on_another_port_needs_all_ports() {
    let setup: &[(Side, &[u8])] = &[
        (Side::Client, b"\x05\x01\x00"),
        (Side::Server, b"\x05\x00"),
        (Side::Client, b"\x05\x01\x00\x01\xc0\x00\x02\x19\x00\x19"),
        (Side::Server, b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
    ];
    let frames = proxied(9050, setup, 0);
    let (none, _) = sessions_of(&frames, &[]);
    assert!(none.is_empty());
    check_tunnelled(
        &frames,
        &["--all-ports"],
        0,
        25,
        ("SOCKS5 CONNECT", "192.0.2.25:25", "succeeded"),
    );
}

#[test]
fn refused_connect_is_not_mail() {
    let setup: &[(Side, &[u8])] = &[
        (
            Side::Client,
            b"CONNECT mail.example.test:25 HTTP/1.1\r\n\r\n",
        ),
        (
            Side::Server,
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        ),
    ];
    let (got, _) = sessions_of(&proxied(8080, setup, 0), &[]);
    assert!(got.is_empty(), "{got:?}");
}

/// However the proxy setup and the first mail bytes are cut into segments, the session is
/// the same.
#[test]
fn segment_sizes_do_not_matter() {
    let (want, _) = sessions_of(&proxied(1080, SOCKS5_AUTH, 2), &[]);
    for mss in [1, 3, 7] {
        let mut rng = Rng::new(77);
        let message = synth::mail_message(&mut rng, 3, 5000);
        let mut conv = Conversation::new((ip("10.8.0.1"), 40200), (ip("10.8.0.2"), 1080), [1, 2]);
        conv.handshake();
        // The setup and the greeting in one burst per side, cut small.
        conv.mss = mss;
        let mut client = Vec::new();
        for (s, d) in SOCKS5_AUTH {
            if *s == Side::Client {
                client.extend_from_slice(d);
            }
        }
        conv.send(Side::Client, &client);
        let mut server = Vec::new();
        for (s, d) in SOCKS5_AUTH {
            if *s == Side::Server {
                server.extend_from_slice(d);
            }
        }
        conv.send(Side::Server, &server);
        conv.mss = 1448;
        for (side, data) in synth::session_script(2, &message) {
            conv.send(side, &data);
        }
        conv.close();
        let (got, _) = sessions_of(&conv.frames, &[]);
        assert_eq!(got.len(), 1);
        assert_eq!(outline(&got[0]), outline(&want[0]), "mss {mss}");
    }
}

#[test]
fn flows_names_the_protocol_inside_the_tunnel() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.pcap");
    let mut frames = proxied(1080, SOCKS5_AUTH, 2);
    // A proxy connection without a tunnel: not listed (it is no mail).
    let mut web = Conversation::new((ip("10.8.0.5"), 40300), (ip("10.8.0.2"), 3128), [3, 4]);
    web.handshake();
    web.send(Side::Client, b"GET http://example.test/ HTTP/1.1\r\n\r\n");
    web.send(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    web.close();
    frames.extend(web.frames);
    write_pcap(&file, &frames);
    let run = flows(&file, &[]);
    assert_eq!(run.flows.len(), 1, "{:?}", run.flows);
    let f = &run.flows[0];
    assert_eq!((f.protocol.as_str(), f.server.port), ("imap", 1080));
    let out = mailscope()
        .args(["flows", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(v["recognised_by"], "content");
    assert_eq!(v["tunnel"], "socks5 proxy to imap.example.test:143");
    let run = flows(&file, &["--all-ports"]);
    assert_eq!(run.flows.len(), 2);
}

#[test]
fn tunnelled_sessions_match_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/session.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for extra in [&[][..], &["--show-secrets"][..]] {
        let (got, summary) = sessions_of(&proxied(1080, SOCKS5_AUTH, 2), extra);
        for v in got
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .chain([summary])
        {
            let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}");
        }
    }
    // The tunnel's kind is checked: the schema is not vacuous here.
    let (got, _) = sessions_of(&proxied(1080, SOCKS5_AUTH, 2), &[]);
    let mut v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    v["tunnel"]["kind"] = "socks6".into();
    assert!(!validator.is_valid(&v));
}
