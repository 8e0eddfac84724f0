//! Where capture bytes come from: a file or standard input, transparently gunzipped when the
//! input starts with the gzip magic, counted for the progress bar.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// A pipe or FIFO ([`is_stream`]): frames are handed out as their bytes arrive.
    pub stream: bool,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl InputSource {
    /// Opens `path`; `-` means standard input.
    pub fn open(path: &str) -> io::Result<InputSource> {
        let progress = ProgressCounter::default();
        if path == "-" {
            let stdin = Counting {
                inner: io::stdin(),
                counter: progress.clone(),
            };
            let mut source = Self::wrap("<stdin>".into(), stdin, None, progress);
            source.stream = is_stream(path);
            return Ok(source);
        }
        let file = File::open(path)?;
        let size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let counted = Counting {
            inner: file,
            counter: progress.clone(),
        };
        let mut source = Self::wrap(path.into(), counted, size, progress);
        source.stream = is_stream(path);
        Ok(source)
    }

    /// Wraps any byte stream (tests, fuzzing).
    pub fn from_reader(name: &str, reader: impl Read + Send + 'static) -> InputSource {
        Self::wrap(name.into(), reader, None, ProgressCounter::default())
    }

    fn wrap(
        name: String,
        reader: impl Read + Send + 'static,
        size: Option<u64>,
        progress: ProgressCounter,
    ) -> InputSource {
        let mut buffered = BufReader::with_capacity(64 * 1024, reader);
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
            stream: false,
        }
    }
}
