//! Line framing shared by the text protocols: bounded line assembly across chunks.

use super::event::Mark;

/// Per-direction line assembly with a length cap.
#[derive(Default)]
pub struct Lines {
    pub buf: Vec<u8>,
    /// Where the line began.
    pub start: Mark,
    /// The current line exceeded the cap; its tail is being dropped.
    pub overlong: bool,
}

impl Lines {
    /// Appends bytes up to and including the next LF. Returns the consumed count and
    /// whether a line is complete.
    pub fn take(&mut self, data: &[u8], mark: Mark, cap: usize) -> (usize, bool) {
        if self.buf.is_empty() && !self.overlong {
            self.start = mark;
        }
        let (n, done) = match data.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (data.len(), false),
        };
        let room = cap.saturating_sub(self.buf.len());
        if n > room {
            self.overlong = true;
        }
        self.buf.extend_from_slice(&data[..n.min(room)]);
        (n, done)
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.overlong = false;
    }
}

/// The line without its LF or CRLF.
pub fn strip_eol(raw: &[u8]) -> &[u8] {
    let line = raw.strip_suffix(b"\n").unwrap_or(raw);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Appends to a message buffer growing it by about a quarter at a time instead of doubling:
/// many messages are buffered at once, and doubling leaves up to half of each unused. (Large
/// reallocations are remapped by the allocator, not copied.)
pub fn append_message(buf: &mut Vec<u8>, piece: &[u8]) {
    let need = buf.len() + piece.len();
    if need > buf.capacity() {
        let grow = (buf.len() / 4).max(piece.len()).max(4096);
        buf.reserve_exact(grow);
    }
    buf.extend_from_slice(piece);
}
