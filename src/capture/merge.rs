//! Several captures read as one: a k-way merge of [`FrameSource`]s by frame time, the way
//! `mergecap` merges files (its default, chronological mode).
//!
//! Each input's next frame waits in a head buffer (one copy per frame, reused, so memory is
//! the inputs' largest frames, not their sizes); the earliest head goes out next, ties going
//! to the input named first. Frames are numbered 1, 2, 3 … in merged order, as in the file
//! `mergecap -w merged.pcap a.pcap b.pcap` writes: the frame numbers mailscope reports are
//! those of the merged capture. Each frame's `input` says which input it came from.
//!
//! An error from any input stops the merge (it names that input's file, frame and offset),
//! as it stops a single file: everything before it has been handed out.

use super::{CaptureError, Frame, FrameSource, LinkType, Progress};
use crate::types::Timestamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// An input's next frame, copied out of its reader's buffer.
struct Head {
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    data: Vec<u8>,
}

/// Frames of several sources in timestamp order.
pub struct Merge<S> {
    sources: Vec<S>,
    /// The next frame of each source; `None` once it has ended.
    heads: Vec<Option<Head>>,
    /// The source whose head was handed out last: refilled at the next call.
    refill: Option<usize>,
    /// The sources with a head, earliest first (ties: the input named first): a frame
    /// costs O(log k) for k inputs, not a scan of them all.
    order: BinaryHeap<Reverse<(Timestamp, usize)>>,
    frames: u64,
}

impl<S: FrameSource> Merge<S> {
    /// Reads the first frame of every source.
    pub fn new(sources: Vec<S>) -> Result<Merge<S>, CaptureError> {
        let mut m = Merge {
            heads: sources.iter().map(|_| None).collect(),
            sources,
            refill: None,
            order: BinaryHeap::new(),
            frames: 0,
        };
        for i in 0..m.sources.len() {
            m.fill(i)?;
        }
        Ok(m)
    }

    /// Reads source `i`'s next frame into its head (reusing the buffer).
    fn fill(&mut self, i: usize) -> Result<(), CaptureError> {
        let mut buf = self.heads[i].take().map(|h| h.data).unwrap_or_default();
        if let Some(f) = self.sources[i].next_frame()? {
            buf.clear();
            buf.extend_from_slice(f.data);
            self.order.push(Reverse((f.ts, i)));
            self.heads[i] = Some(Head {
                ts: f.ts,
                link: f.link,
                orig_len: f.orig_len,
                data: buf,
            });
        }
        Ok(())
    }
}

impl<S: FrameSource> FrameSource for Merge<S> {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if let Some(i) = self.refill.take() {
            self.fill(i)?;
        }
        let Some(Reverse((_, i))) = self.order.pop() else {
            return Ok(None);
        };
        self.refill = Some(i);
        self.frames += 1;
        let index = self.frames;
        Ok(self.heads[i].as_ref().map(|h| Frame {
            index,
            ts: h.ts,
            link: h.link,
            orig_len: h.orig_len,
            data: &h.data,
            input: i,
        }))
    }

    fn frames(&self) -> u64 {
        self.frames
    }

    fn skipped_blocks(&self) -> u64 {
        self.sources.iter().map(FrameSource::skipped_blocks).sum()
    }

    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        let mut all: Option<Vec<u8>> = None;
        for s in &mut self.sources {
            if let Some(text) = s.take_secrets() {
                all.get_or_insert_with(Vec::new).extend_from_slice(&text);
            }
        }
        all
    }

    fn progress(&self) -> Progress {
        let mut p = Progress {
            read: 0,
            total: Some(0),
        };
        for s in &self.sources {
            let q = s.progress();
            p.read += q.read;
            p.total = p.total.zip(q.total).map(|(a, b)| a + b);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames from a list of (seconds, payload byte).
    struct List {
        frames: Vec<(i64, u8)>,
        next: usize,
        data: [u8; 1],
    }

    impl FrameSource for List {
        fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
            let Some(&(s, b)) = self.frames.get(self.next) else {
                return Ok(None);
            };
            self.next += 1;
            self.data = [b];
            Ok(Some(Frame {
                index: self.next as u64,
                ts: Timestamp::from_nanos(s * 1_000_000_000),
                link: LinkType::Raw,
                orig_len: 1,
                data: &self.data,
                input: 0,
            }))
        }
        fn frames(&self) -> u64 {
            self.next as u64
        }
        fn skipped_blocks(&self) -> u64 {
            1
        }
        fn progress(&self) -> Progress {
            Progress::default()
        }
    }

    fn list(frames: &[(i64, u8)]) -> List {
        List {
            frames: frames.to_vec(),
            next: 0,
            data: [0],
        }
    }

    /// Interleaved inputs come out by time, ties to the first input; frames are numbered in
    /// merged order and each says where it came from.
    #[test]
    fn merges_by_time_and_numbers_frames_in_merged_order() {
        let a = list(&[(1, b'a'), (3, b'b'), (3, b'c'), (9, b'd')]);
        let b = list(&[(0, b'x'), (3, b'y'), (10, b'z')]);
        let empty = list(&[]);
        let mut m = Merge::new(vec![a, empty, b]).unwrap();
        let mut got = Vec::new();
        while let Some(f) = m.next_frame().unwrap() {
            got.push((f.index, f.data[0] as char, f.input));
        }
        let want = [
            (1, 'x', 2),
            (2, 'a', 0),
            (3, 'b', 0),
            (4, 'c', 0),
            (5, 'y', 2),
            (6, 'd', 0),
            (7, 'z', 2),
        ];
        assert_eq!(got, want);
        assert_eq!(m.frames(), 7);
        assert_eq!(m.skipped_blocks(), 3);
    }
}
