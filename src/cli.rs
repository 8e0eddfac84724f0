//! Command line: raw flags (clap) and their validation into [`crate::pipeline`] configs,
//! and the output format each flag value stands for (its [`crate::render`] sink). Nothing
//! runs until the flags have become a checked config.

use crate::capture::live::LiveOptions;
use crate::limits::Limits;
use crate::pipeline::{Filter, FlowsConfig, InputConfig, Prefix, SessionsConfig};
use crate::proto::{PortMap, PortRole};
use crate::render::{FlowSink, SessionSink, live, sink, text};
use crate::teach::Lang;
use crate::types::Protocol;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "mailscope",
    version,
    about = "Packet analyzer for mail protocols: SMTP, POP3 and IMAP sessions from pcap/pcapng \
             captures as annotated transcripts, messages decoded via MIME, tables, JSON for \
             pipelines",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub main: SessionArgs,
    /// Colours: `auto` on a terminal unless NO_COLOR is set, `always`, `never`.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    pub color: ColorChoice,
}

impl Cli {
    /// Parses the command line, as tshark users type it too: flags the subcommand also
    /// takes may come before its name (`mailscope -c 100 flows FILE`, `mailscope
    /// --no-progress flows FILE`), and are read as the subcommand's.
    pub fn parse_args() -> Cli {
        Cli::parse_from(subcommand_first(std::env::args_os().collect()))
    }
}

/// `args` (the program name first) with a subcommand name that follows only flags (and
/// their values) moved in front of them. Anything else is left as it is: a first positional
/// argument that is not a subcommand is an input file.
pub fn subcommand_first(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
    let takes_value = |arg: Option<&clap::Arg>| arg.is_some_and(|a| a.get_action().takes_values());
    let mut i = 1;
    while i < args.len() {
        let Some(word) = args[i].to_str() else {
            return args;
        };
        if word == "--" {
            return args;
        }
        if let Some(long) = word.strip_prefix("--") {
            if !long.contains('=')
                && takes_value(cmd.get_arguments().find(|a| a.get_long() == Some(long)))
            {
                i += 1;
            }
        } else if let Some(short) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            // `-c 5`, or `-c5`: a value in the same word needs no skip.
            let mut chars = short.chars();
            let first = chars.next();
            if chars.next().is_none()
                && takes_value(cmd.get_arguments().find(|a| a.get_short() == first))
            {
                i += 1;
            }
        } else {
            if i > 1 && names.contains(&word) {
                let name = args.remove(i);
                args.insert(1, name);
            }
            return args;
        }
        i += 1;
    }
    args
}

/// When to colour the output (`--color`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour, given whether the output is a terminal and `NO_COLOR` is set.
    pub fn enabled(self, terminal: bool, no_color: bool) -> bool {
        match self {
            ColorChoice::Auto => terminal && !no_color,
            ColorChoice::Always => true,
            ColorChoice::Never => false,
        }
    }
}

/// A size in bytes, with an optional suffix: `k`/`K` (1024), `M` (1024²), `G` (1024³).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'M')) => (&t[..i], 20),
        Some((i, 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (a number of bytes, or with k, M or G)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// A condition that stops a live capture (`-a`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Autostop {
    Duration(Duration),
    Packets(u64),
}

/// `duration:SECS` or `packets:N`, as tshark's `-a`.
pub fn parse_autostop(s: &str) -> Result<Autostop, String> {
    let bad = || format!("{s:?}: expected duration:SECONDS or packets:N");
    let (what, n) = s.split_once(':').ok_or_else(bad)?;
    let n: u64 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    match what.trim() {
        "duration" => Ok(Autostop::Duration(Duration::from_secs(n))),
        "packets" => Ok(Autostop::Packets(n)),
        _ => Err(bad()),
    }
}

// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the TCP connections on mail ports (like `tshark -z conv,tcp`), optionally writing
    /// each direction's reassembled bytes to files (like tcpflow).
    Flows(FlowsArgs),
    /// Explain a command, reply code, capability, response code, anomaly or MIME term, offline
    /// (`mailscope explain 550`, `mailscope explain BDAT --lang zh`, `mailscope explain flow`).
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// What to look up: `RCPT`, `354`, `PIPELINING`, `UIDVALIDITY`, `base64`, `flow`, ….
    #[arg(value_name = "TERM", required = true)]
    pub term: Vec<String>,
    /// Language: en or zh (default: from LC_ALL / LANG, zh when it starts with `zh`).
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<Lang>,
}

/// `--lang en|zh`.
pub fn parse_lang(s: &str) -> Result<Lang, String> {
    s.parse::<Lang>()
        .map_err(|_| format!("{s:?}: expected en or zh"))
}

/// Flags every command shares: what to read and which connections.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Capture files (pcap, pcapng, optionally gzip-compressed) or directories of them;
    /// `-` reads standard input. Several are read as one capture, merged by time like
    /// `mergecap` (frame numbers are those of the merged capture).
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    /// Capture file, tcpdump/tshark style (`-r -` reads standard input).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "files"
    )]
    pub read: Option<String>,
    /// Capture live from this network interface (tshark's -i): sessions are shown as they
    /// happen. Needs root or CAP_NET_RAW. Stop with Ctrl-C.
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        conflicts_with_all = ["files", "read"]
    )]
    pub interface: Option<String>,
    /// List the network interfaces -i can capture on, and exit.
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,
    /// BPF capture filter for -i, e.g. 'host 10.1.2.3 and port 25' (the libpcap backend:
    /// built with --features libpcap).
    #[arg(short = 'f', value_name = "FILTER")]
    pub capture_filter: Option<String>,
    /// With -i: also write the captured packets to this pcap file.
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// With -i: stop after `duration:SECS` seconds or `packets:N` packets (tshark's -a).
    #[arg(short = 'a', long = "autostop", value_name = "COND", value_parser = parse_autostop)]
    pub autostop: Vec<Autostop>,
    /// With -i: do not put the interface in promiscuous mode.
    #[arg(short = 'p', long = "no-promiscuous-mode")]
    pub no_promiscuous: bool,
    /// `PORT=PROTO` maps another server port (smtp, smtps, pop3, pop3s, imap, imaps);
    /// a bare `PORT` only shows connections on that port. Repeatable.
    #[arg(long = "port", value_name = "PORT[=PROTO]")]
    pub ports: Vec<String>,
    /// Follow every TCP connection, not only those on mail ports (protocol by content).
    #[arg(long)]
    pub all_ports: bool,
    /// Only connections from or to this address or CIDR prefix (`10.0.0.0/8`,
    /// `2001:db8::/32`). Repeatable.
    #[arg(long = "host", value_name = "IP[/LEN]", value_parser = parse_prefix)]
    pub hosts: Vec<Prefix>,
    /// Only these protocols (smtp, pop3, imap). Repeatable.
    #[arg(long = "proto", value_name = "PROTO")]
    pub protocols: Vec<String>,
    /// Only the session (or connection) with this number. Repeatable.
    #[arg(long = "session", value_name = "ID")]
    pub sessions: Vec<u64>,
    /// Stop after reading N packets (frames), as tshark -c.
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Out-of-order bytes buffered per connection direction before a hole is given up.
    /// Sizes take a suffix: k (KiB), M (MiB), G (GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_buffered_bytes: Option<usize>,
    /// Out-of-order bytes buffered over all connections.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_total_buffered: Option<usize>,
    /// Connections tracked at once; past it the least recently active is closed.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Seconds (capture time) without packets after which a connection is closed.
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout: Option<u64>,
    /// Bytes of one message kept for MIME decoding; larger messages are marked truncated.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_message: Option<usize>,
    /// Exchanges kept in full per session; later ones are counted and summarised by verb.
    #[arg(long, value_name = "N")]
    pub max_exchanges: Option<usize>,
    /// Messages kept per session; later ones are counted, not decoded.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<usize>,
    /// Bytes of messages in flight held over all open sessions; past it the largest stop
    /// keeping bytes (size and SHA-256 stay exact, marked not decoded).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_held_messages: Option<usize>,
    /// Finished sessions held back while an earlier connection is still open (output comes
    /// in order of first packet); past it they are written as they finish, and the summary
    /// counts those that came late. 0: write everything as it finishes.
    #[arg(long, value_name = "N")]
    pub max_reorder: Option<usize>,
    /// With -i: bytes of captured packets waiting to be analysed, at most; past it packets
    /// are dropped and counted (the summary's `packets_dropped_by_mailscope`).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_capture_queue: Option<usize>,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct FlowsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// JSON Lines: one object per connection, then a summary object.
    #[arg(long)]
    pub json: bool,
    /// Indent JSON for people.
    #[arg(long)]
    pub pretty: bool,
    /// Write each direction's reassembled payload to a file in DIR (tcpflow naming).
    #[arg(long, value_name = "DIR")]
    pub write_streams: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Annotated transcripts, one block per session.
    Text,
    /// JSON Lines: one object per session, then a summary object.
    Json,
    /// Tables of sessions, messages and (with --show-secrets) credentials.
    Table,
    /// Ladder (sequence) diagrams for a terminal: one arrow per transcript line.
    Diagram,
    /// Mermaid sequence diagrams in Markdown, one per session.
    Mermaid,
    /// One self-contained HTML page for teaching: session list, ladder diagrams (SVG),
    /// transcripts with explanations, messages, attachments and anomalies.
    Html,
}

#[derive(Debug, Args)]
pub struct SessionArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Indent JSON for people (JSON only: refused with text and table output).
    #[arg(long)]
    pub pretty: bool,
    /// Show passwords and other secrets instead of `<redacted>`.
    #[arg(long)]
    pub show_secrets: bool,
    /// Write every message as .eml and every attachment as a file into DIR, with index.json.
    #[arg(long, value_name = "DIR")]
    pub extract: Option<PathBuf>,
    /// Decrypt TLS sessions (STARTTLS and implicit TLS) with the secrets in FILE, an NSS key
    /// log as written by clients run with SSLKEYLOGFILE=FILE (OpenSSL, Python, curl, NSS,
    /// Go). A live capture reads it again as it grows. Keys embedded in a pcapng are used
    /// without it.
    #[arg(long, value_name = "FILE")]
    pub tls_keylog: Option<PathBuf>,
    /// Threads to use: one reads and dissects, the others decode messages (MIME, hashes).
    /// Default: the number of CPUs available to the process (at most 8). Output is the same
    /// for any number.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Time in the text transcript: r relative to the session start (default), d delta
    /// from the line before, a absolute local time, ad local date and time, u UTC time,
    /// ud UTC date and time.
    #[arg(
        short = 't',
        long = "time-format",
        value_enum,
        value_name = "FORMAT",
        default_value = "r"
    )]
    pub time_format: TimeFormat,
    /// Show each line's frame number in the text transcript (JSON always has it).
    #[arg(long)]
    pub frames: bool,
    /// Write the output to FILE instead of standard output (`--format html -o report.html`).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Explain every line for teaching: what each command, reply, capability, anomaly and
    /// MIME idea means (with its RFC), and the protocol's phases as they change. Text only.
    #[arg(long)]
    pub explain: bool,
    /// Language of --explain: en or zh (default: from LC_ALL / LANG, zh when it starts with
    /// `zh`).
    #[arg(long, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<Lang>,
    /// Show sessions as they happen: with JSON, a line per session start, exchange, message
    /// and session end besides the session objects; with text, the live view (each line as
    /// its exchange completes, prefixed `[N]`; the default with -i). Sessions are then
    /// numbered as they are recognised and written as they end.
    #[arg(long)]
    pub events: bool,
}

/// `-t`: how the text transcript shows time (tshark's letters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimeFormat {
    #[value(name = "r")]
    Relative,
    #[value(name = "d")]
    Delta,
    #[value(name = "a")]
    Absolute,
    #[value(name = "ad")]
    AbsoluteDate,
    #[value(name = "u")]
    Utc,
    #[value(name = "ud")]
    UtcDate,
}

impl TimeFormat {
    fn clock(self) -> text::Clock {
        match self {
            TimeFormat::Relative => text::Clock::Relative,
            TimeFormat::Delta => text::Clock::Delta,
            TimeFormat::Absolute => text::Clock::Local { date: false },
            TimeFormat::AbsoluteDate => text::Clock::Local { date: true },
            TimeFormat::Utc => text::Clock::Utc { date: false },
            TimeFormat::UtcDate => text::Clock::Utc { date: true },
        }
    }
}

fn parse_prefix(s: &str) -> Result<Prefix, String> {
    s.parse()
}

/// Output choice for `flows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowsOutput {
    Table,
    Json { pretty: bool },
}

/// How output looks, whatever the format.
#[derive(Clone, Copy, Debug, Default)]
pub struct Look {
    /// Indent JSON for people.
    pub pretty: bool,
    pub show_secrets: bool,
    /// ANSI colours (`--color`; by default a terminal, and no `NO_COLOR`).
    pub color: bool,
    /// The terminal's width in columns, when the output is one: tables fit it, transcript
    /// lines are cut to it. `None` (a pipe, a file): nothing is cut.
    pub width: Option<u16>,
    /// `-t`: the transcript's time column.
    pub time: Option<TimeFormat>,
    /// `--frames`: frame numbers in the transcript.
    pub frames: bool,
    /// Sessions as they happen (`--events`, or text from -i): event lines in JSON, the live
    /// view in text.
    pub events: bool,
    /// How much a session keeps (`Limits`): the live views fold events within the same
    /// bounds as the dissectors.
    pub bounds: Option<crate::proto::Bounds>,
    /// `--explain`: the text transcript explains every line, in this language.
    pub explain: Option<Lang>,
}

impl Format {
    /// The sink that writes this format to `out` (notes for people to `notes`): the one
    /// place a format value meets its printer.
    pub fn sink<'w>(
        self,
        out: impl Write + 'w,
        notes: impl Write + 'w,
        look: Look,
    ) -> Box<dyn SessionSink + 'w> {
        match self {
            Format::Text => {
                let style = text::Style::new(look.color)
                    .clock(look.time.map_or(text::Clock::Relative, TimeFormat::clock))
                    .frames(look.frames)
                    .width(look.width.map(usize::from))
                    .explain(look.explain);
                match look.events {
                    true => {
                        let live = live::LiveText::new(out, notes, style, look.show_secrets);
                        Box::new(match look.bounds {
                            Some(b) => live.bounds(b),
                            None => live,
                        })
                    }
                    false => Box::new(sink::Text::new(out, notes, style)),
                }
            }
            Format::Json => {
                let json = sink::Json::new(out, look.pretty);
                match (look.events, look.bounds) {
                    (false, _) => Box::new(json),
                    (true, Some(b)) => Box::new(json.events(look.show_secrets).bounds(b)),
                    (true, None) => Box::new(json.events(look.show_secrets)),
                }
            }
            Format::Table => Box::new(
                sink::Table::new(out, look.show_secrets, look.color)
                    .width(look.width)
                    .notes(notes),
            ),
            Format::Diagram => Box::new(sink::Diagram::new(
                out,
                notes,
                text::Style::new(look.color).width(look.width.map(usize::from)),
            )),
            Format::Mermaid => Box::new(sink::Mermaid::new(out, notes)),
            Format::Html => Box::new(sink::Html::new(
                out,
                notes,
                look.explain.unwrap_or_else(Lang::from_env),
            )),
        }
    }
}

impl FlowsOutput {
    /// The sink that writes this output to `out`.
    pub fn sink<'w>(self, out: impl Write + 'w, look: Look) -> Box<dyn FlowSink + 'w> {
        match self {
            FlowsOutput::Table => {
                Box::new(sink::Table::new(out, false, look.color).width(look.width))
            }
            FlowsOutput::Json { pretty } => Box::new(sink::Json::new(out, pretty)),
        }
    }
}

impl InputArgs {
    fn validate(&self) -> Result<(InputConfig, Filter), String> {
        let inputs = match &self.read {
            Some(read) => vec![read.clone()],
            None => self.files.clone(),
        };
        if inputs.is_empty() && self.interface.is_none() {
            return Err(
                "no capture given: mailscope [flows] FILE… (or -r FILE, `-` for stdin, -i IFACE for a live capture)".into(),
            );
        }
        let live_only = [
            (self.capture_filter.is_some(), "-f"),
            (self.write.is_some(), "-w"),
            (!self.autostop.is_empty(), "-a"),
            (self.no_promiscuous, "-p"),
        ];
        if self.interface.is_none()
            && let Some((_, flag)) = live_only.iter().find(|(given, _)| *given)
        {
            return Err(format!("{flag} is for a live capture: give -i IFACE"));
        }
        let mut count = self.count;
        let mut duration = None;
        for a in &self.autostop {
            match *a {
                Autostop::Duration(d) => duration = Some(d),
                Autostop::Packets(n) => count = Some(count.map_or(n, |c| c.min(n))),
            }
        }
        if inputs.iter().filter(|i| *i == "-").count() > 1 {
            return Err("`-` (standard input) can be read only once".into());
        }
        let mut ports = PortMap::default();
        let mut filter = Filter {
            hosts: self.hosts.clone(),
            sessions: self.sessions.clone(),
            ..Filter::default()
        };
        for p in &self.protocols {
            let proto = match p.to_ascii_lowercase().as_str() {
                "smtp" => Protocol::Smtp,
                "pop3" | "pop" => Protocol::Pop3,
                "imap" => Protocol::Imap,
                other => return Err(format!("--proto {other}: expected smtp, pop3 or imap")),
            };
            filter.protocols.push(proto);
        }
        if self.count == Some(0) {
            return Err("-c must be at least 1".into());
        }
        for spec in &self.ports {
            let parse_port = |p: &str| {
                p.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("--port {spec}: {p:?} is not a port number (1-65535)"))
            };
            match spec.split_once('=') {
                Some((port, proto)) => {
                    let role: PortRole = proto
                        .trim()
                        .parse()
                        .map_err(|e| format!("--port {spec}: {e}"))?;
                    ports.insert(parse_port(port)?, role);
                }
                None => filter.ports.push(parse_port(spec)?),
            }
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
        if let Some(n) = self.max_message {
            limits.max_message = n;
        }
        if let Some(n) = self.max_exchanges {
            limits.max_exchanges = n;
        }
        if let Some(n) = self.max_messages {
            limits.max_messages = n;
        }
        if let Some(n) = self.max_held_messages {
            limits.max_held_messages = n;
        }
        if let Some(n) = self.max_reorder {
            limits.max_reorder = n;
        }
        if let Some(n) = self.max_capture_queue {
            if n < 1 << 16 {
                return Err("--max-capture-queue must be at least 64k (one packet)".into());
            }
            limits.max_capture_queue = n;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let live = self.interface.as_ref().map(|interface| LiveOptions {
            interface: interface.clone(),
            filter: self.capture_filter.clone(),
            promiscuous: !self.no_promiscuous,
            snaplen: 262_144,
            duration,
            write: self.write.clone(),
            queue_bytes: limits.max_capture_queue,
            stop: stop.clone(),
        });
        Ok((
            InputConfig {
                inputs,
                ports,
                all_ports: self.all_ports,
                limits,
                count,
                stop: Some(stop),
                live,
            },
            filter,
        ))
    }
}

impl FlowsArgs {
    /// Checks the flags and turns them into a run configuration.
    pub fn validate(&self) -> Result<(FlowsConfig, FlowsOutput), String> {
        let (input, filter) = self.input.validate()?;
        let output = if self.json || self.pretty {
            FlowsOutput::Json {
                pretty: self.pretty,
            }
        } else {
            FlowsOutput::Table
        };
        let config = FlowsConfig {
            input,
            write_streams: self.write_streams.clone(),
            filter,
        };
        Ok((config, output))
    }
}

impl SessionArgs {
    pub fn validate(&self) -> Result<SessionsConfig, String> {
        if self.pretty && self.format != Format::Json {
            return Err("--pretty indents JSON: use it with --format json".into());
        }
        if self.explain && !matches!(self.format, Format::Text | Format::Html) {
            return Err(
                "--explain explains the text transcript (and the HTML report, which always does): use it with --format text or html".into(),
            );
        }
        if self.lang.is_some() && !self.explain && self.format != Format::Html {
            return Err(
                "--lang is the language of --explain and of --format html: give one of them".into(),
            );
        }
        if self.events && !matches!(self.format, Format::Text | Format::Json) {
            return Err(
                "--events shows sessions as they happen: use it with --format text or json".into(),
            );
        }
        let (input, filter) = self.input.validate()?;
        Ok(SessionsConfig {
            input,
            filter,
            show_secrets: self.show_secrets,
            tls_keylog: self.tls_keylog.clone(),
            extract: self.extract.clone(),
            threads: match self.threads {
                Some(0) => return Err("--threads must be at least 1".into()),
                Some(n) => n,
                None => std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn a_subcommand_after_flags_is_read_as_the_subcommand() {
        let v = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let moved =
            super::subcommand_first(v(&["ms", "-c", "5", "--no-progress", "flows", "x.pcap"]));
        assert_eq!(
            moved,
            v(&["ms", "flows", "-c", "5", "--no-progress", "x.pcap"])
        );
        // A value that happens to be a subcommand's name is a value; a first input is an input.
        let same = v(&["ms", "--session", "3", "a.pcap", "flows"]);
        assert_eq!(super::subcommand_first(same.clone()), same);
        let same = v(&["ms", "--max-message=1M", "--", "flows"]);
        assert_eq!(super::subcommand_first(same.clone()), same);
        let same = v(&["ms", "flows", "x.pcap"]);
        assert_eq!(super::subcommand_first(same.clone()), same);
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("0k"), Ok(0));
        for bad in [
            "",
            "k",
            "1X",
            "-1",
            "1.5M",
            "1m",
            "1 M",
            "99999999999999999999G",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
