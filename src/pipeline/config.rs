//! What a run is asked to do and what it hands back: the validated configs of both commands
//! (built by `cli`), the session/connection filter, the errors that stop a run and the
//! outcomes.

use crate::capture::CaptureError;
use crate::limits::Limits;
use crate::proto::PortMap;
use crate::session::{FlowRecord, RunSummary};
use crate::types::{Endpoint, Protocol};
use std::io;
use std::net::IpAddr;
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
    /// Stop after this many frames (`-c N`, as tshark); `None` reads to the end.
    pub count: Option<u64>,
    /// Capture from an interface instead (`-i`): `inputs` is then empty.
    pub live: Option<crate::capture::live::LiveOptions>,
    /// Set (by Ctrl-C or SIGTERM) to stop reading: every open session is then written as
    /// it stands, and the totals.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
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
    /// An NSS key log (`SSLKEYLOGFILE`) to decrypt TLS sessions with.
    pub tls_keylog: Option<PathBuf>,
}

impl SessionsConfig {
    /// The main job on `input` with every default: no filter, secrets redacted, nothing
    /// extracted, no key log, one thread.
    pub fn new(input: InputConfig) -> SessionsConfig {
        SessionsConfig {
            input,
            filter: Filter::default(),
            show_secrets: false,
            tls_keylog: None,
            extract: None,
            threads: 1,
        }
    }
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
    #[error(transparent)]
    Live(#[from] crate::capture::live::LiveError),
    #[error("interrupted (Ctrl-C or SIGTERM) after frame {0}: the rest of the input was not read")]
    Interrupted(u64),
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
    pub hosts: Vec<Prefix>,
    pub sessions: Vec<u64>,
}

/// An address prefix in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`); a bare address is
/// the prefix of its full length. An IPv4 prefix matches only IPv4 addresses, an IPv6
/// prefix only IPv6 ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// Whether `ip` lies inside the prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, len: u8) -> u128 {
            match u32::from(len) {
                0 => 0,
                n => bits >> (width - n),
            }
        }
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                masked(u32::from(a).into(), 32, self.len)
                    == masked(u32::from(b).into(), 32, self.len)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                masked(u128::from(a), 128, self.len) == masked(u128::from(b), 128, self.len)
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Prefix {
    type Err = String;

    fn from_str(s: &str) -> Result<Prefix, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address or a CIDR prefix (10.0.0.0/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0-{max}"))?,
        };
        Ok(Prefix { addr, len })
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.len == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.len)
        }
    }
}

impl InputConfig {
    /// `inputs` read to their end, with the default ports and limits.
    pub fn files(inputs: Vec<String>) -> InputConfig {
        InputConfig {
            inputs,
            ports: PortMap::default(),
            all_ports: false,
            limits: Limits::default(),
            count: None,
            live: None,
            stop: None,
        }
    }

    /// How the run summary names the input: the inputs as given.
    pub fn name(&self) -> String {
        match &self.live {
            Some(live) => live.interface.clone(),
            None => self.inputs.join(" "),
        }
    }

    /// Whether the stop flag was raised.
    pub(super) fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
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
        self.hosts.is_empty()
            || self
                .hosts
                .iter()
                .any(|h| h.contains(client.ip) || h.contains(server.ip))
    }

    pub fn allows_flow(&self, f: &FlowRecord) -> bool {
        self.allows(f.id, f.protocol, f.client, f.server)
    }
}

#[cfg(test)]
mod tests {
    use super::Prefix;

    fn contains(prefix: &str, ip: &str) -> bool {
        prefix
            .parse::<Prefix>()
            .unwrap()
            .contains(ip.parse().unwrap())
    }

    #[test]
    fn prefixes_match_by_their_leading_bits() {
        assert!(contains("10.0.0.0/8", "10.255.1.2"));
        assert!(!contains("10.0.0.0/8", "11.0.0.1"));
        assert!(contains("192.168.1.77/24", "192.168.1.1"));
        assert!(contains("0.0.0.0/0", "8.8.8.8"));
        assert!(contains("10.0.0.5", "10.0.0.5"));
        assert!(!contains("10.0.0.5", "10.0.0.6"));
        assert!(contains("2001:db8::/32", "2001:db8:ffff::1"));
        assert!(!contains("2001:db8::/32", "2001:db9::1"));
        assert!(contains("::/0", "::1"));
        assert!(contains("::1/128", "::1"));
        // An IPv4 prefix never matches an IPv6 address, nor the other way round.
        assert!(!contains("0.0.0.0/0", "::1"));
        assert!(!contains("::/0", "127.0.0.1"));
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0/8", "x"] {
            assert!(bad.parse::<Prefix>().is_err(), "{bad}");
        }
        assert_eq!(
            "10.0.0.0/8".parse::<Prefix>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!("::1".parse::<Prefix>().unwrap().to_string(), "::1");
    }
}
