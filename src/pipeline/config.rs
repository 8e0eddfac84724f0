//! What a run is asked to do and what it hands back: the validated configs of both commands
//! (built by `cli`), the session/connection filter, the errors that stop a run and the
//! outcomes.

use crate::capture::CaptureError;
use crate::limits::Limits;
use crate::proto::PortMap;
use crate::session::{FlowRecord, RunSummary};
use crate::types::{Endpoint, Protocol};
use std::io;
use std::path::PathBuf;

/// What to read and how: shared by every command.
#[derive(Clone, Debug)]
pub struct InputConfig {
    /// Capture files, directories (the captures inside, by name) or `-` (standard input),
    /// read as one capture merged by time (`mergecap`'s order and frame numbers).
    pub inputs: Vec<String>,
    pub ports: PortMap,
    /// Follow every TCP connection, not only those on mapped ports.
    pub all_ports: bool,
    pub limits: Limits,
}

/// A validated `flows` run.
#[derive(Clone, Debug)]
pub struct FlowsConfig {
    pub input: InputConfig,
    pub write_streams: Option<PathBuf>,
    pub filter: Filter,
}

/// A validated run of the main job.
#[derive(Clone, Debug)]
pub struct SessionsConfig {
    pub input: InputConfig,
    pub filter: Filter,
    pub show_secrets: bool,
    pub extract: Option<PathBuf>,
    /// Threads in all: the reading thread plus `threads - 1` MIME decoding workers.
    pub threads: usize,
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
    pub summary: RunSummary,
    pub error: Option<RunError>,
    /// The sink failed; reading stopped there.
    pub output_error: Option<io::Error>,
}

pub struct SessionsOutcome {
    pub summary: RunSummary,
    /// Reading stopped early (everything before it was handed out).
    pub error: Option<RunError>,
    /// The sink failed (a closed pipe, a full disk); reading stopped there.
    pub output_error: Option<io::Error>,
    /// Why no session was listed, when none was (for people: stderr).
    pub empty: Option<String>,
}

/// Which sessions to show (empty lists mean all).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub protocols: Vec<Protocol>,
    pub ports: Vec<u16>,
    pub hosts: Vec<std::net::IpAddr>,
    pub sessions: Vec<u64>,
}

impl InputConfig {
    /// How the run summary names the input: the inputs as given.
    pub fn name(&self) -> String {
        self.inputs.join(" ")
    }
}

impl Filter {
    pub(super) fn allows(
        &self,
        id: u64,
        protocol: Protocol,
        client: Endpoint,
        server: Endpoint,
    ) -> bool {
        self.allows_conn(protocol, client, server) && self.allows_id(id)
    }

    /// What the filter says of a connection, its number aside.
    pub(super) fn allows_conn(
        &self,
        protocol: Protocol,
        client: Endpoint,
        server: Endpoint,
    ) -> bool {
        (self.protocols.is_empty() || self.protocols.contains(&protocol))
            && (self.ports.is_empty()
                || self.ports.contains(&client.port)
                || self.ports.contains(&server.port))
            && self.allows_host(client, server)
    }

    /// What `--session` says of number `id`.
    pub(super) fn allows_id(&self, id: u64) -> bool {
        self.sessions.is_empty() || self.sessions.contains(&id)
    }

    /// What `--host` says of a connection.
    pub(super) fn allows_host(&self, client: Endpoint, server: Endpoint) -> bool {
        self.hosts.is_empty() || self.hosts.contains(&client.ip) || self.hosts.contains(&server.ip)
    }

    pub fn allows_flow(&self, f: &FlowRecord) -> bool {
        self.allows(f.id, f.protocol, f.client, f.server)
    }
}
