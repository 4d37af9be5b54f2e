//! X's documented reconnect policy for streaming connections ("Handling disconnections"):
//! reconnect at once when an established stream drops; when reconnecting fails, back off by the
//! kind of failure — network errors linearly by 250 ms up to 16 s, HTTP errors exponentially from
//! 5 s up to 320 s, rate limiting (HTTP 429, v1's 420) exponentially from 60 s. Ignoring it gets
//! an app's connections refused for longer.

use std::future::Future;
use std::time::Duration;

/// Why a connection attempt or a connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// DNS, TCP, TLS, a read error, or a stream that ended before delivering anything.
    Network,
    /// An HTTP error status other than rate limiting.
    Http,
    /// HTTP 429, or v1.1's 420 "Enhance your calm".
    RateLimited,
}

const NETWORK_STEP: Duration = Duration::from_millis(250);
const NETWORK_MAX: Duration = Duration::from_secs(16);
const HTTP_FIRST: Duration = Duration::from_secs(5);
const HTTP_MAX: Duration = Duration::from_secs(320);
const RATE_LIMITED_FIRST: Duration = Duration::from_secs(60);
/// X documents no ceiling for rate limiting; its rate-limit windows are 15 minutes long.
const RATE_LIMITED_MAX: Duration = Duration::from_secs(15 * 60);

/// A connection that lived this long was healthy: its drop is a fresh start.
const HEALTHY: Duration = Duration::from_secs(60);
/// ... and so was one that delivered messages for this long (v2 has no backfill: a stream that
/// delivers but drops now and then must be back at once).
const DELIVERING: Duration = Duration::from_secs(5);

/// Failed attempts per kind since the last healthy connection. Counts are kept per kind and only
/// a healthy connection resets them, so alternating kinds of failure still escalate.
#[derive(Debug, Default)]
pub struct Backoff {
    attempts: [u32; 3],
    /// A drop was retried at once and no connection has been healthy since: a server that
    /// accepts and hangs up again must not get a reconnect loop without pause.
    retried_at_once: bool,
}

impl Backoff {
    /// The wait before the next attempt after `failure`.
    pub fn failed(&mut self, failure: Failure) -> Duration {
        let slot = &mut self.attempts[failure as usize];
        *slot = slot.saturating_add(1);
        let attempt = *slot;
        let doubled = |first: Duration, max: Duration| {
            first
                .checked_mul(1 << (attempt - 1).min(16))
                .map_or(max, |d| d.min(max))
        };
        match failure {
            Failure::Network => (NETWORK_STEP * attempt.min(64)).min(NETWORK_MAX),
            Failure::Http => doubled(HTTP_FIRST, HTTP_MAX),
            Failure::RateLimited => doubled(RATE_LIMITED_FIRST, RATE_LIMITED_MAX),
        }
    }

    /// An established stream dropped after `lived`, having delivered `messages`: reconnect at
    /// once and count afresh, unless it was short-lived and the last drop was retried at once
    /// too; then it is a network failure.
    pub fn dropped(&mut self, lived: Duration, messages: u64) -> Duration {
        if lived >= HEALTHY || (messages > 0 && lived >= DELIVERING) {
            self.retried_at_once = false;
        }
        if self.retried_at_once {
            return self.failed(Failure::Network);
        }
        self.retried_at_once = true;
        self.attempts = [0; 3];
        Duration::ZERO
    }
}

/// Waits between attempts. The binary sleeps on tokio's clock; tests record the delays and go on
/// at once, so a minute of rate-limit backoff costs them nothing.
pub trait Sleep {
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()>;
}

/// Real time.
pub struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn network_errors_back_off_linearly_to_16_s() {
        let mut b = Backoff::default();
        let delays: Vec<Duration> = (0..70).map(|_| b.failed(Failure::Network)).collect();
        assert_eq!(&delays[..3], &[secs(0.25), secs(0.5), secs(0.75)]);
        assert_eq!(delays[63], secs(16.0));
        assert_eq!(delays[69], secs(16.0));
    }

    #[test]
    fn http_errors_double_from_5_s_to_320_s() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..9).map(|_| b.failed(Failure::Http).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 320, 320]);
    }

    #[test]
    fn rate_limits_double_from_a_minute() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..6)
            .map(|_| b.failed(Failure::RateLimited).as_secs())
            .collect();
        assert_eq!(delays, [60, 120, 240, 480, 900, 900]);
        for _ in 0..100 {
            assert_eq!(b.failed(Failure::RateLimited), RATE_LIMITED_MAX);
        }
    }

    #[test]
    fn a_drop_reconnects_at_once_and_restarts_the_count() {
        let mut b = Backoff::default();
        b.failed(Failure::Http);
        b.failed(Failure::Http);
        assert_eq!(b.dropped(secs(1.0), 1), Duration::ZERO);
        assert_eq!(b.failed(Failure::Http), secs(5.0));
        assert_eq!(b.failed(Failure::Network), secs(0.25), "counted per kind");
    }

    #[test]
    fn quick_drops_in_a_row_back_off_until_a_connection_is_healthy() {
        let mut b = Backoff::default();
        assert_eq!(b.dropped(secs(0.1), 1), Duration::ZERO);
        assert_eq!(b.dropped(secs(0.1), 1), secs(0.25));
        assert_eq!(b.dropped(secs(0.1), 1), secs(0.5));
        assert_eq!(b.dropped(HEALTHY, 0), Duration::ZERO, "healthy again");
        assert_eq!(b.dropped(secs(2.0), 3), secs(0.25));
        assert_eq!(
            b.dropped(DELIVERING, 3),
            Duration::ZERO,
            "delivered for a while"
        );
    }

    #[test]
    fn kinds_escalate_separately_until_a_healthy_connection() {
        let mut b = Backoff::default();
        assert_eq!(b.failed(Failure::RateLimited), secs(60.0));
        assert_eq!(b.failed(Failure::Network), secs(0.25));
        assert_eq!(b.failed(Failure::RateLimited), secs(120.0));
        assert_eq!(b.failed(Failure::Http), secs(5.0));
        assert_eq!(b.failed(Failure::Http), secs(10.0));
        b.dropped(HEALTHY, 100);
        assert_eq!(b.failed(Failure::RateLimited), secs(60.0));
    }
}
