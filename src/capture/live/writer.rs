//! The `-w` file: a classic pcap file of every packet a live capture handed out.
//!
//! The format (libpcap's savefile, as tcpdump writes it), little-endian here:
//!
//! ```text
//! file header (24 bytes): magic a1b23c4d (nanosecond timestamps) | version 2 | 4
//!                         | thiszone 0 | sigfigs 0 | snaplen | link type
//! record header (16):     seconds | nanoseconds | captured length | length on the wire
//! record data:            the captured bytes
//! ```
//!
//! Written by hand: pcap-parser's `serialize` feature would bring in cookie-factory and,
//! through its default features, the `futures` crates, for these 40 bytes. The tests read
//! the files back with pcap-parser ([`crate::capture::FileReader`]).
//!
//! A record is appended whole to a buffer; the buffer goes to the file when it fills and
//! whenever the capture is idle or ends, so after Ctrl-C the file holds whole records only.

use crate::types::Timestamp;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// pcap magic for nanosecond timestamps.
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// Writes pcap records to a file.
pub(super) struct PcapWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl PcapWriter {
    /// Creates (truncates) `path` and writes the file header.
    pub(super) fn create(path: &Path, linktype: i32, snaplen: u32) -> io::Result<PcapWriter> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        out.write_all(&header(linktype, snaplen))?;
        out.flush()?;
        Ok(PcapWriter {
            path: path.to_path_buf(),
            out,
        })
    }

    /// Appends one record (buffered).
    pub(super) fn write(&mut self, ts: Timestamp, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.out.write_all(&record_header(ts, caplen, orig_len))?;
        self.out.write_all(&data[..caplen as usize])
    }

    /// Sends what is buffered to the file.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

fn header(linktype: i32, snaplen: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&MAGIC_NANOS.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay 0.
    h[16..20].copy_from_slice(&snaplen.to_le_bytes());
    h[20..24].copy_from_slice(&linktype.to_le_bytes());
    h
}

fn record_header(ts: Timestamp, caplen: u32, orig_len: u32) -> [u8; 16] {
    let nanos = ts.as_nanos().max(0);
    // Seconds fit in u32 until 2106.
    let secs = u32::try_from(nanos / 1_000_000_000).unwrap_or(u32::MAX);
    let frac = (nanos % 1_000_000_000) as u32;
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&secs.to_le_bytes());
    h[4..8].copy_from_slice(&frac.to_le_bytes());
    h[8..12].copy_from_slice(&caplen.to_le_bytes());
    h[12..16].copy_from_slice(&orig_len.max(caplen).to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_have_the_savefile_layout() {
        assert_eq!(
            header(1, 262_144),
            [
                0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0
            ]
        );
        let ts = Timestamp::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(
            record_header(ts, 60, 1514),
            [
                0x00, 0xf1, 0x53, 0x65, 0x15, 0xcd, 0x5b, 0x07, 60, 0, 0, 0, 0xea, 0x05, 0, 0
            ]
        );
    }
}
