//! Email authentication checks. Only SPF (RFC 7208) exists so far.

pub mod observe;
pub mod spf;
