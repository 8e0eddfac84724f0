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

/// Folds events into `t` as the session builder does, messages into `t.messages`.
fn fold(t: &mut Transcript, events: Vec<Event>) {
    for e in events {
        match e {
            Event::Message(m) => t.messages.push(m),
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
    t
}

/// Feeds each step whole (`cuts` empty) or in pieces of the sizes in `cuts`, cycled.
pub fn run(mut d: Box<dyn Dissector>, steps: &[(Side, &[u8])], cuts: &[usize]) -> Transcript {
    let mut t = Transcript::replica(d.transcript().bounds());
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
};

/// Feeds arbitrary chunks (client or server) with a gap of `gap` bytes after each, as a
/// hostile capture would, and checks that every collection of the transcript stays within
/// `b` (see [`check_bounds`]).
pub fn hostile(mut d: Box<dyn Dissector>, b: &Bounds, chunks: &[(bool, Vec<u8>)], gap: u64) {
    let mut t = Transcript::replica(d.transcript().bounds());
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
        }
    }
    assert!(t.capabilities().len() <= b.max_reply_lines);
    assert!(t.auth().len() <= b.max_exchanges);
    assert!(t.mailboxes().len() <= b.max_exchanges);
    for m in &t.messages {
        assert!(m.rcpt_to.len() <= b.max_replies);
    }
}
