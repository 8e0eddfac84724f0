//! The dot-stuffed multi-line framing shared by SMTP DATA (RFC 5321 4.5.2) and POP3
//! multi-line responses (RFC 1939 3): lines starting with a dot get one dot removed, and a
//! line holding a single dot ends the block. Implemented as a byte state machine so the end
//! marker is found however the bytes are split; it never trusts a length announced before.
//!
//! ```text
//!  LineStart ──'.'──▶ SawDot ──CR──▶ SawDotCr ──LF──▶ end
//!     │                 │  └──LF──▶ end (bare LF)     └──other──▶ Mid ("\r" kept)
//!     └──other──▶ Mid ◀─┘ other: the stuffed dot is dropped
//!                 Mid ──LF──▶ LineStart
//! ```

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Scan {
    #[default]
    LineStart,
    SawDot,
    SawDotCr,
    Mid,
}

/// Per-block unstuffing state and what it noticed.
#[derive(Clone, Debug, Default)]
pub struct Unstuffer {
    scan: Scan,
    line_len: usize,
    /// Last byte handed to the sink, to see whether an LF had its CR.
    last: u8,
    /// A line ended in LF without CR.
    pub bare_lf: bool,
    /// The block was ended by `.` LF instead of `.` CRLF.
    pub bare_lf_end: bool,
    /// A line was longer than the limit given to `feed`.
    pub long_line: bool,
}

impl Unstuffer {
    /// Ready for a new block.
    pub fn reset(&mut self) {
        *self = Unstuffer::default();
    }

    /// After a gap the position inside the line is unknown: no dot is taken as a line start
    /// until the next LF.
    pub fn desync(&mut self) {
        self.scan = Scan::Mid;
        self.line_len = 0;
    }

    /// Feeds bytes; the unstuffed content goes to `sink` in pieces. Returns the number of
    /// bytes consumed when the end marker was found (it included), `None` when all of `data`
    /// was content.
    pub fn feed(
        &mut self,
        data: &[u8],
        max_line: usize,
        mut sink: impl FnMut(&[u8]),
    ) -> Option<usize> {
        let mut i = 0;
        while i < data.len() {
            match self.scan {
                Scan::LineStart => {
                    if data[i] == b'.' {
                        self.scan = Scan::SawDot;
                        i += 1;
                    } else {
                        self.scan = Scan::Mid;
                    }
                }
                Scan::SawDot => match data[i] {
                    b'\r' => {
                        self.scan = Scan::SawDotCr;
                        i += 1;
                    }
                    b'\n' => {
                        self.bare_lf_end = true;
                        self.scan = Scan::LineStart;
                        return Some(i + 1);
                    }
                    // A stuffed dot: dropped.
                    _ => self.scan = Scan::Mid,
                },
                Scan::SawDotCr => {
                    if data[i] == b'\n' {
                        self.scan = Scan::LineStart;
                        return Some(i + 1);
                    }
                    sink(b"\r");
                    self.last = b'\r';
                    self.line_len += 1;
                    self.scan = Scan::Mid;
                }
                Scan::Mid => {
                    let (end, line_done) = match memchr::memchr(b'\n', &data[i..]) {
                        Some(j) => (i + j + 1, true),
                        None => (data.len(), false),
                    };
                    let piece = &data[i..end];
                    sink(piece);
                    self.line_len += piece.len();
                    if line_done {
                        let before_lf = if piece.len() >= 2 {
                            piece[piece.len() - 2]
                        } else {
                            self.last
                        };
                        if before_lf != b'\r' {
                            self.bare_lf = true;
                        }
                        if self.line_len > max_line {
                            self.long_line = true;
                        }
                        self.line_len = 0;
                        self.scan = Scan::LineStart;
                    }
                    self.last = piece[piece.len() - 1];
                    i = end;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unstuff(chunks: &[&[u8]]) -> (Vec<u8>, Option<usize>, Unstuffer) {
        let mut u = Unstuffer::default();
        let mut out = Vec::new();
        let mut end = None;
        for c in chunks {
            end = u.feed(c, 1000, |p| out.extend_from_slice(p));
            if end.is_some() {
                break;
            }
        }
        (out, end, u)
    }

    #[test]
    fn unstuffs_and_finds_the_end_however_split() {
        let whole: &[u8] = b"a\r\n..b\r\n.c\r\n.\r\nrest";
        let (out, end, u) = unstuff(&[whole]);
        assert_eq!(out, b"a\r\n.b\r\nc\r\n");
        assert_eq!(end, Some(whole.len() - 4));
        assert!(!u.bare_lf);
        for cut in 1..whole.len() - 4 {
            let (out2, _, _) = unstuff(&[&whole[..cut], &whole[cut..]]);
            assert_eq!(out2, out, "cut at {cut}");
        }
    }

    #[test]
    fn notices_bare_lf_and_long_lines() {
        let (_, end, u) = unstuff(&[b"x\ny\r\n.\n"]);
        assert!(u.bare_lf && u.bare_lf_end);
        assert_eq!(end, Some(7));
        let long = [b"y".repeat(1200), b"\r\n.\r\n".to_vec()].concat();
        assert!(unstuff(&[&long]).2.long_line);
    }
}
