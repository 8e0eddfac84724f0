//! TLS between `flow` and `proto`: what a connection's TLS says in clear (hellos,
//! certificates, alerts) and, with a key log, the plaintext of its records.
//!
//! - [`watch`]: TLS without keys, the one ClientHello reader (SNI and offered version).

pub mod cert;
pub mod crypto;
pub mod hello;
mod watch;

pub use watch::{Hello, TlsWatch, client_hello, starts_tls_record};
