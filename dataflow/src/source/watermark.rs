//! Per-partition lateness (CONTRACT section 3): a tweet is late when its event time is more than the
//! allowed lateness behind the largest event time already read from the same partition.

#[derive(Clone, Copy, Debug)]
pub(crate) struct Watermark {
    lateness_ms: u64,
    max_event_ms: Option<u64>,
}

impl Watermark {
    pub fn new(lateness_ms: u64) -> Watermark {
        Watermark {
            lateness_ms,
            max_event_ms: None,
        }
    }

    /// A watermark that has seen `max_event_ms` already (restored from a checkpoint).
    pub fn restored(lateness_ms: u64, max_event_ms: Option<u64>) -> Watermark {
        Watermark {
            lateness_ms,
            max_event_ms,
        }
    }

    pub fn max_event_ms(&self) -> Option<u64> {
        self.max_event_ms
    }

    /// Records a tweet's event time; `false` when the tweet is late (and then changes nothing).
    pub fn admit(&mut self, event_ms: u64) -> bool {
        if event_ms < self.low_ms() {
            return false;
        }
        self.max_event_ms = Some(self.max_event_ms.map_or(event_ms, |m| m.max(event_ms)));
        true
    }

    /// Every tweet still to be admitted from this partition has an event time at or above this.
    pub fn low_ms(&self) -> u64 {
        self.max_event_ms
            .map_or(0, |m| m.saturating_sub(self.lateness_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_means_strictly_more_than_lateness_behind() {
        let mut w = Watermark::new(1_000);
        assert!(w.admit(10_000));
        assert!(w.admit(9_000), "exactly L behind is on time");
        assert!(!w.admit(8_999));
        assert!(w.admit(12_000));
        assert_eq!(w.low_ms(), 11_000);
        assert!(!w.admit(10_999));
    }

    #[test]
    fn first_tweet_is_never_late() {
        let mut w = Watermark::new(0);
        assert_eq!(w.low_ms(), 0);
        assert!(w.admit(5));
        assert!(!w.admit(4));
    }
}
