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
                    // Whole lines up to the next one that starts with a dot (or to the end
                    // of `data`) go to the sink as one piece: a message's body is mostly
                    // such runs, and one call per line cost more than the copy.
                    let mut j = i;
                    loop {
                        let Some(k) = memchr::memchr(b'\n', &data[j..]) else {
                            // A line not ended yet.
                            self.line_len += data.len() - j;
                            sink(&data[i..]);
                            self.last = data[data.len() - 1];
                            i = data.len();
                            break;
                        };
                        let lf = j + k;
                        let before_lf = if lf > i { data[lf - 1] } else { self.last };
                        if before_lf != b'\r' {
                            self.bare_lf = true;
                        }
                        if self.line_len + (lf + 1 - j) > max_line {
                            self.long_line = true;
                        }
                        self.line_len = 0;
                        j = lf + 1;
                        if j == data.len() || data[j] == b'.' {
                            sink(&data[i..j]);
                            self.last = b'\n';
                            self.scan = Scan::LineStart;
                            i = j;
                            break;
                        }
                    }
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

    /// The framing line by line, as RFC 5321 4.5.2 says it: the model the state machine
    /// is checked against.
    fn model(data: &[u8]) -> (Vec<u8>, Option<usize>, bool) {
        let (mut out, mut at, mut bare) = (Vec::new(), 0, false);
        while at < data.len() {
            let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |k| at + k + 1);
            let line = &data[at..end];
            if line == b".\r\n" || line == b".\n" {
                return (out, Some(end), bare);
            }
            if line.ends_with(b"\n") && !line.ends_with(b"\r\n") {
                bare = true;
            }
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
            at = end;
        }
        (out, None, bare)
    }

    proptest::proptest! {
        #[test]
        fn runs_of_lines_unstuff_as_line_by_line_in_any_chunking(
            lines in proptest::collection::vec(
                proptest::sample::select(vec![
                    &b"abc\r\n"[..], b"..x\r\n", b".y\r\n", b"z\n", b"\r\n", b"\n",
                    b".\r\n", b"..\r\n", b"w\rv\r\n", b"tail",
                ]),
                0..30,
            ),
            cut in 1usize..40,
        ) {
            let data = lines.concat();
            let (want, want_end, want_bare) = model(&data);
            let chunks: Vec<&[u8]> = data.chunks(cut).collect();
            let (out, end, u) = unstuff(&chunks);
            proptest::prop_assert_eq!(&out, &want);
            proptest::prop_assert_eq!(end.is_some(), want_end.is_some());
            proptest::prop_assert_eq!(u.bare_lf, want_bare);
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
