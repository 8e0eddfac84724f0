//! Small types every layer shares, kept low so that no layer imports another layer's module
//! just for a type: capture timestamps, connection endpoints, protocol names.

use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// Nanoseconds since the Unix epoch (UTC). Capture timestamps before 1970 or after 2262 are
/// clamped: no real capture has them, and an attacker-chosen value must not overflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// Seconds plus a fraction given in `units_per_second` (10^6 for µs, 10^9 for ns, any
    /// pcapng `if_tsresol`). Saturates instead of overflowing.
    pub fn from_parts(secs: i64, frac: u64, units_per_second: u64) -> Self {
        let units = units_per_second.max(1);
        let frac_ns = (u128::from(frac) * 1_000_000_000 / u128::from(units)) as i64;
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(frac_ns))
    }

    /// The wall clock now (a live capture's idle ticks).
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Signed difference in nanoseconds (`self - earlier`).
    pub fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-26T07:53:38.123456Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = self.0.max(0) as u64;
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos);
        humantime::format_rfc3339_micros(t).to_string()
    }

    /// As people read it in a table: `2026-11-26 07:53:38.123456` (UTC).
    pub fn to_human(self) -> String {
        self.to_rfc3339().trim_end_matches('Z').replace('T', " ")
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// One end of a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// A mail protocol (or what a connection turned out to be instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Smtp,
    Pop3,
    Imap,
    /// TLS from the first byte, protocol inside unknown.
    Tls,
    Unknown,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Pop3 => "pop3",
            Protocol::Imap => "imap",
            Protocol::Tls => "tls",
            Protocol::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a live capture backend counted. `kernel_dropped` is `None` when the backend cannot
/// tell (never reported as 0 then).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaptureStats {
    /// The interface captured on.
    pub interface: String,
    /// The backend: `pnet` (AF_PACKET) or `libpcap`.
    pub backend: &'static str,
    /// Packets the backend handed to mailscope.
    pub packets_received: u64,
    /// Packets the kernel dropped because mailscope did not read them in time.
    pub packets_dropped_by_kernel: Option<u64>,
    /// Packets the interface (driver) dropped, when the backend can tell.
    pub packets_dropped_by_interface: Option<u64>,
    /// Packets mailscope let go because its capture queue was full
    /// (`Limits::max_capture_queue`).
    pub packets_dropped_by_mailscope: u64,
}

/// A hash map for the tables looked up for every packet (connections, open sessions):
/// foldhash, seeded at random per process like std's SipHash, and much cheaper on small
/// keys.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
