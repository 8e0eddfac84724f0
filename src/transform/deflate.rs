//! Raw DEFLATE (RFC 1951) as IMAP COMPRESS=DEFLATE uses it (RFC 4978: no zlib header, a
//! sync flush after each write).

use super::{Failure, Transform};

/// Output is handed on in pieces of at most this many bytes.
const PIECE: usize = 64 * 1024;

pub struct Inflate {
    z: flate2::Decompress,
    buf: Box<[u8]>,
}

impl Default for Inflate {
    fn default() -> Inflate {
        Inflate {
            z: flate2::Decompress::new(false),
            buf: vec![0; PIECE].into_boxed_slice(),
        }
    }
}

impl Transform for Inflate {
    fn data(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), Failure> {
        loop {
            let (before_in, before_out) = (self.z.total_in(), self.z.total_out());
            let result = self
                .z
                .decompress(input, &mut self.buf, flate2::FlushDecompress::Sync);
            let used = (self.z.total_in() - before_in) as usize;
            let produced = (self.z.total_out() - before_out) as usize;
            input = &input[used.min(input.len())..];
            if let Err(e) = result {
                return Err(Failure::Corrupt(format!("the data does not inflate: {e}")));
            }
            if produced > 0 {
                out(&self.buf[..produced]);
            }
            // Done when the input is used up and the output did not fill the buffer (no
            // more is pending), or when nothing moves at all.
            if (input.is_empty() && produced < self.buf.len()) || (used == 0 && produced == 0) {
                return Ok(());
            }
        }
    }

    fn gap(&mut self, len: u64) -> Result<Option<u64>, Failure> {
        Err(Failure::Gap(len))
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
            let mut largest = 0;
            for piece in stream.chunks(cut) {
                t.data(piece, &mut |p| {
                    largest = largest.max(p.len());
                    got.extend_from_slice(p)
                })
                .unwrap();
            }
            assert_eq!(got.len(), 17 + big.len() + 4, "cut {cut}");
            assert!(got.starts_with(b"a1 SELECT INBOX\r\n") && got.ends_with(b"atail"));
            assert!(largest <= PIECE);
        }
    }

    #[test]
    fn garbage_and_gaps_stop_it() {
        let mut t = Inflate::default();
        assert!(matches!(
            t.data(b"\xff\xff\xff\xff", &mut |_| {}),
            Err(Failure::Corrupt(_))
        ));
        assert_eq!(Inflate::default().gap(10), Err(Failure::Gap(10)));
    }
}
