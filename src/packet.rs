//! Packet layer: one captured frame → at most one TCP [`Segment`].
//!
//! Owns link-layer framing (Ethernet with 802.1Q / QinQ, Linux cooked v1 and v2, BSD NULL and
//! OpenBSD LOOP, raw IPv4/IPv6), IP (IPv6 extension headers skipped) and IPv4/IPv6 fragment
//! reassembly, all through etherparse's *lax* slicing: a frame cut short by the snaplen still
//! yields the TCP header and the payload bytes it has, and [`Segment::missing`] says how many
//! payload bytes the IP header promised but the capture lacks (the flow layer turns those into
//! a gap). Knows nothing about connections.

use crate::capture::{Frame, LinkType, Timestamp};
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, SlicedPacket, TcpSlice, TransportSlice};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// One end of a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

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
}

/// Frame → segment decoder; holds the fragment reassembly state.
pub struct Decoder {
    frag: Defrag,
    pub stats: Stats,
}

/// IP fragment reassembly state.
struct Defrag {
    pool: etherparse::defrag::IpDefragPool<Timestamp, ()>,
    /// The datagram reassembled last; a segment may borrow it until the next call.
    reassembled: Vec<u8>,
    pending_fragments: usize,
    max_pending_fragments: usize,
    last_sweep: Timestamp,
}

/// Fragments older than this (capture time) are dropped, as a host would.
const FRAGMENT_TIMEOUT_NS: i64 = 30 * 1_000_000_000;

impl Decoder {
    pub fn new(max_pending_fragments: usize) -> Decoder {
        Decoder {
            frag: Defrag {
                pool: etherparse::defrag::IpDefragPool::new(),
                reassembled: Vec::new(),
                pending_fragments: 0,
                max_pending_fragments,
                last_sweep: Timestamp::default(),
            },
            stats: Stats::default(),
        }
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
    {
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

        let (src_ip, dst_ip, ip_start, claimed_end, fragmented, ip_number, ip_payload) =
            match &sliced.net {
                Some(LaxNetSlice::Ipv4(v4)) => {
                    let h = v4.header();
                    let start = offset_in(data, h.slice());
                    (
                        IpAddr::from(h.source()),
                        IpAddr::from(h.destination()),
                        start,
                        start + usize::from(h.total_len()),
                        v4.payload().fragmented,
                        v4.payload().ip_number,
                        v4.payload(),
                    )
                }
                Some(LaxNetSlice::Ipv6(v6)) => {
                    let h = v6.header();
                    let start = offset_in(data, h.slice());
                    (
                        IpAddr::from(h.source()),
                        IpAddr::from(h.destination()),
                        start,
                        start + 40 + usize::from(h.payload_length()),
                        v6.payload().fragmented,
                        v6.payload().ip_number,
                        v6.payload(),
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
        if ip_number != etherparse::IpNumber::TCP {
            return Err(Skip::NotTcp);
        }
        if fragmented {
            return frag.defragment(stats, frame, src_ip, dst_ip, &data[ip_start..]);
        }
        let tcp = match &sliced.transport {
            Some(TransportSlice::Tcp(tcp)) => tcp.clone(),
            _ => return Err(Skip::Malformed("TCP header cut short or corrupt")),
        };
        let missing = if ip_payload.incomplete {
            claimed_end.saturating_sub(data.len()) as u32
        } else {
            0
        };
        Ok(segment(src_ip, dst_ip, &tcp, missing))
    }
}

impl Defrag {
    fn defragment<'a>(
        &'a mut self,
        stats: &mut Stats,
        frame: &Frame<'a>,
        src: IpAddr,
        dst: IpAddr,
        ip: &'a [u8],
    ) -> Result<Segment<'a>, Skip> {
        stats.fragments += 1;
        // Expire what a host would have given up on, and bound what an attacker can pin.
        if frame.ts.since(self.last_sweep) > 1_000_000_000 {
            let cutoff = frame.ts.as_nanos() - FRAGMENT_TIMEOUT_NS;
            self.pool.retain(|ts| ts.as_nanos() >= cutoff);
            self.last_sweep = frame.ts;
        }
        if self.pending_fragments >= self.max_pending_fragments {
            self.pool.retain(|_| false);
            stats.fragments_dropped += self.pending_fragments as u64;
            self.pending_fragments = 0;
        }
        let strict =
            SlicedPacket::from_ip(ip).map_err(|_| Skip::Malformed("IP fragment cut short"))?;
        match self.pool.process_sliced_packet(&strict, frame.ts, ()) {
            Ok(Some(done)) => {
                self.pending_fragments = self.pending_fragments.saturating_sub(1);
                stats.reassembled_datagrams += 1;
                let old = std::mem::replace(&mut self.reassembled, done.payload);
                self.pool
                    .return_buf(etherparse::defrag::IpDefragPayloadVec {
                        ip_number: done.ip_number,
                        len_source: done.len_source,
                        payload: old,
                    });
                let tcp = TcpSlice::from_slice(&self.reassembled)
                    .map_err(|_| Skip::Malformed("reassembled TCP header corrupt"))?;
                Ok(segment(src, dst, &tcp, 0))
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
