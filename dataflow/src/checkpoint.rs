//! Crash safety (issue 10): what a checkpoint holds, how it is written so that a SIGKILL at any
//! instant leaves the old or the new one and never a torn one, and how a run resumes from it.
//!
//! The state is small and already folded: per Kafka partition its next offset, lateness watermark,
//! lateness floor and idle state; the folded counts of every slide a window not yet written still
//! needs (per span and key, summed over partitions, so that the checkpoint is not tied to the worker
//! layout); the counters of the summary; how far the window records and dead letters were written.
//! Not the raw tweets, not differential's internals: on resume each worker takes its partitions and
//! the keys that hash to it, and hands the slides to differential again.
//!
//! Consistency comes from timely's progress tracking. Every multiple of the checkpoint interval
//! (in window times) is a *barrier*. A worker whose capability crosses a barrier first sends its
//! state, as a delta since the last one, at its old capability; everything it emitted before is at
//! earlier times, everything after at later ones. When the sink's frontier passes the barrier, the
//! windows and dead letters before it are written and every worker's state for it has arrived:
//! they form one cut of the whole job. Process 0 writes that cut (temp file, fsync, rename, fsync
//! of the directory) at most once per `--checkpoint-interval` of wall clock, and keeps the last two.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::aggregate::SlideState;
use crate::stats::Stats;

/// The format of the checkpoint files; bumped when it changes incompatibly.
const VERSION: u32 = 1;

/// One Kafka partition's reading state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    pub partition: i32,
    /// The next offset to read.
    pub next_offset: i64,
    /// The largest event time read from it (its lateness watermark).
    pub max_event_ms: Option<u64>,
    /// Tweets of earlier epochs are late: the capability had passed them.
    pub floor: u64,
    /// Decided idle when the state was taken (restored as such, never re-decided).
    pub idle: bool,
}

/// What a worker sends when its capability crosses a barrier (or when it stops or finishes): its
/// state since the last delta. Valid for the barriers `b` with `cap < b <= until`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Delta {
    pub worker: usize,
    /// The capability it was sent at: everything the worker emitted before is at or after it.
    pub cap: u64,
    /// The capability it moved to; `None` when it stops or finishes.
    pub until: Option<u64>,
    pub partitions: Vec<PartitionState>,
    pub counters: Stats,
    /// Slides whose counts were handed to differential since the last delta (they no longer
    /// change; their retractions may still be held by the ingest).
    pub drained: Vec<SlideState>,
    /// Every slide still open: it replaces the worker's previous open slides.
    pub open: Vec<SlideState>,
}

/// The dead-letter topic at a checkpoint. It holds every letter before the cut; the letters at or
/// after it that it holds already are those after `end` (committed after the checkpoint by a run
/// that was then killed: letters go to the topic only up to the last barrier) and `pending`
/// (committed so by an earlier run, and not yet read again by this one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LetterTopicState {
    /// Each partition's end, for `read_committed` readers, once this checkpoint committed.
    pub end: Vec<i64>,
    /// `(source, position)` of the letters of the second kind.
    pub pending: Vec<(String, String)>,
}

/// A complete checkpoint of the whole job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    /// What the job is (input, windows, lateness, top N…): a checkpoint of another job is refused.
    pub job: String,
    /// Every window before this time is written; resumed runs write the windows from it on.
    pub complete_before: u64,
    /// Bytes of `--output` (window records) and `--dead-letter` written by then.
    pub output_bytes: u64,
    pub dead_letter_bytes: u64,
    /// `--dead-letter-topic`: what a resumed run must not write there again.
    #[serde(default)]
    pub dead_letter_topic: Option<LetterTopicState>,
    /// Windows and dead letters written by then, for the summary.
    pub windows: u64,
    pub dead_letters: u64,
    pub topic: String,
    pub partitions: Vec<PartitionState>,
    pub counters: Stats,
    pub slides: Vec<SlideState>,
}

impl Checkpoint {
    pub fn new(job: String, topic: String) -> Checkpoint {
        Checkpoint {
            version: VERSION,
            job,
            complete_before: 0,
            output_bytes: 0,
            dead_letter_bytes: 0,
            dead_letter_topic: None,
            windows: 0,
            dead_letters: 0,
            topic,
            partitions: Vec::new(),
            counters: Stats::default(),
            slides: Vec::new(),
        }
    }
}

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("checkpoint directory {dir}: {source}")]
    Dir { dir: PathBuf, source: io::Error },
    #[error("checkpoint {path} cannot be read: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// Not a fault: another build's checkpoint, which is not passed over for an older one.
    #[error("checkpoint {path} has format {found}, where this build reads {VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error(
        "checkpoint {path} belongs to another job ({theirs}); this job is ({ours}). Use another \
         --checkpoint directory, or the flags it was made with"
    )]
    OtherJob {
        path: PathBuf,
        theirs: String,
        ours: String,
    },
    #[error("writing checkpoint {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// A directory of checkpoint files, `checkpoint-<time>.json`, of which the newest is current.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

fn file_name(time: u64) -> String {
    format!("checkpoint-{time:020}.json")
}

fn time_of(name: &str) -> Option<u64> {
    name.strip_prefix("checkpoint-")?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

impl Store {
    /// Opens (and creates) the directory.
    pub fn open(dir: &Path) -> Result<Store, CheckpointError> {
        fs::create_dir_all(dir).map_err(|source| CheckpointError::Dir {
            dir: dir.to_owned(),
            source,
        })?;
        Ok(Store {
            dir: dir.to_owned(),
        })
    }

    fn listed(&self) -> Result<Vec<(u64, PathBuf)>, CheckpointError> {
        let dir_error = |source| CheckpointError::Dir {
            dir: self.dir.clone(),
            source,
        };
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(dir_error)? {
            let entry = entry.map_err(dir_error)?;
            if let Some(time) = entry.file_name().to_str().and_then(time_of) {
                found.push((time, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    /// The newest readable checkpoint, if any, checked to be of this `job`. One that cannot be
    /// read (a disk fault: writes are atomic) gives way to the one before it, which is kept for
    /// that; the outputs are cut back to what that one says.
    pub fn latest(&self, job: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let mut first_error = None;
        for (_, path) in self.listed()?.into_iter().rev() {
            match Self::read(&path, job) {
                Ok(checkpoint) => return Ok(Some(checkpoint)),
                Err(e @ CheckpointError::Corrupt { .. }) => {
                    tracing::warn!(error = %e, "trying the checkpoint before");
                    first_error.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        first_error.map_or(Ok(None), Err)
    }

    fn read(path: &Path, job: &str) -> Result<Checkpoint, CheckpointError> {
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let text = fs::read(path).map_err(|e| corrupt(e.to_string()))?;
        let checkpoint: Checkpoint =
            serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
        if checkpoint.version != VERSION {
            return Err(CheckpointError::Version {
                path: path.to_owned(),
                found: checkpoint.version,
            });
        }
        if checkpoint.job != job {
            return Err(CheckpointError::OtherJob {
                path: path.to_owned(),
                theirs: checkpoint.job,
                ours: job.to_owned(),
            });
        }
        Ok(checkpoint)
    }

    /// Writes `checkpoint` so that a crash at any instant leaves either the old newest or this
    /// one. Keeps the last two.
    pub fn write(&self, checkpoint: &Checkpoint) -> Result<u64, CheckpointError> {
        let name = file_name(checkpoint.complete_before);
        let bytes = serde_json::to_vec(checkpoint).map_err(|e| CheckpointError::Write {
            path: self.dir.join(&name),
            source: e.into(),
        })?;
        self.replace(&name, &bytes, || {
            tweetflow_kafka::crash::point("mid-checkpoint")
        })?;
        let listed = self.listed()?;
        for (_, old) in listed.iter().rev().skip(2) {
            let _ = fs::remove_file(old);
        }
        // Temporary files of writes a crash interrupted (this is the only writer).
        for entry in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".checkpoint-") && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(bytes.len() as u64)
    }

    /// Writes file `name` of the directory so that a crash at any instant leaves either the old
    /// one or this one: a temporary file, fsync, rename, fsync of the directory. `halfway` runs
    /// with half of the bytes written (a crash point).
    fn replace(
        &self,
        name: &str,
        bytes: &[u8],
        halfway: impl FnOnce(),
    ) -> Result<(), CheckpointError> {
        let path = self.dir.join(name);
        let temp = self.dir.join(format!(".{name}.tmp"));
        let failed = |source| CheckpointError::Write {
            path: path.clone(),
            source,
        };
        {
            let mut file = File::create(&temp).map_err(failed)?;
            let half = bytes.len() / 2;
            file.write_all(&bytes[..half]).map_err(failed)?;
            halfway();
            file.write_all(&bytes[half..]).map_err(failed)?;
            file.sync_all().map_err(failed)?;
        }
        fs::rename(&temp, &path).map_err(failed)?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(failed)
    }

    /// Where the partitions of output topic `topic` ended when the job first started with this
    /// directory, before it committed anything there: a restart skips only the windows at or after
    /// these offsets, never those of an earlier job, even before its first checkpoint.
    pub fn output_start(&self, topic: &str) -> Result<Option<Vec<i64>>, CheckpointError> {
        let path = self.dir.join(OUTPUT_START);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CheckpointError::Write { path, source }),
        };
        let starts = read_starts(&bytes).map_err(|e| CheckpointError::Corrupt {
            path,
            reason: e.to_string(),
        })?;
        Ok(starts
            .into_iter()
            .find(|start| start.topic == topic)
            .map(|start| start.offsets))
    }

    /// Records [`Self::output_start`] (the output topic's and the dead-letter topic's are kept
    /// side by side); call it before the first commit to the topic.
    pub fn write_output_start(&self, topic: &str, offsets: &[i64]) -> Result<(), CheckpointError> {
        let path = self.dir.join(OUTPUT_START);
        let mut starts: Vec<OutputStart> = match fs::read(&path) {
            Ok(bytes) => read_starts(&bytes).map_err(|e| CheckpointError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(_) => Vec::new(),
        };
        starts.retain(|start| start.topic != topic);
        starts.push(OutputStart {
            topic: topic.to_owned(),
            offsets: offsets.to_vec(),
        });
        let bytes = serde_json::to_vec(&starts).expect("serialisable");
        self.replace(OUTPUT_START, &bytes, || {})
    }
}

/// The file of [`Store::output_start`].
const OUTPUT_START: &str = "output-start.json";

#[derive(Serialize, Deserialize)]
struct OutputStart {
    topic: String,
    offsets: Vec<i64>,
}

/// The file holds a list, one per topic; the first version held one object.
fn read_starts(bytes: &[u8]) -> serde_json::Result<Vec<OutputStart>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Starts {
        Many(Vec<OutputStart>),
        One(OutputStart),
    }
    Ok(match serde_json::from_slice(bytes)? {
        Starts::Many(starts) => starts,
        Starts::One(start) => vec![start],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_complete_checkpoint_is_read_and_two_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.latest("job").unwrap().is_none());
        for time in [6, 12, 18] {
            let mut c = Checkpoint::new("job".into(), "t".into());
            c.complete_before = time;
            store.write(&c).unwrap();
        }
        // A temp file left by a crash in the middle of a write is ignored.
        std::fs::write(
            dir.path().join(format!(".{}.tmp", file_name(24))),
            b"{\"ver",
        )
        .unwrap();
        assert_eq!(store.latest("job").unwrap().unwrap().complete_before, 18);
        let kept: Vec<u64> = store.listed().unwrap().iter().map(|(t, _)| *t).collect();
        assert_eq!(kept, [12, 18]);
        let err = store.latest("other").unwrap_err().to_string();
        assert!(err.contains("belongs to another job"), "{err}");
        // The next write clears the temp file away.
        let mut c = Checkpoint::new("job".into(), "t".into());
        c.complete_before = 30;
        store.write(&c).unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn an_unreadable_newest_checkpoint_gives_way_to_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for time in [6, 12] {
            let mut c = Checkpoint::new("job".into(), "t".into());
            c.complete_before = time;
            store.write(&c).unwrap();
        }
        std::fs::write(dir.path().join(file_name(12)), b"{\"version\": 1, \"trunc").unwrap();
        assert_eq!(store.latest("job").unwrap().unwrap().complete_before, 6);
        std::fs::write(dir.path().join(file_name(6)), b"").unwrap();
        let err = store.latest("job").unwrap_err().to_string();
        assert!(err.contains(&file_name(12)), "the newest is named: {err}");
    }
}
