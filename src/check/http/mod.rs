//! Parsers of the HTTP response headers posture grades, shared by the scan and `posture parse`.
//!
//! - [`cookie`]: `Set-Cookie` as browsers parse and store it.
//! - [`hsts`]: `Strict-Transport-Security` and preload readiness.
//! - [`server`]: software named by `Server`, `X-Powered-By` and similar headers, with
//!   end-of-life versions.
//! - [`headers`]: the security headers of a response (CSP, framing, referrer, isolation).
//! - [`securitytxt`]: the `/.well-known/security.txt` file.
//!
//! None of them does I/O, so each is tested with strings.

pub mod cookie;
pub mod headers;
pub mod hsts;
pub mod render;
pub mod securitytxt;
pub mod server;
