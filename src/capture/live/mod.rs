//! Live capture: frames from a network interface, as a [`FrameSource`] like any file.
//!
//! SKELETON (being written by the capture helper; the API below is what the pipeline uses).

use super::{CaptureError, CaptureStats, Frame, FrameSource, Progress, Pulled};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// The backend this build captures with.
pub const BACKEND: &str = "pnet";

/// What to capture and how (the command line's `-i`, `-f`, `-p`, `-a`, `-w`).
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// `-i`: the interface's name.
    pub interface: String,
    /// `-f`: a BPF capture filter (the `libpcap` feature only).
    pub filter: Option<String>,
    /// Put the interface in promiscuous mode (`-p` turns it off).
    pub promiscuous: bool,
    /// Bytes kept of each packet.
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
    Ok(Vec::new())
}

/// Starts capturing.
pub fn open(opts: LiveOptions) -> Result<LiveSource, LiveError> {
    Err(LiveError::Other {
        interface: opts.interface,
        why: "live capture is being built".into(),
    })
}

/// A running capture.
pub struct LiveSource {
    frames: u64,
}

impl FrameSource for LiveSource {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        Ok(None)
    }
    fn pull(&mut self) -> Result<Pulled<'_>, CaptureError> {
        Ok(Pulled::End)
    }
    fn frames(&self) -> u64 {
        self.frames
    }
    fn skipped_blocks(&self) -> u64 {
        0
    }
    fn progress(&self) -> Progress {
        Progress::default()
    }
    fn capture_stats(&self) -> Option<CaptureStats> {
        None
    }
    fn is_live(&self) -> bool {
        true
    }
}
