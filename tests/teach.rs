//! Teaching mode from the command line: `mailscope explain TERM` in both languages, the
//! transcript with `--explain` (every line explained, phases as they change), and its flag
//! rules. The knowledge base's coverage is tested in `teach::coverage`.

mod support;

use std::path::Path;
use support::mailscope;

fn sample(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = mailscope().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explain_answers_the_seed_commands_in_both_languages() {
    for verb in [
        "HELO", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "VRFY", "EXPN", "HELP", "NOOP",
    ] {
        let (code, en, _) = run(&["explain", verb]);
        assert_eq!(code, 0, "{verb}");
        assert!(
            en.starts_with(&format!("{verb} — SMTP command (RFC 5321 §4.1.1.")),
            "{en}"
        );
        let (code, zh, _) = run(&["explain", verb, "--lang", "zh"]);
        assert_eq!(code, 0);
        assert!(zh.contains("SMTP 命令") && zh.contains(verb), "{zh}");
    }
    let (_, vrfy, _) = run(&["explain", "VRFY"]);
    assert!(vrfy.to_lowercase().contains("harvest"), "{vrfy}");
}

#[test]
fn explain_looks_up_every_kind_and_suggests_for_the_unknown() {
    for (term, kind) in [
        ("550", "SMTP reply code"),
        ("471", "SMTP reply code"),
        ("PIPELINING", "SMTP capability"),
        ("base64", "MIME term"),
        ("FETCH", "IMAP command"),
        ("UIDVALIDITY", "IMAP response code"),
        ("[IN-USE]", "POP3 response code"),
        ("RETR", "POP3 command"),
        ("flow", "term"),
    ] {
        let (code, out, err) = run(&["explain", term]);
        assert_eq!(code, 0, "{term}: {err}");
        assert!(out.contains(kind), "{term}: {out}");
    }
    let (_, flow, _) = run(&["explain", "flow"]);
    assert!(flow.contains("MUA") && flow.contains("MDA") && flow.contains("587"));
    let (code, out, err) = run(&["explain", "RCTP"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.contains("did you mean") && err.contains("RCPT"),
        "{err}"
    );
}

#[test]
fn explain_follows_lang_and_the_environment() {
    let zh = mailscope()
        .args(["explain", "354"])
        .env("LANG", "zh_CN.UTF-8")
        .env_remove("LC_ALL")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&zh.stdout).contains("应答码"));
    let en = mailscope()
        .args(["explain", "354", "--lang", "en"])
        .env("LANG", "zh_CN.UTF-8")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&en.stdout).contains("reply code"));
    let (code, _, err) = run(&["explain", "354", "--lang", "fr"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_transcript_explains_each_line_and_shows_the_phases() {
    let (code, out, err) = run(&[&sample("smtp-attachment.pcap"), "--explain", "--lang", "en"]);
    assert_eq!(code, 0, "{err}");
    let phases: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("── phase: "))
        .map(|l| l.trim_end_matches(" ──"))
        .collect();
    assert_eq!(phases, ["greeting", "hello", "envelope", "data", "quit"]);
    // The RCPT line is followed by its explanation, with the RFC section.
    let lines: Vec<&str> = out.lines().collect();
    let rcpt = lines
        .iter()
        .position(|l| l.contains("C: RCPT TO:"))
        .unwrap();
    assert!(lines[rcpt + 1].contains("↳") && out.contains("RFC 5321 §4.1.1.3"));
    // 354 says how the body ends; base64 and the attachment are explained once.
    assert!(out.contains("single dot"));
    assert_eq!(out.matches("base64: ").count(), 1, "{out}");
    assert!(out.contains("attachment: "));
    let (_, zh, _) = run(&[&sample("smtp-attachment.pcap"), "--explain", "--lang", "zh"]);
    assert!(
        zh.contains("── 阶段：envelope ──") && zh.contains("RCPT TO"),
        "{zh}"
    );
    // Without --explain, nothing changes (the snapshots say so too).
    let (_, plain, _) = run(&[&sample("smtp-attachment.pcap")]);
    assert!(!plain.contains('↳') && !plain.contains("phase:"));
}

#[test]
fn pop3_and_imap_phases_and_the_334_prompt() {
    let (_, pop3, _) = run(&[&sample("pop3-retr.pcap"), "--explain"]);
    assert!(pop3.contains("── phase: authorization ──"));
    assert!(pop3.contains("── phase: transaction ──"));
    assert!(pop3.contains("── phase: update ──"));
    let (_, imap, _) = run(&[&sample("imap-fetch.pcap"), "--explain"]);
    for p in ["not-authenticated", "authenticated", "selected", "logout"] {
        assert!(imap.contains(&format!("── phase: {p} ──")), "{p}");
    }
    let (_, login, _) = run(&[&sample("submission-auth-login.pcap"), "--explain"]);
    assert!(
        login.contains("decoded from base64: \"Username:\""),
        "{login}"
    );
    // The client's answer is base64 too: the user name decoded, the password never shown.
    assert!(login.contains("decoded: \"alice\""), "{login}");
    assert!(!login.contains("Wonderland"));
}

#[test]
fn explain_is_for_the_text_transcript() {
    let (code, _, err) = run(&[&sample("pop3-retr.pcap"), "--explain", "--format", "json"]);
    assert_eq!(code, 2);
    assert!(err.contains("--explain"));
    let (code, _, err) = run(&[&sample("pop3-retr.pcap"), "--lang", "zh"]);
    assert_eq!(code, 2);
    assert!(err.contains("--explain"));
}

#[test]
fn imap_capabilities_are_explained_and_looked_up_by_family() {
    let (_, imap, _) = run(&[&sample("imap-fetch.pcap"), "--explain"]);
    assert!(imap.contains("↳ IDLE — "), "{imap}");
    assert!(imap.contains("↳ LITERAL+ — "));
    let (code, out, _) = run(&["explain", "AUTH=PLAIN"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("AUTH= — IMAP capability"), "{out}");
}

#[test]
fn several_terms_are_each_looked_up() {
    let (code, out, err) = run(&["explain", "RCPT", "550", "bogus"]);
    assert_eq!(code, 1);
    assert!(out.contains("RCPT — SMTP command") && out.contains("550 — SMTP reply code"));
    assert!(err.contains("\"bogus\""), "{err}");
    let (code, _, err) = run(&["explain", ""]);
    assert_eq!(code, 1);
    assert!(err.contains("empty"));
    let long = "x".repeat(10_000);
    let (code, _, err) = run(&["explain", &long]);
    assert_eq!(code, 1);
    assert!(err.len() < 300, "the term is cut in the message");
}

#[test]
fn in_chinese_the_english_notes_give_way_to_the_explanations() {
    let (_, zh, _) = run(&[
        &sample("submission-auth-login.pcap"),
        "--explain",
        "--lang",
        "zh",
    ]);
    for english in [
        "# extended hello",
        "# greeting",
        "# SASL response",
        "# envelope recipient",
    ] {
        assert!(!zh.contains(english), "{english} in the Chinese transcript");
    }
    // The latency stays.
    assert!(zh.contains(" ms)"));
    let (_, en, _) = run(&[&sample("submission-auth-login.pcap"), "--explain"]);
    assert!(en.contains("# extended hello") && en.contains("# SASL response"));
}
