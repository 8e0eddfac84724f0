//! The `libpcap` feature's backend: the `pcap` crate (the system libpcap), with kernel BPF
//! for `-f`, the kernel's timestamps (microseconds), its
//! drop counts (`pcap_stats`), any link type the interface has, and macOS support.

use super::{Backend, Got, Interface, KernelStats, LiveError, LiveOptions, Opened, POLL, Packet};
use crate::types::Timestamp;
use pcap::{Active, Capture, Device};
use std::io;
use std::net::IpAddr;

/// Kernel buffer asked for (libpcap's default is 2 MiB).
const BUFFER: i32 = 8 << 20;

fn prefix(netmask: Option<IpAddr>) -> Option<u32> {
    Some(match netmask? {
        IpAddr::V4(m) => u32::from(m).count_ones(),
        IpAddr::V6(m) => u128::from(m).count_ones(),
    })
}

fn other(interface: &str, e: pcap::Error) -> LiveError {
    LiveError::Other {
        interface: interface.into(),
        why: e.to_string(),
    }
}

pub(super) fn interfaces() -> Result<Vec<Interface>, LiveError> {
    let devices = Device::list().map_err(|e| other("libpcap", e))?;
    Ok(devices
        .into_iter()
        .map(|d| Interface {
            addresses: d
                .addresses
                .iter()
                .map(|a| match prefix(a.netmask) {
                    Some(p) => format!("{}/{p}", a.addr),
                    None => a.addr.to_string(),
                })
                .collect(),
            up: d.flags.is_up(),
            loopback: d.flags.is_loopback(),
            description: d.desc,
            name: d.name,
        })
        .collect())
}

/// What libpcap's error text says went wrong, as a [`LiveError`].
fn classify(interface: &str, e: pcap::Error) -> LiveError {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("operation not permitted") {
        LiveError::PermissionDenied {
            interface: interface.into(),
        }
    } else if lower.contains("no such device") {
        LiveError::NoSuchInterface {
            name: interface.into(),
            known: Device::list()
                .map(|l| l.into_iter().map(|d| d.name).collect())
                .unwrap_or_default(),
        }
    } else if lower.contains("network is down") {
        LiveError::Down {
            interface: interface.into(),
        }
    } else {
        other(interface, e)
    }
}

pub(super) fn open(opts: &LiveOptions) -> Result<Opened, LiveError> {
    let name = opts.interface.as_str();
    let devices = Device::list().map_err(|e| classify(name, e))?;
    let Some(device) = devices.iter().find(|d| d.name == name).cloned() else {
        return Err(LiveError::NoSuchInterface {
            name: name.into(),
            known: devices.into_iter().map(|d| d.name).collect(),
        });
    };
    // libpcap's pseudo-devices (nflog, dbus-system, …) are never "up"; only a network
    // interface (one the OS lists as such) that is down is refused.
    let network_down = || {
        pnet_datalink::interfaces()
            .iter()
            .any(|i| i.name == name && !i.is_up())
    };
    let device_is_loopback = device.flags.is_loopback();
    if !device.flags.is_up() && network_down() {
        return Err(LiveError::Down {
            interface: name.into(),
        });
    }
    let mut cap = Capture::from_device(device)
        .map_err(|e| classify(name, e))?
        .promisc(opts.promiscuous)
        .snaplen(i32::try_from(opts.snaplen()).unwrap_or(i32::MAX))
        .timeout(POLL.as_millis() as i32)
        .immediate_mode(true)
        .buffer_size(BUFFER)
        .open()
        .map_err(|e| classify(name, e))?
        .setnonblock()
        .map_err(|e| classify(name, e))?;
    // On a loopback interface every packet is seen twice, outgoing and incoming; libpcap
    // drops the outgoing copy in user space, after the kernel has put both in its ring. A
    // kernel filter on `inbound` (Linux: the packet type) keeps the ring for one copy, as the
    // pnet backend does: at 1 Gbit/s the difference is drops or none.
    let inbound = cfg!(target_os = "linux") && device_is_loopback;
    let program = match (&opts.filter, inbound) {
        (Some(f), true) => Some(format!("inbound and ({f})")),
        (Some(f), false) => Some(f.clone()),
        (None, true) => Some("inbound".to_string()),
        (None, false) => None,
    };
    if let Some(program) = &program {
        cap.filter(program, true)
            .map_err(|e| LiveError::BadFilter {
                filter: opts.filter.clone().unwrap_or_else(|| program.clone()),
                why: e.to_string(),
            })?;
    }
    let linktype = cap.get_datalink().0;
    Ok(Opened {
        backend: Box::new(Libpcap { cap }),
        linktype,
    })
}

struct Libpcap {
    /// Microsecond timestamps: libpcap's default, which every version and system has.
    cap: Capture<Active>,
}

impl Libpcap {
    /// Waits until the capture's descriptor is readable, or `POLL` passed.
    fn wait(&self) -> io::Result<()> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let timeout = Timespec::try_from(POLL).map_err(io::Error::other)?;
        let mut fds = [PollFd::new(&self.cap, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Backend for Libpcap {
    /// The capture is non-blocking, and waited on here: libpcap's own read timeout does not
    /// expire while no packet arrives (TPACKET_V3 on Linux), and the thread must see a stop.
    fn next_packet(&mut self, snaplen: usize) -> io::Result<Got> {
        for attempt in 0..2 {
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = Timestamp::from_parts(
                        p.header.ts.tv_sec,
                        u64::try_from(p.header.ts.tv_usec).unwrap_or(0),
                        1_000_000,
                    );
                    return Ok(Got::Packet(Packet {
                        ts,
                        orig_len: p.header.len,
                        data: p.data[..p.data.len().min(snaplen)].to_vec(),
                    }));
                }
                Err(pcap::Error::TimeoutExpired) => {}
                // Pseudo-devices (nflog) report "no packet" of a non-blocking read as EAGAIN.
                Err(pcap::Error::PcapError(e)) if e.contains("temporarily unavailable") => {}
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
            if attempt == 0 {
                self.wait()?;
            }
        }
        Ok(Got::Timeout)
    }

    fn stats(&mut self) -> KernelStats {
        match self.cap.stats() {
            Ok(s) => KernelStats {
                dropped: Some(u64::from(s.dropped)),
                if_dropped: Some(u64::from(s.if_dropped)),
            },
            Err(_) => KernelStats::default(),
        }
    }
}
