//! Bytes copied from one buffer to another, counted by where, when built with the
//! `copy-count` feature: the benchmark's "bytes copied per capture byte" (`bench/run.sh
//! --copies`). Without the feature [`count`] is empty and compiles away.
//!
//! Counted are the copies this program makes of capture-sized data: appending to a
//! message, joining its pieces when it is finished, lines, bytes held while a reply is awaited,
//! segments held for reassembly, plaintext out of TLS or compression, and MIME's copies of
//! a part's text (base64 lines gathered for the decoder, decoded bytes kept). Not counted:
//! the kernel's copy into the read buffer, and copies inside mail-parser.

/// Where bytes are copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// A message's bytes appended to its buffer.
    MessageAppend,
    /// A message's pieces joined into one buffer when it is finished.
    MessageJoin,
    /// A protocol line (command, reply, IMAP logical line) assembled.
    Line,
    /// Client bytes held while a DATA, BDAT or STARTTLS answer is awaited.
    Held,
    /// Out-of-order segments kept until the hole before them fills.
    Reassembly,
    /// Bytes kept while a session's protocol is recognised.
    Sniff,
    /// Plaintext out of TLS or compression gathered for the dissector.
    Plaintext,
    /// Base64 lines gathered into the decoder's input.
    Base64Lines,
    /// Decoded part bytes kept (text parts, extraction).
    Decoded,
}

impl Site {
    pub const ALL: [Site; 9] = [
        Site::MessageAppend,
        Site::MessageJoin,
        Site::Line,
        Site::Held,
        Site::Reassembly,
        Site::Sniff,
        Site::Plaintext,
        Site::Base64Lines,
        Site::Decoded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Site::MessageAppend => "message-append",
            Site::MessageJoin => "message-join",
            Site::Line => "line",
            Site::Held => "held",
            Site::Reassembly => "reassembly",
            Site::Sniff => "sniff",
            Site::Plaintext => "plaintext",
            Site::Base64Lines => "base64-lines",
            Site::Decoded => "decoded",
        }
    }
}

#[cfg(feature = "copy-count")]
static COUNTS: [std::sync::atomic::AtomicU64; Site::ALL.len()] =
    [const { std::sync::atomic::AtomicU64::new(0) }; Site::ALL.len()];

/// Counts `n` bytes copied at `site`.
#[inline(always)]
pub fn count(site: Site, n: usize) {
    #[cfg(feature = "copy-count")]
    COUNTS[site as usize].fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(feature = "copy-count"))]
    let _ = (site, n);
}

/// Bytes counted at each site so far; `None` when built without the feature.
pub fn totals() -> Option<Vec<(Site, u64)>> {
    #[cfg(feature = "copy-count")]
    return Some(
        Site::ALL
            .iter()
            .map(|&s| {
                (
                    s,
                    COUNTS[s as usize].load(std::sync::atomic::Ordering::Relaxed),
                )
            })
            .collect(),
    );
    #[cfg(not(feature = "copy-count"))]
    None
}

/// The counts as one line for standard error: every site, the total, and the total per
/// byte of `input` (the capture's size).
pub fn report(input: u64) -> Option<String> {
    let totals = totals()?;
    let all: u64 = totals.iter().map(|(_, n)| n).sum();
    let per = |n: u64| n as f64 / input.max(1) as f64;
    let sites: Vec<String> = totals
        .iter()
        .map(|(s, n)| format!("{} {:.3}", s.name(), per(*n)))
        .collect();
    Some(format!(
        "copies: {:.3} bytes per capture byte ({all} bytes; {})",
        per(all),
        sites.join(", ")
    ))
}
