//! The coverage test: the knowledge base explains every word of every vocabulary in
//! `proto::vocab`, plus the reply classes, the phases and the MIME terms, in both languages,
//! and holds no key that nothing knows (a typo would otherwise sit there unused).

use super::{FILES, Kb, Kind, Scope, kb};
use crate::proto::vocab::{Entry as Word, common, imap, mime, pop3, smtp};
use std::collections::{HashMap, HashSet};

/// The phases the issue names for each protocol.
const SMTP_PHASES: &[&str] = &[
    "greeting", "hello", "tls", "auth", "envelope", "data", "quit",
];
const POP3_PHASES: &[&str] = &["AUTHORIZATION", "TRANSACTION", "UPDATE"];
const IMAP_PHASES: &[&str] = &["not authenticated", "authenticated", "selected", "logout"];
/// The status responses of POP3 and IMAP (no vocabulary lists them).
/// The MIME terms (kb/mime.toml) and general ones (kb/common.toml) the lesson uses.
const MIME_TERMS: &[&str] = &[
    "base64",
    "quoted-printable",
    "encoded-word",
    "boundary",
    "multipart",
    "multipart/mixed",
    "multipart/alternative",
    "multipart/related",
    "inline",
    "attachment",
    "charset",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "7bit",
    "8bit",
    "binary",
    "message/rfc822",
    "header",
    "body",
    "envelope",
];
const COMMON_TERMS: &[&str] = &["MUA", "MSA", "MTA", "MDA", "MX", "flow"];

fn cjk(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}'))
}

/// The check, collecting every problem so one run lists them all.
struct Coverage<'a> {
    kb: &'a Kb,
    /// Keys each (file, table) may hold: what its vocabulary knows.
    known: HashMap<(Scope, Kind), HashSet<String>>,
    problems: Vec<String>,
}

impl Coverage<'_> {
    /// `key` has an entry in (scope, kind): non-empty en and zh, zh in Chinese; `keyword`:
    /// the zh text keeps the key itself (protocol keywords are explained, not translated);
    /// `rfc`: the RFC the vocabulary cites, which the entry must cite too.
    fn require(&mut self, scope: Scope, kind: Kind, key: &str, keyword: bool, rfc: Option<&str>) {
        self.known
            .entry((scope, kind))
            .or_default()
            .insert(super::fold(key));
        let Some(e) = self.kb.get(scope, kind, key) else {
            self.problems
                .push(format!("{scope}: no [{kind}.\"{key}\"]"));
            return;
        };
        let at = format!("{scope} [{kind}.\"{key}\"]");
        if e.en.trim().is_empty() {
            self.problems.push(format!("{at}: en is empty"));
        }
        if e.zh.trim().is_empty() || !cjk(&e.zh) {
            self.problems
                .push(format!("{at}: zh is empty or not Chinese"));
        }
        // Terms may show Chinese in English (an encoded word beside its decoded text).
        if kind != Kind::Term && cjk(&e.en) {
            self.problems.push(format!("{at}: en holds Chinese"));
        }
        if keyword
            && !e
                .zh
                .to_ascii_uppercase()
                .contains(&key.to_ascii_uppercase())
        {
            self.problems.push(format!("{at}: zh does not name {key}"));
        }
        if let Some(rfc) = rfc.and_then(rfc_number) {
            match &e.rfc {
                Some(r) if r.contains(&rfc) => {}
                other => self
                    .problems
                    .push(format!("{at}: rfc {other:?} does not cite {rfc}")),
            }
        }
    }

    /// Every word of vocabulary `T`.
    fn vocabulary<T: Word>(&mut self, scope: Scope, kind: Kind) {
        let keyword = matches!(kind, Kind::Verb | Kind::Capability);
        for &w in T::ALL {
            self.require(scope, kind, w.word(), keyword, Some(w.rfc()));
        }
    }

    /// Every key of `list` (kinds without a vocabulary).
    fn list(&mut self, scope: Scope, kind: Kind, list: &[&str]) {
        for key in list {
            self.require(scope, kind, key, false, None);
        }
    }

    /// No key of a vocabulary's table that the vocabulary does not know; no table a file
    /// should not have. Terms are free, and so are phases beyond the required ones.
    fn no_strangers(&mut self) {
        for h in self.kb.iter() {
            if h.kind == Kind::Term || (h.kind == Kind::Phase && h.scope.protocol().is_some()) {
                continue;
            }
            match self.known.get(&(h.scope, h.kind)) {
                None => self.problems.push(format!(
                    "{}: no [{}] table belongs there ({})",
                    h.scope, h.kind, h.key
                )),
                Some(known) if !known.contains(&super::fold(h.key)) => self.problems.push(format!(
                    "{} [{}.\"{}\"]: no vocabulary knows this key",
                    h.scope, h.kind, h.key
                )),
                Some(_) => {}
            }
        }
    }
}

/// `RFC 5321` out of `RFC 5321 4.1.1.3` or `mailscope Limits (RFC 5321 4.5.3, …)`: only when
/// the text starts with it (a text that merely mentions an RFC cites no one section).
fn rfc_number(rfc: &str) -> Option<String> {
    let rest = rfc.strip_prefix("RFC ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("RFC {digits}"))
}

#[test]
fn every_vocabulary_word_is_explained_in_both_languages() {
    let mut c = Coverage {
        kb: kb(),
        known: HashMap::new(),
        problems: Vec::new(),
    };
    super::check().unwrap();

    c.vocabulary::<common::Anomaly>(Scope::Common, Kind::Anomaly);
    c.list(Scope::Common, Kind::Term, COMMON_TERMS);
    c.vocabulary::<mime::Anomaly>(Scope::Mime, Kind::Anomaly);
    c.list(Scope::Mime, Kind::Term, MIME_TERMS);

    c.vocabulary::<smtp::Verb>(Scope::Smtp, Kind::Verb);
    c.vocabulary::<smtp::Reply>(Scope::Smtp, Kind::Reply);
    for class in smtp::ReplyClass::ALL {
        let key = format!("{}xx", class.digit());
        c.require(Scope::Smtp, Kind::Reply, &key, false, None);
    }
    c.vocabulary::<smtp::Capability>(Scope::Smtp, Kind::Capability);
    c.vocabulary::<smtp::Anomaly>(Scope::Smtp, Kind::Anomaly);
    c.list(Scope::Smtp, Kind::Phase, SMTP_PHASES);

    c.vocabulary::<pop3::Verb>(Scope::Pop3, Kind::Verb);
    c.vocabulary::<pop3::Status>(Scope::Pop3, Kind::Response);
    c.vocabulary::<pop3::Capability>(Scope::Pop3, Kind::Capability);
    c.vocabulary::<pop3::ResponseCode>(Scope::Pop3, Kind::ResponseCode);
    c.vocabulary::<pop3::Anomaly>(Scope::Pop3, Kind::Anomaly);
    c.list(Scope::Pop3, Kind::Phase, POP3_PHASES);

    c.vocabulary::<imap::Verb>(Scope::Imap, Kind::Verb);
    c.vocabulary::<imap::Response>(Scope::Imap, Kind::Response);
    c.vocabulary::<imap::Capability>(Scope::Imap, Kind::Capability);
    c.vocabulary::<imap::ResponseCode>(Scope::Imap, Kind::ResponseCode);
    c.vocabulary::<imap::Anomaly>(Scope::Imap, Kind::Anomaly);
    c.list(Scope::Imap, Kind::Phase, IMAP_PHASES);

    c.no_strangers();
    assert!(
        c.problems.is_empty(),
        "{} problems:\n{}",
        c.problems.len(),
        c.problems.join("\n")
    );
}

/// A file kb-mailbox (or anyone) adds under `kb/` must be embedded, or the coverage test
/// above would pass without reading it.
#[test]
fn every_file_in_kb_is_embedded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kb");
    for f in std::fs::read_dir(&dir).unwrap() {
        let name = format!("kb/{}", f.unwrap().file_name().to_string_lossy());
        if name.ends_with(".toml") {
            assert!(
                FILES.iter().any(|e| e.1 == name),
                "{name} is not in teach::FILES"
            );
        }
    }
}

/// The issue's "done when": `mailscope explain` answers for the seed's SMTP commands.
#[test]
fn the_seed_commands_are_explained() {
    for verb in [
        "HELO", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "VRFY", "EXPN", "HELP", "NOOP",
    ] {
        let hits = kb().search(verb);
        assert!(
            hits.iter()
                .any(|h| h.scope == Scope::Smtp && h.kind == Kind::Verb),
            "{verb}"
        );
    }
}

/// The coverage check can fail: a base missing a verb, with an untranslated zh text and a
/// typo'd key, is caught on each count.
#[test]
fn coverage_catches_gaps_and_typos() {
    let text = r#"
[verb.HELO]
rfc = "RFC 5321 §4.1.1.1"
en = "Says hello."
zh = "Says hello."
[verb.HLEO]
en = "typo"
zh = "拼写错误 HLEO"
"#;
    let (kb, errors) = Kb::parse(&[(Scope::Smtp, "kb/smtp.toml", text)]);
    assert!(errors.is_empty());
    let mut c = Coverage {
        kb: &kb,
        known: HashMap::new(),
        problems: Vec::new(),
    };
    c.vocabulary::<smtp::Verb>(Scope::Smtp, Kind::Verb);
    c.no_strangers();
    let all = c.problems.join("\n");
    assert!(all.contains("no [verb.\"EHLO\"]"), "{all}");
    assert!(
        all.contains("[verb.\"HELO\"]: zh is empty or not Chinese"),
        "{all}"
    );
    assert!(all.contains("HLEO\"]: no vocabulary knows"), "{all}");
}
