//! The `flows` command: one record per connection (protocol recognised from its first
//! bytes, proxy tunnels peeled), optionally each direction's bytes written to files.

use super::config::Filter;
use super::config::{FlowsConfig, FlowsOutcome, RunError};
use super::drive::{Driven, Inputs, Opened, ProgressSink, drive, open};
use super::ordering::Ordered;
use crate::flow::{Chunk, ConnInfo, ConnSummary, Direction, Gap, Handler};
use crate::proto::event::{Mark, Side};
use crate::proto::tunnel::{Progress, Setup, Tunnel};
use crate::proto::{self, Basis, PortMap};
use crate::render::FlowSink;
use crate::render::streams::{StreamDir, StreamFile};
use crate::session::{FlowRecord, PerSide};
use crate::types::Protocol;
use std::io;

struct FlowState {
    head: [Vec<u8>; 2],
    files: Option<[StreamFile; 2]>,
}

struct FlowsHandler<'a, 'b> {
    ports: &'a PortMap,
    /// Bytes of each direction kept for recognising the protocol (`Limits::max_sniff`).
    sniff: usize,
    all_ports: bool,
    filter: &'a Filter,
    streams: Option<StreamDir>,
    out: Ordered<'b, FlowRecord>,
    io_error: Option<io::Error>,
}

impl FlowsHandler<'_, '_> {
    fn keep_error(&mut self, r: io::Result<()>) {
        if let Err(e) = r {
            self.io_error.get_or_insert(e);
        }
    }
}

impl Handler for FlowsHandler<'_, '_> {
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
        if head.len() < self.sniff {
            let take = (self.sniff - head.len()).min(chunk.data.len());
            head.extend_from_slice(&chunk.data[..take]);
        }
        if let (Some(dirs), Some(files)) = (self.streams.as_mut(), state.files.as_mut()) {
            let r = dirs.write(&mut files[d], chunk.offset, chunk.data);
            self.keep_error(r);
        }
    }

    fn gap(&mut self, state: &mut FlowState, _: &ConnInfo, dir: Direction, gap: Gap) {
        let (offset, len) = (gap.offset, gap.len);
        // A gap in the first bytes makes content recognition unreliable: stop sniffing.
        let head = &mut state.head[dir.index()];
        if head.len() < self.sniff {
            head.resize(self.sniff, 0);
        }
        if let (Some(dirs), Some(files)) = (self.streams.as_mut(), state.files.as_mut()) {
            dirs.gap(&mut files[dir.index()], offset, len);
        }
    }

    fn close(&mut self, mut state: FlowState, summary: &ConnSummary) {
        let by_port = self.ports.get(summary.info.server.port);
        let tunnel = tunnel_in(&state.head, self.sniff);
        let (server, client) = match &tunnel {
            Some((_, [client, server])) => (&server[..], &client[..]),
            None => (&state.head[1][..], &state.head[0][..]),
        };
        // The same recogniser as the main job's, with everything there is to see.
        let r = proto::recognise(by_port, server, client, self.sniff, true);
        let (protocol, basis, tls) = r.map_or((Protocol::Unknown, Basis::None, false), |r| {
            (r.protocol, r.basis, r.tls)
        });
        // Proxy ports are followed for the tunnels they may carry, not listed for themselves.
        let hidden = by_port.is_none()
            && protocol == Protocol::Unknown
            && !self.all_ports
            && tunnel.is_none()
            && proto::PROXY_PORTS.contains(&summary.info.server.port);
        let mut record = FlowRecord::new(summary, protocol, basis, tls);
        record.tunnel =
            tunnel.map(|(setup, _)| format!("{} proxy to {}", setup.kind.as_str(), setup.target));
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
        let shown = !hidden && self.filter.allows_flow(&record);
        self.out.settle(record.id, shown.then_some(record));
    }

    fn halted(&self) -> bool {
        self.out.error.is_some()
    }
}

impl Inputs for FlowsHandler<'_, '_> {
    fn input(&mut self, _: usize) {}
}

/// The proxy tunnel whose setup opens the first bytes of each side, and the first bytes
/// inside it (client, server). The heads lose the order between sides, which only the
/// "server spoke first" rule needs: a server head alone is no tunnel anyway.
fn tunnel_in(head: &[Vec<u8>; 2], max: usize) -> Option<(Setup, [Vec<u8>; 2])> {
    let mut t = Tunnel::new(max);
    for (side, bytes) in [(Side::Client, &head[0]), (Side::Server, &head[1])] {
        t.on_data(side, bytes, Mark::default());
    }
    if t.progress() != Progress::Established {
        return None;
    }
    let mut inner = [Vec::new(), Vec::new()];
    for (side, bytes, _) in t.take_held() {
        inner[side as usize].extend_from_slice(&bytes);
    }
    Some((t.into_setup()?, inner))
}

/// Reads the whole capture and hands a record per listed connection to `sink`, in order of
/// first packet, then the totals (unless writing failed); `progress` hears how far reading
/// has come. Fails outright only when the input cannot be opened or is not a capture.
pub fn flows(
    cfg: &FlowsConfig,
    sink: &mut dyn FlowSink,
    progress: &mut ProgressSink<'_>,
) -> Result<FlowsOutcome, RunError> {
    let streams = match &cfg.write_streams {
        Some(dir) => Some(StreamDir::new(dir).map_err(RunError::Streams)?),
        None => None,
    };
    let Opened { mut source, .. } = open(&cfg.input)?;
    let mut write = |f| sink.flow(f).map(|()| true);
    // Live, a connection is listed as soon as it ends.
    let max_reorder = match source.is_live() {
        true => 0,
        false => cfg.input.limits.max_reorder,
    };
    let mut handler = FlowsHandler {
        ports: &cfg.input.ports,
        sniff: cfg.input.limits.max_sniff,
        all_ports: cfg.input.all_ports,
        filter: &cfg.filter,
        streams,
        out: Ordered::new(&mut write, max_reorder),
        io_error: None,
    };
    let Driven {
        mut summary,
        mut error,
        ..
    } = drive(&cfg.input, source.as_mut(), &mut handler, progress);
    if error.is_none()
        && let Some(e) = handler.io_error.take()
    {
        error = Some(RunError::Streams(e));
    }
    summary.listed = handler.out.listed;
    summary.listed_out_of_order = handler.out.out_of_order;
    summary.error = error.as_ref().map(|e| e.to_string());
    let mut output_error = handler.out.error;
    if output_error.is_none() {
        output_error = sink.finish(&summary).err();
    }
    Ok(FlowsOutcome {
        summary,
        error,
        output_error,
    })
}
