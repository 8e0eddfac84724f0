//! `--extract DIR`: every message as an `.eml` file and every attachment as a file, plus an
//! `index.json` of names, sizes and hashes (written by [`crate::render::json`], so control
//! and bidi characters of original names are escaped). Names come from the capture, so they
//! are sanitised ([`sanitize`]): Unicode names are kept (NFC), but no control or bidi
//! character, no path separator, nothing Windows forbids or reserves, no leading dot, and
//! a bounded length in bytes; files are created with `create_new`, so nothing is ever
//! overwritten (a clash gets a numeric suffix).

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

/// Bytes of a sanitised name at most; a longer one is cut (between characters) to
/// [`CUT_TO`] bytes, keeping an extension of up to [`KEPT_EXTENSION`] bytes.
const MAX_NAME: usize = 100;
const CUT_TO: usize = 90;
const KEPT_EXTENSION: usize = 10;

/// Characters changed to `_`: path separators, what [`crate::render::is_unsafe`] names
/// (control and bidi characters), and the ones Windows forbids in a name (`:` would open
/// an NTFS alternate stream).
fn is_unsafe_in_name(c: char) -> bool {
    matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') || crate::render::is_unsafe(c)
}

/// Device names Windows reserves whatever the extension: CON, PRN, AUX, NUL, COM1–9,
/// LPT1–9 (and COM/LPT with ¹²³), in any case, with trailing spaces.
fn is_reserved_on_windows(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("").trim_end_matches(' ');
    let upper = stem.to_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => {
            let mut chars = upper.chars();
            let prefix: String = chars.by_ref().take(3).collect();
            let rest: Vec<char> = chars.collect();
            (prefix == "COM" || prefix == "LPT")
                && matches!(rest[..], ['1'..='9' | '¹' | '²' | '³'])
        }
    }
}

/// A safe file name from an untrusted one: NFC-normalised, every character kept except
/// those of [`is_unsafe_in_name`] (which become `_`); no leading dot (so no `..` and no
/// hidden file), no trailing dot or space (Windows drops them), no Windows device name
/// (prefixed with `_`); at most [`MAX_NAME`] bytes, cut between characters.
pub fn sanitize(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut s: String = name
        .nfc()
        .map(|c| if is_unsafe_in_name(c) { '_' } else { c })
        .collect();
    while s.starts_with('.') {
        s.replace_range(..1, "_");
    }
    if is_reserved_on_windows(&s) {
        s.insert(0, '_');
    }
    let kept = s.trim_end_matches(['.', ' ']).len();
    let trailing = s.len() - kept;
    s.truncate(kept);
    s.extend(std::iter::repeat_n('_', trailing));
    if s.len() > MAX_NAME {
        let keep_ext = s
            .rfind('.')
            .filter(|i| s.len() - i <= KEPT_EXTENSION)
            .map(|i| s[i..].to_string());
        s.truncate(s.floor_char_boundary(CUT_TO));
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
            // Named by the message's number, as the text view counts (from 1); the index
            // keeps the JSON array index too.
            let n = m.number;
            let file = create_unique(dir, &format!("session{}-msg{n}.eml", s.id), raw)?;
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
                let name = format!("session{}-msg{n}-part{}-{}", s.id, p.path, base);
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
        assert_eq!(sanitize("Quarterly report.pdf"), "Quarterly report.pdf");
        // Control and bidi characters (RLO hides `exe.pdf` as `fdp.exe`) become `_`.
        assert_eq!(
            sanitize("a\u{202e}fdp.exe\u{9b}\x1b[2J\x07\u{2066}"),
            "a_fdp.exe__[2J__"
        );
    }

    /// Issue 9: every character safe in a file name is kept (Unicode too), NFC-normalised.
    #[test]
    fn unicode_names_are_kept() {
        assert_eq!(sanitize("年度报告.xls"), "年度报告.xls");
        assert_eq!(
            sanitize("Grüße – résumé (v2).pdf"),
            "Grüße – résumé (v2).pdf"
        );
        // Decomposed (as macOS writes names) becomes composed.
        assert_eq!(sanitize("Cafe\u{301}.txt"), "Caf\u{e9}.txt");
    }

    /// Names Windows reserves (any case, any extension) and characters it forbids or
    /// strips are changed, so an extracted folder can be copied anywhere.
    #[test]
    fn windows_names_are_changed() {
        for reserved in [
            "CON",
            "con.txt",
            "Nul.tar.gz",
            "COM1.pdf",
            "lpt9",
            "aux ",
            "PRN..",
        ] {
            let s = sanitize(reserved);
            assert!(s.starts_with('_'), "{reserved:?} -> {s:?}");
        }
        assert_eq!(sanitize("CONTRACT.pdf"), "CONTRACT.pdf");
        assert_eq!(sanitize("COM10.txt"), "COM10.txt");
        assert_eq!(sanitize("a:b*c?d\"e<f>g|h"), "a_b_c_d_e_f_g_h");
        assert_eq!(sanitize("report.pdf. "), "report.pdf__");
    }

    /// The length cap counts bytes and never cuts a character in two.
    #[test]
    fn long_names_are_cut_between_characters() {
        for name in [
            "年".repeat(200) + ".xls",
            "é".repeat(300),
            "a".to_string() + &"😀".repeat(100) + ".pdf",
        ] {
            let s = sanitize(&name);
            assert!(s.len() <= 100, "{} bytes", s.len());
            assert!(name.starts_with(s.trim_end_matches(".xls").trim_end_matches(".pdf")));
        }
        assert!(sanitize(&("年".repeat(200) + ".xls")).ends_with("年.xls"));
    }
}
