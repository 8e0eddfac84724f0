//! The benchmark's TLS variant (`synth traffic FILE SIZE --tls`) against the decryptor: the
//! same generated sessions, once in clear and once as implicit TLS with their key log, must
//! give the same transcripts (commands, replies, message hashes); with an empty key log each
//! session says why it was not decrypted.

use mailscope::pipeline::{InputConfig, SessionsConfig, sessions};
use serde_json::Value;
use std::fs::File;
use std::path::Path;

/// Every session of `file` as JSON, read with `keylog`.
fn run(file: &Path, keylog: Option<&Path>) -> Vec<Value> {
    let cfg = SessionsConfig {
        tls_keylog: keylog.map(Path::to_path_buf),
        ..SessionsConfig::new(InputConfig::files(vec![
            file.to_string_lossy().into_owned(),
        ]))
    };
    let mut out = Vec::new();
    let mut sink = |s: mailscope::session::Session| {
        out.push(serde_json::to_value(&s).unwrap());
        Ok(())
    };
    let outcome = sessions(&cfg, &mut sink, &mut |_| {}).unwrap();
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    out
}

/// What the client and server said: protocol, each exchange's command and reply lines, and
/// each message's SHA-256.
fn transcript(s: &Value) -> Value {
    let exchanges: Vec<Value> = s["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let replies: Vec<&Value> = e["replies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| &r["lines"])
                .collect();
            serde_json::json!([e["command"]["raw"], replies])
        })
        .collect();
    let messages: Vec<&Value> = s["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["sha256"])
        .collect();
    serde_json::json!({"protocol": s["protocol"], "exchanges": exchanges, "messages": messages})
}

fn anomalies(s: &Value) -> Vec<&str> {
    s["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect()
}

/// A few MB of traffic (16 concurrent sessions), in clear and as TLS with its key log.
fn generate(dir: &Path, disorder: bool) -> (std::path::PathBuf, std::path::PathBuf) {
    let (clear, tls, keys) = (
        dir.join("clear.pcap"),
        dir.join("tls.pcap"),
        dir.join("tls.pcap.keys"),
    );
    let n = mailscope::synth::write_mail_traffic(File::create(&clear).unwrap(), 3 << 20, 16, false)
        .unwrap();
    let mut log = File::create(&keys).unwrap();
    let m = mailscope::synth::write_traffic(
        File::create(&tls).unwrap(),
        Some(&mut log),
        3 << 20,
        16,
        disorder,
    )
    .unwrap();
    assert_eq!(n, m, "the TLS variant holds the same sessions");
    (clear, tls)
}

#[test]
fn tls_traffic_decrypts_to_the_clear_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (clear, tls) = generate(dir.path(), false);
    let keys = dir.path().join("tls.pcap.keys");
    let plain = run(&clear, None);
    let decrypted = run(&tls, Some(&keys));
    assert!(plain.len() >= 4, "{} sessions", plain.len());
    assert_eq!(plain.len(), decrypted.len());
    let mut versions = std::collections::BTreeSet::new();
    for (p, d) in plain.iter().zip(&decrypted) {
        assert_eq!(transcript(p), transcript(d), "session {}", d["id"]);
        assert!(!p["messages"].as_array().unwrap().is_empty());
        let t = &d["tls"];
        assert_eq!(t["mode"], "implicit");
        assert_eq!(t["decrypted"], true, "{t}");
        assert_eq!(t["sni"], "mail.example.test");
        assert!(t.get("resumed").is_none_or(|r| r == false), "{t}");
        assert!(anomalies(d).is_empty(), "{:?}", anomalies(d));
        versions.insert(format!("{} {}", t["version"], t["cipher"]));
    }
    assert_eq!(
        versions.into_iter().collect::<Vec<_>>(),
        [
            r#""TLS 1.2" "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256""#,
            r#""TLS 1.3" "TLS_AES_128_GCM_SHA256""#
        ]
    );
}

#[test]
fn disordered_tls_traffic_decrypts_to_the_clear_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (clear, tls) = generate(dir.path(), true);
    let plain = run(&clear, None);
    let decrypted = run(&tls, Some(&dir.path().join("tls.pcap.keys")));
    assert_eq!(plain.len(), decrypted.len());
    for (p, d) in plain.iter().zip(&decrypted) {
        assert_eq!(transcript(p), transcript(d), "session {}", d["id"]);
        assert_eq!(d["tls"]["decrypted"], true);
    }
}

#[test]
fn tls_traffic_without_its_keys_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (_, tls) = generate(dir.path(), false);
    let empty = dir.path().join("empty.keys");
    File::create(&empty).unwrap();
    let with_empty = run(&tls, Some(&empty));
    assert!(!with_empty.is_empty());
    for s in &with_empty {
        assert_eq!(s["tls"]["decrypted"], false, "{}", s["tls"]);
        assert_eq!(
            s["tls"]["not_decrypted"],
            "no key in the key log for this session"
        );
        assert_eq!(anomalies(s), ["tls-no-key"]);
        assert!(s["exchanges"].as_array().unwrap().is_empty());
    }
    // No key log at all: said in the session, not an anomaly.
    for s in &run(&tls, None) {
        assert_eq!(s["tls"]["decrypted"], false);
        assert!(anomalies(s).is_empty(), "{:?}", anomalies(s));
    }
}
