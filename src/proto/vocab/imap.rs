//! IMAP's vocabulary: the command verbs the dissector knows (RFC 9051, 3501 and common
//! extensions) and the anomalies it reports.

use super::{verbs, vocabulary};

vocabulary! {
    /// An IMAP command verb the dissector knows. `UID FETCH` and the like are the verb after
    /// `UID` (RFC 9051 6.4.9); see [`Verb::of_command`]. Anything else is `unknown-command`.
    pub enum Verb (as_str, note) {
        Capability = "CAPABILITY", "RFC 9051 6.1.1", "asks for the server's capabilities";
        Noop = "NOOP", "RFC 9051 6.1.2", "does nothing (lets the server report changes)";
        Logout = "LOGOUT", "RFC 9051 6.1.3", "ends the session";
        StartTls = "STARTTLS", "RFC 9051 6.2.1", "asks to switch to TLS";
        Authenticate = "AUTHENTICATE", "RFC 9051 6.2.2", "authenticates (SASL)";
        Login = "LOGIN", "RFC 9051 6.2.3", "logs in with user name and password";
        Enable = "ENABLE", "RFC 9051 6.3.1", "enables extensions";
        Select = "SELECT", "RFC 9051 6.3.2", "opens a mailbox read-write";
        Examine = "EXAMINE", "RFC 9051 6.3.3", "opens a mailbox read-only";
        Create = "CREATE", "RFC 9051 6.3.4", "creates a mailbox";
        Delete = "DELETE", "RFC 9051 6.3.5", "deletes a mailbox";
        Rename = "RENAME", "RFC 9051 6.3.6", "renames a mailbox";
        Subscribe = "SUBSCRIBE", "RFC 9051 6.3.7", "changes the subscription list";
        Unsubscribe = "UNSUBSCRIBE", "RFC 9051 6.3.8", "changes the subscription list";
        List = "LIST", "RFC 9051 6.3.9", "lists mailboxes";
        Lsub = "LSUB", "RFC 3501 6.3.9", "lists mailboxes";
        Namespace = "NAMESPACE", "RFC 9051 6.3.10", "asks for the mailbox namespaces";
        Status = "STATUS", "RFC 9051 6.3.11", "asks for a mailbox's counters";
        Append = "APPEND", "RFC 9051 6.3.12", "uploads a message into a mailbox";
        Idle = "IDLE", "RFC 9051 6.3.13", "waits for the server to report changes (until DONE)";
        Check = "CHECK", "RFC 3501 6.4.1", "checkpoint";
        Close = "CLOSE", "RFC 9051 6.4.1", "closes the mailbox, expunging deleted messages";
        Unselect = "UNSELECT", "RFC 9051 6.4.2", "closes the mailbox without expunging";
        Expunge = "EXPUNGE", "RFC 9051 6.4.3", "removes messages marked deleted";
        Search = "SEARCH", "RFC 9051 6.4.4", "searches messages";
        Fetch = "FETCH", "RFC 9051 6.4.5", "retrieves message data";
        Store = "STORE", "RFC 9051 6.4.6", "changes message flags";
        Copy = "COPY", "RFC 9051 6.4.7", "copies messages to another mailbox";
        Move = "MOVE", "RFC 9051 6.4.8", "moves messages to another mailbox";
        Id = "ID", "RFC 2971 3.1", "exchanges client and server identification";
        Compress = "COMPRESS", "RFC 4978 3", "asks to compress the rest of the session";
        GetQuota = "GETQUOTA", "RFC 9208 4.2", "asks for a quota root's usage and limits";
        GetQuotaRoot = "GETQUOTAROOT", "RFC 9208 4.3", "asks for the quota roots of a mailbox";
        SetQuota = "SETQUOTA", "RFC 9208 4.1", "changes a quota root's limits";
        GetAcl = "GETACL", "RFC 4314 3.3", "asks for a mailbox's access control list";
        SetAcl = "SETACL", "RFC 4314 3.1", "grants rights on a mailbox";
        MyRights = "MYRIGHTS", "RFC 4314 3.5", "asks for the user's own rights on a mailbox";
        ListRights = "LISTRIGHTS", "RFC 4314 3.4", "asks which rights can be granted on a mailbox";
        DeleteAcl = "DELETEACL", "RFC 4314 3.2", "removes an identifier's rights on a mailbox";
        Sort = "SORT", "RFC 5256 3", "searches messages and returns them sorted";
        Thread = "THREAD", "RFC 5256 3", "searches messages and returns them grouped in threads";
        GetMetadata = "GETMETADATA", "RFC 5464 4.2", "reads annotations of a mailbox or the server";
        SetMetadata = "SETMETADATA", "RFC 5464 4.3", "writes annotations of a mailbox or the server";
        Esearch = "ESEARCH", "RFC 7377 2", "searches several mailboxes at once";
        Xlist = "XLIST", "Gmail XLIST (no RFC; replaced by RFC 6154)", "lists mailboxes with their special use";
        Replace = "REPLACE", "RFC 8508 3", "replaces a message with a new version";
    }
}
verbs!(Verb);

impl Verb {
    /// The verb of a command as the transcript holds it: `FETCH`, or `UID FETCH` (the verb
    /// after one `UID ` prefix).
    pub fn of_command(verb: &str) -> Option<Verb> {
        Verb::parse(verb.strip_prefix("UID ").unwrap_or(verb))
    }
}

vocabulary! {
    /// An anomaly the IMAP dissector reports.
    pub enum Anomaly (name, explanation) {
        TagReused = "tag-reused", "RFC 9051 2.2.1", "a tag was used again while its command was in flight";
        CompletionForUnknownTag = "completion-for-unknown-tag", "RFC 9051 7.1", "a tagged response for no command in flight";
        LiteralCutShort = "literal-cut-short", "RFC 9051 4.3", "a literal ended before its announced size";
        LineTooLong = "line-too-long", "RFC 7162 3.2.1", "a line longer than 8192 octets";
        CommandBeforeGreeting = "command-before-greeting", "RFC 9051 7.1.1", "the client sent a command before the greeting";
        BadResponse = "bad-response", "RFC 9051 7.1.3", "the server answered BAD: a protocol error";
        LoginAfterLoginDisabled = "login-after-logindisabled", "RFC 9051 6.2.3", "LOGIN although the server announced LOGINDISABLED";
        UnknownCommand = "unknown-command", "RFC 9051 6", "a command IMAP does not define";
        MalformedCommand = "malformed-command", "RFC 9051 2.2.1", "a client line without tag and command";
        UnexpectedContinuation = "unexpected-continuation", "RFC 9051 7.5", "a + continuation with no command waiting for one";
        Gap = "gap", "RFC 793", "bytes are missing from the capture; parsing resynchronised";
        CompressedGap = "gap-in-compressed-stream", "RFC 4978 (DEFLATE keeps state across the whole stream, RFC 1951)", "bytes of a compressed direction are missing: nothing after them can be inflated, so the rest of that direction is counted, not read";
        DecompressionFailed = "decompression-failed", "RFC 4978 3 (DEFLATE, RFC 1951)", "the COMPRESS=DEFLATE data does not inflate; the rest of that direction is not read";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drift issue 10 names: verbs the dissector knows must have a note of their own.
    #[test]
    fn extension_verbs_are_known() {
        for w in ["SORT", "THREAD", "GETACL", "UID SORT", "uid fetch"] {
            let v = Verb::of_command(&w.to_ascii_uppercase()).unwrap();
            assert!(!v.note().contains("not a standard"), "{v:?}");
        }
        assert_eq!(Verb::of_command("UID FETCH"), Some(Verb::Fetch));
        assert_eq!(Verb::of_command("UID "), None);
        assert_eq!(Verb::of_command("UID UID FETCH"), None);
    }
}
