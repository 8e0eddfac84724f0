//! Anomalies any session can carry, whatever its protocol: mailscope's own limits and what
//! recognition found.

use super::vocabulary;

vocabulary! {
    /// An anomaly that belongs to no one protocol.
    pub enum Anomaly (name, explanation) {
        LimitReached = "limit-reached", "mailscope Limits (RFC 5321 4.5.3, RFC 9051 4: implementations may limit sizes)", "a resource limit of mailscope was reached: what lies past it is counted, not kept";
        PortProtocolMismatch = "port-protocol-mismatch", "RFC 6335 (ports name services, they do not prove them)", "the content is another mail protocol than the port is mapped to; the content decided";
    }
}
