//! Line framing shared by the text protocols: bounded line assembly across chunks.

use super::event::Mark;
use super::transcript::Message;
use sha2::{Digest, Sha256};

/// Per-direction line assembly with a length cap.
#[derive(Default)]
pub struct Lines {
    pub buf: Vec<u8>,
    /// Where the line began.
    pub start: Mark,
    /// The current line exceeded the cap; its tail is being dropped.
    pub overlong: bool,
}

impl Lines {
    /// Appends bytes up to and including the next LF. Returns the consumed count and
    /// whether a line is complete.
    pub fn take(&mut self, data: &[u8], mark: Mark, cap: usize) -> (usize, bool) {
        if self.buf.is_empty() && !self.overlong {
            self.start = mark;
        }
        let (n, done) = match data.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (data.len(), false),
        };
        let room = cap.saturating_sub(self.buf.len());
        if n > room {
            self.overlong = true;
        }
        crate::copies::count(crate::copies::Site::Line, n.min(room));
        self.buf.extend_from_slice(&data[..n.min(room)]);
        (n, done)
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.overlong = false;
    }
}

/// The line without its LF or CRLF.
pub fn strip_eol(raw: &[u8]) -> &[u8] {
    let line = raw.strip_suffix(b"\n").unwrap_or(raw);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Keeps a message's bytes up to `max`. Below the limit nothing is hashed here: the
/// message's SHA-256 is that of the bytes kept, computed by whoever decodes them (off the
/// dissecting thread). Past the limit the message is truncated, and `overflow` hashes every
/// byte from then on (the kept ones first), so the hash still covers the whole message.
/// Returns whether the message is truncated.
fn keep_message(
    buf: &mut Vec<u8>,
    overflow: &mut Option<Sha256>,
    piece: &[u8],
    max: usize,
    plan: usize,
) -> bool {
    if let Some(h) = overflow {
        h.update(piece);
        return true;
    }
    let room = max.saturating_sub(buf.len());
    if piece.len() <= room {
        append(buf, piece, plan, max);
        return false;
    }
    let mut h = Sha256::new();
    h.update(&buf[..]);
    h.update(piece);
    append(buf, &piece[..room], plan, max);
    *overflow = Some(h);
    true
}

/// A message's bytes as they arrive: kept up to the size limit and hashed past it
/// ([`keep_message`]), or let go for a memory budget ([`MessageBytes::shed`]). `size` counts
/// every byte of the message, also those a gap took. Shared by every dissector, so a
/// message's size, hash, truncation and decodability are worked out in one place.
#[derive(Clone, Debug, Default)]
pub struct MessageBytes {
    bytes: Vec<u8>,
    overflow: Option<Sha256>,
    /// Bytes of the message so far, kept or not.
    pub size: u64,
    truncated: bool,
    /// Let go to stay within the memory budget (hashed on, not kept).
    shed: bool,
    /// The size the protocol announced ([`MessageBytes::expect`]): the buffer's growth
    /// stops there. 0: nothing announced.
    plan: usize,
}

impl MessageBytes {
    /// The next piece of the message; at most `max` bytes are kept in all.
    pub fn push(&mut self, piece: &[u8], max: usize) {
        self.size += piece.len() as u64;
        self.truncated |= keep_message(&mut self.bytes, &mut self.overflow, piece, max, self.plan);
    }

    /// The protocol announced that the message will have `total` bytes in all (SMTP
    /// `SIZE=`, a BDAT chunk, POP3 `+OK n octets`, an IMAP literal): the buffer's last growth
    /// makes it exactly that large, not up to twice as large. The announcement is the
    /// sender's word, so it never makes the buffer larger than doubling would ([`append`]).
    pub fn expect(&mut self, total: u64) {
        self.plan = usize::try_from(total).unwrap_or(usize::MAX);
    }

    /// Bytes kept for decoding.
    pub fn held(&self) -> usize {
        self.bytes.len()
    }

    /// The bytes kept so far.
    pub fn kept(&self) -> &[u8] {
        &self.bytes
    }

    /// Lets go of the bytes kept (a memory budget): hashing goes on, decoding will not.
    pub fn shed(&mut self) {
        if !self.shed {
            shed_message(&mut self.bytes, &mut self.overflow);
            self.shed = true;
        }
    }

    /// The finished message, complete as far as its bytes go: `max` is the limit it was
    /// kept under. The caller fills in what the protocol knows (gaps, envelope).
    pub fn into_message(
        self,
        origin: &'static str,
        mark: Mark,
        exchange: usize,
        max: usize,
    ) -> Message {
        Message {
            origin,
            mark,
            sha256: overflow_sha256(self.overflow),
            bytes: self.bytes,
            size: self.size,
            truncated: if self.shed {
                self.size > max as u64
            } else {
                self.truncated
            },
            incomplete: false,
            not_decoded: self.shed.then_some(SHED_REASON),
            tls: false,
            mail_from: None,
            rcpt_to: Vec::new(),
            exchange,
        }
    }
}

/// Why a shed message was not decoded.
const SHED_REASON: &str =
    "memory budget for messages in flight reached (--max-held-messages): not decoded";

/// Stops keeping a message's bytes (a memory budget was reached): the bytes kept so far go
/// into the hash that [`keep_message`] carries on with, and are freed. Size and SHA-256 stay
/// exact; the message can no longer be decoded.
fn shed_message(buf: &mut Vec<u8>, overflow: &mut Option<Sha256>) {
    if overflow.is_none() {
        let mut h = Sha256::new();
        h.update(&buf[..]);
        *overflow = Some(h);
    }
    *buf = Vec::new();
}

/// The hash of a message kept by [`keep_message`]: `None` when it is that of the bytes kept.
fn overflow_sha256(overflow: Option<Sha256>) -> Option<String> {
    overflow.map(|h| hex::encode(h.finalize()))
}

/// Appends to a message buffer of at most `max` bytes. A growing buffer is copied by the
/// allocator (glibc moves it on realloc far more often than it remaps it), so it doubles:
/// every byte is then copied about once more, where growing by a quarter copied it about
/// four times. The announced size (`plan`) caps a growth that would pass it, so a buffer
/// whose size was announced ends exactly full. (Reserving the announced size at once copies
/// nothing, but the 1 GB benchmark's peak RSS grew by a fifth: glibc hands out reused,
/// resident memory, so room reserved ahead is resident while it waits to be filled.)
fn append(buf: &mut Vec<u8>, piece: &[u8], plan: usize, max: usize) {
    let need = buf.len() + piece.len();
    if need > buf.capacity() {
        let doubled = need
            .max(buf.capacity().saturating_mul(2))
            .max(4096)
            .min(max.max(need));
        let plan = plan.min(max);
        let target = if plan >= need {
            doubled.min(plan)
        } else {
            doubled
        };
        let at = buf.as_ptr();
        buf.reserve_exact(target - buf.len());
        if buf.as_ptr() != at {
            crate::copies::count(crate::copies::Site::MessageGrow, buf.len());
        }
    }
    crate::copies::count(crate::copies::Site::MessageAppend, piece.len());
    buf.extend_from_slice(piece);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pushes `n` pieces of `piece` bytes: the final capacity and the reallocations made.
    fn fill(m: &mut MessageBytes, n: usize, piece: usize, max: usize) -> (usize, usize) {
        let mut grown = 0;
        for _ in 0..n {
            let cap = m.bytes.capacity();
            m.push(&vec![b'x'; piece], max);
            grown += usize::from(m.bytes.capacity() != cap);
        }
        (m.bytes.capacity(), grown)
    }

    #[test]
    fn a_buffer_doubles_and_ends_on_the_announced_size() {
        // Unannounced: doubling, so a megabyte in 1000 pieces is reallocated 9 times, not
        // the 20 or so growing by a quarter takes.
        let (_, grown) = fill(&mut MessageBytes::default(), 1000, 1000, 1 << 30);
        assert!(grown <= 9, "{grown} reallocations");
        // Announced: the last growth lands on the size, leaving no room unused.
        let mut m = MessageBytes::default();
        m.expect(1_000_000);
        assert_eq!(fill(&mut m, 1000, 1000, 1 << 30), (1_000_000, 9));
        // An announcement is the sender's word: it never reserves room ahead of the bytes.
        let mut m = MessageBytes::default();
        m.expect(u64::MAX);
        assert_eq!(fill(&mut m, 1, 1, 1 << 30).0, 4096);
        // Nor past the message limit.
        let mut m = MessageBytes::default();
        m.expect(1 << 30);
        assert_eq!(fill(&mut m, 10, 1000, 5000).0, 5000);
    }

    proptest! {
        /// Whatever the pieces, the kept bytes are the first `max`, and a hash is made here
        /// exactly when more arrived, over all of it.
        #[test]
        fn keep_message_keeps_a_prefix_and_hashes_past_the_limit(
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..20),
            max in 0usize..400,
            plan in 0usize..500,
        ) {
            let (mut buf, mut overflow, mut truncated) = (Vec::new(), None, false);
            for p in &pieces {
                truncated |= keep_message(&mut buf, &mut overflow, p, max, plan);
            }
            let all = pieces.concat();
            prop_assert_eq!(&buf[..], &all[..all.len().min(max)]);
            // Never more room than the limit: an announced size past it reserves nothing more.
            prop_assert!(buf.capacity() <= max.max(buf.len()));
            prop_assert_eq!(truncated, all.len() > max);
            let expected = (all.len() > max).then(|| hex::encode(Sha256::digest(&all)));
            prop_assert_eq!(overflow_sha256(overflow), expected);
        }
    }
}
