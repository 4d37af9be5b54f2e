//! `--resume NAME`: a replay or generation that, killed and started again, goes on exactly after
//! what it had committed, so that a `read_committed` reader sees every tweet of the input once.
//!
//! Tweets are written by a transactional producer (`transactional.id` `tweetflow-producer-NAME`).
//! Each transaction also carries a [`Progress`] record — the last input line handled, keyed by
//! NAME — to a small compacted topic, so the position and the tweets before it commit together or
//! not at all; a local state file could only be at-least-once. A rerun initialises the same
//! transactional id, which aborts whatever the killed run had not committed, then reads its last
//! committed progress and skips the lines up to it.

use std::path::Path;
use std::time::Duration;

use rdkafka::Message;
use serde::{Deserialize, Serialize};
use tweetflow_kafka::{
    ClientError, Properties, TIMEOUT, TopicSpec, committed_reader, ensure_topic, high_watermark,
    read_committed,
};

/// How long reading the progress may wait for other jobs' open transactions on the progress topic
/// to end (the broker aborts a killed one after its `transaction.timeout.ms`, 60 s by default).
const PROGRESS_WAIT: Duration = Duration::from_secs(5 * 60);

/// How to resume, from the flags.
#[derive(Clone, Debug)]
pub struct Resume {
    /// The job's name: its transactional id and the key of its progress.
    pub name: String,
    /// The compacted topic holding every job's last committed progress.
    pub progress_topic: String,
    /// How often the open transaction commits (with its progress).
    pub commit_interval: Duration,
}

/// What the job is, stored with its progress: a rerun under the same name with other input is
/// refused rather than skipping lines of a file that is not the one committed.
pub fn replay_job(topic: &str, files: &[impl AsRef<Path>], looping: bool) -> String {
    let files: Vec<String> = files
        .iter()
        .map(|f| {
            let f = f.as_ref();
            std::fs::canonicalize(f)
                .unwrap_or_else(|_| f.to_path_buf())
                .display()
                .to_string()
        })
        .collect();
    serde_json::json!({"replay": files, "loop": looping, "topic": topic}).to_string()
}

/// [`replay_job`] for the generator; its count is left out, so a longer run can continue a
/// shorter one (tweet *n* is the same whatever the count).
///
/// Spelled field by field as jobs committed before the key shapes existed spelled it (the struct's
/// `Debug` then), so that those resume; a key shape other than the default is added after.
pub fn generate_job(topic: &str, config: &crate::generate::GenerateConfig) -> String {
    let c = config;
    let mut job = format!(
        "GenerateConfig {{ count: 0, seed: {:?}, rate: {:?}, v2: {:?}, disorder_ms: {:?}, start_ms: {:?}, noise: {:?} }}",
        c.seed, c.rate, c.v2, c.disorder_ms, c.start_ms, c.noise
    );
    if c.keys != crate::generate::KeyShape::default() {
        job.push_str(&format!(" {:?}", c.keys));
    }
    serde_json::json!({"generate": job, "topic": topic}).to_string()
}

/// The last committed state of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// [`replay_job`] or [`generate_job`].
    pub job: String,
    /// The sequence number of the last input line handled: written, or kept as a dead letter.
    pub seq: u64,
    /// That line's position, for people (`FILE:LINE`).
    pub position: String,
    /// Tweets committed, over every run of the job.
    pub tweets: u64,
    /// The length of the dead-letter file when this committed; a rerun cuts it back there.
    pub dead_letter_bytes: Option<u64>,
}

/// The transactional id of job `name`.
pub fn transactional_id(name: &str) -> String {
    format!("tweetflow-producer-{name}")
}

/// Creates the progress topic unless it exists: one partition (every job's progress is small),
/// compacted (only each job's last record matters).
pub fn ensure_progress_topic(
    brokers: &str,
    properties: &Properties,
    topic: &str,
    replication: i32,
) -> Result<(), ClientError> {
    let spec = TopicSpec {
        name: topic,
        partitions: 1,
        replication,
        config: &[("cleanup.policy", "compact"), ("segment.ms", "3600000")],
    };
    let config = tweetflow_kafka::client_config(brokers, &[], properties);
    ensure_topic(&config, brokers, &spec, TIMEOUT).map(|_| ())
}

/// The last committed progress of job `name`, if it has any. Call it after the job's producer
/// initialised its transactions: the transaction a killed run left open is aborted by then.
pub fn last_progress(
    brokers: &str,
    properties: &Properties,
    topic: &str,
    name: &str,
) -> Result<Option<Progress>, ClientError> {
    let consumer = committed_reader(brokers, "tweetflow-producer-progress", properties)?;
    let (low, _) = tweetflow_kafka::watermarks(&consumer, topic, 0, TIMEOUT).map_err(|source| {
        ClientError::Request {
            what: format!("reading the offsets of progress topic {topic}"),
            source,
        }
    })?;
    // Up to the end of the log, not to the last stable offset: another job's open transaction
    // (a run killed a moment ago) would hide this job's later progress behind it until the
    // broker aborts it, and an older progress would send committed tweets again.
    let high = high_watermark(brokers, properties, topic, 0)?;
    let mut last = None;
    let mut unreadable = None;
    read_committed(&consumer, topic, 0, (low, high), PROGRESS_WAIT, &mut |m| {
        if m.key() != Some(name.as_bytes()) {
            return;
        }
        match m.payload().map(serde_json::from_slice::<Progress>) {
            Some(Ok(progress)) => last = Some(progress),
            // A tombstone (compaction's delete) forgets the job.
            None => last = None,
            Some(Err(e)) => unreadable = Some((m.offset(), e.to_string())),
        }
    })?;
    if let Some((offset, error)) = unreadable {
        tracing::warn!(topic, offset, %error, "an unreadable progress record of this job was ignored");
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::GenerateConfig;

    #[test]
    fn a_generator_job_is_the_same_whatever_its_count() {
        let short = GenerateConfig {
            count: 10,
            ..Default::default()
        };
        let long = GenerateConfig {
            count: 1000,
            ..Default::default()
        };
        let other = GenerateConfig {
            seed: 7,
            ..Default::default()
        };
        assert_eq!(generate_job("t", &short), generate_job("t", &long));
        assert_ne!(generate_job("t", &short), generate_job("t", &other));
        assert_ne!(generate_job("t", &short), generate_job("u", &short));
    }

    #[test]
    fn a_replay_job_names_its_files_and_topic() {
        let a = replay_job("t", &["a.jsonl", "b.jsonl"], false);
        assert_ne!(a, replay_job("t", &["b.jsonl", "a.jsonl"], false));
        assert_ne!(a, replay_job("t", &["a.jsonl", "b.jsonl"], true));
        assert_eq!(a, replay_job("t", &["a.jsonl", "b.jsonl"], false));
    }

    #[test]
    fn a_generate_job_is_spelled_as_before_the_key_shapes() {
        // Review of issue 14: a job committed by an earlier build must still resume.
        let job = generate_job("t", &crate::generate::GenerateConfig::default());
        assert_eq!(
            job,
            r#"{"generate":"GenerateConfig { count: 0, seed: 42, rate: 1000.0, v2: false, disorder_ms: 0, start_ms: 1480817260000, noise: false }","topic":"t"}"#
        );
        let realistic = crate::generate::GenerateConfig {
            keys: crate::generate::KeyShape::realistic(),
            ..Default::default()
        };
        assert_ne!(
            generate_job("t", &realistic),
            job,
            "another shape is another job"
        );
    }
}
