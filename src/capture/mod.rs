//! Capture layer: turns a capture source into a stream of [`Frame`]s.
//!
//! Owns everything about *files* (pcap in both byte orders with micro- or nanosecond
//! timestamps, pcapng with any number of interfaces / link types / timestamp resolutions and
//! EPB, SPB and the obsolete OPB packet blocks, gzip compression detected by magic bytes,
//! standard input) and nothing about what is inside a frame. pcap-parser's
//! next / consume / refill protocol is wrapped once, in [`file::FileReader`]; the rest of the
//! program only sees frames and [`CaptureError`]s that name the frame and byte offset where
//! reading stopped.
//!
//! Memory use is bounded: frames are borrowed from one circular buffer that is refilled in
//! place, so a 100 GB file is read with the same few MiB as a 1 KB one.

mod file;
mod source;

pub use file::FileReader;
pub use source::{InputSource, ProgressCounter};

use std::fmt;

/// Nanoseconds since the Unix epoch (UTC). Capture timestamps before 1970 or after 2262 are
/// clamped: no real capture has them, and an attacker-chosen value must not overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// Seconds plus a fraction given in `units_per_second` (10^6 for µs, 10^9 for ns, any
    /// pcapng `if_tsresol`). Saturates instead of overflowing.
    pub fn from_parts(secs: i64, frac: u64, units_per_second: u64) -> Self {
        let units = units_per_second.max(1);
        let frac_ns = (u128::from(frac) * 1_000_000_000 / u128::from(units)) as i64;
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(frac_ns))
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Signed difference in nanoseconds (`self - earlier`).
    pub fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-26T07:53:38.123456Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = self.0.max(0) as u64;
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos);
        humantime::format_rfc3339_micros(t).to_string()
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Link-layer header type of a frame (the pcap LINKTYPE_ values we decode, plus the raw
/// number for everything else so it can be reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte address family in host byte order.
    Null,
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101) and the historic DLT_RAW values 12 / 14: bare IPv4 or IPv6.
    Raw,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, address family in network byte order.
    Loop,
    /// LINKTYPE_LINUX_SLL (113): Linux cooked capture v1 (`tcpdump -i any`).
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): Linux cooked capture v2.
    LinuxSll2,
    Other(i32),
}

impl LinkType {
    pub fn from_linktype(value: i32) -> Self {
        match value {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            other => LinkType::Other(other),
        }
    }
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// 1-based frame number, as Wireshark shows it.
    pub index: u64,
    pub ts: Timestamp,
    pub link: LinkType,
    /// Length of the frame on the wire; larger than `data.len()` when snaplen cut it.
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// Why reading a capture stopped early.
#[derive(Debug, thiserror::Error)]
pub enum CaptureErrorKind {
    #[error("cannot open: {0}")]
    Open(std::io::Error),
    #[error("read error: {0}")]
    Io(std::io::Error),
    #[error("empty input")]
    Empty,
    #[error("not a pcap or pcapng file (magic bytes {0})")]
    NotACapture(String),
    #[error("file is truncated: the last record is cut short")]
    Truncated,
    #[error("record of more than {0} bytes: corrupt length field")]
    Oversized(usize),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// A capture error with the position where it happened: the number of the frame that could
/// not be read and the byte offset of its record in the (decompressed) input.
#[derive(Debug, thiserror::Error)]
#[error("{path}: frame {frame} at byte offset {offset}: {kind}")]
pub struct CaptureError {
    pub path: String,
    pub frame: u64,
    pub offset: u64,
    #[source]
    pub kind: CaptureErrorKind,
}
