//! Anomalies any session can carry, whatever its protocol: mailscope's own limits and what
//! recognition found.

use super::vocabulary;

vocabulary! {
    /// An anomaly that belongs to no one protocol.
    pub enum Anomaly (name, explanation) {
        LimitReached = "limit-reached", "mailscope Limits (RFC 5321 4.5.3, RFC 9051 4: implementations may limit sizes)", "a resource limit of mailscope was reached: what lies past it is counted, not kept";
        PlaintextAfterStarttls = "plaintext-after-starttls", "RFC 3207 4.2, RFC 2595 3.1, RFC 9051 6.2.1 (after a positive STARTTLS answer the TLS handshake starts)", "STARTTLS was accepted, but the bytes after it are not TLS (a TLS-terminating proxy or a decryptor in front of the capture point?): they are read as text";
        PlaintextOnTlsPort = "plaintext-on-tls-port", "RFC 8314 3 (implicit TLS ports start with the TLS handshake)", "the port is mapped to implicit TLS, but its first bytes are not a TLS record: the session is dissected by content";
        PortProtocolMismatch = "port-protocol-mismatch", "RFC 6335 (ports name services, they do not prove them)", "the content is another mail protocol than the port is mapped to; the content decided";
        TlsNoKey = "tls-no-key", "RFC 8446 7.1, RFC 5246 8.1 (the keys come from secrets only the endpoints know); NSS key log format", "TLS records that cannot be decrypted: the key log has no secret for this session (or none was given); only what TLS leaves in clear is shown";
        TlsDecryptFailed = "tls-decrypt-failed", "RFC 8446 5.2, RFC 5246 6.2.3 (every record is authenticated)", "a TLS record did not authenticate with the key log's secret: a wrong key, or damaged data; the rest of that direction is not read";
        TlsAlert = "tls-alert", "RFC 8446 6, RFC 5246 7.2", "a TLS alert: the endpoint reports an error (fatal alerts end the connection) or a warning; close_notify is the normal end and is not reported";
        TlsDowngrade = "tls-downgrade", "RFC 3207 4, RFC 8314 3 (do not send credentials in clear after TLS was offered)", "the server offered STARTTLS, the upgrade did not happen, and the client then authenticated in clear";
        TlsGap = "tls-gap", "RFC 8446 5.3, RFC 5246 6.1 (each record's keys depend on its sequence number)", "bytes are missing inside TLS: reading goes on from the next record that decrypts, at a sequence number found by trying the next few";
        TlsMalformed = "tls-malformed", "RFC 8446 5.1, RFC 5246 6.2.1 (the record layer)", "bytes that should be TLS records are not: the rest of that direction is not read";
    }
}
