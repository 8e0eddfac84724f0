//! One direction of a TCP connection: segments in any order → bytes in order, plus gaps.
//!
//! Sequence numbers are mapped to 64-bit *stream offsets* (offset 0 is the first payload byte
//! after the SYN, or the first byte seen when the connection was picked up mid-stream), so
//! wraparound is handled once, in [`SeqNumber`] arithmetic, and nothing else ever compares raw
//! sequence numbers.
//!
//! ```text
//!   segment ──▶ before `delivered`? ──yes──▶ retransmission (dropped, overlap checked)
//!                    │no
//!                    ▼
//!            at `delivered`? ──yes──▶ Data (zero-copy) ──▶ drain buffered run
//!                    │no
//!                    ▼
//!            buffer (first data wins) ──limit──▶ Gap up to first buffered, drain
//!
//!   peer ACK past a hole, FIN/RST/timeout, end of capture ──▶ Gap for each hole, drain
//! ```
//!
//! A hole becomes a [`Output::Gap`] only once the stream has provably moved past it (the
//! receiver acknowledged bytes the capture never held), a limit forces it, or the direction
//! ends. Data released from the buffer carries the timestamp and frame of the segment that
//! brought it.

use super::seq::SeqNumber;
use crate::capture::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// How far ahead of the next expected byte a segment may start before it is considered
/// bogus (a corrupt or hostile sequence number) rather than out of order.
const MAX_AHEAD: u64 = 1 << 30;

/// Reassembly limits for one direction, and for all directions together.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_buffered_bytes: usize,
    pub max_buffered_segments: usize,
    pub max_total_buffered: usize,
}

/// A run of in-order bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk<'a> {
    pub offset: u64,
    pub ts: Timestamp,
    pub frame: u64,
    pub data: &'a [u8],
}

/// What the reassembler hands on, strictly in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output<'a> {
    Data(Chunk<'a>),
    /// `len` bytes at `offset` that the capture does not hold.
    Gap {
        offset: u64,
        len: u64,
        ts: Timestamp,
        frame: u64,
    },
}

/// Per-direction reassembly counters.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DirStats {
    /// Payload bytes delivered in order.
    pub bytes: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Segments whose data had all been delivered already.
    pub retransmissions: u64,
    /// Segments that arrived ahead of a hole and were buffered.
    pub out_of_order: u64,
    /// Overlapping segments whose bytes differed (first data wins).
    pub overlap_conflicts: u64,
    /// Times a buffering limit forced a hole to be given up as a gap.
    pub limit_flushes: u64,
    /// Segments ignored because their sequence number was absurdly far ahead.
    pub out_of_window: u64,
}

#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    ts: Timestamp,
    frame: u64,
}

#[derive(Debug, Default)]
pub struct Reassembler {
    /// Sequence number of stream offset 0; `None` until the first segment/SYN.
    base: Option<SeqNumber>,
    delivered: u64,
    pending: BTreeMap<u64, Pending>,
    buffered: usize,
    fin: Option<u64>,
    /// Highest stream offset any segment (including bytes cut by the snaplen) reached.
    max_end: u64,
    pub stats: DirStats,
}

impl Reassembler {
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// A SYN fixes the initial sequence number: offset 0 is the byte after it.
    pub fn syn(&mut self, isn: u32) {
        let first = SeqNumber(isn) + 1;
        match self.base {
            None => self.base = Some(first),
            // A new SYN before any byte was delivered: the previous one was a stale attempt.
            Some(base) if base != first && self.delivered == 0 && self.pending.is_empty() => {
                self.base = Some(first)
            }
            Some(_) => {}
        }
    }

    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// Bytes delivered (or given up as gaps) so far: the stream offset of the next byte.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// True once a FIN was seen and every byte before it was delivered or declared lost.
    pub fn is_finished(&self) -> bool {
        self.fin.is_some_and(|fin| self.delivered >= fin) && self.pending.is_empty()
    }

    pub fn fin_seen(&self) -> bool {
        self.fin.is_some()
    }

    /// Stream offset of a sequence number, relative to what was delivered.
    /// Sequence numbers are compared with the one of the next expected byte, so the signed
    /// 32-bit difference stays small however long the stream grows.
    fn offset_of(&self, seq: SeqNumber) -> Option<i128> {
        let next = self.base? + self.delivered as u32;
        Some(i128::from(self.delivered) + i128::from(seq - next))
    }

    /// Feeds one segment's payload. `missing` payload bytes follow `data` on the wire but
    /// were cut off by the snaplen; `fin` marks the end of the direction.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: u32,
        data: &[u8],
        missing: u32,
        fin: bool,
        ts: Timestamp,
        frame: u64,
        bounds: &Bounds,
        total_buffered: &mut usize,
        out: &mut impl FnMut(Output<'_>),
    ) {
        if self.base.is_none() {
            self.base = Some(SeqNumber(seq));
        }
        let Some(start) = self.offset_of(SeqNumber(seq)) else {
            return;
        };
        let len = data.len() as i128;
        let wire_end = start + len + i128::from(missing);
        // `>=`: a FIN at offset 0 ends a direction that never sent data.
        if wire_end >= 0 {
            let wire_end = wire_end as u64;
            if wire_end > self.delivered + MAX_AHEAD {
                self.stats.out_of_window += 1;
                return;
            }
            self.max_end = self.max_end.max(wire_end);
            if fin && self.fin.is_none() {
                self.fin = Some(wire_end);
            }
        }
        if data.is_empty() {
            return;
        }
        let end = start + len;
        if end <= i128::from(self.delivered) {
            self.stats.retransmissions += 1;
            return;
        }
        // Trim what was delivered already (a partial retransmission).
        let skip = (i128::from(self.delivered) - start).max(0) as usize;
        // `start` may be negative: a retransmission reaching back before the point where a
        // mid-stream connection was picked up.
        let start = start.max(i128::from(self.delivered)) as u64;
        let data = &data[skip..];

        if start == self.delivered {
            self.deliver(start, data, ts, frame, total_buffered, out);
            return;
        }
        self.stats.out_of_order += 1;
        // Make room: give up holes until this segment fits the limits.
        loop {
            let fits = self.buffered + data.len() <= bounds.max_buffered_bytes
                && self.pending.len() < bounds.max_buffered_segments
                && *total_buffered + data.len() <= bounds.max_total_buffered;
            if fits {
                break;
            }
            self.stats.limit_flushes += 1;
            let target = self
                .pending
                .keys()
                .next()
                .copied()
                .map_or(start, |first| first.min(start));
            self.lose_until(target, ts, frame, total_buffered, out);
            if start <= self.delivered {
                // The hole before this segment was given up: it is in order now.
                let skip = (self.delivered - start) as usize;
                if skip < data.len() {
                    let offset = self.delivered;
                    self.deliver(offset, &data[skip..], ts, frame, total_buffered, out);
                }
                return;
            }
        }
        self.buffer(start, data, ts, frame, total_buffered);
    }

    /// Emits `data` at the current offset, then everything buffered that is now contiguous.
    fn deliver(
        &mut self,
        start: u64,
        data: &[u8],
        ts: Timestamp,
        frame: u64,
        total_buffered: &mut usize,
        out: &mut impl FnMut(Output<'_>),
    ) {
        debug_assert_eq!(start, self.delivered);
        // First data wins: the new segment only fills what is not buffered already. It is
        // delivered up to the next buffered piece, the buffered run follows, then whatever of
        // the segment reaches beyond it; overlaps are compared in `drain`.
        let whole = (start, data);
        let (mut start, mut data) = (start, data);
        while !data.is_empty() {
            let end = start + data.len() as u64;
            let stop = self
                .pending
                .keys()
                .next()
                .copied()
                .filter(|&k| k < end)
                .map_or(end, |k| k.max(start));
            let take = (stop - start) as usize;
            if take > 0 {
                self.delivered = stop;
                self.stats.bytes += take as u64;
                out(Output::Data(Chunk {
                    offset: start,
                    ts,
                    frame,
                    data: &data[..take],
                }));
            }
            self.drain(total_buffered, out, Some(whole));
            if end <= self.delivered {
                break;
            }
            let skip = (self.delivered - start) as usize;
            data = &data[skip..];
            start = self.delivered;
        }
    }

    /// Releases buffered segments that start at or before `delivered`.
    fn drain(
        &mut self,
        total_buffered: &mut usize,
        out: &mut impl FnMut(Output<'_>),
        just_delivered: Option<(u64, &[u8])>,
    ) {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.delivered {
                break;
            }
            let piece = entry.remove();
            self.buffered -= piece.data.len();
            *total_buffered = total_buffered.saturating_sub(piece.data.len());
            let end = start + piece.data.len() as u64;
            if let Some((d_start, d)) = just_delivered {
                // Overlap with the segment delivered just now: compare.
                let lo = start.max(d_start);
                let hi = end.min(d_start + d.len() as u64);
                if lo < hi {
                    let a = &piece.data[(lo - start) as usize..(hi - start) as usize];
                    let b = &d[(lo - d_start) as usize..(hi - d_start) as usize];
                    if a != b {
                        self.stats.overlap_conflicts += 1;
                    }
                }
            }
            if end <= self.delivered {
                continue;
            }
            let skip = (self.delivered - start) as usize;
            let data = &piece.data[skip..];
            let offset = self.delivered;
            self.delivered = end;
            self.stats.bytes += data.len() as u64;
            out(Output::Data(Chunk {
                offset,
                ts: piece.ts,
                frame: piece.frame,
                data,
            }));
        }
    }

    /// Stores an out-of-order segment; bytes already buffered win over the new ones.
    fn buffer(
        &mut self,
        start: u64,
        data: &[u8],
        ts: Timestamp,
        frame: u64,
        total_buffered: &mut usize,
    ) {
        let end = start + data.len() as u64;
        // Existing pieces overlapping [start, end): the one starting before `start` (if it
        // reaches into it) and every one starting inside.
        let first_key = self
            .pending
            .range(..=start)
            .next_back()
            .filter(|(s, p)| **s + p.data.len() as u64 > start)
            .map_or(start, |(s, _)| *s);
        let overlapping: Vec<(u64, u64)> = self
            .pending
            .range(first_key..end)
            .map(|(s, p)| (*s, *s + p.data.len() as u64))
            .collect();
        let mut cursor = start;
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        for (s, e) in overlapping {
            if s > cursor {
                pieces.push((cursor, s.min(end)));
            }
            let lo = s.max(cursor).max(start);
            let hi = e.min(end);
            if lo < hi {
                let old = &self.pending[&s].data[(lo - s) as usize..(hi - s) as usize];
                let new = &data[(lo - start) as usize..(hi - start) as usize];
                if old != new {
                    self.stats.overlap_conflicts += 1;
                }
            }
            cursor = cursor.max(e);
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        for (lo, hi) in pieces {
            let bytes = data[(lo - start) as usize..(hi - start) as usize].to_vec();
            self.buffered += bytes.len();
            *total_buffered += bytes.len();
            self.pending.insert(
                lo,
                Pending {
                    data: bytes,
                    ts,
                    frame,
                },
            );
        }
    }

    /// Declares every byte before `target` that is not buffered lost (a gap), releasing
    /// buffered data in order on the way.
    fn lose_until(
        &mut self,
        target: u64,
        ts: Timestamp,
        frame: u64,
        total_buffered: &mut usize,
        out: &mut impl FnMut(Output<'_>),
    ) {
        while self.delivered < target {
            let next_buffered = self.pending.keys().next().copied();
            let gap_end = next_buffered.map_or(target, |s| s.min(target));
            if gap_end > self.delivered {
                let len = gap_end - self.delivered;
                out(Output::Gap {
                    offset: self.delivered,
                    len,
                    ts,
                    frame,
                });
                self.stats.gaps += 1;
                self.stats.gap_bytes += len;
                self.delivered = gap_end;
            }
            self.drain(total_buffered, out, None);
        }
    }

    /// The peer acknowledged `ack`: bytes before it reached the receiver, so any the capture
    /// lacks are lost for good. Holes beyond the last byte seen are left alone (a FIN's
    /// sequence number, or a segment still in flight, is not proof of loss).
    pub fn ack(
        &mut self,
        ack: u32,
        ts: Timestamp,
        frame: u64,
        total_buffered: &mut usize,
        out: &mut impl FnMut(Output<'_>),
    ) {
        let Some(acked) = self.offset_of(SeqNumber(ack)) else {
            return;
        };
        if acked <= i128::from(self.delivered) {
            return;
        }
        let limit = self.fin.unwrap_or(self.max_end).min(self.max_end);
        let target = (acked.min(i128::from(u64::MAX)) as u64).min(limit);
        if target > self.delivered {
            self.lose_until(target, ts, frame, total_buffered, out);
        }
    }

    /// The direction ends (FIN/RST/timeout/end of capture): release everything, with a gap
    /// for every hole, up to the FIN or the last byte seen.
    pub fn finish(
        &mut self,
        ts: Timestamp,
        frame: u64,
        total_buffered: &mut usize,
        out: &mut impl FnMut(Output<'_>),
    ) {
        let last_buffered = self
            .pending
            .iter()
            .next_back()
            .map_or(0, |(s, p)| *s + p.data.len() as u64);
        let target = self.max_end.max(last_buffered).max(self.fin.unwrap_or(0));
        self.lose_until(target, ts, frame, total_buffered, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        max_buffered_bytes: 1 << 20,
        max_buffered_segments: 1024,
        max_total_buffered: 1 << 24,
    };

    #[derive(Debug, PartialEq, Eq)]
    enum Ev {
        Data(u64, Vec<u8>),
        Gap(u64, u64),
    }

    struct Harness {
        r: Reassembler,
        total: usize,
        events: Vec<Ev>,
    }

    impl Harness {
        fn new(isn: u32) -> Harness {
            let mut r = Reassembler::new();
            r.syn(isn);
            Harness {
                r,
                total: 0,
                events: Vec::new(),
            }
        }
        fn seg(&mut self, seq: u32, data: &[u8]) {
            let events = &mut self.events;
            self.r.segment(
                seq,
                data,
                0,
                false,
                Timestamp::default(),
                0,
                &BOUNDS,
                &mut self.total,
                &mut |o| push(events, o),
            );
        }
        fn finish(&mut self) {
            let events = &mut self.events;
            self.r
                .finish(Timestamp::default(), 0, &mut self.total, &mut |o| {
                    push(events, o)
                });
        }
        fn bytes(&self) -> Vec<u8> {
            let mut v = Vec::new();
            for e in &self.events {
                if let Ev::Data(_, d) = e {
                    v.extend_from_slice(d)
                }
            }
            v
        }
    }

    fn push(events: &mut Vec<Ev>, o: Output<'_>) {
        match o {
            Output::Data(c) => events.push(Ev::Data(c.offset, c.data.to_vec())),
            Output::Gap { offset, len, .. } => events.push(Ev::Gap(offset, len)),
        }
    }

    #[test]
    fn in_order_is_zero_copy_and_contiguous() {
        let mut h = Harness::new(100);
        h.seg(101, b"hello ");
        h.seg(107, b"world");
        assert_eq!(
            h.events,
            vec![
                Ev::Data(0, b"hello ".to_vec()),
                Ev::Data(6, b"world".to_vec())
            ]
        );
    }

    #[test]
    fn reorder_retransmit_overlap() {
        let mut h = Harness::new(0);
        h.seg(7, b"world");
        h.seg(1, b"hel");
        h.seg(1, b"hel"); // retransmission
        h.seg(3, b"llo w"); // overlaps both sides
        h.finish();
        assert_eq!(h.bytes(), b"hello world");
        assert_eq!(h.r.stats.retransmissions, 1);
        assert_eq!(h.r.stats.overlap_conflicts, 0);
    }

    #[test]
    fn conflicting_overlap_first_data_wins() {
        let mut h = Harness::new(0);
        h.seg(5, b"AAAA");
        h.seg(5, b"BBBB");
        h.seg(1, b"xxxx");
        assert_eq!(h.bytes(), b"xxxxAAAA");
        assert_eq!(h.r.stats.overlap_conflicts, 1);
        // An in-order segment spanning buffered bytes fills only the holes around them.
        let mut h = Harness::new(0);
        h.seg(5, b"AAAA");
        h.seg(1, b"xxxxBBBBzz");
        assert_eq!(h.bytes(), b"xxxxAAAAzz");
        assert_eq!(h.r.stats.overlap_conflicts, 1);
        let offsets: Vec<u64> = h
            .events
            .iter()
            .map(|e| match e {
                Ev::Data(o, _) | Ev::Gap(o, _) => *o,
            })
            .collect();
        assert_eq!(offsets, vec![0, 4, 8]);
    }

    /// Found by fuzzing: a segment starting before stream offset 0 (picked up mid-stream,
    /// then an older retransmission reaching into new data) must be trimmed, not wrap.
    #[test]
    fn segment_reaching_back_before_offset_zero() {
        let mut h = Harness {
            r: Reassembler::new(),
            total: 0,
            events: Vec::new(),
        };
        h.seg(1000, b"abc");
        h.seg(990, b"0123456789abcdef");
        h.seg(1020, b"zz");
        h.finish();
        assert_eq!(
            h.events,
            vec![
                Ev::Data(0, b"abc".to_vec()),
                Ev::Data(3, b"def".to_vec()),
                Ev::Gap(6, 14),
                Ev::Data(20, b"zz".to_vec())
            ]
        );
    }

    #[test]
    fn wraparound() {
        let isn = u32::MAX - 3;
        let mut h = Harness::new(isn);
        h.seg(isn.wrapping_add(5), b"world");
        h.seg(isn.wrapping_add(1), b"hell");
        assert_eq!(h.bytes(), b"hellworld");
    }

    #[test]
    fn gap_reported_at_finish() {
        let mut h = Harness::new(0);
        h.seg(1, b"abc");
        h.seg(10, b"xyz");
        h.finish();
        assert_eq!(
            h.events,
            vec![
                Ev::Data(0, b"abc".to_vec()),
                Ev::Gap(3, 6),
                Ev::Data(9, b"xyz".to_vec())
            ]
        );
    }

    #[test]
    fn ack_past_hole_declares_gap() {
        let mut h = Harness::new(0);
        h.seg(1, b"abc");
        h.seg(10, b"xyz");
        let events = &mut h.events;
        h.r.ack(13, Timestamp::default(), 0, &mut h.total, &mut |o| {
            push(events, o)
        });
        assert_eq!(h.events[1], Ev::Gap(3, 6));
        assert_eq!(h.r.delivered(), 12);
    }

    #[test]
    fn buffer_limit_forces_gap_not_growth() {
        let bounds = Bounds {
            max_buffered_bytes: 8,
            max_buffered_segments: 1024,
            max_total_buffered: 1 << 20,
        };
        let mut r = Reassembler::new();
        r.syn(0);
        let mut total = 0;
        let mut events = Vec::new();
        for i in 0..10u32 {
            r.segment(
                100 + i * 4,
                b"abcd",
                0,
                false,
                Timestamp::default(),
                0,
                &bounds,
                &mut total,
                &mut |o| push(&mut events, o),
            );
            assert!(r.buffered() <= 8);
        }
        assert!(r.stats.limit_flushes > 0);
        assert!(matches!(events[0], Ev::Gap(0, 99)));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A stream, cut into segments at random points, plus extra copies of random
        /// sub-ranges (retransmissions and overlaps carrying the same bytes).
        fn segments() -> impl Strategy<Value = (Vec<u8>, Vec<(usize, usize)>)> {
            (1usize..3000).prop_flat_map(|len| {
                (
                    proptest::collection::vec(any::<u8>(), len),
                    proptest::collection::vec(0..len, 0..40),
                    proptest::collection::vec((0..len, 1usize..600), 0..20),
                )
                    .prop_map(move |(data, mut cuts, extra)| {
                        cuts.push(0);
                        cuts.push(len);
                        cuts.sort_unstable();
                        cuts.dedup();
                        let mut segs: Vec<(usize, usize)> =
                            cuts.windows(2).map(|w| (w[0], w[1])).collect();
                        for (start, n) in extra {
                            segs.push((start, (start + n).min(len)));
                        }
                        (data, segs)
                    })
            })
        }

        fn run(
            isn: u32,
            data: &[u8],
            order: &[(usize, usize)],
            skip: Option<(usize, usize)>,
        ) -> Harness {
            let mut h = Harness::new(isn);
            for &(a, b) in order {
                if let Some((sa, sb)) = skip
                    && a < sb
                    && b > sa
                {
                    continue;
                }
                h.seg(isn.wrapping_add(1).wrapping_add(a as u32), &data[a..b]);
            }
            h.finish();
            h
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn any_permutation_and_duplication_reassembles_identically(
                (data, segs) in segments(),
                isn in any::<u32>(),
                seed in any::<u64>(),
            ) {
                let mut order = segs.clone();
                // Deterministic shuffle from the seed.
                let mut rng = crate::synth::Rng::new(seed);
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.below(i as u64 + 1) as usize);
                }
                let h = run(isn, &data, &order, None);
                prop_assert_eq!(h.bytes(), data);
                prop_assert!(h.events.iter().all(|e| matches!(e, Ev::Data(..))));
                prop_assert_eq!(h.r.stats.overlap_conflicts, 0);
                // Offsets are contiguous.
                let mut next = 0;
                for e in &h.events {
                    if let Ev::Data(off, d) = e {
                        prop_assert_eq!(*off, next);
                        next += d.len() as u64;
                    }
                }
            }

            #[test]
            fn a_gap_is_reported_exactly_where_data_is_missing(
                len in 10usize..3000,
                cut in 1usize..1000,
                hole in 1usize..500,
                isn in any::<u32>(),
                seed in any::<u64>(),
            ) {
                let mut data = vec![0u8; len];
                crate::synth::Rng::new(seed).fill(&mut data);
                let start = cut.min(len - 2);
                let end = (start + hole).min(len - 1);
                // Segments: before the hole, the hole (dropped), after it; reversed order.
                let segs = vec![(end, len), (0, start), (start, end)];
                let h = run(isn, &data, &segs, Some((start, end)));
                prop_assert_eq!(
                    &h.events,
                    &vec![
                        Ev::Data(0, data[..start].to_vec()),
                        Ev::Gap(start as u64, (end - start) as u64),
                        Ev::Data(end as u64, data[end..].to_vec()),
                    ]
                );
            }

            /// Against a naive model: a byte map of what was inserted. Everything reported
            /// as data must match the stream; every byte is either data or in a gap.
            #[test]
            fn matches_bitmap_model(
                inserts in proptest::collection::vec((0usize..2000, 1usize..300), 1..60),
            ) {
                let len = 2300;
                let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut seen = vec![false; len];
                let mut h = Harness::new(0);
                for &(a, n) in &inserts {
                    let b = (a + n).min(len);
                    for s in &mut seen[a..b] { *s = true; }
                    h.seg(1 + a as u32, &data[a..b]);
                }
                h.finish();
                let covered_end = seen.iter().rposition(|s| *s).map_or(0, |p| p + 1);
                let mut next = 0u64;
                for e in &h.events {
                    match e {
                        Ev::Data(off, d) => {
                            prop_assert_eq!(*off, next);
                            let o = *off as usize;
                            prop_assert_eq!(&d[..], &data[o..o + d.len()]);
                            prop_assert!(seen[o..o + d.len()].iter().all(|s| *s));
                            next += d.len() as u64;
                        }
                        Ev::Gap(off, n) => {
                            prop_assert_eq!(*off, next);
                            let o = *off as usize;
                            prop_assert!(seen[o..o + *n as usize].iter().all(|s| !*s));
                            next += n;
                        }
                    }
                }
                prop_assert_eq!(next as usize, covered_end);
            }
        }
    }
}
