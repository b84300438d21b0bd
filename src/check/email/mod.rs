//! Email authentication checks: SPF (RFC 7208) evaluation and analysis, and parsers for the
//! DMARC, DKIM key, MTA-STS, TLS-RPT and BIMI records.

pub mod bimi;
pub mod dkim;
pub mod dmarc;
pub mod evaluate;
pub mod issue;
pub mod mtasts;
pub mod observe;
pub mod records;
pub mod render;
pub mod spf;
pub mod tlsrpt;
