//! Test harness shared by the dissectors' tests: feeds `C:`/`S:` steps, whole or cut into
//! pieces, and returns the transcript with every message, however they were handed out.

use super::Bounds;
use super::Dissector;
use super::event::{Mark, Side};
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

/// Feeds each step whole (`cuts` empty) or in pieces of the sizes in `cuts`, cycled.
pub fn run(mut d: Box<dyn Dissector>, steps: &[(Side, &[u8])], cuts: &[usize]) -> Transcript {
    let mut messages = Vec::new();
    let mut k = 0;
    for (side, data) in steps {
        let mut rest: &[u8] = data;
        while !rest.is_empty() {
            let n = match cuts {
                [] => rest.len(),
                _ => cuts[k % cuts.len()].clamp(1, rest.len()),
            };
            k += 1;
            d.on_data(*side, &rest[..n], Mark::default());
            messages.extend(d.take_messages());
            rest = &rest[n..];
        }
    }
    let mut t = d.finish(Mark::default());
    messages.append(&mut t.messages);
    t.messages = messages;
    t
}

/// Feeds arbitrary chunks (client or server) with a gap of `gap` bytes after each, as a
/// hostile capture would, and returns the sizes of the messages kept (each must stay
/// within the dissector's `max_message`).
pub fn hostile(mut d: Box<dyn Dissector>, chunks: &[(bool, Vec<u8>)], gap: u64) -> Vec<usize> {
    let mut sizes = Vec::new();
    for (client, data) in chunks {
        let side = if *client { Side::Client } else { Side::Server };
        d.on_data(side, data, Mark::default());
        d.on_gap(side, gap, Mark::default());
        sizes.extend(d.take_messages().iter().map(|m| m.bytes.len()));
    }
    sizes.extend(
        d.finish(Mark::default())
            .messages
            .iter()
            .map(|m| m.bytes.len()),
    );
    sizes
}
