//! Every resource limit of the program, in one place. Hostile captures must hit one of these
//! (and have it reported) long before they can exhaust memory or time.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Out-of-order bytes buffered per connection direction while waiting for a hole to fill.
    pub max_buffered_bytes: usize,
    /// Out-of-order segments buffered per connection direction.
    pub max_buffered_segments: usize,
    /// Out-of-order bytes buffered over all connections together.
    pub max_total_buffered: usize,
    /// Connections tracked at once; past it the least recently active one is closed.
    pub max_connections: usize,
    /// A connection without packets for this long (capture time) is closed as timed out.
    pub idle_timeout: Duration,
    /// IP fragments held while waiting for the rest of their datagram.
    pub max_pending_fragments: usize,
    /// Bytes of one protocol line kept; the rest of a longer line is dropped (and reported).
    pub max_line: usize,
    /// Bytes of one message kept for MIME; past it the message is marked truncated (its size
    /// and hash still cover every byte).
    pub max_message: usize,
    /// Bytes of finished messages waiting for or under MIME decoding on worker threads;
    /// past it the reading thread decodes them itself.
    pub max_decoding_bytes: usize,
    /// A hole the receiver has acknowledged stays open for its late segment until more than
    /// this many out-of-order bytes are buffered behind it; then it becomes a gap.
    pub max_acked_hole_bytes: usize,
    /// A hole the receiver has acknowledged stays open for its late segment until this much
    /// capture time has passed since the first ACK past it; then it becomes a gap.
    pub acked_hole_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_buffered_bytes: 4 << 20,
            max_buffered_segments: 4096,
            max_total_buffered: 256 << 20,
            max_connections: 100_000,
            idle_timeout: Duration::from_secs(300),
            max_pending_fragments: 8192,
            max_line: 64 << 10,
            max_message: 64 << 20,
            max_decoding_bytes: 3 << 20,
            max_acked_hole_bytes: 1 << 20,
            acked_hole_timeout: Duration::from_secs(1),
        }
    }
}
