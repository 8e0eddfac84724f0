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
//!   peer ACK past a hole ──▶ noted (time of the first ACK past it); the hole stays open
//!        │
//!        ├─ its segment comes late ──────────────────────────▶ Data, as any reordering
//!        ├─ > max_acked_hole_bytes buffered behind it ───────┐
//!        ├─ > acked_hole_timeout since that first ACK ───────┼─▶ Gap up to the ACK, drain
//!        └─ new data from the peer acknowledging it ─────────┘
//!
//!   FIN/RST/timeout, end of capture ──▶ Gap for each hole, drain
//! ```
//!
//! A hole becomes a [`Output::Gap`] only once a limit forces it or the direction ends. The
//! receiver acknowledging bytes the capture lacks is not enough on its own: capture points
//! (SPAN ports, multi-queue NICs, merged files) often record an ACK ahead of the data it
//! covers, so an acknowledged hole waits for its late segment within bounds a user can
//! reason about (bytes behind it, capture time since the first ACK past it, checked on every
//! packet of the connection and by the table's periodic sweep). The peer's own data is the
//! last call: it answers what it acknowledges and is handed on after it, so holes below its
//! ACK are given up first. Bytes the capture saw on the wire but cut off by the snaplen are
//! not waited for. Data released from the buffer carries the timestamp and frame of the
//! segment that brought it; a gap carries those of the packet that declared it.

use super::seq::SeqNumber;
use crate::types::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// How far ahead of the next expected byte a segment may start before it is considered
/// bogus (a corrupt or hostile sequence number) rather than out of order.
const MAX_AHEAD: u64 = 1 << 30;

/// ACKs remembered per direction while they are ahead of what was delivered (see
/// [`AckMark`]). Past it the newest mark is moved forward instead, so a hole opened behind
/// more than this many ACK advances dates from a slightly earlier ACK than its own.
const MAX_ACK_MARKS: usize = 16;

/// Reassembly limits for one direction, and for all directions together.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_buffered_bytes: usize,
    pub max_buffered_segments: usize,
    pub max_total_buffered: usize,
    /// Bytes buffered behind an acknowledged hole before it is given up.
    pub max_acked_hole_bytes: usize,
    /// Capture time (ns) after the first ACK past a hole before it is given up.
    pub acked_hole_timeout_ns: i64,
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
    /// Acknowledged holes given up as gaps because a bound (`max_acked_hole_bytes`,
    /// `acked_hole_timeout`) was reached before their segment came.
    pub acked_hole_flushes: u64,
}

#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    ts: Timestamp,
    frame: u64,
    /// Bytes that followed `data` on the wire but were cut off by the snaplen.
    cut: u32,
}

/// The peer acknowledged bytes up to `offset` at `ts`: the first mark above a hole's start
/// dates the first ACK past that hole.
#[derive(Clone, Copy, Debug)]
struct AckMark {
    offset: u64,
    ts: Timestamp,
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
    /// Highest stream offset the peer acknowledged.
    acked: u64,
    /// ACK advances beyond `delivered`, oldest first, offsets increasing.
    marks: VecDeque<AckMark>,
    /// Bytes missing before this offset (from `delivered` on) were on the wire but cut off
    /// by the snaplen: an ACK past them needs no waiting.
    cut_end: u64,
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

    /// True once the peer acknowledged the FIN.
    pub fn fin_acked(&self) -> bool {
        self.fin.is_some_and(|fin| self.acked > fin)
    }

    /// True while an ACK is ahead of what was delivered (a hole may be waiting on it).
    pub fn waits_on_ack(&self) -> bool {
        !self.marks.is_empty()
    }

    /// Bytes after `delivered` that the stream is known to hold: up to the FIN or the last
    /// byte seen, whichever is lower.
    fn seen_end(&self) -> u64 {
        self.fin.unwrap_or(self.max_end).min(self.max_end)
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
        let data_end = start + len;
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
            self.note_cut(data_end, wire_end);
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
                self.note_cut(data_end, wire_end);
                return;
            }
        }
        self.buffer(start, data, missing, ts, frame, total_buffered);
    }

    /// A segment whose data ended at `data_end` was cut by the snaplen up to `wire_end`; once
    /// its data is delivered, the cut bytes are the next missing ones.
    fn note_cut(&mut self, data_end: i128, wire_end: i128) {
        if wire_end > data_end && data_end <= i128::from(self.delivered) {
            self.cut_end = self.cut_end.max(wire_end as u64);
        }
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
            if piece.cut > 0 {
                self.cut_end = self.cut_end.max(end + u64::from(piece.cut));
            }
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
        missing: u32,
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
            crate::copies::count(crate::copies::Site::Reassembly, bytes.len());
            self.buffered += bytes.len();
            *total_buffered += bytes.len();
            self.pending.insert(
                lo,
                Pending {
                    data: bytes,
                    ts,
                    frame,
                    // The cut bytes follow the segment's last byte.
                    cut: if hi == end { missing } else { 0 },
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

    /// The peer acknowledged `ack`: bytes before it reached the receiver. A hole below it is
    /// not lost yet: capture points (SPAN ports, multi-queue NICs, merged files) often record
    /// an ACK ahead of the data it covers, so the hole stays open for its late segment until
    /// [`Reassembler::expire`] finds a bound reached. Only bytes the capture saw on the wire
    /// but cut off by the snaplen are given up at once.
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
        let acked = acked.min(i128::from(u64::MAX)) as u64;
        if acked > self.acked {
            self.acked = acked;
            if self.marks.len() < MAX_ACK_MARKS {
                self.marks.push_back(AckMark { offset: acked, ts });
            } else if let Some(last) = self.marks.back_mut() {
                last.offset = acked;
            }
        }
        while self.cut_end > self.delivered {
            let target = self.acked.min(self.cut_end).min(self.seen_end());
            if target <= self.delivered {
                break;
            }
            self.lose_until(target, ts, frame, total_buffered, out);
        }
    }

    /// The peer sent new data acknowledging `ack`. Its data answers what it acknowledges and
    /// must be handed on after it, so holes below `ack` are given up now: a segment that
    /// comes even later than the peer's answer is not waited for.
    pub fn answered(
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
        let target = (acked.clamp(0, i128::from(u64::MAX)) as u64).min(self.seen_end());
        if target > self.delivered {
            self.stats.acked_hole_flushes += 1;
            self.lose_until(target, ts, frame, total_buffered, out);
        }
    }

    /// True if a segment at `seq` carrying `len` bytes (plus `missing` cut by the snaplen)
    /// reaches past what was delivered: not a pure retransmission.
    pub fn is_new(&self, seq: u32, len: usize, missing: u32) -> bool {
        self.offset_of(SeqNumber(seq)).is_none_or(|start| {
            start + len as i128 + i128::from(missing) > i128::from(self.delivered)
        })
    }

    /// Gives up the oldest hole as a gap if the peer acknowledged it and a bound is reached:
    /// more than `max_acked_hole_bytes` buffered behind it, or more than
    /// `acked_hole_timeout_ns` of capture time since the first ACK past it. Called on every
    /// packet of the connection, either way; `ts` and `frame` are that packet's.
    #[inline]
    pub fn expire(
        &mut self,
        ts: Timestamp,
        frame: u64,
        bounds: &Bounds,
        total_buffered: &mut usize,
        out: &mut impl FnMut(Output<'_>),
    ) {
        if !self.marks.is_empty() {
            self.expire_marked(ts, frame, bounds, total_buffered, out);
        }
    }

    fn expire_marked(
        &mut self,
        ts: Timestamp,
        frame: u64,
        bounds: &Bounds,
        total_buffered: &mut usize,
        out: &mut impl FnMut(Output<'_>),
    ) {
        while let Some(&first) = self.marks.front() {
            if first.offset <= self.delivered {
                self.marks.pop_front();
                continue;
            }
            // The hole at `delivered`, if anything beyond it was seen; `first` is the first
            // ACK past its start.
            let seen = self.seen_end();
            let hole_end = self.pending.keys().next().map_or(seen, |&s| s.min(seen));
            if hole_end <= self.delivered {
                return;
            }
            let overdue = self.buffered > bounds.max_acked_hole_bytes
                || ts.since(first.ts) > bounds.acked_hole_timeout_ns;
            if !overdue {
                return;
            }
            self.stats.acked_hole_flushes += 1;
            let target = self.acked.min(hole_end);
            self.lose_until(target, ts, frame, total_buffered, out);
        }
    }

    /// Gives up every hole the peer acknowledged, at once: the connection is ending, so
    /// their segments can no longer come.
    pub fn give_up_acked(
        &mut self,
        ts: Timestamp,
        frame: u64,
        total_buffered: &mut usize,
        out: &mut impl FnMut(Output<'_>),
    ) {
        let target = self.acked.min(self.seen_end());
        if target > self.delivered {
            self.lose_until(target, ts, frame, total_buffered, out);
        }
        self.marks.clear();
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
        max_acked_hole_bytes: 1 << 19,
        acked_hole_timeout_ns: 1_000_000_000,
    };

    #[derive(Debug, PartialEq, Eq)]
    enum Ev {
        Data(u64, Vec<u8>),
        Gap(u64, u64),
    }

    /// Feeds one direction as the flow table does: every segment and every ACK of the peer is
    /// followed by an expiry check. Each call is one frame, `now` nanoseconds into the capture.
    struct Harness {
        r: Reassembler,
        total: usize,
        events: Vec<Ev>,
        /// Frame and time of each gap event.
        gap_at: Vec<(u64, i64)>,
        bounds: Bounds,
        now: i64,
        frame: u64,
    }

    impl Harness {
        fn new(isn: u32) -> Harness {
            let mut h = Harness::midstream();
            h.r.syn(isn);
            h
        }
        /// Without a SYN: offset 0 is the first byte seen.
        fn midstream() -> Harness {
            Harness {
                r: Reassembler::new(),
                total: 0,
                events: Vec::new(),
                gap_at: Vec::new(),
                bounds: BOUNDS,
                now: 0,
                frame: 0,
            }
        }
        fn seg(&mut self, seq: u32, data: &[u8]) {
            self.frame += 1;
            let (ts, frame) = (Timestamp::from_nanos(self.now), self.frame);
            let (events, gap_at) = (&mut self.events, &mut self.gap_at);
            self.r.segment(
                seq,
                data,
                0,
                false,
                ts,
                frame,
                &self.bounds,
                &mut self.total,
                &mut |o| record(events, gap_at, o),
            );
            self.expire();
        }
        /// A pure ACK from the peer.
        fn ack(&mut self, ack: u32) {
            self.frame += 1;
            let (ts, frame) = (Timestamp::from_nanos(self.now), self.frame);
            let (events, gap_at) = (&mut self.events, &mut self.gap_at);
            self.r.ack(ack, ts, frame, &mut self.total, &mut |o| {
                record(events, gap_at, o)
            });
            self.expire();
        }
        /// New data from the peer, acknowledging `ack`.
        fn answer(&mut self, ack: u32) {
            self.frame += 1;
            let (ts, frame) = (Timestamp::from_nanos(self.now), self.frame);
            let (events, gap_at) = (&mut self.events, &mut self.gap_at);
            let mut out = |o: Output<'_>| record(events, gap_at, o);
            self.r.ack(ack, ts, frame, &mut self.total, &mut out);
            self.r.answered(ack, ts, frame, &mut self.total, &mut out);
            self.expire();
        }
        /// A packet of the connection that neither carries data in this direction nor
        /// acknowledges it (the peer's own data, say): only the expiry check runs.
        fn other(&mut self) {
            self.frame += 1;
            self.expire();
        }
        fn expire(&mut self) {
            let (ts, frame) = (Timestamp::from_nanos(self.now), self.frame);
            let (events, gap_at) = (&mut self.events, &mut self.gap_at);
            self.r
                .expire(ts, frame, &self.bounds, &mut self.total, &mut |o| {
                    record(events, gap_at, o)
                });
        }
        fn finish(&mut self) {
            self.frame += 1;
            let (ts, frame) = (Timestamp::from_nanos(self.now), self.frame);
            let (events, gap_at) = (&mut self.events, &mut self.gap_at);
            self.r.finish(ts, frame, &mut self.total, &mut |o| {
                record(events, gap_at, o)
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
        fn gaps(&self) -> Vec<&Ev> {
            self.events
                .iter()
                .filter(|e| matches!(e, Ev::Gap(..)))
                .collect()
        }
    }

    fn record(events: &mut Vec<Ev>, gap_at: &mut Vec<(u64, i64)>, o: Output<'_>) {
        if let Output::Gap { frame, ts, .. } = o {
            gap_at.push((frame, ts.as_nanos()));
        }
        push(events, o);
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
        let mut h = Harness::midstream();
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

    /// The ACK of the peer arrives before a segment it covers (SPAN ports, multi-queue NICs,
    /// merged captures): the hole stays open and the late segment fills it.
    #[test]
    fn acked_hole_filled_late_is_not_a_gap() {
        let mut h = Harness::new(0);
        h.seg(1, b"abc");
        h.seg(10, b"xyz");
        h.ack(13);
        h.other();
        h.seg(4, b"defghi");
        h.finish();
        assert_eq!(h.bytes(), b"abcdefghixyz");
        assert!(h.gaps().is_empty(), "{:?}", h.events);
        assert_eq!(h.r.stats.retransmissions, 0);
        // Several holes, each acknowledged before its segment comes, filled in any order.
        let mut h = Harness::new(7);
        h.seg(8, b"0123");
        h.seg(16, b"89");
        h.ack(18);
        h.seg(20, b"cd");
        h.ack(22);
        h.seg(14, b"67");
        h.seg(12, b"45");
        h.seg(18, b"ab");
        h.finish();
        assert_eq!(h.bytes(), b"0123456789abcd");
        assert!(h.gaps().is_empty(), "{:?}", h.events);
    }

    /// A FIN seen before the late segment: the direction only finishes once it came.
    #[test]
    fn late_segment_after_fin_and_its_ack() {
        let mut h = Harness::new(0);
        h.seg(1, b"abc");
        h.frame += 1;
        let (events, gap_at) = (&mut h.events, &mut h.gap_at);
        h.r.segment(
            7,
            b"ghi",
            0,
            true,
            Timestamp::default(),
            h.frame,
            &BOUNDS,
            &mut h.total,
            &mut |o| record(events, gap_at, o),
        );
        h.ack(11);
        assert!(h.r.fin_seen() && !h.r.is_finished());
        assert!(h.r.fin_acked());
        h.seg(4, b"def");
        assert!(h.r.is_finished());
        assert_eq!(h.bytes(), b"abcdefghi");
        assert!(h.gaps().is_empty());
    }

    /// An acknowledged hole never filled is given up once more than `max_acked_hole_bytes`
    /// are buffered behind it: one gap of the exact length, declared by the segment that
    /// crossed the bound.
    #[test]
    fn acked_hole_given_up_past_bytes_bound() {
        let mut h = Harness::new(0);
        h.bounds.max_acked_hole_bytes = 10;
        h.seg(1, b"abc");
        h.seg(10, b"xyzxy"); // hole 3..9, 5 bytes behind it
        h.ack(15);
        h.seg(15, b"zzzzz"); // 10 bytes behind it: not more than the bound
        assert!(h.gaps().is_empty());
        h.seg(20, b"!"); // 11
        assert_eq!(h.gaps(), vec![&Ev::Gap(3, 6)]);
        assert_eq!(h.gap_at, vec![(h.frame, 0)]);
        assert_eq!(h.bytes(), b"abcxyzxyzzzzz!");
        assert_eq!(h.r.stats.acked_hole_flushes, 1);
        h.finish();
        assert_eq!(h.gaps().len(), 1);
        // Without the ACK the same bytes behind the hole wait (other limits bound them).
        let mut h = Harness::new(0);
        h.bounds.max_acked_hole_bytes = 10;
        h.seg(1, b"abc");
        h.seg(10, b"xyzxyzzzzz!");
        assert!(h.gaps().is_empty());
    }

    /// ... or once more than `acked_hole_timeout` of capture time passed since the first ACK
    /// past it, checked on any later packet of the connection, data or not.
    #[test]
    fn acked_hole_given_up_past_timeout() {
        let mut h = Harness::new(0);
        h.seg(1, b"abc");
        h.seg(10, b"xyz");
        h.now = 5_000;
        h.ack(12); // first ACK past the hole: the clock starts here
        h.now = 500_000_000;
        h.ack(13); // a later ACK does not restart it
        h.now = 1_000_005_000;
        h.other();
        assert!(h.gaps().is_empty(), "exactly the timeout is not past it");
        h.now = 1_000_005_001;
        h.other();
        assert_eq!(h.gaps(), vec![&Ev::Gap(3, 6)]);
        assert_eq!(h.gap_at, vec![(h.frame, 1_000_005_001)]);
        assert_eq!(h.bytes(), b"abcxyz");
        assert_eq!(h.r.delivered(), 12);
        // The segment arriving after that is a retransmission.
        h.seg(4, b"defghi");
        assert_eq!(h.r.stats.retransmissions, 1);
        assert_eq!(h.r.stats.acked_hole_flushes, 1);
    }

    /// Only the part of a hole below the ACK is known to be lost; a second hole gets its
    /// own clock, started by the first ACK past it.
    #[test]
    fn each_hole_has_its_own_ack_clock() {
        let mut h = Harness::new(0);
        h.seg(1, b"ab");
        h.seg(5, b"ef"); // hole 2..4
        h.seg(9, b"ij"); // hole 6..8
        h.ack(6); // past the first hole only
        h.now = 600_000_000;
        h.ack(11); // past the second one
        h.now = 1_000_000_001;
        h.other();
        assert_eq!(h.gaps(), vec![&Ev::Gap(2, 2)]);
        h.seg(7, b"gh");
        h.now = 1_600_000_001;
        h.other();
        h.finish();
        assert_eq!(h.gaps(), vec![&Ev::Gap(2, 2)]);
        assert_eq!(h.bytes(), b"abefghij");
        // A hole half acknowledged: the acknowledged part goes, the rest waits.
        let mut h = Harness::new(0);
        h.seg(1, b"ab");
        h.seg(9, b"ij"); // hole 2..8
        h.ack(6);
        h.now = 1_000_000_001;
        h.other();
        assert_eq!(h.gaps(), vec![&Ev::Gap(2, 3)]);
        assert_eq!(h.r.delivered(), 5);
        h.seg(6, b"fgh");
        assert_eq!(h.bytes(), b"abfghij");
    }

    /// The peer's data answers what it acknowledges, and is handed on after it: holes below
    /// its ACK are given up at once (only those), with the answer's frame.
    #[test]
    fn peer_data_past_a_hole_gives_it_up() {
        let mut h = Harness::new(0);
        h.seg(1, b"abc");
        h.seg(10, b"xyz");
        h.seg(20, b"!");
        h.ack(13); // a pure ACK: the hole stays open
        assert!(h.gaps().is_empty());
        h.answer(6); // data acknowledging part of the hole
        assert_eq!(h.gaps(), vec![&Ev::Gap(3, 2)]);
        assert_eq!(h.gap_at, vec![(h.frame, 0)]);
        h.answer(13);
        assert_eq!(h.gaps(), vec![&Ev::Gap(3, 2), &Ev::Gap(5, 4)]);
        assert_eq!(
            h.r.delivered(),
            12,
            "the hole at 12..19 is not acknowledged"
        );
        h.seg(13, b"1234567");
        assert_eq!(h.bytes(), b"abcxyz1234567!");
        assert_eq!(h.r.stats.acked_hole_flushes, 2);
    }

    /// Never filled, never reaching a bound: the end of the direction declares it, once.
    #[test]
    fn acked_hole_declared_at_finish() {
        let mut h = Harness::new(0);
        h.seg(1, b"abc");
        h.seg(10, b"xyz");
        h.ack(13);
        h.finish();
        assert_eq!(
            h.events,
            vec![
                Ev::Data(0, b"abc".to_vec()),
                Ev::Gap(3, 6),
                Ev::Data(9, b"xyz".to_vec())
            ]
        );
        assert_eq!(h.gap_at, vec![(h.frame, 0)]);
    }

    /// Bytes cut off by the snaplen were on the wire: once acknowledged they are lost for
    /// good and become a gap at once, as before.
    #[test]
    fn acked_snaplen_cut_is_a_gap_at_once() {
        let mut h = Harness::new(0);
        let (events, gap_at) = (&mut h.events, &mut h.gap_at);
        h.r.segment(
            1,
            b"abc",
            4,
            false,
            Timestamp::default(),
            1,
            &BOUNDS,
            &mut h.total,
            &mut |o| record(events, gap_at, o),
        );
        h.seg(8, b"hij");
        h.ack(11);
        assert_eq!(
            h.events,
            vec![
                Ev::Data(0, b"abc".to_vec()),
                Ev::Gap(3, 4),
                Ev::Data(7, b"hij".to_vec())
            ]
        );
        // Every segment cut (a short snaplen): each arrives behind the previous one's cut
        // bytes and is buffered; one ACK past them all releases everything.
        let mut h = Harness::new(0);
        for k in 0..4u32 {
            let (events, gap_at) = (&mut h.events, &mut h.gap_at);
            h.r.segment(
                1 + k * 10,
                b"abcd",
                6,
                false,
                Timestamp::default(),
                1,
                &BOUNDS,
                &mut h.total,
                &mut |o| record(events, gap_at, o),
            );
        }
        assert_eq!(h.r.buffered(), 12);
        h.ack(41);
        assert_eq!(h.r.delivered(), 40);
        let gaps = [
            Ev::Gap(4, 6),
            Ev::Gap(14, 6),
            Ev::Gap(24, 6),
            Ev::Gap(34, 6),
        ];
        assert_eq!(h.gaps(), gaps.iter().collect::<Vec<_>>());
        assert_eq!(h.r.stats.acked_hole_flushes, 0);
        assert_eq!(h.bytes(), b"abcdabcdabcdabcd");
    }

    #[test]
    fn buffer_limit_forces_gap_not_growth() {
        let bounds = Bounds {
            max_buffered_bytes: 8,
            ..BOUNDS
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

        /// What one direction's capture shows: its data segments and the peer's ACKs.
        #[derive(Clone, Copy, Debug)]
        enum Wire {
            Data(usize, usize),
            Ack(usize),
        }

        /// The stream sent in order, the receiver acknowledging what it got after about a
        /// third of the segments; then about a quarter of the data segments held back 1–3
        /// frames (past later data and past the ACKs that cover them), and about a tenth sent
        /// again 2–5 frames later.
        fn delayed_past_acks(len: usize, cuts: &[usize], rng: &mut crate::synth::Rng) -> Vec<Wire> {
            let mut cuts = cuts.to_vec();
            cuts.extend([0, len]);
            cuts.sort_unstable();
            cuts.dedup();
            let mut wire = Vec::new();
            for w in cuts.windows(2) {
                wire.push(Wire::Data(w[0], w[1]));
                if rng.below(3) == 0 {
                    wire.push(Wire::Ack(w[1]));
                }
            }
            let mut out = Vec::with_capacity(wire.len() * 2);
            let mut held: Vec<(usize, Wire)> = Vec::new();
            for w in wire {
                let data = matches!(w, Wire::Data(..));
                if data && rng.below(4) == 0 {
                    held.push((out.len() + 1 + rng.below(3) as usize, w));
                    continue;
                }
                out.push(w);
                if data && rng.below(10) == 0 {
                    held.push((out.len() + 2 + rng.below(4) as usize, w));
                }
                while let Some(k) = held.iter().position(|(at, _)| *at <= out.len()) {
                    out.push(held.remove(k).1);
                }
            }
            out.extend(held.into_iter().map(|(_, w)| w));
            out
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

            /// Data segments coming after the peer's ACK that covers them (and duplicated)
            /// reassemble to the identical bytes, without a gap.
            #[test]
            fn data_delayed_past_its_acks_reassembles_identically(
                len in 1usize..3000,
                cuts in proptest::collection::vec(0usize..3000, 0..40),
                isn in any::<u32>(),
                seed in any::<u64>(),
            ) {
                let mut data = vec![0u8; len];
                let mut rng = crate::synth::Rng::new(seed);
                rng.fill(&mut data);
                let cuts: Vec<usize> = cuts.into_iter().map(|c| c % len).collect();
                let wire = delayed_past_acks(len, &cuts, &mut rng);
                let mut h = Harness::new(isn);
                let seq = |at: usize| isn.wrapping_add(1).wrapping_add(at as u32);
                for w in &wire {
                    h.now += 1000;
                    match *w {
                        Wire::Data(a, b) => h.seg(seq(a), &data[a..b]),
                        Wire::Ack(at) => h.ack(seq(at)),
                    }
                }
                h.finish();
                prop_assert!(h.gaps().is_empty(), "{:?} {:?}", wire, h.events);
                prop_assert_eq!(h.bytes(), data);
                prop_assert_eq!(h.r.stats.overlap_conflicts, 0);
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
