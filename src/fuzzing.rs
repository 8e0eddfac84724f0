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
            input: 0,
        };
        if let Ok(seg) = decoder.decode(&frame) {
            table.process(&seg, frame.ts, frame.index, &mut handler);
        }
    }
    table.finish(&mut handler);
}

/// Any bytes as a capture file (pcap, pcapng, gzip) through the whole main job: capture,
/// packet, flow, recognition, dissectors, MIME and the session model, with tight limits and
/// every port followed. Each session must keep its indices in range (exchange → message,
/// message, credential or mailbox → exchange), serialise to JSON and render as text and
/// table. The bytes are read from memory (`pipeline::sessions_from`).
pub fn sessions(data: &[u8]) {
    run_sessions(data);
}

/// [`sessions`], saying how many sessions came out.
fn run_sessions(data: &[u8]) -> usize {
    use crate::pipeline::{Filter, InputConfig, SessionsConfig};
    let source = InputSource::from_reader("fuzz input", std::io::Cursor::new(data.to_vec()));
    let Ok(mut source) = FileReader::new(source) else {
        return 0;
    };
    let cfg = SessionsConfig {
        input: InputConfig {
            inputs: vec!["fuzz input".into()],
            ports: crate::proto::PortMap::default(),
            all_ports: true,
            limits: Limits {
                max_buffered_bytes: 4096,
                max_buffered_segments: 16,
                max_total_buffered: 16384,
                max_connections: 8,
                max_pending_fragments: 16,
                max_line: 256,
                max_message: 4096,
                max_decoding_bytes: 8192,
                max_exchanges: 16,
                max_replies: 4,
                max_reply_lines: 4,
                max_anomalies: 4,
                max_imap_line: 1024,
                max_imap_literals: 4,
                max_in_flight: 4,
                max_messages: 4,
                max_held_messages: 8192,
                max_sniff: 512,
                ..Limits::default()
            },
            count: None,
            live: None,
            stop: None,
        },
        filter: Filter::default(),
        show_secrets: true,
        tls_keylog: None,
        extract: None,
        threads: 1,
    };
    let mut sessions = Vec::new();
    let mut sink = |s: crate::session::Session| {
        sessions.push(s);
        Ok(())
    };
    let outcome = crate::pipeline::sessions_from(&cfg, &mut source, &mut sink, &mut |_| {});
    let Ok(outcome) = outcome else {
        return 0;
    };
    assert!(outcome.output_error.is_none());
    let mut last = 0;
    for s in &sessions {
        assert!(s.id > last, "sessions come in order of id");
        last = s.id;
        check_session(s);
    }
    let mut out = Vec::new();
    crate::render::table::write_sessions(&mut out, &sessions, &outcome.summary, true, false, None)
        .expect("table renders");
    sessions.len()
}

/// The invariants of one session of the model; see [`sessions`].
fn check_session(s: &crate::session::Session) {
    let (exchanges, messages) = (s.exchanges.len(), s.messages.len());
    for e in &s.exchanges {
        if let Some(i) = e.message {
            assert!(i < messages, "exchange points past the messages");
        }
    }
    for m in &s.messages {
        assert!(
            m.transfer.exchange < exchanges,
            "message points past the exchanges"
        );
    }
    for a in &s.auth {
        assert!(
            a.exchange < exchanges,
            "credential points past the exchanges"
        );
    }
    for m in &s.mailboxes {
        assert!(m.exchange < exchanges, "mailbox points past the exchanges");
    }
    let json = serde_json::to_string(s).expect("a session serialises");
    let back: serde_json::Value = serde_json::from_str(&json).expect("its JSON parses");
    assert_eq!(back["id"], s.id);
    let mut out = Vec::new();
    crate::render::text::write_session(&mut out, s, crate::render::text::Style::new(false))
        .expect("text renders");
}

/// Splits fuzz input into the chunks of a mail connection. Each chunk is a record:
///
/// ```text
/// ctl: u8 | len: u16 little-endian | len bytes (fewer if the input ends first)
/// ```
///
/// `ctl` bit 0 picks the side (0 client, 1 server); bit 7 puts a gap of `ctl & 0x0f` bytes on
/// that side before the data; bit 6 asks the dissector to shed what it holds first, as the
/// pipeline does when the memory budget runs out. Input shorter than a record's 3 header bytes
/// is ignored. The data can hold any byte, 0xff included (8-bit bodies, deflate data).
pub fn chunks(data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (&[ctl, lo, hi], tail) = rest.split_first_chunk::<3>()?;
        let len = usize::from(u16::from_le_bytes([lo, hi])).min(tail.len());
        let (chunk, tail) = tail.split_at(len);
        rest = tail;
        Some((ctl, chunk))
    })
}

/// Encodes `(ctl, data)` chunks in the format [`chunks`] reads (data longer than `u16::MAX`
/// becomes several chunks with the same `ctl`, minus the gap bit after the first).
pub fn encode_chunks<'a>(list: impl IntoIterator<Item = (u8, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (mut ctl, data) in list {
        let mut pieces = data.chunks(usize::from(u16::MAX)).peekable();
        if pieces.peek().is_none() {
            out.push(ctl);
            out.extend_from_slice(&[0, 0]);
        }
        for piece in pieces {
            out.push(ctl);
            out.extend_from_slice(&(piece.len() as u16).to_le_bytes());
            out.extend_from_slice(piece);
            ctl &= !0x80;
        }
    }
    out
}

/// Any bytes as the two streams of a mail connection (see [`chunks`] for the format) through
/// a dissector with tight limits, then every message through MIME. Checks the limits hold and
/// indices stay in range.
fn dissector(mut d: Box<dyn crate::proto::Dissector>, data: &[u8], max_message: usize) {
    use crate::proto::event::{Event, Mark, Side};
    d.record_all();
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
    for (i, (ctl, rest)) in chunks(data).enumerate() {
        let side = if ctl & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let mark = Mark {
            ts: Timestamp::from_nanos(i as i64),
            frame: i as u64,
        };
        if ctl & 0x40 != 0 {
            d.shed();
        }
        if ctl & 0x80 != 0 {
            d.on_gap(side, u64::from(ctl & 0x0f), mark);
        }
        d.on_data(side, rest, mark);
        fold(d.take_events(), &mut t);
    }
    d.end(Mark::default());
    fold(d.take_events(), &mut t);
    // The events said everything: what the builder folds equals what the dissector kept.
    let own = d.transcript();
    let list =
        |t: &crate::proto::transcript::Transcript| t.exchanges.iter().cloned().collect::<Vec<_>>();
    assert_eq!(
        list(&t),
        list(own),
        "exchanges folded from the events differ"
    );
    assert_eq!(t.auth(), own.auth(), "credentials differ");
    assert_eq!(t.mailboxes(), own.mailboxes(), "mailboxes differ");
    assert_eq!(t.capabilities(), own.capabilities(), "capabilities differ");
    let own = d.into_transcript();
    assert_eq!(t.anomalies(), own.anomalies(), "anomalies differ");
    t.messages = messages;
    check_transcript(&t, max_message);
}

/// The invariants of a finished transcript (its `messages` gathered from the events):
/// messages within `max_message` and decodable without a panic, and every index
/// (exchange → message, message → exchange, credential → exchange) in range.
fn check_transcript(t: &crate::proto::transcript::Transcript, max_message: usize) {
    for m in &t.messages {
        assert!(m.bytes.len() <= max_message);
        assert!(m.size >= m.bytes.len() as u64);
        let _ = crate::mime::parse(&m.bytes, false);
    }
    for e in &t.exchanges {
        if let Some(i) = e.message {
            assert!(i < t.messages.len(), "exchange points past the messages");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::transcript::{Exchange, Transcript};

    #[test]
    fn chunks_carry_any_byte_and_stop_at_the_end() {
        let data = encode_chunks([(0x01, &b"\xff\x00\xff"[..]), (0x80, &b""[..])]);
        assert_eq!(data, b"\x01\x03\x00\xff\x00\xff\x80\x00\x00");
        let got: Vec<_> = chunks(&data).collect();
        assert_eq!(got, vec![(0x01, &b"\xff\x00\xff"[..]), (0x80, &b""[..])]);
        // A length past the end takes what is left; a header cut short is dropped.
        let got: Vec<_> = chunks(b"\x00\x09\x00ab").collect();
        assert_eq!(got, vec![(0x00, &b"ab"[..])]);
        assert_eq!(chunks(b"\x00\x01").count(), 0);
    }

    #[test]
    fn an_8bit_body_reaches_the_dissector() {
        let body = b"Subject: \xff\xfe\r\n\r\n\xff\r\n";
        let mut steps: Vec<(u8, &[u8])> = vec![
            (1, b"220 mx\r\n"),
            (0, b"MAIL FROM:<a@x>\r\n"),
            (1, b"250 ok\r\n"),
            (0, b"DATA\r\n"),
            (1, b"354 go\r\n"),
        ];
        steps.push((0, body));
        steps.push((0, b".\r\n"));
        steps.push((1, b"250 queued\r\n"));
        let data = encode_chunks(steps);
        let mut d = crate::proto::smtp::Smtp::new(FUZZ_BOUNDS, false);
        for (ctl, chunk) in chunks(&data) {
            let side = if ctl & 1 == 0 {
                crate::proto::event::Side::Client
            } else {
                crate::proto::event::Side::Server
            };
            d.on_data(side, chunk, Default::default());
        }
        let t = d.finish(Default::default());
        let messages = t.messages;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].bytes, b"Subject: \xff\xfe\r\n\r\n\xff\r\n");
    }

    #[test]
    fn every_sample_runs_through_to_sessions_with_fuzzing_limits() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "pcap") {
                let data = std::fs::read(&path).unwrap();
                assert!(run_sessions(&data) > 0, "{}", path.display());
                n += 1;
            }
        }
        assert!(n >= 7);
    }

    /// An exchange may point at the last message but not one past it: the check that used
    /// `<=` let an off-by-one through.
    #[test]
    #[should_panic(expected = "exchange points past the messages")]
    fn an_exchange_pointing_one_past_the_messages_is_caught() {
        let mut t = Transcript::new(FUZZ_BOUNDS);
        t.push_exchange(Exchange {
            message: Some(0),
            ..Exchange::default()
        });
        check_transcript(&t, FUZZ_BOUNDS.max_message);
    }
}
