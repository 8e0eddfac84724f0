//! Protocol phases, derived from a session's exchanges for the teaching views: where a
//! session moves from one phase of its protocol to the next.
//!
//! - SMTP: greeting → hello → (tls) → (auth) → envelope → data → quit (RFC 5321 §3; a new
//!   transaction goes back to envelope).
//! - POP3: AUTHORIZATION → TRANSACTION → UPDATE (RFC 1939 §3).
//! - IMAP: not authenticated → authenticated → selected → logout (RFC 9051 §3).
//!
//! The phase names are the knowledge base's keys (`[phase.NAME]` in `kb/*.toml`).

use super::Exchange;
use crate::types::Protocol;

/// Where a phase begins: the exchange it begins with, and its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub exchange: usize,
    pub phase: &'static str,
}

/// The phases of SMTP, POP3 and IMAP, in order, as the knowledge base names them.
pub const SMTP: [&str; 7] = [
    "greeting", "hello", "tls", "auth", "envelope", "data", "quit",
];
pub const POP3: [&str; 3] = ["authorization", "transaction", "update"];
pub const IMAP: [&str; 4] = ["not-authenticated", "authenticated", "selected", "logout"];

/// Every change of phase in `exchanges` (the first one at the first exchange).
pub fn changes(protocol: Protocol, exchanges: &[Exchange]) -> Vec<Change> {
    let mut t = Tracker::new(protocol);
    let mut out = Vec::new();
    for (i, e) in exchanges.iter().enumerate() {
        out.extend(
            t.step(i, e)
                .into_iter()
                .map(|phase| Change { exchange: i, phase }),
        );
    }
    out
}

/// Follows a session's phase exchange by exchange, for a view that gets them one at a time
/// (the live view): [`changes`] is this over a whole list.
#[derive(Clone, Debug)]
pub struct Tracker {
    protocol: Protocol,
    now: Option<&'static str>,
    /// A phase that begins with the next exchange (a login's success).
    next: Option<&'static str>,
}

impl Tracker {
    pub fn new(protocol: Protocol) -> Tracker {
        Tracker {
            protocol,
            now: None,
            next: None,
        }
    }

    /// The phases that begin with exchange `i` (at most two: a login's success, then
    /// what the exchange's own command begins, as QUIT right after logging in).
    pub fn step(&mut self, i: usize, e: &Exchange) -> Vec<&'static str> {
        let protocol = self.protocol;
        let verb = e.command.as_ref().map(|c| c.verb.as_str());
        let ok = |code: &str| e.status() == Some(code);
        let mut out = Vec::new();
        let mut push = |p: &'static str, now: &mut Option<&'static str>| {
            if *now != Some(p) {
                *now = Some(p);
                out.push(p);
            }
        };
        if let Some(p) = self.next.take() {
            push(p, &mut self.now);
        }
        let now = self.now;
        let own = match protocol {
            Protocol::Smtp => smtp(i, verb),
            Protocol::Pop3 => match verb {
                // Picked up mid-session: the first command tells which state it is in.
                Some(v) if i == 0 && POP3_TRANSACTION.contains(&v) => Some("transaction"),
                _ if i == 0 => Some("authorization"),
                Some("QUIT") if now == Some("transaction") => Some("update"),
                _ => None,
            },
            Protocol::Imap => match verb {
                None if i == 0 => Some(if preauth(e) {
                    "authenticated"
                } else {
                    "not-authenticated"
                }),
                Some("LOGOUT") => Some("logout"),
                Some(v) if i == 0 && IMAP_SELECTED.contains(&v) => Some("selected"),
                Some(v) if i == 0 && IMAP_AUTHENTICATED.contains(&v) => Some("authenticated"),
                _ if i == 0 => Some("not-authenticated"),
                _ => None,
            },
            _ => None,
        };
        if let Some(p) = own {
            push(p, &mut self.now);
        }
        // What this exchange's outcome opens for the next one.
        let now = self.now;
        self.next = match (protocol, verb) {
            (Protocol::Pop3, Some("PASS" | "APOP" | "AUTH")) if ok("+OK") => Some("transaction"),
            (Protocol::Imap, Some("LOGIN" | "AUTHENTICATE")) if ok("OK") => Some("authenticated"),
            (Protocol::Imap, Some("SELECT" | "EXAMINE")) if ok("OK") => Some("selected"),
            // A SELECT that fails leaves no mailbox selected (RFC 9051 §6.3.2).
            (Protocol::Imap, Some("SELECT" | "EXAMINE")) if now == Some("selected") => {
                Some("authenticated")
            }
            (Protocol::Imap, Some("CLOSE" | "UNSELECT")) if ok("OK") => Some("authenticated"),
            _ => None,
        };
        out
    }
}

/// An IMAP greeting that says the client is already authenticated (`* PREAUTH`).
fn preauth(e: &Exchange) -> bool {
    let first = e.replies.first().and_then(|r| r.lines.first());
    first.is_some_and(|l| {
        l.get(..9)
            .is_some_and(|w| w.eq_ignore_ascii_case("* PREAUTH"))
    })
}

/// POP3 commands valid only in the TRANSACTION state (RFC 1939 §5).
const POP3_TRANSACTION: [&str; 8] = [
    "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL",
];
/// IMAP commands valid only with a mailbox selected (RFC 9051 §6.4).
const IMAP_SELECTED: [&str; 9] = [
    "FETCH", "STORE", "SEARCH", "COPY", "MOVE", "EXPUNGE", "CLOSE", "UNSELECT", "UID",
];
/// IMAP commands of the authenticated state (RFC 9051 §6.3).
const IMAP_AUTHENTICATED: [&str; 14] = [
    "SELECT",
    "EXAMINE",
    "CREATE",
    "DELETE",
    "RENAME",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "LIST",
    "LSUB",
    "NAMESPACE",
    "STATUS",
    "APPEND",
    "IDLE",
    "ENABLE",
];

/// The phase an SMTP exchange begins, if it begins one.
fn smtp(i: usize, verb: Option<&str>) -> Option<&'static str> {
    match verb {
        None if i == 0 => Some("greeting"),
        Some("EHLO" | "HELO" | "LHLO") => Some("hello"),
        Some("STARTTLS") => Some("tls"),
        Some("AUTH") => Some("auth"),
        Some("MAIL" | "RCPT") => Some("envelope"),
        Some("DATA" | "BDAT") => Some("data"),
        Some("QUIT") => Some("quit"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::event::Mark;
    use crate::proto::transcript::{Command, Reply};

    fn ex(verb: Option<&str>, code: &str, line: &str) -> Exchange {
        let mut e = match verb {
            Some(v) => Exchange::of(Mark::default(), Command::new(v, ""), false),
            None => Exchange::default(),
        };
        e.replies.push(Reply {
            mark: Mark::default(),
            code: code.into(),
            enhanced: None,
            lines: vec![line.into()],
            summary: None,
            headers: None,
            latency_ms: None,
        });
        e
    }

    fn names(protocol: Protocol, x: &[Exchange]) -> Vec<(usize, &'static str)> {
        changes(protocol, x)
            .into_iter()
            .map(|c| (c.exchange, c.phase))
            .collect()
    }

    #[test]
    fn smtp_moves_through_its_phases_and_back_for_a_second_transaction() {
        let x = [
            ex(None, "220", "220 mx"),
            ex(Some("EHLO"), "250", "250 mx"),
            ex(Some("STARTTLS"), "220", "220 go"),
            ex(Some("EHLO"), "250", "250 mx"),
            ex(Some("AUTH"), "235", "235 ok"),
            ex(Some("MAIL"), "250", "250 ok"),
            ex(Some("RCPT"), "250", "250 ok"),
            ex(Some("DATA"), "250", "250 queued"),
            ex(Some("NOOP"), "250", "250 ok"),
            ex(Some("MAIL"), "250", "250 ok"),
            ex(Some("BDAT"), "250", "250 ok"),
            ex(Some("QUIT"), "221", "221 bye"),
        ];
        assert_eq!(
            names(Protocol::Smtp, &x),
            [
                (0, "greeting"),
                (1, "hello"),
                (2, "tls"),
                (3, "hello"),
                (4, "auth"),
                (5, "envelope"),
                (7, "data"),
                (9, "envelope"),
                (10, "data"),
                (11, "quit")
            ]
        );
    }

    #[test]
    fn pop3_enters_transaction_only_after_a_successful_login() {
        let x = [
            ex(None, "+OK", "+OK ready"),
            ex(Some("USER"), "+OK", "+OK"),
            ex(Some("PASS"), "-ERR", "-ERR no"),
            ex(Some("PASS"), "+OK", "+OK in"),
            ex(Some("STAT"), "+OK", "+OK 1 2"),
            ex(Some("QUIT"), "+OK", "+OK bye"),
        ];
        assert_eq!(
            names(Protocol::Pop3, &x),
            [(0, "authorization"), (4, "transaction"), (5, "update")]
        );
        // QUIT before logging in ends the session without an UPDATE state.
        let x = [ex(None, "+OK", "+OK ready"), ex(Some("QUIT"), "+OK", "+OK")];
        assert_eq!(names(Protocol::Pop3, &x), [(0, "authorization")]);
    }

    #[test]
    fn imap_states_follow_login_select_close_and_preauth() {
        let x = [
            ex(None, "*", "* OK ready"),
            ex(Some("LOGIN"), "NO", "a1 NO bad"),
            ex(Some("LOGIN"), "OK", "a2 OK in"),
            ex(Some("SELECT"), "OK", "a3 OK [READ-WRITE] done"),
            ex(Some("FETCH"), "OK", "a4 OK done"),
            ex(Some("CLOSE"), "OK", "a5 OK done"),
            ex(Some("LOGOUT"), "OK", "a6 OK bye"),
        ];
        assert_eq!(
            names(Protocol::Imap, &x),
            [
                (0, "not-authenticated"),
                (3, "authenticated"),
                (4, "selected"),
                (6, "authenticated"),
                (6, "logout")
            ]
        );
        let x = [
            ex(None, "*", "* PREAUTH hello"),
            ex(Some("LOGOUT"), "OK", "a1 OK"),
        ];
        assert_eq!(
            names(Protocol::Imap, &x),
            [(0, "authenticated"), (1, "logout")]
        );
    }

    #[test]
    fn a_session_picked_up_midway_starts_in_the_state_its_first_command_needs() {
        let x = [
            ex(Some("FETCH"), "OK", "a9 OK"),
            ex(Some("LOGOUT"), "OK", "a10 OK"),
        ];
        assert_eq!(names(Protocol::Imap, &x), [(0, "selected"), (1, "logout")]);
        let x = [ex(Some("LIST"), "OK", "a9 OK")];
        assert_eq!(names(Protocol::Imap, &x), [(0, "authenticated")]);
        let x = [
            ex(Some("TOP"), "+OK", "+OK"),
            ex(Some("QUIT"), "+OK", "+OK"),
        ];
        assert_eq!(
            names(Protocol::Pop3, &x),
            [(0, "transaction"), (1, "update")]
        );
        let x = [
            ex(Some("MAIL"), "250", "250 ok"),
            ex(Some("DATA"), "354", "354 go"),
        ];
        assert_eq!(names(Protocol::Smtp, &x), [(0, "envelope"), (1, "data")]);
    }

    #[test]
    fn a_failed_select_leaves_the_selected_state() {
        let x = [
            ex(None, "*", "* PREAUTH hello"),
            ex(Some("SELECT"), "OK", "a1 OK"),
            ex(Some("SELECT"), "NO", "a2 NO no such mailbox"),
            ex(Some("LIST"), "OK", "a3 OK"),
        ];
        assert_eq!(
            names(Protocol::Imap, &x),
            [(0, "authenticated"), (2, "selected"), (3, "authenticated")]
        );
    }
}
