//! Quoted-printable transfer decoding (RFC 2045 6.7): a fast path for regular input, and
//! mail-parser's decoder for everything else.
//!
//! mail-parser's decoder goes byte by byte (about 0.5 GB/s). [`fast`] jumps with `memchr`
//! from one `=`, CR or LF to the next and copies the runs between them whole. It gives
//! exactly mail-parser's output, quirks included: a CR anywhere is dropped and makes every
//! later line break a CRLF (before the first CR a line break is a bare LF); spaces, tabs and
//! form feeds before a hard line break are dropped, but not those before a soft one; hex
//! digits may be lowercase. Where matching mail-parser would take more than that (`=` not
//! followed by two hex digits or by a line break: transport padding, a malformed escape,
//! `=` at the end) the fast path gives up and mail-parser decodes the whole part, so the
//! fast path never changes what comes out.

use mail_parser::decoders::quoted_printable::quoted_printable_decode;

/// Undoes quoted-printable; `None` where mail-parser's decoder fails.
pub(super) fn decode(raw: &[u8]) -> Option<Vec<u8>> {
    fast(raw).or_else(|| quoted_printable_decode(raw))
}

/// For the fuzz target (`crate::fuzzing::check_qp_paths`): what [`fast`] gives, if it does
/// not give up, and what the decoder used in the end gives, are mail-parser's answer.
pub(crate) fn check_paths(raw: &[u8]) {
    let reference = quoted_printable_decode(raw);
    if let Some(fast) = fast(raw) {
        assert_eq!(Some(fast), reference, "fast path differs from mail-parser");
    }
    assert_eq!(decode(raw), reference);
}

/// The value of a hex digit, either case; 0xff for anything else.
const HEX: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'A' as usize + i] = 10 + i as u8;
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The white space mail-parser drops before a hard line break (`u8::is_ascii_whitespace`
/// without CR and LF, which never get into the output as text).
fn blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x0c')
}

/// Decodes `raw` as mail-parser does; `None` to give up (see the module comment).
fn fast(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    // What a hard line break becomes: LF until the first CR, CRLF from then on.
    let mut eol: &[u8] = b"\n";
    // Where `out` was at the last line break or escape: blanks after it (copied as they
    // were) are dropped before a hard line break, the ones before it are kept.
    let mut floor = 0;
    let mut rest = raw;
    while let Some(n) = memchr::memchr3(b'=', b'\r', b'\n', rest) {
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        let (skip, hard) = match rest {
            [b'=', h, l, ..] if (HEX[*h as usize] | HEX[*l as usize]) < 16 => {
                out.push((HEX[*h as usize] << 4) | HEX[*l as usize]);
                (3, false)
            }
            [b'=', b'\n', ..] => (2, false),
            [b'=', b'\r', b'\n', ..] => {
                eol = b"\r\n";
                (3, false)
            }
            [b'=', ..] => return None,
            [b'\r', b'\n', ..] => {
                eol = b"\r\n";
                (2, true)
            }
            [b'\r', ..] => {
                // Dropped; blanks on either side of it count as one run.
                eol = b"\r\n";
                rest = &rest[1..];
                continue;
            }
            _ => (1, true),
        };
        if hard {
            let blanks = out[floor..].iter().rev().take_while(|&&b| blank(b)).count();
            out.truncate(out.len() - blanks);
            out.extend_from_slice(eol);
        }
        floor = out.len();
        rest = &rest[skip..];
    }
    out.extend_from_slice(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Encodes `data` as a quoted-printable encoder does (RFC 2045 6.7): lines of at most 76
    /// characters ended by soft breaks, `=XX` for '=', control and 8-bit bytes, and for a
    /// blank before a line break. With `text`, a CRLF in `data` stays a hard line break;
    /// `eol` is what ends lines (CRLF, or LF as some stores keep mail).
    fn encode(data: &[u8], text: bool, eol: &[u8], lower: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut line = 0;
        let mut i = 0;
        while i < data.len() {
            if text && data[i..].starts_with(b"\r\n") {
                out.extend_from_slice(eol);
                line = 0;
                i += 2;
                continue;
            }
            let b = data[i];
            let at_eol = i + 1 == data.len() || (text && data[i + 1..].starts_with(b"\r\n"));
            let literal = matches!(b, 33..=60 | 62..=126) || (blank(b) && b != 0x0c && !at_eol);
            let piece = if literal {
                vec![b]
            } else if lower {
                format!("={b:02x}").into_bytes()
            } else {
                format!("={b:02X}").into_bytes()
            };
            if line + piece.len() > 75 {
                out.push(b'=');
                out.extend_from_slice(eol);
                line = 0;
            }
            out.extend_from_slice(&piece);
            line += piece.len();
            i += 1;
        }
        out
    }

    /// `data` with each CRLF made an LF.
    fn lf_lines(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < data.len() {
            if data[i..].starts_with(b"\r\n") {
                i += 1;
            }
            out.push(data[i]);
            i += 1;
        }
        out
    }

    /// Quoted-printable pieces: escapes (valid, either case, or not), soft and hard line
    /// breaks, bare CRs and LFs, blanks, text and 8-bit bytes, and now and then any byte.
    fn qp_ish() -> impl Strategy<Value = Vec<u8>> {
        let hex = || prop::sample::select(b"0123456789ABCDEFabcdef".to_vec());
        let piece = prop_oneof![
            4 => (hex(), hex()).prop_map(|(h, l)| vec![b'=', h, l]),
            2 => prop::sample::select(vec![&b"=\r\n"[..], b"=\n", b"\r\n", b"\n", b"\r"])
                .prop_map(<[u8]>::to_vec),
            3 => prop::sample::select(b" \t\x0c\x0b".to_vec()).prop_map(|b| vec![b]),
            6 => prop::sample::select(b"hello world.,;:_-xyZ".to_vec()).prop_map(|b| vec![b]),
            1 => (128u8..=255).prop_map(|b| vec![b]),
            1 => prop::sample::select(b"=0123456789ABCDEFabcdefgG".to_vec()).prop_map(|b| vec![b]),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(piece, 0..120).prop_map(|p| p.concat())
    }

    #[test]
    fn mail_parser_examples() {
        // mail-parser's own test, and the quirks the fast path reproduces.
        for (raw, want) in [
            (
                &b"hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo =\r\n=62\r\nfoo  \r\nbar=\r\n\r\nfoo_bar\r\n"[..],
                &b"hello\r\nbar\r\nfoo\tbar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n"[..],
            ),
            (b"caf=e9 =C3=A9\n", b"caf\xe9 \xc3\xa9\n"),
            (b"a\nb\r\nc\n", b"a\nb\r\nc\r\n"),
            (b"a \rb \r\x0c\nc", b"a b\r\nc"),
            (b"soft \t=\nbreak  ", b"soft \tbreak  "),
        ] {
            assert_eq!(fast(raw).as_deref(), Some(want), "{raw:?}");
            assert_eq!(quoted_printable_decode(raw).as_deref(), Some(want), "{raw:?}");
        }
    }

    #[test]
    fn gives_up_where_mail_parser_is_lenient_or_fails() {
        for raw in [
            &b"pad= \r\nx"[..],
            b"=4",
            b"end=",
            b"=4\r1",
            b"=G1",
            b"==41",
        ] {
            assert_eq!(fast(raw), None, "{raw:?}");
            assert_eq!(decode(raw), quoted_printable_decode(raw), "{raw:?}");
        }
    }

    proptest! {
        /// Wherever the fast path answers, it answers as mail-parser does.
        #[test]
        fn fast_path_agrees_with_mail_parser(raw in qp_ish()) {
            check_paths(&raw);
        }

        /// Encoder output is decoded by the fast path (so it is really used), back to the
        /// bytes encoded.
        #[test]
        fn fast_path_takes_encoder_output(
            data in prop::collection::vec(prop_oneof![
                6 => prop::sample::select(b"The quick brown fox =.\t ".to_vec()),
                1 => Just(b'\r'),
                1 => Just(b'\n'),
                2 => any::<u8>(),
            ], 0..600),
            text: bool,
            crlf: bool,
            lower: bool,
        ) {
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let raw = encode(&data, text, eol, lower);
            let want = match (text, crlf) {
                // Hard line breaks come out as they went in: LF.
                (true, false) => lf_lines(&data),
                _ => data.clone(),
            };
            prop_assert_eq!(fast(&raw), Some(want));
            check_paths(&raw);
        }
    }
}
