//! pcap / pcapng reader on top of pcap-parser: the only file that knows its
//! next / consume / refill protocol.

use super::source::{Arrivals, ProgressCounter};
use super::{
    CaptureError, CaptureErrorKind, Frame, FrameSource, InputSource, LinkType, Progress, Pulled,
    Unreadable,
};
use crate::types::Timestamp;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{PcapBlockOwned, PcapError};
use std::io::{self, Read};
use std::sync::Arc;

/// Initial size of the circular read buffer; it grows (up to [`MAX_BUFFER`]) only when a
/// single record does not fit.
const INITIAL_BUFFER: usize = 1 << 20;
/// The smallest initial buffer (many inputs merged).
const MIN_BUFFER: usize = 64 << 10;
/// Largest record accepted. Real frames are at most 256 KiB (tcpdump's snaplen); a bigger
/// length field is corruption, and must not make us allocate what it says.
const MAX_BUFFER: usize = 16 << 20;

/// pcapng block type of the Obsolete Packet Block, which pcap-parser hands over unparsed.
const OPB_TYPE: u32 = 0x0000_0002;

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    units_per_second: u64,
    offset_secs: i64,
}

/// Reads frames from a pcap or pcapng byte stream, one at a time, in constant memory.
pub struct FileReader {
    name: String,
    inner: Box<dyn PcapReaderIterator + Send>,
    /// Bytes of the frame handed out last, consumed at the next call.
    pending: usize,
    frames: u64,
    capacity: usize,
    /// Legacy pcap: the one link type and resolution of the file.
    legacy: Option<Interface>,
    /// pcapng: the interfaces of the current section, by id.
    interfaces: Vec<Interface>,
    big_endian: bool,
    /// Frames the file holds that this reader could not turn into a `Frame` (an EPB naming
    /// an interface that was never described, for example).
    pub skipped_blocks: u64,
    /// TLS key log text from pcapng Decryption Secrets Blocks, not yet taken (bounded by
    /// `MAX_SECRETS`; blocks past it are skipped and counted).
    secrets: Vec<u8>,
    /// Frames on a link type [`LinkType`] names (the packet layer can decode them).
    decodable: u64,
    /// The first packet record that could not be decoded at the link level: its number,
    /// byte offset and why. When no record was decodable, the end of input reports it.
    first_unreadable: Option<(u64, u64, Unreadable)>,
    /// Bytes read from the input so far, and its size.
    read: ProgressCounter,
    size: Option<u64>,
    /// A stream's arrivals: when parsing needs bytes that have not come, [`FrameSource::pull`]
    /// says [`Pulled::Idle`] instead of waiting.
    arrivals: Option<Arc<Arrivals>>,
}

/// How long a pull on a stream waits for bytes before it says idle.
const WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// A reader that fills the buffer it is given as far as the input allows: gzip returns
/// short reads, and pcap-parser reads its header with a single `read`. A stream (a pipe
/// from `tcpdump -U -w -`) is different: after the file header, each read returns what has
/// arrived, so that frames are handed out as they come instead of when a megabyte has.
struct FullReads<R> {
    inner: R,
    /// A stream's arrivals (`None`: a file).
    stream: Option<Arc<Arrivals>>,
    /// Reads made so far.
    calls: u32,
}

/// Bytes the file header takes, as far as `got` tells: a pcap header is 24 bytes; a
/// pcapng file starts with a Section Header Block whose length is in its bytes 4..8 (in the
/// byte order its bytes 8..12 give).
fn header_len(got: &[u8]) -> usize {
    const PCAPNG: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
    if got.len() < 12 {
        return 12;
    }
    if got[..4] != PCAPNG {
        return 24;
    }
    let len = [got[4], got[5], got[6], got[7]];
    let len = match got[8..12] {
        [0x1a, 0x2b, 0x3c, 0x4d] => u32::from_be_bytes(len),
        _ => u32::from_le_bytes(len),
    };
    // A corrupt length is the parser's to report; never wait for more than a block can be.
    (len as usize).clamp(12, 1 << 16)
}

impl<R: Read> Read for FullReads<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        // pcap-parser reads twice before it parses anything (the header, then once more):
        // on a stream the second read takes only what is there, so that a capture whose
        // bytes have all arrived is not held up waiting for more.
        if self.calls == 2
            && let Some(a) = &self.stream
            && !a.wait(std::time::Duration::ZERO)
        {
            return Ok(0);
        }
        let mut filled = 0;
        while filled < buf.len() {
            if self.stream.is_some()
                && filled > 0
                && (self.calls > 1 || filled >= header_len(&buf[..filled]))
            {
                break;
            }
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Report what we have; the error comes back on the next call.
                Err(_) if filled > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// Bytes of embedded TLS secrets held until the pipeline takes them (a DSB line is ~200
/// bytes: tens of thousands of sessions).
const MAX_SECRETS: usize = 16 << 20;

enum Step {
    Skip(usize),
    /// A packet block this reader cannot place (unknown interface).
    Unusable(usize, Unreadable),
    Refill,
    Grow,
    End,
    Packet {
        consumed: usize,
        start: usize,
        len: usize,
        ts: Timestamp,
        link: LinkType,
        orig_len: u32,
    },
    Fail(CaptureErrorKind),
}

impl FileReader {
    pub fn new(source: InputSource) -> Result<FileReader, CaptureError> {
        Self::with_buffer(source, INITIAL_BUFFER)
    }

    /// A reader whose buffer starts at `initial` bytes (at least 64 KiB; it grows when a
    /// record does not fit): smaller when many inputs are merged, so that their buffers
    /// together stay small.
    pub fn with_buffer(source: InputSource, initial: usize) -> Result<FileReader, CaptureError> {
        let initial = initial.clamp(MIN_BUFFER, INITIAL_BUFFER);
        let name = source.name.clone();
        let (read, size) = (source.progress.clone(), source.size);
        let arrivals = source.arrivals.clone();
        let reads = FullReads {
            inner: source.reader,
            stream: arrivals.clone(),
            calls: 0,
        };
        let err = |kind| CaptureError {
            path: name.clone(),
            frame: 1,
            offset: 0,
            kind,
        };
        let inner = pcap_parser::create_reader(initial, reads).map_err(|e| {
            err(match e {
                PcapError::Eof => CaptureErrorKind::Empty,
                PcapError::HeaderNotRecognized => CaptureErrorKind::NotACapture(
                    "do not match pcap (a1b2c3d4 / a1b23c4d) or pcapng (0a0d0d0a)".into(),
                ),
                PcapError::ReadError => {
                    CaptureErrorKind::Io(io::Error::other("read failed (corrupt gzip data?)"))
                }
                PcapError::Incomplete(_) | PcapError::UnexpectedEof => CaptureErrorKind::Truncated,
                other => CaptureErrorKind::Corrupt(format!("{other:?}")),
            })
        })?;
        Ok(FileReader {
            name,
            inner,
            pending: 0,
            frames: 0,
            capacity: initial,
            legacy: None,
            interfaces: Vec::new(),
            big_endian: false,
            skipped_blocks: 0,
            secrets: Vec::new(),
            decodable: 0,
            first_unreadable: None,
            read,
            size,
            arrivals,
        })
    }

    /// Frames read so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes of the (decompressed) input consumed so far.
    fn offset(&self) -> u64 {
        self.inner.consumed() as u64
    }

    fn error(&self, kind: CaptureErrorKind) -> CaptureError {
        CaptureError {
            path: self.name.clone(),
            frame: self.frames + 1,
            offset: self.inner.consumed() as u64,
            kind,
        }
    }

    /// The next frame, `None` at a clean end of input, or an error that says where the file
    /// stopped making sense. After an error the reader is not used again.
    ///
    /// An input that held packet records of which none could be decoded at the link level
    /// (every frame on an unsupported link type, every packet block before any interface
    /// description) ends with [`CaptureErrorKind::NothingDecodable`], at the first such
    /// record, after all its frames were handed out: nothing was readable, so the run failed.
    /// When some records were decodable, the others are only counted.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        Ok(match self.read(false)? {
            Pulled::Frame(f) => Some(f),
            Pulled::Idle(_) | Pulled::End => None,
        })
    }

    /// [`FileReader::next_frame`], or, with `idle` on a stream, [`Pulled::Idle`] when no
    /// bytes arrived for a moment.
    fn read(&mut self, idle: bool) -> Result<Pulled<'_>, CaptureError> {
        if self.pending > 0 {
            self.inner.consume(self.pending);
            self.pending = 0;
        }
        loop {
            let base = self.inner.data().as_ptr() as usize;
            let step = match self.inner.next() {
                Ok((consumed, PcapBlockOwned::NG(Block::DecryptionSecrets(dsb)))) => {
                    // TLS secrets embedded in the capture (`editcap --inject-secrets`).
                    if dsb.secrets_type == pcap_parser::pcapng::SecretsType::TlsKeyLog {
                        let data = dsb.data.get(..dsb.secrets_len as usize).unwrap_or(dsb.data);
                        if self.secrets.len() + data.len() <= MAX_SECRETS {
                            self.secrets.extend_from_slice(data);
                            // A block ends its last line.
                            self.secrets.push(b'\n');
                        } else {
                            self.skipped_blocks += 1;
                        }
                    }
                    Step::Skip(consumed)
                }
                Ok((consumed, block)) => classify(
                    consumed,
                    block,
                    base,
                    &mut self.legacy,
                    &mut self.interfaces,
                    &mut self.big_endian,
                ),
                Err(PcapError::Eof) => Step::End,
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(PcapError::UnexpectedEof) => Step::Fail(CaptureErrorKind::Truncated),
                Err(PcapError::BufferTooSmall) => Step::Grow,
                Err(PcapError::ReadError) => Step::Fail(CaptureErrorKind::Io(io::Error::other(
                    "read failed (corrupt gzip data?)",
                ))),
                Err(PcapError::HeaderNotRecognized) => {
                    Step::Fail(CaptureErrorKind::Corrupt("unrecognised block".into()))
                }
                Err(PcapError::NomError(_, kind)) | Err(PcapError::OwnedNomError(_, kind)) => {
                    Step::Fail(CaptureErrorKind::Corrupt(format!(
                        "record does not parse ({kind:?})"
                    )))
                }
            };
            match step {
                Step::Skip(n) => self.inner.consume(n),
                Step::Unusable(n, why) => {
                    self.skipped_blocks += 1;
                    let record = self.frames + self.skipped_blocks;
                    let offset = self.offset();
                    self.first_unreadable.get_or_insert((record, offset, why));
                    self.inner.consume(n)
                }
                Step::Refill => {
                    if idle
                        && let Some(a) = &self.arrivals
                        && !a.wait(WAIT)
                    {
                        return Ok(Pulled::Idle(Timestamp::now()));
                    }
                    if self.inner.refill().is_err() {
                        return Err(self.error(CaptureErrorKind::Io(io::Error::other(
                            "read failed (corrupt gzip data?)",
                        ))));
                    }
                }
                Step::Grow => {
                    if self.capacity >= MAX_BUFFER {
                        return Err(self.error(CaptureErrorKind::Oversized(MAX_BUFFER)));
                    }
                    self.capacity *= 2;
                    self.inner.grow(self.capacity);
                    if self.inner.refill().is_err() {
                        return Err(self.error(CaptureErrorKind::Io(io::Error::other(
                            "read failed (corrupt gzip data?)",
                        ))));
                    }
                }
                Step::End => {
                    if self.decodable == 0
                        && let Some((frame, offset, why)) = self.first_unreadable.take()
                    {
                        return Err(CaptureError {
                            path: self.name.clone(),
                            frame,
                            offset,
                            kind: CaptureErrorKind::NothingDecodable(why),
                        });
                    }
                    return Ok(Pulled::End);
                }
                // Stopped (Ctrl-C) in the middle of a stream's record: the end, not a cut file.
                Step::Fail(CaptureErrorKind::Truncated)
                    if self.arrivals.as_ref().is_some_and(|a| a.stopped()) =>
                {
                    return Ok(Pulled::End);
                }
                Step::Fail(kind) => return Err(self.error(kind)),
                Step::Packet {
                    consumed,
                    start,
                    len,
                    ts,
                    link,
                    orig_len,
                } => {
                    self.pending = consumed;
                    self.frames += 1;
                    match link {
                        LinkType::Other(n) => {
                            let at = (self.frames, self.offset(), Unreadable::Link(n));
                            self.first_unreadable.get_or_insert(at);
                        }
                        _ => self.decodable += 1,
                    }
                    let data = self.inner.data();
                    let data = data.get(start..start + len).unwrap_or(&[]);
                    return Ok(Pulled::Frame(Frame {
                        index: self.frames,
                        ts,
                        link,
                        orig_len: orig_len.max(len as u32),
                        data,
                        input: 0,
                    }));
                }
            }
        }
    }
}

impl FrameSource for FileReader {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        FileReader::next_frame(self)
    }

    fn pull(&mut self) -> Result<Pulled<'_>, CaptureError> {
        self.read(true)
    }

    fn as_it_comes(&self) -> bool {
        self.arrivals.is_some()
    }

    fn frames(&self) -> u64 {
        self.frames
    }

    fn skipped_blocks(&self) -> u64 {
        self.skipped_blocks
    }

    fn take_secrets(&mut self) -> Option<Vec<u8>> {
        (!self.secrets.is_empty()).then(|| std::mem::take(&mut self.secrets))
    }

    fn progress(&self) -> Progress {
        Progress {
            read: self.read.get(),
            total: self.size,
        }
    }
}

/// Decides what one block means, without keeping a borrow of it.
fn classify(
    consumed: usize,
    block: PcapBlockOwned<'_>,
    base: usize,
    legacy: &mut Option<Interface>,
    interfaces: &mut Vec<Interface>,
    big_endian: &mut bool,
) -> Step {
    let offset_of = |data: &[u8]| (data.as_ptr() as usize).wrapping_sub(base);
    match block {
        PcapBlockOwned::LegacyHeader(header) => {
            *legacy = Some(Interface {
                link: LinkType::from_linktype(header.network.0),
                units_per_second: if header.is_nanosecond_precision() {
                    1_000_000_000
                } else {
                    1_000_000
                },
                offset_secs: i64::from(header.thiszone),
            });
            Step::Skip(consumed)
        }
        PcapBlockOwned::Legacy(frame) => {
            let Some(iface) = legacy else {
                return Step::Fail(CaptureErrorKind::Corrupt("record before header".into()));
            };
            let data = &frame.data[..frame.data.len().min(frame.caplen as usize)];
            Step::Packet {
                consumed,
                start: offset_of(data),
                len: data.len(),
                ts: Timestamp::from_parts(
                    i64::from(frame.ts_sec) + iface.offset_secs,
                    u64::from(frame.ts_usec),
                    iface.units_per_second,
                ),
                link: iface.link,
                orig_len: frame.origlen,
            }
        }
        PcapBlockOwned::NG(block) => match block {
            Block::SectionHeader(shb) => {
                // A new major version means blocks laid out in a way this reader does not
                // know; minor versions stay compatible (pcapng spec, Section Header Block).
                if shb.major_version != 1 {
                    return Step::Fail(CaptureErrorKind::UnsupportedVersion {
                        major: shb.major_version,
                        minor: shb.minor_version,
                    });
                }
                interfaces.clear();
                *big_endian = shb.big_endian();
                Step::Skip(consumed)
            }
            Block::InterfaceDescription(idb) => {
                // An unusable resolution (10^20 …) falls back to the default microseconds.
                let units = idb.ts_resolution().unwrap_or(1_000_000);
                interfaces.push(Interface {
                    link: LinkType::from_linktype(idb.linktype.0),
                    units_per_second: units,
                    offset_secs: idb.ts_offset(),
                });
                Step::Skip(consumed)
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = interfaces.get(epb.if_id as usize).copied() else {
                    return Step::Unusable(consumed, Unreadable::NoInterface(epb.if_id));
                };
                let data = epb.packet_data();
                let ts = ng_timestamp(epb.ts_high, epb.ts_low, iface);
                Step::Packet {
                    consumed,
                    start: offset_of(data),
                    len: data.len(),
                    ts,
                    link: iface.link,
                    orig_len: epb.orig_len(),
                }
            }
            Block::SimplePacket(spb) => {
                // SPBs belong to interface 0 and carry no timestamp.
                let Some(iface) = interfaces.first().copied() else {
                    return Step::Unusable(consumed, Unreadable::NoInterface(0));
                };
                let data = spb.packet_data();
                Step::Packet {
                    consumed,
                    start: offset_of(data),
                    len: data.len(),
                    ts: Timestamp::default(),
                    link: iface.link,
                    orig_len: spb.orig_len(),
                }
            }
            Block::Unknown(unknown) if unknown.block_type == OPB_TYPE => {
                match parse_opb(unknown.data, *big_endian) {
                    Some(opb) => match interfaces.get(opb.if_id).copied() {
                        Some(iface) => Step::Packet {
                            consumed,
                            start: offset_of(opb.data),
                            len: opb.data.len(),
                            ts: ng_timestamp(opb.ts_high, opb.ts_low, iface),
                            link: iface.link,
                            orig_len: opb.orig_len,
                        },
                        None => Step::Unusable(consumed, Unreadable::NoInterface(opb.if_id as u32)),
                    },
                    None => Step::Unusable(consumed, Unreadable::ShortBlock),
                }
            }
            _ => Step::Skip(consumed),
        },
    }
}

fn ng_timestamp(high: u32, low: u32, iface: Interface) -> Timestamp {
    let raw = (u64::from(high) << 32) | u64::from(low);
    let units = iface.units_per_second.max(1);
    let secs = i64::try_from(raw / units).unwrap_or(i64::MAX);
    Timestamp::from_parts(secs.saturating_add(iface.offset_secs), raw % units, units)
}

struct Opb<'a> {
    if_id: usize,
    ts_high: u32,
    ts_low: u32,
    orig_len: u32,
    data: &'a [u8],
}

/// Obsolete Packet Block body: if_id u16, drops u16, ts high/low u32, caplen u32, len u32,
/// data. `body` is the block without its type and length fields.
fn parse_opb(body: &[u8], big_endian: bool) -> Option<Opb<'_>> {
    let u16_at = |i: usize| -> Option<u16> {
        let b: [u8; 2] = body.get(i..i + 2)?.try_into().ok()?;
        Some(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = body.get(i..i + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let caplen = u32_at(12)? as usize;
    let rest = body.get(20..)?;
    Some(Opb {
        if_id: usize::from(u16_at(0)?),
        ts_high: u32_at(4)?,
        ts_low: u32_at(8)?,
        orig_len: u32_at(16)?,
        data: &rest[..caplen.min(rest.len())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::PcapWriter;
    use std::collections::VecDeque;

    /// A pipe that has delivered `chunks` so far: reading past them fails, as a read that
    /// would block for more.
    struct Pipe(VecDeque<Vec<u8>>);

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(mut chunk) = self.0.pop_front() else {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "waiting for more",
                ));
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.0.push_front(chunk.split_off(n));
            }
            Ok(n)
        }
    }

    /// A capture of `n` frames, written as tcpdump -U does: the header, then each record.
    fn chunks(n: usize) -> VecDeque<Vec<u8>> {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for i in 0..n {
            w.frame(Timestamp::from_nanos(i as i64), &[i as u8; 60], 60)
                .unwrap();
        }
        let all = w.into_inner();
        let mut out = VecDeque::from([all[..24].to_vec()]);
        out.extend(all[24..].chunks(16 + 60).map(<[u8]>::to_vec));
        out
    }

    fn reader(chunks: VecDeque<Vec<u8>>, stream: bool) -> Result<FileReader, CaptureError> {
        let source = match stream {
            true => InputSource::from_stream("pipe", Pipe(chunks)),
            false => InputSource::from_reader("pipe", Pipe(chunks)),
        };
        FileReader::new(source)
    }

    #[test]
    fn a_stream_hands_out_each_frame_as_it_arrives() {
        for split in [false, true] {
            let mut c = chunks(3);
            if split {
                // The header arrives in two pieces, a record in two.
                let h = c.pop_front().unwrap();
                c.push_front(h[10..].to_vec());
                c.push_front(h[..10].to_vec());
                let r = c.remove(3).unwrap();
                c.insert(3, r[20..].to_vec());
                c.insert(3, r[..20].to_vec());
            }
            let mut r = reader(c, true).expect("the header is read without waiting for more");
            for i in 0..3u8 {
                let f = r.next_frame().expect("no waiting").expect("a frame");
                assert_eq!(f.data, &[i; 60][..]);
            }
            // Only now does it wait for bytes that have not come.
            assert!(r.next_frame().is_err());
        }
    }

    #[test]
    fn a_file_is_read_in_large_blocks() {
        // The same bytes not marked as a stream: the reader asks for more before the first
        // frame (and so, from a real pipe, would wait for a megabyte).
        // (Here the "wait" is this pipe's error: the reader fails before any frame.)
        assert!(reader(chunks(3), false).is_err());
    }

    #[test]
    fn header_length_of_pcap_and_pcapng() {
        assert_eq!(header_len(&[0xd4, 0xc3, 0xb2, 0xa1]), 12);
        assert_eq!(
            header_len(&[0xd4, 0xc3, 0xb2, 0xa1, 0, 0, 0, 0, 0, 0, 0, 0]),
            24
        );
        let shb = [0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        assert_eq!(header_len(&shb), 28);
        let big = [0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 32, 0x1a, 0x2b, 0x3c, 0x4d];
        assert_eq!(header_len(&big), 32);
        let corrupt = [
            0x0a, 0x0d, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x4d, 0x3c, 0x2b, 0x1a,
        ];
        assert_eq!(header_len(&corrupt), 1 << 16);
    }
}
