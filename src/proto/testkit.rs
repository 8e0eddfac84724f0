//! Test harness shared by the dissectors' tests: feeds `C:`/`S:` steps, whole or cut into
//! pieces, and returns the transcript as the session builder folds it from the events, with
//! every message. Each run also checks that the folded transcript equals the one the
//! dissector kept: the events say everything that happened.

use super::Bounds;
use super::Dissector;
use super::event::{Event, Mark, Side};
use super::transcript::Transcript;

/// Limits the dissector tests run with.
pub const BOUNDS: Bounds = Bounds {
    max_line: 4096,
    max_message: 1 << 20,
    max_exchanges: 10_000,
    max_replies: 1_000,
    max_reply_lines: 1_000,
    max_anomalies: 100,
    max_imap_line: 1 << 20,
    max_imap_literals: 1_000,
    max_in_flight: 1_000,
    max_imap_depth: 32,
    max_imap_field_chars: 400,
    max_imap_header_chars: 1000,
    max_imap_header_fields: 32,
    max_imap_text_chars: 400,
};

/// Each exchange's command verb (empty for none) and reply codes.
pub fn verbs(t: &Transcript) -> Vec<(String, Vec<String>)> {
    t.exchanges
        .iter()
        .map(|e| {
            (
                e.command.as_ref().map_or(String::new(), |c| c.verb.clone()),
                e.replies.iter().map(|r| r.code.clone()).collect(),
            )
        })
        .collect()
}

/// The steps with their first `cut` bytes (both sides, in order) dropped: a capture that
/// begins there.
pub fn cut_before<'a>(steps: &[(Side, &'a [u8])], cut: usize) -> Vec<(Side, &'a [u8])> {
    let mut skip = cut;
    steps
        .iter()
        .filter_map(|&(side, data)| {
            let drop = skip.min(data.len());
            skip -= drop;
            (drop < data.len()).then(|| (side, &data[drop..]))
        })
        .collect()
}

/// Each step whole (`cuts` empty) or cut into pieces of the sizes in `cuts`, cycled over
/// all the steps, in order.
pub fn pieces<'a>(steps: &[(Side, &'a [u8])], cuts: &[usize]) -> Vec<(Side, &'a [u8])> {
    let mut out = Vec::new();
    let mut k = 0;
    for &(side, data) in steps {
        let mut rest = data;
        while !rest.is_empty() {
            let n = match cuts {
                [] => rest.len(),
                _ => cuts[k % cuts.len()].clamp(1, rest.len()),
            };
            k += 1;
            out.push((side, &rest[..n]));
            rest = &rest[n..];
        }
    }
    out
}

thread_local! {
    /// Exchanges told complete, per run (see [`end`]).
    static COMPLETE: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Folds events into `t` as the session builder does, messages into `t.messages`. Nothing
/// may be told about an exchange after it was told complete.
fn fold(t: &mut Transcript, events: Vec<Event>) {
    for e in events {
        let about = match &e {
            Event::Reply { exchange, .. }
            | Event::ReplyLines { exchange, .. }
            | Event::ClientLine { exchange, .. }
            | Event::Incomplete { exchange }
            | Event::Pipelined { exchange, .. }
            | Event::MessageOf { exchange, .. } => Some(*exchange),
            Event::AuthUpdate { auth, .. } => Some(auth.exchange),
            Event::MailboxUpdate { mailbox, .. } => Some(mailbox.exchange),
            _ => None,
        };
        if let Some(n) = about {
            let done = COMPLETE.with(|c| c.borrow().contains(&n));
            assert!(!done, "{e:?} after exchange {n} was told complete");
        }
        match e {
            Event::Message(m) => t.messages.push(m),
            Event::Complete { exchange } => COMPLETE.with(|c| c.borrow_mut().push(exchange)),
            e => t.apply(e),
        }
    }
}

/// Ends the dissector, folds its last events, and checks that the transcript folded from
/// all its events equals the dissector's own.
fn end(mut d: Box<dyn Dissector>, mut t: Transcript) -> Transcript {
    d.end(Mark::default());
    fold(&mut t, d.take_events());
    let own = d.transcript();
    let list = |t: &Transcript| t.exchanges.iter().cloned().collect::<Vec<_>>();
    assert_eq!(
        list(&t),
        list(own),
        "exchanges folded from the events differ"
    );
    assert_eq!(t.exchanges.omitted, own.exchanges.omitted);
    assert_eq!(t.auth(), own.auth(), "credentials differ");
    assert_eq!(t.mailboxes(), own.mailboxes(), "mailboxes differ");
    assert_eq!(t.capabilities(), own.capabilities(), "capabilities differ");
    assert_eq!(t.tls(), own.tls(), "TLS differs");
    assert_eq!(t.compression(), own.compression(), "compression differs");
    // Anomalies, and the limits reached, once both are finished.
    let own = d.into_transcript();
    assert_eq!(t.anomalies(), own.anomalies(), "anomalies differ");
    // Every command is told complete once, after its exchange began.
    let mut complete = COMPLETE.with(|c| std::mem::take(&mut *c.borrow_mut()));
    complete.sort_unstable();
    let unique = complete.len();
    complete.dedup();
    assert_eq!(unique, complete.len(), "an exchange told complete twice");
    let (kept, positions, _) = t.exchanges.clone().into_kept();
    for (e, n) in kept.iter().zip(positions.numbers()) {
        if e.command.is_some() {
            assert!(
                complete.binary_search(&n).is_ok(),
                "exchange {n} never complete"
            );
        }
    }
    t
}

/// Feeds each step whole (`cuts` empty) or in pieces of the sizes in `cuts`, cycled.
pub fn run(mut d: Box<dyn Dissector>, steps: &[(Side, &[u8])], cuts: &[usize]) -> Transcript {
    d.record_all();
    let mut t = Transcript::replica(d.transcript().bounds());
    COMPLETE.with(|c| c.borrow_mut().clear());
    for (side, piece) in pieces(steps, cuts) {
        d.on_data(side, piece, Mark::default());
        fold(&mut t, d.take_events());
    }
    end(d, t)
}

/// Small limits for the hostile-input tests, so that random input reaches them.
pub const TIGHT: Bounds = Bounds {
    max_line: 128,
    max_message: 512,
    max_exchanges: 4,
    max_replies: 2,
    max_reply_lines: 3,
    max_anomalies: 2,
    max_imap_line: 256,
    max_imap_literals: 2,
    max_in_flight: 2,
    max_imap_depth: 3,
    max_imap_field_chars: 16,
    max_imap_header_chars: 24,
    max_imap_header_fields: 2,
    max_imap_text_chars: 16,
};

/// Feeds arbitrary chunks (client or server) with a gap of `gap` bytes after each, as a
/// hostile capture would, and checks that every collection of the transcript stays within
/// `b` (see [`check_bounds`]).
pub fn hostile(mut d: Box<dyn Dissector>, b: &Bounds, chunks: &[(bool, Vec<u8>)], gap: u64) {
    d.record_all();
    let mut t = Transcript::replica(d.transcript().bounds());
    COMPLETE.with(|c| c.borrow_mut().clear());
    for (client, data) in chunks {
        let side = if *client { Side::Client } else { Side::Server };
        d.on_data(side, data, Mark::default());
        d.on_gap(side, gap, Mark::default());
        fold(&mut t, d.take_events());
    }
    let t = end(d, t);
    check_bounds(&t, b);
}

/// Asserts that a finished transcript keeps within its bounds, and that what it let go of
/// is counted.
pub fn check_bounds(t: &Transcript, b: &Bounds) {
    for m in &t.messages {
        assert!(m.bytes.len() <= b.max_message, "message over max_message");
        assert!(m.size >= m.bytes.len() as u64);
    }
    let mut per_name = std::collections::HashMap::new();
    for a in t.anomalies() {
        *per_name.entry(a.name()).or_insert(0usize) += 1;
        if a.name() == "limit-reached" {
            assert!(
                a.count.is_some_and(|c| c > 0),
                "limit-reached without count"
            );
        }
    }
    for (name, n) in &per_name {
        if *name != "limit-reached" {
            assert!(*n <= b.max_anomalies, "{n} {name} anomalies kept");
        }
    }
    let kept: Vec<_> = t.exchanges.iter().collect();
    assert_eq!(
        kept.len() as u64 + t.exchanges.omitted.count,
        t.exchanges.len() as u64,
        "every exchange is kept or counted"
    );
    assert!(
        kept.len() <= 2 * b.max_exchanges + 256,
        "{} exchanges kept",
        kept.len()
    );
    if t.exchanges.omitted.count > 0 {
        assert!(
            per_name.contains_key("limit-reached"),
            "omission not reported"
        );
    }
    for e in kept {
        assert!(
            e.replies.len() <= b.max_replies.max(1),
            "replies over the cap"
        );
        assert!(
            e.client_lines.len() <= b.max_replies,
            "client lines over the cap"
        );
        for r in &e.replies {
            assert!(
                r.lines.len() <= b.max_reply_lines.max(1),
                "reply lines over the cap"
            );
            if let Some(h) = &r.headers {
                let kept = b.max_imap_header_fields;
                assert!(h.raw.len() <= kept && h.received.len() <= kept);
                let within = |v: &String| v.chars().count() <= b.max_imap_header_chars + 1;
                assert!(h.raw.iter().all(|(_, v)| within(v)) && h.received.iter().all(within));
            }
        }
    }
    assert!(t.capabilities().len() <= b.max_reply_lines);
    assert!(t.auth().len() <= b.max_exchanges);
    assert!(t.mailboxes().len() <= b.max_exchanges);
    for m in &t.messages {
        assert!(m.rcpt_to.len() <= b.max_replies);
    }
}

/// A protocol-valid session made by one of the strategies below: its steps, and the bytes
/// of every message it carries, in order, as the dissector must hand them out.
#[derive(Clone, Debug)]
pub struct Script {
    pub steps: Vec<(Side, Vec<u8>)>,
    pub messages: Vec<Vec<u8>>,
}

impl Script {
    fn new() -> Script {
        Script {
            steps: Vec::new(),
            messages: Vec::new(),
        }
    }

    fn c(&mut self, data: impl AsRef<[u8]>) {
        self.steps.push((Side::Client, data.as_ref().to_vec()));
    }

    fn s(&mut self, data: impl AsRef<[u8]>) {
        self.steps.push((Side::Server, data.as_ref().to_vec()));
    }
}

/// Everything a transcript says, as text: what must not depend on the chunking.
pub fn fingerprint(t: &Transcript) -> String {
    format!(
        "exchanges {:#?}\nmessages {:#?}\nauth {:#?}\ntls {:#?}\nanomalies {:#?}\n\
         capabilities {:?}\nmailboxes {:#?}\ncompression {:?}",
        t.exchanges.iter().collect::<Vec<_>>(),
        t.messages,
        t.auth(),
        t.tls(),
        t.anomalies(),
        t.capabilities(),
        t.mailboxes(),
        t.compression(),
    )
}

/// Runs `script` whole and cut into pieces of the sizes in `cuts` (cycled; pieces of 1 or 2
/// bytes cut CRLFs, literal announcements and literals): the transcripts must be the same,
/// and the messages those the script carries.
pub fn check_chunking(
    make: impl Fn() -> Box<dyn Dissector>,
    script: &Script,
    cuts: &[usize],
) -> Result<(), proptest::test_runner::TestCaseError> {
    let steps: Vec<(Side, &[u8])> = script.steps.iter().map(|(s, d)| (*s, &d[..])).collect();
    let whole = run(make(), &steps, &[]);
    let got: Vec<Vec<u8>> = whole.messages.iter().map(|m| m.bytes.to_vec()).collect();
    let want: Vec<Vec<u8>> = script.messages.clone();
    proptest::prop_assert_eq!(got, want, "messages of the whole run");
    let split = run(make(), &steps, cuts);
    proptest::prop_assert_eq!(fingerprint(&split), fingerprint(&whole));
    // As the file-mode pipeline runs it: only structural events recorded, the transcript
    // taken whole at the end. The same transcript.
    let mut d = make();
    let mut messages = Vec::new();
    for (side, piece) in pieces(&steps, cuts) {
        d.on_data(side, piece, Mark::default());
        messages.extend(d.take_events().into_iter().filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        }));
    }
    d.end(Mark::default());
    messages.extend(d.take_events().into_iter().filter_map(|e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    }));
    let mut quiet = d.into_transcript();
    quiet.messages = messages;
    proptest::prop_assert_eq!(
        fingerprint(&quiet),
        fingerprint(&whole),
        "file mode differs"
    );
    Ok(())
}

/// Cut sizes for [`check_chunking`]: mostly tiny, some large.
pub fn cuts() -> impl proptest::strategy::Strategy<Value = Vec<usize>> {
    use proptest::prelude::*;
    proptest::collection::vec(
        prop_oneof![4 => 1usize..4, 2 => 4usize..16, 1 => 16usize..200],
        1..60,
    )
}

/// Lines of any bytes but CR and LF (8-bit ones and leading dots included), each ended by
/// CRLF: a message body for the dot-terminated protocols.
fn body_lines() -> impl proptest::strategy::Strategy<Value = Vec<Vec<u8>>> {
    use proptest::prelude::*;
    let byte = prop_oneof![
        3 => any::<u8>().prop_filter("no CR or LF", |b| *b != b'\r' && *b != b'\n'),
        1 => Just(b'.'),
        1 => Just(0xff_u8),
    ];
    proptest::collection::vec(proptest::collection::vec(byte, 0..20), 0..6)
}

/// The lines as a message (each with CRLF) and dot-stuffed on the wire, with the final dot.
fn dot_body(lines: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let (mut message, mut wire) = (Vec::new(), Vec::new());
    for l in lines {
        message.extend_from_slice(l);
        message.extend_from_slice(b"\r\n");
        if l.first() == Some(&b'.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(l);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b".\r\n");
    (message, wire)
}

/// Any bytes, CR, LF and 0xff among them: BDAT chunks and IMAP literals.
fn raw_bytes(max: usize) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let byte =
        prop_oneof![4 => any::<u8>(), 1 => Just(b'\r'), 1 => Just(b'\n'), 1 => Just(0xff_u8)];
    proptest::collection::vec(byte, 0..max)
}

/// SMTP sessions: EHLO, then transactions (DATA with 8-bit, dot-stuffed bodies, pipelined or
/// one command at a time; BDAT chunks of any bytes), AUTH, NOOP and RSET, then QUIT.
pub fn smtp_script() -> impl proptest::strategy::Strategy<Value = Script> {
    use proptest::prelude::*;
    #[derive(Clone, Debug)]
    enum Step {
        Data {
            pipelined: bool,
            rcpts: usize,
            lines: Vec<Vec<u8>>,
        },
        Bdat {
            chunks: Vec<Vec<u8>>,
        },
        Auth,
        Noop {
            multiline: bool,
        },
        Rset,
    }
    let step = prop_oneof![
        3 => (any::<bool>(), 1usize..4, body_lines())
            .prop_map(|(pipelined, rcpts, lines)| Step::Data { pipelined, rcpts, lines }),
        2 => proptest::collection::vec(raw_bytes(40), 1..4).prop_map(|chunks| Step::Bdat { chunks }),
        1 => Just(Step::Auth),
        1 => any::<bool>().prop_map(|multiline| Step::Noop { multiline }),
        1 => Just(Step::Rset),
    ];
    proptest::collection::vec(step, 0..6).prop_map(|steps| {
        let mut s = Script::new();
        s.s("220 mx ESMTP\r\n");
        s.c("EHLO c\r\n");
        s.s("250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 CHUNKING\r\n");
        for step in steps {
            match step {
                Step::Data {
                    pipelined,
                    rcpts,
                    lines,
                } => {
                    let mut cmds = vec!["MAIL FROM:<a@x> BODY=8BITMIME\r\n".to_string()];
                    cmds.extend((0..rcpts).map(|i| format!("RCPT TO:<r{i}@y>\r\n")));
                    cmds.push("DATA\r\n".into());
                    let replies: Vec<&str> = (0..=rcpts)
                        .map(|_| "250 ok\r\n")
                        .chain(["354 go\r\n"])
                        .collect();
                    if pipelined {
                        s.c(cmds.concat());
                        s.s(replies.concat());
                    } else {
                        for (c, r) in cmds.iter().zip(&replies) {
                            s.c(c);
                            s.s(r);
                        }
                    }
                    let (message, wire) = dot_body(&lines);
                    s.c(wire);
                    s.s("250 2.0.0 queued\r\n");
                    s.messages.push(message);
                }
                Step::Bdat { chunks } => {
                    s.c("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n");
                    s.s("250 ok\r\n250 ok\r\n");
                    let n = chunks.len();
                    for (i, chunk) in chunks.iter().enumerate() {
                        let last = if i + 1 == n { " LAST" } else { "" };
                        let mut c = format!("BDAT {}{last}\r\n", chunk.len()).into_bytes();
                        c.extend_from_slice(chunk);
                        s.c(c);
                        s.s("250 ok\r\n");
                    }
                    s.messages.push(chunks.concat());
                }
                Step::Auth => {
                    s.c("AUTH PLAIN AGFsaWNlAHB3\r\n");
                    s.s("235 2.7.0 ok\r\n");
                }
                Step::Noop { multiline } => {
                    s.c("NOOP\r\n");
                    s.s(if multiline {
                        "250-a\r\n250-b\r\n250 ok\r\n"
                    } else {
                        "250 ok\r\n"
                    });
                }
                Step::Rset => {
                    s.c("RSET\r\n");
                    s.s("250 ok\r\n");
                }
            }
        }
        s.c("QUIT\r\n");
        s.s("221 bye\r\n");
        s
    })
}

/// POP3 sessions: USER/PASS, then commands alone or pipelined (STAT, LIST, RETR and TOP with
/// 8-bit, dot-stuffed bodies, DELE, NOOP), then QUIT.
pub fn pop3_script() -> impl proptest::strategy::Strategy<Value = Script> {
    use proptest::prelude::*;
    #[derive(Clone, Debug)]
    enum Cmd {
        Stat,
        List(usize),
        /// RETR, or TOP when true.
        Retr(bool, Vec<Vec<u8>>),
        Dele,
        Noop,
    }
    let cmd = prop_oneof![
        1 => Just(Cmd::Stat),
        1 => (0usize..4).prop_map(Cmd::List),
        4 => (any::<bool>(), body_lines()).prop_map(|(top, lines)| Cmd::Retr(top, lines)),
        1 => Just(Cmd::Dele),
        1 => Just(Cmd::Noop),
    ];
    // Groups of commands: each group is sent at once (pipelined when more than one).
    let groups = proptest::collection::vec(proptest::collection::vec(cmd, 1..4), 0..5);
    (any::<bool>(), groups).prop_map(|(pipelined_login, groups)| {
        let mut s = Script::new();
        s.s("+OK ready <1.2@host>\r\n");
        if pipelined_login {
            s.c("CAPA\r\nUSER alice\r\nPASS pw\r\n");
            s.s("+OK\r\nUSER\r\nPIPELINING\r\n.\r\n+OK\r\n+OK in\r\n");
        } else {
            s.c("USER alice\r\n");
            s.s("+OK\r\n");
            s.c("PASS pw\r\n");
            s.s("+OK in\r\n");
        }
        for group in groups {
            let (mut cmds, mut replies) = (Vec::new(), Vec::new());
            for cmd in group {
                match cmd {
                    Cmd::Stat => {
                        cmds.extend_from_slice(b"STAT\r\n");
                        replies.extend_from_slice(b"+OK 2 40\r\n");
                    }
                    Cmd::List(n) => {
                        cmds.extend_from_slice(b"LIST\r\n");
                        replies.extend_from_slice(format!("+OK {n} messages\r\n").as_bytes());
                        for i in 1..=n {
                            replies.extend_from_slice(format!("{i} 20\r\n").as_bytes());
                        }
                        replies.extend_from_slice(b".\r\n");
                    }
                    Cmd::Retr(top, lines) => {
                        cmds.extend_from_slice(if top { b"TOP 1 5\r\n" } else { b"RETR 1\r\n" });
                        let (message, wire) = dot_body(&lines);
                        replies.extend_from_slice(b"+OK message follows\r\n");
                        replies.extend_from_slice(&wire);
                        s.messages.push(message);
                    }
                    Cmd::Dele => {
                        cmds.extend_from_slice(b"DELE 1\r\n");
                        replies.extend_from_slice(b"+OK deleted\r\n");
                    }
                    Cmd::Noop => {
                        cmds.extend_from_slice(b"NOOP\r\n");
                        replies.extend_from_slice(b"+OK\r\n");
                    }
                }
            }
            s.c(cmds);
            s.s(replies);
        }
        s.c("QUIT\r\n");
        s.s("+OK bye\r\n");
        s
    })
}

/// IMAP sessions: LOGIN (atoms, or a synchronising literal), SELECT, then FETCH of bodies
/// as literals of any bytes (alone or several in one reply, with or without UID and FLAGS),
/// APPEND with synchronising or non-synchronising literals, NOOP with untagged data, then
/// LOGOUT.
pub fn imap_script() -> impl proptest::strategy::Strategy<Value = Script> {
    use proptest::prelude::*;
    #[derive(Clone, Debug)]
    enum Cmd {
        Fetch { uid: bool, bodies: Vec<Vec<u8>> },
        Append { sync: bool, data: Vec<u8> },
        Noop,
    }
    let cmd = prop_oneof![
        3 => (any::<bool>(), proptest::collection::vec(raw_bytes(60), 1..4))
            .prop_map(|(uid, bodies)| Cmd::Fetch { uid, bodies }),
        2 => (any::<bool>(), raw_bytes(60)).prop_map(|(sync, data)| Cmd::Append { sync, data }),
        1 => Just(Cmd::Noop),
    ];
    (any::<bool>(), proptest::collection::vec(cmd, 0..6)).prop_map(|(literal_login, cmds)| {
        let mut s = Script::new();
        s.s("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
        if literal_login {
            s.c("a1 LOGIN {5}\r\n");
            s.s("+ go\r\n");
            s.c("alice pw\r\n");
        } else {
            s.c("a1 LOGIN alice pw\r\n");
        }
        s.s("a1 OK in\r\n");
        s.c("a2 SELECT INBOX\r\n");
        s.s("* 3 EXISTS\r\n* FLAGS (\\Seen)\r\na2 OK [READ-WRITE] done\r\n");
        for (i, cmd) in cmds.into_iter().enumerate() {
            let tag = format!("t{i}");
            match cmd {
                Cmd::Fetch { uid, bodies } => {
                    let n = bodies.len();
                    s.c(format!("{tag} FETCH 1:{n} (UID FLAGS BODY[])\r\n"));
                    let mut reply = Vec::new();
                    for (k, body) in bodies.into_iter().enumerate() {
                        let uid = if uid {
                            format!("UID {} ", k + 7)
                        } else {
                            String::new()
                        };
                        reply.extend_from_slice(
                            format!(
                                "* {} FETCH ({uid}FLAGS (\\Seen) BODY[] {{{}}}\r\n",
                                k + 1,
                                body.len()
                            )
                            .as_bytes(),
                        );
                        reply.extend_from_slice(&body);
                        reply.extend_from_slice(b")\r\n");
                        s.messages.push(body);
                    }
                    reply.extend_from_slice(format!("{tag} OK done\r\n").as_bytes());
                    s.s(reply);
                }
                Cmd::Append { sync, data } => {
                    let mut c = format!("{tag} APPEND INBOX (\\Seen) ").into_bytes();
                    if sync {
                        c.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
                        s.c(c);
                        s.s("+ ready\r\n");
                        c = Vec::new();
                    } else {
                        c.extend_from_slice(format!("{{{}+}}\r\n", data.len()).as_bytes());
                    }
                    c.extend_from_slice(&data);
                    c.extend_from_slice(b"\r\n");
                    s.c(c);
                    s.s(format!("{tag} OK [APPENDUID 1 9] done\r\n"));
                    s.messages.push(data);
                }
                Cmd::Noop => {
                    s.c(format!("{tag} NOOP\r\n"));
                    s.s(format!("* 4 EXISTS\r\n* 1 RECENT\r\n{tag} OK\r\n"));
                }
            }
        }
        s.c("z LOGOUT\r\n");
        s.s("* BYE\r\nz OK\r\n");
        s
    })
}

/// A message body of 1000 lines of 100 bytes (CRLF included): 100,000 bytes.
pub fn hundred_k() -> Vec<u8> {
    let mut line = vec![b'x'; 98];
    line.extend_from_slice(b"\r\n");
    line.repeat(1000)
}
