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
    buf: &mut Pieces,
    overflow: &mut Option<Sha256>,
    piece: &[u8],
    max: usize,
    plan: usize,
) -> bool {
    if let Some(h) = overflow {
        h.update(piece);
        return true;
    }
    let room = max.saturating_sub(buf.len);
    if piece.len() <= room {
        buf.extend(piece, plan.min(max));
        return false;
    }
    let mut h = Sha256::new();
    buf.hash(&mut h);
    h.update(piece);
    buf.extend(&piece[..room], plan.min(max));
    *overflow = Some(h);
    true
}

/// A message's kept bytes, in pieces that never move: a growing message copies nothing,
/// and the room not yet filled is at most one piece, so memory follows the bytes that
/// arrived. Pieces start at 4 KiB and double up to 64 KiB; a message whose size was
/// announced (`plan`) gets pieces that end on it, so one that fits a piece is one piece.
/// [`Pieces::join`] makes them one buffer when the message is finished (a single piece is
/// handed over as it is).
///
/// Contiguous buffers grown by doubling (or by a quarter, before) were moved by the
/// allocator as they grew: a quarter copied every byte about four times over, doubling
/// about once, with up to half of each buffer resident and unused (glibc reuses resident
/// memory), so the held-bytes budget undercounted memory by up to half.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pieces {
    full: Vec<Vec<u8>>,
    /// Memory of the pieces in `full`, kept as they are added: the held-bytes budget asks
    /// after every chunk of data, and a 64 MiB message has a thousand pieces.
    full_capacity: usize,
    /// The piece being filled: its capacity is its size.
    last: Vec<u8>,
    len: usize,
}

impl Pieces {
    const FIRST: usize = 4 << 10;
    const LARGEST: usize = 64 << 10;

    fn extend(&mut self, mut data: &[u8], plan: usize) {
        while !data.is_empty() {
            if self.last.len() == self.last.capacity() {
                let size = match self.last.capacity() {
                    0 => Self::FIRST,
                    n => (n * 2).min(Self::LARGEST),
                };
                // An announced size ends the pieces on it. Only a first piece is smaller
                // than 4 KiB: announcements one byte at a time (BDAT 1, BDAT 1, …) must not
                // make a piece per byte.
                let left = plan.saturating_sub(self.len);
                let size = match left {
                    1..=Self::LARGEST if self.len == 0 => left,
                    1..=Self::LARGEST => left.max(Self::FIRST),
                    _ => size,
                };
                let done = std::mem::replace(&mut self.last, Vec::with_capacity(size));
                if !done.is_empty() {
                    self.full_capacity += done.capacity();
                    self.full.push(done);
                }
            }
            let take = (self.last.capacity() - self.last.len()).min(data.len());
            crate::copies::count(crate::copies::Site::MessageAppend, take);
            self.last.extend_from_slice(&data[..take]);
            self.len += take;
            data = &data[take..];
        }
    }

    /// Bytes kept.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes, when they are one piece.
    pub fn single(&self) -> Option<&[u8]> {
        self.full.is_empty().then_some(&self.last[..])
    }

    pub fn starts_with(&self, prefix: &[u8]) -> bool {
        self.contiguous().starts_with(prefix)
    }

    /// A copy of the bytes in one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        self.contiguous().into_owned()
    }

    /// Bytes of memory the pieces take.
    fn capacity(&self) -> usize {
        self.full_capacity + self.last.capacity()
    }

    fn hash(&self, h: &mut Sha256) {
        for p in self.full.iter().chain([&self.last]) {
            h.update(p);
        }
    }

    /// The bytes in one piece of memory (copied only if there are several pieces).
    pub fn contiguous(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.full.is_empty() {
            return std::borrow::Cow::Borrowed(&self.last);
        }
        let mut all = Vec::new();
        self.join_into(&mut all);
        std::borrow::Cow::Owned(all)
    }

    /// The bytes, joined into `buf` (emptied first; its memory is reused).
    pub fn join_into(&self, buf: &mut Vec<u8>) {
        buf.clear();
        buf.reserve(self.len);
        crate::copies::count(crate::copies::Site::MessageJoin, self.len);
        for p in self.full.iter().chain([&self.last]) {
            buf.extend_from_slice(p);
        }
    }

    /// The bytes in one buffer: a single piece as it is, several joined (one copy).
    pub fn join(self) -> Vec<u8> {
        if self.full.is_empty() {
            return self.last;
        }
        crate::copies::count(crate::copies::Site::MessageJoin, self.len);
        let mut all = Vec::with_capacity(self.len);
        // Each piece is freed once copied: the message is not held twice over.
        for p in self.full.into_iter().chain([self.last]) {
            all.extend_from_slice(&p);
        }
        all
    }
}

/// A message's bytes as they arrive: kept up to the size limit and hashed past it
/// ([`keep_message`]), or let go for a memory budget ([`MessageBytes::shed`]). `size` counts
/// every byte of the message, also those a gap took. Shared by every dissector, so a
/// message's size, hash, truncation and decodability are worked out in one place.
#[derive(Clone, Debug, Default)]
pub struct MessageBytes {
    bytes: Pieces,
    overflow: Option<Sha256>,
    /// Bytes of the message so far, kept or not.
    pub size: u64,
    truncated: bool,
    /// Let go to stay within the memory budget (hashed on, not kept).
    shed: bool,
    /// The size the protocol announced ([`MessageBytes::expect`]): the pieces end on it.
    /// 0: nothing announced.
    plan: usize,
}

impl MessageBytes {
    /// The next piece of the message; at most `max` bytes are kept in all.
    pub fn push(&mut self, piece: &[u8], max: usize) {
        self.size += piece.len() as u64;
        self.truncated |= keep_message(&mut self.bytes, &mut self.overflow, piece, max, self.plan);
    }

    /// The protocol announced that the message will have `total` bytes in all (SMTP
    /// `SIZE=`, a BDAT chunk, POP3 `+OK n octets`, an IMAP literal): the pieces end on it, so
    /// that a message that fits one piece is one piece, and needs no joining. The
    /// announcement is the sender's word, so it never makes a piece larger than 64 KiB
    /// ([`Pieces`]).
    pub fn expect(&mut self, total: u64) {
        self.plan = usize::try_from(total).unwrap_or(usize::MAX);
    }

    /// Makes the bytes kept so far one buffer (when they are complete), so that
    /// [`MessageBytes::kept`] reads them in place; the message is handed over without
    /// joining again.
    pub fn join(&mut self) {
        if !self.bytes.full.is_empty() {
            self.bytes = std::mem::take(&mut self.bytes).join().into();
        }
    }

    /// Bytes of memory the message takes (what the held-messages budget counts).
    pub fn held(&self) -> usize {
        self.bytes.capacity()
    }

    /// The bytes kept so far.
    pub fn kept(&self) -> std::borrow::Cow<'_, [u8]> {
        self.bytes.contiguous()
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
            // Joined by whoever decodes it, off the dissecting thread.
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

impl From<Vec<u8>> for Pieces {
    fn from(last: Vec<u8>) -> Pieces {
        Pieces {
            full: Vec::new(),
            full_capacity: 0,
            len: last.len(),
            last,
        }
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Pieces {
    fn eq(&self, other: &&[u8; N]) -> bool {
        *self.contiguous() == other[..]
    }
}

/// Why a shed message was not decoded.
const SHED_REASON: &str =
    "memory budget for messages in flight reached (--max-held-messages): not decoded";

/// Stops keeping a message's bytes (a memory budget was reached): the bytes kept so far go
/// into the hash that [`keep_message`] carries on with, and are freed. Size and SHA-256 stay
/// exact; the message can no longer be decoded.
fn shed_message(buf: &mut Pieces, overflow: &mut Option<Sha256>) {
    if overflow.is_none() {
        let mut h = Sha256::new();
        buf.hash(&mut h);
        *overflow = Some(h);
    }
    *buf = Pieces::default();
}

/// The hash of a message kept by [`keep_message`]: `None` when it is that of the bytes kept.
fn overflow_sha256(overflow: Option<Sha256>) -> Option<String> {
    overflow.map(|h| hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fill(m: &mut MessageBytes, n: usize, piece: usize, max: usize) -> usize {
        for _ in 0..n {
            m.push(&vec![b'x'; piece], max);
        }
        m.held()
    }

    #[test]
    fn memory_follows_the_bytes_and_ends_on_the_announced_size() {
        // Unannounced: pieces of up to 64 KiB, so at most one piece is not yet filled.
        let mut m = MessageBytes::default();
        let held = fill(&mut m, 1000, 1000, 1 << 30);
        assert!(
            (1_000_000..1_000_000 + (64 << 10)).contains(&held),
            "{held}"
        );
        assert!(m.bytes.full.iter().all(|p| p.capacity() <= 64 << 10));
        assert_eq!(
            m.into_message("t", Mark::default(), 0, 1 << 30).bytes.len(),
            1_000_000
        );
        // Announced: the pieces end on the size.
        let mut m = MessageBytes::default();
        m.expect(1_000_000);
        assert_eq!(fill(&mut m, 1000, 1000, 1 << 30), 1_000_000);
        // A message that fits a piece is one piece: handed over without joining.
        let mut m = MessageBytes::default();
        m.expect(30_000);
        fill(&mut m, 30, 1000, 1 << 30);
        let at = m.bytes.last.as_ptr();
        assert!(m.bytes.full.is_empty());
        let joined = m
            .into_message("t", Mark::default(), 0, 1 << 30)
            .bytes
            .join();
        assert_eq!(joined.as_ptr(), at);
        // An announcement is the sender's word: it reserves no more than a first piece.
        let mut m = MessageBytes::default();
        m.expect(u64::MAX);
        assert_eq!(fill(&mut m, 1, 1, 1 << 30), 4096);
        // Nor past the message limit: the pieces end on it.
        let mut m = MessageBytes::default();
        m.expect(1 << 30);
        assert_eq!(fill(&mut m, 10, 1000, 5000), 5000);
        // The kept bytes read back whole, however many pieces.
        let mut m = MessageBytes::default();
        for i in 0..200u32 {
            m.push(&i.to_le_bytes().repeat(100), 1 << 30);
        }
        let all: Vec<u8> = (0..200u32)
            .flat_map(|i| i.to_le_bytes().repeat(100))
            .collect();
        assert_eq!(&*m.kept(), &all[..]);
    }

    /// A message announced a byte at a time (BDAT 1, BDAT 1, …) is still kept in pieces of
    /// at least 4 KiB: a piece per byte would cost a heap block and a vector entry for each,
    /// far more than the bytes the held-messages budget counts.
    #[test]
    fn tiny_announcements_do_not_make_tiny_pieces() {
        let mut m = MessageBytes::default();
        for _ in 0..10_000 {
            m.expect(m.size + 1);
            m.push(b"x", 1 << 30);
        }
        assert!(
            m.bytes.full.len() <= 10_000 / 4096 + 2,
            "{} pieces",
            m.bytes.full.len()
        );
        assert_eq!(&*m.kept(), &[b'x'; 10_000][..]);
    }

    proptest! {
        /// Whatever the pieces, the kept bytes are the first `max`, and a hash is made here
        /// exactly when more arrived, over all of it.
        #[test]
        fn keep_message_keeps_a_prefix_and_hashes_past_the_limit(
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..9000), 0..20),
            max in 0usize..100_000,
            plan in 0usize..120_000,
        ) {
            let (mut buf, mut overflow, mut truncated) = (Pieces::default(), None, false);
            for p in &pieces {
                truncated |= keep_message(&mut buf, &mut overflow, p, max, plan);
            }
            let all = pieces.concat();
            // Never more memory than one piece past the bytes kept, announced or not.
            prop_assert!(buf.capacity() < buf.len + (64 << 10));
            prop_assert_eq!(&*buf.contiguous(), &all[..all.len().min(max)]);
            prop_assert_eq!(&buf.clone().join()[..], &all[..all.len().min(max)]);
            prop_assert_eq!(truncated, all.len() > max);
            let expected = (all.len() > max).then(|| hex::encode(Sha256::digest(&all)));
            prop_assert_eq!(overflow_sha256(overflow), expected);
        }
    }
}
