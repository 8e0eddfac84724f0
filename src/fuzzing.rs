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
    run_capture(data, true).len()
}

/// A capture through the main job with tight limits (every port followed, or the default
/// port map); the sessions, checked.
fn run_capture(data: &[u8], all_ports: bool) -> Vec<crate::session::Session> {
    use crate::pipeline::{Filter, InputConfig, SessionsConfig};
    let source = InputSource::from_reader("fuzz input", std::io::Cursor::new(data.to_vec()));
    let Ok(mut source) = FileReader::new(source) else {
        return Vec::new();
    };
    let cfg = SessionsConfig {
        input: InputConfig {
            inputs: vec!["fuzz input".into()],
            ports: crate::proto::PortMap::default(),
            all_ports,
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
                max_tls_handshake: 8192,
                max_tls_certificates: 4,
                max_keylog_entries: 16,
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
        return Vec::new();
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
    sessions
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
        let _ = crate::mime::parse(&m.bytes.contiguous(), false);
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
    max_imap_field_chars: 64,
    max_imap_header_chars: 128,
    max_imap_header_fields: 4,
    max_imap_text_chars: 64,
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
/// hashes must not depend on it); and as a base64 and a quoted-printable body, where the
/// fast paths must agree with mail-parser's decoders.
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
    check_qp_paths(data);
}

/// Any bytes as a quoted-printable body: where the memchr fast path answers, it answers as
/// mail-parser's decoder does, and the decoder used in the end is mail-parser's answer.
pub fn check_qp_paths(data: &[u8]) {
    crate::mime::qp::check_paths(data);
}

/// The TLS fixtures (`tests/data/tls/*.json`: real OpenSSL sessions, both directions and
/// the key log), in name order: the key logs the [`tls`] target can pick by index.
/// `fuzz/seeds.py` numbers them the same way.
const TLS_FIXTURES: [&str; 11] = [
    include_str!("../tests/data/tls/tls10-ecdhe-rsa-aes128cbc-sha-etm.json"),
    include_str!("../tests/data/tls/tls11-rsa-aes256cbc-sha-mte.json"),
    include_str!("../tests/data/tls/tls12-ecdhe-rsa-aes128gcm.json"),
    include_str!("../tests/data/tls/tls12-ecdhe-rsa-chacha20.json"),
    include_str!("../tests/data/tls/tls12-rsa-aes128cbc-sha-etm.json"),
    include_str!("../tests/data/tls/tls12-rsa-aes128cbc-sha256-mte.json"),
    include_str!("../tests/data/tls/tls12-rsa-aes256gcm.json"),
    include_str!("../tests/data/tls/tls13-aes128gcm.json"),
    include_str!("../tests/data/tls/tls13-aes256gcm.json"),
    include_str!("../tests/data/tls/tls13-chacha20.json"),
    include_str!("../tests/data/tls/tls13-keyupdate.json"),
];

/// The fixtures' key logs (parsed once).
fn fixture_keylogs() -> &'static [String] {
    static LOGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        TLS_FIXTURES
            .iter()
            .map(|json| {
                let v: serde_json::Value = serde_json::from_str(json).expect("a fixture parses");
                v["keylog"].as_str().expect("a key log").to_owned()
            })
            .collect()
    })
}

/// A key log with every secret's last hex digit changed: the right randoms, wrong keys.
fn corrupted(keylog: &str) -> String {
    keylog
        .lines()
        .map(|l| {
            let mut l = l.to_owned();
            match l.pop() {
                Some('0') => l.push('1'),
                Some(_) => l.push('0'),
                None => {}
            }
            l + "\n"
        })
        .collect()
}

/// The key log text the [`tls`] input asks for, and the rest of the input. `None`: no key
/// log at all.
fn tls_keylog(data: &[u8]) -> (Option<Vec<u8>>, &[u8]) {
    let Some((&[sel, lo, hi], rest)) = data.split_first_chunk::<3>() else {
        return (None, &[]);
    };
    let arg = usize::from(u16::from_le_bytes([lo, hi]));
    let logs = fixture_keylogs();
    match sel & 3 {
        0 => (None, rest),
        1 => (Some(logs[arg % logs.len()].clone().into_bytes()), rest),
        2 => (Some(corrupted(&logs[arg % logs.len()]).into_bytes()), rest),
        _ => {
            let (log, rest) = rest.split_at(arg.min(rest.len()));
            (Some(log.to_vec()), rest)
        }
    }
}

/// The gap a TLS chunk's `ctl` asks for before its data (bit 7; bits 1–6 say how long:
/// 1–32 bytes, or 1–32 KiB), or 0.
fn tls_gap(ctl: u8) -> u64 {
    if ctl & 0x80 == 0 {
        return 0;
    }
    let n = u64::from((ctl >> 1) & 0x3f);
    if n < 32 { n + 1 } else { (n - 31) * 1024 }
}

/// Any bytes as one TLS connection: a key log, then the bytes of both directions with holes.
///
/// ```text
/// sel: u8 | arg: u16 LE | (sel & 3 == 3: arg bytes of key log) | chunks
/// ```
///
/// `sel & 3`: 0 no key log, 1 the key log of fixture `arg % 11` (see `TLS_FIXTURES`), 2 the
/// same with every secret wrong, 3 key log bytes from the input. The chunks are in the
/// format of [`chunks`]: `ctl` bit 0 the side (0 client), bit 7 a gap before the data (its
/// length from bits 1–6: 1–32 bytes, or 1–32 KiB). With `sel & 0x80`, the same connection
/// also goes through the whole main job ([`tls_sessions`]).
///
/// After every call to `Conn::next`: at most one record's plaintext out; `Info::plaintext`
/// is what was handed out per side; `Ok(false)` only once the input is used up, and then a
/// call with no input gives nothing; notes stay few. The whole input also goes through the
/// hello, certificate and key log parsers.
pub fn tls(data: &[u8]) {
    run_tls(data);
}

/// [`tls`], giving what the connection said.
fn run_tls(data: &[u8]) -> crate::transform::tls::conn::Info {
    use crate::transform::tls::conn::{Bounds, Conn, KeySource, NoKeys};
    use crate::transform::tls::{cert, hello, keylog::KeyLog};
    // The parsers, on anything.
    let _ = hello::client_hello(data);
    let _ = hello::server_hello(data);
    let _ = hello::encrypted_extensions_alpn(data);
    for tls13 in [false, true] {
        let chain = cert::chain(data, tls13, 4);
        assert!(chain.certificates.len() <= 4 && chain.certificates.len() <= chain.total);
    }
    let mut log = KeyLog::new(4);
    let _ = log.feed(data);
    let _ = log.finish();
    assert!(log.len() <= 4);

    let (text, rest) = tls_keylog(data);
    let mut keylog;
    let keys: &mut dyn KeySource = match &text {
        None => &mut NoKeys,
        Some(text) => {
            keylog = KeyLog::new(16);
            let _ = keylog.feed(text);
            let _ = keylog.finish();
            &mut keylog
        }
    };
    let bounds = Bounds {
        max_handshake: 8192,
        max_certificates: 4,
    };
    let mut conn = Conn::new(bounds);
    let mut handed = [0u64; 2];
    let mut notes = 0usize;
    let mut out = Vec::new();
    let mut n = 0usize;
    for (ctl, chunk) in chunks(rest) {
        n += 1;
        let client = ctl & 1 == 0;
        let s = usize::from(!client);
        let gap = tls_gap(ctl);
        if gap > 0
            && let Ok(Some(missing)) = conn.gap(client, gap)
        {
            assert_eq!(
                missing, gap,
                "a hole in the plaintext is the hole on the wire"
            );
        }
        let mut input = chunk;
        // Each call takes input or hands out a record kept from before (at most two
        // records' worth after a hole): the calls are bounded.
        let max_calls = chunk.len() + 2 * (5 + crate::transform::tls::conn::MAX_RECORD) + 2;
        let mut calls = 0;
        loop {
            calls += 1;
            assert!(
                calls <= max_calls,
                "Conn::next does not stop asking to be called"
            );
            let r = conn.next(client, &mut input, &mut out, keys);
            assert!(out.len() <= 16384 + 256, "one record's plaintext at a time");
            handed[s] += out.len() as u64;
            assert_eq!(
                conn.info().plaintext,
                handed,
                "Info::plaintext is what came out"
            );
            match r {
                Ok(true) => {}
                Ok(false) => {
                    assert!(input.is_empty(), "Ok(false) with input left");
                    break;
                }
                // Not TLS: the rest of the direction is dropped (calls go on, as a hostile
                // caller might).
                Err(_) => break,
            }
        }
        // Nothing pending now: no input gives no output.
        let mut empty: &[u8] = &[];
        let r = conn.next(client, &mut empty, &mut out, keys);
        assert!(out.is_empty(), "a call with no input handed out plaintext");
        assert!(!matches!(r, Ok(true)), "nothing to read, and Ok(true)");
        notes += conn.take_notes().len();
        assert!(notes < n * 4 + 8, "{notes} notes after {n} chunks");
    }
    let info = conn.info().clone();
    assert!(info.certificates.len() <= bounds.max_certificates);
    if data.first().is_some_and(|sel| sel & 0x80 != 0) {
        tls_sessions(data);
    }
    info
}

/// The [`tls`] input as a capture through the whole main job: a pcapng of one connection
/// to port 465 (implicit TLS), the key log as its Decryption Secrets Block, the chunks as
/// TCP segments (a gap: bytes never captured). The sessions keep the invariants of
/// [`sessions`].
pub fn tls_sessions(data: &[u8]) {
    run_tls_sessions(data);
}

/// [`tls_sessions`], giving the sessions.
fn run_tls_sessions(data: &[u8]) -> Vec<crate::session::Session> {
    use crate::synth::{Conversation, PcapngWriter, Side};
    let (text, rest) = tls_keylog(data);
    let mut c = Conversation::new(
        ("10.0.0.1".parse().expect("an address"), 40000),
        ("10.0.0.2".parse().expect("an address"), 465),
        [1, 1],
    );
    c.handshake();
    for (ctl, chunk) in chunks(rest) {
        let side = if ctl & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let gap = tls_gap(ctl);
        if gap > 0 {
            let kept = c.frames.len();
            c.send(side, &vec![0; gap as usize]);
            c.frames.truncate(kept);
        }
        c.send(side, chunk);
    }
    c.close();
    let mut w = PcapngWriter::new(Vec::new()).expect("writing to memory");
    w.interface(1, 9).expect("writing to memory");
    let head = w.into_inner();
    let mut w = PcapngWriter::new(Vec::new()).expect("writing to memory");
    w.interface(1, 9).expect("writing to memory");
    for f in &c.frames {
        w.epb(0, f.ts, &f.data).expect("writing to memory");
    }
    let packets = w.into_inner();
    // The section and interface, the secrets, then the packets.
    let mut file = head.clone();
    if let Some(text) = &text {
        // Decryption Secrets Block: type 0x0a, secrets type TLSK, the text padded to 4.
        let mut body = Vec::new();
        body.extend_from_slice(&0x544c_534bu32.to_le_bytes());
        body.extend_from_slice(&(text.len() as u32).to_le_bytes());
        body.extend_from_slice(text);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = (body.len() + 12) as u32;
        file.extend_from_slice(&0x0au32.to_le_bytes());
        file.extend_from_slice(&len.to_le_bytes());
        file.extend_from_slice(&body);
        file.extend_from_slice(&len.to_le_bytes());
    }
    file.extend_from_slice(&packets[head.len()..]);
    run_capture(&file, false)
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

    /// A fixture of tests/data/tls as a [`tls`] input: the ClientHello, the server's bytes,
    /// the rest of the client's (as fuzz/seeds.py writes them), with key log `sel`.
    fn tls_seed(index: usize, sel: u8) -> (serde_json::Value, Vec<u8>) {
        let v: serde_json::Value = serde_json::from_str(TLS_FIXTURES[index]).unwrap();
        let hex = |k: &str| hex::decode(v[k].as_str().unwrap()).unwrap();
        let (client, server) = (hex("client"), hex("server"));
        let hello = 5 + usize::from(u16::from_be_bytes([client[3], client[4]]));
        let mut data = vec![sel];
        data.extend_from_slice(&(index as u16).to_le_bytes());
        data.extend(encode_chunks([
            (0, &client[..hello]),
            (1, &server[..]),
            (0, &client[hello..]),
        ]));
        (v, data)
    }

    #[test]
    fn the_tls_fixtures_are_all_listed_in_name_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let listed: Vec<_> = TLS_FIXTURES
            .iter()
            .map(|j| serde_json::from_str::<serde_json::Value>(j).unwrap()["name"].clone())
            .collect();
        assert_eq!(listed, names);
    }

    /// The seeds decrypt: the fuzzer starts from sessions that are read, and the harness's
    /// invariants hold on them.
    #[test]
    fn tls_seeds_decrypt_with_their_key_log_and_not_without() {
        use crate::transform::tls::conn::Decrypted;
        for i in 0..TLS_FIXTURES.len() {
            let (v, data) = tls_seed(i, 1);
            let info = run_tls(&data);
            assert_eq!(info.decrypted, Decrypted::Yes, "{}", v["name"]);
            let plain = |k: &str| v[k].as_str().unwrap().len() as u64 / 2;
            assert_eq!(
                info.plaintext,
                [plain("client_plain"), plain("server_plain")]
            );
            for sel in [0, 2] {
                let (_, data) = tls_seed(i, sel);
                let info = run_tls(&data);
                assert_eq!(info.plaintext, [0, 0], "{} sel {sel}", v["name"]);
                assert_ne!(info.decrypted, Decrypted::Yes);
            }
        }
    }

    /// The pipeline mode: a fixture on port 465 with its key log in the capture is read.
    #[test]
    fn tls_sessions_reads_a_fixture_with_embedded_secrets() {
        let (_, data) = tls_seed(2, 0x81);
        let sessions = run_tls_sessions(&data);
        assert_eq!(sessions.len(), 1);
        let json = serde_json::to_value(&sessions[0]).unwrap();
        assert_eq!(json["tls"]["decrypted"], true, "{}", json["tls"]);
        assert!(json.to_string().contains("MAIL FROM"), "{json}");
        // Without the key log: not decrypted.
        let (_, data) = tls_seed(2, 0x80);
        let json = serde_json::to_value(&run_tls_sessions(&data)[0]).unwrap();
        assert_ne!(json["tls"]["decrypted"], true);
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
