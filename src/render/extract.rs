//! `--extract DIR`: every message as an `.eml` file and every attachment as a file, plus an
//! `index.json` of names, sizes and hashes (written by [`crate::render::json`], so control
//! and bidi characters of original names are escaped). Names come from the capture, so they
//! are sanitised: only `[A-Za-z0-9._-]` survive (no control or bidi character, no path
//! separator), no leading dot, bounded length; files are created with `create_new`, so
//! nothing is ever overwritten (a clash gets a numeric suffix).

use crate::session::Session;
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Serialize)]
struct Entry {
    session: u64,
    message: usize,
    /// IMAP section of the part; null for the whole message.
    part: Option<String>,
    file: String,
    /// The name the capture gave (attachments), before sanitising.
    original_name: Option<String>,
    size: u64,
    sha256: String,
}

/// A safe file name from an untrusted one.
pub fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.starts_with('.') {
        s.replace_range(..1, "_");
    }
    if s.len() > 100 {
        let keep_ext = s
            .rfind('.')
            .filter(|i| s.len() - i <= 10)
            .map(|i| s[i..].to_string());
        s.truncate(90);
        if let Some(ext) = keep_ext {
            s.push_str(&ext);
        }
    }
    if s.is_empty() { "unnamed".into() } else { s }
}

/// Creates `dir/name` without overwriting anything; returns the name used.
fn create_unique(dir: &Path, name: &str, data: &[u8]) -> io::Result<String> {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    for n in 0..10_000 {
        let candidate = if n == 0 {
            name.to_string()
        } else {
            format!("{stem}-{n}{ext}")
        };
        let path: PathBuf = dir.join(&candidate);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(data)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("no free name for {name}")))
}

/// Writes sessions' messages and attachments as they come, and the index at the end.
pub struct Extractor {
    dir: PathBuf,
    index: Vec<Entry>,
}

impl Extractor {
    pub fn new(dir: &Path) -> io::Result<Extractor> {
        std::fs::create_dir_all(dir)?;
        Ok(Extractor {
            dir: dir.to_path_buf(),
            index: Vec::new(),
        })
    }

    /// Writes one session's messages (`.eml`) and attachments.
    pub fn add(&mut self, s: &Session) -> io::Result<()> {
        let dir = &self.dir;
        for (i, m) in s.messages.iter().enumerate() {
            let Some(raw) = m.raw() else { continue };
            let file = create_unique(dir, &format!("session{}-msg{}.eml", s.id, i), raw)?;
            self.index.push(Entry {
                session: s.id,
                message: i,
                part: None,
                file,
                original_name: None,
                size: m.transfer.size,
                sha256: m.transfer.sha256.clone().unwrap_or_default(),
            });
            for p in &m.mime.parts {
                let attachment =
                    p.filename.is_some() || p.disposition.as_deref() == Some("attachment");
                if !attachment {
                    continue;
                }
                let base = sanitize(p.filename.as_deref().unwrap_or("attachment.bin"));
                let name = format!("session{}-msg{}-part{}-{}", s.id, i, p.path, base);
                let file = create_unique(dir, &sanitize(&name), &p.body)?;
                self.index.push(Entry {
                    session: s.id,
                    message: i,
                    part: Some(p.path.clone()),
                    file,
                    original_name: p.filename.clone(),
                    size: p.size,
                    sha256: p.sha256.clone(),
                });
            }
        }
        Ok(())
    }

    /// Writes `index.json` (or `index-N.json` if one exists).
    pub fn finish(self) -> io::Result<()> {
        let mut json = Vec::new();
        crate::render::json::write(&mut json, &self.index, true)?;
        create_unique(&self.dir, "index.json", &json).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn names_cannot_escape() {
        assert_eq!(sanitize("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(sanitize(".bashrc"), "_bashrc");
        assert_eq!(sanitize("a/b\\c\0d"), "a_b_c_d");
        assert_eq!(sanitize(""), "unnamed");
        assert!(sanitize(&"x".repeat(500)).len() <= 100);
        assert_eq!(sanitize("Quarterly report.pdf"), "Quarterly_report.pdf");
        // Control and bidi characters (RLO hides `exe.pdf` as `fdp.exe`) become `_`.
        assert_eq!(
            sanitize("a\u{202e}fdp.exe\u{9b}\x1b[2J\x07\u{2066}"),
            "a_fdp.exe___2J__"
        );
    }
}
