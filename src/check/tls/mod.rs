//! TLS beyond the one handshake the web check makes: which protocol versions and weak cipher
//! suites a server still accepts, and what its certificate chain is worth.
//!
//! - [`handshake`] makes one modern handshake per address with rustls.
//! - [`probe`] sends hand-built ClientHello messages and reads the ServerHello or alert.
//! - [`cert`] reads the served chain and gives its verdict.
//! - [`large_leaf`] validates a leaf certificate too large for rustls-webpki.

pub mod cert;
pub mod handshake;
pub mod large_leaf;
pub mod probe;
