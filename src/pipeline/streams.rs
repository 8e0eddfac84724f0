//! The stream-transform slot of a session: per direction, the transform its bytes pass
//! through on the way to the dissector ([`crate::transform`]), put in place when the
//! dissector asks for it (`Event::Upgrade`), how many bytes the dissector was handed, and
//! how many were not read because a transform gave up.
//!
//! A direction passes through TLS (with or without keys) or DEFLATE, or both: IMAP
//! COMPRESS=DEFLATE inside TLS stacks an inflater behind the decryption (`inner`). TLS is one
//! state machine for both directions (the hellos of one side give the keys of the other):
//! the slot holds it, and each direction's stage reads through it.

use crate::limits::Limits;
use crate::proto::event::{Side, Upgrade};
use crate::transform::tls::conn::{self, Conn, KeySource};
use crate::transform::{Failure, Inflate, Transform, starts_tls_record};

/// One direction's transform.
pub(super) enum Stage {
    Inflate(Inflate),
    /// Through the connection's TLS (`Streams::tls`).
    Tls,
    /// Given up (a gap or data it could not decode): the rest is counted, not read.
    Broken,
}

/// An upgrade the dissector asked for (see `Event::Upgrade`).
#[derive(Clone, Debug)]
pub(super) struct Request {
    pub kind: Upgrade,
    /// Where the new encoding starts, per direction (client, server), in the bytes the
    /// dissector was handed.
    pub offsets: [u64; 2],
    /// Client bytes past the client's offset the dissector had been handed (and held)
    /// before it asked: they go through the transform first.
    pub client_held: Vec<u8>,
}

/// What one step through a direction's transform gave.
pub(super) enum Step {
    /// A piece for the dissector (maybe empty); `true`: step again.
    Out(bool),
    /// The transform gave up; the rest of the input was counted as unread.
    Failed(Failure),
    /// The direction's transform had given up already: the input was counted.
    Unread,
}

#[derive(Default)]
pub(super) struct Streams {
    stages: [Option<Stage>; 2],
    /// Bytes handed to the dissector so far, per direction (client, server).
    fed: [u64; 2],
    /// Bytes not read because the direction's transform gave up.
    unread: [u64; 2],
    /// The connection's TLS, once it started (STARTTLS accepted, or implicit TLS).
    tls: Option<Box<Conn>>,
    /// COMPRESS=DEFLATE inside TLS: the plaintext of each direction is inflated next.
    inner: [Option<Stage>; 2],
    /// The direction's TLS stage (not an inflater) is the one that gave up.
    failed_tls: [bool; 2],
}

/// The bounds of a connection's TLS.
pub(super) fn tls_bounds(limits: &Limits) -> conn::Bounds {
    conn::Bounds {
        max_handshake: limits.max_tls_handshake,
        max_certificates: limits.max_tls_certificates,
    }
}

impl Streams {
    /// Whether `side`'s bytes pass through a transform.
    pub fn transformed(&self, side: Side) -> bool {
        self.stages[side as usize].is_some()
    }

    /// Counts bytes handed to the dissector untransformed.
    pub fn fed(&mut self, side: Side, len: usize) {
        self.fed[side as usize] += len as u64;
    }

    /// One step of `input` through `side`'s transform: at most one piece into `out`.
    pub fn step(
        &mut self,
        side: Side,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        keys: &mut dyn KeySource,
    ) -> Step {
        let s = side as usize;
        out.clear();
        let result = match (&mut self.stages[s], &mut self.tls) {
            (Some(Stage::Inflate(t)), _) => t.next(input, out),
            (Some(Stage::Tls), Some(tls)) => tls.next(side == Side::Client, input, out, keys),
            (Some(Stage::Tls | Stage::Broken) | None, _) => {
                self.unread[s] += input.len() as u64;
                *input = &[];
                return Step::Unread;
            }
        };
        match result {
            Ok(more) => {
                // With an inner stage, what the dissector is handed is counted there.
                if self.inner[s].is_none() {
                    self.fed[s] += out.len() as u64;
                }
                Step::Out(more)
            }
            Err(f) => {
                self.failed_tls[s] = matches!(self.stages[s], Some(Stage::Tls));
                self.stages[s] = Some(Stage::Broken);
                self.unread[s] += input.len() as u64;
                *input = &[];
                Step::Failed(f)
            }
        }
    }

    /// A hole of `len` bytes in `side`: passed on to the dissector as a gap (in its own
    /// bytes), or swallowed by a transform that carries on, or the failure that stops it.
    pub fn gap(&mut self, side: Side, len: u64) -> Result<Option<u64>, Failure> {
        let s = side as usize;
        let result = match (&mut self.stages[s], &mut self.tls) {
            (None, _) => Ok(Some(len)),
            (Some(Stage::Inflate(t)), _) => t.gap(len),
            (Some(Stage::Tls), Some(tls)) => tls.gap(side == Side::Client, len),
            // Missing bytes are the session's gap bytes, not unread ones.
            (Some(Stage::Tls | Stage::Broken), _) => return Ok(None),
        };
        match result {
            Ok(Some(n)) if self.inner[s].is_some() => {
                // The hole goes on through the inner stage (an inflater cannot skip it).
                let r = match &mut self.inner[s] {
                    Some(Stage::Inflate(t)) => t.gap(n),
                    _ => return Ok(None),
                };
                match r {
                    Ok(out) => {
                        self.fed[s] += out.unwrap_or(0);
                        Ok(out)
                    }
                    Err(f) => {
                        self.inner[s] = Some(Stage::Broken);
                        Err(f)
                    }
                }
            }
            Ok(out) => {
                self.fed[s] += out.unwrap_or(0);
                Ok(out)
            }
            Err(f) => {
                self.failed_tls[s] = matches!(self.stages[s], Some(Stage::Tls));
                self.stages[s] = Some(Stage::Broken);
                Err(f)
            }
        }
    }

    /// Where, in the last `chunk` bytes handed to the dissector on direction `s`, the
    /// stream offset `offset` falls (0 if before them, `chunk` if after).
    fn past_offset(&self, s: usize, offset: u64, chunk: usize) -> usize {
        let start = self.fed[s].saturating_sub(chunk as u64);
        (offset.clamp(start, self.fed[s]) - start) as usize
    }

    /// Whether the stage of `side` that gave up was its TLS (not an inflater).
    pub fn failed_tls(&self, side: Side) -> bool {
        self.failed_tls[side as usize]
    }

    /// Whether `side`'s plaintext passes through an inner stage (COMPRESS inside TLS).
    pub fn inner(&self, side: Side) -> bool {
        self.inner[side as usize].is_some()
    }

    /// One step of TLS plaintext of `side` through its inner stage: at most one piece.
    pub fn step_inner(&mut self, side: Side, input: &mut &[u8], out: &mut Vec<u8>) -> Step {
        let s = side as usize;
        out.clear();
        let result = match &mut self.inner[s] {
            Some(Stage::Inflate(t)) => t.next(input, out),
            _ => {
                self.unread[s] += input.len() as u64;
                *input = &[];
                return Step::Unread;
            }
        };
        match result {
            Ok(more) => {
                self.fed[s] += out.len() as u64;
                Step::Out(more)
            }
            Err(f) => {
                self.inner[s] = Some(Stage::Broken);
                self.unread[s] += input.len() as u64;
                *input = &[];
                Step::Failed(f)
            }
        }
    }

    /// An upgrade asked for inside TLS (COMPRESS=DEFLATE): an inflater behind the
    /// decryption, both ways. `side`'s last `chunk` plaintext bytes were just handed over;
    /// the part of them past the offset is returned (its start), to go through it again.
    /// A second TLS inside TLS is not a thing: ignored.
    pub fn install_inner(&mut self, req: &Request, side: Side, chunk: usize) -> Option<usize> {
        if req.kind != Upgrade::Deflate {
            return None;
        }
        let mut tail = None;
        for s in 0..2 {
            if self.inner[s].is_some() || !matches!(self.stages[s], Some(Stage::Tls)) {
                continue;
            }
            self.inner[s] = Some(Stage::Inflate(Inflate::default()));
            if s == side as usize {
                tail = Some(self.past_offset(s, req.offsets[s], chunk));
            }
        }
        tail.filter(|&t| t < chunk)
    }

    /// Puts the transforms `req` asks for in place. `side`'s last `chunk` bytes were just
    /// handed over untransformed (`raw`); the part of them past the upgrade's offset is
    /// returned (its start in the chunk), to be handed over again through the transform.
    /// A direction that already has a transform keeps it (no stacking yet).
    pub fn install(
        &mut self,
        req: &Request,
        side: Side,
        raw: bool,
        chunk: usize,
        limits: &Limits,
    ) -> Option<usize> {
        let mut tail = None;
        for s in 0..2 {
            if self.stages[s].is_some() {
                continue;
            }
            self.stages[s] = Some(match req.kind {
                Upgrade::Deflate => Stage::Inflate(Inflate::default()),
                Upgrade::Tls => {
                    self.tls
                        .get_or_insert_with(|| Box::new(Conn::new(tls_bounds(limits))));
                    Stage::Tls
                }
            });
            if s == side as usize && raw {
                // The dissector counted the bytes past the offset but did not read them.
                tail = Some(self.past_offset(s, req.offsets[s], chunk));
            }
        }
        tail.filter(|&t| t < chunk)
    }

    /// After an accepted STARTTLS: if these first bytes (of either side) are not TLS, the TLS watch
    /// on both directions is taken away (they are read as text from here on) and true is
    /// returned. Decided on the first bytes after the upgrade, of either side.
    pub fn plaintext_after_tls(&mut self, data: &[u8]) -> bool {
        let undecided = matches!(
            (&self.stages[0], &self.stages[1], &self.tls),
            (Some(Stage::Tls), Some(Stage::Tls), Some(t))
                if t.seen(true) == 0 && t.seen(false) == 0
        );
        if data.is_empty() || !undecided || starts_tls_record(data) {
            return false;
        }
        self.stages = [None, None];
        self.tls = None;
        true
    }

    /// TLS without a dissector (TLS recognised on a port no mail protocol is known for):
    /// read for what it tells in clear; what it decrypts is appended to `plain` (for the
    /// protocol inside to be recognised by), as long as `keep`.
    pub fn read_tls(
        &mut self,
        side: Side,
        mut data: &[u8],
        keys: &mut dyn KeySource,
        limits: &Limits,
        plain: &mut Vec<u8>,
        keep: bool,
    ) {
        let tls = self
            .tls
            .get_or_insert_with(|| Box::new(Conn::new(tls_bounds(limits))));
        let mut out = Vec::new();
        loop {
            let r = tls.next(side == Side::Client, &mut data, &mut out, keys);
            if keep {
                crate::copies::count(crate::copies::Site::Plaintext, out.len());
                plain.extend_from_slice(&out);
            }
            match r {
                Ok(true) => {}
                Ok(false) | Err(_) => break,
            }
        }
    }

    /// A hole in a connection read by [`Streams::read_tls`].
    pub fn tls_gap(&mut self, side: Side, len: u64) {
        if let Some(tls) = self.tls.as_mut() {
            let _ = tls.gap(side == Side::Client, len);
        }
    }

    /// The connection's TLS, once it started.
    pub fn tls(&self) -> Option<&Conn> {
        self.tls.as_deref()
    }

    /// The connection ended: its TLS says what it still has to (keys that never came).
    pub fn finish_tls(&mut self) {
        if let Some(t) = self.tls.as_mut() {
            t.finish();
        }
    }

    /// What the connection's TLS has to report since the last call.
    pub fn take_tls_notes(&mut self) -> Vec<conn::Note> {
        self.tls
            .as_mut()
            .map(|t| t.take_notes())
            .unwrap_or_default()
    }

    /// Whether `side` reads through the connection's TLS.
    pub fn through_tls(&self, side: Side) -> bool {
        matches!(self.stages[side as usize], Some(Stage::Tls))
    }

    /// Bytes not read because a transform gave up, per direction (client, server).
    pub fn unread(&self) -> [u64; 2] {
        let tls = self.tls.as_ref().map_or([0; 2], |t| t.lost());
        [self.unread[0] + tls[0], self.unread[1] + tls[1]]
    }
}
