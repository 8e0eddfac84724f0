//! Capture layer: turns a capture source into a stream of [`Frame`]s.
//!
//! Owns everything about *files* (pcap in both byte orders with micro- or nanosecond
//! timestamps, pcapng with any number of interfaces / link types / timestamp resolutions and
//! EPB, SPB and the obsolete OPB packet blocks, gzip compression detected by magic bytes,
//! standard input) and nothing about what is inside a frame. pcap-parser's
//! next / consume / refill protocol is wrapped once, in [`file::FileReader`]; the rest of the
//! program only sees frames and [`CaptureError`]s that name the frame and byte offset where
//! reading stopped. An input that holds packets of which none is on a link type [`LinkType`]
//! names (or, in pcapng, none belongs to a described interface) is such an error too, raised
//! at the end of input: one rule, here, for every command.
//!
//! Memory use is bounded: frames are borrowed from one circular buffer that is refilled in
//! place, so a 100 GB file is read with the same few MiB as a 1 KB one.
//!
//! Several inputs are read as one by [`Merge`]: a k-way merge by frame time, like `mergecap`.
//!
//! Every source of frames implements [`FrameSource`]: the file reader, the merge, and the
//! live capture backends of [`live`] (pnet by default, libpcap with the `libpcap` feature).
//! Nothing above this layer knows which one is in use. A live source also says when nothing
//! arrived for a while ([`Pulled::Idle`], with the wall clock) so that idle connections can be
//! closed, and reports its packet counts ([`CaptureStats`]).

mod file;
pub mod live;
mod merge;
mod source;

pub use crate::types::CaptureStats;
use crate::types::Timestamp;
pub use file::FileReader;
pub use merge::Merge;
pub use source::{InputSource, ProgressCounter, is_stream};

use std::fmt;

/// Link-layer header type of a frame (the pcap LINKTYPE_ values we decode, plus the raw
/// number for everything else so it can be reported: `Other` is not decoded).
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

/// What [`FrameSource::pull`] got.
#[derive(Debug)]
pub enum Pulled<'a> {
    Frame(Frame<'a>),
    /// Nothing arrived for a while (a live source): the wall clock now.
    Idle(Timestamp),
    /// The end of input, or a live capture stopped (Ctrl-C, `-a duration:`, `-c`).
    End,
}

/// Where frames come from: a capture file ([`FileReader`]), several ([`Merge`]), or a live
/// interface ([`live`]).
pub trait FrameSource {
    /// The next frame, `None` at a clean end of input, or the error that stopped reading
    /// (with its frame number and byte offset). After an error the source is not used again.
    /// A live source waits for the next frame (or its stop).
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError>;
    /// The next frame, or (a live source, after a short wait) [`Pulled::Idle`] with the
    /// time now, or the end.
    fn pull(&mut self) -> Result<Pulled<'_>, CaptureError> {
        Ok(match self.next_frame()? {
            Some(f) => Pulled::Frame(f),
            None => Pulled::End,
        })
    }
    /// A live source's packet counts (received, dropped by the kernel, dropped by
    /// mailscope's own queue limit); `None` for files.
    fn capture_stats(&self) -> Option<CaptureStats> {
        None
    }
    /// Whether frames come as they happen (an interface): idle connections are then timed
    /// out on the wall clock, sessions are written as they end.
    fn is_live(&self) -> bool {
        false
    }
    /// Whether frames come as they are captured (an interface, a pipe): sessions are then
    /// written as they end, and what is waiting is finished every moment even while frames
    /// keep coming.
    fn as_it_comes(&self) -> bool {
        self.is_live()
    }
    /// Frames handed out so far.
    fn frames(&self) -> u64;
    /// Packet records the source could not turn into a frame (counted, not fatal).
    fn skipped_blocks(&self) -> u64;
    /// TLS key log text found in the input since the last call (pcapng Decryption Secrets
    /// Blocks).
    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        None
    }
    /// How far reading has come, for a progress display.
    fn progress(&self) -> Progress;
}

/// How far reading has come: bytes of the input read so far (compressed bytes, for a
/// gzipped file) and the input's size when it is known (a regular file; not a pipe).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub read: u64,
    pub total: Option<u64>,
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
    /// Which of the source's inputs (by position) it came from: 0 for a single input; see
    /// [`Merge`].
    pub input: usize,
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
    /// A pcapng section whose major version is not 1: its blocks cannot be read.
    #[error("pcapng version {major}.{minor} is not supported (only 1.x is)")]
    UnsupportedVersion { major: u16, minor: u16 },
    /// The input held packet records, but not one became a frame the packet layer can
    /// decode. The position is that of the first such record.
    #[error("no frame could be decoded: {0}")]
    NothingDecodable(Unreadable),
}

/// Why a packet record could not be decoded at the link level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Its link type is not one [`LinkType`] names.
    Link(i32),
    /// A pcapng packet block naming an interface no Interface Description Block described.
    NoInterface(u32),
    /// A pcapng obsolete packet block too short for its own fields.
    ShortBlock,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unreadable::Link(n) => match link_type_name(n) {
                Some(name) => write!(f, "link type {n} ({name}) is not supported"),
                None => write!(f, "link type {n} is not supported"),
            },
            Unreadable::NoInterface(id) => write!(
                f,
                "packet block for interface {id} comes before any interface description block"
            ),
            Unreadable::ShortBlock => f.write_str("obsolete packet block cut short"),
        }
    }
}

/// The tcpdump name (`LINKTYPE_` dropped) of link types seen in the wild that mailscope does
/// not decode, so an error can say what the capture holds.
fn link_type_name(n: i32) -> Option<&'static str> {
    Some(match n {
        6 => "IEEE802_5",
        9 => "PPP",
        10 => "FDDI",
        50 => "PPP_HDLC",
        51 => "PPP_ETHER",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        107 => "FRELAY",
        119 => "IEEE802_11_PRISM",
        127 => "IEEE802_11_RADIOTAP",
        147..=162 => USER[(n - 147) as usize],
        163 => "IEEE802_11_AVS",
        187 => "BLUETOOTH_HCI_H4",
        189 => "USB_LINUX",
        195 => "IEEE802_15_4_WITHFCS",
        201 => "BLUETOOTH_HCI_H4_WITH_PHDR",
        220 => "USB_LINUX_MMAPPED",
        239 => "NFLOG",
        249 => "USBPCAP",
        252 => "WIRESHARK_UPPER_PDU",
        253 => "NETLINK",
        _ => return None,
    })
}

const USER: [&str; 16] = [
    "USER0", "USER1", "USER2", "USER3", "USER4", "USER5", "USER6", "USER7", "USER8", "USER9",
    "USER10", "USER11", "USER12", "USER13", "USER14", "USER15",
];

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
