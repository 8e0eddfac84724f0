//! Sessions rendered on the worker threads and written in order. With a sink whose
//! rendering needs nothing but the session (JSON lines: [`crate::render::Renderer`]), each
//! session the reorder buffer hands out is numbered and given to the pool
//! ([`super::pool::Pool::render`]); the bytes come back in any order and are written in
//! the sessions' order. Rendering was a fifth of the reading thread on captures of many
//! small messages, where the reading thread is the one that limits the run.
//!
//! ```text
//!  reorder buffer ──session──▶ [queued] ──pump: numbered──▶ pool ──bytes, any order──┐
//!                                                                                     ▼
//!  sink.rendered ◀──in order── [slots: one per number, filled as results come back] ◀─┘
//! ```
//!
//! At most [`AHEAD`] sessions are numbered and not written at once: with that many, the
//! reading thread waits for the workers before handing out another
//! (`SessionsHandler::wait_for_renderings`), so memory stays bounded whatever the workers'
//! pace. Only when no worker is left does it render the next one itself (still written in
//! its turn).

use std::collections::VecDeque;
use std::io;

/// Sessions numbered and not written at most: past it the reading thread waits.
pub(super) const AHEAD: usize = 128;

/// Renderings waiting for their turn to be written.
#[derive(Default)]
pub(super) struct InOrder {
    /// One slot per number from `first` on: `None` while it is being rendered.
    slots: VecDeque<Option<io::Result<Vec<u8>>>>,
    /// The number of the first slot (the next to write).
    first: u64,
    /// Buffers written out, for the next renderings: a buffer allocated and freed on
    /// different threads costs a heap-arena lock (see `pool::Rendered::session`).
    spares: Vec<Vec<u8>>,
    /// Their capacity, at most [`SPARE_BYTES`].
    spare_bytes: usize,
}

/// A buffer larger than this (a huge session) is not kept for reuse.
const KEPT_BUFFER: usize = 1 << 20;
/// Buffers kept for reuse hold this many bytes at most: [`AHEAD`] buffers of up to
/// [`KEPT_BUFFER`] each would be 128 MiB, kept for the rest of the run.
const SPARE_BYTES: usize = 8 << 20;

impl InOrder {
    /// The number of a new session to render, whether the workers may take it (fewer than
    /// [`AHEAD`] out: if not, the caller renders it and [`InOrder::fill`]s its slot), and a
    /// buffer to render it into.
    pub(super) fn next(&mut self) -> (u64, bool, Vec<u8>) {
        let seq = self.first + self.slots.len() as u64;
        self.slots.push_back(None);
        let buf = match self.spares.pop() {
            Some(buf) => {
                self.spare_bytes -= buf.capacity();
                buf
            }
            None => Vec::with_capacity(4096),
        };
        (seq, self.slots.len() <= AHEAD, buf)
    }

    /// The rendering of session `seq` came back. A number never handed out is ignored.
    pub(super) fn fill(&mut self, seq: u64, bytes: io::Result<Vec<u8>>) {
        let Some(slot) = seq
            .checked_sub(self.first)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.slots.get_mut(i))
        else {
            return;
        };
        *slot = Some(bytes);
    }

    /// The renderings whose turn it is, in order, each handed to `write` until one fails
    /// (its error is returned; the slots after it stay).
    pub(super) fn write_ready(
        &mut self,
        write: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        while let Some(Some(_)) = self.slots.front() {
            let Some(Some(bytes)) = self.slots.pop_front() else {
                break;
            };
            self.first += 1;
            let bytes = bytes?;
            write(&bytes)?;
            let kept = self.spare_bytes + bytes.capacity();
            if bytes.capacity() <= KEPT_BUFFER && self.spares.len() < AHEAD && kept <= SPARE_BYTES {
                self.spare_bytes = kept;
                self.spares.push(bytes);
            }
        }
        Ok(())
    }

    /// Sessions numbered and not written yet.
    pub(super) fn pending(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(o: &mut InOrder) -> Vec<u8> {
        let mut out = Vec::new();
        o.write_ready(&mut |b| {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        out
    }

    /// Renderings coming back in any order are written in the order they were numbered,
    /// each as soon as every earlier one is written.
    #[test]
    fn written_in_the_order_numbered() {
        let mut o = InOrder::default();
        let seqs: Vec<u64> = (0..4).map(|_| o.next().0).collect();
        assert!(o.spares.is_empty());
        assert_eq!(seqs, [0, 1, 2, 3]);
        o.fill(2, Ok(b"c".to_vec()));
        o.fill(1, Ok(b"b".to_vec()));
        assert_eq!(written(&mut o), b"", "0 is not back: nothing goes");
        o.fill(0, Ok(b"a".to_vec()));
        assert_eq!(written(&mut o), b"abc");
        assert_eq!(o.pending(), 1);
        o.fill(3, Ok(b"d".to_vec()));
        o.fill(99, Ok(b"never handed out".to_vec()));
        assert_eq!(written(&mut o), b"d");
        assert_eq!(o.pending(), 0);
        assert_eq!(o.spares.len(), 4, "the written buffers are kept for reuse");
        let (seq, _, buf) = o.next();
        assert_eq!((seq, buf.capacity() > 0), (4, true));
    }

    /// Past AHEAD out at once, the caller is told to render the session itself.
    #[test]
    fn at_most_ahead_are_out() {
        let mut o = InOrder::default();
        for _ in 0..AHEAD {
            assert!(o.next().1);
        }
        let (seq, to_workers, _) = o.next();
        assert!(!to_workers);
        o.fill(seq, Ok(Vec::new()));
        o.fill(0, Ok(Vec::new()));
        written(&mut o);
        assert!(!o.next().1, "still more than AHEAD out: 1 to AHEAD + 1");
        for seq in 1..=AHEAD as u64 + 1 {
            o.fill(seq, Ok(Vec::new()));
        }
        written(&mut o);
        assert_eq!(o.pending(), 0);
        assert!(o.next().1, "room again once they are written");
    }

    /// A rendering that failed, or a write that failed, stops the writing with its error.
    #[test]
    fn a_failure_stops_the_writing() {
        let mut o = InOrder::default();
        o.next();
        o.next();
        o.fill(0, Err(io::Error::other("render")));
        o.fill(1, Ok(b"x".to_vec()));
        let err = o.write_ready(&mut |_| Ok(())).unwrap_err();
        assert_eq!(err.to_string(), "render");
        let err = o
            .write_ready(&mut |_| Err(io::Error::other("write")))
            .unwrap_err();
        assert_eq!(err.to_string(), "write");
    }
}

#[cfg(test)]
mod review_tests {
    use super::super::pool::{Finished, Pool};
    use crate::limits::Limits;
    use crate::render::Renderer;
    use crate::session::Session;
    use std::io;

    use super::super::pool::render_tests::session;

    /// Buffers kept for reuse are bounded in bytes, not only in number: AHEAD buffers of up
    /// to a MiB each (sessions of many exchanges) were kept for the rest of the run.
    #[test]
    fn spare_buffers_are_bounded_in_bytes() {
        let mut o = super::InOrder::default();
        let n = super::AHEAD as u64;
        for _ in 0..n {
            o.next();
        }
        for seq in 0..n {
            o.fill(seq, Ok(Vec::with_capacity(super::KEPT_BUFFER)));
        }
        o.write_ready(&mut |_| Ok(())).unwrap();
        let kept: usize = o.spares.iter().map(Vec::capacity).sum();
        assert!(kept <= 8 << 20, "{} MiB of spare buffers kept", kept >> 20);
        assert!(!o.spares.is_empty(), "some are still kept");
    }

    /// A renderer with a bug: it panics on session 3.
    fn panics_on_3(s: &Session, _: bool, out: &mut Vec<u8>) -> io::Result<()> {
        assert_ne!(s.id, 3, "a rendering bug");
        out.extend_from_slice(format!("{}\n", s.id).as_bytes());
        Ok(())
    }

    /// A panic while a worker renders a session is an error for that session, not a lost
    /// batch: with another worker still alive, `wait_done` used to wait forever for the
    /// results the dead worker took with it (with none left, the sessions were lost and the
    /// totals written anyway).
    #[test]
    fn a_panic_while_rendering_is_an_error_not_a_hang() {
        for workers in [1, 2] {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let bounds = crate::mime::Bounds::from(&Limits::default());
                let renderer = Renderer::new(panics_on_3, false);
                let back = std::thread::scope(|scope| {
                    let mut pool = Pool::new(scope, workers, 6 << 20, bounds);
                    for seq in 0..6u64 {
                        assert!(
                            pool.render(seq, session(seq), renderer, Vec::new())
                                .is_none()
                        );
                    }
                    let mut back = Vec::new();
                    while let Some(f) = pool.wait_done() {
                        let Finished::Rendered(r) = f else {
                            panic!("a decoding came back for a rendering");
                        };
                        back.push((r.seq, r.bytes.is_ok()));
                    }
                    back.sort_unstable();
                    back
                });
                let _ = tx.send(back);
            });
            let back = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("{workers} workers: no results ({e:?})"));
            let want: Vec<(u64, bool)> = (0..6).map(|s| (s, s != 3)).collect();
            assert_eq!(back, want, "{workers} workers");
        }
    }
}
