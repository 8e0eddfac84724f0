//! Stream transforms: what sits between `flow` and `proto` on one direction of a connection,
//! from a stream offset on, once a dissector asks for it (`Event::Upgrade`). The pipeline
//! installs them; dissectors only ever see what comes out.
//!
//! ```text
//!  flow ──bytes──▶ [transform: none | Inflate | TLS (tls::conn, both directions)] ──▶ proto
//! ```
//!
//! - [`Inflate`]: raw DEFLATE (IMAP COMPRESS=DEFLATE, RFC 4978).
//! - [`tls`]: TLS: what it says in clear (hellos, certificates, alerts) and, with a key
//!   log, the plaintext of its records. One state machine serves both directions.
//!
//! Output comes one bounded piece per call ([`Transform::next`]), so the caller hands each
//! piece on before the next is made: a small input cannot make anyone hold a large output.
//! Gaps pass through as gaps where a transform can carry on; one that cannot (a hole in a
//! deflate stream, data that does not inflate) says so with a [`Failure`], and the rest of
//! that direction is counted, not read.

mod deflate;
pub mod tls;

pub use deflate::Inflate;
pub use tls::starts_tls_record;

/// Why a transform stopped: the rest of its direction cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The bytes are not what the transform decodes (data that does not inflate).
    Corrupt(String),
    /// Bytes are missing and the transform cannot skip them (a deflate stream's state
    /// depends on every byte before).
    Gap(u64),
}

/// One direction's transform.
pub trait Transform {
    /// Takes bytes from the front of `input` (stream order, any chunking) and puts what
    /// comes out of them into `out` (cleared first): at most one piece of a fixed size.
    /// `Ok(true)`: call again (input is left, or more output is pending).
    fn next(&mut self, input: &mut &[u8], out: &mut Vec<u8>) -> Result<bool, Failure>;
    /// `len` bytes are missing. `Ok(Some(n))`: `n` bytes are missing from the output too
    /// (passed on as a gap); `Ok(None)`: nothing is missing from the output.
    fn gap(&mut self, len: u64) -> Result<Option<u64>, Failure>;
}
