//! TLS between `flow` and `proto`: what a connection's TLS says in clear (hellos,
//! certificates, alerts) and, with a key log, the plaintext of its records.
//!
//! - [`keylog`]: the NSS key log (`SSLKEYLOGFILE`), secrets by client random.
//! - [`conn`]: one connection's record layer and handshake, both directions; with keys, the
//!   plaintext of its application data.
//! - [`crypto`]: cipher suites, key schedules (TLS 1.2 PRF, TLS 1.3 HKDF), record
//!   protection.
//! - [`hello`]: ClientHello / ServerHello / EncryptedExtensions (tls-parser), JA3, JA3S, JA4,
//!   names.
//! - [`cert`]: certificate chains (x509-parser).

pub mod cert;
pub mod conn;
pub mod crypto;
pub mod hello;
pub mod keylog;

/// Whether `first` (the first bytes of a direction, at least one) can start a TLS record:
/// a content type 20–23 (change cipher spec, alert, handshake, application data) and, when
/// there, major version 3 (SSL 3.0 to TLS 1.3). Anything else is not TLS.
pub fn starts_tls_record(first: &[u8]) -> bool {
    match first {
        [] => true,
        [t] => (20..=23).contains(t),
        [t, major, ..] => (20..=23).contains(t) && *major == 3,
    }
}
