//! Teaching mode's knowledge base: plain-language explanations, in English and Simplified
//! Chinese, of the verbs, replies, capabilities, status responses, response codes, phases,
//! anomalies and MIME terms mailscope shows.
//!
//! The text is data, not code: `kb/*.toml`, one file per protocol plus `common` (roles, the
//! mail flow, anomalies of any session) and `mime`. Each file holds one table per [`Kind`]
//! (`[verb.RCPT]`, `[reply."354"]`, `[anomaly.gap]`, …) whose entries have `en`, `zh` and,
//! where an RFC defines the thing, `rfc`. The keys are the words of the typed vocabularies
//! of [`crate::proto::vocab`]; a test checks that the files cover every variant in both
//! languages and hold no key a vocabulary does not know.
//!
//! The files are embedded in the binary and parsed once, on first use ([`kb`]). A file that
//! does not parse is left out of the base (never a panic); [`check`] reports why, and a test
//! calls it.

#[cfg(test)]
mod coverage;

use crate::proto::vocab::AnomalyKind;
use crate::types::Protocol;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// The embedded files and what each one describes.
const FILES: &[(Scope, &str, &str)] = &[
    (
        Scope::Common,
        "kb/common.toml",
        include_str!("../../kb/common.toml"),
    ),
    (
        Scope::Mime,
        "kb/mime.toml",
        include_str!("../../kb/mime.toml"),
    ),
    (
        Scope::Smtp,
        "kb/smtp.toml",
        include_str!("../../kb/smtp.toml"),
    ),
    (
        Scope::Pop3,
        "kb/pop3.toml",
        include_str!("../../kb/pop3.toml"),
    ),
    (
        Scope::Imap,
        "kb/imap.toml",
        include_str!("../../kb/imap.toml"),
    ),
];

/// The language explanations are shown in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The language the environment asks for: `LC_ALL` if set and not empty, else `LANG`;
    /// Chinese when that starts with `zh` (`zh_CN.UTF-8`), English otherwise.
    pub fn from_env() -> Lang {
        let lc_all = std::env::var("LC_ALL").ok();
        let lang = std::env::var("LANG").ok();
        Lang::from_locale(lc_all.as_deref(), lang.as_deref())
    }

    /// [`Lang::from_env`] on given values of `LC_ALL` and `LANG`.
    pub fn from_locale(lc_all: Option<&str>, lang: Option<&str>) -> Lang {
        let locale = lc_all.filter(|s| !s.is_empty()).or(lang).unwrap_or("");
        let zh = locale
            .get(..2)
            .is_some_and(|p| p.eq_ignore_ascii_case("zh"));
        if zh { Lang::Zh } else { Lang::En }
    }

    /// `en` or `zh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A language name that is neither `en` nor `zh`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?}: expected en or zh")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;
    /// `en` or `zh`, in any case.
    fn from_str(s: &str) -> Result<Lang, UnknownLang> {
        if s.eq_ignore_ascii_case("en") {
            Ok(Lang::En)
        } else if s.eq_ignore_ascii_case("zh") {
            Ok(Lang::Zh)
        } else {
            Err(UnknownLang(s.to_string()))
        }
    }
}

/// One explanation, in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The RFC (and section, `RFC 5321 §4.1.1.3`) that defines it, if one does.
    pub rfc: Option<String>,
    /// English.
    pub en: String,
    /// Simplified Chinese.
    pub zh: String,
}

impl Entry {
    /// The text in `lang`.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

/// What an entry explains: the table it sits in (`[verb.RCPT]` is a [`Kind::Verb`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A command verb (`RCPT`, `RETR`, `FETCH`).
    Verb,
    /// An SMTP reply code (`354`) or class (`3xx`).
    Reply,
    /// An EHLO keyword, POP3 CAPA tag or IMAP capability.
    Capability,
    /// An IMAP response code or a POP3 extended response code (`UIDVALIDITY`, `IN-USE`).
    ResponseCode,
    /// A POP3 or IMAP status response (`+OK`, `-ERR`, `OK`, `NO`, `BAD`, `PREAUTH`, `BYE`).
    Response,
    /// A protocol phase (`envelope`, `TRANSACTION`, `selected`).
    Phase,
    /// A named anomaly.
    Anomaly,
    /// A MIME or general term (`base64`, `MTA`, `flow`).
    Term,
}

impl Kind {
    /// Every kind, in the order search results list them.
    pub const ALL: &'static [Kind] = &[
        Kind::Verb,
        Kind::Reply,
        Kind::Capability,
        Kind::ResponseCode,
        Kind::Response,
        Kind::Phase,
        Kind::Anomaly,
        Kind::Term,
    ];

    /// The table name in the files: `verb`, `reply`, `capability`, `response_code`,
    /// `response`, `phase`, `anomaly`, `term`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Verb => "verb",
            Kind::Reply => "reply",
            Kind::Capability => "capability",
            Kind::ResponseCode => "response_code",
            Kind::Response => "response",
            Kind::Phase => "phase",
            Kind::Anomaly => "anomaly",
            Kind::Term => "term",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which file an entry comes from: a protocol's, or one of the two that belong to none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `kb/common.toml`: roles, the mail flow, anomalies any session can carry.
    Common,
    /// `kb/mime.toml`: MIME terms and anomalies.
    Mime,
    Smtp,
    Pop3,
    Imap,
}

impl Scope {
    /// The protocol a scope describes, if it is one.
    pub fn protocol(self) -> Option<Protocol> {
        match self {
            Scope::Smtp => Some(Protocol::Smtp),
            Scope::Pop3 => Some(Protocol::Pop3),
            Scope::Imap => Some(Protocol::Imap),
            Scope::Common | Scope::Mime => None,
        }
    }

    /// The scope of a protocol's own file; None for TLS and unknown sessions.
    pub fn of(protocol: Protocol) -> Option<Scope> {
        match protocol {
            Protocol::Smtp => Some(Scope::Smtp),
            Protocol::Pop3 => Some(Scope::Pop3),
            Protocol::Imap => Some(Scope::Imap),
            Protocol::Tls | Protocol::Unknown => None,
        }
    }

    /// The scope an anomaly's explanation lives in.
    pub fn of_anomaly(kind: AnomalyKind) -> Scope {
        match kind {
            AnomalyKind::Common(_) => Scope::Common,
            AnomalyKind::Smtp(_) => Scope::Smtp,
            AnomalyKind::Pop3(_) => Scope::Pop3,
            AnomalyKind::Imap(_) => Scope::Imap,
            AnomalyKind::Mime(_) => Scope::Mime,
        }
    }

    /// How a reader names it: `SMTP`, `POP3`, `IMAP`, `MIME`, `common`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Common => "common",
            Scope::Mime => "MIME",
            Scope::Smtp => "SMTP",
            Scope::Pop3 => "POP3",
            Scope::Imap => "IMAP",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the base with where it sits: what [`Kb::search`] and [`Kb::iter`] return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit<'a> {
    pub scope: Scope,
    pub kind: Kind,
    /// The key as the file writes it (`RCPT`, `354`, `quoted-printable`).
    pub key: &'a str,
    pub entry: &'a Entry,
}

/// One file as written: a table per kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    verb: BTreeMap<String, Entry>,
    #[serde(default)]
    reply: BTreeMap<String, Entry>,
    #[serde(default)]
    capability: BTreeMap<String, Entry>,
    #[serde(default)]
    response_code: BTreeMap<String, Entry>,
    #[serde(default)]
    response: BTreeMap<String, Entry>,
    #[serde(default)]
    phase: BTreeMap<String, Entry>,
    #[serde(default)]
    anomaly: BTreeMap<String, Entry>,
    #[serde(default)]
    term: BTreeMap<String, Entry>,
}

impl File {
    fn into_tables(self) -> [(Kind, BTreeMap<String, Entry>); 8] {
        [
            (Kind::Verb, self.verb),
            (Kind::Reply, self.reply),
            (Kind::Capability, self.capability),
            (Kind::ResponseCode, self.response_code),
            (Kind::Response, self.response),
            (Kind::Phase, self.phase),
            (Kind::Anomaly, self.anomaly),
            (Kind::Term, self.term),
        ]
    }
}

struct Item {
    scope: Scope,
    kind: Kind,
    key: String,
    entry: Entry,
}

/// The parsed knowledge base. Keys are matched without regard to case, and a space, `_` or
/// `-` match each other (`not authenticated` = `NOT_AUTHENTICATED`).
#[derive(Default)]
pub struct Kb {
    items: Vec<Item>,
    index: HashMap<(Scope, Kind, String), usize>,
}

/// The folded form keys are matched in.
fn fold(key: &str) -> String {
    key.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == ' ' || c == '_' { '-' } else { c })
        .collect()
}

impl Kb {
    /// Parses the given files; a file that does not parse is left out and named in the
    /// errors, as is a key written twice (differing only in case or separators).
    fn parse(files: &[(Scope, &str, &str)]) -> (Kb, Vec<String>) {
        let mut kb = Kb::default();
        let mut errors = Vec::new();
        for &(scope, name, text) in files {
            let file: File = match toml::from_str(text) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(format!("{name}: {e}"));
                    continue;
                }
            };
            for (kind, table) in file.into_tables() {
                for (key, entry) in table {
                    let folded = fold(&key);
                    if kb.index.contains_key(&(scope, kind, folded.clone())) {
                        errors.push(format!("{name}: [{kind}.{key}] is there twice"));
                        continue;
                    }
                    kb.index.insert((scope, kind, folded), kb.items.len());
                    kb.items.push(Item {
                        scope,
                        kind,
                        key,
                        entry,
                    });
                }
            }
        }
        (kb, errors)
    }

    fn get(&self, scope: Scope, kind: Kind, key: &str) -> Option<&Entry> {
        let i = *self.index.get(&(scope, kind, fold(key)))?;
        Some(&self.items[i].entry)
    }

    fn hit(&self, i: usize) -> Hit<'_> {
        let it = &self.items[i];
        Hit {
            scope: it.scope,
            kind: it.kind,
            key: &it.key,
            entry: &it.entry,
        }
    }

    /// Every entry, file by file.
    pub fn iter(&self) -> impl Iterator<Item = Hit<'_>> {
        (0..self.items.len()).map(|i| self.hit(i))
    }

    /// A command verb. For IMAP, `UID FETCH` is explained as `FETCH`.
    pub fn verb(&self, protocol: Protocol, verb: &str) -> Option<&Entry> {
        let scope = Scope::of(protocol)?;
        let verb = verb.trim();
        let bare = match verb.get(..4) {
            Some(p) if protocol == Protocol::Imap && p.eq_ignore_ascii_case("UID ") => &verb[4..],
            _ => verb,
        };
        self.get(scope, Kind::Verb, bare)
    }

    /// A reply code: its own entry, else its class's (`471` → `4xx`).
    pub fn reply(&self, protocol: Protocol, code: &str) -> Option<&Entry> {
        let scope = Scope::of(protocol)?;
        let code = code.trim();
        self.get(scope, Kind::Reply, code).or_else(|| {
            let d = code.chars().next().filter(char::is_ascii_digit)?;
            self.get(scope, Kind::Reply, &format!("{d}xx"))
        })
    }

    /// A capability. Takes a whole announced line too: `SIZE 10240000` is `SIZE`;
    /// `AUTH=PLAIN` is that entry if there is one, else `AUTH=`, else `AUTH`.
    pub fn capability(&self, protocol: Protocol, capability: &str) -> Option<&Entry> {
        let scope = Scope::of(protocol)?;
        let word = capability.trim().split(' ').next().unwrap_or("");
        let before_eq = word.split('=').next().unwrap_or("");
        let with_eq = format!("{before_eq}=");
        [word, with_eq.as_str(), before_eq]
            .into_iter()
            .filter(|k| !k.is_empty() && *k != "=")
            .find_map(|k| self.get(scope, Kind::Capability, k))
    }

    /// A response code, with or without its brackets and arguments: `[UIDVALIDITY 38]` is
    /// `UIDVALIDITY`.
    pub fn response_code(&self, protocol: Protocol, code: &str) -> Option<&Entry> {
        let scope = Scope::of(protocol)?;
        let inner = code.trim().trim_start_matches('[').trim_end_matches(']');
        let word = inner.split(' ').next().unwrap_or("");
        self.get(scope, Kind::ResponseCode, inner)
            .or_else(|| self.get(scope, Kind::ResponseCode, word))
    }

    /// A status response (`+OK`, `-ERR`; `OK`, `NO`, `BAD`, `PREAUTH`, `BYE`).
    pub fn response(&self, protocol: Protocol, response: &str) -> Option<&Entry> {
        self.get(Scope::of(protocol)?, Kind::Response, response)
    }

    /// A protocol phase (`envelope`; `TRANSACTION`; `not authenticated`).
    pub fn phase(&self, protocol: Protocol, phase: &str) -> Option<&Entry> {
        self.get(Scope::of(protocol)?, Kind::Phase, phase)
    }

    /// A named anomaly, in its own vocabulary's file (names are not unique across
    /// vocabularies: `gap` and `line-too-long` exist in several, with texts of their own).
    pub fn anomaly(&self, kind: AnomalyKind) -> Option<&Entry> {
        self.get(Scope::of_anomaly(kind), Kind::Anomaly, kind.name())
    }

    /// A MIME or general term (`base64`, `Content-Type`, `MTA`, `flow`), from any file.
    pub fn term(&self, term: &str) -> Option<&Entry> {
        let folded = fold(term);
        self.iter()
            .find(|h| h.kind == Kind::Term && fold(h.key) == folded)
            .map(|h| h.entry)
    }

    /// Everything `term` names, for `mailscope explain TERM`: each entry whose key matches,
    /// in any file and table. When nothing matches as typed, tries in turn: without
    /// brackets (`[IN-USE]`), the first word (`RCPT TO:<a@b>`, `UID FETCH` → its verb), a
    /// reply code's class (`471` → `4xx`), and the singular (`headers`).
    pub fn search(&self, term: &str) -> Vec<Hit<'_>> {
        let term = term.trim();
        let unbracketed = term.trim_start_matches('[').trim_end_matches(']');
        let first = unbracketed
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_string();
        let uid = match term.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("UID ") => term[4..].to_string(),
            _ => String::new(),
        };
        let class = match term.as_bytes() {
            [d @ b'0'..=b'9', b'0'..=b'9', b'0'..=b'9'] => format!("{}xx", *d as char),
            _ => String::new(),
        };
        let singular = term.strip_suffix('s').unwrap_or("").to_string();
        // A capability with a value names its family: `AUTH=PLAIN` → `AUTH=`.
        let family = match unbracketed.split_once('=') {
            Some((name, value)) if !value.is_empty() => format!("{name}="),
            _ => String::new(),
        };
        for candidate in [term, unbracketed, &uid, &first, &class, &singular, &family] {
            if candidate.is_empty() {
                continue;
            }
            let folded = fold(candidate);
            let mut hits: Vec<_> = self.iter().filter(|h| fold(h.key) == folded).collect();
            if !hits.is_empty() {
                hits.sort_by_key(|h| (h.scope, h.kind));
                return hits;
            }
        }
        Vec::new()
    }

    /// Up to `n` known keys nearest to `term` by edit distance (case-insensitive), nearest
    /// first, for "did you mean"; none further than a third of the term's length (at least
    /// 2). Only the first 64 characters of `term` count.
    pub fn nearest(&self, term: &str, n: usize) -> Vec<&str> {
        let term: String = fold(term).chars().take(64).collect();
        let max = (term.chars().count() / 3).max(2);
        let mut scored: Vec<(usize, &str)> = self
            .items
            .iter()
            .map(|it| (distance(&term, &fold(&it.key)), it.key.as_str()))
            .filter(|&(d, _)| d <= max)
            .collect();
        scored.sort();
        scored.dedup_by(|a, b| a.1.eq_ignore_ascii_case(b.1));
        scored.into_iter().take(n).map(|(_, k)| k).collect()
    }
}

/// Levenshtein distance between two strings, by characters (two rows; keys are short and
/// the term is cut to 64 characters).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn loaded() -> &'static (Kb, Vec<String>) {
    static KB: OnceLock<(Kb, Vec<String>)> = OnceLock::new();
    KB.get_or_init(|| Kb::parse(FILES))
}

/// The knowledge base, parsed on first use.
pub fn kb() -> &'static Kb {
    &loaded().0
}

/// Whether every embedded file parsed: the errors (file, line and what is wrong) otherwise.
/// A test calls this, so a broken file fails the build's tests, not a user's run.
pub fn check() -> Result<(), String> {
    let errors = &loaded().1;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::vocab::{common, smtp};

    #[test]
    fn embedded_files_parse() {
        check().unwrap();
    }

    #[test]
    fn a_broken_file_is_reported_not_fatal() {
        let good = "[term.x]\nen = \"x\"\nzh = \"某\"\n";
        let files = [
            (Scope::Common, "kb/common.toml", good),
            (Scope::Mime, "kb/mime.toml", "[term.y\nen = 1"),
            (
                Scope::Smtp,
                "kb/smtp.toml",
                "[verbs.RCPT]\nen = \"a\"\nzh = \"b\"\n",
            ),
            (Scope::Pop3, "kb/pop3.toml", "[verb.USER]\nen = \"a\"\n"),
            (
                Scope::Imap,
                "kb/imap.toml",
                "[term.X]\nen='a'\nzh='b'\n[term.x]\nen='a'\nzh='b'\n",
            ),
        ];
        let (kb, errors) = Kb::parse(&files);
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(errors[0].starts_with("kb/mime.toml"), "{}", errors[0]);
        assert!(errors[1].contains("verbs"), "{}", errors[1]);
        assert!(errors[2].contains("zh"), "{}", errors[2]);
        assert!(errors[3].contains("twice"), "{}", errors[3]);
        assert_eq!(kb.term("X").map(|e| e.en.as_str()), Some("x"));
    }

    #[test]
    fn lang_from_locale_and_name() {
        assert_eq!(Lang::from_locale(None, None), Lang::En);
        assert_eq!(Lang::from_locale(None, Some("zh_CN.UTF-8")), Lang::Zh);
        assert_eq!(Lang::from_locale(Some("zh_TW"), Some("en_US")), Lang::Zh);
        assert_eq!(Lang::from_locale(Some("C"), Some("zh_CN")), Lang::En);
        assert_eq!(Lang::from_locale(Some(""), Some("zh_CN")), Lang::Zh);
        assert_eq!(Lang::from_locale(None, Some("z")), Lang::En);
        assert_eq!("zh".parse::<Lang>(), Ok(Lang::Zh));
        assert_eq!("EN".parse::<Lang>(), Ok(Lang::En));
        assert!("fr".parse::<Lang>().unwrap_err().to_string().contains("fr"));
        assert_eq!(Lang::Zh.to_string(), "zh");
    }

    #[test]
    fn lookups() {
        let kb = kb();
        let rcpt = kb.verb(Protocol::Smtp, "rcpt").unwrap();
        assert!(rcpt.rfc.as_deref().unwrap().contains("§4.1.1.3"));
        assert!(rcpt.text(Lang::Zh).contains("RCPT TO"));
        assert!(kb.verb(Protocol::Tls, "RCPT").is_none());
        assert!(kb.reply(Protocol::Smtp, "354").unwrap().en.contains("dot"));
        assert_eq!(
            kb.reply(Protocol::Smtp, "471"),
            kb.reply(Protocol::Smtp, "4xx")
        );
        assert!(kb.reply(Protocol::Smtp, "x").is_none());
        assert!(
            kb.reply(Protocol::Smtp, "334")
                .unwrap()
                .en
                .contains("Username:")
        );
        let size = kb.capability(Protocol::Smtp, "SIZE 10240000").unwrap();
        assert_eq!(kb.capability(Protocol::Smtp, "size"), Some(size));
        assert!(kb.capability(Protocol::Smtp, "AUTH=LOGIN").is_some());
        assert!(kb.phase(Protocol::Smtp, "Envelope").is_some());
        let gap = kb.anomaly(smtp::Anomaly::Gap.into()).unwrap();
        assert!(kb.anomaly(common::Anomaly::LimitReached.into()).is_some());
        assert_eq!(kb.term("BASE64"), kb.term("base64"));
        assert!(kb.term("content_type").is_some());
        assert!(kb.term("flow").unwrap().en.contains("MDA"));
        let found = kb.search("gap");
        assert!(
            found
                .iter()
                .any(|h| h.entry == gap && h.scope == Scope::Smtp)
        );
        assert!(found.iter().all(|h| h.kind == Kind::Anomaly));
    }

    #[test]
    fn search_falls_back_sensibly() {
        let kb = kb();
        let keys = |t: &str| -> Vec<(Scope, Kind, String)> {
            kb.search(t)
                .iter()
                .map(|h| (h.scope, h.kind, h.key.to_string()))
                .collect()
        };
        assert_eq!(keys("550"), [(Scope::Smtp, Kind::Reply, "550".into())]);
        assert_eq!(keys("599"), [(Scope::Smtp, Kind::Reply, "5xx".into())]);
        assert_eq!(
            keys("RCPT TO:<a@b>"),
            [(Scope::Smtp, Kind::Verb, "RCPT".into())]
        );
        assert_eq!(
            keys("headers"),
            [(Scope::Mime, Kind::Term, "header".into())]
        );
        assert!(keys("BDAT").contains(&(Scope::Smtp, Kind::Verb, "BDAT".into())));
        // A verb and a capability of the same name are both found.
        assert!(keys("starttls").len() >= 2);
        assert!(keys("xyzzy").is_empty());
        assert!(keys("").is_empty());
    }

    #[test]
    fn nearest_suggests_close_keys() {
        let kb = kb();
        assert_eq!(kb.nearest("RCTP", 1), ["RCPT"]);
        assert!(kb.nearest("bse64", 3).contains(&"base64"));
        assert!(
            kb.nearest("quoted-printabel", 3)
                .contains(&"quoted-printable")
        );
        assert!(kb.nearest("completely-unrelated-words", 3).is_empty());
        let long = "x".repeat(100_000);
        assert!(kb.nearest(&long, 3).is_empty());
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("信封", "信"), 1);
    }
}
