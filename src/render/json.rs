//! JSON Lines: one object per record, each with a `type` tag, written as it is produced.
//!
//! Every JSON writer (sessions, flows, the summary, `--pretty`, `--extract`'s `index.json`)
//! goes through [`write()`], whose formatter writes every character of
//! [`crate::render::is_unsafe`] as a `\uXXXX` escape: serde_json escapes C0 controls itself,
//! but writes DEL, the C1 controls (U+009B is an 8-bit CSI) and the bidi controls raw, and
//! `cat out.json` would hand them to the terminal. The escapes are plain JSON: a parser reads
//! back the identical string. Output without such characters is byte for byte serde_json's.

use crate::render::is_unsafe;
use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter, Serializer};
use std::io::{self, Write};

/// Writes one JSON value and a newline; `pretty` indents it for people.
///
/// The line is built in memory and written with one call: serde_json writes a value in many
/// small pieces, and each one through the output's `dyn Write` and its `BufWriter` cost more
/// than building the line (with many small sessions, a fifth of the reading thread).
pub fn write_line<W: Write, T: Serialize>(out: &mut W, value: &T, pretty: bool) -> io::Result<()> {
    LINE.with_borrow_mut(|line| {
        line.clear();
        line_into(line, value, pretty)?;
        let written = out.write_all(line);
        // A line past a few MiB (a huge session) is not kept around.
        if line.capacity() > KEPT_LINE {
            *line = Vec::new();
        }
        written
    })
}

/// A session's line, as [`write_line`] writes it (a [`crate::render::Renderer`]).
pub fn session_line(
    session: &crate::session::Session,
    pretty: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    line_into(out, session, pretty)
}

/// Appends one JSON value and a newline to `out`.
fn line_into<T: Serialize>(out: &mut Vec<u8>, value: &T, pretty: bool) -> io::Result<()> {
    write(out, value, pretty)?;
    out.push(b'\n');
    Ok(())
}

thread_local! {
    /// The line [`write_line`] builds, reused from line to line.
    static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The largest line buffer kept for the next line.
const KEPT_LINE: usize = 4 << 20;

/// Writes one JSON value, compact or indented, with unsafe characters escaped.
pub fn write<W: Write, T: Serialize>(out: &mut W, value: &T, pretty: bool) -> io::Result<()> {
    if pretty {
        let mut ser = Serializer::with_formatter(&mut *out, Safe(PrettyFormatter::new()));
        value.serialize(&mut ser)?;
    } else {
        let mut ser = Serializer::with_formatter(&mut *out, Safe(CompactFormatter));
        value.serialize(&mut ser)?;
    }
    Ok(())
}

/// A formatter that escapes unsafe characters in strings and otherwise does what the
/// formatter it wraps does (numbers use serde_json's defaults, which neither compact nor
/// pretty output changes).
struct Safe<F>(F);

impl<F: Formatter> Formatter for Safe<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Unsafe characters start with one of these bytes: DEL (0x7f), C1 (0xc2 0x80–0x9f),
        // bidi controls (0xe2 0x80 0xaa–0xae, 0xe2 0x81 0xa6–0xa9). All three are ASCII or
        // UTF-8 lead bytes, so every hit is a character boundary; one pass, no allocation.
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for i in memchr::memchr3_iter(0x7f, 0xc2, 0xe2, bytes) {
            let Some(c) = fragment.get(i..).and_then(|rest| rest.chars().next()) else {
                continue;
            };
            if is_unsafe(c) {
                w.write_all(&bytes[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&bytes[start..])
    }

    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_string(w)
    }
    fn end_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_string(w)
    }
    fn write_char_escape<W: ?Sized + Write>(&mut self, w: &mut W, e: CharEscape) -> io::Result<()> {
        self.0.write_char_escape(w, e)
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
    fn write_raw_fragment<W: ?Sized + Write>(&mut self, w: &mut W, f: &str) -> io::Result<()> {
        self.0.write_raw_fragment(w, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn both(value: &serde_json::Value) -> [String; 2] {
        [false, true].map(|pretty| {
            let mut out = Vec::new();
            write(&mut out, value, pretty).unwrap();
            String::from_utf8(out).expect("UTF-8")
        })
    }

    #[test]
    fn every_unsafe_character_is_escaped_and_reads_back_identical() {
        // Every code point from U+0000 to U+2FFF, once raw in a string and once as a key.
        let all: String = (0..0x3000u32).filter_map(char::from_u32).collect();
        let value = json!({
            "all": all,
            "hostile": "\x1b[2J\u{9b}31m\x07\0\u{202e}gpj.exe\x7f\u{85}",
            "nested": [{"k\u{9b}": ["\u{2066}x\u{2069}", 1, 2.5, null, true]}],
        });
        for text in both(&value) {
            for c in text.chars() {
                assert!(c == '\n' || !is_unsafe(c), "raw U+{:04X}", c as u32);
            }
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, value);
        }
        let [compact, _] = both(&value);
        assert!(
            compact
                .contains(r#""hostile":"\u001b[2J\u009b31m\u0007\u0000\u202egpj.exe\u007f\u0085""#)
        );
    }

    #[test]
    fn output_without_unsafe_characters_is_serde_json_s() {
        let value = json!({
            "type": "session",
            "text": "Grüße \"quoted\" \\ 東京 → ✉\r\n\t",
            "list": [1, -2, 3.25, null, false, {"a": []}, {}],
        });
        let [compact, pretty] = both(&value);
        assert_eq!(compact, serde_json::to_string(&value).unwrap());
        assert_eq!(pretty, serde_json::to_string_pretty(&value).unwrap());
    }
}
