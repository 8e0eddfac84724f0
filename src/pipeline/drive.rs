//! The capture → packet → flow loop every command shares: frames from any
//! [`FrameSource`], decoded to TCP segments, fed to the connection table and its
//! [`Handler`]; the run totals at the end.

use super::config::{InputConfig, RunError};
use crate::capture::{FileReader, FrameSource, InputSource, Progress};
use crate::flow::{FlowTable, Handler};
use crate::packet::Decoder;
use crate::proto;
use crate::session::RunSummary;

/// Where reading has come to, reported every few thousand frames (a progress bar, say).
pub type ProgressSink<'a> = dyn FnMut(Progress) + 'a;

/// Opens the capture file (or standard input) `cfg` names.
pub(super) fn open(cfg: &InputConfig) -> Result<FileReader, RunError> {
    let source = InputSource::open(&cfg.input).map_err(|e| RunError::Open(cfg.input.clone(), e))?;
    Ok(FileReader::new(source)?)
}

/// The capture → packet → flow loop: feeds every segment on a wanted port to `handler`,
/// closes all connections at the end, and returns the run totals and the capture error
/// that stopped reading early, if any.
pub(super) fn drive<H: Handler>(
    cfg: &InputConfig,
    source: &mut dyn FrameSource,
    handler: &mut H,
    progress: &mut ProgressSink<'_>,
) -> (RunSummary, Option<RunError>) {
    let proxies = proto::PROXY_PORTS.into_iter();
    let mut table: FlowTable<H> = FlowTable::new(&cfg.limits, cfg.ports.ports().chain(proxies));
    let mut decoder = Decoder::new(cfg.limits.max_pending_fragments)
        .max_tunnel_depth(cfg.limits.max_tunnel_depth);
    let mut wanted = vec![cfg.all_ports; 65536];
    for p in cfg.ports.ports().chain(proto::PROXY_PORTS) {
        wanted[usize::from(p)] = true;
    }
    let mut error = None;
    loop {
        if cfg.count.is_some_and(|n| source.frames() >= n) {
            break;
        }
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                error = Some(RunError::Capture(e));
                break;
            }
        };
        if handler.halted() {
            break;
        }
        let (ts, index) = (frame.ts, frame.index);
        if let Ok(seg) = decoder.decode(&frame)
            && (wanted[usize::from(seg.src.port)] || wanted[usize::from(seg.dst.port)])
        {
            table.process(&seg, ts, index, handler);
        }
        if index % 8192 == 0 {
            progress(source.progress());
        }
    }
    table.finish(handler);
    let ds = &decoder.stats;
    let summary = RunSummary {
        kind: "summary",
        input: cfg.input.clone(),
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
    };
    (summary, error)
}
