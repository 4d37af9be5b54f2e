//! Replays fixture and archive files into Kafka, as fast as possible, at a fixed rate, or at a
//! multiple of event-time speed; stops cleanly when asked to.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use thiserror::Error;

use crate::kafka::{KafkaSinkError, TweetWriter};

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Kafka(#[from] KafkaSinkError),
}

/// How fast to replay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    AsFastAsPossible,
    /// Tweets per second of wall time.
    Rate(f64),
    /// Event time runs this many times faster than wall time.
    Speedup(f64),
}

/// Decides how long to wait before each tweet.
struct Pacer {
    pace: Pace,
    started: Instant,
    sent: u64,
    first_event_ms: Option<u64>,
}

impl Pacer {
    fn due(&mut self, event_ms: u64) -> Option<Instant> {
        self.sent += 1;
        match self.pace {
            Pace::AsFastAsPossible => None,
            Pace::Rate(rate) => {
                Some(self.started + Duration::from_secs_f64((self.sent - 1) as f64 / rate))
            }
            Pace::Speedup(x) => {
                let first = *self.first_event_ms.get_or_insert(event_ms);
                // Disorder makes some tweets "early": they go at once.
                let ahead = event_ms.saturating_sub(first) as f64 / 1000.0 / x;
                Some(self.started + Duration::from_secs_f64(ahead))
            }
        }
    }
}

/// Sleeps until `due` in short steps, so that a stop request is seen promptly.
fn wait_until(due: Instant, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= due {
            return;
        }
        std::thread::sleep((due - now).min(Duration::from_millis(100)));
    }
}

fn open(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let file = File::open(path)?;
    Ok(
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
        {
            Box::new(BufReader::with_capacity(
                1 << 18,
                MultiGzDecoder::new(BufReader::new(file)),
            ))
        } else {
            Box::new(BufReader::with_capacity(1 << 18, file))
        },
    )
}

/// Replays `files` in order (forever with `looping`) until the end or until `stop` is set;
/// `tick` is called after every line so the caller can report progress.
pub fn replay(
    files: &[PathBuf],
    writer: &mut TweetWriter,
    pace: Pace,
    looping: bool,
    stop: &AtomicBool,
    tick: &mut dyn FnMut(&TweetWriter),
) -> Result<(), ReplayError> {
    let mut pacer = Pacer {
        pace,
        started: Instant::now(),
        sent: 0,
        first_event_ms: None,
    };
    let mut line = Vec::with_capacity(1 << 14);
    loop {
        for path in files {
            let read_error = |source| ReplayError::Read {
                path: path.clone(),
                source,
            };
            let mut reader = open(path).map_err(read_error)?;
            let mut number = 0u64;
            loop {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                line.clear();
                if reader.read_until(b'\n', &mut line).map_err(read_error)? == 0 {
                    break;
                }
                number += 1;
                // The line's terminator, `\n` or `\r\n`, is not part of the message (CONTRACT 1).
                let message = line.strip_suffix(b"\n").unwrap_or(&line);
                let message = message.strip_suffix(b"\r").unwrap_or(message);
                let position = || format!("{}:{number}", path.display());
                writer.write(message, &position, &mut |event_ms| {
                    if let Some(due) = pacer.due(event_ms) {
                        wait_until(due, stop);
                    }
                })?;
                tick(writer);
            }
        }
        if !looping {
            return Ok(());
        }
        // Another lap replays the same event times: both clocks start again.
        pacer = Pacer {
            pace,
            started: Instant::now(),
            sent: 0,
            first_event_ms: None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_spaces_tweets_evenly() {
        let mut p = Pacer {
            pace: Pace::Rate(10.0),
            started: Instant::now(),
            sent: 0,
            first_event_ms: None,
        };
        let t0 = p.due(0).unwrap();
        let t2 = {
            p.due(0);
            p.due(0).unwrap()
        };
        assert_eq!(t2 - t0, Duration::from_millis(200));
    }

    #[test]
    fn every_lap_of_a_loop_starts_without_a_pause() {
        // The replay loop builds a fresh pacer per lap; a lap's first tweet is due at once.
        let mut p = Pacer {
            pace: Pace::Rate(10.0),
            started: Instant::now(),
            sent: 0,
            first_event_ms: None,
        };
        assert!(p.due(0).unwrap() <= Instant::now());
    }

    #[test]
    fn speedup_follows_event_time() {
        let mut p = Pacer {
            pace: Pace::Speedup(10.0),
            started: Instant::now(),
            sent: 0,
            first_event_ms: None,
        };
        let first = p.due(1_000_000).unwrap();
        assert_eq!(p.due(1_010_000).unwrap() - first, Duration::from_secs(1));
        assert_eq!(
            p.due(999_000).unwrap(),
            first,
            "an early tweet goes at once"
        );
    }
}
