//! The protocol-neutral transcript every dissector produces: exchanges of a command and its
//! replies, messages that crossed the wire, credentials, TLS, anomalies.

use super::event::{Anomaly, Auth, Mark, Secret, Tls};

/// A client command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Upper-cased command name.
    pub verb: String,
    /// IMAP tag.
    pub tag: Option<String>,
    /// Arguments as sent (secrets replaced by `<redacted>`).
    pub args: String,
    /// The arguments unredacted, when they carry a secret (AUTH initial response).
    pub secret_args: Option<Secret>,
    /// MAIL/RCPT: the path without angle brackets.
    pub address: Option<String>,
    /// MAIL/RCPT ESMTP parameters, `KEY` or `KEY=VALUE`, in order.
    pub params: Vec<(String, Option<String>)>,
    /// IMAP: the mailbox the command names, decoded from modified UTF-7.
    pub mailbox: Option<String>,
}

/// A complete (possibly multi-line) server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub mark: Mark,
    /// SMTP: the three-digit code; POP3: `+OK`, `-ERR` or `+`; IMAP: `OK`, `NO`, `BAD`,
    /// `+` or the untagged response's name.
    pub code: String,
    /// SMTP: RFC 3463 enhanced status code, e.g. `2.1.0`; POP3/IMAP: the response code in
    /// brackets, e.g. `AUTH` or `CAPABILITY`.
    pub enhanced: Option<String>,
    /// Every line, code and separator included, without CRLF.
    pub lines: Vec<String>,
    /// A short reading of the reply's data (IMAP FETCH: UID, flags, size, envelope, …).
    pub summary: Option<String>,
}

/// A line the client sent inside an exchange that is not a command: SASL responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientLine {
    pub mark: Mark,
    /// As sent, or `<redacted>` when it carries a secret.
    pub text: String,
    pub secret: Option<Secret>,
}

/// A command with every reply it got; the greeting is an exchange without command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub mark: Mark,
    pub command: Option<Command>,
    pub client_lines: Vec<ClientLine>,
    pub replies: Vec<Reply>,
    /// Sent while earlier commands were still unanswered.
    pub pipelined: bool,
    /// Index into the transcript's messages of the message this exchange carried.
    pub message: Option<usize>,
    /// A gap or the end of the capture cut it short.
    pub incomplete: bool,
}

impl Exchange {
    /// Code of the last reply: the exchange's outcome.
    pub fn status(&self) -> Option<&str> {
        self.replies.last().map(|r| r.code.as_str())
    }
}

/// A message transferred with DATA or BDAT.
#[derive(Clone, Debug)]
pub struct Message {
    /// `smtp-data`, `smtp-bdat`, `pop3-retr`, `pop3-top`, `imap-fetch`, `imap-append`.
    pub origin: &'static str,
    pub mark: Mark,
    /// The message as transferred (dot-unstuffed, without the final `.CRLF`), up to the
    /// size limit.
    pub bytes: Vec<u8>,
    /// Size of the whole message, also past the limit.
    pub size: u64,
    /// SHA-256 over every byte seen, when that is more than `bytes` (a truncated message);
    /// `None`: it is the SHA-256 of `bytes`, left to the decoding stage.
    pub sha256: Option<String>,
    pub truncated: bool,
    /// A gap fell inside it: bytes are missing.
    pub incomplete: bool,
    pub mail_from: Option<String>,
    /// Recipients the server accepted.
    pub rcpt_to: Vec<String>,
    /// The exchange that ended it (DATA, or BDAT … LAST).
    pub exchange: usize,
}

/// Everything the dissector learned about one connection.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    pub exchanges: Vec<Exchange>,
    pub messages: Vec<Message>,
    pub auth: Vec<Auth>,
    pub tls: Option<Tls>,
    pub anomalies: Vec<Anomaly>,
    /// Capabilities the server offered (SMTP EHLO, POP3 CAPA, IMAP CAPABILITY).
    pub capabilities: Vec<String>,
    /// IMAP: mailboxes selected or examined, with what the server said about them.
    pub mailboxes: Vec<Mailbox>,
    /// IMAP COMPRESS=DEFLATE: where compression started (nothing after it is parsed).
    pub compression: Option<Mark>,
}

/// An IMAP mailbox as SELECT/EXAMINE reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mailbox {
    pub name: String,
    pub read_only: bool,
    pub exists: Option<u64>,
    pub recent: Option<u64>,
    pub uidvalidity: Option<u64>,
    pub uidnext: Option<u64>,
    pub flags: Option<String>,
    pub exchange: usize,
}
