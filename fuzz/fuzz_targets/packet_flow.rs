//! Any bytes as a sequence of frames (2-byte length, 1-byte link type selector, frame bytes)
//! through packet decoding and TCP reassembly. Checks the stream invariants: per direction,
//! data and gaps arrive at contiguous offsets, and buffering stays within the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailscope::capture::{Frame, LinkType, Timestamp};
use mailscope::flow::{Chunk, ConnInfo, ConnSummary, Direction, FlowTable, Handler};
use mailscope::limits::Limits;
use mailscope::packet::Decoder;

#[derive(Default)]
struct Check;

impl Handler for Check {
    type State = [u64; 2];
    fn open(&mut self, _: &ConnInfo) -> [u64; 2] {
        [0, 0]
    }
    fn data(&mut self, next: &mut [u64; 2], _: &ConnInfo, dir: Direction, chunk: Chunk<'_>) {
        let n = &mut next[dir.index()];
        assert_eq!(chunk.offset, *n, "data offsets are contiguous");
        assert!(!chunk.data.is_empty());
        *n += chunk.data.len() as u64;
    }
    fn gap(&mut self, next: &mut [u64; 2], _: &ConnInfo, dir: Direction, off: u64, len: u64, _: Timestamp) {
        let n = &mut next[dir.index()];
        assert_eq!(off, *n, "gaps are contiguous with data");
        assert!(len > 0);
        *n += len;
    }
    fn close(&mut self, next: [u64; 2], summary: &ConnSummary) {
        for d in 0..2 {
            assert_eq!(next[d], summary.dirs[d].bytes + summary.dirs[d].gap_bytes);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_buffered_bytes: 4096,
        max_buffered_segments: 16,
        max_total_buffered: 16384,
        max_connections: 8,
        idle_timeout: std::time::Duration::from_secs(5),
        max_pending_fragments: 16,
    };
    let mut table: FlowTable<Check> = FlowTable::new(&limits, [25u16, 110, 143]);
    let mut decoder = Decoder::new(limits.max_pending_fragments);
    let mut handler = Check;
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
        let take = len.min(rest.len());
        let (bytes, tail) = rest.split_at(take);
        rest = tail;
        index += 1;
        let frame = Frame {
            index,
            ts: Timestamp::from_nanos(index as i64 * 500_000_000),
            link,
            orig_len: take as u32 + (len as u32 & 0x3f),
            data: bytes,
        };
        if let Ok(seg) = decoder.decode(&frame) {
            table.process(&seg, frame.ts, frame.index, &mut handler);
        }
    }
    table.finish(&mut handler);
});
