//! POP3's vocabulary: the command verbs the dissector knows (RFC 1939 and extensions), the
//! status indicators, the CAPA tags (RFC 2449 and later), the extended response codes
//! (`-ERR [IN-USE]`, RFC 2449 8, RFC 3206) and the anomalies it reports.

use super::{verbs, vocabulary};

vocabulary! {
    /// A POP3 command verb the dissector knows. Anything else is `unknown-command`.
    pub enum Verb (as_str, note) {
        User = "USER", "RFC 1939 7", "user name";
        Pass = "PASS", "RFC 1939 7", "password";
        Apop = "APOP", "RFC 1939 7", "log in with a digest of the greeting's timestamp and the secret";
        Auth = "AUTH", "RFC 5034 4", "authenticates (SASL)";
        Stat = "STAT", "RFC 1939 5", "mailbox size: number of messages and octets";
        List = "LIST", "RFC 1939 5", "message sizes";
        Uidl = "UIDL", "RFC 1939 7", "unique message ids";
        Retr = "RETR", "RFC 1939 5", "retrieves a whole message";
        Top = "TOP", "RFC 1939 7", "retrieves a message's headers and the first lines of its body";
        Dele = "DELE", "RFC 1939 5", "marks a message deleted";
        Noop = "NOOP", "RFC 1939 5", "does nothing (keep-alive)";
        Rset = "RSET", "RFC 1939 5", "unmarks deleted messages";
        Quit = "QUIT", "RFC 1939 6", "ends the session (deletions take effect)";
        Capa = "CAPA", "RFC 2449 5", "asks for the server's capabilities";
        Stls = "STLS", "RFC 2595 4", "asks to switch to TLS";
        Utf8 = "UTF8", "RFC 6856 2", "enables UTF-8 mode";
        Lang = "LANG", "RFC 6856 3", "lists or chooses the language of the server's responses";
        Xtnd = "XTND", "RFC 1082 (historic)", "an extended command (historic POP3 extensions)";
    }
}
verbs!(Verb);

vocabulary! {
    /// A POP3 status indicator: the first word of a server response (RFC 1939 3), or the
    /// SASL continuation (RFC 5034 4).
    pub enum Status (code, meaning) {
        Ok = "+OK", "RFC 1939 3", "positive: the command succeeded";
        Err = "-ERR", "RFC 1939 3", "negative: the command failed";
        Continuation = "+", "RFC 5034 4", "SASL challenge: send the next response";
    }
}

impl Status {
    /// The status `code` names, if it is one (compared exactly: `+ok` is not POP3).
    pub fn parse(code: &str) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| s.code() == code)
    }
}

vocabulary! {
    /// A CAPA tag (RFC 2449 5): one capability line of the server's answer to CAPA, named by
    /// its first word (`SASL PLAIN LOGIN` is `SASL`).
    pub enum Capability (tag, meaning) {
        Top = "TOP", "RFC 2449 6.1", "the TOP command is supported";
        User = "USER", "RFC 2449 6.2", "log in with USER and PASS";
        Sasl = "SASL", "RFC 2449 6.3, RFC 5034", "the SASL mechanisms AUTH accepts";
        RespCodes = "RESP-CODES", "RFC 2449 6.4", "-ERR responses may carry a [code] in brackets";
        LoginDelay = "LOGIN-DELAY", "RFC 2449 6.5", "the minimum seconds between logins";
        Pipelining = "PIPELINING", "RFC 2449 6.6", "the client may send several commands without waiting";
        Expire = "EXPIRE", "RFC 2449 6.7", "how many days the server keeps messages once retrieved";
        Uidl = "UIDL", "RFC 2449 6.8", "the UIDL command is supported";
        Implementation = "IMPLEMENTATION", "RFC 2449 6.9", "the server software's name";
        Stls = "STLS", "RFC 2595 4", "the STLS command (switch to TLS) is supported";
        AuthRespCode = "AUTH-RESP-CODE", "RFC 3206 6", "failed logins carry the [AUTH] or [SYS/...] code";
        Utf8 = "UTF8", "RFC 6856 2", "the UTF8 command (UTF-8 mode) is supported";
        Lang = "LANG", "RFC 6856 3", "the LANG command (response language) is supported";
    }
}

impl Capability {
    /// The capability a CAPA line announces: its first word, compared without regard to
    /// ASCII case; None for a tag not listed here (an `X-` tag, say).
    pub fn of(line: &str) -> Option<Capability> {
        super::lookup(line.split_ascii_whitespace().next()?)
    }
}

vocabulary! {
    /// An extended response code (RFC 2449 8): the bracketed word after `-ERR`.
    pub enum ResponseCode (code, meaning) {
        LoginDelay = "LOGIN-DELAY", "RFC 2449 8.1.1", "logged in too soon after the last login";
        InUse = "IN-USE", "RFC 2449 8.1.2", "the maildrop is locked by another session";
        SysTemp = "SYS/TEMP", "RFC 3206 4", "a temporary system problem: try again later";
        SysPerm = "SYS/PERM", "RFC 3206 4", "a permanent system problem: retrying will not help";
        Auth = "AUTH", "RFC 3206 5", "the credentials are wrong";
        Utf8 = "UTF8", "RFC 6856 2", "the message needs UTF8 mode to be sent";
    }
}

impl ResponseCode {
    /// The response code of a bracketed text (`SYS/TEMP`, `in-use`): the whole code, else
    /// its hierarchy's most specific listed prefix (`SYS/TEMP/DISK` is `SYS/TEMP`).
    pub fn of(text: &str) -> Option<ResponseCode> {
        let mut code = text.split_ascii_whitespace().next()?;
        loop {
            if let Some(c) = super::lookup(code) {
                return Some(c);
            }
            code = &code[..code.rfind('/')?];
        }
    }
}

vocabulary! {
    /// An anomaly the POP3 dissector reports.
    pub enum Anomaly (name, explanation) {
        UnknownCommand = "unknown-command", "RFC 1939 3", "the client sent a command POP3 does not define";
        ResponseWithoutCommand = "response-without-command", "RFC 1939 3", "the server answered when no command was waiting";
        LineTooLong = "line-too-long", "RFC 2449 4", "a line is longer than POP3 allows";
        PasswordGuessing = "password-guessing", "RFC 1939 13", "several failed logins in a row: password guessing?";
        GapInMultiline = "gap-in-multiline", "RFC 793", "bytes of a multi-line answer are missing from the capture";
        Gap = "gap", "RFC 793", "bytes are missing from the capture; parsing resynchronised";
        MessageCutShort = "message-cut-short", "RFC 1939 3", "the connection ended inside a multi-line answer";
        MalformedResponse = "malformed-response", "RFC 1939 3", "a server line is neither +OK, -ERR nor a continuation";
        MissingGreeting = "missing-greeting", "RFC 1939 4", "the client spoke before the server's greeting";
        UnexpectedContinuation = "unexpected-continuation", "RFC 5034 4", "a + continuation outside AUTH";
    }
}

/// What a POP3 status means; empty for anything else.
pub fn reply_note(code: &str) -> &'static str {
    match code {
        "+OK" => "ok",
        "-ERR" => "error",
        "+" => "SASL challenge: send the next response",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words are unique (ignoring case, as lookups compare them), so each one finds its own
    /// variant; every entry has an RFC and a text.
    fn unique<T: crate::proto::vocab::Entry>() {
        let mut seen = std::collections::HashSet::new();
        for &v in T::ALL {
            assert!(seen.insert(v.word().to_ascii_uppercase()), "{v:?} twice");
            assert!(
                !v.rfc().trim().is_empty() && !v.text().trim().is_empty(),
                "{v:?}"
            );
            assert_eq!(crate::proto::vocab::lookup::<T>(v.word()), Some(v));
        }
    }

    #[test]
    fn words_are_unique() {
        unique::<Status>();
        unique::<Capability>();
        unique::<ResponseCode>();
    }

    #[test]
    fn capabilities_and_codes_are_found() {
        assert_eq!(Capability::of("SASL PLAIN LOGIN"), Some(Capability::Sasl));
        assert_eq!(Capability::of("expire 30"), Some(Capability::Expire));
        assert_eq!(Capability::of("X-FOO"), None);
        assert_eq!(Capability::of(""), None);
        assert_eq!(ResponseCode::of("in-use"), Some(ResponseCode::InUse));
        assert_eq!(ResponseCode::of("SYS/TEMP"), Some(ResponseCode::SysTemp));
        assert_eq!(
            ResponseCode::of("SYS/PERM/DISK"),
            Some(ResponseCode::SysPerm)
        );
        assert_eq!(ResponseCode::of("SYS"), None);
        assert_eq!(ResponseCode::of("FOO/BAR"), None);
        assert_eq!(Status::parse("+OK"), Some(Status::Ok));
        assert_eq!(Status::parse("+ok"), None);
        for &s in Status::ALL {
            assert!(!reply_note(s.code()).is_empty(), "{s:?}");
        }
    }

    /// The drift issue 10 names: verbs the dissector knows must have a note of their own.
    #[test]
    fn extension_verbs_are_known() {
        for w in ["LANG", "XTND", "utf8"] {
            let v = Verb::parse(w).unwrap();
            assert!(!v.note().contains("not a standard"), "{v:?}");
        }
    }
}
