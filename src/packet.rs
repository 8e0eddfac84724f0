//! Packet layer: one captured frame → at most one TCP [`Segment`].
//!
//! Owns link-layer framing (Ethernet with 802.1Q / QinQ, Linux cooked v1 and v2, BSD NULL and
//! OpenBSD LOOP, raw IPv4/IPv6), IP (IPv6 extension headers skipped) and IPv4/IPv6 fragment
//! reassembly, all through etherparse's *lax* slicing: a frame cut short by the snaplen still
//! yields the TCP header and the payload bytes it has, and [`Segment::missing`] says how many
//! payload bytes the IP header promised but the capture lacks (the flow layer turns those into
//! a gap). Tunnels are peeled here: IPv4/IPv6 inside IPv4/IPv6 (protocol 4 and 41: 6in4,
//! 6to4) and GRE (protocol 47: IPv4, IPv6, transparent Ethernet bridging, ERSPAN), nested up
//! to `Limits::max_tunnel_depth` layers, each layer defragmented where it was fragmented.
//! The segment's endpoints are the innermost ones. Knows nothing about connections.

use crate::capture::{Frame, LinkType};
use crate::types::{Endpoint, Timestamp};
use etherparse::{
    EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket, SlicedPacket, TcpSlice, TransportSlice,
};
use serde::Serialize;
use std::net::IpAddr;

/// The TCP flags the reassembler cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// A decoded TCP segment, borrowing its payload from the frame (or from the defragmenter).
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    pub payload: &'a [u8],
    /// Payload bytes announced by the IP length field but cut off by the snaplen.
    pub missing: u32,
}

/// Why a frame produced no TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Link type we do not decode.
    UnsupportedLink(i32),
    /// Not IPv4/IPv6 (ARP, LLDP, …).
    NotIp,
    /// IP, but not TCP (UDP, ICMP, …).
    NotTcp,
    /// A fragment held until the rest of its datagram arrives.
    Fragment,
    /// Headers that do not parse: truncated below the TCP header, or corrupt.
    Malformed(&'static str),
}

/// Frame decoding counters, for the end-of-run report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub frames: u64,
    pub tcp: u64,
    pub not_ip: u64,
    pub not_tcp: u64,
    pub fragments: u64,
    pub reassembled_datagrams: u64,
    pub malformed: u64,
    pub unsupported_link: u64,
    pub truncated_by_snaplen: u64,
    /// Fragments dropped because too many datagrams were pending at once.
    pub fragments_dropped: u64,
    pub first_malformed: Option<(u64, &'static str)>,
    /// Frames whose packet was inside at least one tunnel layer (IP-in-IP, GRE).
    pub encapsulated: u64,
    /// IP-in-IP layers decoded (IPv6 in IPv4 6in4/6to4, IPv4 in IPv4, any in IPv6).
    pub ip_in_ip: u64,
    /// GRE layers decoded.
    pub gre: u64,
    /// Frames skipped for nesting more tunnel layers than the limit.
    pub tunnels_too_deep: u64,
}

/// Frame → segment decoder; holds the fragment reassembly state.
pub struct Decoder {
    frag: Defrag,
    pub stats: Stats,
}

/// IP fragment reassembly state.
struct Defrag {
    pool: FragPool,
    /// The datagrams reassembled last (an outer one and one tunnelled inside it); a segment
    /// may borrow them until the next call.
    reassembled: [Vec<u8>; 2],
}

/// Fragments waiting for the rest of their datagram, and the decoding bounds.
struct FragPool {
    pool: etherparse::defrag::IpDefragPool<Timestamp, ()>,
    pending_fragments: usize,
    max_pending_fragments: usize,
    last_sweep: Timestamp,
    /// Tunnel layers (IP-in-IP, GRE) decoded in one frame at most.
    max_tunnel_depth: usize,
}

/// Fragments older than this (capture time) are dropped, as a host would.
const FRAGMENT_TIMEOUT_NS: i64 = 30 * 1_000_000_000;

impl Decoder {
    pub fn new(max_pending_fragments: usize) -> Decoder {
        Decoder {
            frag: Defrag {
                pool: FragPool {
                    pool: etherparse::defrag::IpDefragPool::new(),
                    pending_fragments: 0,
                    max_pending_fragments,
                    last_sweep: Timestamp::default(),
                    max_tunnel_depth: crate::limits::Limits::default().max_tunnel_depth,
                },
                reassembled: [Vec::new(), Vec::new()],
            },
            stats: Stats::default(),
        }
    }

    /// Decodes at most `depth` tunnel layers (IP-in-IP, GRE) per frame; a frame nested
    /// deeper is skipped as malformed and counted in [`Stats::tunnels_too_deep`].
    pub fn max_tunnel_depth(mut self, depth: usize) -> Decoder {
        self.frag.pool.max_tunnel_depth = depth;
        self
    }

    /// Decodes one frame. Never panics, whatever the bytes.
    pub fn decode<'a>(&'a mut self, frame: &Frame<'a>) -> Result<Segment<'a>, Skip> {
        self.stats.frames += 1;
        let result = decode_frame(&mut self.frag, &mut self.stats, frame);
        match &result {
            Ok(seg) => {
                self.stats.tcp += 1;
                if seg.missing > 0 {
                    self.stats.truncated_by_snaplen += 1;
                }
            }
            Err(Skip::NotIp) => self.stats.not_ip += 1,
            Err(Skip::NotTcp) => self.stats.not_tcp += 1,
            Err(Skip::Fragment) => {}
            Err(Skip::UnsupportedLink(_)) => self.stats.unsupported_link += 1,
            Err(Skip::Malformed(why)) => {
                self.stats.malformed += 1;
                self.stats.first_malformed.get_or_insert((frame.index, why));
            }
        }
        result
    }
}

fn decode_frame<'a>(
    frag: &'a mut Defrag,
    stats: &mut Stats,
    frame: &Frame<'a>,
) -> Result<Segment<'a>, Skip> {
    let data = frame.data;
    let sliced = match frame.link {
        LinkType::Ethernet => LaxSlicedPacket::from_ethernet(data)
            .map_err(|_| Skip::Malformed("ethernet header cut short"))?,
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => from_ip(data)?,
        LinkType::Null | LinkType::Loop => {
            let family = data.get(..4).ok_or(Skip::Malformed("loopback header"))?;
            let family: [u8; 4] = family.try_into().map_err(|_| Skip::NotIp)?;
            // NULL is host byte order, LOOP network order; accept either.
            let value = if frame.link == LinkType::Loop {
                u32::from_be_bytes(family)
            } else {
                let le = u32::from_le_bytes(family);
                if le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(family)
                }
            };
            match value {
                // AF_INET; AF_INET6 on BSD, macOS, FreeBSD, Linux.
                2 | 24 | 28 | 30 | 10 => from_ip(&data[4..])?,
                _ => return Err(Skip::NotIp),
            }
        }
        LinkType::LinuxSll => {
            let proto = data
                .get(14..16)
                .ok_or(Skip::Malformed("SLL header cut short"))?;
            let ether_type = EtherType(u16::from_be_bytes([proto[0], proto[1]]));
            LaxSlicedPacket::from_ether_type(ether_type, &data[16..])
        }
        LinkType::LinuxSll2 => {
            let proto = data
                .get(0..2)
                .ok_or(Skip::Malformed("SLL2 header cut short"))?;
            if data.len() < 20 {
                return Err(Skip::Malformed("SLL2 header cut short"));
            }
            let ether_type = EtherType(u16::from_be_bytes([proto[0], proto[1]]));
            LaxSlicedPacket::from_ether_type(ether_type, &data[20..])
        }
        LinkType::Other(n) => return Err(Skip::UnsupportedLink(n)),
    };
    let Defrag {
        pool,
        reassembled: [outer_buf, inner_buf],
    } = frag;
    // Buffers for reassembled datagrams: one for the outermost fragmented layer, one for a
    // fragmented layer inside it. A third fragmented layer in one frame is not decoded.
    let mut buffers = [Some(outer_buf), Some(inner_buf)].into_iter().flatten();
    // `sliced` points into `buf`: the frame, or a reassembled datagram.
    let (mut sliced, mut buf) = (sliced, data);
    let mut depth = 0;
    loop {
        let (src_ip, dst_ip, ip_start, claimed_end, ip_payload) = match &sliced.net {
            Some(LaxNetSlice::Ipv4(v4)) => {
                let h = v4.header();
                let start = offset_in(buf, h.slice());
                (
                    IpAddr::from(h.source()),
                    IpAddr::from(h.destination()),
                    start,
                    start + usize::from(h.total_len()),
                    v4.payload().clone(),
                )
            }
            Some(LaxNetSlice::Ipv6(v6)) => {
                let h = v6.header();
                let start = offset_in(buf, h.slice());
                (
                    IpAddr::from(h.source()),
                    IpAddr::from(h.destination()),
                    start,
                    start + 40 + usize::from(h.payload_length()),
                    v6.payload().clone(),
                )
            }
            Some(LaxNetSlice::Arp(_)) => return Err(Skip::NotIp),
            None => {
                return Err(if sliced.stop_err.is_some() {
                    Skip::Malformed("IP header does not parse")
                } else {
                    Skip::NotIp
                });
            }
        };
        let ip_number = ip_payload.ip_number;
        let tunnel = matches!(ip_number, IpNumber::IPV4 | IpNumber::IPV6 | IpNumber::GRE);
        if ip_number != IpNumber::TCP && !tunnel {
            return Err(Skip::NotTcp);
        }
        // The bytes this layer carries, and whether they were reassembled from fragments.
        let inner: &'a [u8] = if ip_payload.fragmented {
            let out = buffers.next().ok_or(Skip::Malformed(
                "fragments inside fragments inside fragments",
            ))?;
            let ip = buf
                .get(ip_start..)
                .ok_or(Skip::Malformed("IP fragment cut short"))?;
            pool.process(stats, frame.ts, ip, out)?
        } else if !tunnel {
            let tcp = match &sliced.transport {
                Some(TransportSlice::Tcp(tcp)) => tcp.clone(),
                _ => return Err(Skip::Malformed("TCP header cut short or corrupt")),
            };
            let missing = if ip_payload.incomplete {
                claimed_end.saturating_sub(buf.len()) as u32
            } else {
                0
            };
            return Ok(segment(src_ip, dst_ip, &tcp, missing));
        } else {
            ip_payload.payload
        };
        if ip_number == IpNumber::TCP {
            // Only a reassembled datagram gets here.
            let tcp = TcpSlice::from_slice(inner)
                .map_err(|_| Skip::Malformed("reassembled TCP header corrupt"))?;
            return Ok(segment(src_ip, dst_ip, &tcp, 0));
        }
        if depth == 0 {
            stats.encapsulated += 1;
        }
        depth += 1;
        if depth > pool.max_tunnel_depth {
            stats.tunnels_too_deep += 1;
            return Err(Skip::Malformed("tunnels nested too deep"));
        }
        if ip_payload.fragmented {
            buf = inner;
        }
        sliced = match ip_number {
            IpNumber::GRE => {
                stats.gre += 1;
                gre(inner)?
            }
            _ => {
                stats.ip_in_ip += 1;
                from_ip(inner)?
            }
        };
    }
}

/// The packet inside a GRE header (RFC 2784, with RFC 2890's key and sequence number):
/// IPv4, IPv6, transparent Ethernet bridging, or ERSPAN type I/II/III mirrored Ethernet.
fn gre(payload: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    let head = payload
        .get(..4)
        .ok_or(Skip::Malformed("GRE header cut short"))?;
    let flags = u16::from_be_bytes([head[0], head[1]]);
    let protocol = u16::from_be_bytes([head[2], head[3]]);
    // Version 1 is PPTP's enhanced GRE (PPP inside); routing (RFC 1701) is long obsolete.
    if flags & 0x0007 != 0 || flags & 0x4000 != 0 {
        return Err(Skip::NotTcp);
    }
    let sequenced = flags & 0x1000 != 0;
    let optional = [0x8000, 0x2000, 0x1000]
        .iter()
        .filter(|&&bit| flags & bit != 0)
        .count();
    let rest = payload
        .get(4 + 4 * optional..)
        .ok_or(Skip::Malformed("GRE header cut short"))?;
    let ethernet = |skip: usize| {
        let frame = rest
            .get(skip..)
            .ok_or(Skip::Malformed("ERSPAN header cut short"))?;
        LaxSlicedPacket::from_ethernet(frame)
            .map_err(|_| Skip::Malformed("ethernet header in GRE cut short"))
    };
    match EtherType(protocol) {
        EtherType::IPV4 | EtherType::IPV6 => from_ip(rest),
        // Transparent Ethernet bridging (NVGRE too).
        EtherType(0x6558) => ethernet(0),
        // ERSPAN type II has an 8-byte header (type I, without sequence number, none).
        EtherType(0x88be) => ethernet(if sequenced { 8 } else { 0 }),
        // ERSPAN type III: 12 bytes, 8 more when the platform-specific flag O is set.
        EtherType(0x22eb) => {
            let o = rest
                .get(11)
                .ok_or(Skip::Malformed("ERSPAN header cut short"))?;
            ethernet(if o & 1 != 0 { 20 } else { 12 })
        }
        _ => Err(Skip::NotTcp),
    }
}

impl FragPool {
    /// Adds one fragment (`ip`: its IP header onwards); when it completes a datagram, the
    /// datagram's payload is moved into `out` and returned.
    fn process<'b>(
        &mut self,
        stats: &mut Stats,
        ts: Timestamp,
        ip: &[u8],
        out: &'b mut Vec<u8>,
    ) -> Result<&'b [u8], Skip> {
        stats.fragments += 1;
        // Expire what a host would have given up on, and bound what an attacker can pin.
        if ts.since(self.last_sweep) > 1_000_000_000 {
            let cutoff = ts.as_nanos() - FRAGMENT_TIMEOUT_NS;
            self.pool.retain(|ts| ts.as_nanos() >= cutoff);
            self.last_sweep = ts;
        }
        if self.pending_fragments >= self.max_pending_fragments {
            self.pool.retain(|_| false);
            stats.fragments_dropped += self.pending_fragments as u64;
            self.pending_fragments = 0;
        }
        let strict =
            SlicedPacket::from_ip(ip).map_err(|_| Skip::Malformed("IP fragment cut short"))?;
        match self.pool.process_sliced_packet(&strict, ts, ()) {
            Ok(Some(done)) => {
                self.pending_fragments = self.pending_fragments.saturating_sub(1);
                stats.reassembled_datagrams += 1;
                let old = std::mem::replace(out, done.payload);
                self.pool
                    .return_buf(etherparse::defrag::IpDefragPayloadVec {
                        ip_number: done.ip_number,
                        len_source: done.len_source,
                        payload: old,
                    });
                Ok(out)
            }
            Ok(None) => {
                self.pending_fragments += 1;
                Err(Skip::Fragment)
            }
            Err(_) => Err(Skip::Malformed("inconsistent IP fragments")),
        }
    }
}

fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Skip> {
    LaxSlicedPacket::from_ip(data).map_err(|_| Skip::Malformed("IP header does not parse"))
}

fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

fn segment<'a>(src: IpAddr, dst: IpAddr, tcp: &TcpSlice<'a>, missing: u32) -> Segment<'a> {
    Segment {
        src: Endpoint {
            ip: src,
            port: tcp.source_port(),
        },
        dst: Endpoint {
            ip: dst,
            port: tcp.destination_port(),
        },
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: Flags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload: tcp.payload(),
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, Encap};

    fn tcp_frame() -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 25, 1, 1000);
        let mut out = Vec::new();
        b.write(&mut out, b"EHLO x\r\n").unwrap();
        out
    }

    fn decode(d: &mut Decoder, data: &[u8]) -> Result<(u16, usize), Skip> {
        let frame = Frame {
            index: 1,
            ts: Timestamp::default(),
            link: LinkType::Ethernet,
            orig_len: data.len() as u32,
            data,
            input: 0,
        };
        d.decode(&frame).map(|s| (s.dst.port, s.payload.len()))
    }

    fn outer() -> (IpAddr, IpAddr) {
        ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap())
    }

    #[test]
    fn tunnel_layers_are_counted_and_bounded() {
        let once = synth::encapsulate(&tcp_frame(), outer(), Encap::IpInIp);
        let gre = Encap::Gre {
            checksum: true,
            key: Some(9),
            seq: Some(1),
        };
        let twice = synth::encapsulate(&once, outer(), gre);
        let mut d = Decoder::new(16);
        assert_eq!(decode(&mut d, &twice), Ok((25, 8)));
        assert_eq!(
            (d.stats.encapsulated, d.stats.ip_in_ip, d.stats.gre),
            (1, 1, 1)
        );
        let mut d = Decoder::new(16).max_tunnel_depth(1);
        assert_eq!(decode(&mut d, &once), Ok((25, 8)));
        assert_eq!(
            decode(&mut d, &twice),
            Err(Skip::Malformed("tunnels nested too deep"))
        );
        assert_eq!(d.stats.tunnels_too_deep, 1);
        let mut d = Decoder::new(16).max_tunnel_depth(0);
        assert!(decode(&mut d, &once).is_err());
    }

    #[test]
    fn gre_it_cannot_read_is_skipped_without_panic() {
        let gre = Encap::Gre {
            checksum: true,
            key: Some(9),
            seq: Some(1),
        };
        let framed = synth::encapsulate(&tcp_frame(), outer(), gre);
        let gre_at = 14 + 20;
        let mut d = Decoder::new(16);
        // Version 1 (PPTP's enhanced GRE) carries PPP, not IP.
        let mut v1 = framed.clone();
        v1[gre_at + 1] |= 1;
        assert_eq!(decode(&mut d, &v1), Err(Skip::NotTcp));
        // Every truncation of the tunnelled packet, with the IP length left as it was.
        for cut in 0..framed.len() {
            let _ = decode(&mut d, &framed[..cut]);
        }
        // Every flag combination and payload type over the same bytes.
        for flags in 0..=255u8 {
            let mut f = framed.clone();
            f[gre_at] = flags;
            for proto in [0x0800u16, 0x86dd, 0x6558, 0x88be, 0x22eb, 0x8847] {
                f[gre_at + 2..gre_at + 4].copy_from_slice(&proto.to_be_bytes());
                let _ = decode(&mut d, &f);
            }
        }
    }
}
