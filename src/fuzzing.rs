//! Harnesses shared by the cargo-fuzz targets (`fuzz/`) and the regression tests that replay
//! the inputs fuzzing found (`tests/fuzz-regressions/`). Each takes arbitrary bytes and
//! panics only when an invariant is broken.

use crate::capture::{FileReader, Frame, InputSource, LinkType};
use crate::flow::{Chunk, ConnInfo, ConnSummary, Direction, FlowTable, Gap, Handler};
use crate::limits::Limits;
use crate::packet::Decoder;
use crate::types::Timestamp;

/// Any bytes as a capture file: frames, a clean end or an error; never a panic, an endless
/// loop or an allocation the input asked for.
pub fn capture_reader(data: &[u8]) {
    let source = InputSource::from_reader("fuzz", std::io::Cursor::new(data.to_vec()));
    let Ok(mut reader) = FileReader::new(source) else {
        return;
    };
    let mut decoder = Decoder::new(64);
    let mut last = 0u64;
    while let Ok(Some(frame)) = reader.next_frame() {
        assert!(frame.index > last, "frame numbers increase");
        last = frame.index;
        let _ = decoder.decode(&frame);
    }
}

/// Checks the stream invariants: per direction, data and gaps arrive at contiguous offsets
/// and add up to what the connection summary reports.
struct Invariants;

impl Handler for Invariants {
    type State = [u64; 2];
    fn open(&mut self, _: &ConnInfo) -> [u64; 2] {
        [0, 0]
    }
    fn data(&mut self, next: &mut [u64; 2], _: &ConnInfo, dir: Direction, chunk: Chunk<'_>) {
        let n = &mut next[dir.index()];
        assert_eq!(chunk.offset, *n, "data offsets are contiguous");
        assert!(!chunk.data.is_empty(), "no empty data events");
        *n += chunk.data.len() as u64;
    }
    fn gap(&mut self, next: &mut [u64; 2], _: &ConnInfo, dir: Direction, gap: Gap) {
        let n = &mut next[dir.index()];
        assert_eq!(gap.offset, *n, "gaps are contiguous with data");
        assert!(gap.len > 0, "no empty gaps");
        *n += gap.len;
    }
    fn close(&mut self, next: [u64; 2], summary: &ConnSummary) {
        for (d, n) in next.iter().enumerate() {
            assert_eq!(*n, summary.dirs[d].bytes + summary.dirs[d].gap_bytes);
        }
    }
}

/// Any bytes as a sequence of frames (u16 LE length mod 2048, a link-type selector byte, the
/// frame bytes) through packet decoding and TCP reassembly, with tight limits.
pub fn packet_flow(data: &[u8]) {
    let limits = Limits {
        max_buffered_bytes: 4096,
        max_buffered_segments: 16,
        max_total_buffered: 16384,
        max_connections: 8,
        idle_timeout: std::time::Duration::from_secs(5),
        max_pending_fragments: 16,
        ..Limits::default()
    };
    let mut table: FlowTable<Invariants> = FlowTable::new(&limits, [25u16, 110, 143]);
    let mut decoder = Decoder::new(limits.max_pending_fragments);
    let mut handler = Invariants;
    let mut rest = data;
    let mut index = 0;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % 2048;
        let link = match rest[2] % 6 {
            0 => LinkType::Ethernet,
            1 => LinkType::Raw,
            2 => LinkType::Null,
            3 => LinkType::LinuxSll,
            4 => LinkType::LinuxSll2,
            _ => LinkType::Loop,
        };
        rest = &rest[3..];
        let (bytes, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        index += 1;
        let frame = Frame {
            index,
            ts: Timestamp::from_nanos(index as i64 * 500_000_000),
            link,
            orig_len: bytes.len() as u32 + (len as u32 & 0x3f),
            data: bytes,
        };
        if let Ok(seg) = decoder.decode(&frame) {
            table.process(&seg, frame.ts, frame.index, &mut handler);
        }
    }
    table.finish(&mut handler);
}

/// Any bytes as the two streams of a mail connection (the first byte of each 0xff-separated
/// chunk picks the side and maybe a gap) through a dissector with tight limits, then every
/// message through MIME. Checks the limits hold and indices stay in range.
fn dissector(mut d: Box<dyn crate::proto::Dissector>, data: &[u8], max_message: usize) {
    use crate::proto::event::{Event, Mark, Side};
    let mut messages = Vec::new();
    // The transcript as the session builder sees it: folded from the events.
    let mut t = crate::proto::transcript::Transcript::replica(FUZZ_BOUNDS);
    let mut fold = |events: Vec<Event>, t: &mut crate::proto::transcript::Transcript| {
        for e in events {
            match e {
                Event::Message(m) => messages.push(m),
                e => t.apply(e),
            }
        }
    };
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let Some((&ctl, rest)) = chunk.split_first() else {
            continue;
        };
        let side = if ctl & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let mark = Mark {
            ts: Timestamp::from_nanos(i as i64),
            frame: i as u64,
        };
        if ctl & 0x80 != 0 {
            d.on_gap(side, u64::from(ctl & 0x0f), mark);
        }
        d.on_data(side, rest, mark);
        fold(d.take_events(), &mut t);
    }
    d.end(Mark::default());
    fold(d.take_events(), &mut t);
    for m in &messages {
        assert!(m.bytes.len() <= max_message);
        assert!(m.size >= m.bytes.len() as u64);
        let _ = crate::mime::parse(&m.bytes, false);
    }
    for e in &t.exchanges {
        if let Some(i) = e.message {
            assert!(i <= messages.len(), "exchange points past the messages");
        }
    }
    for a in t.auth() {
        assert!(a.exchange < t.exchanges.len().max(1));
    }
}

/// Small limits, so fuzzing reaches them.
const FUZZ_BOUNDS: crate::proto::Bounds = crate::proto::Bounds {
    max_line: 256,
    max_message: 4096,
    max_exchanges: 64,
    max_replies: 8,
    max_reply_lines: 8,
    max_anomalies: 4,
    max_imap_line: 2048,
    max_imap_literals: 8,
    max_in_flight: 2,
    max_imap_depth: 4,
};

/// The SMTP dissector; see `dissector` in this module.
pub fn smtp(data: &[u8]) {
    let d = crate::proto::smtp::Smtp::new(FUZZ_BOUNDS, false);
    dissector(Box::new(d), data, FUZZ_BOUNDS.max_message);
}

/// The POP3 dissector; see `dissector` in this module.
pub fn pop3(data: &[u8]) {
    let d = crate::proto::pop3::Pop3::new(FUZZ_BOUNDS, false);
    dissector(Box::new(d), data, FUZZ_BOUNDS.max_message);
}

/// The IMAP dissector; see `dissector` in this module.
pub fn imap(data: &[u8]) {
    let d = crate::proto::imap::Imap::new(FUZZ_BOUNDS, false);
    dissector(Box::new(d), data, FUZZ_BOUNDS.max_message);
}

/// Any bytes as a message through the MIME layer, with and without bodies kept (sizes and
/// hashes must not depend on it); and as a base64 body, where the SIMD fast path must agree
/// with mail-parser's decoder.
pub fn mime(data: &[u8]) {
    let info = crate::mime::parse(data, true);
    for p in &info.parts {
        assert_eq!(p.size, p.body.len() as u64);
        assert!(!p.path.is_empty());
    }
    let lean = crate::mime::parse(data, false);
    let facts = |i: &crate::mime::MimeInfo| {
        i.parts
            .iter()
            .map(|p| (p.path.clone(), p.size, p.sha256.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(facts(&info), facts(&lean));
    crate::mime::check_base64_paths(data);
}
