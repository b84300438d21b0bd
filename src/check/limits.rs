//! The limits on new connections to each address, shared by every check that connects to
//! web servers: the `--per-address` rate and the back-off of [`backoff`](super::backoff).
//!
//! The web check and the tls check hold the same [`AddressLimits`], so a scan has one rate
//! limiter and one back-off table. A reset seen by the tls check slows down the web check's
//! connections to that address, and a 429 seen by the web check slows down the handshakes.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::backoff::{AddressBackoff, Signal};

/// The per-address rate limit and back-off state of one scan.
pub struct AddressLimits {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    backoff: AddressBackoff,
}

impl AddressLimits {
    /// Creates the limits for `per_address` new connections per second to one address.
    pub fn new(per_address: NonZeroU32) -> Self {
        Self {
            per_address: RateLimiter::keyed(per_address_quota(per_address)),
            backoff: AddressBackoff::new(per_address),
        }
    }

    /// Waits until a new connection to `address` may start: the back-off first, then the
    /// per-address limit. A pause that began while this connection waited for the limit is
    /// waited for as well.
    pub async fn until_ready(&self, address: IpAddr) {
        loop {
            self.backoff.wait(address).await;
            self.per_address.until_key_ready(&address).await;
            if !self.backoff.is_paused(address) {
                return;
            }
        }
    }

    /// Records a back-off signal from `address`.
    pub fn signal(&self, address: IpAddr, signal: Signal) {
        self.backoff.signal(address, signal);
    }

    /// Forgets the rate and back-off state that no longer limits any address, bounding its
    /// memory.
    pub fn forget_idle(&self) {
        self.per_address.retain_recent();
        self.per_address.shrink_to_fit();
        self.backoff.forget_recovered();
    }
}

/// Returns the quota of new connections per address: `per_address` a second, with no burst
/// above one, so that no window of one second contains more than `per_address` new connections.
/// governor's default burst equals the rate, which lets a window of one second that starts
/// with a full bucket contain almost twice as many.
pub fn per_address_quota(per_address: NonZeroU32) -> Quota {
    Quota::per_second(per_address).allow_burst(NonZeroU32::MIN)
}
