//! Command line: raw flags (clap) and their validation into a [`crate::pipeline`] config.
//! Nothing runs until the flags have become a checked config.

use crate::limits::Limits;
use crate::pipeline::FlowsConfig;
use crate::proto::{PortMap, PortRole};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "mailscope",
    version,
    about = "Packet analyzer for mail protocols (SMTP, POP3, IMAP)",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub main: FlowsArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the TCP connections on mail ports (like `tshark -z conv,tcp`), optionally writing
    /// each direction's reassembled bytes to files (like tcpflow).
    Flows(FlowsArgs),
}

#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// Capture file (pcap, pcapng, optionally gzip-compressed); `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// Capture file, tcpdump/tshark style (`-r -` reads standard input).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "file"
    )]
    pub read: Option<String>,
    /// JSON Lines: one object per connection, then a summary object.
    #[arg(long)]
    pub json: bool,
    /// Indent JSON for people.
    #[arg(long)]
    pub pretty: bool,
    /// Write each direction's reassembled payload to a file in DIR (tcpflow naming).
    #[arg(long, value_name = "DIR")]
    pub write_streams: Option<PathBuf>,
    /// Map another server port to a protocol: PORT=smtp|smtps|pop3|pop3s|imap|imaps.
    /// Repeatable.
    #[arg(long = "port", value_name = "PORT=PROTO")]
    pub ports: Vec<String>,
    /// List every TCP connection, not only those on mail ports.
    #[arg(long)]
    pub all_ports: bool,
    /// Out-of-order bytes buffered per connection direction before a hole is given up.
    #[arg(long, value_name = "BYTES")]
    pub max_buffered_bytes: Option<usize>,
    /// Out-of-order bytes buffered over all connections.
    #[arg(long, value_name = "BYTES")]
    pub max_total_buffered: Option<usize>,
    /// Connections tracked at once; past it the least recently active is closed.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Seconds (capture time) without packets after which a connection is closed.
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout: Option<u64>,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

impl FlowsArgs {
    /// Checks the flags and turns them into a run configuration.
    pub fn validate(&self) -> Result<(FlowsConfig, Output), String> {
        let input = self
            .read
            .clone()
            .or_else(|| self.file.clone())
            .ok_or("no capture given: mailscope [flows] FILE (or -r FILE, `-` for stdin)")?;
        let mut ports = PortMap::default();
        for spec in &self.ports {
            let (port, proto) = spec
                .split_once('=')
                .ok_or_else(|| format!("--port {spec}: expected PORT=PROTO, e.g. 2525=smtp"))?;
            let port: u16 = port
                .trim()
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("--port {spec}: {port:?} is not a port number (1-65535)"))?;
            let role: PortRole = proto
                .trim()
                .parse()
                .map_err(|e| format!("--port {spec}: {e}"))?;
            ports.insert(port, role);
        }
        let mut limits = Limits::default();
        if let Some(n) = self.max_buffered_bytes {
            limits.max_buffered_bytes = n;
        }
        if let Some(n) = self.max_total_buffered {
            limits.max_total_buffered = n;
        }
        if let Some(n) = self.max_connections {
            if n == 0 {
                return Err("--max-connections must be at least 1".into());
            }
            limits.max_connections = n;
        }
        if let Some(s) = self.idle_timeout {
            if s == 0 {
                return Err("--idle-timeout must be at least 1 second".into());
            }
            limits.idle_timeout = Duration::from_secs(s);
        }
        let config = FlowsConfig {
            input,
            ports,
            all_ports: self.all_ports,
            limits,
            write_streams: self.write_streams.clone(),
            progress: !self.no_progress,
        };
        let output = if self.json || self.pretty {
            Output::Json {
                pretty: self.pretty,
            }
        } else {
            Output::Table
        };
        Ok((config, output))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Table,
    Json { pretty: bool },
}
