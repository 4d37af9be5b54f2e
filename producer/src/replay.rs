//! Replays fixture and archive files into Kafka, as fast as possible, at a fixed rate, or at a
//! multiple of event-time speed; stops cleanly when asked to.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use thiserror::Error;
use tweet::input::{MAX_MESSAGE_BYTES, is_gzip, read_line_bounded, strip_bom, strip_terminator};

use crate::writer::{Namer, TweetWriter, WriterError};

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Kafka(#[from] WriterError),
    #[error(
        "nothing to replay: a whole lap of the files held no tweet (--loop would spin forever)"
    )]
    NothingToReplay,
}

/// The slowest and fastest paces that can be kept: beyond them a wait between two tweets does not
/// fit a clock, or means nothing.
pub const PACE_RANGE: std::ops::RangeInclusive<f64> = 1e-4..=1e9;

/// A replayed line's sequence number: its lap of `--loop` and file (counted together), then its
/// line number in the low 40 bits.
const LINE_BITS: u32 = 40;

fn seq(input: u64, line: u64) -> u64 {
    (input << LINE_BITS) | (line & ((1 << LINE_BITS) - 1))
}

/// Names replayed lines by file and line number (and lap, after the first).
pub fn namer(files: &[PathBuf]) -> Namer {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    Box::new(move |seq| {
        let input = (seq >> LINE_BITS) as usize;
        let line = seq & ((1 << LINE_BITS) - 1);
        let (lap, file) = (input / names.len(), &names[input % names.len()]);
        let position = match lap {
            0 => format!("{file}:{line}"),
            lap => format!("{file}:{line} (lap {})", lap + 1),
        };
        (file.clone(), position)
    })
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
        let after = match self.pace {
            Pace::AsFastAsPossible => return None,
            Pace::Rate(rate) => (self.sent - 1) as f64 / rate,
            Pace::Speedup(x) => {
                let first = *self.first_event_ms.get_or_insert(event_ms);
                // Disorder makes some tweets "early": they go at once.
                event_ms.saturating_sub(first) as f64 / 1000.0 / x
            }
        };
        // Flags keep paces in PACE_RANGE; should a wait still not fit a clock, it is forever.
        let far = Duration::from_secs(100 * 365 * 86_400);
        let wait = Duration::try_from_secs_f64(after).unwrap_or(far).min(far);
        Some(self.started + wait)
    }
}

fn open(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let file = File::open(path)?;
    Ok(if is_gzip(path) {
        Box::new(BufReader::with_capacity(
            1 << 18,
            MultiGzDecoder::new(BufReader::new(file)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 18, file))
    })
}

/// Replays `files` in order (forever with `looping`) until the end, until `stop` is set, or until
/// Kafka refuses a tweet (then whatever follows would likely be lost too); `tick` is called after
/// every line so the caller can report progress. `writer` names positions with [`namer`].
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
    let mut lap = 0u64;
    loop {
        // A lap an earlier run committed whole (--resume) is not read again.
        if writer
            .resume_after()
            .is_some_and(|after| (lap + 1) * files.len() as u64 <= after >> LINE_BITS)
        {
            lap += 1;
            continue;
        }
        // Lines an earlier run committed (--resume) are progress too.
        let sent_before = writer.sent() + writer.passed();
        for (index, path) in files.iter().enumerate() {
            let input = lap * files.len() as u64 + index as u64;
            // Laps and files an earlier run committed whole (--resume) are not read again.
            if writer
                .resume_after()
                .is_some_and(|after| input < after >> LINE_BITS)
            {
                continue;
            }
            let read_error = |source| ReplayError::Read {
                path: path.clone(),
                source,
            };
            let mut reader = open(path).map_err(read_error)?;
            let mut number = 0u64;
            loop {
                if stop.load(Ordering::Relaxed) || writer.failing() {
                    return Ok(());
                }
                let Some(len) = read_line_bounded(&mut reader, &mut line).map_err(read_error)?
                else {
                    break;
                };
                number += 1;
                if len > MAX_MESSAGE_BYTES as u64 {
                    writer.write_oversized(&line, len, seq(input, number))?;
                    tick(writer);
                    continue;
                }
                // The line's terminator (`\r\n` too) is not part of the message, nor is a
                // byte-order mark at the start of the file (CONTRACT 1).
                let mut message = strip_terminator(&line);
                if number == 1 {
                    message = strip_bom(message);
                }
                writer.write(message, seq(input, number), None, &mut |event_ms| {
                    pacer.due(event_ms)
                })?;
                tick(writer);
            }
        }
        if !looping {
            return Ok(());
        }
        if writer.sent() + writer.passed() == sent_before {
            return Err(ReplayError::NothingToReplay);
        }
        lap += 1;
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
    fn a_pace_too_slow_for_a_clock_waits_forever_without_panicking() {
        // Issue 8: `--rate 1e-300` panicked converting float seconds to a Duration.
        for pace in [Pace::Rate(1e-300), Pace::Speedup(1e-300)] {
            let mut p = Pacer {
                pace,
                started: Instant::now(),
                sent: 0,
                first_event_ms: None,
            };
            p.due(0);
            let later = p.due(1_000_000).unwrap();
            assert!(later > Instant::now() + Duration::from_secs(86_400 * 365));
        }
    }

    #[test]
    fn positions_name_file_line_and_lap() {
        let name = namer(&[PathBuf::from("a.jsonl"), PathBuf::from("b.gz")]);
        assert_eq!(name(seq(1, 7)), ("b.gz".to_owned(), "b.gz:7".to_owned()));
        assert_eq!(name(seq(2, 3)).1, "a.jsonl:3 (lap 2)");
        assert!(
            seq(0, 9) < seq(1, 1),
            "sequence numbers follow the replay's order"
        );
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
