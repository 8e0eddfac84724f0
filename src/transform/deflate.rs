//! Raw DEFLATE (RFC 1951) as IMAP COMPRESS=DEFLATE uses it (RFC 4978: no zlib header, a
//! sync flush after each write).

use super::{Failure, Transform};

/// Output comes in pieces of at most this many bytes.
pub const PIECE: usize = 64 * 1024;

pub struct Inflate {
    z: flate2::Decompress,
    /// The final block was read: nothing may follow.
    ended: bool,
}

impl Default for Inflate {
    fn default() -> Inflate {
        Inflate {
            z: flate2::Decompress::new(false),
            ended: false,
        }
    }
}

impl Transform for Inflate {
    fn next(&mut self, input: &mut &[u8], out: &mut Vec<u8>) -> Result<bool, Failure> {
        out.clear();
        if self.ended {
            return match input.is_empty() {
                true => Ok(false),
                false => Err(Failure::Corrupt(
                    "data after the end of the DEFLATE stream".into(),
                )),
            };
        }
        out.reserve(PIECE);
        let (before_in, before_out) = (self.z.total_in(), self.z.total_out());
        let status = self
            .z
            .decompress_vec(input, out, flate2::FlushDecompress::Sync)
            .map_err(|e| Failure::Corrupt(format!("the data does not inflate: {e}")))?;
        let used = (self.z.total_in() - before_in) as usize;
        let produced = (self.z.total_out() - before_out) as usize;
        *input = &input[used.min(input.len())..];
        if status == flate2::Status::StreamEnd {
            self.ended = true;
        } else if used == 0 && produced == 0 && !input.is_empty() {
            // Nothing moves although input is left: it cannot be read (never drop it
            // silently).
            return Err(Failure::Corrupt("the data does not inflate".into()));
        }
        // Again while input is left and something moved, or the piece came out full (more
        // output may be pending).
        Ok((!input.is_empty() && (used > 0 || produced > 0)) || produced >= PIECE)
    }

    fn gap(&mut self, len: u64) -> Result<Option<u64>, Failure> {
        Err(Failure::Gap(len))
    }
}

/// Everything `input` gives, piece by piece (for tests).
#[cfg(test)]
pub(crate) fn drain(t: &mut dyn Transform, mut input: &[u8]) -> Result<Vec<Vec<u8>>, Failure> {
    let mut pieces = Vec::new();
    let mut out = Vec::new();
    loop {
        let more = t.next(&mut input, &mut out)?;
        if !out.is_empty() {
            pieces.push(out.clone());
        }
        if !more {
            return Ok(pieces);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        chunks
            .iter()
            .map(|c| {
                z.write_all(c).unwrap();
                z.flush().unwrap();
                std::mem::take(z.get_mut())
            })
            .collect()
    }

    #[test]
    fn inflates_in_any_chunking_and_in_bounded_pieces() {
        let big = vec![b'a'; 1 << 20];
        let parts = deflate(&[b"a1 SELECT INBOX\r\n", &big, b"tail"]);
        let stream: Vec<u8> = parts.concat();
        for cut in [1, 7, 1000, stream.len()] {
            let mut t = Inflate::default();
            let mut got = Vec::new();
            for piece in stream.chunks(cut) {
                for p in drain(&mut t, piece).unwrap() {
                    assert!(p.len() <= PIECE);
                    got.extend_from_slice(&p);
                }
            }
            assert_eq!(got.len(), 17 + big.len() + 4, "cut {cut}");
            assert!(got.starts_with(b"a1 SELECT INBOX\r\n") && got.ends_with(b"atail"));
        }
    }

    #[test]
    fn garbage_gaps_and_data_after_the_end_stop_it() {
        let mut t = Inflate::default();
        assert!(matches!(
            drain(&mut t, b"\xff\xff\xff\xff"),
            Err(Failure::Corrupt(_))
        ));
        assert_eq!(Inflate::default().gap(10), Err(Failure::Gap(10)));
        // A finished stream (final block), then more bytes.
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"* BYE\r\n").unwrap();
        let mut done = z.finish().unwrap();
        done.extend_from_slice(b"plain text after it");
        let mut t = Inflate::default();
        let err = drain(&mut t, &done).unwrap_err();
        assert!(matches!(err, Failure::Corrupt(ref why) if why.contains("after the end")));
    }
}
