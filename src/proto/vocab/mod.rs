//! Typed vocabularies: the one place that knows every command verb and every named anomaly
//! mailscope reports, with the RFC (section) that defines it and a short English text.
//!
//! - [`smtp`], [`pop3`], [`imap`]: each protocol's `Verb` (the commands a dissector treats as
//!   known) and `Anomaly` (what its dissector can report); SMTP also its reply codes.
//! - [`common`]: anomalies any session can carry (`limit-reached`, `port-protocol-mismatch`).
//! - [`mime`]: anomalies of MIME decoding.
//! - [`AnomalyKind`]: any of the above anomalies, as [`crate::proto::event::Anomaly`] carries it.
//!
//! Every vocabulary is an enum implementing [`Entry`], with `ALL` listing its variants, so a
//! new verb or anomaly is one variant that the compiler checks everywhere (and that the tests
//! below check for a name, an RFC and a text). The stable strings (`HELO`, `gap`,
//! `limit-reached`) are what the JSON and text outputs show; never rename one.

pub mod common;
pub mod imap;
pub mod mime;
pub mod pop3;
pub mod smtp;

use serde::Serialize;
use std::fmt;

/// One term of a vocabulary: a stable word, the RFC that defines it, and a short English text.
pub trait Entry: Copy + Eq + fmt::Debug + 'static {
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    /// The stable word: a verb as sent on the wire, an anomaly's kebab-case name.
    fn word(self) -> &'static str;
    /// The defining RFC and section (or, for something no RFC defines, who does).
    fn rfc(self) -> &'static str;
    /// A short English text: what a verb does, what an anomaly means.
    fn text(self) -> &'static str;
}

/// The variant whose word is `word`, compared without regard to ASCII case.
pub fn lookup<T: Entry>(word: &str) -> Option<T> {
    T::ALL
        .iter()
        .copied()
        .find(|t| t.word().eq_ignore_ascii_case(word))
}

/// Defines a vocabulary enum: each variant with its word, RFC and text, the accessors named
/// by the caller (`as_str`/`note` for verbs, `name`/`explanation` for anomalies), `ALL`,
/// [`Entry`], and `Display` and `Serialize` as the word.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($word:ident, $text:ident) {
            $( $(#[$vmeta:meta])* $variant:ident = $w:literal, $rfc:literal, $t:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $w, "` (", $rfc, "): ", $t, ".")] $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable word (wire verb or anomaly name).
            pub fn $word(self) -> &'static str {
                match self { $($name::$variant => $w,)+ }
            }

            /// The defining RFC and section.
            pub fn rfc(self) -> &'static str {
                match self { $($name::$variant => $rfc,)+ }
            }

            /// A short English text saying what it is.
            pub fn $text(self) -> &'static str {
                match self { $($name::$variant => $t,)+ }
            }
        }

        impl $crate::proto::vocab::Entry for $name {
            const ALL: &'static [$name] = $name::ALL;
            fn word(self) -> &'static str {
                self.$word()
            }
            fn rfc(self) -> &'static str {
                $name::rfc(self)
            }
            fn text(self) -> &'static str {
                self.$text()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.$word())
            }
        }

        /// Serialises as the word.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.$word())
            }
        }
    };
}
pub(crate) use vocabulary;

/// Adds `parse` (case-insensitive) to a verb vocabulary.
macro_rules! verbs {
    ($name:ident) => {
        impl $name {
            /// The verb `word` names, compared without regard to ASCII case; None when it is
            /// not one this protocol knows (it then stays a string in the transcript).
            pub fn parse(word: &str) -> Option<$name> {
                $crate::proto::vocab::lookup(word)
            }
        }
    };
}
pub(crate) use verbs;

/// Any named anomaly: which vocabulary it belongs to and which one it is. Serialises as its
/// name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyKind {
    Common(common::Anomaly),
    Smtp(smtp::Anomaly),
    Pop3(pop3::Anomaly),
    Imap(imap::Anomaly),
    Mime(mime::Anomaly),
}

impl AnomalyKind {
    /// Every anomaly of every vocabulary: common first, then SMTP, POP3, IMAP and MIME.
    pub fn all() -> impl Iterator<Item = AnomalyKind> {
        let common = common::Anomaly::ALL.iter().map(|&a| AnomalyKind::Common(a));
        let smtp = smtp::Anomaly::ALL.iter().map(|&a| AnomalyKind::Smtp(a));
        let pop3 = pop3::Anomaly::ALL.iter().map(|&a| AnomalyKind::Pop3(a));
        let imap = imap::Anomaly::ALL.iter().map(|&a| AnomalyKind::Imap(a));
        let mime = mime::Anomaly::ALL.iter().map(|&a| AnomalyKind::Mime(a));
        common.chain(smtp).chain(pop3).chain(imap).chain(mime)
    }

    /// The stable kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Common(a) => a.name(),
            AnomalyKind::Smtp(a) => a.name(),
            AnomalyKind::Pop3(a) => a.name(),
            AnomalyKind::Imap(a) => a.name(),
            AnomalyKind::Mime(a) => a.name(),
        }
    }

    /// The RFC (section) it is judged against.
    pub fn rfc(self) -> &'static str {
        match self {
            AnomalyKind::Common(a) => a.rfc(),
            AnomalyKind::Smtp(a) => a.rfc(),
            AnomalyKind::Pop3(a) => a.rfc(),
            AnomalyKind::Imap(a) => a.rfc(),
            AnomalyKind::Mime(a) => a.rfc(),
        }
    }

    /// One line saying what the name means.
    pub fn explanation(self) -> &'static str {
        match self {
            AnomalyKind::Common(a) => a.explanation(),
            AnomalyKind::Smtp(a) => a.explanation(),
            AnomalyKind::Pop3(a) => a.explanation(),
            AnomalyKind::Imap(a) => a.explanation(),
            AnomalyKind::Mime(a) => a.explanation(),
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for AnomalyKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl From<common::Anomaly> for AnomalyKind {
    fn from(a: common::Anomaly) -> AnomalyKind {
        AnomalyKind::Common(a)
    }
}

impl From<smtp::Anomaly> for AnomalyKind {
    fn from(a: smtp::Anomaly) -> AnomalyKind {
        AnomalyKind::Smtp(a)
    }
}

impl From<pop3::Anomaly> for AnomalyKind {
    fn from(a: pop3::Anomaly) -> AnomalyKind {
        AnomalyKind::Pop3(a)
    }
}

impl From<imap::Anomaly> for AnomalyKind {
    fn from(a: imap::Anomaly) -> AnomalyKind {
        AnomalyKind::Imap(a)
    }
}

impl From<mime::Anomaly> for AnomalyKind {
    fn from(a: mime::Anomaly) -> AnomalyKind {
        AnomalyKind::Mime(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn kebab(s: &str) -> bool {
        !s.is_empty()
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--")
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    /// Every anomaly has a kebab-case name, an RFC and an explanation, and names are unique
    /// within a vocabulary; a common name is used by no protocol.
    fn check_anomalies<T: Entry>(names: &mut HashSet<&'static str>) {
        let mut own = HashSet::new();
        for &a in T::ALL {
            assert!(
                kebab(a.word()),
                "{a:?}: name {:?} is not kebab-case",
                a.word()
            );
            assert!(!a.rfc().trim().is_empty(), "{a:?} has no RFC");
            assert!(!a.text().trim().is_empty(), "{a:?} has no explanation");
            assert!(own.insert(a.word()), "{a:?}: name {} twice", a.word());
            names.insert(a.word());
        }
    }

    #[test]
    fn every_anomaly_has_name_rfc_and_explanation() {
        let mut common = HashSet::new();
        check_anomalies::<common::Anomaly>(&mut common);
        let mut protocols = HashSet::new();
        check_anomalies::<smtp::Anomaly>(&mut protocols);
        check_anomalies::<pop3::Anomaly>(&mut protocols);
        check_anomalies::<imap::Anomaly>(&mut protocols);
        check_anomalies::<mime::Anomaly>(&mut protocols);
        assert!(common.is_disjoint(&protocols), "{common:?}");
        let n = AnomalyKind::all().count();
        assert_eq!(
            n,
            common::Anomaly::ALL.len()
                + smtp::Anomaly::ALL.len()
                + pop3::Anomaly::ALL.len()
                + imap::Anomaly::ALL.len()
                + mime::Anomaly::ALL.len()
        );
        for k in AnomalyKind::all() {
            assert!(!k.rfc().is_empty() && !k.explanation().is_empty(), "{k:?}");
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("{:?}", k.name())
            );
        }
    }

    /// Every verb is upper-case, has an RFC and a note, and parses back from its word in any
    /// case.
    fn check_verbs<T: Entry>(parse: fn(&str) -> Option<T>) {
        let mut seen = HashSet::new();
        for &v in T::ALL {
            let w = v.word();
            assert!(!w.is_empty() && !w.bytes().any(|b| b.is_ascii_lowercase() || b == b' '));
            assert!(!v.rfc().trim().is_empty(), "{v:?} has no RFC");
            assert!(!v.text().trim().is_empty(), "{v:?} has no note");
            assert!(seen.insert(w), "{w} twice");
            assert_eq!(parse(w), Some(v));
            assert_eq!(parse(&w.to_ascii_lowercase()), Some(v));
        }
        assert_eq!(parse(""), None);
        assert_eq!(parse("XYZZY"), None);
    }

    #[test]
    fn every_verb_round_trips() {
        check_verbs(smtp::Verb::parse);
        check_verbs(pop3::Verb::parse);
        check_verbs(imap::Verb::parse);
    }
}
