//! Synthetic captures for tests, samples, benchmarks and fuzz seeds: a pcap writer and a TCP
//! conversation builder (etherparse's packet builder underneath) that can reorder, duplicate,
//! overlap and drop segments deterministically. Not used when analysing real captures.

use crate::capture::Timestamp;
use etherparse::PacketBuilder;
use std::io::{self, Write};
use std::net::Ipv4Addr;

/// Writes a little-endian microsecond pcap (LINKTYPE_ETHERNET unless told otherwise).
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(out: W) -> io::Result<PcapWriter<W>> {
        Self::with_link(out, 1, 262_144)
    }

    pub fn with_link(mut out: W, link: u32, snaplen: u32) -> io::Result<PcapWriter<W>> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        out.write_all(&link.to_le_bytes())?;
        Ok(PcapWriter { out })
    }

    /// Writes a frame; `orig_len` larger than `data` records a snaplen cut.
    pub fn frame(&mut self, ts: Timestamp, data: &[u8], orig_len: usize) -> io::Result<()> {
        let ns = ts.as_nanos().max(0);
        let secs = (ns / 1_000_000_000) as u32;
        let usecs = ((ns % 1_000_000_000) / 1000) as u32;
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&usecs.to_le_bytes())?;
        self.out.write_all(&(data.len() as u32).to_le_bytes())?;
        self.out
            .write_all(&(orig_len.max(data.len()) as u32).to_le_bytes())?;
        self.out.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
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
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    /// Next sequence number per side.
    seq: [u32; 2],
    pub mss: usize,
    pub ts: Timestamp,
    pub step_ns: i64,
    pub frames: Vec<SynthFrame>,
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
    pub fn new(client: (Ipv4Addr, u16), server: (Ipv4Addr, u16), isn: [u32; 2]) -> Self {
        Conversation {
            client: (client.0.octets(), client.1),
            server: (server.0.octets(), server.1),
            seq: isn,
            mss: 1448,
            ts: Timestamp::from_nanos(1_700_000_000_000_000_000),
            step_ns: 100_000,
            frames: Vec::new(),
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
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src.0, dst.0, 64)
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

    /// Sends `data` from `side` in MSS-sized segments, each acknowledging the peer.
    pub fn send(&mut self, side: Side, data: &[u8]) {
        let me = Self::idx(side);
        for chunk in data.chunks(self.mss.max(1)) {
            let flags = TcpFlags { psh: true, ..ACK };
            let f = self.raw(side, self.seq[me], self.seq[1 - me], flags, chunk);
            self.push(f, chunk.len());
            self.seq[me] = self.seq[me].wrapping_add(chunk.len() as u32);
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
    }

    /// RST from `side`.
    pub fn reset(&mut self, side: Side) {
        let me = Self::idx(side);
        let rst = TcpFlags { rst: true, ..ACK };
        let f = self.raw(side, self.seq[me], self.seq[1 - me], rst, &[]);
        self.push(f, 0);
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

/// Disorders frames in place: about `reorder_pct` % of data frames swap places with a frame
/// up to three positions later, and about `dup_pct` % are sent again a few frames later
/// (retransmissions). Frame timestamps keep their order of appearance.
pub fn disorder(frames: &mut Vec<SynthFrame>, rng: &mut Rng, reorder_pct: u64, dup_pct: u64) {
    let n = frames.len();
    let mut i = 0;
    while i + 1 < n {
        if frames[i].payload_len > 0 && rng.below(100) < reorder_pct {
            let j = (i + 1 + rng.below(3) as usize).min(n - 1);
            frames.swap(i, j);
            i = j + 1;
            continue;
        }
        i += 1;
    }
    let mut out = Vec::with_capacity(n + n / 50);
    let mut pending: Vec<(usize, SynthFrame)> = Vec::new();
    for (k, f) in frames.drain(..).enumerate() {
        if f.payload_len > 0 && rng.below(100) < dup_pct {
            pending.push((k + 2 + rng.below(4) as usize, f.clone()));
        }
        out.push(f);
        pending.retain(|(at, dup)| {
            if *at <= k {
                out.push(dup.clone());
                false
            } else {
                true
            }
        });
    }
    out.extend(pending.into_iter().map(|(_, f)| f));
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
