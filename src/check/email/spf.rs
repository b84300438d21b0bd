//! SPF (RFC 7208): record parsing, `check_host()` evaluation for a client, and a static
//! analysis of a domain's policy for scanning, where no client or sender is known.
//!
//! - [`record`] selects the SPF record among TXT records and parses it into [`Record`].
//! - [`macros`] parses and expands macro strings (RFC 7208 section 7).
//! - [`lookup`] defines [`SpfDns`], the DNS queries evaluation needs.
//! - [`eval`] implements [`check_host`], which returns an [`Evaluation`] with a [`Trace`].
//! - [`analyze`](mod@analyze) walks the include and redirect tree into an [`Analysis`].
//!
//! Left out: the type 99 SPF record (RFC 7208 section 3.1 removed it, so only TXT is
//! queried) and a time limit on evaluation, which callers set around the future.

pub mod analyze;
pub mod eval;
pub mod lookup;
pub mod macros;
pub mod record;

#[cfg(test)]
mod memory;
#[cfg(test)]
mod suite;
#[cfg(test)]
mod syntax_cases;

pub use analyze::{Analysis, analyze};
pub use eval::{Evaluation, Params, Problem, SpfResult, TermOutcome, TermTrace, Trace, check_host};
pub use lookup::{Lookup, SpfDns};
pub use record::{Qualifier, Record, SpfError, Warning, parse};
