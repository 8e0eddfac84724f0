//! Live capture: frames from a network interface, as a [`FrameSource`] like any file.
//!
//! Owns the capture thread, the queue between it and the pipeline, the `-w` copy of what was
//! handed out, and the choice of backend: [`pnet`](self) (AF_PACKET, pure Rust; the default
//! build) or libpcap (the `libpcap` feature: kernel BPF for `-f`, macOS). Nothing outside this
//! module knows which backend is in use.
//!
//! ```text
//!  backend ──(thread: read, 100 ms timeout)──▶ queue (≤ queue_bytes) ──▶ LiveSource::pull ──▶ pipeline
//!                     │ queue full: drop, count                              └──▶ -w file
//!                     └ stop flag / duration / drop of the LiveSource: thread ends, queue drains, End
//! ```
//!
//! The capture thread never blocks on the pipeline: when the packets waiting in the queue
//! would take more than [`LiveOptions::queue_bytes`], the packet is let go and counted
//! (`packets_dropped_by_mailscope`). After a stop every packet already queued is still handed
//! out before [`Pulled::End`].

#[cfg(feature = "libpcap")]
mod libpcap;
#[cfg(not(feature = "libpcap"))]
mod pnet;
mod writer;

use super::{CaptureError, CaptureErrorKind, CaptureStats, Frame, FrameSource, LinkType};
use super::{Progress, Pulled};
use crate::types::Timestamp;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use writer::PcapWriter;

/// The backend this build captures with.
#[cfg(not(feature = "libpcap"))]
pub const BACKEND: &str = "pnet";
/// The backend this build captures with.
#[cfg(feature = "libpcap")]
pub const BACKEND: &str = "libpcap";

/// How long the capture thread waits for a packet before it looks at the stop flag and the
/// duration again, and how long [`LiveSource::pull`] waits before it reports
/// [`Pulled::Idle`].
const POLL: Duration = Duration::from_millis(100);

/// Bytes a queued packet is charged beyond its data (its `Vec`, the channel slot, the
/// allocator), so that a flood of tiny packets is bounded too.
const PACKET_OVERHEAD: usize = 64;

/// Bytes kept of each packet when [`LiveOptions::snaplen`] is 0 (tcpdump's default).
const DEFAULT_SNAPLEN: u32 = 262_144;

/// What to capture and how (the command line's `-i`, `-f`, `-p`, `-a`, `-w`).
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// `-i`: the interface's name.
    pub interface: String,
    /// `-f`: a BPF capture filter (the `libpcap` feature only).
    pub filter: Option<String>,
    /// Put the interface in promiscuous mode (`-p` turns it off).
    pub promiscuous: bool,
    /// Bytes kept of each packet (0: 262144, tcpdump's default).
    pub snaplen: u32,
    /// `-a duration:SECS`: stop after this long.
    pub duration: Option<Duration>,
    /// `-w FILE`: also write every packet handed out to this pcap file.
    pub write: Option<PathBuf>,
    /// Bytes of packets waiting between the capture thread and the pipeline, at most
    /// (`Limits::max_capture_queue`); past it, packets are dropped and counted.
    pub queue_bytes: usize,
    /// Set (by Ctrl-C or SIGTERM) to stop: what was captured is still handed out, then
    /// [`Pulled::End`].
    pub stop: Arc<AtomicBool>,
}

impl LiveOptions {
    fn snaplen(&self) -> u32 {
        if self.snaplen == 0 {
            DEFAULT_SNAPLEN
        } else {
            self.snaplen
        }
    }
}

/// An interface, as `-D` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub description: Option<String>,
    /// Its addresses, as text (`127.0.0.1/8`, `::1/128`).
    pub addresses: Vec<String>,
    pub up: bool,
    pub loopback: bool,
}

/// Why a live capture could not start (or went on).
#[derive(Debug)]
pub enum LiveError {
    NoSuchInterface {
        name: String,
        known: Vec<String>,
    },
    PermissionDenied {
        interface: String,
    },
    Down {
        interface: String,
    },
    /// `-f` in a build without the `libpcap` feature.
    FilterNeedsLibpcap,
    BadFilter {
        filter: String,
        why: String,
    },
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    Other {
        interface: String,
        why: String,
    },
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::NoSuchInterface { name, known } => write!(
                f,
                "no such interface: {name} (interfaces: {})",
                known.join(", ")
            ),
            LiveError::PermissionDenied { interface } => write!(
                f,
                "capturing on {interface} needs root or CAP_NET_RAW: run as root, or once: setcap cap_net_raw,cap_net_admin=eip $(command -v mailscope)"
            ),
            LiveError::Down { interface } => write!(f, "interface {interface} is down"),
            LiveError::FilterNeedsLibpcap => f.write_str(
                "-f (a BPF capture filter) needs the libpcap backend: cargo install --features libpcap; without it, filter with --host, --port and --proto",
            ),
            LiveError::BadFilter { filter, why } => write!(f, "-f {filter:?}: {why}"),
            LiveError::Write { path, error } => write!(f, "-w {}: {error}", path.display()),
            LiveError::Other { interface, why } => write!(f, "{interface}: {why}"),
        }
    }
}

impl std::error::Error for LiveError {}

/// The interfaces there are, for `-D`.
pub fn interfaces() -> Result<Vec<Interface>, LiveError> {
    #[cfg(feature = "libpcap")]
    return libpcap::interfaces();
    #[cfg(not(feature = "libpcap"))]
    Ok(pnet::interfaces())
}

/// Starts capturing: checks the interface (exists, is up), opens the backend (permission,
/// `-f`), creates the `-w` file, and starts the capture thread. Every failure is one
/// [`LiveError`] whose text is one line.
pub fn open(opts: LiveOptions) -> Result<LiveSource, LiveError> {
    #[cfg(not(feature = "libpcap"))]
    if opts.filter.is_some() {
        return Err(LiveError::FilterNeedsLibpcap);
    }
    #[cfg(feature = "libpcap")]
    let opened = libpcap::open(&opts)?;
    #[cfg(not(feature = "libpcap"))]
    let opened = pnet::open(&opts)?;
    LiveSource::start(opened, opts)
}

/// A packet the capture thread read: owned, waiting in the queue.
#[derive(Debug)]
struct Packet {
    ts: Timestamp,
    /// Length on the wire (more than `data.len()` when snaplen cut it).
    orig_len: u32,
    data: Vec<u8>,
}

impl Packet {
    /// What it costs in the queue's byte budget.
    fn cost(&self) -> usize {
        self.data.len() + PACKET_OVERHEAD
    }
}

/// What a backend's read gave.
enum Got {
    Packet(Packet),
    /// Nothing within the read timeout (about [`POLL`]).
    Timeout,
}

/// The kernel's (and driver's) counts, as far as the backend can tell: cumulative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct KernelStats {
    dropped: Option<u64>,
    if_dropped: Option<u64>,
}

/// One capture backend, run on the capture thread.
trait Backend: Send {
    /// The next packet, cut to `snaplen` bytes, or [`Got::Timeout`] after about [`POLL`]
    /// without one. An error ends the capture.
    fn next_packet(&mut self, snaplen: usize) -> io::Result<Got>;
    /// The counts so far (cumulative over the capture).
    fn stats(&mut self) -> KernelStats;
}

/// An opened backend and the link type of its frames (the pcap LINKTYPE_ number).
struct Opened {
    backend: Box<dyn Backend>,
    linktype: i32,
}

/// The wall clock now.
fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanos(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
}

/// Counters shared by the capture thread and the [`LiveSource`].
#[derive(Default)]
struct Shared {
    /// Bytes (by [`Packet::cost`]) in the queue.
    in_flight: AtomicUsize,
    received: AtomicU64,
    dropped_by_mailscope: AtomicU64,
    kernel: Mutex<KernelStats>,
    /// Set by dropping the [`LiveSource`] (`-c N`): the thread ends.
    halt: AtomicBool,
}

/// The capture thread: reads until a stop, the duration, a halt or an error; never blocks on
/// the pipeline.
fn capture_loop(
    mut backend: Box<dyn Backend>,
    tx: Sender<Packet>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    snaplen: usize,
    queue_bytes: usize,
) -> io::Result<()> {
    let mut stats_at = Instant::now();
    let result = loop {
        if stop.load(Ordering::Relaxed)
            || shared.halt.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| Instant::now() >= d)
        {
            break Ok(());
        }
        match backend.next_packet(snaplen) {
            Ok(Got::Packet(mut p)) => {
                shared.received.fetch_add(1, Ordering::Relaxed);
                p.data.truncate(snaplen);
                let cost = p.cost();
                // Only this thread adds, so the check cannot be raced past the bound.
                if shared.in_flight.load(Ordering::Acquire) + cost > queue_bytes {
                    shared.dropped_by_mailscope.fetch_add(1, Ordering::Relaxed);
                } else {
                    shared.in_flight.fetch_add(cost, Ordering::AcqRel);
                    if tx.send(p).is_err() {
                        break Ok(()); // the LiveSource is gone
                    }
                }
            }
            Ok(Got::Timeout) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
        if stats_at.elapsed() >= POLL {
            stats_at = Instant::now();
            let k = backend.stats();
            *shared.kernel.lock().unwrap_or_else(|e| e.into_inner()) = k;
        }
    };
    let k = backend.stats();
    *shared.kernel.lock().unwrap_or_else(|e| e.into_inner()) = k;
    result
}

/// The frame handed out last, owned by the source until the next call.
struct Current {
    packet: Packet,
}

/// What [`LiveSource::wait`] got, without borrowing the source.
enum Waited {
    Frame,
    Idle,
    End,
}

/// A running capture.
///
/// Frames are numbered from 1 (`input` 0), time-stamped by the kernel (libpcap) or on
/// receipt (pnet). Dropping it stops the capture thread and waits for it.
pub struct LiveSource {
    interface: String,
    link: LinkType,
    rx: Receiver<Packet>,
    thread: Option<JoinHandle<io::Result<()>>>,
    shared: Arc<Shared>,
    current: Option<Current>,
    writer: Option<PcapWriter>,
    frames: u64,
    bytes: u64,
    ended: bool,
}

impl LiveSource {
    /// Starts the capture thread on an opened backend.
    fn start(opened: Opened, opts: LiveOptions) -> Result<LiveSource, LiveError> {
        let writer = match &opts.write {
            Some(path) => Some(
                PcapWriter::create(path, opened.linktype, opts.snaplen()).map_err(|error| {
                    LiveError::Write {
                        path: path.clone(),
                        error,
                    }
                })?,
            ),
            None => None,
        };
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let deadline = opts.duration.map(|d| Instant::now() + d);
        let (thread_shared, stop) = (shared.clone(), opts.stop.clone());
        let (snaplen, queue_bytes) = (opts.snaplen() as usize, opts.queue_bytes);
        let backend = opened.backend;
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                capture_loop(
                    backend,
                    tx,
                    thread_shared,
                    stop,
                    deadline,
                    snaplen,
                    queue_bytes,
                )
            })
            .map_err(|e| LiveError::Other {
                interface: opts.interface.clone(),
                why: format!("cannot start the capture thread: {e}"),
            })?;
        Ok(LiveSource {
            interface: opts.interface,
            link: LinkType::from_linktype(opened.linktype),
            rx,
            thread: Some(thread),
            shared,
            current: None,
            writer,
            frames: 0,
            bytes: 0,
            ended: false,
        })
    }

    /// Waits up to [`POLL`] for a packet; writes it to `-w`.
    fn wait(&mut self) -> Result<Waited, CaptureError> {
        self.current = None;
        if self.ended {
            return Ok(Waited::End);
        }
        match self.rx.recv_timeout(POLL) {
            Ok(packet) => {
                self.shared
                    .in_flight
                    .fetch_sub(packet.cost(), Ordering::AcqRel);
                self.frames += 1;
                self.bytes += packet.data.len() as u64;
                if let Some(w) = &mut self.writer
                    && let Err(e) = w.write(packet.ts, packet.orig_len, &packet.data)
                {
                    return Err(self.write_error(e));
                }
                self.current = Some(Current { packet });
                Ok(Waited::Frame)
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Some(w) = &mut self.writer
                    && let Err(e) = w.flush()
                {
                    return Err(self.write_error(e));
                }
                Ok(Waited::Idle)
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                let flushed = self.writer.as_mut().map_or(Ok(()), PcapWriter::flush);
                let joined = match self.thread.take().map(JoinHandle::join) {
                    Some(Ok(result)) => result,
                    Some(Err(_)) => Err(io::Error::other("the capture thread panicked")),
                    None => Ok(()),
                };
                if let Err(e) = joined {
                    return Err(CaptureError {
                        path: self.interface.clone(),
                        frame: self.frames + 1,
                        offset: self.bytes,
                        kind: CaptureErrorKind::Io(e),
                    });
                }
                if let Err(e) = flushed {
                    return Err(self.write_error(e));
                }
                Ok(Waited::End)
            }
        }
    }

    fn write_error(&mut self, e: io::Error) -> CaptureError {
        let path = self.writer.take().map(|w| w.path().display().to_string());
        CaptureError {
            path: path.unwrap_or_default(),
            frame: self.frames,
            offset: self.bytes,
            kind: CaptureErrorKind::Io(e),
        }
    }

    fn frame(&self) -> Option<Frame<'_>> {
        self.current.as_ref().map(|c| Frame {
            index: self.frames,
            ts: c.packet.ts,
            link: self.link,
            orig_len: c.packet.orig_len,
            data: &c.packet.data,
            input: 0,
        })
    }

    /// Stops the capture thread and waits for it (what was queued is dropped).
    fn halt(&mut self) {
        self.shared.halt.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.halt();
        if let Some(w) = &mut self.writer {
            let _ = w.flush();
        }
    }
}

impl FrameSource for LiveSource {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        loop {
            match self.wait()? {
                Waited::Frame => return Ok(self.frame()),
                Waited::Idle => {}
                Waited::End => return Ok(None),
            }
        }
    }
    fn pull(&mut self) -> Result<Pulled<'_>, CaptureError> {
        Ok(match self.wait()? {
            Waited::Frame => match self.frame() {
                Some(f) => Pulled::Frame(f),
                None => Pulled::End,
            },
            Waited::Idle => Pulled::Idle(now()),
            Waited::End => Pulled::End,
        })
    }
    fn frames(&self) -> u64 {
        self.frames
    }
    fn skipped_blocks(&self) -> u64 {
        0
    }
    fn progress(&self) -> Progress {
        Progress {
            read: self.bytes,
            total: None,
        }
    }
    fn capture_stats(&self) -> Option<CaptureStats> {
        let kernel = *self.shared.kernel.lock().unwrap_or_else(|e| e.into_inner());
        Some(CaptureStats {
            interface: self.interface.clone(),
            backend: BACKEND,
            packets_received: self.shared.received.load(Ordering::Relaxed),
            packets_dropped_by_kernel: kernel.dropped,
            packets_dropped_by_interface: kernel.if_dropped,
            packets_dropped_by_mailscope: self.shared.dropped_by_mailscope.load(Ordering::Relaxed),
        })
    }
    fn is_live(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
