//! Where capture bytes come from: a file or standard input, transparently gunzipped when the
//! input starts with the gzip magic, counted for the progress bar. A stream (a pipe from
//! `tcpdump -U -w -`) is read on a thread of its own ([`Arrivals`]), so that the reader can
//! wait for bytes with a timeout (and hand out what has arrived, or notice a stop) instead
//! of blocking in `read`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Bytes read so far from the underlying (possibly compressed) input; shared with the
/// progress bar.
#[derive(Clone, Debug, Default)]
pub struct ProgressCounter(Arc<AtomicU64>);

impl ProgressCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Counting<R> {
    inner: R,
    counter: ProgressCounter,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Chunks read from a stream by its thread, waiting to be parsed.
#[derive(Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    /// The stream ended (or failed: the error is handed out once the chunks are).
    done: bool,
    error: Option<io::Error>,
    /// Bytes the parser's end holds, not yet read.
    held: usize,
}

/// A stream read on a thread of its own: the parser reads what has arrived, and can first
/// ask whether anything has ([`Arrivals::wait`]). At most [`Arrivals::CHUNKS`] chunks wait,
/// so a fast writer is slowed down, not buffered without bound. When `stop` is raised, the
/// stream reads as ended.
pub struct Arrivals {
    queue: Mutex<Queue>,
    changed: Condvar,
    stop: Option<Arc<AtomicBool>>,
}

impl Arrivals {
    /// Chunks (of at most 64 KiB) held at once.
    const CHUNKS: usize = 16;
    const CHUNK: usize = 64 * 1024;
    /// How often a wait looks at the stop flag.
    const TICK: Duration = Duration::from_millis(100);

    fn start(mut inner: impl Read + Send + 'static, stop: Option<Arc<AtomicBool>>) -> Arc<Self> {
        let arrivals = Arc::new(Arrivals {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            stop,
        });
        let feed = arrivals.clone();
        std::thread::spawn(move || {
            loop {
                let mut chunk = vec![0; Self::CHUNK];
                let got = loop {
                    match inner.read(&mut chunk) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other,
                    }
                };
                let mut q = feed.lock();
                while q.chunks.len() >= Self::CHUNKS && !feed.stopped() {
                    q = feed.wait_on(q);
                }
                match got {
                    Ok(0) => q.done = true,
                    Ok(n) => {
                        chunk.truncate(n);
                        q.chunks.push_back(chunk);
                    }
                    Err(e) => {
                        q.done = true;
                        q.error = Some(e);
                    }
                }
                let done = q.done;
                drop(q);
                feed.changed.notify_all();
                if done || feed.stopped() {
                    return;
                }
            }
        });
        arrivals
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere cannot leave the queue half-changed: take it as it is.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_on<'a>(&self, q: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        match self.changed.wait_timeout(q, Self::TICK) {
            Ok((q, _)) => q,
            Err(p) => p.into_inner().0,
        }
    }

    /// Whether the stop flag is up (the stream then reads as ended).
    pub fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Waits up to `timeout` for bytes: whether a read now returns without waiting (bytes
    /// arrived, the stream ended, or the stop flag is up).
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut q = self.lock();
        loop {
            if q.held > 0 || !q.chunks.is_empty() || q.done || self.stopped() {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            q = self.wait_on(q);
        }
    }
}

/// The parser's end of an [`Arrivals`]: the chunk being read, and the queue.
struct ArrivalsReader {
    arrivals: Arc<Arrivals>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ArrivalsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let got = self.fill_buf()?;
            let n = got.len().min(buf.len());
            buf[..n].copy_from_slice(&got[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ArrivalsReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.chunk.len() {
            let a = &self.arrivals;
            let mut q = a.lock();
            loop {
                if a.stopped() {
                    return Ok(&[]);
                }
                if let Some(chunk) = q.chunks.pop_front() {
                    self.chunk = chunk;
                    self.pos = 0;
                    break;
                }
                if q.done {
                    return match q.error.take() {
                        Some(e) => Err(e),
                        None => Ok(&[]),
                    };
                }
                q = a.wait_on(q);
            }
            q.held = self.chunk.len();
            drop(q);
            a.changed.notify_all();
        }
        Ok(&self.chunk[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.chunk.len());
        self.arrivals.lock().held = self.chunk.len() - self.pos;
    }
}

/// Whether `path` (`-`: standard input) is a stream that delivers bytes as they are
/// written (a pipe, a FIFO, a terminal, a socket) rather than a regular file: it is then read
/// as it arrives, not in large blocks.
pub fn is_stream(path: &str) -> bool {
    let path = if path == "-" { "/dev/stdin" } else { path };
    match std::fs::metadata(path) {
        Ok(m) => !m.is_file() && !m.is_dir(),
        Err(_) => false,
    }
}

/// An opened input: the byte stream to parse plus what is known about it.
pub struct InputSource {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
    /// Size of the file on disk, when it is a regular file (for the progress bar).
    pub size: Option<u64>,
    pub compressed: bool,
    pub progress: ProgressCounter,
    /// A stream's bytes as they arrive ([`is_stream`]): frames are handed out as they
    /// come, and the reader can wait for them with a timeout.
    pub arrivals: Option<Arc<Arrivals>>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl InputSource {
    /// Opens `path`; `-` means standard input. A stream ([`is_stream`]) is read on a
    /// thread of its own; `stop` raised makes it read as ended.
    pub fn open(path: &str, stop: Option<Arc<AtomicBool>>) -> io::Result<InputSource> {
        let progress = ProgressCounter::default();
        let stream = is_stream(path);
        let (name, size, raw): (String, Option<u64>, Box<dyn Read + Send>) = if path == "-" {
            ("<stdin>".into(), None, Box::new(io::stdin()))
        } else {
            let file = File::open(path)?;
            let size = file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            (path.into(), size, Box::new(file))
        };
        let counted = Counting {
            inner: raw,
            counter: progress.clone(),
        };
        if stream {
            let arrivals = Arrivals::start(counted, stop);
            let reader = ArrivalsReader {
                arrivals: arrivals.clone(),
                chunk: Vec::new(),
                pos: 0,
            };
            let mut source = Self::wrap_buffered(name, reader, size, progress);
            source.arrivals = Some(arrivals);
            return Ok(source);
        }
        Ok(Self::wrap(name, counted, size, progress))
    }

    /// Wraps any byte stream (tests, fuzzing).
    pub fn from_reader(name: &str, reader: impl Read + Send + 'static) -> InputSource {
        Self::wrap(name.into(), reader, None, ProgressCounter::default())
    }

    /// Wraps a byte stream read on a thread of its own, as a pipe is (tests).
    pub fn from_stream(name: &str, reader: impl Read + Send + 'static) -> InputSource {
        let arrivals = Arrivals::start(reader, None);
        let reader = ArrivalsReader {
            arrivals: arrivals.clone(),
            chunk: Vec::new(),
            pos: 0,
        };
        let mut source = Self::wrap_buffered(name.into(), reader, None, ProgressCounter::default());
        source.arrivals = Some(arrivals);
        source
    }

    fn wrap(
        name: String,
        reader: impl Read + Send + 'static,
        size: Option<u64>,
        progress: ProgressCounter,
    ) -> InputSource {
        let buffered = BufReader::with_capacity(64 * 1024, reader);
        Self::wrap_buffered(name, buffered, size, progress)
    }

    fn wrap_buffered(
        name: String,
        mut buffered: impl BufRead + Send + 'static,
        size: Option<u64>,
        progress: ProgressCounter,
    ) -> InputSource {
        // A failed peek is reported by the first real read, with its position.
        let compressed = buffered
            .fill_buf()
            .map(|b| b.starts_with(&GZIP_MAGIC))
            .unwrap_or(false);
        let reader: Box<dyn Read + Send> = if compressed {
            Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        InputSource {
            name,
            reader,
            size,
            compressed,
            progress,
            arrivals: None,
        }
    }
}
