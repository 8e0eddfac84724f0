//! Proxy tunnels: recognises the setup of an HTTP `CONNECT` tunnel (RFC 9110 9.3.6), a
//! SOCKS4/4a request, or a SOCKS5 negotiation (RFC 1928, with RFC 1929 username/password),
//! from the first bytes of each side, and says where the tunnelled stream begins on each
//! side. Sans-IO like the dissectors: bytes in (any chunking), a [`Progress`] out; the setup
//! becomes one transcript [`Exchange`] and the bytes after it are handed back for the mail
//! dissector.
//!
//! ```text
//!            client's first bytes
//!   "CONNECT " ──▶ request + headers ─┐    server: "HTTP/1.x 2xx" + headers ──▶ Established
//!   0x04 0x01  ──▶ SOCKS4(a) request ─┼──▶         0x00 0x5A (8 bytes)     ──▶ Established
//!   0x05       ──▶ greeting [auth]    │            0x05 method [auth] reply ──▶ Established
//!                  request ───────────┘            any other answer        ──▶ Refused
//!   anything else, the server first, or more than `max` bytes ──▶ NotATunnel
//! ```
//!
//! An HTTP proxy that refuses (407 Proxy Authentication Required) may get a second
//! `CONNECT` on the same connection; every attempt is an exchange. The bytes held are
//! bounded by `max` per side (`Limits::max_proxy_setup`): past it, it is not a tunnel.

use super::event::{Mark, Secret, Side};
use super::transcript::{ClientLine, Command, Exchange, Reply};
use base64::Engine;

/// Which kind of proxy set the tunnel up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    HttpConnect,
    Socks4,
    /// SOCKS4a: the client named the host, the proxy resolved it.
    Socks4a,
    Socks5,
}

impl Kind {
    /// Stable name, as the session model carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::HttpConnect => "http-connect",
            Kind::Socks4 => "socks4",
            Kind::Socks4a => "socks4a",
            Kind::Socks5 => "socks5",
        }
    }

    /// How a person names it: `HTTP CONNECT`, `SOCKS5`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::HttpConnect => "HTTP CONNECT",
            Kind::Socks4 => "SOCKS4",
            Kind::Socks4a => "SOCKS4a",
            Kind::Socks5 => "SOCKS5",
        }
    }
}

/// Where recognition stands after some bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Keep feeding.
    NeedMore,
    /// Not a proxy setup (the reason says why); [`Tunnel::take_held`] gives every byte back.
    NotATunnel(&'static str),
    /// The proxy said no and nothing can follow.
    Refused,
    /// The tunnel is open; [`Tunnel::take_held`] gives the tunnelled bytes already seen.
    Established,
}

/// What the setup said.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    pub kind: Kind,
    /// `host:port` (`[v6]:port` for an IPv6 address) the client asked for.
    pub target: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// The proxy request(s) and answer(s): one exchange per attempt.
    pub exchanges: Vec<Exchange>,
    /// Stream offsets where the tunnelled bytes begin.
    pub client_offset: u64,
    pub server_offset: u64,
}

/// Recognises one connection's proxy setup.
#[derive(Clone, Debug)]
pub struct Tunnel {
    max: usize,
    /// What each side sent, up to `max` bytes.
    bytes: [Vec<u8>; 2],
    /// Chunks in arrival order: side, offset in `bytes`, length, mark.
    chunks: Vec<(Side, usize, usize, Mark)>,
    progress: Progress,
    setup: Option<Setup>,
    /// HTTP: where the current attempt starts on each side (after refused ones).
    attempt: [usize; 2],
    /// HTTP: the request of the current attempt, parsed, with its end.
    request: Option<(Exchange, usize, Option<String>, Option<Secret>)>,
    /// HTTP: where to look for the end of the headers next on each side (linear scanning).
    scanned: [usize; 2],
}

fn idx(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

/// The result of parsing one side so far.
enum Parse<T> {
    More,
    No(&'static str),
    Done(T),
}

use Parse::{Done, More, No};

impl Tunnel {
    /// `max`: bytes held per side before giving up (`Limits::max_proxy_setup`).
    pub fn new(max: usize) -> Tunnel {
        Tunnel {
            max,
            bytes: [Vec::new(), Vec::new()],
            chunks: Vec::new(),
            progress: Progress::NeedMore,
            setup: None,
            attempt: [0, 0],
            request: None,
            scanned: [0, 0],
        }
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The setup, once established or refused.
    pub fn setup(&self) -> Option<&Setup> {
        self.setup.as_ref()
    }

    pub fn into_setup(self) -> Option<Setup> {
        self.setup
    }

    /// Bytes from one side, in stream order. Once the outcome is known, further bytes are
    /// not taken (the caller feeds them to whatever comes next).
    pub fn on_data(&mut self, side: Side, data: &[u8], mark: Mark) -> Progress {
        if self.progress != Progress::NeedMore || data.is_empty() {
            return self.progress;
        }
        let held = &mut self.bytes[idx(side)];
        if held.len() + data.len() > self.max {
            self.progress = Progress::NotATunnel("proxy setup longer than the limit");
        }
        self.chunks.push((side, held.len(), data.len(), mark));
        held.extend_from_slice(data);
        if self.progress == Progress::NeedMore {
            self.progress = self.advance(mark);
        }
        self.progress
    }

    /// Stops waiting (a gap, the end of the connection): unless decided already, it is not
    /// a tunnel, and every byte is handed back.
    pub fn give_up(&mut self, why: &'static str) {
        if self.progress == Progress::NeedMore {
            self.progress = Progress::NotATunnel(why);
        }
    }

    /// The bytes held that belong to what follows: after the setup when established, all of
    /// them when not a tunnel, none when refused; in arrival order with their marks.
    pub fn take_held(&mut self) -> Vec<(Side, Vec<u8>, Mark)> {
        let from = match (self.progress, &self.setup) {
            (Progress::Established, Some(s)) => {
                [s.client_offset as usize, s.server_offset as usize]
            }
            (Progress::NotATunnel(_), _) => [0, 0],
            _ => return Vec::new(),
        };
        let bytes = std::mem::take(&mut self.bytes);
        let mut out = Vec::new();
        for (side, start, len, mark) in std::mem::take(&mut self.chunks) {
            let i = idx(side);
            let begin = start.max(from[i]);
            if begin < start + len {
                out.push((side, bytes[i][begin..start + len].to_vec(), mark));
            }
        }
        out
    }

    fn advance(&mut self, mark: Mark) -> Progress {
        let client = &self.bytes[0];
        if client.is_empty() {
            // A proxy never speaks first.
            return Progress::NotATunnel("the server spoke first");
        }
        match client[0] {
            4 => self.socks4(mark),
            5 => self.socks5(mark),
            b'C' => self.http(mark),
            _ => Progress::NotATunnel("no proxy request"),
        }
    }

    fn socks4(&mut self, mark: Mark) -> Progress {
        let request = match socks4_request(&self.bytes[0]) {
            More => return Progress::NeedMore,
            No(why) => return Progress::NotATunnel(why),
            Done(r) => r,
        };
        let (kind, target, user, end) = request;
        let s = &self.bytes[1];
        if s.len() < 8 {
            return Progress::NeedMore;
        }
        // VN is 0 (some proxies answer 4); CD 0x5A granted, 0x5B–0x5D rejected.
        if s[0] != 0 && s[0] != 4 {
            return Progress::NotATunnel("not a SOCKS4 reply");
        }
        let code = s[1];
        let text = match code {
            0x5a => "request granted",
            0x5b => "request rejected or failed",
            0x5c => "rejected: cannot reach the client's identd",
            0x5d => "rejected: identd reports a different user",
            _ => return Progress::NotATunnel("not a SOCKS4 reply"),
        };
        let mut exchange = exchange(mark_of(&self.chunks, Side::Client), kind, &target);
        if let Some(u) = user.as_ref().filter(|u| !u.is_empty()) {
            exchange.client_lines.push(client_line(
                mark_of(&self.chunks, Side::Client),
                format!("USERID {u}"),
            ));
        }
        exchange
            .replies
            .push(reply(mark, format!("{code:#04x}"), text));
        self.finish(
            code == 0x5a,
            Setup {
                kind,
                target,
                user: user.filter(|u| !u.is_empty()),
                password: None,
                exchanges: vec![exchange],
                client_offset: end as u64,
                server_offset: 8,
            },
        )
    }

    fn socks5(&mut self, mark: Mark) -> Progress {
        let first = mark_of(&self.chunks, Side::Client);
        let (c, s) = (&self.bytes[0], &self.bytes[1]);
        // Client: greeting.
        let Some(&n) = c.get(1) else {
            return Progress::NeedMore;
        };
        if n == 0 {
            return Progress::NotATunnel("SOCKS5 greeting without methods");
        }
        let Some(methods) = c.get(2..2 + usize::from(n)) else {
            return Progress::NeedMore;
        };
        let mut pos = 2 + usize::from(n);
        let offered = methods
            .iter()
            .map(|&m| method_name(m))
            .collect::<Vec<_>>()
            .join(", ");
        let mut lines = vec![client_line(first, format!("methods: {offered}"))];
        // Client: username/password (RFC 1929) when the next byte is its version, 1.
        let (mut user, mut password) = (None, None);
        if c.get(pos) == Some(&1) {
            let Some(&ulen) = c.get(pos + 1) else {
                return Progress::NeedMore;
            };
            let u = pos + 2;
            let Some(&plen) = c.get(u + usize::from(ulen)) else {
                return Progress::NeedMore;
            };
            let p = u + usize::from(ulen) + 1;
            let Some(pass) = c.get(p..p + usize::from(plen)) else {
                return Progress::NeedMore;
            };
            let name = String::from_utf8_lossy(&c[u..u + usize::from(ulen)]).into_owned();
            let pass = String::from_utf8_lossy(pass).into_owned();
            lines.push(ClientLine {
                mark: first,
                text: format!("username/password: {name} <redacted>"),
                secret: Some(Secret::new(format!("username/password: {name} {pass}"))),
            });
            user = Some(name);
            password = Some(Secret::new(pass));
            pos = p + usize::from(plen);
        }
        // Client: the request.
        let Some(head) = c.get(pos..pos + 4) else {
            return Progress::NeedMore;
        };
        if head[0] != 5 || head[2] != 0 {
            return Progress::NotATunnel("not a SOCKS5 request");
        }
        let command = match head[1] {
            1 => "CONNECT",
            2 => "BIND",
            3 => "UDP ASSOCIATE",
            _ => return Progress::NotATunnel("unknown SOCKS5 command"),
        };
        let (target, end) = match socks5_address(c, pos + 3) {
            More => return Progress::NeedMore,
            No(why) => return Progress::NotATunnel(why),
            Done(t) => t,
        };
        let mut exchange = exchange(first, Kind::Socks5, &target);
        if let Some(cmd) = exchange.command.as_mut() {
            cmd.verb = format!("SOCKS5 {command}");
        }
        exchange.client_lines = lines;
        // Server: method selection.
        let Some(sel) = s.get(..2) else {
            return Progress::NeedMore;
        };
        if sel[0] != 5 || (sel[1] != 0xff && !methods.contains(&sel[1])) {
            return Progress::NotATunnel("not a SOCKS5 method selection");
        }
        exchange.replies.push(reply(
            mark,
            format!("{:#04x}", sel[1]),
            &format!("method {}", method_name(sel[1])),
        ));
        let refused = |mut exchange: Exchange, this: &mut Tunnel| {
            exchange.incomplete = false;
            this.finish(
                false,
                Setup {
                    kind: Kind::Socks5,
                    target: target.clone(),
                    user: user.clone(),
                    password: password.clone(),
                    exchanges: vec![exchange],
                    client_offset: end as u64,
                    server_offset: 0,
                },
            )
        };
        match sel[1] {
            0xff => return refused(exchange, self),
            0 => {}
            2 if user.is_some() => {}
            // GSSAPI and private methods: what follows cannot be read.
            _ => return Progress::NotATunnel("SOCKS5 method that cannot be followed"),
        }
        let mut spos = 2;
        if sel[1] == 2 {
            let Some(status) = s.get(2..4) else {
                return Progress::NeedMore;
            };
            if status[0] != 1 {
                return Progress::NotATunnel("not a SOCKS5 authentication status");
            }
            let ok = status[1] == 0;
            exchange.replies.push(reply(
                mark,
                format!("{:#04x}", status[1]),
                if ok {
                    "authenticated"
                } else {
                    "authentication failed"
                },
            ));
            if !ok {
                return refused(exchange, self);
            }
            spos = 4;
        }
        // Server: the reply to the request.
        let Some(rhead) = s.get(spos..spos + 3) else {
            return Progress::NeedMore;
        };
        if rhead[0] != 5 {
            return Progress::NotATunnel("not a SOCKS5 reply");
        }
        let (bound, send) = match socks5_address(s, spos + 3) {
            More => return Progress::NeedMore,
            No(why) => return Progress::NotATunnel(why),
            Done(t) => t,
        };
        let code = rhead[1];
        let name = match code {
            0 => "succeeded".to_string(),
            1 => "general-failure".to_string(),
            2 => "not-allowed".to_string(),
            3 => "network-unreachable".to_string(),
            4 => "host-unreachable".to_string(),
            5 => "connection-refused".to_string(),
            6 => "ttl-expired".to_string(),
            7 => "command-not-supported".to_string(),
            8 => "address-type-not-supported".to_string(),
            other => format!("{other:#04x}"),
        };
        exchange.replies.push(reply(
            mark,
            name.clone(),
            &format!("{code:#04x} {name}, bound {bound}"),
        ));
        if code != 0 || command != "CONNECT" {
            return refused(exchange, self);
        }
        self.finish(
            true,
            Setup {
                kind: Kind::Socks5,
                target,
                user,
                password,
                exchanges: vec![exchange],
                client_offset: end as u64,
                server_offset: send as u64,
            },
        )
    }

    fn http(&mut self, mark: Mark) -> Progress {
        loop {
            let [ca, sa] = self.attempt;
            if self.request.is_none() {
                let c = &self.bytes[0][ca..];
                let prefix = b"CONNECT ";
                let n = c.len().min(prefix.len());
                if c[..n] != prefix[..n] {
                    return Progress::NotATunnel("no CONNECT request");
                }
                let Some(end) = headers_end(&self.bytes[0], ca, &mut self.scanned[0]) else {
                    return Progress::NeedMore;
                };
                let first = mark_of_offset(&self.chunks, Side::Client, ca);
                match connect_request(&self.bytes[0][ca..end], first) {
                    Some((exchange, user, password)) => {
                        self.request = Some((exchange, end, user, password));
                    }
                    None => return Progress::NotATunnel("malformed CONNECT request"),
                }
            }
            let Some(end) = headers_end(&self.bytes[1], sa, &mut self.scanned[1]) else {
                let s = &self.bytes[1][sa..];
                let n = s.len().min(5);
                if s[..n] != b"HTTP/"[..n] {
                    return Progress::NotATunnel("not an HTTP response");
                }
                return Progress::NeedMore;
            };
            let Some((code, lines)) = status(&self.bytes[1][sa..end]) else {
                return Progress::NotATunnel("not an HTTP response");
            };
            let Some((mut exchange, cend, user, password)) = self.request.take() else {
                return Progress::NeedMore;
            };
            let target = exchange
                .command
                .as_ref()
                .map_or(String::new(), |c| c.args.clone());
            exchange.replies.push(Reply {
                mark,
                code: code.to_string(),
                enhanced: None,
                lines,
                summary: None,
                headers: None,
                latency_ms: None,
            });
            if (100..200).contains(&code) {
                // An interim answer: the final one follows.
                self.request = Some((exchange, cend, user, password));
                self.attempt[1] = end;
                continue;
            }
            let mut exchanges = self.setup.take().map(|s| s.exchanges).unwrap_or_default();
            exchanges.push(exchange);
            let setup = Setup {
                kind: Kind::HttpConnect,
                target,
                user,
                password,
                exchanges,
                client_offset: cend as u64,
                server_offset: end as u64,
            };
            if (200..300).contains(&code) {
                return self.finish(true, setup);
            }
            // Refused: the client may try again on the same connection (with credentials
            // after a 407); otherwise the connection ends here.
            self.setup = Some(setup);
            self.attempt = [cend, end];
            if self.bytes[0].len() == cend {
                return Progress::NeedMore;
            }
        }
    }

    fn finish(&mut self, established: bool, setup: Setup) -> Progress {
        self.setup = Some(setup);
        if established {
            Progress::Established
        } else {
            Progress::Refused
        }
    }

    /// The connection ended before an outcome: the refused HTTP attempts, if any.
    pub fn refused(&self) -> bool {
        self.progress == Progress::Refused
            || (self.progress == Progress::NeedMore && self.setup.is_some())
    }
}

/// End (after the blank line) of the header block that starts at `from`, scanning each byte
/// once however the bytes come.
fn headers_end(b: &[u8], from: usize, scanned: &mut usize) -> Option<usize> {
    let mut i = (*scanned).max(from);
    while i < b.len() {
        if b[i] == b'\n' {
            let before = &b[from..i];
            if before.ends_with(b"\n") || before.ends_with(b"\n\r") || i == from {
                *scanned = i + 1;
                return Some(i + 1);
            }
        }
        i += 1;
    }
    *scanned = b.len();
    None
}

fn lines_of(block: &[u8]) -> Vec<String> {
    block
        .split(|&c| c == b'\n')
        .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The CONNECT request line and headers: the exchange, and the Basic credentials.
fn connect_request(block: &[u8], mark: Mark) -> Option<(Exchange, Option<String>, Option<Secret>)> {
    let lines = lines_of(block);
    let mut words = lines.first()?.split(' ');
    let (verb, target, version) = (words.next()?, words.next()?, words.next()?);
    if verb != "CONNECT" || !version.starts_with("HTTP/") || target.is_empty() {
        return None;
    }
    let mut exchange = exchange(mark, Kind::HttpConnect, target);
    let (mut user, mut password) = (None, None);
    for line in &lines[1..] {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        if name.eq_ignore_ascii_case("proxy-authorization") {
            let value = value.trim();
            let (scheme, cred) = value.split_once(' ').unwrap_or((value, ""));
            if scheme.eq_ignore_ascii_case("basic")
                && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(cred.trim())
            {
                let raw = String::from_utf8_lossy(&raw).into_owned();
                let (u, p) = raw.split_once(':').unwrap_or((&raw, ""));
                user = Some(u.to_string());
                password = Some(Secret::new(p));
            }
            exchange.client_lines.push(ClientLine {
                mark,
                text: format!("{name}: {scheme} <redacted>"),
                secret: Some(Secret::new(line.clone())),
            });
        } else {
            exchange.client_lines.push(client_line(mark, line.clone()));
        }
    }
    Some((exchange, user, password))
}

/// The status code and lines of an HTTP response head.
fn status(block: &[u8]) -> Option<(u16, Vec<String>)> {
    let lines = lines_of(block);
    let mut words = lines.first()?.split(' ');
    let version = words.next()?;
    let code: u16 = words.next()?.parse().ok()?;
    (version.starts_with("HTTP/1.") && (100..600).contains(&code)).then_some((code, lines))
}

/// SOCKS4 request: kind, target, user id, end offset.
fn socks4_request(c: &[u8]) -> Parse<(Kind, String, Option<String>, usize)> {
    let Some(head) = c.get(..8) else {
        return if c.len() >= 2 && c[1] != 1 {
            No("not a SOCKS4 CONNECT")
        } else {
            More
        };
    };
    if head[1] != 1 {
        return No("not a SOCKS4 CONNECT");
    }
    let port = u16::from_be_bytes([head[2], head[3]]);
    // User id and host name end with a NUL within 256 bytes each, so that re-reading the
    // request as bytes trickle in stays cheap.
    let nul = |from: usize| -> Parse<usize> {
        let window = &c[from.min(c.len())..c.len().min(from + 256)];
        match window.iter().position(|&b| b == 0) {
            Some(n) => Done(from + n),
            None if window.len() == 256 => No("SOCKS4 user id or host name too long"),
            None => More,
        }
    };
    let uend = match nul(8) {
        Done(n) => n,
        More => return More,
        No(why) => return No(why),
    };
    let user = String::from_utf8_lossy(&c[8..uend]).into_owned();
    // 0.0.0.x with x ≠ 0: SOCKS4a, the host name follows.
    if head[4..7] == [0, 0, 0] && head[7] != 0 {
        let hend = match nul(uend + 1) {
            Done(n) => n,
            More => return More,
            No(why) => return No(why),
        };
        let host = String::from_utf8_lossy(&c[uend + 1..hend]).into_owned();
        return Done((
            Kind::Socks4a,
            format!("{host}:{port}"),
            Some(user),
            hend + 1,
        ));
    }
    let ip = std::net::Ipv4Addr::new(head[4], head[5], head[6], head[7]);
    Done((Kind::Socks4, format!("{ip}:{port}"), Some(user), uend + 1))
}

/// SOCKS5 ATYP + address + port at `at`: `host:port` and the end offset.
fn socks5_address(b: &[u8], at: usize) -> Parse<(String, usize)> {
    let Some(&atyp) = b.get(at) else {
        return More;
    };
    let (host, end) = match atyp {
        1 => {
            let Some(a) = b.get(at + 1..at + 5) else {
                return More;
            };
            (
                std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string(),
                at + 5,
            )
        }
        3 => {
            let Some(&n) = b.get(at + 1) else {
                return More;
            };
            let Some(name) = b.get(at + 2..at + 2 + usize::from(n)) else {
                return More;
            };
            (
                String::from_utf8_lossy(name).into_owned(),
                at + 2 + usize::from(n),
            )
        }
        4 => {
            let Some(a) = b.get(at + 1..at + 17) else {
                return More;
            };
            let mut o = [0u8; 16];
            o.copy_from_slice(a);
            (format!("[{}]", std::net::Ipv6Addr::from(o)), at + 17)
        }
        _ => return No("unknown SOCKS5 address type"),
    };
    let Some(p) = b.get(end..end + 2) else {
        return More;
    };
    Done((
        format!("{host}:{}", u16::from_be_bytes([p[0], p[1]])),
        end + 2,
    ))
}

fn method_name(m: u8) -> String {
    match m {
        0 => "no-auth".to_string(),
        1 => "gssapi".to_string(),
        2 => "username/password".to_string(),
        0xff => "none acceptable".to_string(),
        other => format!("{other:#04x}"),
    }
}

fn exchange(mark: Mark, kind: Kind, target: &str) -> Exchange {
    let verb = match kind {
        Kind::HttpConnect => "CONNECT".to_string(),
        other => format!("{} CONNECT", other.label().to_ascii_uppercase()),
    };
    // A binary SOCKS request has no line: shown as the request it stands for.
    Exchange::of(mark, Command::new(verb, target), false)
}

fn client_line(mark: Mark, text: String) -> ClientLine {
    ClientLine {
        mark,
        text,
        secret: None,
    }
}

fn reply(mark: Mark, code: String, text: &str) -> Reply {
    Reply {
        mark,
        lines: vec![text.to_string()],
        code,
        enhanced: None,
        summary: None,
        headers: None,
        latency_ms: None,
    }
}

/// Mark of the chunk that carried the first byte of `side`.
fn mark_of(chunks: &[(Side, usize, usize, Mark)], side: Side) -> Mark {
    mark_of_offset(chunks, side, 0)
}

/// Mark of the chunk of `side` that carried stream offset `offset`.
fn mark_of_offset(chunks: &[(Side, usize, usize, Mark)], side: Side, offset: usize) -> Mark {
    chunks
        .iter()
        .find(|(s, start, len, _)| *s == side && offset < start + len)
        .map_or(Mark::default(), |c| c.3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Side::{Client as C, Server as S};

    /// Feeds the steps whole (`cuts` empty) or cut into pieces, stopping at the outcome;
    /// returns it, the setup and what each side has after it (held and later bytes).
    fn run(steps: &[(Side, &[u8])], cuts: &[usize]) -> (Progress, Option<Setup>, Vec<u8>, Vec<u8>) {
        let mut t = Tunnel::new(8192);
        let mut after = [Vec::new(), Vec::new()];
        let mut done = false;
        for (side, piece) in crate::proto::testkit::pieces(steps, cuts) {
            if done {
                after[idx(side)].extend_from_slice(piece);
            } else if t.on_data(side, piece, Mark::default()) != Progress::NeedMore {
                done = true;
                for (s, bytes, _) in t.take_held() {
                    after[idx(s)].extend_from_slice(&bytes);
                }
            }
        }
        let [c, s] = after;
        (t.progress(), t.setup().cloned(), c, s)
    }

    fn verbs(setup: &Setup) -> Vec<(String, String, Vec<String>)> {
        setup
            .exchanges
            .iter()
            .map(|e| {
                let c = e.command.as_ref().unwrap();
                (
                    c.verb.clone(),
                    c.args.clone(),
                    e.replies.iter().map(|r| r.code.clone()).collect(),
                )
            })
            .collect()
    }

    const HTTP: &[(Side, &[u8])] = &[
        (
            C,
            b"CONNECT mx.example.net:25 HTTP/1.1\r\nHost: mx.example.net:25\r\n\
              Proxy-Authorization: Basic YWxpY2U6V29uZGVybGFuZA==\r\n\r\n",
        ),
        (
            S,
            b"HTTP/1.1 200 Connection established\r\nVia: 1.1 squid\r\n\r\n",
        ),
        (S, b"220 mx.example.net ESMTP\r\n"),
        (C, b"EHLO me\r\n"),
    ];

    #[test]
    fn http_connect_opens_the_tunnel_after_the_blank_lines() {
        let (p, setup, c, s) = run(HTTP, &[]);
        assert_eq!(p, Progress::Established);
        let setup = setup.unwrap();
        assert_eq!(setup.kind, Kind::HttpConnect);
        assert_eq!(setup.target, "mx.example.net:25");
        assert_eq!(setup.user.as_deref(), Some("alice"));
        assert_eq!(
            setup.password.as_ref().map(Secret::expose),
            Some("Wonderland")
        );
        assert_eq!(
            verbs(&setup),
            [(
                "CONNECT".into(),
                "mx.example.net:25".into(),
                vec!["200".into()]
            )]
        );
        let e = &setup.exchanges[0];
        assert_eq!(
            e.client_lines[1].text,
            "Proxy-Authorization: Basic <redacted>"
        );
        assert_eq!(e.replies[0].lines[0], "HTTP/1.1 200 Connection established");
        assert_eq!(c, b"EHLO me\r\n");
        assert_eq!(s, b"220 mx.example.net ESMTP\r\n");
    }

    #[test]
    fn http_data_sent_with_the_request_belongs_to_the_tunnel() {
        let steps: &[(Side, &[u8])] = &[
            (C, b"CONNECT [2001:db8::1]:587 HTTP/1.0\n\nEHLO early\r\n"),
            (
                S,
                b"HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\n220 hi\r\n",
            ),
        ];
        let (p, setup, c, s) = run(steps, &[]);
        assert_eq!(p, Progress::Established);
        let setup = setup.unwrap();
        assert_eq!(setup.target, "[2001:db8::1]:587");
        assert_eq!(verbs(&setup)[0].2, ["100", "200"]);
        assert_eq!(
            (c.as_slice(), s.as_slice()),
            (&b"EHLO early\r\n"[..], &b"220 hi\r\n"[..])
        );
    }

    #[test]
    fn http_refusal_then_retry_with_credentials() {
        let steps: &[(Side, &[u8])] = &[
            (C, b"CONNECT mx:25 HTTP/1.1\r\n\r\n"),
            (
                S,
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
            ),
            (
                C,
                b"CONNECT mx:25 HTTP/1.1\r\nProxy-Authorization: Basic Ym9iOnM=\r\n\r\n",
            ),
            (S, b"HTTP/1.1 200 OK\r\n\r\n220 mx\r\n"),
        ];
        let (p, setup, _, s) = run(steps, &[]);
        assert_eq!(p, Progress::Established);
        let setup = setup.unwrap();
        assert_eq!(verbs(&setup).len(), 2);
        assert_eq!(verbs(&setup)[0].2, ["407"]);
        assert_eq!(setup.user.as_deref(), Some("bob"));
        assert_eq!(s, b"220 mx\r\n");
        // A refusal alone: not established, and nothing is handed on as mail.
        let (p, setup, c, s) = run(&steps[..2], &[]);
        assert_eq!(p, Progress::NeedMore);
        assert_eq!(verbs(&setup.unwrap())[0].2, ["407"]);
        assert!(c.is_empty() && s.is_empty());
    }

    #[test]
    fn socks4_and_4a() {
        let steps: &[(Side, &[u8])] = &[
            (C, b"\x04\x01\x00\x6e\xc0\x00\x02\x19alice\x00"),
            (S, b"\x00\x5a\x00\x00\x00\x00\x00\x00+OK ready\r\n"),
            (C, b"USER a\r\n"),
        ];
        let (p, setup, c, s) = run(steps, &[]);
        assert_eq!(p, Progress::Established);
        let setup = setup.unwrap();
        assert_eq!(
            (setup.kind, setup.target.as_str()),
            (Kind::Socks4, "192.0.2.25:110")
        );
        assert_eq!(setup.user.as_deref(), Some("alice"));
        assert_eq!(verbs(&setup)[0].0, "SOCKS4 CONNECT");
        assert_eq!(verbs(&setup)[0].2, ["0x5a"]);
        assert_eq!(
            (c.as_slice(), s.as_slice()),
            (&b"USER a\r\n"[..], &b"+OK ready\r\n"[..])
        );

        let steps: &[(Side, &[u8])] = &[
            (C, b"\x04\x01\x00\x19\x00\x00\x00\x01\x00mx.example.net\x00"),
            (S, b"\x00\x5b\x00\x00\x00\x00\x00\x00"),
        ];
        let (p, setup, _, _) = run(steps, &[]);
        assert_eq!(p, Progress::Refused);
        let setup = setup.unwrap();
        assert_eq!(
            (setup.kind, setup.target.as_str()),
            (Kind::Socks4a, "mx.example.net:25")
        );
        assert_eq!(setup.user, None);
        assert_eq!(verbs(&setup)[0].2, ["0x5b"]);
    }

    const SOCKS5: &[(Side, &[u8])] = &[
        (C, b"\x05\x02\x00\x02"),
        (S, b"\x05\x02"),
        (C, b"\x01\x05alice\x0fWonderland-2024"),
        (S, b"\x01\x00"),
        (C, b"\x05\x01\x00\x03\x10imap.example.net\x00\x8f"),
        (S, b"\x05\x00\x00\x01\xc0\x00\x02\x01\x30\x39"),
        (S, b"* OK ready\r\n"),
        (C, b"a1 LOGIN a b\r\n"),
    ];

    #[test]
    fn socks5_with_username_and_password() {
        let (p, setup, c, s) = run(SOCKS5, &[]);
        assert_eq!(p, Progress::Established);
        let setup = setup.unwrap();
        assert_eq!(
            (setup.kind, setup.target.as_str()),
            (Kind::Socks5, "imap.example.net:143")
        );
        assert_eq!(setup.user.as_deref(), Some("alice"));
        assert_eq!(
            setup.password.as_ref().map(Secret::expose),
            Some("Wonderland-2024")
        );
        assert_eq!(verbs(&setup)[0].0, "SOCKS5 CONNECT");
        assert_eq!(verbs(&setup)[0].2, ["0x02", "0x00", "succeeded"]);
        let e = &setup.exchanges[0];
        assert_eq!(
            e.client_lines[1].text,
            "username/password: alice <redacted>"
        );
        assert!(!format!("{e:?}").contains("Wonderland"));
        assert_eq!(
            e.replies[2].lines[0],
            "0x00 succeeded, bound 192.0.2.1:12345"
        );
        assert_eq!(
            (c.as_slice(), s.as_slice()),
            (&b"a1 LOGIN a b\r\n"[..], &b"* OK ready\r\n"[..])
        );
    }

    #[test]
    fn socks5_without_auth_and_refusals() {
        let ok: &[(Side, &[u8])] = &[
            (C, b"\x05\x01\x00"),
            (S, b"\x05\x00"),
            (
                C,
                b"\x05\x01\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x19\x00\x19",
            ),
            (S, b"\x05\x00\x00\x01\0\0\0\0\0\x00220 x\r\n"),
        ];
        let (p, setup, _, s) = run(ok, &[]);
        assert_eq!(p, Progress::Established);
        assert_eq!(setup.unwrap().target, "[2001:db8::19]:25");
        assert_eq!(s, b"220 x\r\n");
        let mut refused = ok.to_vec();
        refused[3] = (S, b"\x05\x05\x00\x01\0\0\0\0\0\0");
        let (p, setup, _, _) = run(&refused, &[]);
        assert_eq!(p, Progress::Refused);
        assert_eq!(verbs(&setup.unwrap())[0].2, ["0x00", "connection-refused"]);
    }

    #[test]
    fn other_traffic_is_not_a_tunnel_and_is_handed_back_whole() {
        for (steps, why) in [
            (
                &[(S, &b"220 mx ESMTP\r\n"[..])][..],
                "the server spoke first",
            ),
            (&[(C, &b"EHLO x\r\n"[..])][..], "no proxy request"),
            (&[(C, &b"CONNEXION\r\n"[..])][..], "no CONNECT request"),
            (
                &[(C, &b"GET http://x/ HTTP/1.1\r\n\r\n"[..])][..],
                "no proxy request",
            ),
            (
                &[
                    (C, &b"CONNECT x:1 HTTP/1.1\r\n\r\n"[..]),
                    (S, &b"220 hi\r\n"[..]),
                ][..],
                "not an HTTP response",
            ),
            (
                &[(C, &b"\x04\x02\x00\x19\x01\x02\x03\x04\x00"[..])][..],
                "not a SOCKS4 CONNECT",
            ),
            (
                &[(C, &b"\x05\x00"[..])][..],
                "SOCKS5 greeting without methods",
            ),
        ] {
            let (p, setup, c, s) = run(steps, &[]);
            assert_eq!(p, Progress::NotATunnel(why), "{steps:?}");
            assert!(setup.is_none());
            let sent = |side| {
                steps
                    .iter()
                    .filter(move |s| s.0 == side)
                    .flat_map(|s| s.1.to_vec())
            };
            assert_eq!(c, sent(C).collect::<Vec<_>>());
            assert_eq!(s, sent(S).collect::<Vec<_>>());
        }
    }

    /// `Limits::max_proxy_setup`: a setup that never ends stops being held at the bound.
    #[test]
    fn setup_bytes_are_bounded() {
        let mut t = Tunnel::new(100);
        assert_eq!(
            t.on_data(C, b"CONNECT x:25 HTTP/1.1\r\n", Mark::default()),
            Progress::NeedMore
        );
        let mut p = Progress::NeedMore;
        for _ in 0..20 {
            p = t.on_data(C, b"X-Padding: 1\r\n", Mark::default());
            if p != Progress::NeedMore {
                break;
            }
        }
        assert_eq!(p, Progress::NotATunnel("proxy setup longer than the limit"));
        assert!(t.take_held().iter().map(|c| c.1.len()).sum::<usize>() <= 100 + 14);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn chunking_does_not_matter(cuts in proptest::collection::vec(1usize..9, 100)) {
                for steps in [HTTP, SOCKS5] {
                    prop_assert_eq!(run(steps, &cuts), run(steps, &[]));
                }
            }

            #[test]
            fn hostile_input_is_bounded(
                chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..40)
            ) {
                let mut t = Tunnel::new(512);
                for (client, data) in &chunks {
                    let side = if *client { C } else { S };
                    if t.on_data(side, data, Mark::default()) != Progress::NeedMore {
                        break;
                    }
                }
                prop_assert!(t.take_held().iter().map(|c| c.1.len()).sum::<usize>() <= 2 * (512 + 300));
            }
        }
    }
}
