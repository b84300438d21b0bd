//! The DNS queries SPF evaluation needs, behind a trait so that evaluation runs against a
//! resolver or against in-memory zone data.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The response to one query. Failures stay apart from the responses that state that
/// nothing exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The records of the requested type; an empty list means the same as `NoData`.
    Found(Vec<T>),
    /// NOERROR with no record of the type.
    NoData,
    /// NXDOMAIN.
    NxDomain,
    /// A timeout, SERVFAIL or another failure: whether records exist is not known, which
    /// RFC 7208 section 5 turns into temperror.
    Failed(String),
}

impl<T> Lookup<T> {
    /// Returns the records, `Ok(None)` for a void lookup (RFC 7208 section 4.6.4: NOERROR
    /// with no records, or NXDOMAIN), or the failure detail.
    pub fn into_records(self) -> Result<Option<Vec<T>>, String> {
        match self {
            Self::Found(records) if !records.is_empty() => Ok(Some(records)),
            Self::Found(_) | Self::NoData | Self::NxDomain => Ok(None),
            Self::Failed(detail) => Err(detail),
        }
    }
}

/// DNS queries for SPF. Names have no trailing dot and may be in any case. Implementations
/// join the character-strings of each TXT record (RFC 7208 section 3.3) and return MX
/// exchanges in preference order, a null MX (RFC 7505) as `.`.
pub trait SpfDns: Sync {
    fn txt(&self, name: &str) -> impl Future<Output = Lookup<String>> + Send;
    fn a(&self, name: &str) -> impl Future<Output = Lookup<Ipv4Addr>> + Send;
    fn aaaa(&self, name: &str) -> impl Future<Output = Lookup<Ipv6Addr>> + Send;
    fn mx(&self, name: &str) -> impl Future<Output = Lookup<String>> + Send;
    /// Looks up the PTR names of an address in `in-addr.arpa` or `ip6.arpa`.
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = Lookup<String>> + Send;
}
