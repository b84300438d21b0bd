//! Back-off per address: an address that resets connections, replies with `429 Too Many
//! Requests`, or replies with `503 Service Unavailable` and a `Retry-After` gets fewer new
//! connections for a while.
//!
//! Two things happen when an address signals overload:
//!
//! 1. **A pause.** No new connection to the address starts before the pause ends. A 429
//!    response pauses for its `Retry-After` (seconds or an HTTP date), at most
//!    [`MAX_RETRY_AFTER`], or for [`DEFAULT_PAUSE`] without a usable one. A 503 response
//!    pauses for its `Retry-After` in the same way. A reset connection pauses for
//!    [`DEFAULT_PAUSE`].
//! 2. **Half the rate.** For [`SLOW_PERIOD`] after the last signal, new connections to the
//!    address are spaced by twice the interval that `--per-address` allows, on top of that
//!    limit.
//!
//! A domain's wait counts against its deadline: the caller's deadline cancels a wait, so a
//! pause never holds a domain past it. The state of an address is dropped once its slow
//! period is over, so memory grows only with the addresses that signalled in the last
//! [`SLOW_PERIOD`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use tokio::time::Instant;

/// Longest `Retry-After` honoured. A longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Pause after a reset connection, or after a 429 without a usable `Retry-After`.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// Time after the last signal during which an address gets half its rate.
pub const SLOW_PERIOD: Duration = Duration::from_secs(60);

/// The signal that slows an address down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The server reset a connection.
    Reset,
    /// A 429 response, with its `Retry-After` if one could be read.
    TooManyRequests(Option<Duration>),
    /// A 503 response with a usable `Retry-After`.
    ServiceUnavailable(Duration),
}

#[derive(Debug, Clone, Copy)]
struct Slowed {
    /// No connection starts before this moment.
    paused_until: Instant,
    /// The earliest moment of the next connection at half the rate.
    next: Instant,
    /// The end of the slow period.
    until: Instant,
}

/// Back-off state of every address that signalled overload recently.
pub struct AddressBackoff {
    /// Interval between connections at half the `--per-address` rate.
    spacing: Duration,
    state: Mutex<HashMap<IpAddr, Slowed>>,
}

impl AddressBackoff {
    /// Creates the state for a limit of `per_address` new connections per second.
    pub fn new(per_address: NonZeroU32) -> Self {
        Self {
            spacing: Duration::from_secs(2) / per_address.get(),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Records a back-off signal from `address`.
    pub fn signal(&self, address: IpAddr, signal: Signal) {
        self.signal_at(address, signal, Instant::now());
    }

    fn signal_at(&self, address: IpAddr, signal: Signal, now: Instant) {
        let pause = match signal {
            Signal::Reset | Signal::TooManyRequests(None) => DEFAULT_PAUSE,
            Signal::TooManyRequests(Some(wait)) | Signal::ServiceUnavailable(wait) => {
                wait.min(MAX_RETRY_AFTER)
            }
        };
        let mut state = self.state();
        let slowed = state.entry(address).or_insert(Slowed {
            paused_until: now,
            next: now,
            until: now,
        });
        slowed.paused_until = slowed.paused_until.max(now + pause);
        slowed.until = slowed.until.max(now + SLOW_PERIOD).max(slowed.paused_until);
    }

    /// Waits until a new connection to `address` may start. Returns at once for an address
    /// that has not signalled in the last [`SLOW_PERIOD`].
    pub async fn wait(&self, address: IpAddr) {
        loop {
            let Some(slot) = self.reserve(address, Instant::now()) else {
                return;
            };
            tokio::time::sleep_until(slot).await;
            // A signal that arrived during the sleep may have paused the address again.
            if !self.is_paused(address) {
                return;
            }
        }
    }

    /// Returns whether `address` is slowed down at this moment.
    pub fn is_slowed(&self, address: IpAddr) -> bool {
        self.is_slowed_at(address, Instant::now())
    }

    fn is_slowed_at(&self, address: IpAddr, now: Instant) -> bool {
        self.state()
            .get(&address)
            .is_some_and(|slowed| slowed.until > now)
    }

    /// Drops the state of addresses whose slow period is over.
    pub fn forget_recovered(&self) {
        self.forget_recovered_at(Instant::now());
    }

    fn forget_recovered_at(&self, now: Instant) {
        let mut state = self.state();
        state.retain(|_, slowed| slowed.until > now);
        state.shrink_to_fit();
    }

    /// Takes the next connection slot of a slowed address, or `None` when it is not slowed.
    fn reserve(&self, address: IpAddr, now: Instant) -> Option<Instant> {
        let mut state = self.state();
        let slowed = state.get_mut(&address)?;
        if slowed.until <= now {
            state.remove(&address);
            return None;
        }
        let slot = now.max(slowed.next).max(slowed.paused_until);
        slowed.next = slot + self.spacing;
        Some(slot)
    }

    /// Returns whether new connections to `address` are paused at this moment.
    pub fn is_paused(&self, address: IpAddr) -> bool {
        self.is_paused_at(address, Instant::now())
    }

    fn is_paused_at(&self, address: IpAddr, now: Instant) -> bool {
        self.state()
            .get(&address)
            .is_some_and(|slowed| slowed.paused_until > now)
    }

    fn state(&self) -> MutexGuard<'_, HashMap<IpAddr, Slowed>> {
        // The map stays consistent even if a holder panicked, so a poisoned lock is used.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Returns the back-off signal that an HTTP response carries: a 429, or a 503 with a usable
/// `Retry-After`. A 503 without one is no signal, because many sites send it for maintenance
/// pages or blocked clients at any load.
pub fn response_signal(status: u16, headers: &HeaderMap, now: DateTime<Utc>) -> Option<Signal> {
    match status {
        429 => Some(Signal::TooManyRequests(retry_after(headers, now))),
        503 => retry_after(headers, now).map(Signal::ServiceUnavailable),
        _ => None,
    }
}

/// Reads `Retry-After` (RFC 9110 section 10.2.3): a number of seconds, or an HTTP date
/// compared with `now`. A date in the past gives zero, and a value that is neither gives
/// `None`.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // A number too large for a u64 is far above the cap anyway.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Returns whether an error, or any error that caused it, is a reset or aborted connection.
pub fn is_reset(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ) {
                return true;
            }
            // An io::Error that wraps another error gives that error's source as its own
            // source, so the wrapped error itself is checked here.
            if let Some(inner) = io.get_ref() {
                current = Some(inner as &(dyn std::error::Error + 'static));
                continue;
            }
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_str(retry_after).unwrap(),
        );
        headers
    }

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let read = |value: &str| retry_after(&headers(value), now);
        assert_eq!(read("120"), Some(Duration::from_secs(120)));
        assert_eq!(read(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            read("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            read("Wed, 21 Oct 2015 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(read("Wed, 21 Oct 2015 07:27:00 GMT"), Some(Duration::ZERO));
        assert_eq!(read("soon"), None);
        assert_eq!(read("-5"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn response_signals() {
        let now = Utc::now();
        let signal = |status: u16, headers: &HeaderMap| response_signal(status, headers, now);
        let none = HeaderMap::new();
        let two_seconds = headers("2");
        assert_eq!(
            signal(429, &two_seconds),
            Some(Signal::TooManyRequests(Some(Duration::from_secs(2))))
        );
        assert_eq!(signal(429, &none), Some(Signal::TooManyRequests(None)));
        assert_eq!(
            signal(503, &two_seconds),
            Some(Signal::ServiceUnavailable(Duration::from_secs(2)))
        );
        assert_eq!(signal(503, &none), None, "503 without Retry-After");
        assert_eq!(
            signal(503, &headers("soon")),
            None,
            "unreadable Retry-After"
        );
        assert_eq!(signal(200, &two_seconds), None);
        assert_eq!(signal(502, &two_seconds), None);
    }

    #[test]
    fn resets_are_found_in_the_source_chain() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_reset(&reset));
        let wrapped = std::io::Error::other(reset);
        assert!(is_reset(&wrapped));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!is_reset(&refused));
    }

    #[test]
    fn signal_pauses_then_halves_rate() {
        let backoff = AddressBackoff::new(NonZeroU32::new(10).unwrap());
        let address: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let start = Instant::now();
        let at = |milliseconds: u64| start + Duration::from_millis(milliseconds);
        assert_eq!(backoff.reserve(address, start), None, "no signal, no wait");

        let retry = Some(Duration::from_secs(5));
        backoff.signal_at(address, Signal::TooManyRequests(retry), start);
        assert!(backoff.is_slowed_at(address, start));
        assert_eq!(
            backoff.reserve(other, start),
            None,
            "other addresses are not slowed"
        );

        // The pause, then one connection per 200 ms, half of 10 per second, however many
        // ask at once.
        let slots: Vec<_> = (0..4).map(|_| backoff.reserve(address, at(100))).collect();
        let expected = [5000, 5200, 5400, 5600].map(|milliseconds| Some(at(milliseconds)));
        assert_eq!(slots, expected);
        // After the pause, a connection that comes late starts at once.
        assert_eq!(backoff.reserve(address, at(9000)), Some(at(9000)));
        assert_eq!(backoff.reserve(address, at(9000)), Some(at(9200)));

        // A reset pauses for DEFAULT_PAUSE; a Retry-After past the cap is cut to the cap.
        backoff.signal_at(address, Signal::Reset, at(10_000));
        assert_eq!(backoff.reserve(address, at(10_000)), Some(at(11_000)));
        backoff.signal_at(
            address,
            Signal::TooManyRequests(Some(Duration::from_secs(3600))),
            at(20_000),
        );
        assert_eq!(
            backoff.reserve(address, at(20_000)),
            Some(at(20_000) + MAX_RETRY_AFTER)
        );

        // The slow period ends SLOW_PERIOD after the last signal, and its state goes.
        let end = at(20_000) + SLOW_PERIOD;
        assert!(backoff.is_slowed_at(address, end - Duration::from_millis(1)));
        assert!(!backoff.is_slowed_at(address, end));
        backoff.forget_recovered_at(end);
        assert!(backoff.state().is_empty());
        assert_eq!(backoff.reserve(address, end), None);
    }

    #[test]
    fn later_signal_keeps_longer_pause() {
        let backoff = AddressBackoff::new(NonZeroU32::new(10).unwrap());
        let address: IpAddr = "127.0.0.1".parse().unwrap();
        let start = Instant::now();
        let retry = Some(Duration::from_secs(30));
        backoff.signal_at(address, Signal::TooManyRequests(retry), start);
        backoff.signal_at(address, Signal::Reset, start + Duration::from_secs(1));
        assert!(backoff.is_paused_at(address, start + Duration::from_secs(29)));
        assert_eq!(
            backoff.reserve(address, start + Duration::from_secs(2)),
            Some(start + Duration::from_secs(30))
        );
    }

    #[test]
    fn service_unavailable_pauses_for_retry_after() {
        let backoff = AddressBackoff::new(NonZeroU32::new(10).unwrap());
        let address: IpAddr = "127.0.0.1".parse().unwrap();
        let start = Instant::now();
        let wait = Duration::from_secs(3);
        backoff.signal_at(address, Signal::ServiceUnavailable(wait), start);
        assert_eq!(backoff.reserve(address, start), Some(start + wait));
        backoff.signal_at(
            address,
            Signal::ServiceUnavailable(Duration::from_secs(3600)),
            start,
        );
        assert!(backoff.is_paused_at(address, start + MAX_RETRY_AFTER - Duration::from_millis(1)));
        assert!(!backoff.is_paused_at(address, start + MAX_RETRY_AFTER));
    }

    #[tokio::test]
    async fn wait_lasts_longest_pause() {
        let backoff = std::sync::Arc::new(AddressBackoff::new(NonZeroU32::new(100).unwrap()));
        let address: IpAddr = "127.0.0.1".parse().unwrap();
        let start = Instant::now();
        backoff.signal(
            address,
            Signal::TooManyRequests(Some(Duration::from_millis(200))),
        );
        let waiter = {
            let backoff = backoff.clone();
            tokio::spawn(async move {
                backoff.wait(address).await;
                Instant::now()
            })
        };
        // The second signal comes before or during the waiter's sleep; either way it waits for
        // the longer pause.
        backoff.signal(
            address,
            Signal::TooManyRequests(Some(Duration::from_millis(400))),
        );
        let started = waiter.await.unwrap();
        assert!(
            started - start >= Duration::from_millis(400),
            "waited {:?}",
            started - start
        );
    }
}
