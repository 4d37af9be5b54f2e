//! Window arithmetic of CONTRACT section 3, in one place.
//!
//! Dataflow time is the batch epoch (`floor(event_ms / B)`). A window ending at `t` (a multiple of
//! the slide S) is represented by the epoch just before its end, `t/B - 1`: the result for that window
//! is final exactly when the frontier passes that epoch, i.e. once every epoch inside the window is
//! complete. A tweet enters the first window that holds it and is retracted W later, so the collection
//! at each window time is exactly that window's content.

use crate::config::ConfigError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    pub batch_ms: u64,
    pub window_ms: u64,
    pub slide_ms: u64,
}

impl Windows {
    pub fn new(batch_ms: u64, window_ms: u64, slide_ms: u64) -> Result<Windows, ConfigError> {
        for (name, value) in [
            ("batch", batch_ms),
            ("window", window_ms),
            ("slide", slide_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { name });
            }
        }
        for (name, value_ms) in [("window", window_ms), ("slide", slide_ms)] {
            if !value_ms.is_multiple_of(batch_ms) {
                return Err(ConfigError::NotMultiple {
                    name,
                    value_ms,
                    batch_ms,
                });
            }
        }
        Ok(Windows {
            batch_ms,
            window_ms,
            slide_ms,
        })
    }

    pub fn epoch(&self, event_ms: u64) -> u64 {
        event_ms / self.batch_ms
    }

    fn slide_epochs(&self) -> u64 {
        self.slide_ms / self.batch_ms
    }

    /// How long, in epochs, a tweet stays in the collection: the window length.
    pub fn window_epochs(&self) -> u64 {
        self.window_ms / self.batch_ms
    }

    /// The time of the first window holding tweets of `epoch`: the window ends at the first slide
    /// boundary strictly after the epoch.
    pub fn first_window_time(&self, epoch: u64) -> u64 {
        let k = self.slide_epochs();
        (epoch / k + 1) * k - 1
    }

    /// The window time after `time`.
    pub fn next_window_time(&self, time: u64) -> u64 {
        time + self.slide_epochs()
    }

    /// `[start, end)` in milliseconds of the window at `time`; the start may precede 1970.
    pub fn bounds_ms(&self, time: u64) -> (i64, i64) {
        let end = ((time + 1) * self.batch_ms) as i64;
        (end - self.window_ms as i64, end)
    }
}

/// Turns per-slide inserts into window contents: every update is retracted one window length
/// later, as Spark's `reduceByKeyAndWindow` with an inverse function does.
pub trait Slide {
    fn slide(self, windows: Windows) -> Self;
}

impl<'s, D> Slide for differential_dataflow::VecCollection<'s, u64, D, i128>
where
    D: Clone + 'static,
{
    fn slide(self, windows: Windows) -> Self {
        let length = windows.window_epochs();
        self.clone()
            .concat(self.negate().delay(move |time| time + length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> Windows {
        Windows::new(5_000, 60_000, 30_000).unwrap()
    }

    /// Brute force: the windows (by end) holding an event, straight from the contract.
    fn windows_holding(w: &Windows, event_ms: u64) -> Vec<u64> {
        (0..=(event_ms + w.window_ms) / w.slide_ms)
            .map(|i| i * w.slide_ms)
            .filter(|&t| t > event_ms && t <= event_ms + w.window_ms)
            .collect()
    }

    #[test]
    fn a_tweet_lives_in_exactly_its_windows() {
        for w in [
            default(),
            Windows::new(1_000, 3_000, 1_000).unwrap(),
            Windows::new(500, 1_500, 1_500).unwrap(),
        ] {
            for event_ms in (0..200_000).step_by(250) {
                let first = w.first_window_time(w.epoch(event_ms));
                let retract = first + w.window_epochs();
                let mut live = Vec::new();
                let mut time = first;
                while time < retract {
                    live.push(w.bounds_ms(time).1 as u64);
                    time = w.next_window_time(time);
                }
                assert_eq!(live, windows_holding(&w, event_ms), "{w:?} at {event_ms}");
            }
        }
    }

    #[test]
    fn boundary_tweet_belongs_to_the_next_window() {
        let w = default();
        let time = w.first_window_time(w.epoch(30_000));
        assert_eq!(w.bounds_ms(time), (0, 60_000));
    }
}
