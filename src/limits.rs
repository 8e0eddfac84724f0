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
    /// Exchanges (command + replies) kept in full per session; later ones are counted and
    /// summarised by verb.
    pub max_exchanges: usize,
    /// Replies kept per exchange (and client lines per exchange); the last reply is always
    /// kept as the outcome.
    pub max_replies: usize,
    /// Lines kept per multi-line reply (and capabilities per session).
    pub max_reply_lines: usize,
    /// Anomalies kept per name per session; the rest are counted.
    pub max_anomalies: usize,
    /// IMAP: bytes of one logical line's text and its non-message literals together.
    pub max_imap_line: usize,
    /// IMAP: literals in one logical line.
    pub max_imap_literals: usize,
    /// Commands waiting for their reply at once (pipelining depth); past it the oldest
    /// stops waiting and is marked incomplete.
    pub max_in_flight: usize,
    /// Messages kept per session; later ones are counted (size and count), not decoded.
    pub max_messages: usize,
    /// Memory of the message bytes held for MIME across all open sessions together (the
    /// bytes and the room of the piece being filled); past it the largest messages in
    /// flight stop keeping bytes (size and SHA-256 stay exact; not decoded).
    pub max_held_messages: usize,
    /// Bytes per direction kept to recognise a protocol by content.
    pub max_sniff: usize,
    /// Tunnel layers (IP-in-IP, GRE) peeled off one frame; a frame nested deeper is skipped
    /// and counted.
    pub max_tunnel_depth: usize,
    /// Bytes per side held while a proxy tunnel (HTTP CONNECT, SOCKS) is being set up; past
    /// it the connection is taken as no tunnel.
    pub max_proxy_setup: usize,
    /// MIME entities (leaf parts and multipart containers) listed per message; the rest are
    /// counted and reported once (`too-many-parts`). The message's size and hash still
    /// cover every byte.
    pub max_mime_parts: usize,
    /// Multipart and message/rfc822 nesting followed; deeper entities are reported
    /// (`nesting-too-deep`) and not descended into.
    pub max_mime_depth: usize,
    /// Header fields of a message listed (raw, Received); the rest are still read for the
    /// fields shown (From, To, Cc, Subject, Message-ID, Date, …; addresses answer to
    /// `max_mime_addresses` only), counted and reported once (`too-many-headers`).
    pub max_mime_headers: usize,
    /// Addresses listed per address field (From, To, Cc, Bcc, Reply-To); the rest are
    /// counted and reported once per field (`too-many-addresses`).
    pub max_mime_addresses: usize,
    /// MIME anomalies kept per name and message; the rest are counted and reported once per
    /// name (`too-many-anomalies`).
    pub max_mime_anomalies_per_name: usize,
    /// A hole the receiver has acknowledged stays open for its late segment until more than
    /// this many out-of-order bytes are buffered behind it; then it becomes a gap.
    pub max_acked_hole_bytes: usize,
    /// A hole the receiver has acknowledged stays open for its late segment until this much
    /// capture time has passed since the first ACK past it; then it becomes a gap.
    pub acked_hole_timeout: Duration,
    /// IMAP: parenthesised lists nested in one line (BODYSTRUCTURE, command arguments) read;
    /// deeper lists are skipped and reported.
    pub max_imap_depth: usize,
    /// Finished sessions (or `flows` records) held back while an earlier connection is
    /// still open, so that output comes in order of first packet. Past it, the connections
    /// open ahead of them are given up on: the held items are written, and those
    /// connections' items come when they finish, out of order (their ids still say the
    /// order; the summary counts them as `listed_out_of_order`). 0 writes everything as it
    /// finishes. The default holds a few MB of typical sessions (more with `--extract`,
    /// which keeps message bytes).
    pub max_reorder: usize,
    /// Bytes of captured packets waiting between a live capture's thread and the pipeline
    /// (each packet's data plus a fixed overhead). Past it, packets are dropped and counted
    /// (`packets_dropped_by_mailscope` in the capture stats), so a pipeline that falls behind
    /// costs packets, not memory.
    pub max_capture_queue: usize,
    /// Message hops (one per session and Message-ID) kept for the mail-flow picture at the
    /// end of `--format diagram` (`session::hops`); later ones are counted, not kept, and
    /// the picture says how many.
    pub max_flow_hops: usize,
    /// Sessions the HTML report shows in full (`--format html` holds the page until the end,
    /// for its session list comes first); later ones are counted, and the page says how many
    /// and how to pick others.
    pub max_report_sessions: usize,
    /// Bytes of one TLS handshake message read (a certificate chain is the longest); a
    /// longer one is skipped and reported, the connection read on.
    pub max_tls_handshake: usize,
    /// Certificates listed per TLS certificate chain.
    pub max_tls_certificates: usize,
    /// Connections whose secrets a key log (`--tls-keylog`, or a pcapng's Decryption
    /// Secrets Block) may hold; lines for more are skipped with a warning.
    pub max_keylog_entries: usize,
    /// IMAP: characters of one field shown in a FETCH summary (an ENVELOPE string, a body
    /// type, a decoded header in the summary line; a literal may hold far more); a longer
    /// one is cut and ends in `…`.
    pub max_imap_field_chars: usize,
    /// IMAP: characters kept of each header value on a FETCH reply (JSON `headers`); a
    /// longer one is cut and ends in `…`.
    pub max_imap_header_chars: usize,
    /// IMAP: header fields as sent (and Received lines) kept on a FETCH reply (JSON
    /// `headers`), so that a header-listing session does not keep every reply's whole
    /// header block; the rest are counted and reported (`max-imap-header-fields`).
    pub max_imap_header_fields: usize,
    /// IMAP: characters kept of each server line (its text, literals' markers included)
    /// and of each literal shown among a command's arguments; a longer one is cut and ends
    /// in `…`.
    pub max_imap_text_chars: usize,
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
            max_decoding_bytes: 6 << 20,
            max_exchanges: 10_000,
            max_replies: 1_000,
            max_reply_lines: 1_000,
            max_anomalies: 100,
            max_imap_line: 1 << 20,
            max_imap_literals: 1_000,
            max_in_flight: 1_000,
            max_messages: 10_000,
            max_held_messages: 40 << 20,
            max_sniff: 512,
            max_tunnel_depth: 4,
            max_proxy_setup: 8 << 10,
            max_mime_parts: 10_000,
            max_mime_depth: 32,
            max_mime_headers: 500,
            max_mime_addresses: 1000,
            max_mime_anomalies_per_name: 20,
            max_acked_hole_bytes: 1 << 20,
            acked_hole_timeout: Duration::from_secs(1),
            max_imap_depth: 32,
            max_reorder: 1_000,
            max_capture_queue: 8 << 20,
            max_flow_hops: 10_000,
            max_report_sessions: 2_000,
            max_tls_handshake: 256 << 10,
            max_tls_certificates: 16,
            max_keylog_entries: 200_000,
            max_imap_field_chars: 400,
            max_imap_header_chars: 1000,
            max_imap_header_fields: 32,
            max_imap_text_chars: 400,
        }
    }
}
