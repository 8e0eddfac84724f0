//! The only place that wires the layers together:
//! capture → packet → flow → (proto: recognition) → session records → render.

use crate::capture::{CaptureError, FileReader, InputSource};
use crate::flow::{Chunk, ConnInfo, ConnSummary, Direction, FlowTable, Handler};
use crate::limits::Limits;
use crate::packet::Decoder;
use crate::proto::{self, Basis, PortMap, Protocol};
use crate::render::streams::{StreamDir, StreamFile};
use crate::session::{FlowRecord, PerSide, RunSummary};
use std::io::{self, IsTerminal};
use std::path::PathBuf;

/// A validated `flows` run.
#[derive(Clone, Debug)]
pub struct FlowsConfig {
    pub input: String,
    pub ports: PortMap,
    /// List every TCP connection, not only those on mapped ports.
    pub all_ports: bool,
    pub limits: Limits,
    pub write_streams: Option<PathBuf>,
    pub progress: bool,
}

/// Why a run could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}: {1}")]
    Open(String, io::Error),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("writing streams: {0}")]
    Streams(io::Error),
}

/// What a run produced. `error` is set when reading stopped early; everything decoded
/// before that point is in `flows`.
pub struct FlowsOutcome {
    pub flows: Vec<FlowRecord>,
    pub summary: RunSummary,
    pub error: Option<RunError>,
}

/// Bytes of each direction kept for recognising the protocol by content.
const SNIFF_BYTES: usize = 512;

struct FlowState {
    head: [Vec<u8>; 2],
    files: Option<[StreamFile; 2]>,
}

struct FlowsHandler<'a> {
    ports: &'a PortMap,
    streams: Option<StreamDir>,
    flows: Vec<FlowRecord>,
    io_error: Option<io::Error>,
}

impl FlowsHandler<'_> {
    fn keep_error(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            self.io_error.get_or_insert(e);
        }
    }
}

impl Handler for FlowsHandler<'_> {
    type State = FlowState;

    fn open(&mut self, info: &ConnInfo) -> FlowState {
        let files = self.streams.as_mut().map(|dir| {
            [
                dir.stream(info.client, info.server),
                dir.stream(info.server, info.client),
            ]
        });
        FlowState {
            head: [Vec::new(), Vec::new()],
            files,
        }
    }

    fn data(&mut self, state: &mut FlowState, _: &ConnInfo, dir: Direction, chunk: Chunk<'_>) {
        let d = dir.index();
        let head = &mut state.head[d];
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(chunk.data.len());
            head.extend_from_slice(&chunk.data[..take]);
        }
        if let (Some(dirs), Some(files)) = (self.streams.as_mut(), state.files.as_mut()) {
            let r = dirs.write(&mut files[d], chunk.offset, chunk.data);
            self.keep_error(r);
        }
    }

    fn gap(
        &mut self,
        state: &mut FlowState,
        _: &ConnInfo,
        dir: Direction,
        offset: u64,
        len: u64,
        _: crate::capture::Timestamp,
    ) {
        // A gap in the first bytes makes content recognition unreliable: stop sniffing.
        let head = &mut state.head[dir.index()];
        if head.len() < SNIFF_BYTES {
            head.resize(SNIFF_BYTES, 0);
        }
        if let (Some(dirs), Some(files)) = (self.streams.as_mut(), state.files.as_mut()) {
            dirs.gap(&mut files[dir.index()], offset, len);
        }
    }

    fn close(&mut self, mut state: FlowState, summary: &ConnSummary) {
        let by_port = self.ports.get(summary.info.server.port);
        let by_content = proto::sniff(&state.head[1], &state.head[0]);
        let (protocol, basis, tls) = match (by_port, by_content) {
            // Content names a different protocol than the port: believe the content.
            (Some(p), Some(c)) if c.protocol != p.protocol && c.protocol != Protocol::Tls => {
                (c.protocol, Basis::Content, c.tls)
            }
            (Some(p), c) => (p.protocol, Basis::Port, p.tls || c.is_some_and(|c| c.tls)),
            (None, Some(c)) => (c.protocol, Basis::Content, c.tls),
            (None, None) => (Protocol::Unknown, Basis::None, false),
        };
        let mut record = FlowRecord::new(summary, protocol, basis, tls);
        if let (Some(dirs), Some(files)) = (self.streams.as_mut(), state.files.as_mut()) {
            let mut result = Ok(());
            for f in files.iter_mut() {
                if let Err(e) = dirs.close(f) {
                    result = Err(e);
                }
            }
            record.streams = Some(PerSide {
                client: dirs.path_of(&files[0]).display().to_string(),
                server: dirs.path_of(&files[1]).display().to_string(),
            });
            let [c, s] = files;
            record.gap_list = Some(PerSide {
                client: std::mem::take(&mut c.gaps),
                server: std::mem::take(&mut s.gaps),
            });
            self.keep_error(result);
        }
        self.flows.push(record);
    }
}

/// Reads the whole capture and returns a record per listed connection, in order of first
/// packet. Fails outright only when the input cannot be opened or is not a capture.
pub fn flows(cfg: &FlowsConfig) -> Result<FlowsOutcome, RunError> {
    let source = InputSource::open(&cfg.input).map_err(|e| RunError::Open(cfg.input.clone(), e))?;
    let size = source.size;
    let counter = source.progress.clone();
    let mut reader = FileReader::new(source)?;
    let streams = match &cfg.write_streams {
        Some(dir) => Some(StreamDir::new(dir).map_err(RunError::Streams)?),
        None => None,
    };
    let mut handler = FlowsHandler {
        ports: &cfg.ports,
        streams,
        flows: Vec::new(),
        io_error: None,
    };
    let mut table: FlowTable<FlowsHandler<'_>> = FlowTable::new(&cfg.limits, cfg.ports.ports());
    let mut decoder = Decoder::new(cfg.limits.max_pending_fragments);
    let mut wanted = vec![cfg.all_ports; 65536];
    for p in cfg.ports.ports() {
        wanted[usize::from(p)] = true;
    }
    let bar = progress_bar(cfg.progress, size);

    let mut error = None;
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                error = Some(RunError::Capture(e));
                break;
            }
        };
        if let Some(bar) = &bar
            && frame.index % 8192 == 0
        {
            bar.set_position(counter.get());
        }
        let (ts, index) = (frame.ts, frame.index);
        if let Ok(seg) = decoder.decode(&frame)
            && (wanted[usize::from(seg.src.port)] || wanted[usize::from(seg.dst.port)])
        {
            table.process(&seg, ts, index, &mut handler);
        }
    }
    table.finish(&mut handler);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if error.is_none()
        && let Some(e) = handler.io_error.take()
    {
        error = Some(RunError::Streams(e));
    }
    let mut flows = handler.flows;
    flows.sort_by_key(|f| f.id);
    let ds = &decoder.stats;
    let summary = RunSummary {
        kind: "summary",
        input: cfg.input.clone(),
        frames: reader.frames(),
        tcp_segments: ds.tcp,
        connections: table.stats.connections,
        listed: flows.len() as u64,
        frames_not_ip: ds.not_ip,
        frames_not_tcp: ds.not_tcp,
        frames_malformed: ds.malformed,
        frames_unsupported_link: ds.unsupported_link,
        frames_cut_by_snaplen: ds.truncated_by_snaplen,
        ip_fragments: ds.fragments,
        connections_timed_out: table.stats.timed_out,
        connections_evicted_at_limit: table.stats.evicted_at_limit,
        buffer_limit_flushes: table.stats.buffer_limit_flushes,
        error: error.as_ref().map(|e| e.to_string()),
    };
    Ok(FlowsOutcome {
        flows,
        summary,
        error,
    })
}

fn progress_bar(enabled: bool, size: Option<u64>) -> Option<indicatif::ProgressBar> {
    let size = size?;
    if !enabled || !io::stderr().is_terminal() || size < (64 << 20) {
        return None;
    }
    let bar = indicatif::ProgressBar::new(size);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}
