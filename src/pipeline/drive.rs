//! The capture → packet → flow loop every command shares: frames from any
//! [`FrameSource`], decoded to TCP segments, fed to the connection table and its
//! [`Handler`]; the run totals at the end.

use super::config::{InputConfig, RunError};
use crate::capture::{FileReader, FrameSource, InputSource, Merge, Progress, Pulled};
use crate::flow::{FlowTable, Handler};
use crate::packet::Decoder;
use crate::proto;
use crate::session::RunSummary;
use crate::types::{Endpoint, Timestamp};
use std::io;
use std::path::Path;

/// How often a source whose frames come as they are captured has what waits finished.
const TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Where reading has come to, reported every few thousand frames (a progress bar, say).
pub type ProgressSink<'a> = dyn FnMut(Progress) + 'a;

/// The opened inputs: one frame source over all of them, and the file names in the order
/// `Frame::input` counts them (directories expanded).
pub(super) struct Opened {
    pub source: Box<dyn FrameSource>,
    pub files: Vec<String>,
}

/// Captures a directory holds: its files named `*.pcap`, `*.pcapng`, `*.cap` (each maybe
/// `.gz`), by name.
fn captures_in(dir: &Path) -> io::Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let name = name.strip_suffix(".gz").unwrap_or(name);
        let capture = [".pcap", ".pcapng", ".cap"]
            .iter()
            .any(|ext| name.to_ascii_lowercase().ends_with(ext));
        if capture && path.is_file() {
            found.push(path.display().to_string());
        }
    }
    found.sort();
    Ok(found)
}

/// Opens the captures `cfg` names (files, directories of captures, `-` for standard
/// input): one reader, or a [`Merge`] of several by frame time.
pub(super) fn open(cfg: &InputConfig) -> Result<Opened, RunError> {
    if let Some(live) = &cfg.live {
        let source = crate::capture::live::open(live.clone())?;
        return Ok(Opened {
            source: Box::new(source),
            files: Vec::new(),
        });
    }
    let mut files = Vec::new();
    for input in &cfg.inputs {
        let path = Path::new(input);
        if input != "-" && path.is_dir() {
            let inside = captures_in(path).map_err(|e| RunError::Open(input.clone(), e))?;
            if inside.is_empty() {
                let e = io::Error::other(
                    "is a directory, and holds no capture (*.pcap, *.pcapng, *.cap, or .gz of one)",
                );
                return Err(RunError::Open(input.clone(), e));
            }
            files.extend(inside);
        } else {
            files.push(input.clone());
        }
    }
    let mut readers = Vec::with_capacity(files.len());
    // Merged inputs share what one alone would have: 400 captures do not take 400 MiB.
    let buffer = (1 << 20) / files.len().max(1);
    for f in &files {
        let source = InputSource::open(f, cfg.stop.clone()).map_err(|e| {
            if e.raw_os_error() == Some(24) {
                // EMFILE: every input is open at once while they are merged.
                let why = format!(
                    "{e}: {} inputs are read at once, more than the open-file limit allows (raise it with ulimit -n, or merge fewer)",
                    files.len()
                );
                return RunError::Open(f.clone(), io::Error::other(why));
            }
            RunError::Open(f.clone(), e)
        })?;
        readers.push(FileReader::with_buffer(source, buffer)?);
    }
    let source: Box<dyn FrameSource> = match readers.len() {
        1 => Box::new(readers.remove(0)),
        _ => Box::new(Merge::new(readers)?),
    };
    Ok(Opened { source, files })
}

/// A connection handler that wants to know which input each new connection came from.
pub(super) trait Inputs: Handler {
    /// The frames about to be handed over come from input `i` (a position in
    /// [`Opened::files`]).
    fn input(&mut self, i: usize);
    /// Nothing arrived for a moment (a live capture, a pipe): finish what can be finished
    /// (messages decoded meanwhile, sessions waiting for them).
    fn idle(&mut self) {}
    /// TLS secrets found in the input (a pcapng Decryption Secrets Block).
    fn secrets(&mut self, _text: &[u8]) {}
}

/// What a run of [`drive`] found.
pub(super) struct Driven {
    pub summary: RunSummary,
    pub error: Option<RunError>,
    /// TCP connections on ports not followed (without `--all-ports`): distinct address
    /// pairs, counted up to `Limits::max_connections` (past it, at least that many).
    pub other_ports: OtherPorts,
}

/// Connections on ports not followed, for the explanation of an empty result.
#[derive(Default)]
pub(super) struct OtherPorts {
    seen: std::collections::HashSet<(Endpoint, Endpoint)>,
    /// The count reached `Limits::max_connections` and stopped.
    pub at_limit: bool,
}

impl OtherPorts {
    fn add(&mut self, a: Endpoint, b: Endpoint, max: usize) {
        if self.seen.len() >= max {
            self.at_limit = true;
            return;
        }
        self.seen.insert((a.min(b), a.max(b)));
    }

    pub fn count(&self) -> usize {
        self.seen.len()
    }
}

/// The capture → packet → flow loop: feeds every segment on a wanted port to `handler`,
/// closes all connections at the end, and returns the run totals and the capture error
/// that stopped reading early, if any.
pub(super) fn drive<H: Inputs>(
    cfg: &InputConfig,
    source: &mut dyn FrameSource,
    handler: &mut H,
    progress: &mut ProgressSink<'_>,
) -> Driven {
    let proxies = proto::PROXY_PORTS.into_iter();
    let mut table: FlowTable<H> = FlowTable::new(&cfg.limits, cfg.ports.ports().chain(proxies));
    let mut decoder = Decoder::new(cfg.limits.max_pending_fragments)
        .max_tunnel_depth(cfg.limits.max_tunnel_depth);
    let mut wanted = vec![cfg.all_ports; 65536];
    for p in cfg.ports.ports().chain(proto::PROXY_PORTS) {
        wanted[usize::from(p)] = true;
    }
    let mut error = None;
    let mut other_ports = OtherPorts::default();
    // A live source stops itself on the flag, after handing out what it captured.
    let live = source.is_live();
    // Frames that come as they are captured: every moment (idle or not), what waits is
    // finished (decoded messages, sessions waiting for them) and, live, idle connections
    // time out on the wall clock, even while other traffic keeps frames coming.
    let as_it_comes = source.as_it_comes();
    let mut last_tick = std::time::Instant::now();
    loop {
        if as_it_comes && last_tick.elapsed() >= TICK {
            last_tick = std::time::Instant::now();
            if live {
                table.tick(Timestamp::now(), handler);
            }
            handler.idle();
            if handler.halted() {
                break;
            }
        }
        if cfg.count.is_some_and(|n| source.frames() >= n) {
            break;
        }
        // A live source or a pipe ends itself on the flag, after what it already holds; a
        // file stops here, and says it was not read to the end.
        if cfg.stopped() && !as_it_comes {
            error = Some(RunError::Interrupted(source.frames()));
            break;
        }
        // TLS secrets embedded in the capture: read on the way to the frames before this
        // one, they are in place before the first encrypted record that needs them.
        if let Some(text) = source.take_secrets() {
            handler.secrets(&text);
        }
        let frame = match source.pull() {
            Ok(Pulled::Frame(frame)) => frame,
            // Nothing arrived for a moment: the tick above finishes what waits (live,
            // idle connections time out on the wall clock; a pipe's frames carry their
            // own time, which may be old).
            Ok(Pulled::Idle(_)) => continue,
            Ok(Pulled::End) => break,
            Err(e) => {
                error = Some(RunError::Capture(e));
                break;
            }
        };
        if handler.halted() {
            break;
        }
        let (ts, index) = (frame.ts, frame.index);
        if let Ok(seg) = decoder.decode(&frame) {
            if wanted[usize::from(seg.src.port)] || wanted[usize::from(seg.dst.port)] {
                handler.input(frame.input);
                table.process(&seg, ts, index, handler);
            } else {
                other_ports.add(seg.src, seg.dst, cfg.limits.max_connections);
            }
        }
        if index % 8192 == 0 {
            progress(source.progress());
        }
    }
    table.finish(handler);
    let ds = &decoder.stats;
    let summary = RunSummary {
        kind: "summary",
        input: cfg.name(),
        frames: source.frames(),
        tcp_segments: ds.tcp,
        connections: table.stats.connections,
        listed: 0,
        frames_not_ip: ds.not_ip,
        frames_not_tcp: ds.not_tcp,
        frames_malformed: ds.malformed,
        frames_unsupported_link: ds.unsupported_link,
        frames_cut_by_snaplen: ds.truncated_by_snaplen,
        ip_fragments: ds.fragments,
        connections_timed_out: table.stats.timed_out,
        connections_evicted_at_limit: table.stats.evicted_at_limit,
        buffer_limit_flushes: table.stats.buffer_limit_flushes,
        frames_tunnelled: ds.encapsulated,
        frames_tunnels_too_deep: ds.tunnels_too_deep,
        acked_holes_given_up: table.stats.acked_hole_flushes,
        segments_out_of_window: table.stats.out_of_window,
        packets_late: table.stats.late_packets,
        packets_ignored: table.stats.ignored_packets,
        ip_fragments_dropped: ds.fragments_dropped,
        pcapng_blocks_skipped: source.skipped_blocks(),
        messages_not_decoded: 0,
        error: error.as_ref().map(|e| e.to_string()),
        listed_out_of_order: 0,
        refused: None,
        refused_by: Vec::new(),
        capture: source.capture_stats(),
    };
    Driven {
        summary,
        error,
        other_ports,
    }
}
