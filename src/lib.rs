//! posture grades the external security posture of domains in bulk: DNS, HTTPS and HTTP
//! checks over a streaming, rate-limited pipeline that writes Parquet.
//!
//! - [`input`] reads domain lists and normalises names.
//! - [`check`] contains one module per check and the per-domain [`check::Scanner`].
//! - [`pipeline`] runs a scan: reader, dispatcher, domain tasks and writer.
//! - [`output`] defines the Arrow schema and writes Parquet or JSON Lines.
//! - [`progress`] draws the progress bar and prints the summary.

pub mod check;
pub mod cli;
pub mod config;
pub mod input;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod score;
