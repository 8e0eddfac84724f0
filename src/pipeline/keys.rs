//! Where a run's TLS secrets come from: the `--tls-keylog` file (read whole at the start; in
//! a live run, read again as it grows, when a session's keys are not in it yet) and the
//! Decryption Secrets Blocks of a pcapng. A key log is a secret: skipped lines are reported
//! by number only.

use super::config::RunError;
use crate::render::escape;
use crate::transform::tls::conn::KeySource;
use crate::transform::tls::keylog::{KeyLog, Keys, Warning};
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

/// The longest stretch of a growing key log read at once.
const READ_CHUNK: usize = 64 << 10;

/// The run's TLS secrets.
pub struct KeyStore {
    log: KeyLog,
    /// The key log file, kept open to read what is appended (live runs).
    file: Option<(PathBuf, File)>,
    /// A live run's key log that does not exist yet (the client creates it when it
    /// starts): opened when it appears.
    waiting: Option<PathBuf>,
    follow: bool,
    /// Whether any source of keys was given (a file, or secrets in the capture).
    given: bool,
    /// Skipped lines reported so far (the first `MAX_WARNINGS` are printed).
    warned: u64,
}

/// Skipped key log lines reported one by one; past it they are counted.
const MAX_WARNINGS: u64 = 20;

impl KeyStore {
    /// The key log at `path` (if any), read whole; `follow`: read again as it grows.
    pub fn open(
        path: Option<&PathBuf>,
        follow: bool,
        max_entries: usize,
    ) -> Result<KeyStore, RunError> {
        let mut store = KeyStore {
            log: KeyLog::new(max_entries),
            file: None,
            waiting: None,
            warned: 0,
            follow,
            given: path.is_some(),
        };
        if let Some(path) = path {
            let file = match File::open(path) {
                Ok(f) => f,
                // Live, the client that writes it may not have started yet.
                Err(e) if follow && e.kind() == std::io::ErrorKind::NotFound => {
                    store.waiting = Some(path.clone());
                    return Ok(store);
                }
                Err(e) => {
                    let what = format!("--tls-keylog {}", path.display());
                    return Err(RunError::Open(what, e));
                }
            };
            store.file = Some((path.clone(), file));
            store
                .read_more(usize::MAX)
                .map_err(|e| RunError::Open(format!("--tls-keylog {}", path.display()), e))?;
            if !follow {
                let w = store.log.finish();
                store.warn(&w);
                store.file = None;
            }
        }
        Ok(store)
    }

    /// Whether any key log was given (a file, or secrets in the capture).
    pub fn given(&self) -> bool {
        self.given
    }

    /// Secrets from the capture itself (a pcapng Decryption Secrets Block of TLS keys).
    pub fn add_embedded(&mut self, text: &[u8]) {
        self.given = true;
        let mut w = self.log.feed(text);
        w.extend(self.log.finish());
        for w in w {
            self.warned += 1;
            if self.warned <= MAX_WARNINGS {
                eprintln!("mailscope: TLS secrets in the capture: {w}");
            }
        }
    }

    /// Reads what was appended to the key log file (at most `max` bytes).
    fn read_more(&mut self, max: usize) -> std::io::Result<()> {
        if let Some(path) = &self.waiting
            && let Ok(f) = File::open(path)
        {
            self.file = Some((path.clone(), f));
            self.waiting = None;
        }
        let Some((_, file)) = self.file.as_mut() else {
            return Ok(());
        };
        let mut buf = vec![0u8; READ_CHUNK];
        let mut read = 0;
        let mut warnings = Vec::new();
        while read < max {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            read += n;
            warnings.extend(self.log.feed(&buf[..n]));
        }
        self.warn(&warnings);
        Ok(())
    }

    fn warn(&mut self, warnings: &[Warning]) {
        let Some((path, _)) = &self.file else {
            return;
        };
        let path = escape(&path.display().to_string());
        for w in warnings {
            self.warned += 1;
            if self.warned <= MAX_WARNINGS {
                eprintln!("mailscope: --tls-keylog {path}: {w}");
            } else if self.warned == MAX_WARNINGS + 1 {
                eprintln!(
                    "mailscope: --tls-keylog {path}: more lines are skipped; not listed one by one"
                );
            }
        }
    }
}

impl KeySource for KeyStore {
    fn keys(&mut self, client_random: &[u8; 32]) -> Option<Keys> {
        // A live run: the client may have written its lines since (a session's secrets
        // come one by one, as its handshake goes on). Asked only while a cipher is missing.
        if self.follow {
            let _ = self.read_more(16 * READ_CHUNK);
        }
        self.log.get(client_random).cloned()
    }

    fn growing(&self) -> bool {
        self.follow && (self.file.is_some() || self.waiting.is_some())
    }

    fn missing(&self) -> &'static str {
        if self.given {
            "no key in the key log for this session"
        } else {
            "no key log given (--tls-keylog FILE)"
        }
    }
}
