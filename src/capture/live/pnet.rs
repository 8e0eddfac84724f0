//! The default backend: pnet's datalink channel (AF_PACKET on Linux), no system library.
//!
//! On Linux the AF_PACKET socket is made here (socket2) rather than by pnet, so that before
//! pnet binds it to the interface it gets:
//! - a classic BPF program ([`program`]) that accepts only the chosen interface's packets
//!   and, on a loopback interface, drops the PACKET_OUTGOING copy: AF_PACKET on `lo` sees
//!   every packet twice (outgoing, then incoming), and pnet does not say which is which.
//!   libpcap drops the outgoing copy too, so both backends count each packet once;
//! - a large receive buffer;
//! - a duplicate kept for PACKET_STATISTICS (the kernel's drop count).
//!
//! Frames are Ethernet (on `lo` too); the timestamp is the wall clock on receipt.

use super::{Backend, Got, Interface, KernelStats, LiveError, LiveOptions, Opened, POLL, Packet};
use pnet_datalink::{Channel, Config, DataLinkReceiver};
use std::io;

/// Read buffer: loopback's MTU is 65536 and GRO/GSO make bigger packets still; a frame must
/// not be cut by the buffer.
const READ_BUFFER: usize = 256 << 10;

/// Receive buffer asked of the kernel (it caps it at `net.core.rmem_max`).
#[cfg(target_os = "linux")]
const RECV_BUFFER: usize = 8 << 20;

/// LINKTYPE_ETHERNET.
const ETHERNET: i32 = 1;

pub(super) fn interfaces() -> Vec<Interface> {
    pnet_datalink::interfaces()
        .into_iter()
        .map(|i| Interface {
            description: (!i.description.is_empty()).then(|| i.description.clone()),
            addresses: i.ips.iter().map(|ip| ip.to_string()).collect(),
            up: i.is_up(),
            loopback: i.is_loopback(),
            name: i.name,
        })
        .collect()
}

pub(super) fn open(opts: &LiveOptions) -> Result<Opened, LiveError> {
    let all = pnet_datalink::interfaces();
    let Some(iface) = all.iter().find(|i| i.name == opts.interface).cloned() else {
        return Err(LiveError::NoSuchInterface {
            name: opts.interface.clone(),
            known: all.into_iter().map(|i| i.name).collect(),
        });
    };
    if !iface.is_up() {
        return Err(LiveError::Down {
            interface: iface.name,
        });
    }
    let name = iface.name.clone();
    let error = |e: io::Error| match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => LiveError::PermissionDenied {
            interface: name.clone(),
        },
        Some(libc::ENETDOWN) => LiveError::Down {
            interface: name.clone(),
        },
        _ => LiveError::Other {
            interface: name.clone(),
            why: e.to_string(),
        },
    };
    #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
    let mut config = Config {
        read_buffer_size: READ_BUFFER,
        read_timeout: Some(POLL),
        promiscuous: opts.promiscuous,
        ..Config::default()
    };
    #[cfg(target_os = "linux")]
    let stats = {
        let (fd, stats) = linux::socket(&iface).map_err(error)?;
        config.socket_fd = Some(fd);
        Some(stats)
    };
    let rx = match pnet_datalink::channel(&iface, config).map_err(error)? {
        Channel::Ethernet(_tx, rx) => rx,
        _ => {
            return Err(LiveError::Other {
                interface: iface.name,
                why: "pnet gave a channel that is not Ethernet".into(),
            });
        }
    };
    Ok(Opened {
        backend: Box::new(Pnet {
            rx,
            #[cfg(target_os = "linux")]
            stats,
            #[cfg(target_os = "linux")]
            dropped: 0,
        }),
        linktype: ETHERNET,
    })
}

struct Pnet {
    rx: Box<dyn DataLinkReceiver>,
    /// A duplicate of the capture socket, for PACKET_STATISTICS (Linux).
    #[cfg(target_os = "linux")]
    stats: Option<socket2::Socket>,
    /// Kernel drops so far (PACKET_STATISTICS resets its counters on each read).
    #[cfg(target_os = "linux")]
    dropped: u64,
}

impl Backend for Pnet {
    fn next_packet(&mut self, snaplen: usize) -> io::Result<Got> {
        match self.rx.next() {
            Ok(data) => {
                let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
                Ok(Got::Packet(Packet {
                    ts: super::now(),
                    orig_len,
                    data: data[..data.len().min(snaplen)].to_vec(),
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(Got::Timeout),
            Err(e) => Err(e),
        }
    }

    fn stats(&mut self) -> KernelStats {
        #[cfg(target_os = "linux")]
        if let Some(sock) = &self.stats {
            if let Ok((_, drops)) = linux::packet_statistics(sock) {
                self.dropped += u64::from(drops);
                return KernelStats {
                    dropped: Some(self.dropped),
                    if_dropped: None,
                };
            }
            // Could not read them: say nothing rather than 0.
            self.stats = None;
        }
        KernelStats::default()
    }
}

/// The socket pnet is given, and its BPF program.
#[cfg(target_os = "linux")]
mod linux {
    use pnet_datalink::NetworkInterface;
    use socket2::{Domain, Protocol, SockFilter, Socket, Type};
    use std::io;
    use std::os::fd::{AsRawFd, IntoRawFd, RawFd};

    /// One classic BPF instruction (`struct sock_filter`), kept as data so tests can run it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) struct Insn {
        pub code: u16,
        pub jt: u8,
        pub jf: u8,
        pub k: u32,
    }

    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    /// `ld ifindex`: the ancillary load of the receiving interface's index.
    pub(super) const AD_IFINDEX: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_IFINDEX) as u32;
    /// `ld pkttype`: the ancillary load of the packet type (PACKET_HOST, PACKET_OUTGOING, …).
    pub(super) const AD_PKTTYPE: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32;
    pub(super) const PACKET_OUTGOING: u32 = libc::PACKET_OUTGOING as u32;

    /// The filter: the packets of interface `ifindex` only, and on a loopback interface not
    /// the outgoing copy.
    ///
    /// ```text
    /// (0) ld  ifindex
    /// (1) jeq #ifindex       jt 2  jf reject
    /// (2) ld  pkttype                             ─┐ loopback only
    /// (3) jeq #PACKET_OUTGOING jt reject jf accept ─┘
    ///     accept: ret #-1 (the whole packet)
    ///     reject: ret #0
    /// ```
    pub(super) fn program(ifindex: u32, loopback: bool) -> Vec<Insn> {
        let insn = |code, jt, jf, k| Insn { code, jt, jf, k };
        let mut p = vec![insn(LD_W_ABS, 0, 0, AD_IFINDEX)];
        if loopback {
            p.push(insn(JEQ_K, 0, 3, ifindex));
            p.push(insn(LD_W_ABS, 0, 0, AD_PKTTYPE));
            p.push(insn(JEQ_K, 1, 0, PACKET_OUTGOING));
        } else {
            p.push(insn(JEQ_K, 0, 1, ifindex));
        }
        p.push(insn(RET_K, 0, 0, u32::MAX));
        p.push(insn(RET_K, 0, 0, 0));
        p
    }

    /// An AF_PACKET socket (all protocols) with [`program`] attached and a large receive
    /// buffer, as a raw fd that pnet takes over (binds, sets promiscuous mode, closes), and
    /// a duplicate for [`packet_statistics`].
    pub(super) fn socket(iface: &NetworkInterface) -> io::Result<(RawFd, Socket)> {
        let all = Protocol::from(i32::from((libc::ETH_P_ALL as u16).to_be()));
        let sock = Socket::new(Domain::PACKET, Type::RAW, Some(all))?;
        let filter: Vec<SockFilter> = program(iface.index, iface.is_loopback())
            .into_iter()
            .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
            .collect();
        sock.attach_filter(&filter)?;
        // Best effort: the kernel caps it at net.core.rmem_max.
        let _ = sock.set_recv_buffer_size(super::RECV_BUFFER);
        let stats = sock.try_clone()?;
        Ok((sock.into_raw_fd(), stats))
    }

    /// PACKET_STATISTICS: packets that passed the filter and packets the kernel dropped
    /// since the last call (the kernel resets both on each read).
    #[allow(unsafe_code)]
    pub(super) fn packet_statistics(sock: &Socket) -> io::Result<(u32, u32)> {
        let mut stats = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: `stats` is a live, aligned `tpacket_stats` owned by this frame and `len` is
        // its size, so the kernel writes at most that many bytes into it; the fd is borrowed
        // from `sock`, open for the whole call.
        let rc = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((stats.tp_packets, stats.tp_drops))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::{AD_IFINDEX, AD_PKTTYPE, Insn, PACKET_OUTGOING, program};

    /// Runs a classic BPF program of the instructions [`program`] uses on a packet with the
    /// given ancillary data; the kernel's semantics (jumps are relative to the next
    /// instruction, `ret k` keeps k bytes).
    fn run(p: &[Insn], ifindex: u32, pkttype: u32) -> u32 {
        let mut a = 0u32;
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                0x20 => {
                    a = match i.k {
                        AD_IFINDEX => ifindex,
                        AD_PKTTYPE => pkttype,
                        k => panic!("unexpected load {k:#x}"),
                    }
                }
                0x15 => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
                0x06 => return i.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    const HOST: u32 = 0;
    const BROADCAST: u32 = 1;
    const OTHERHOST: u32 = 3;

    #[test]
    fn loopback_keeps_each_packet_once_and_only_its_own() {
        let p = program(1, true);
        assert_eq!(run(&p, 1, HOST), u32::MAX);
        assert_eq!(run(&p, 1, PACKET_OUTGOING), 0, "the outgoing copy on lo");
        assert_eq!(run(&p, 2, HOST), 0, "another interface");
        assert_eq!(run(&p, 2, PACKET_OUTGOING), 0);
    }

    #[test]
    fn other_interfaces_keep_outgoing_packets() {
        let p = program(7, false);
        for t in [HOST, BROADCAST, OTHERHOST, PACKET_OUTGOING] {
            assert_eq!(run(&p, 7, t), u32::MAX, "pkttype {t}");
            assert_eq!(run(&p, 8, t), 0, "pkttype {t} on another interface");
        }
    }

    #[test]
    fn program_uses_the_kernel_encoding() {
        // `tcpdump -dd`-style check of the loopback program, opcode by opcode.
        let p = program(1, true);
        let raw: Vec<(u16, u8, u8, u32)> = p.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
        assert_eq!(
            raw,
            [
                (0x20, 0, 0, 0xffff_f008),
                (0x15, 0, 3, 1),
                (0x20, 0, 0, 0xffff_f004),
                (0x15, 1, 0, 4),
                (0x06, 0, 0, u32::MAX),
                (0x06, 0, 0, 0),
            ]
        );
    }
}
