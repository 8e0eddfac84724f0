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
    }
}
