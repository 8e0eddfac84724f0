//! SHA-256 of messages and of their decoded parts, two streams at a time.
//!
//! With SHA-NI one stream is latency-bound: every block's rounds wait on the previous
//! block's result, and the unit idles between them. Two independent streams compressed a
//! block each in turn keep it busy: on this project's machines, about 1.4–2× the throughput
//! of one stream, in safe code on top of `sha2`'s compression function. A message's bytes
//! and the decoded bytes of its parts are such a pair ([`Paired`]): the message is known
//! whole before its parts are decoded, and each part's blocks are interleaved with the
//! message's as they come.
//!
//! Results are those of `sha2::Sha256` (property-tested below).

use sha2::block_api::compress256;

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The digest, as lowercase hex (the form the session model carries).
pub type Hex = String;

/// One stream hashed as it comes, whose blocks the caller compresses one at a time.
#[derive(Clone)]
struct Stream {
    state: [u32; 8],
    /// Bytes of an unfinished block.
    tail: [u8; 64],
    tail_len: usize,
    /// Bytes hashed so far.
    len: u64,
}

impl Stream {
    fn new() -> Stream {
        Stream {
            state: IV,
            tail: [0; 64],
            tail_len: 0,
            len: 0,
        }
    }

    /// Pads, compresses the last block(s) and gives the digest.
    fn finish(mut self) -> Hex {
        let bits = self.len.wrapping_mul(8);
        let mut last = [[0u8; 64]; 2];
        let n = self.tail_len;
        last[0][..n].copy_from_slice(&self.tail[..n]);
        last[0][n] = 0x80;
        // The length takes the last 8 bytes; past 55 bytes of tail it needs a second block.
        let blocks = if n < 56 { 1 } else { 2 };
        last[blocks - 1][56..].copy_from_slice(&bits.to_be_bytes());
        compress256(&mut self.state, &last[..blocks]);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        hex::encode(out)
    }
}

/// A stream known whole up front (the lead), hashed a block at a time alongside the
/// streams given to [`Paired::update`] one after another (the followers: a message's parts).
pub struct Paired<'a> {
    lead: Stream,
    /// The lead's whole blocks not compressed yet.
    lead_blocks: &'a [[u8; 64]],
    lead_rest: &'a [u8],
    follow: Stream,
}

impl<'a> Paired<'a> {
    /// Hashing `lead` alongside whatever is given to [`Paired::update`].
    pub fn new(lead: &'a [u8]) -> Paired<'a> {
        let (lead_blocks, lead_rest) = lead.as_chunks::<64>();
        let mut s = Stream::new();
        s.len = lead.len() as u64;
        Paired {
            lead: s,
            lead_blocks,
            lead_rest,
            follow: Stream::new(),
        }
    }

    /// One block of the lead, if any is left.
    #[inline]
    fn step_lead(&mut self) {
        if let Some((b, rest)) = self.lead_blocks.split_first() {
            compress256(&mut self.lead.state, std::slice::from_ref(b));
            self.lead_blocks = rest;
        }
    }

    /// The next bytes of the current follower; each of its blocks is compressed beside one
    /// of the lead's.
    pub fn update(&mut self, mut data: &[u8]) {
        let f = &mut self.follow;
        f.len += data.len() as u64;
        if f.tail_len > 0 {
            let take = (64 - f.tail_len).min(data.len());
            f.tail[f.tail_len..f.tail_len + take].copy_from_slice(&data[..take]);
            f.tail_len += take;
            data = &data[take..];
            if f.tail_len < 64 {
                return;
            }
            let block = f.tail;
            compress256(&mut f.state, &[block]);
            f.tail_len = 0;
            self.step_lead();
        }
        let (blocks, rest) = data.as_chunks::<64>();
        for b in blocks {
            compress256(&mut self.follow.state, std::slice::from_ref(b));
            self.step_lead();
        }
        let f = &mut self.follow;
        f.tail[..rest.len()].copy_from_slice(rest);
        f.tail_len = rest.len();
    }

    /// The current follower's digest; the next [`Paired::update`] starts a new follower.
    pub fn finish_follower(&mut self) -> Hex {
        std::mem::replace(&mut self.follow, Stream::new()).finish()
    }

    /// Drops the current follower unfinished (its bytes were given in vain); the next
    /// [`Paired::update`] starts a new one.
    pub fn restart_follower(&mut self) {
        self.follow = Stream::new();
    }

    /// The digest of a whole follower given at once.
    pub fn follower(&mut self, data: &[u8]) -> Hex {
        self.restart_follower();
        self.update(data);
        self.finish_follower()
    }

    /// The lead's digest: what is left of it is hashed alone.
    pub fn finish(mut self) -> Hex {
        compress256(&mut self.lead.state, self.lead_blocks);
        let rest = self.lead_rest;
        self.lead.tail[..rest.len()].copy_from_slice(rest);
        self.lead.tail_len = rest.len();
        self.lead.finish()
    }
}

/// SHA-256 of `data`, as hex.
pub fn hex_digest(data: &[u8]) -> Hex {
    Paired::new(data).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn reference(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    #[test]
    fn known_digests() {
        assert_eq!(
            hex_digest(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex_digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Every tail length around the one- and two-block paddings.
        for n in 0..200 {
            let data = vec![b'a'; n];
            assert_eq!(hex_digest(&data), reference(&data), "{n} bytes");
        }
    }

    proptest! {
        /// A lead and any number of followers, the followers given in any pieces (and some
        /// restarted), give the digests one-stream SHA-256 gives.
        #[test]
        fn paired_digests_are_sha256(
            lead in proptest::collection::vec(any::<u8>(), 0..700),
            followers in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..400),
                 proptest::collection::vec(0usize..130, 0..6),
                 any::<bool>()),
                0..5),
        ) {
            let mut p = Paired::new(&lead);
            for (data, cuts, restart_first) in &followers {
                if *restart_first {
                    p.update(b"thrown away");
                    p.restart_follower();
                }
                let mut rest = &data[..];
                for c in cuts {
                    let c = (*c).min(rest.len());
                    p.update(&rest[..c]);
                    rest = &rest[c..];
                }
                p.update(rest);
                prop_assert_eq!(p.finish_follower(), reference(data));
            }
            prop_assert_eq!(p.follower(&lead), reference(&lead));
            prop_assert_eq!(p.finish(), reference(&lead));
        }
    }
}
