//! The stream-transform slot of a session: per direction, the transform its bytes pass
//! through on the way to the dissector ([`crate::transform`]), put in place when the
//! dissector asks for it (`Event::Upgrade`), how many bytes the dissector was handed, and
//! how many were not read because a transform gave up.
//!
//! One transform per direction for now (TLS read without keys, or DEFLATE); TLS
//! decryption with COMPRESS inside it will stack a second one behind the first.

use crate::proto::event::{Side, Upgrade};
use crate::transform::{Failure, Hello, Inflate, TlsWatch, Transform, starts_tls_record};

/// One direction's transform.
pub(super) enum Stage {
    Inflate(Inflate),
    Tls(TlsWatch),
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
    /// The ClientHello read on implicit TLS (no dissector).
    hello: Option<TlsWatch>,
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
    pub fn step(&mut self, side: Side, input: &mut &[u8], out: &mut Vec<u8>) -> Step {
        let s = side as usize;
        out.clear();
        let result = match &mut self.stages[s] {
            Some(Stage::Inflate(t)) => t.next(input, out),
            Some(Stage::Tls(t)) => t.next(input, out),
            Some(Stage::Broken) | None => {
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
        let result = match &mut self.stages[s] {
            None => Ok(Some(len)),
            Some(Stage::Inflate(t)) => t.gap(len),
            Some(Stage::Tls(t)) => t.gap(len),
            // Missing bytes are the session's gap bytes, not unread ones.
            Some(Stage::Broken) => return Ok(None),
        };
        match result {
            Ok(out) => {
                self.fed[s] += out.unwrap_or(0);
                Ok(out)
            }
            Err(f) => {
                self.stages[s] = Some(Stage::Broken);
                Err(f)
            }
        }
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
        hello_cap: usize,
    ) -> Option<usize> {
        let mut tail = None;
        for s in 0..2 {
            if self.stages[s].is_some() {
                continue;
            }
            self.stages[s] = Some(match req.kind {
                Upgrade::Deflate => Stage::Inflate(Inflate::default()),
                // The client's side carries the ClientHello.
                Upgrade::Tls => Stage::Tls(TlsWatch::new(if s == 0 { hello_cap } else { 0 })),
            });
            if s == side as usize && raw {
                // The dissector counted the bytes past the offset but did not read them.
                let start = self.fed[s].saturating_sub(chunk as u64);
                let from = req.offsets[s].clamp(start, self.fed[s]);
                tail = Some((from - start) as usize);
            }
        }
        tail.filter(|&t| t < chunk)
    }

    /// After an accepted STARTTLS: if these first bytes of `side` are not TLS, the TLS watch
    /// on both directions is taken away (they are read as text from here on) and true is
    /// returned. Decided on the first bytes after the upgrade, of either side.
    pub fn plaintext_after_tls(&mut self, side: Side, data: &[u8]) -> bool {
        let undecided = |s: &Option<Stage>| matches!(s, Some(Stage::Tls(w)) if w.seen() == 0);
        if data.is_empty()
            || !undecided(&self.stages[side as usize])
            || !matches!(
                (&self.stages[0], &self.stages[1]),
                (Some(Stage::Tls(_)), Some(Stage::Tls(_)))
            )
            || starts_tls_record(data)
        {
            return false;
        }
        self.stages = [None, None];
        true
    }

    /// Implicit TLS: the client's bytes are read for the ClientHello alone.
    pub fn watch_hello(&mut self, side: Side, data: &[u8], cap: usize) {
        if side == Side::Client {
            self.hello
                .get_or_insert_with(|| TlsWatch::new(cap))
                .read(data);
        }
    }

    /// What the ClientHello told, when TLS took over (implicit or STARTTLS).
    pub fn hello(&self) -> Option<&Hello> {
        match &self.stages[0] {
            Some(Stage::Tls(w)) => Some(w.hello()),
            _ => self.hello.as_ref().map(TlsWatch::hello),
        }
    }

    /// Bytes not read because a transform gave up, per direction (client, server).
    pub fn unread(&self) -> [u64; 2] {
        self.unread
    }
}
