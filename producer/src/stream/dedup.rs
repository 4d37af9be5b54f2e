//! The tweet ids written lately, so that the posts X delivers twice — a backfill after a
//! reconnect repeats what was matched before the disconnect, a recovery what the topic already
//! holds — are dropped (X documents that neither is deduplicated). Exact, not probabilistic: an id
//! is kept for the whole horizon, and only for it, so memory is bounded by the stream's rate
//! times the horizon.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// A backfill asks for at most 5 minutes before the reconnect; the rest leaves that much time for
/// the backfill to be delivered, however slowly.
pub const BACKFILL_HORIZON: Duration = Duration::from_secs(10 * 60);

pub struct Seen {
    horizon: Option<Duration>,
    order: VecDeque<(Instant, String)>,
    ids: HashSet<String>,
}

impl Seen {
    /// Ids are remembered for `horizon`; `None` for the whole run (a recovery, whose period is
    /// bounded by X to 24 hours).
    pub fn new(horizon: Option<Duration>) -> Seen {
        Seen {
            horizon,
            order: VecDeque::new(),
            ids: HashSet::new(),
        }
    }

    /// Whether `id` is new; it is remembered from `now` either way.
    pub fn first(&mut self, id: &str, now: Instant) -> bool {
        if let Some(horizon) = self.horizon {
            while let Some((at, _)) = self.order.front() {
                if now.duration_since(*at) < horizon {
                    break;
                }
                let (_, old) = self.order.pop_front().expect("a front");
                self.ids.remove(&old);
            }
        }
        if self.ids.contains(id) {
            return false;
        }
        self.ids.insert(id.to_owned());
        if self.horizon.is_some() {
            self.order.push_back((now, id.to_owned()));
        }
        true
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The `backfill_minutes` to ask for after a gap: the gap's minutes rounded up, at least 1 and at
/// most 5 (X's limit); `None` when the gap is longer than a backfill can cover.
pub fn backfill_minutes(gap: Duration) -> Option<u64> {
    let minutes = gap.as_nanos().div_ceil(60_000_000_000).max(1) as u64;
    (minutes <= 5).then_some(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_a_duplicate_within_the_horizon_and_new_after_it() {
        let t0 = Instant::now();
        let mut seen = Seen::new(Some(Duration::from_secs(60)));
        assert!(seen.first("1", t0));
        assert!(!seen.first("1", t0 + Duration::from_secs(59)));
        assert!(seen.first("2", t0 + Duration::from_secs(30)));
        assert!(
            seen.first("1", t0 + Duration::from_secs(61)),
            "forgotten after the horizon"
        );
        assert_eq!(seen.len(), 2, "memory bounded by the horizon");
    }

    #[test]
    fn a_whole_run_horizon_forgets_nothing() {
        let t0 = Instant::now();
        let mut seen = Seen::new(None);
        assert!(seen.first("1", t0));
        assert!(!seen.first("1", t0 + Duration::from_secs(86_400)));
    }

    #[test]
    fn backfill_asks_for_the_gap_rounded_up_within_x_limits() {
        let m = |s: f64| backfill_minutes(Duration::from_secs_f64(s));
        assert_eq!(m(0.5), Some(1));
        assert_eq!(m(60.0), Some(1));
        assert_eq!(m(60.5), Some(2));
        assert_eq!(m(90.0), Some(2));
        assert_eq!(m(299.0), Some(5));
        assert_eq!(m(300.0), Some(5));
        assert_eq!(m(301.0), None, "longer gaps need a recovery");
    }
}
