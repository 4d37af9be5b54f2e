//! Window arithmetic of CONTRACT section 3, in one place.
//!
//! Dataflow time is the batch epoch (`floor(event_ms / B)`). A window ending at `t` (a multiple of
//! the slide S) is represented by the epoch just before its end, `t/B - 1`: its result is final
//! exactly when the frontier passes that epoch, i.e. once every epoch inside the window is complete.
//! A tweet enters the collection at the first window that holds it and leaves it at the first window
//! that no longer does, so the collection at each window time is exactly that window's content —
//! Spark's `reduceByKeyAndWindow` with an inverse function, for any W and S that are multiples of B.

use thiserror::Error;
use tweet::time::MAX_EVENT_MS;

/// Which of the three durations an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duration {
    Batch,
    Window,
    Slide,
}

impl Duration {
    pub fn name(self) -> &'static str {
        match self {
            Duration::Batch => "batch",
            Duration::Window => "window",
            Duration::Slide => "slide",
        }
    }
}

/// Window shapes CONTRACT section 3 rules out.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WindowError {
    #[error("the {} must be greater than zero", .0.name())]
    Zero(Duration),
    #[error("the {} ({value_ms} ms) is longer than the representable time range", which.name())]
    TooLong { which: Duration, value_ms: u64 },
    #[error("the {} ({value_ms} ms) must be a multiple of the batch ({batch_ms} ms)", which.name())]
    NotMultiple {
        which: Duration,
        value_ms: u64,
        batch_ms: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    pub batch_ms: u64,
    pub window_ms: u64,
    pub slide_ms: u64,
}

impl Windows {
    pub fn new(batch_ms: u64, window_ms: u64, slide_ms: u64) -> Result<Windows, WindowError> {
        let named = [
            (Duration::Batch, batch_ms),
            (Duration::Window, window_ms),
            (Duration::Slide, slide_ms),
        ];
        for (which, value_ms) in named {
            if value_ms == 0 {
                return Err(WindowError::Zero(which));
            }
            // Beyond year 9999 no window can be printed; bounding them keeps time arithmetic exact.
            if value_ms > MAX_EVENT_MS {
                return Err(WindowError::TooLong { which, value_ms });
            }
        }
        for (which, value_ms) in [(Duration::Window, window_ms), (Duration::Slide, slide_ms)] {
            if !value_ms.is_multiple_of(batch_ms) {
                return Err(WindowError::NotMultiple {
                    which,
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

    /// The time of the first window ending strictly after `epoch`.
    fn first_end_after(&self, epoch: u64) -> u64 {
        let k = self.slide_epochs();
        (epoch / k + 1) * k - 1
    }

    /// When tweets of `epoch` enter and leave the collection, as window times; `None` when no window
    /// holds them (a window shorter than the slide leaves gaps).
    ///
    /// A tweet of epoch `e` is in the window ending at epoch `T` iff `e < T <= e + W/B`.
    pub fn span(&self, epoch: u64) -> Option<(u64, u64)> {
        let enter = self.first_end_after(epoch);
        let leave = self.first_end_after(epoch + self.window_ms / self.batch_ms);
        (enter < leave).then_some((enter, leave))
    }

    /// The first window time at or after `time`.
    pub fn first_window_time_from(&self, time: u64) -> u64 {
        let k = self.slide_epochs();
        (time + 1).div_ceil(k) * k - 1
    }

    /// The window time after `time`.
    pub fn next_window_time(&self, time: u64) -> u64 {
        time + self.slide_epochs()
    }

    /// The latest event time whose windows all end by 9999-12-31T23:59:59.999Z, so that every
    /// window bound can be written as RFC 3339 (CONTRACT section 2); later tweets are rejected.
    ///
    /// With `T` the last multiple of S at or before that instant, a tweet at `e` lies in a window
    /// ending after `T` exactly when `e + W >= T + S`.
    pub fn latest_event_ms(&self) -> u64 {
        let last_end = MAX_EVENT_MS / self.slide_ms * self.slide_ms;
        (last_end + self.slide_ms - 1)
            .saturating_sub(self.window_ms)
            .min(MAX_EVENT_MS)
    }

    /// `[start, end)` in milliseconds of the window at `time`; the start may precede 1970.
    pub fn bounds_ms(&self, time: u64) -> (i64, i64) {
        let end = ((time + 1) * self.batch_ms) as i64;
        (end - self.window_ms as i64, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: the windows (by end) holding an event, straight from the contract.
    fn windows_holding(w: &Windows, event_ms: u64) -> Vec<u64> {
        (event_ms / w.slide_ms..=(event_ms + w.window_ms) / w.slide_ms)
            .map(|i| i * w.slide_ms)
            .filter(|&t| t > event_ms && t <= event_ms + w.window_ms)
            .collect()
    }

    #[test]
    fn a_tweet_lives_in_exactly_its_windows() {
        let shapes = [
            (5_000, 60_000, 30_000),
            (1_000, 3_000, 1_000),
            (500, 1_500, 1_500),
            (5_000, 45_000, 30_000), // window not a multiple of the slide
            (5_000, 10_000, 30_000), // window shorter than the slide: gaps
            (1_000, 7_000, 3_000),
        ];
        for (b, w, s) in shapes {
            let w = Windows::new(b, w, s).unwrap();
            for event_ms in (0..200_000).step_by(250) {
                let mut live = Vec::new();
                if let Some((enter, leave)) = w.span(w.epoch(event_ms)) {
                    let mut time = enter;
                    while time < leave {
                        live.push(w.bounds_ms(time).1 as u64);
                        time = w.next_window_time(time);
                    }
                }
                assert_eq!(live, windows_holding(&w, event_ms), "{w:?} at {event_ms}");
            }
        }
    }

    #[test]
    fn no_window_of_an_accepted_tweet_ends_after_year_9999() {
        for (b, w, s) in [
            (5_000, 60_000, 30_000),
            (1_000, 7_000, 3_000),
            (5_000, 10_000, 30_000),
            (1, 1, 1),
            (1_000, 86_400_000, 3_600_000),
        ] {
            let w = Windows::new(b, w, s).unwrap();
            let latest = w.latest_event_ms();
            let step = (w.window_ms / 50).max(1) as usize;
            let near = (latest.saturating_sub(3 * w.window_ms)..=latest).step_by(step);
            for e in near.chain([latest]) {
                let ends = windows_holding(&w, e);
                assert!(
                    ends.iter().all(|&t| t <= MAX_EVENT_MS),
                    "{w:?} at {e}: {ends:?}"
                );
            }
            let after = windows_holding(&w, latest + 1);
            assert!(
                latest == MAX_EVENT_MS || after.iter().any(|&t| t > MAX_EVENT_MS),
                "{w:?}: {} is rejected although its windows {after:?} are fine",
                latest + 1
            );
        }
    }

    #[test]
    fn errors_name_the_duration() {
        assert_eq!(
            Windows::new(7_000, 60_000, 30_000),
            Err(WindowError::NotMultiple {
                which: Duration::Window,
                value_ms: 60_000,
                batch_ms: 7_000
            })
        );
        assert_eq!(
            Windows::new(0, 1, 1),
            Err(WindowError::Zero(Duration::Batch))
        );
    }

    #[test]
    fn boundary_tweet_belongs_to_the_next_window() {
        let w = Windows::new(5_000, 60_000, 30_000).unwrap();
        let (enter, _) = w.span(w.epoch(30_000)).unwrap();
        assert_eq!(w.bounds_ms(enter), (0, 60_000));
    }
}
