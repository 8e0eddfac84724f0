//! MIME decoding beside the reading thread. Finished messages go to worker threads while
//! reading and reassembly go on; results come back tagged with their [`Key`] (connection,
//! message index), and the pipeline puts them into their session before it is handed out,
//! so output is the same for any number of threads. Finished sessions can be rendered there
//! too ([`Pool::render`]): the results come back numbered, for the pipeline to write in
//! order.
//!
//! Memory stays bounded: messages waiting for or under decoding count against
//! [`crate::limits::Limits::max_decoding_bytes`]; past it the reading thread decodes the
//! message itself, which also keeps it from racing ahead of the workers.
//!
//! Work goes over in batches: handing over one message at a time woke a sleeping worker
//! per message, which with many small messages cost more than decoding them. A batch is
//! sent once it is full ([`BATCH_BYTES`], [`BATCH_JOBS`]), when the reader waits for
//! results or decodes a message itself (over budget), and on every idle tick of a capture
//! that comes as it is captured (an interface, a pipe: [`Pool::flush`]), so a message waits
//! at most a tick; a worker sends its results back a batch at a time.
//!
//! ```text
//!  reader ──submit──▶ [batch] ──full, waiting or a tick──▶ [job queue] ──▶ worker 1..n
//!     ▲                                                                         │
//!     └──try_done── [done queue] ◀────────────── results, a batch at a time ────┘
//!  over budget, or no workers: the reader decodes inline
//! ```

use crate::mime::{self, MimeAnomaly, MimeInfo};
use crate::proto::line::Pieces;
use crate::render::Renderer;
use crate::session::Session;
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

/// A finished session for a worker to render.
struct RenderJob {
    seq: u64,
    session: Box<Session>,
    renderer: Renderer,
    /// The buffer to render into: the reading thread's, reused from session to session.
    buf: Vec<u8>,
}

/// What a worker is given.
enum Work {
    Decode(Job),
    Render(RenderJob),
}

/// A session's rendering, numbered as it was handed over.
pub struct Rendered {
    pub seq: u64,
    pub bytes: std::io::Result<Vec<u8>>,
    /// The session, handed back to be freed by the thread that allocated it. Memory
    /// allocated by one thread and freed by another goes back to its heap arena under the
    /// arena's lock, against the owner's own allocations: with a fresh session and a fresh
    /// buffer freed across threads per session, tens of thousands of futex waits on many
    /// small sessions. So the buffer is the reading thread's too (`RenderJob::buf`).
    pub session: Box<Session>,
}

/// What a worker gives back. Not boxed: results pass through a channel and a short queue,
/// and a box per decoded message would be one more block freed across threads.
#[allow(clippy::large_enum_variant)]
pub enum Finished {
    Decoded(Done),
    Rendered(Rendered),
}

impl Finished {
    /// Message bytes it took off the budget.
    fn len(&self) -> usize {
        match self {
            Finished::Decoded(d) => d.len,
            Finished::Rendered(_) => 0,
        }
    }
}

/// Renders one session. A panic (a renderer's bug) becomes this session's error: left to
/// unwind, it took the worker's whole batch with it, and `wait_done` then waited forever
/// for those results while another worker lived (with none left, the sessions after it
/// were lost and the totals written anyway).
fn render(job: RenderJob) -> Rendered {
    let mut bytes = job.buf;
    bytes.clear();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        job.renderer.render(&job.session, &mut bytes)
    }))
    .unwrap_or_else(|_| {
        Err(std::io::Error::other(format!(
            "rendering session {} failed (a bug: please report it)",
            job.session.id
        )))
    });
    Rendered {
        seq: job.seq,
        bytes: result.map(|()| bytes),
        session: job.session,
    }
}

fn run(work: Work, bounds: &mime::Bounds, scratch: &mut Vec<u8>) -> Finished {
    match work {
        Work::Decode(job) => Finished::Decoded(decode(job, bounds, scratch)),
        Work::Render(job) => Finished::Rendered(render(job)),
    }
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

/// A batch is sent once it holds this many message bytes (decoding them takes far longer
/// than waking a worker)…
const BATCH_BYTES: usize = 256 << 10;
/// …or this many messages.
const BATCH_JOBS: usize = 64;

pub struct Pool {
    jobs: Option<Sender<Vec<Work>>>,
    done: Receiver<Vec<Finished>>,
    /// Jobs gathered for the next batch, and their message bytes.
    batch: Vec<Work>,
    batch_bytes: usize,
    /// Finished jobs taken off `done` and not handed out yet (see [`Pool::submit`]).
    ready: std::collections::VecDeque<Finished>,
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
        let (done_tx, done) = mpsc::channel::<Vec<Finished>>();
        let jobs = (workers > 0).then(|| {
            let (tx, rx) = mpsc::channel::<Vec<Work>>();
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..workers {
                let rx = Arc::clone(&rx);
                let done_tx = done_tx.clone();
                scope.spawn(move || {
                    let mut scratch = Vec::new();
                    loop {
                        // The lock is held only to take a batch, never while decoding or
                        // rendering.
                        let batch = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(batch) = batch else { return };
                        let done = batch
                            .into_iter()
                            .map(|work| run(work, &bounds, &mut scratch))
                            .collect();
                        if done_tx.send(done).is_err() {
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
            batch: Vec::new(),
            batch_bytes: 0,
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
        self.take_results();
        // A message larger than the budget still goes to an idle worker.
        let over_budget = self.in_flight > 0 && self.in_flight + job.bytes.len() > self.budget;
        if self.jobs.is_none() || over_budget {
            // The workers get what is gathered before the reader decodes this one: a batch
            // left waiting would keep them idle while the reader works.
            self.flush();
            return Decoded::Now(Box::new(decode(job, &self.bounds, &mut self.scratch)));
        }
        let len = job.bytes.len();
        self.in_flight += len;
        self.batch_bytes += len;
        self.queue(Work::Decode(job));
        Decoded::Later
    }

    /// Renders a finished session now (no workers: the result is returned) or hands it to
    /// a worker (its result comes out of [`Pool::try_done`] / [`Pool::wait_done`]).
    pub fn render(
        &mut self,
        seq: u64,
        session: Box<Session>,
        renderer: Renderer,
        buf: Vec<u8>,
    ) -> Option<Rendered> {
        let job = RenderJob {
            seq,
            session,
            renderer,
            buf,
        };
        if self.jobs.is_none() {
            return Some(render(job));
        }
        self.queue(Work::Render(job));
        None
    }

    /// Renders a finished session on the calling thread, as a worker would.
    pub fn render_here(
        seq: u64,
        session: Box<Session>,
        renderer: Renderer,
        buf: Vec<u8>,
    ) -> Rendered {
        render(RenderJob {
            seq,
            session,
            renderer,
            buf,
        })
    }

    /// Adds work to the batch, and sends the batch once it is full.
    fn queue(&mut self, work: Work) {
        self.outstanding += 1;
        self.batch.push(work);
        if self.batch.len() >= BATCH_JOBS || self.batch_bytes >= BATCH_BYTES {
            self.flush();
        }
    }

    /// Sends the batch gathered so far to the workers (see the module doc for when). With
    /// every worker gone, the calling thread does the work.
    pub fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let Some(tx) = &self.jobs else {
            return self.run_here(batch);
        };
        match tx.send(batch) {
            Ok(()) => {}
            // Every worker is gone: decode here from now on.
            Err(mpsc::SendError(batch)) => {
                self.jobs = None;
                self.run_here(batch);
            }
        }
    }

    /// Does the work on the calling thread; the results are handed out as the workers'.
    fn run_here(&mut self, batch: Vec<Work>) {
        for work in batch {
            let done = run(work, &self.bounds, &mut self.scratch);
            self.in_flight = self.in_flight.saturating_sub(done.len());
            self.ready.push_back(done);
        }
    }

    /// Moves the results the workers sent back into `ready`, without waiting.
    fn take_results(&mut self) {
        while let Ok(done) = self.done.try_recv() {
            self.returned(done);
        }
    }

    fn returned(&mut self, done: Vec<Finished>) {
        for d in done {
            self.in_flight = self.in_flight.saturating_sub(d.len());
            self.ready.push_back(d);
        }
    }

    /// A finished job, if one is ready.
    pub fn try_done(&mut self) -> Option<Finished> {
        if self.ready.is_empty() {
            self.take_results();
        }
        self.next_ready()
    }

    /// The next finished job, waiting for it; `None` once nothing is outstanding.
    pub fn wait_done(&mut self) -> Option<Finished> {
        if self.ready.is_empty() {
            self.take_results();
        }
        self.flush();
        if self.ready.is_empty() && self.outstanding > 0 {
            // Nothing else can come: every job is with a worker (or every worker is gone).
            if let Ok(done) = self.done.recv() {
                self.returned(done);
            }
        }
        self.next_ready()
    }

    fn next_ready(&mut self) -> Option<Finished> {
        let done = self.ready.pop_front()?;
        self.outstanding = self.outstanding.saturating_sub(1);
        Some(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn message(n: usize) -> Pieces {
        format!("Subject: {n}\r\n\r\nbody {n}\r\n")
            .into_bytes()
            .into()
    }

    fn key(index: usize) -> Key {
        Key { conn: 1, index }
    }

    fn decoded(f: Finished) -> Done {
        match f {
            Finished::Decoded(d) => d,
            Finished::Rendered(_) => panic!("a rendering came back for a decoding"),
        }
    }

    /// Small messages wait in a batch: no worker sees them until the batch is full or the
    /// reader flushes it (or waits for results), and then all come back, each once.
    #[test]
    fn small_messages_go_over_in_batches() {
        let bounds = mime::Bounds::from(&Limits::default());
        std::thread::scope(|scope| {
            let mut pool = Pool::new(scope, 1, 6 << 20, bounds);
            for i in 0..10 {
                assert!(matches!(
                    pool.submit(key(i), message(i), false, true),
                    Decoded::Later
                ));
            }
            // Sent one by one, the worker would have decoded them by now.
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(
                pool.try_done().is_none(),
                "a job left before its batch was full"
            );
            pool.flush();
            let mut back = Vec::new();
            while let Some(done) = pool.wait_done().map(decoded) {
                assert_eq!(done.sha256.as_deref().map(str::len), Some(64));
                back.push(done.key.index);
            }
            assert_eq!(back, (0..10).collect::<Vec<_>>());
        });
    }

    /// A full batch goes without a flush; what is left over waits for the next one.
    #[test]
    fn a_full_batch_goes_by_itself() {
        let bounds = mime::Bounds::from(&Limits::default());
        std::thread::scope(|scope| {
            let mut pool = Pool::new(scope, 1, 6 << 20, bounds);
            for i in 0..BATCH_JOBS + 3 {
                pool.submit(key(i), message(i), false, false);
            }
            let mut back = Vec::new();
            let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while back.len() < BATCH_JOBS && std::time::Instant::now() < until {
                match pool.try_done().map(decoded) {
                    Some(done) => back.push(done.key.index),
                    None => std::thread::sleep(std::time::Duration::from_millis(1)),
                }
            }
            assert_eq!(back, (0..BATCH_JOBS).collect::<Vec<_>>());
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(
                pool.try_done().is_none(),
                "the last three went without a full batch"
            );
            while let Some(done) = pool.wait_done().map(decoded) {
                back.push(done.key.index);
            }
            assert_eq!(back, (0..BATCH_JOBS + 3).collect::<Vec<_>>());
        });
    }

    /// A message over the budget is decoded by the reader, but what waits in the batch goes
    /// to the workers first: left there, it kept them idle while the reader worked.
    #[test]
    fn over_budget_the_batch_goes_before_the_reader_decodes() {
        let bounds = mime::Bounds::from(&Limits::default());
        std::thread::scope(|scope| {
            let mut pool = Pool::new(scope, 1, 1000, bounds);
            assert!(matches!(
                pool.submit(key(0), message(0), false, false),
                Decoded::Later
            ));
            let big = vec![b'a'; 2000];
            assert!(matches!(
                pool.submit(key(1), big.into(), false, false),
                Decoded::Now(_)
            ));
            let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let mut done = None;
            while done.is_none() && std::time::Instant::now() < until {
                done = pool.try_done().map(decoded);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            assert_eq!(done.map(|d| d.key.index), Some(0), "the batch was not sent");
        });
    }

    /// One message as large as a batch goes at once.
    #[test]
    fn a_large_message_goes_at_once() {
        let bounds = mime::Bounds::from(&Limits::default());
        std::thread::scope(|scope| {
            let mut pool = Pool::new(scope, 1, 6 << 20, bounds);
            let big = vec![b'a'; BATCH_BYTES];
            pool.submit(key(0), big.into(), false, false);
            let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let mut done = None;
            while done.is_none() && std::time::Instant::now() < until {
                done = pool.try_done().map(decoded);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            assert_eq!(done.map(|d| d.len), Some(BATCH_BYTES));
        });
    }
}

#[cfg(test)]
pub(crate) mod render_tests {
    use super::*;
    use crate::limits::Limits;

    fn line(s: &Session, pretty: bool, out: &mut Vec<u8>) -> std::io::Result<()> {
        out.extend_from_slice(format!("{} {pretty}\n", s.id).as_bytes());
        Ok(())
    }

    /// A session numbered `id`, with nothing in it.
    pub(crate) fn session(id: u64) -> Box<Session> {
        let smtp = crate::types::Protocol::Smtp;
        Box::new(crate::session::hops::tests::session(
            id,
            smtp,
            (1, 2, 25),
            Vec::new(),
        ))
    }

    /// Sessions given to the workers come back rendered, each with its number and its
    /// session, into the buffer that was handed over; without workers, at once.
    #[test]
    fn sessions_come_back_rendered_with_their_numbers() {
        let bounds = mime::Bounds::from(&Limits::default());
        let renderer = Renderer::new(line, true);
        std::thread::scope(|scope| {
            let mut pool = Pool::new(scope, 2, 6 << 20, bounds);
            for seq in 0..100u64 {
                let session = session(seq * 10);
                let buf = Vec::with_capacity(64);
                assert!(pool.render(seq, session, renderer, buf).is_none());
            }
            let mut back = Vec::new();
            while let Some(f) = pool.wait_done() {
                let Finished::Rendered(r) = f else {
                    panic!("a decoding came back for a rendering");
                };
                let bytes = r.bytes.unwrap();
                assert_eq!(bytes, format!("{} true\n", r.seq * 10).into_bytes());
                assert_eq!(r.session.id, r.seq * 10);
                assert!(bytes.capacity() >= 64, "rendered into the buffer given");
                back.push(r.seq);
            }
            back.sort_unstable();
            assert_eq!(back, (0..100).collect::<Vec<_>>());
            let mut inline = Pool::new(scope, 0, 6 << 20, bounds);
            let r = inline
                .render(7, session(0), renderer, Vec::new())
                .expect("no workers: rendered at once");
            assert_eq!((r.seq, r.bytes.unwrap()), (7, b"0 true\n".to_vec()));
        });
    }
}
