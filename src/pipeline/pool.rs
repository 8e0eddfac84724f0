//! MIME decoding beside the reading thread. Finished messages go to worker threads while
//! reading and reassembly go on; results come back tagged with their [`Key`] (connection,
//! message index), and the pipeline puts them into their session before it is handed out,
//! so output is the same for any number of threads.
//!
//! Memory stays bounded: messages waiting for or under decoding count against
//! [`crate::limits::Limits::max_decoding_bytes`]; past it the reading thread decodes the
//! message itself, which also keeps it from racing ahead of the workers.
//!
//! ```text
//!  reader ──submit──▶ [job queue] ──▶ worker 1..n ──▶ [done queue] ──try_done──▶ reader
//!     └── over budget, or no workers: decodes inline ──────────────────────────────┘
//! ```

use crate::mime::{self, MimeAnomaly, MimeInfo};
use crate::proto::line::Pieces;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::Scope;

/// Which message a job decodes: its connection id and its index in the session's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub conn: u64,
    pub index: usize,
}

struct Job {
    key: Key,
    /// The message in the pieces it was kept in: joined here, off the reading thread.
    bytes: Pieces,
    keep_bodies: bool,
    /// Also hash the bytes (the dissector did not).
    hash: bool,
}

/// A decoded message.
pub struct Done {
    pub key: Key,
    pub mime: MimeInfo,
    /// SHA-256 of the message bytes, when asked for.
    pub sha256: Option<String>,
    /// The message bytes, handed back when bodies are kept (for extraction), else empty.
    pub bytes: Vec<u8>,
    /// Size of the submitted message (for the budget).
    len: usize,
}

/// Where a submitted message was decoded.
pub enum Decoded {
    /// Right away, on the calling thread.
    Now(Box<Done>),
    /// By a worker: the result comes out of [`Pool::try_done`] / [`Pool::wait_done`].
    Later,
}

pub struct Pool {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    /// Finished jobs taken off `done` and not handed out yet (see [`Pool::submit`]).
    ready: std::collections::VecDeque<Done>,
    /// Bytes of the messages submitted and not yet returned.
    in_flight: usize,
    /// Jobs submitted and not yet returned.
    outstanding: usize,
    budget: usize,
    /// MIME limits, for messages decoded inline.
    bounds: mime::Bounds,
    /// The joining buffer of messages decoded inline.
    scratch: Vec<u8>,
}

/// Decodes one message; a panic inside the MIME layer becomes an anomaly, not a lost result.
fn decode(job: Job, bounds: &mime::Bounds, scratch: &mut Vec<u8>) -> Done {
    let Job {
        key,
        bytes: pieces,
        keep_bodies,
        hash,
    } = job;
    // Kept bytes (extraction) are joined into a buffer of their own. Otherwise a message in
    // one piece is read where it is, and one in several is joined into this thread's
    // buffer, reused from message to message: a fresh buffer per message cost fresh pages.
    let (kept, pieces) = match keep_bodies {
        true => (Some(pieces.join()), Pieces::default()),
        false => (None, pieces),
    };
    let bytes: &[u8] = match (&kept, pieces.single()) {
        (Some(k), _) => k,
        (None, Some(one)) => one,
        (None, None) => {
            pieces.join_into(scratch);
            scratch
        }
    };
    // The message is hashed in lock step with its parts (crate::sha), when asked to.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if hash {
            let (info, sha256) = mime::parse_hashed(bytes, keep_bodies, bounds);
            (info, Some(sha256))
        } else {
            (mime::parse_bounded(bytes, keep_bodies, bounds), None)
        }
    }));
    let (mime, sha256) = parsed.unwrap_or_else(|_| {
        let info = MimeInfo {
            anomalies: vec![MimeAnomaly {
                kind: crate::proto::vocab::mime::Anomaly::DecoderFailure,
                detail: "the MIME decoder failed on this message (a bug: please report it)".into(),
            }],
            ..MimeInfo::default()
        };
        (info, hash.then(|| crate::sha::hex_digest(bytes)))
    });
    let len = bytes.len();
    // A buffer past a few MiB (a rare large message) is not kept around.
    if scratch.capacity() > REUSED_BUFFER {
        *scratch = Vec::new();
    }
    Done {
        key,
        mime,
        sha256,
        len,
        bytes: kept.unwrap_or_default(),
    }
}

/// The largest joining buffer a thread keeps for the next message.
const REUSED_BUFFER: usize = 4 << 20;

impl Pool {
    /// Starts `workers` decoding threads inside `scope`; with 0, every message is decoded
    /// inline by [`Pool::submit`].
    pub fn new<'s>(
        scope: &'s Scope<'s, '_>,
        workers: usize,
        budget: usize,
        bounds: mime::Bounds,
    ) -> Pool {
        let (done_tx, done) = mpsc::channel::<Done>();
        let jobs = (workers > 0).then(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..workers {
                let rx = Arc::clone(&rx);
                let done_tx = done_tx.clone();
                scope.spawn(move || {
                    let mut scratch = Vec::new();
                    loop {
                        // The lock is held only to take a job, never while decoding.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        if done_tx.send(decode(job, &bounds, &mut scratch)).is_err() {
                            return;
                        }
                    }
                });
            }
            tx
        });
        Pool {
            jobs,
            done,
            ready: std::collections::VecDeque::new(),
            in_flight: 0,
            outstanding: 0,
            budget,
            bounds,
            scratch: Vec::new(),
        }
    }

    /// Decodes `bytes` (and hashes them if `hash`) now or hands them to a worker.
    pub fn submit(&mut self, key: Key, bytes: Pieces, keep_bodies: bool, hash: bool) -> Decoded {
        let job = Job {
            key,
            bytes,
            keep_bodies,
            hash,
        };
        // What the workers finished no longer counts against the budget, whether or not the
        // caller took it yet: otherwise results waiting to be collected make the reading
        // thread decode while a worker sits idle.
        while let Ok(done) = self.done.try_recv() {
            self.in_flight = self.in_flight.saturating_sub(done.len);
            self.ready.push_back(done);
        }
        // A message larger than the budget still goes to an idle worker.
        let over_budget = self.in_flight > 0 && self.in_flight + job.bytes.len() > self.budget;
        match &self.jobs {
            Some(tx) if !over_budget => {
                let len = job.bytes.len();
                match tx.send(job) {
                    Ok(()) => {
                        self.in_flight += len;
                        self.outstanding += 1;
                        Decoded::Later
                    }
                    // Every worker is gone: decode here from now on.
                    Err(mpsc::SendError(job)) => {
                        self.jobs = None;
                        Decoded::Now(Box::new(decode(job, &self.bounds, &mut self.scratch)))
                    }
                }
            }
            _ => Decoded::Now(Box::new(decode(job, &self.bounds, &mut self.scratch))),
        }
    }

    /// A finished job, if one is ready.
    pub fn try_done(&mut self) -> Option<Done> {
        self.next_done(false)
    }

    /// The next finished job, waiting for it; `None` once nothing is outstanding.
    pub fn wait_done(&mut self) -> Option<Done> {
        self.next_done(true)
    }

    fn next_done(&mut self, wait: bool) -> Option<Done> {
        if let Some(done) = self.ready.pop_front() {
            self.outstanding -= 1;
            return Some(done);
        }
        if self.outstanding == 0 {
            return None;
        }
        let done = if wait {
            self.done.recv().ok()?
        } else {
            self.done.try_recv().ok()?
        };
        self.in_flight = self.in_flight.saturating_sub(done.len);
        self.outstanding -= 1;
        Some(done)
    }
}
