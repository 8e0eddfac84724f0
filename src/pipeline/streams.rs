//! The stream-transform slot of a session: per direction, the transform its bytes pass
//! through on the way to the dissector ([`crate::transform`]), put in place when the
//! dissector asks for it (`Event::Upgrade`), and how many bytes the dissector was handed.
//!
//! One transform per direction for now (TLS read without keys, or DEFLATE); TLS
//! decryption with COMPRESS inside it will stack a second one behind the first.

use crate::proto::Dissector;
use crate::proto::event::{Mark, Side, Upgrade};
use crate::transform::{Failure, Hello, Inflate, TlsWatch, Transform};

/// One direction's transform.
pub(super) enum Stage {
    Inflate(Inflate),
    Tls(TlsWatch),
    /// Given up (a gap or data it could not decode): the rest is counted, not read.
    Broken {
        unread: u64,
    },
}

impl Stage {
    fn transform(&mut self) -> Option<&mut dyn Transform> {
        match self {
            Stage::Inflate(t) => Some(t),
            Stage::Tls(t) => Some(t),
            Stage::Broken { .. } => None,
        }
    }
}

/// An upgrade the dissector asked for (see `Event::Upgrade`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Request {
    pub kind: Upgrade,
    /// Where the new encoding starts, per direction (client, server), in the bytes the
    /// dissector was handed.
    pub offsets: [u64; 2],
}

#[derive(Default)]
pub(super) struct Streams {
    stages: [Option<Stage>; 2],
    /// Bytes handed to the dissector so far, per direction (client, server).
    fed: [u64; 2],
    /// The ClientHello read on implicit TLS (no dissector).
    hello: Option<TlsWatch>,
}

impl Streams {
    /// Bytes of `side` for the dissector, through its transform if it has one. Returns
    /// whether they went through untransformed (an upgrade they ask for may then apply to
    /// part of them), and the failure that made the transform give up, if one did.
    pub fn pass(
        &mut self,
        d: &mut dyn Dissector,
        side: Side,
        data: &[u8],
        mark: Mark,
    ) -> (bool, Option<Failure>) {
        let s = side as usize;
        let fed = &mut self.fed[s];
        let Some(stage) = self.stages[s].as_mut() else {
            *fed += data.len() as u64;
            d.on_data(side, data, mark);
            return (true, None);
        };
        let Some(t) = stage.transform() else {
            if let Stage::Broken { unread } = stage {
                *unread += data.len() as u64;
            }
            return (false, None);
        };
        let result = t.data(data, &mut |plain| {
            *fed += plain.len() as u64;
            d.on_data(side, plain, mark);
        });
        match result {
            Ok(()) => (false, None),
            Err(f) => {
                *stage = Stage::Broken { unread: 0 };
                (false, Some(f))
            }
        }
    }

    /// A hole of `len` bytes in `side`: passed on to the dissector as a gap (in its own
    /// bytes), or swallowed by a transform that carries on, or the failure that stops it.
    pub fn gap(&mut self, side: Side, len: u64) -> Result<Option<u64>, Failure> {
        let s = side as usize;
        let Some(stage) = self.stages[s].as_mut() else {
            self.fed[s] += len;
            return Ok(Some(len));
        };
        let Some(t) = stage.transform() else {
            if let Stage::Broken { unread } = stage {
                *unread += len;
            }
            return Ok(None);
        };
        match t.gap(len) {
            Ok(out) => {
                self.fed[s] += out.unwrap_or(0);
                Ok(out)
            }
            Err(f) => {
                *stage = Stage::Broken { unread: 0 };
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
        req: Request,
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
                let start = self.fed[s] - chunk as u64;
                // The dissector counted the bytes past the offset but did not read them.
                let from = req.offsets[s].clamp(start, self.fed[s]);
                tail = Some((from - start) as usize);
            }
        }
        tail.filter(|&t| t < chunk)
    }

    /// Implicit TLS: the client's bytes are read for the ClientHello alone.
    pub fn watch_hello(&mut self, side: Side, data: &[u8], cap: usize) {
        if side == Side::Client {
            let w = self.hello.get_or_insert_with(|| TlsWatch::new(cap));
            let _ = w.data(data, &mut |_| {});
        }
    }

    /// What the ClientHello told, when TLS took over (implicit or STARTTLS).
    pub fn hello(&self) -> Option<&Hello> {
        match &self.stages[0] {
            Some(Stage::Tls(w)) => Some(w.hello()),
            _ => self.hello.as_ref().map(TlsWatch::hello),
        }
    }

    /// Bytes not read because a transform gave up, per direction.
    pub fn unread(&self) -> [u64; 2] {
        let n = |s: &Option<Stage>| match s {
            Some(Stage::Broken { unread }) => *unread,
            _ => 0,
        };
        [n(&self.stages[0]), n(&self.stages[1])]
    }
}
