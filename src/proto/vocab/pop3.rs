//! POP3's vocabulary: the command verbs the dissector knows (RFC 1939 and extensions) and the
//! anomalies it reports.

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

    /// The drift issue 10 names: verbs the dissector knows must have a note of their own.
    #[test]
    fn extension_verbs_are_known() {
        for w in ["LANG", "XTND", "utf8"] {
            let v = Verb::parse(w).unwrap();
            assert!(!v.note().contains("not a standard"), "{v:?}");
        }
    }
}
