//! IMAP's vocabulary: the command verbs the dissector knows (RFC 9051, 3501 and common
//! extensions), the server's responses (status, untagged data, continuation), the
//! capabilities, the response codes (`OK [UIDVALIDITY 3857529045]`) and the anomalies it
//! reports.

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
    /// A server response, by its keyword: the status responses (tagged or untagged), the
    /// untagged `*` and continuation `+` markers, and the untagged data responses
    /// (`* CAPABILITY …`, `* 3 EXISTS`, `* 1 FETCH (…)`).
    pub enum Response (keyword, meaning) {
        Ok = "OK", "RFC 9051 7.1.1", "success (tagged: the command completed)";
        No = "NO", "RFC 9051 7.1.2", "operational failure: the command was refused";
        Bad = "BAD", "RFC 9051 7.1.3", "protocol error: the command was not understood";
        Preauth = "PREAUTH", "RFC 9051 7.1.4", "greeting of a connection already authenticated";
        Bye = "BYE", "RFC 9051 7.1.5", "the server is closing the connection";
        Untagged = "*", "RFC 9051 2.2.2", "an untagged response: data or status not tied to one tag";
        Continuation = "+", "RFC 9051 7.6", "continuation request: the server waits for more from the client";
        Capability = "CAPABILITY", "RFC 9051 7.2.2", "the server's capabilities";
        Enabled = "ENABLED", "RFC 9051 7.2.1", "the extensions ENABLE turned on";
        List = "LIST", "RFC 9051 7.3.1", "one mailbox with its attributes and hierarchy delimiter";
        Lsub = "LSUB", "RFC 3501 7.2.3", "one subscribed mailbox";
        Namespace = "NAMESPACE", "RFC 9051 7.3.2", "the personal, other users' and shared namespaces";
        Status = "STATUS", "RFC 9051 7.3.3", "a mailbox's counters";
        Esearch = "ESEARCH", "RFC 9051 7.3.4", "search results (extended form)";
        Search = "SEARCH", "RFC 3501 7.2.5", "numbers of the matching messages";
        Flags = "FLAGS", "RFC 9051 7.3.5", "the flags defined in the mailbox";
        Exists = "EXISTS", "RFC 9051 7.4.1", "number of messages in the mailbox";
        Recent = "RECENT", "RFC 3501 7.3.2", "number of messages new since the last session";
        Expunge = "EXPUNGE", "RFC 9051 7.5.1", "a message was removed";
        Fetch = "FETCH", "RFC 9051 7.5.2", "data of one message";
        Id = "ID", "RFC 2971 3.2", "the server's identification";
        Vanished = "VANISHED", "RFC 7162 3.2.10", "UIDs of removed messages (QRESYNC)";
    }
}

impl Response {
    /// The response a server line opens with: `OK`, `+`, `*`, or after `* ` its keyword
    /// (`* CAPABILITY …`, `* 3 EXISTS`); None for anything not listed here. A tag is not a
    /// response: pass the line from the status word on.
    pub fn of(words: &str) -> Option<Response> {
        let mut it = words.split_ascii_whitespace();
        let first = it.next()?;
        let first = if first.bytes().all(|b| b.is_ascii_digit()) {
            it.next()?
        } else {
            first
        };
        super::lookup(first)
    }
}

vocabulary! {
    /// A capability the server announces (`* CAPABILITY …`, `[CAPABILITY …]`). A family whose
    /// members differ after `=` (`AUTH=PLAIN`, `THREAD=REFERENCES`) is one entry whose word
    /// ends in `=`; see [`Capability::of`].
    pub enum Capability (keyword, meaning) {
        Imap4rev1 = "IMAP4rev1", "RFC 3501 6.1.1", "speaks IMAP version 4 revision 1";
        Imap4rev2 = "IMAP4rev2", "RFC 9051 6.1.1", "speaks IMAP version 4 revision 2";
        StartTls = "STARTTLS", "RFC 9051 6.2.1", "the STARTTLS command is supported";
        LoginDisabled = "LOGINDISABLED", "RFC 9051 6.2.3", "LOGIN is refused here (usually until TLS)";
        Auth = "AUTH=", "RFC 9051 6.2.2", "a SASL mechanism AUTHENTICATE accepts";
        SaslIr = "SASL-IR", "RFC 4959 3", "AUTHENTICATE may carry the initial response";
        Idle = "IDLE", "RFC 2177 3", "the IDLE command (push of changes) is supported";
        Namespace = "NAMESPACE", "RFC 2342 5", "the NAMESPACE command is supported";
        Id = "ID", "RFC 2971 3", "the ID command is supported";
        Enable = "ENABLE", "RFC 5161 3", "the ENABLE command is supported";
        UidPlus = "UIDPLUS", "RFC 4315 3", "APPENDUID/COPYUID codes and UID EXPUNGE";
        Unselect = "UNSELECT", "RFC 3691 2", "the UNSELECT command is supported";
        Children = "CHILDREN", "RFC 3348 3", "LIST shows \\HasChildren / \\HasNoChildren";
        LiteralPlus = "LITERAL+", "RFC 7888 3", "non-synchronising literals {n+} of any size";
        LiteralMinus = "LITERAL-", "RFC 7888 4", "non-synchronising literals {n+} up to 4096 octets";
        Move = "MOVE", "RFC 6851 3", "the MOVE command is supported";
        CondStore = "CONDSTORE", "RFC 7162 3.1", "per-message modification sequences (MODSEQ)";
        Qresync = "QRESYNC", "RFC 7162 3.2", "quick resynchronisation on SELECT";
        Esearch = "ESEARCH", "RFC 4731 3", "extended SEARCH results (MIN, MAX, COUNT, ALL)";
        SearchRes = "SEARCHRES", "RFC 5182 2", "the result of a SEARCH can be reused as $";
        Within = "WITHIN", "RFC 5032 3", "SEARCH OLDER / YOUNGER by seconds";
        SpecialUse = "SPECIAL-USE", "RFC 6154 2", "LIST marks \\Sent, \\Trash, \\Drafts, … mailboxes";
        CreateSpecialUse = "CREATE-SPECIAL-USE", "RFC 6154 3", "CREATE can set a special use";
        CompressDeflate = "COMPRESS=DEFLATE", "RFC 4978 3", "the session can be compressed with DEFLATE";
        Quota = "QUOTA", "RFC 9208 3.1", "quota commands (GETQUOTA, GETQUOTAROOT, SETQUOTA)";
        Acl = "ACL", "RFC 4314 2", "access control lists (GETACL, SETACL, MYRIGHTS, …)";
        Rights = "RIGHTS=", "RFC 4314 2.1", "the extra rights letters the server supports";
        Sort = "SORT", "RFC 5256 3", "the SORT command is supported";
        SortDisplay = "SORT=DISPLAY", "RFC 5957 3", "SORT by DISPLAYFROM / DISPLAYTO";
        Thread = "THREAD=", "RFC 5256 3", "a THREAD algorithm (ORDEREDSUBJECT, REFERENCES)";
        Esort = "ESORT", "RFC 5267 3", "extended SORT results";
        ContextSearch = "CONTEXT=SEARCH", "RFC 5267 4", "search results kept up to date";
        ContextSort = "CONTEXT=SORT", "RFC 5267 4", "sort results kept up to date";
        Binary = "BINARY", "RFC 3516 3", "FETCH BINARY[] decodes on the server; APPEND takes binary";
        Catenate = "CATENATE", "RFC 4469 5", "APPEND builds a message from parts and URLs";
        MultiAppend = "MULTIAPPEND", "RFC 3502 3", "one APPEND uploads several messages";
        UrlAuth = "URLAUTH", "RFC 4467 3", "authorised IMAP URLs (for BURL in SMTP)";
        Utf8Accept = "UTF8=ACCEPT", "RFC 6855 3", "UTF-8 in mailbox names and headers once enabled";
        Utf8Only = "UTF8=ONLY", "RFC 6855 6", "the server requires UTF8=ACCEPT to be enabled";
        AppendLimit = "APPENDLIMIT", "RFC 7889 3", "the largest message APPEND accepts";
        ObjectId = "OBJECTID", "RFC 8474 3", "stable MAILBOXID / EMAILID / THREADID";
        StatusSize = "STATUS=SIZE", "RFC 8438 3", "STATUS reports a mailbox's size";
        SaveDate = "SAVEDATE", "RFC 8514 3", "FETCH SAVEDATE: when a message was saved";
        ListExtended = "LIST-EXTENDED", "RFC 5258 3", "LIST with selection and return options";
        ListStatus = "LIST-STATUS", "RFC 5819 2", "LIST returns STATUS counters too";
        ListMyRights = "LIST-MYRIGHTS", "RFC 8440 3", "LIST returns the user's rights too";
        Metadata = "METADATA", "RFC 5464 3", "annotations on mailboxes and the server";
        MetadataServer = "METADATA-SERVER", "RFC 5464 3", "annotations on the server only";
        Notify = "NOTIFY", "RFC 5465 3", "the client chooses which changes the server pushes";
        Language = "LANGUAGE", "RFC 5255 3", "the LANGUAGE command (language of texts)";
        I18nLevel = "I18NLEVEL=", "RFC 5255 4", "how SEARCH and SORT compare international text";
        Convert = "CONVERT", "RFC 5259 3", "the server converts body parts to other formats";
        Filters = "FILTERS", "RFC 5466 3", "named searches stored on the server";
        LoginReferrals = "LOGIN-REFERRALS", "RFC 2221 3", "the server may refer a login to another server";
        MailboxReferrals = "MAILBOX-REFERRALS", "RFC 2193 3", "a mailbox may live on another server";
        Unauthenticate = "UNAUTHENTICATE", "RFC 8437 2", "the UNAUTHENTICATE command is supported";
        Preview = "PREVIEW", "RFC 8970 3", "FETCH PREVIEW: a short text preview";
        Replace = "REPLACE", "RFC 8508 3", "the REPLACE command is supported";
        MultiSearch = "MULTISEARCH", "RFC 7377 2", "ESEARCH over several mailboxes";
        SearchFuzzy = "SEARCH=FUZZY", "RFC 6203 3", "fuzzy SEARCH with relevancy scores";
        XList = "XLIST", "Gmail XLIST (no RFC; replaced by RFC 6154)", "the XLIST command is supported";
        GmailExt = "X-GM-EXT-1", "Gmail IMAP extensions (no RFC)", "Gmail labels, message and thread ids";
    }
}

impl Capability {
    /// The capability an announced word names, compared without regard to ASCII case: the
    /// word itself (`IDLE`, `COMPRESS=DEFLATE`), else its family (`AUTH=PLAIN` is `AUTH=`),
    /// else the word before `=` (`APPENDLIMIT=35651584` is `APPENDLIMIT`).
    pub fn of(word: &str) -> Option<Capability> {
        super::lookup(word).or_else(|| {
            let eq = word.find('=')?;
            super::lookup(&word[..=eq]).or_else(|| super::lookup(&word[..eq]))
        })
    }
}

vocabulary! {
    /// A response code: the bracketed word opening a status response's text
    /// (`OK [UIDVALIDITY 3857529045]`, `NO [AUTHENTICATIONFAILED]`).
    pub enum ResponseCode (code, meaning) {
        Alert = "ALERT", "RFC 9051 7.1", "the text must be shown to the user";
        AlreadyExists = "ALREADYEXISTS", "RFC 5530 3", "the mailbox already exists";
        AppendUid = "APPENDUID", "RFC 4315 3", "the UIDVALIDITY and UID of the appended message";
        AuthenticationFailed = "AUTHENTICATIONFAILED", "RFC 5530 3", "wrong credentials";
        AuthorizationFailed = "AUTHORIZATIONFAILED", "RFC 5530 3", "the credentials are right but may not be used";
        BadCharset = "BADCHARSET", "RFC 9051 7.1", "SEARCH named a charset the server lacks";
        Cannot = "CANNOT", "RFC 5530 3", "the server will never do this";
        Capability = "CAPABILITY", "RFC 9051 7.1", "the capability list, inside a status response";
        ClientBug = "CLIENTBUG", "RFC 5530 3", "the server believes the client is at fault";
        Closed = "CLOSED", "RFC 7162 3.2.11", "the previous mailbox is now closed";
        CompressionActive = "COMPRESSIONACTIVE", "RFC 4978 3", "compression is already on";
        ContactAdmin = "CONTACTADMIN", "RFC 5530 3", "the user should contact the administrator";
        CopyUid = "COPYUID", "RFC 4315 3", "the UIDs of the copied messages, before and after";
        Corruption = "CORRUPTION", "RFC 5530 3", "the server found corrupt data";
        Expired = "EXPIRED", "RFC 5530 3", "the credentials have expired";
        ExpungeIssued = "EXPUNGEISSUED", "RFC 5530 3", "another session removed some of the messages";
        HasChildren = "HASCHILDREN", "RFC 9051 7.1", "the mailbox has child mailboxes";
        HighestModSeq = "HIGHESTMODSEQ", "RFC 7162 3.1.2.1", "the highest modification sequence of the mailbox";
        InUse = "INUSE", "RFC 5530 3", "the resource is busy: try again later";
        Limit = "LIMIT", "RFC 5530 3", "a server limit was reached";
        Modified = "MODIFIED", "RFC 7162 3.1.3", "messages a conditional STORE did not change";
        NoModSeq = "NOMODSEQ", "RFC 7162 3.1.2.2", "the mailbox has no modification sequences";
        NonExistent = "NONEXISTENT", "RFC 5530 3", "the mailbox or object does not exist";
        NoPerm = "NOPERM", "RFC 5530 3", "the user lacks the rights (ACL)";
        OverQuota = "OVERQUOTA", "RFC 5530 3", "the quota is exceeded";
        Parse = "PARSE", "RFC 9051 7.1", "a message could not be parsed";
        PermanentFlags = "PERMANENTFLAGS", "RFC 9051 7.1", "the flags the client may change for good";
        PrivacyRequired = "PRIVACYREQUIRED", "RFC 5530 3", "the operation needs TLS first";
        ReadOnly = "READ-ONLY", "RFC 9051 7.1", "the mailbox is selected read-only";
        ReadWrite = "READ-WRITE", "RFC 9051 7.1", "the mailbox is selected read-write";
        Referral = "REFERRAL", "RFC 2221 4.1", "try the given IMAP URL on another server";
        ServerBug = "SERVERBUG", "RFC 5530 3", "the server hit a bug";
        TryCreate = "TRYCREATE", "RFC 9051 7.1", "the target mailbox does not exist but can be created";
        UidNext = "UIDNEXT", "RFC 9051 7.1", "the UID the next new message will get";
        UidNotSticky = "UIDNOTSTICKY", "RFC 4315 3", "UIDs of this mailbox do not survive sessions";
        UidValidity = "UIDVALIDITY", "RFC 9051 7.1", "the UID validity value of the mailbox";
        Unavailable = "UNAVAILABLE", "RFC 5530 3", "a subsystem is down: try again later";
        UnknownCte = "UNKNOWN-CTE", "RFC 9051 7.1", "the server cannot decode this Content-Transfer-Encoding";
        Unseen = "UNSEEN", "RFC 3501 7.1", "the number of the first unseen message";
        BadUrl = "BADURL", "RFC 4469 6", "CATENATE or URLAUTH was given a bad URL";
        TooBig = "TOOBIG", "RFC 4469 6", "the message is too big";
        UseAttr = "USEATTR", "RFC 6154 3", "the special-use attribute was refused";
        NotSaved = "NOTSAVED", "RFC 5182 2.1", "the SEARCH result variable was not saved";
        MailboxId = "MAILBOXID", "RFC 8474 4.1", "the new mailbox's stable id";
        Metadata = "METADATA", "RFC 5464 4.2.1", "a METADATA limit was hit (size, count, …)";
    }
}

impl ResponseCode {
    /// The response code of a bracketed text (`UIDVALIDITY 3857529045`, `read-only`): its
    /// first word, compared without regard to ASCII case.
    pub fn of(text: &str) -> Option<ResponseCode> {
        super::lookup(text.split_ascii_whitespace().next()?)
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
        unique::<Response>();
        unique::<Capability>();
        unique::<ResponseCode>();
    }

    #[test]
    fn responses_capabilities_and_codes_are_found() {
        assert_eq!(Response::of("OK [READ-WRITE] done"), Some(Response::Ok));
        assert_eq!(Response::of("3 EXISTS"), Some(Response::Exists));
        assert_eq!(
            Response::of("1 FETCH (FLAGS (\\Seen))"),
            Some(Response::Fetch)
        );
        assert_eq!(
            Response::of("capability IMAP4rev1"),
            Some(Response::Capability)
        );
        assert_eq!(Response::of("+ Ready"), Some(Response::Continuation));
        assert_eq!(Response::of("12"), None);
        assert_eq!(Response::of("XYZZY"), None);
        assert_eq!(Capability::of("AUTH=PLAIN"), Some(Capability::Auth));
        assert_eq!(Capability::of("auth=xoauth2"), Some(Capability::Auth));
        assert_eq!(
            Capability::of("THREAD=REFERENCES"),
            Some(Capability::Thread)
        );
        assert_eq!(
            Capability::of("COMPRESS=DEFLATE"),
            Some(Capability::CompressDeflate)
        );
        assert_eq!(
            Capability::of("APPENDLIMIT=35651584"),
            Some(Capability::AppendLimit)
        );
        assert_eq!(Capability::of("QUOTA=RES-STORAGE"), Some(Capability::Quota));
        assert_eq!(Capability::of("imap4REV1"), Some(Capability::Imap4rev1));
        assert_eq!(Capability::of("COMPRESS=LZ4"), None);
        assert_eq!(Capability::of("X-UNKNOWN"), None);
        assert_eq!(Capability::of(""), None);
        assert_eq!(
            ResponseCode::of("UIDVALIDITY 3857529045"),
            Some(ResponseCode::UidValidity)
        );
        assert_eq!(ResponseCode::of("read-only"), Some(ResponseCode::ReadOnly));
        assert_eq!(ResponseCode::of(""), None);
        // A family's word ends in `=`, so it cannot be mistaken for a member.
        for &c in Capability::ALL {
            let w = c.keyword();
            assert!(!w.contains(' ') && !w.is_empty(), "{c:?}");
            if w.ends_with('=') {
                assert_eq!(Capability::of(&format!("{w}X")), Some(c));
            }
        }
    }

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
