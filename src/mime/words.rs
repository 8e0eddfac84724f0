//! Unstructured header text (Subject, IMAP ENVELOPE strings) with its RFC 2047 encoded
//! words decoded and the sender's white space kept.
//!
//! mail-parser's own reading of unstructured fields collapses every run of white space
//! around an encoded word to one space; RFC 2047 6.2 drops only the white space *between two
//! adjacent encoded words*. So the words are found here and each one is decoded by
//! mail-parser's word decoder (every charset it knows); all other text stays as sent.
//!
//! Cost is linear in the value: a candidate's charset ends at the next `?`, and the search
//! for the closing `?=` is remembered across candidates, so no byte is scanned more than a
//! few times however many `=?` the value holds.

use mail_parser::parsers::MessageStream;

/// Decodes an unstructured header value: unfolded (RFC 5322 2.2.3: the line breaks of
/// folding go, the white space after them stays), trimmed at both ends, its encoded words
/// decoded, the white space between adjacent encoded words dropped.
pub fn decode_unstructured(value: &str) -> String {
    let unfolded: String = value.chars().filter(|&c| c != '\r' && c != '\n').collect();
    let v = unfolded.trim_matches([' ', '\t']);
    if !v.contains("=?") {
        return v.to_string();
    }
    let b = v.as_bytes();
    let mut out = String::with_capacity(v.len());
    let mut closes = Closes::default();
    // Start of the text not yet copied, and whether an encoded word ends right there.
    let mut copied = 0;
    let mut after_word = false;
    let mut from = 0;
    while let Some(off) = memchr::memmem::find(&b[from..], b"=?") {
        let at = from + off;
        let Some((end, text)) = word(b, at, &mut closes) else {
            from = at + 1;
            continue;
        };
        let gap = &v[copied..at];
        if !(after_word && gap.bytes().all(|c| c == b' ' || c == b'\t')) {
            out.push_str(gap);
        }
        out.push_str(&text);
        copied = end;
        from = end;
        after_word = true;
    }
    out.push_str(&v[copied..]);
    out
}

/// The positions of `?=` found so far: the last one, and whether the value has no more.
#[derive(Default)]
struct Closes {
    last: Option<usize>,
    exhausted: bool,
}

impl Closes {
    /// The first `?=` at or after `start`.
    fn first_from(&mut self, b: &[u8], start: usize) -> Option<usize> {
        match self.last {
            Some(c) if c >= start => return Some(c),
            _ if self.exhausted => return None,
            _ => {}
        }
        let found = memchr::memmem::find(b.get(start..)?, b"?=").map(|o| start + o);
        self.last = found;
        self.exhausted = found.is_none();
        found
    }
}

/// The encoded word `=?charset?E?text?=` starting at `at`: where it ends and its text.
fn word(b: &[u8], at: usize, closes: &mut Closes) -> Option<(usize, String)> {
    let charset_start = at + 2;
    let charset_end = charset_start + memchr::memchr(b'?', &b[charset_start..])?;
    let charset = &b[charset_start..charset_end];
    if charset.is_empty() || charset.iter().any(|c| c.is_ascii_whitespace()) {
        return None;
    }
    if !matches!(b.get(charset_end + 1), Some(b'q' | b'Q' | b'b' | b'B'))
        || b.get(charset_end + 2) != Some(&b'?')
    {
        return None;
    }
    let close = closes.first_from(b, charset_end + 3)?;
    let end = close + 2;
    // mail-parser's decoder starts after the `=`.
    let text = MessageStream::new(&b[at + 1..end]).decode_rfc2047()?;
    Some((end, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_words_is_kept() {
        assert_eq!(decode_unstructured("  a  b\r\n\t c "), "a  b\t c");
    }

    #[test]
    fn words_are_decoded_in_their_charsets() {
        assert_eq!(
            decode_unstructured("=?ISO-8859-1?Q?Caf=E9?= =?GB2312?B?1tDOxA==?="),
            "Café中文"
        );
        assert_eq!(decode_unstructured("=?utf-8?q?a_b?=c"), "a bc");
    }

    #[test]
    fn broken_words_stay_as_text() {
        for v in [
            "=?",
            "=?utf-8",
            "=?utf-8?x?a?=",
            "=? x?q?a?=",
            "=?utf-8?q?a",
            "a =?=?=?",
        ] {
            assert_eq!(decode_unstructured(v), v);
        }
        // A broken candidate does not hide a good word behind it.
        assert_eq!(decode_unstructured("=?x =?utf-8?Q?ok?="), "=?x ok");
    }

    #[test]
    fn many_candidates_cost_linear_time() {
        // Every `=?` here is a candidate whose close would be searched for to the end.
        let v = "=?a?q?x".repeat(200_000);
        assert_eq!(decode_unstructured(&v), v);
    }
}
