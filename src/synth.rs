//! Synthetic captures for tests, samples, benchmarks and fuzz seeds: a pcap writer and a TCP
//! conversation builder (etherparse's packet builder underneath) that can reorder, duplicate,
//! overlap and drop segments deterministically. Not used when analysing real captures.

use crate::types::Timestamp;
use etherparse::PacketBuilder;
use std::io::{self, Write};
use std::net::IpAddr;

/// Writes a classic pcap: little-endian microseconds by default, or big-endian and/or
/// nanosecond resolution.
pub struct PcapWriter<W: Write> {
    out: W,
    big_endian: bool,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Little-endian, microseconds, LINKTYPE_ETHERNET.
    pub fn new(out: W) -> io::Result<PcapWriter<W>> {
        Self::with_options(out, 1, 262_144, false, false)
    }

    pub fn with_options(
        mut out: W,
        link: u32,
        snaplen: u32,
        big_endian: bool,
        nanos: bool,
    ) -> io::Result<PcapWriter<W>> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        out.write_all(&u32b(magic))?;
        out.write_all(&u16b(2))?;
        out.write_all(&u16b(4))?;
        out.write_all(&[0; 8])?;
        out.write_all(&u32b(snaplen))?;
        out.write_all(&u32b(link))?;
        Ok(PcapWriter {
            out,
            big_endian,
            nanos,
        })
    }

    /// Writes a frame; `orig_len` larger than `data` records a snaplen cut.
    pub fn frame(&mut self, ts: Timestamp, data: &[u8], orig_len: usize) -> io::Result<()> {
        let ns = ts.as_nanos().max(0);
        let secs = (ns / 1_000_000_000) as u32;
        let frac = if self.nanos {
            (ns % 1_000_000_000) as u32
        } else {
            ((ns % 1_000_000_000) / 1000) as u32
        };
        let fields = [
            secs,
            frac,
            data.len() as u32,
            orig_len.max(data.len()) as u32,
        ];
        for v in fields {
            let b = if self.big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            self.out.write_all(&b)?;
        }
        self.out.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Writes a little-endian pcapng: one section, interfaces added with [`Self::interface`].
pub struct PcapngWriter<W: Write> {
    out: W,
    /// Units per second of each interface.
    resolution: Vec<u64>,
}

impl<W: Write> PcapngWriter<W> {
    pub fn new(mut out: W) -> io::Result<PcapngWriter<W>> {
        // Section Header Block: magic, version 1.0, section length unknown.
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        write_block(&mut out, 0x0a0d_0d0a, &body)?;
        Ok(PcapngWriter {
            out,
            resolution: Vec::new(),
        })
    }

    /// Adds an interface; `tsresol` is the pcapng `if_tsresol` byte (6 = µs, 9 = ns).
    pub fn interface(&mut self, link: u16, tsresol: u8) -> io::Result<u32> {
        let mut body = Vec::new();
        body.extend_from_slice(&link.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&262_144u32.to_le_bytes());
        // Option if_tsresol (9), length 1, padded; then opt_endofopt.
        body.extend_from_slice(&9u16.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[tsresol, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]);
        write_block(&mut self.out, 1, &body)?;
        let units = if tsresol & 0x80 == 0 {
            10u64.pow(u32::from(tsresol))
        } else {
            1u64 << (tsresol & 0x7f)
        };
        self.resolution.push(units);
        Ok(self.resolution.len() as u32 - 1)
    }

    fn ticks(&self, iface: u32, ts: Timestamp) -> u64 {
        let units = self
            .resolution
            .get(iface as usize)
            .copied()
            .unwrap_or(1_000_000);
        let ns = ts.as_nanos().max(0) as u128;
        (ns * u128::from(units) / 1_000_000_000) as u64
    }

    /// Enhanced Packet Block.
    pub fn epb(&mut self, iface: u32, ts: Timestamp, data: &[u8]) -> io::Result<()> {
        let t = self.ticks(iface, ts);
        let mut body = Vec::new();
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&((t >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(t as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        pad4(&mut body);
        write_block(&mut self.out, 6, &body)
    }

    /// Simple Packet Block (interface 0, no timestamp).
    pub fn spb(&mut self, data: &[u8]) -> io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        pad4(&mut body);
        write_block(&mut self.out, 3, &body)
    }

    /// Obsolete Packet Block.
    pub fn opb(&mut self, iface: u16, ts: Timestamp, data: &[u8]) -> io::Result<()> {
        let t = self.ticks(u32::from(iface), ts);
        let mut body = Vec::new();
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&((t >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(t as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        pad4(&mut body);
        write_block(&mut self.out, 2, &body)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

fn pad4(body: &mut Vec<u8>) {
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
}

fn write_block<W: Write>(out: &mut W, kind: u32, body: &[u8]) -> io::Result<()> {
    let len = (body.len() + 12) as u32;
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&len.to_le_bytes())
}

/// Re-frames an Ethernet frame (as [`Conversation`] builds them) for another link type:
/// LINKTYPE_RAW (101), NULL (0), LINUX_SLL (113), LINUX_SLL2 (276); `vlans` 802.1Q tags
/// (outermost first; two make QinQ) for Ethernet (1).
pub fn reframe(ethernet: &[u8], link: u32, vlans: &[u16]) -> Vec<u8> {
    let (macs, ether_type, ip) = (&ethernet[..12], &ethernet[12..14], &ethernet[14..]);
    let is_v6 = ether_type == [0x86, 0xdd];
    let mut out = Vec::with_capacity(ethernet.len() + 20);
    match link {
        101 => {}
        0 => out.extend_from_slice(&(if is_v6 { 30u32 } else { 2u32 }).to_le_bytes()),
        113 => {
            out.extend_from_slice(&[0, 0, 0, 1, 0, 6]);
            out.extend_from_slice(&macs[6..12]);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(ether_type);
        }
        276 => {
            out.extend_from_slice(ether_type);
            out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6]);
            out.extend_from_slice(&macs[6..12]);
            out.extend_from_slice(&[0, 0]);
        }
        _ => {
            out.extend_from_slice(macs);
            for (i, vid) in vlans.iter().enumerate() {
                let tpid: [u8; 2] = if i == 0 && vlans.len() > 1 {
                    [0x88, 0xa8]
                } else {
                    [0x81, 0x00]
                };
                out.extend_from_slice(&tpid);
                out.extend_from_slice(&vid.to_be_bytes());
            }
            out.extend_from_slice(ether_type);
        }
    }
    out.extend_from_slice(ip);
    out
}

/// Splits the IPv4 datagram of an Ethernet frame into fragments carrying at most `size`
/// payload bytes each (a multiple of 8), as a router would.
pub fn fragment_ipv4(ethernet: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (l2, ip) = ethernet.split_at(14);
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let (header, payload) = ip.split_at(ihl);
    let size = (size / 8).max(1) * 8;
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < payload.len() {
        let end = (offset + size).min(payload.len());
        let more = end < payload.len();
        let mut h = header.to_vec();
        let total = (ihl + end - offset) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        let flags_off = ((offset / 8) as u16) | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&flags_off.to_be_bytes());
        h[10..12].copy_from_slice(&[0, 0]);
        let mut sum = 0u32;
        for w in h.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        let mut frame = l2.to_vec();
        frame.extend_from_slice(&h);
        frame.extend_from_slice(&payload[offset..end]);
        out.push(frame);
        offset = end;
    }
    out
}

/// Splits the IPv6 packet of an Ethernet frame (fixed header only, no extension headers)
/// into fragments carrying at most `size` bytes each (a multiple of 8), with a Fragment
/// header (RFC 8200 4.5) as the sending host would.
pub fn fragment_ipv6(ethernet: &[u8], size: usize, id: u32) -> Vec<Vec<u8>> {
    let (l2, ip) = ethernet.split_at(14);
    let (header, payload) = ip.split_at(40);
    let next = header[6];
    let size = (size / 8).max(1) * 8;
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < payload.len() {
        let end = (offset + size).min(payload.len());
        let more = end < payload.len();
        let mut h = header.to_vec();
        h[4..6].copy_from_slice(&((8 + end - offset) as u16).to_be_bytes());
        h[6] = 44;
        let mut frame = l2.to_vec();
        frame.extend_from_slice(&h);
        frame.extend_from_slice(&[next, 0]);
        frame.extend_from_slice(&((offset as u16) | u16::from(more)).to_be_bytes());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&payload[offset..end]);
        out.push(frame);
        offset = end;
    }
    out
}

/// One synthetic frame, not yet written.
#[derive(Clone, Debug)]
pub struct SynthFrame {
    pub ts: Timestamp,
    pub data: Vec<u8>,
    /// Payload carried (for the disorder helpers).
    pub payload_len: usize,
}

/// Which side sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// A scripted TCP connection between two IPv4 endpoints, segmented at `mss`.
pub struct Conversation {
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    /// Next sequence number per side.
    seq: [u32; 2],
    pub mss: usize,
    pub ts: Timestamp,
    pub step_ns: i64,
    pub frames: Vec<SynthFrame>,
    /// `close` or `reset` was called.
    pub closed: bool,
    /// In [`Conversation::send`], the peer acknowledges every this many segments (delayed
    /// ACKs); 0: only where the caller sends an ACK.
    pub ack_every: usize,
}

#[derive(Clone, Copy)]
struct TcpFlags {
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    psh: bool,
}

const ACK: TcpFlags = TcpFlags {
    syn: false,
    ack: true,
    fin: false,
    rst: false,
    psh: false,
};

impl Conversation {
    pub fn new(client: (IpAddr, u16), server: (IpAddr, u16), isn: [u32; 2]) -> Self {
        Conversation {
            client,
            server,
            seq: isn,
            mss: 1448,
            ts: Timestamp::from_nanos(1_700_000_000_000_000_000),
            step_ns: 100_000,
            frames: Vec::new(),
            closed: false,
            ack_every: 0,
        }
    }

    fn idx(side: Side) -> usize {
        match side {
            Side::Client => 0,
            Side::Server => 1,
        }
    }

    /// Builds one Ethernet/IPv4/TCP frame; the caller decides the sequence numbers.
    fn raw(&self, side: Side, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = match side {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        };
        let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let mut b = match (src.0, dst.0) {
            (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), 64),
            (s, d) => eth.ipv4(v4_octets(s), v4_octets(d), 64),
        }
        .tcp(src.1, dst.1, seq, 65535);
        if flags.syn {
            b = b.syn();
        }
        if flags.ack {
            b = b.ack(ack);
        }
        if flags.fin {
            b = b.fin();
        }
        if flags.rst {
            b = b.rst();
        }
        if flags.psh {
            b = b.psh();
        }
        let mut out = Vec::with_capacity(b.size(payload.len()));
        // Writing into a Vec cannot fail, and the payload is below the IPv4 limit.
        let _ = b.write(&mut out, payload);
        out
    }

    fn push(&mut self, data: Vec<u8>, payload_len: usize) {
        self.ts = Timestamp::from_nanos(self.ts.as_nanos() + self.step_ns);
        self.frames.push(SynthFrame {
            ts: self.ts,
            data,
            payload_len,
        });
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) {
        let syn = TcpFlags {
            syn: true,
            ack: false,
            ..ACK
        };
        let f = self.raw(Side::Client, self.seq[0], 0, syn, &[]);
        self.push(f, 0);
        self.seq[0] = self.seq[0].wrapping_add(1);
        let synack = TcpFlags { syn: true, ..ACK };
        let f = self.raw(Side::Server, self.seq[1], self.seq[0], synack, &[]);
        self.push(f, 0);
        self.seq[1] = self.seq[1].wrapping_add(1);
        let f = self.raw(Side::Client, self.seq[0], self.seq[1], ACK, &[]);
        self.push(f, 0);
    }

    /// Sends `data` from `side` in MSS-sized segments, each acknowledging the peer (and,
    /// with `ack_every`, the peer acknowledging them between).
    pub fn send(&mut self, side: Side, data: &[u8]) {
        let me = Self::idx(side);
        let chunks = data.len().div_ceil(self.mss.max(1));
        for (k, chunk) in data.chunks(self.mss.max(1)).enumerate() {
            let flags = TcpFlags { psh: true, ..ACK };
            let f = self.raw(side, self.seq[me], self.seq[1 - me], flags, chunk);
            self.push(f, chunk.len());
            self.seq[me] = self.seq[me].wrapping_add(chunk.len() as u32);
            if self.ack_every > 0 && (k + 1) % self.ack_every == 0 && k + 1 < chunks {
                self.ack(match side {
                    Side::Client => Side::Server,
                    Side::Server => Side::Client,
                });
            }
        }
    }

    /// A bare ACK from `side` for everything the peer sent.
    pub fn ack(&mut self, side: Side) {
        let me = Self::idx(side);
        let f = self.raw(side, self.seq[me], self.seq[1 - me], ACK, &[]);
        self.push(f, 0);
    }

    /// A segment with explicit sequence number (overlaps, conflicting retransmissions).
    pub fn send_at(&mut self, side: Side, seq: u32, data: &[u8]) {
        let me = Self::idx(side);
        let flags = TcpFlags { psh: true, ..ACK };
        let f = self.raw(side, seq, self.seq[1 - me], flags, data);
        self.push(f, data.len());
    }

    /// Next sequence number of `side`.
    pub fn next_seq(&self, side: Side) -> u32 {
        self.seq[Self::idx(side)]
    }

    /// FIN from the client, FIN from the server, final ACK.
    pub fn close(&mut self) {
        let fin = TcpFlags { fin: true, ..ACK };
        let f = self.raw(Side::Client, self.seq[0], self.seq[1], fin, &[]);
        self.push(f, 0);
        self.seq[0] = self.seq[0].wrapping_add(1);
        let f = self.raw(Side::Server, self.seq[1], self.seq[0], fin, &[]);
        self.push(f, 0);
        self.seq[1] = self.seq[1].wrapping_add(1);
        let f = self.raw(Side::Client, self.seq[0], self.seq[1], ACK, &[]);
        self.push(f, 0);
        self.closed = true;
    }

    /// RST from `side`.
    pub fn reset(&mut self, side: Side) {
        let me = Self::idx(side);
        let rst = TcpFlags { rst: true, ..ACK };
        let f = self.raw(side, self.seq[me], self.seq[1 - me], rst, &[]);
        self.push(f, 0);
        self.closed = true;
    }
}

fn v4_octets(ip: IpAddr) -> [u8; 4] {
    match ip {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or([0; 4], |v4| v4.octets()),
    }
}

/// A small deterministic PRNG (xorshift64*), so generated captures are reproducible without
/// a dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Disorders frames in place, as capture points do (SPAN ports, multi-queue NICs, merged
/// files): about `reorder_pct` % of data frames are held back 1–3 frames, behind whatever
/// follows them (later data, and the peer's ACKs covering them), and about `dup_pct` % are
/// sent again 2–5 frames later (retransmissions). Frame timestamps keep their order of
/// appearance.
pub fn disorder(frames: &mut Vec<SynthFrame>, rng: &mut Rng, reorder_pct: u64, dup_pct: u64) {
    let n = frames.len();
    let mut out: Vec<SynthFrame> = Vec::with_capacity(n + n / 50);
    // (release once `out` holds this many frames, frame)
    let mut held: Vec<(usize, SynthFrame)> = Vec::new();
    for f in frames.drain(..) {
        let data = f.payload_len > 0;
        if data && rng.below(100) < reorder_pct {
            held.push((out.len() + 1 + rng.below(3) as usize, f));
            continue;
        }
        if data && rng.below(100) < dup_pct {
            held.push((out.len() + 3 + rng.below(4) as usize, f.clone()));
        }
        out.push(f);
        while let Some(k) = held.iter().position(|(at, _)| *at <= out.len()) {
            let (_, f) = held.remove(k);
            out.push(f);
        }
    }
    held.sort_by_key(|(at, _)| *at);
    out.extend(held.into_iter().map(|(_, f)| f));
    // Timestamps in file order, as a capture would record them.
    let mut ts: Vec<Timestamp> = out.iter().map(|f| f.ts).collect();
    ts.sort_unstable();
    for (f, t) in out.iter_mut().zip(ts) {
        f.ts = t;
    }
    *frames = out;
}

/// Standard base64 with 76-character lines and CRLF, as MIME writes it.
pub fn base64_mime(data: &[u8]) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(data.len() * 4 / 3 + data.len() / 38 + 4);
    let mut line = 0;
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(A[(v >> 18) as usize & 63]);
        out.push(A[(v >> 12) as usize & 63]);
        out.push(if c.len() > 1 {
            A[(v >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if c.len() > 2 {
            A[v as usize & 63]
        } else {
            b'='
        });
        line += 4;
        if line == 76 {
            out.extend_from_slice(b"\r\n");
            line = 0;
        }
    }
    if line > 0 {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A MIME message with a text part and a base64 attachment of `attach_len` random bytes.
pub fn mail_message(rng: &mut Rng, n: u64, attach_len: usize) -> Vec<u8> {
    let mut attachment = vec![0u8; attach_len];
    rng.fill(&mut attachment);
    let mut m = Vec::with_capacity(attach_len * 4 / 3 + 1024);
    m.extend_from_slice(
        format!(
            "From: Sender {n} <sender{n}@example.net>\r\n\
             To: alice@example.test\r\n\
             Subject: Report {n}\r\n\
             Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
             Message-ID: <{n}.bench@example.net>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b{n}\"\r\n\
             \r\n\
             --b{n}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             \r\n\
             Hello, report {n} is attached.\r\n\
             --b{n}\r\n\
             Content-Type: application/octet-stream\r\n\
             Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"report-{n}.bin\"\r\n\
             \r\n"
        )
        .as_bytes(),
    );
    m.extend_from_slice(&base64_mime(&attachment));
    m.extend_from_slice(format!("--b{n}--\r\n").as_bytes());
    m
}

/// What each side says in one mail session carrying `message` (no dot-stuffing is needed:
/// [`mail_message`] has no line starting with a dot).
pub fn session_script(protocol: u8, message: &[u8]) -> Vec<(Side, Vec<u8>)> {
    let s = |t: &str| (Side::Server, t.as_bytes().to_vec());
    let c = |t: &str| (Side::Client, t.as_bytes().to_vec());
    let mut body = message.to_vec();
    match protocol % 3 {
        0 => {
            body.extend_from_slice(b".\r\n");
            vec![
                s("220 mail.example.test ESMTP Postfix\r\n"),
                c("EHLO client.example.test\r\n"),
                s(
                    "250-mail.example.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250 8BITMIME\r\n",
                ),
                c("MAIL FROM:<sender@example.net>\r\n"),
                s("250 2.1.0 Ok\r\n"),
                c("RCPT TO:<alice@example.test>\r\n"),
                s("250 2.1.5 Ok\r\n"),
                c("DATA\r\n"),
                s("354 End data with <CR><LF>.<CR><LF>\r\n"),
                (Side::Client, body),
                s("250 2.0.0 Ok: queued as 4F2A1\r\n"),
                c("QUIT\r\n"),
                s("221 2.0.0 Bye\r\n"),
            ]
        }
        1 => {
            let mut reply = format!("+OK {} octets\r\n", message.len()).into_bytes();
            reply.extend_from_slice(&body);
            reply.extend_from_slice(b".\r\n");
            vec![
                s("+OK Dovecot ready.\r\n"),
                c("USER alice\r\n"),
                s("+OK\r\n"),
                c("PASS Wonderland-2024\r\n"),
                s("+OK Logged in.\r\n"),
                c("RETR 1\r\n"),
                (Side::Server, reply),
                c("QUIT\r\n"),
                s("+OK Logging out.\r\n"),
            ]
        }
        _ => {
            let mut reply = format!("* 1 FETCH (BODY[] {{{}}}\r\n", message.len()).into_bytes();
            reply.extend_from_slice(&body);
            reply.extend_from_slice(b")\r\na3 OK Fetch completed.\r\n");
            vec![
                s("* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Dovecot ready.\r\n"),
                c("a1 LOGIN alice Wonderland-2024\r\n"),
                s("a1 OK Logged in\r\n"),
                c("a2 SELECT INBOX\r\n"),
                s("* 1 EXISTS\r\n* 0 RECENT\r\na2 OK [READ-WRITE] Select completed.\r\n"),
                c("a3 FETCH 1 BODY[]\r\n"),
                (Side::Server, reply),
                c("a4 LOGOUT\r\n"),
                s("* BYE Logging out\r\na4 OK Logout completed.\r\n"),
            ]
        }
    }
}

/// Writes about `target_bytes` of concurrent mail sessions (SMTP 25, POP3 110, IMAP 143 in
/// turn, 1448-byte segments, attachments of 16 KiB to 1 MiB) as a pcap. With `disorder`, the
/// receiver acknowledges every second segment and each burst goes through [`disorder`]: about
/// 2 % of data segments held back 1–3 frames (often behind the ACK covering them) and 1 %
/// retransmitted; the connections and their bytes are the same either way. Returns the
/// number of sessions written.
pub fn write_mail_traffic<W: Write>(
    out: W,
    target_bytes: u64,
    concurrency: usize,
    disorder_frames: bool,
) -> io::Result<u64> {
    write_traffic(out, None, target_bytes, concurrency, disorder_frames)
}

/// [`write_mail_traffic`], and with `keylog` its TLS variant: the same sessions (same
/// plaintext, same stop point), each one implicit TLS on 465/995/993 ([`tls_script`]: TLS 1.3
/// TLS_AES_128_GCM_SHA256, every fourth session TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256), whose
/// secrets are written to `keylog` in the NSS key log format.
pub fn write_traffic<W: Write>(
    out: W,
    keylog: Option<&mut dyn Write>,
    target_bytes: u64,
    concurrency: usize,
    disorder_frames: bool,
) -> io::Result<u64> {
    write_traffic_with(
        out,
        keylog,
        target_bytes,
        concurrency,
        disorder_frames,
        ATTACHMENTS,
    )
}

/// Attachment sizes of the benchmark's traffic: 16 KiB to 1 MiB.
pub const ATTACHMENTS: std::ops::Range<usize> = 16 * 1024..1024 * 1024;

/// [`write_traffic`] with attachments of `attachments` bytes (a random size in the range,
/// per session): small ones make a capture of many small messages, where per-message costs
/// show.
pub fn write_traffic_with<W: Write>(
    out: W,
    mut keylog: Option<&mut dyn Write>,
    target_bytes: u64,
    concurrency: usize,
    disorder_frames: bool,
    attachments: std::ops::Range<usize>,
) -> io::Result<u64> {
    let tls = keylog.is_some();
    let span = attachments.end.saturating_sub(attachments.start).max(1) as u64;
    struct Live {
        conv: Conversation,
        script: std::collections::VecDeque<(Side, Vec<u8>)>,
        ready: std::collections::VecDeque<SynthFrame>,
        disorder: Rng,
    }
    let mut w = PcapWriter::new(io::BufWriter::with_capacity(1 << 20, out))?;
    let mut pick = Rng::new(0x5eed);
    let mut live: Vec<Live> = Vec::new();
    let mut started = 0u64;
    // Payload scripted so far: the stop criterion, identical with or without disorder.
    let mut scripted = 0u64;
    let mut ts = 1_700_000_000_000_000_000i64;
    let start_session = |n: u64| -> (Live, u64, String) {
        // Content depends only on the session number, never on the disorder option.
        let mut rng = Rng::new(n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let attach = attachments.start + rng.below(span) as usize;
        let message = mail_message(&mut rng, n, attach);
        let protocol = (n % 3) as u8;
        let port = if tls {
            [465, 995, 993][usize::from(protocol)]
        } else {
            [25, 110, 143][usize::from(protocol)]
        };
        let client = IpAddr::from([10, 1, (n >> 16) as u8 & 0x3f, (n >> 8) as u8]);
        let server = IpAddr::from([10, 2, 0, 1 + (n % 7) as u8]);
        let cport = 1024 + (n % 60000) as u16;
        let isn = [rng.next_u64() as u32, rng.next_u64() as u32];
        let mut conv = Conversation::new((client, cport), (server, port), isn);
        if disorder_frames {
            conv.ack_every = 2;
        }
        conv.handshake();
        let clear = session_script(protocol, &message);
        // The stop criterion counts the plaintext, so both variants hold the same sessions.
        let payload = clear.iter().map(|(_, d)| d.len() as u64).sum();
        let (script, keys) = if tls {
            let version = if n % 4 == 3 {
                TlsVersion::Tls12
            } else {
                TlsVersion::Tls13
            };
            tls_script(n, version, "mail.example.test", &clear)
        } else {
            (clear, String::new())
        };
        let live = Live {
            conv,
            script: script.into(),
            ready: std::collections::VecDeque::new(),
            disorder: Rng::new(n + 1),
        };
        (live, payload, keys)
    };
    loop {
        while live.len() < concurrency && scripted < target_bytes {
            let (session, payload, keys) = start_session(started);
            scripted += payload;
            if let Some(k) = keylog.as_mut() {
                k.write_all(keys.as_bytes())?;
            }
            live.push(session);
            started += 1;
        }
        if live.is_empty() {
            break;
        }
        let i = pick.below(live.len() as u64) as usize;
        let l = &mut live[i];
        if l.ready.is_empty() {
            match l.script.pop_front() {
                Some((side, data)) => {
                    l.conv.send(side, &data);
                    l.conv.ack(match side {
                        Side::Client => Side::Server,
                        Side::Server => Side::Client,
                    });
                }
                None => l.conv.close(),
            }
            let mut batch = std::mem::take(&mut l.conv.frames);
            if disorder_frames {
                disorder(&mut batch, &mut l.disorder, 2, 1);
            }
            l.ready.extend(batch);
        }
        // Emit a few frames of this session.
        for _ in 0..4 {
            let Some(f) = l.ready.pop_front() else { break };
            ts += 2_000;
            w.frame(Timestamp::from_nanos(ts), &f.data, f.data.len())?;
        }
        if l.ready.is_empty() && l.conv.closed {
            live.swap_remove(i);
        }
    }
    w.into_inner().flush()?;
    if let Some(k) = keylog {
        k.flush()?;
    }
    Ok(started)
}

/// The synthetic disorder sample: an SMTP session whose segments arrive reordered, with a
/// retransmission, an overlapping resend and one client segment lost. Returns the frames,
/// what the client and server sent, and the lost range (offset, length) of the client stream.
pub fn disorder_sample() -> (Vec<SynthFrame>, Vec<u8>, Vec<u8>, (u64, u64)) {
    let mut rng = Rng::new(2024);
    let message = mail_message(&mut rng, 1, 6000);
    let script = session_script(0, &message);
    let client_ip = IpAddr::from([192, 0, 2, 10]);
    let server_ip = IpAddr::from([192, 0, 2, 25]);
    let mut conv = Conversation::new((client_ip, 49152), (server_ip, 25), [0xffff_f000, 7]);
    conv.handshake();
    let (mut client, mut server) = (Vec::new(), Vec::new());
    let mut lost = (0, 0);
    for (side, data) in script {
        let before = conv.frames.len();
        let start_seq = conv.next_seq(side);
        let offset = match side {
            Side::Client => client.len(),
            Side::Server => server.len(),
        };
        conv.send(side, &data);
        let mut batch = conv.frames.split_off(before);
        if side == Side::Client && data.len() > 4000 {
            // The DATA body: swap two segments, resend one, overlap two, lose the fourth.
            batch.swap(0, 1);
            batch.insert(3, batch[2].clone());
            conv.frames.append(&mut batch);
            conv.send_at(side, start_seq.wrapping_add(1000), &data[1000..2500]);
            let fourth = 1448 * 3;
            lost = ((offset + fourth) as u64, 1448);
            let n = conv.frames.len();
            let idx = (before..n)
                .find(|&k| {
                    let f = &conv.frames[k];
                    f.payload_len == 1448 && f.data[54..] == data[fourth..fourth + 1448]
                })
                .expect("the fourth segment is there");
            conv.frames.remove(idx);
        } else {
            conv.frames.append(&mut batch);
        }
        match side {
            Side::Client => client.extend_from_slice(&data),
            Side::Server => server.extend_from_slice(&data),
        }
        conv.ack(match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
    }
    conv.close();
    (conv.frames, client, server, lost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64_mime(b"foobar"), b"Zm9vYmFy\r\n");
        assert_eq!(base64_mime(b"fo"), b"Zm8=\r\n");
        assert_eq!(base64_mime(b"f"), b"Zg==\r\n");
    }
}

/// How [`encapsulate`] wraps a frame's packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// IP protocol 4 (IPv4 inside) or 41 (IPv6 inside: 6in4, 6to4), chosen by the inner
    /// packet's version.
    IpInIp,
    /// GRE version 0 carrying the IP packet (0x0800 / 0x86DD), with the optional checksum,
    /// key and sequence number fields of RFC 2784 and RFC 2890.
    Gre {
        checksum: bool,
        key: Option<u32>,
        seq: Option<u32>,
    },
    /// GRE transparent Ethernet bridging (0x6558): the whole inner Ethernet frame.
    GreEthernet,
    /// ERSPAN type II (GRE 0x88BE, sequence number, 8-byte ERSPAN header) mirroring the
    /// inner Ethernet frame.
    Erspan2,
}

/// Wraps the packet of an Ethernet frame (as [`Conversation`] builds them) in a tunnel from
/// `outer.0` to `outer.1` (both IPv4 or both IPv6), inside a new Ethernet frame.
pub fn encapsulate(ethernet: &[u8], outer: (IpAddr, IpAddr), how: Encap) -> Vec<u8> {
    let inner_ip = &ethernet[14..];
    let inner_v6 = ethernet[12..14] == [0x86, 0xdd];
    let (protocol, payload) = match how {
        Encap::IpInIp => (if inner_v6 { 41 } else { 4 }, inner_ip.to_vec()),
        Encap::Gre { checksum, key, seq } => {
            let proto: u16 = if inner_v6 { 0x86dd } else { 0x0800 };
            (47, gre_packet(proto, checksum, key, seq, inner_ip))
        }
        Encap::GreEthernet => (47, gre_packet(0x6558, false, None, None, ethernet)),
        Encap::Erspan2 => {
            // Ver 1, VLAN 0, COS/En/T 0, session 7; reserved and index 0.
            let mut mirrored = vec![0x10, 0x00, 0x00, 0x07, 0, 0, 0, 0];
            mirrored.extend_from_slice(ethernet);
            (47, gre_packet(0x88be, false, None, Some(1), &mirrored))
        }
    };
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4]);
    let b = match outer {
        (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), 64),
        (s, d) => eth.ipv4(v4_octets(s), v4_octets(d), 64),
    };
    let mut out = Vec::with_capacity(payload.len() + 64);
    // Writing into a Vec cannot fail; test packets stay below the IP length limit.
    let _ = b.write(&mut out, etherparse::IpNumber(protocol), &payload);
    out
}

/// A GRE header (version 0) followed by `payload`; the checksum covers header and payload.
fn gre_packet(
    protocol: u16,
    checksum: bool,
    key: Option<u32>,
    seq: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let mut flags = 0u16;
    if checksum {
        flags |= 0x8000;
    }
    if key.is_some() {
        flags |= 0x2000;
    }
    if seq.is_some() {
        flags |= 0x1000;
    }
    let mut g = Vec::with_capacity(payload.len() + 16);
    g.extend_from_slice(&flags.to_be_bytes());
    g.extend_from_slice(&protocol.to_be_bytes());
    if checksum {
        g.extend_from_slice(&[0; 4]);
    }
    if let Some(k) = key {
        g.extend_from_slice(&k.to_be_bytes());
    }
    if let Some(s) = seq {
        g.extend_from_slice(&s.to_be_bytes());
    }
    g.extend_from_slice(payload);
    if checksum {
        let mut sum = 0u32;
        for w in g.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        g[4..6].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    }
    g
}

/// A TLS record holding a ClientHello that names `name` (server_name extension) and offers
/// TLS 1.2 as its legacy version: enough for the ClientHello reader.
pub fn client_hello(name: &str) -> Vec<u8> {
    let n = name.len() as u16;
    let list = [
        &(n + 3).to_be_bytes()[..],
        &[0],
        &n.to_be_bytes(),
        name.as_bytes(),
    ]
    .concat();
    let mut ext = vec![0, 0]; // server_name
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// An NTLMSSP AUTHENTICATE message (type 3) for `domain\\user` on `workstation`, strings in
/// UTF-16LE, with a 24-byte NT response of `0x11` bytes: for tests of NTLM decoding.
pub fn ntlm_authenticate(domain: &str, user: &str, workstation: &str) -> Vec<u8> {
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let (d, u, w) = (utf16(domain), utf16(user), utf16(workstation));
    let nt = vec![0x11u8; 24];
    let mut msg = b"NTLMSSP\0".to_vec();
    msg.extend_from_slice(&3u32.to_le_bytes());
    let mut payload = Vec::new();
    let mut buffer = |msg: &mut Vec<u8>, data: &[u8]| {
        let off = 64 + payload.len();
        msg.extend_from_slice(&(data.len() as u16).to_le_bytes());
        msg.extend_from_slice(&(data.len() as u16).to_le_bytes());
        msg.extend_from_slice(&(off as u32).to_le_bytes());
        payload.extend_from_slice(data);
    };
    buffer(&mut msg, &[]); // LM response
    buffer(&mut msg, &nt); // NT response
    buffer(&mut msg, &d);
    buffer(&mut msg, &u);
    buffer(&mut msg, &w);
    buffer(&mut msg, &[]); // session key
    msg.extend_from_slice(&1u32.to_le_bytes()); // NTLMSSP_NEGOTIATE_UNICODE
    msg.extend_from_slice(&payload);
    msg
}

// TLS: the encrypted variant of the benchmark traffic. Each connection gets a plausible
// handshake in its records (correct lengths, so the hello readers take them), secrets drawn
// from its seed, and its application bytes sealed in records of up to 2^14 bytes.

/// The protocol version of a synthetic TLS connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2, ECDHE-RSA-AES128-GCM-SHA256 (0xc02f); the key log's `CLIENT_RANDOM` line.
    Tls12,
    /// TLS 1.3, TLS_AES_128_GCM_SHA256 (0x1301); the key log's four traffic-secret lines.
    Tls13,
}

/// One TLS record: type, version, length, fragment (at most 2^16 - 1 bytes).
pub fn tls_record(content_type: u8, version: u16, fragment: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
    r.extend_from_slice(fragment);
    r
}

/// One handshake message: type, 24-bit length, body.
fn handshake_message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// One extension: type, 16-bit length, content.
fn extension(kind: u16, content: &[u8]) -> Vec<u8> {
    let mut e = kind.to_be_bytes().to_vec();
    e.extend_from_slice(&(content.len() as u16).to_be_bytes());
    e.extend_from_slice(content);
    e
}

/// `body` behind its length in `width` bytes (1 or 2).
fn vector(width: usize, body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u16).to_be_bytes()[2 - width..].to_vec();
    v.extend_from_slice(body);
    v
}

/// A ClientHello as a TLS 1.3-capable client sends it (handshake message, no record):
/// legacy version 1.2, a 32-byte session ID, the 1.3 suites and 0xc02f, and the extensions
/// server_name, supported_groups (x25519), signature_algorithms, supported_versions (1.3,
/// 1.2), key_share (x25519).
pub fn tls_client_hello(
    random: &[u8; 32],
    session_id: &[u8; 32],
    sni: &str,
    key_share: &[u8; 32],
) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(random);
    body.extend_from_slice(&vector(1, session_id));
    body.extend_from_slice(&vector(
        2,
        &[0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2f],
    ));
    body.extend_from_slice(&[1, 0]); // null compression
    let name = [&[0][..], &vector(2, sni.as_bytes())].concat();
    let mut share = vec![0x00, 0x1d];
    share.extend_from_slice(&vector(2, key_share));
    let ext = [
        extension(0x0000, &vector(2, &name)),
        extension(0x000a, &vector(2, &[0x00, 0x1d])),
        extension(0x000d, &vector(2, &[0x04, 0x03, 0x08, 0x04, 0x04, 0x01])),
        extension(0x002b, &vector(1, &[0x03, 0x04, 0x03, 0x03])),
        extension(0x0033, &vector(2, &share)),
    ]
    .concat();
    body.extend_from_slice(&vector(2, &ext));
    handshake_message(1, &body)
}

/// A ServerHello (handshake message) choosing `suite`; TLS 1.3: supported_versions 0x0304
/// and an x25519 key_share, TLS 1.2: renegotiation_info.
pub fn tls_server_hello(
    random: &[u8; 32],
    session_id: &[u8],
    suite: u16,
    version: TlsVersion,
    key_share: &[u8; 32],
) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(random);
    body.extend_from_slice(&vector(1, session_id));
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    let ext = match version {
        TlsVersion::Tls13 => {
            let mut share = vec![0x00, 0x1d];
            share.extend_from_slice(&vector(2, key_share));
            [extension(0x002b, &[0x03, 0x04]), extension(0x0033, &share)].concat()
        }
        TlsVersion::Tls12 => extension(0xff01, &[0]),
    };
    body.extend_from_slice(&vector(2, &ext));
    handshake_message(2, &body)
}

/// A TLS connection's bytes: what each side sends (the handshake, then `clear`'s bytes
/// sealed in application-data records of at most 2^14 bytes each, then close_notify from
/// both sides), and its secrets as NSS key log lines. Everything is drawn from `seed`.
pub fn tls_script(
    seed: u64,
    version: TlsVersion,
    sni: &str,
    clear: &[(Side, Vec<u8>)],
) -> (Vec<(Side, Vec<u8>)>, String) {
    use crate::transform::tls::crypto::{RecordCipher, suite};
    let mut rng = Rng::new(seed.wrapping_mul(0xd1b5_4a32_d192_ed03) ^ 0x715);
    let mut bytes = |n: usize| {
        let mut b = vec![0u8; n];
        rng.fill(&mut b);
        b
    };
    let array = |b: Vec<u8>| -> [u8; 32] { b.try_into().unwrap_or([0; 32]) };
    let client_random = array(bytes(32));
    let server_random = array(bytes(32));
    let session_id = array(bytes(32));
    let (client_share, server_share) = (array(bytes(32)), array(bytes(32)));
    let ccs = tls_record(20, 0x0303, &[1]);
    let hello = tls_client_hello(&client_random, &session_id, sni, &client_share);
    let mut script = vec![(Side::Client, tls_record(22, 0x0301, &hello))];
    let random_hex = hex::encode(client_random);
    let (mut client, mut server, keylog) = match version {
        TlsVersion::Tls13 => {
            let s = suite(0x1301).expect("TLS_AES_128_GCM_SHA256 is known");
            let secrets: Vec<Vec<u8>> = (0..4).map(|_| bytes(32)).collect();
            let cipher = |k: usize| RecordCipher::tls13(s, &secrets[k]).expect("32-byte secret");
            let (mut client_hs, mut server_hs) = (cipher(0), cipher(1));
            let sh = tls_server_hello(&server_random, &session_id, 0x1301, version, &server_share);
            let mut flight = tls_record(22, 0x0303, &sh);
            flight.extend_from_slice(&ccs);
            // EncryptedExtensions (empty) and Finished, in one record under the handshake key.
            let mut messages = handshake_message(8, &[0, 0]);
            messages.extend_from_slice(&handshake_message(20, &bytes(32)));
            server_hs.seal(22, &messages, &mut flight);
            script.push((Side::Server, flight));
            let mut finished = ccs.clone();
            client_hs.seal(22, &handshake_message(20, &bytes(32)), &mut finished);
            script.push((Side::Client, finished));
            let labels = [
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0",
            ];
            let keylog = labels
                .iter()
                .zip(&secrets)
                .map(|(l, k)| format!("{l} {random_hex} {}\n", hex::encode(k)))
                .collect();
            (cipher(2), cipher(3), keylog)
        }
        TlsVersion::Tls12 => {
            let s = suite(0xc02f).expect("ECDHE-RSA-AES128-GCM-SHA256 is known");
            let master = bytes(48);
            let (mut c, mut sv) =
                RecordCipher::tls12(s, 0x0303, &master, &client_random, &server_random, false)
                    .expect("a TLS 1.2 GCM suite");
            // A full handshake: the server names a new session (echoing the client's
            // would say resumption).
            let new_session = bytes(32);
            let sh = tls_server_hello(&server_random, &new_session, 0xc02f, version, &server_share);
            // ServerKeyExchange: named curve x25519, the share, an RSA-PSS signature.
            let mut ske = vec![3, 0x00, 0x1d];
            ske.extend_from_slice(&vector(1, &server_share));
            ske.extend_from_slice(&[0x08, 0x04]);
            ske.extend_from_slice(&vector(2, &bytes(256)));
            let mut messages = sh;
            messages.extend_from_slice(&handshake_message(12, &ske));
            messages.extend_from_slice(&handshake_message(14, &[]));
            script.push((Side::Server, tls_record(22, 0x0303, &messages)));
            let cke = handshake_message(16, &vector(1, &client_share));
            let mut flight = tls_record(22, 0x0303, &cke);
            flight.extend_from_slice(&ccs);
            c.seal(22, &handshake_message(20, &bytes(12)), &mut flight);
            script.push((Side::Client, flight));
            let mut flight = ccs.clone();
            sv.seal(22, &handshake_message(20, &bytes(12)), &mut flight);
            script.push((Side::Server, flight));
            let keylog = format!("CLIENT_RANDOM {random_hex} {}\n", hex::encode(&master));
            (c, sv, keylog)
        }
    };
    for (side, data) in clear {
        let cipher = match side {
            Side::Client => &mut client,
            Side::Server => &mut server,
        };
        let mut sealed = Vec::with_capacity(data.len() + data.len() / 512 + 64);
        for chunk in data.chunks(1 << 14) {
            cipher.seal(23, chunk, &mut sealed);
        }
        script.push((*side, sealed));
    }
    for (side, cipher) in [(Side::Client, &mut client), (Side::Server, &mut server)] {
        let mut alert = Vec::new();
        cipher.seal(21, &[1, 0], &mut alert);
        script.push((side, alert));
    }
    (script, keylog)
}
