//! The Kafka side of the producer (CONTRACT section 5): each tweet is written as its raw bytes, keyed
//! by its id and stamped with its event time; every other message is counted, logged and kept as a
//! dead letter, never written to the tweet topic.
//!
//! Delivery is librdkafka's idempotent producer with `acks=all`: a record counts as delivered only
//! when its delivery report says so, and `finish` flushes before reporting, so an interrupted run
//! never claims a record the broker did not acknowledge. A record Kafka finally refuses is kept as
//! an `undelivered` dead letter with its bytes and key, and the writer says from where a rerun
//! must start: every record before the first refused one is acknowledged.
//!
//! With `--resume` ([`crate::resume`]) the producer is transactional instead: tweets commit every
//! commit interval together with the position they reach, a refused tweet fails its transaction
//! (a rerun sends it again, so it is not a dead letter), and a rerun skips what was committed.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseRecord, ThreadedProducer};
use serde::Serialize;
use std::fs::OpenOptions;
use thiserror::Error;
use tweet::input::{
    KAFKA_RECORD_OVERHEAD, MAX_MESSAGE_BYTES, OVERSIZED_HEAD_BYTES, oversized_reason,
};
use tweet::time::Horizon;
use tweet::{Class, DeadLetter, Message};
use tweetflow_kafka::{
    ClientError, Deliveries, DeliveryContext, Properties, SIDE, Sent, TIMEOUT, TopicSpec,
    Transactions, Undelivered, client_config, ensure_topic, finish, producer, send, transactional,
};

use crate::resume::{Progress, Resume, ensure_progress_topic, last_progress, transactional_id};

#[derive(Debug, Error)]
pub enum WriterError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("writing the dead-letter file {path}: {source}")]
    DeadLetter { path: PathBuf, source: io::Error },
    #[error(
        "--resume {name}: its committed progress is of another job ({committed}), not of this one ({this}); \
         give this job another name"
    )]
    OtherJob {
        name: String,
        committed: String,
        this: String,
    },
    #[error("{failed} dead letter(s) were not delivered to the dead-letter topic {topic}")]
    LetterTopic { topic: String, failed: u64 },
    #[error(
        "--resume: the dead-letter file {path} holds {len} bytes, fewer than the {committed} committed \
         with the progress: it is not the file of this job"
    )]
    DeadLetterShort {
        path: PathBuf,
        len: u64,
        committed: u64,
    },
}

/// Where tweets go, and how.
#[derive(Clone, Debug)]
pub struct KafkaTarget {
    pub brokers: String,
    pub topic: String,
    /// Used when the topic has to be created.
    pub partitions: i32,
    pub replication: i32,
    /// librdkafka properties applied last (`-X key=value`), as kcat and vector do.
    pub properties: Properties,
    /// Keep messages that are not tweets, and tweets Kafka refused, here (JSON Lines).
    pub dead_letter: Option<PathBuf>,
    /// Tweets whose event time is more than this after the wall clock are rejected.
    pub max_future_ms: u64,
    /// Exactly once across reruns (replay and generate): transactions carrying the position.
    pub resume: Option<Resume>,
    /// Dead letters to this topic as well (Kafka Connect's dead-letter queue convention).
    pub dead_letter_topic: Option<String>,
}

impl KafkaTarget {
    fn producer_config(&self) -> rdkafka::ClientConfig {
        let max = (MAX_MESSAGE_BYTES + KAFKA_RECORD_OVERHEAD).to_string();
        let mut defaults = vec![
            ("enable.idempotence", "true".to_owned()),
            ("acks", "all".to_owned()),
            ("compression.type", "lz4".to_owned()),
            ("linger.ms", "20".to_owned()),
            // Java clients hash keys with murmur2: the same tweet id lands on the same partition.
            ("partitioner", "murmur2_random".to_owned()),
            ("message.max.bytes", max),
        ];
        if let Some(resume) = &self.resume {
            // The broker aborts a transaction left open this long by a run that was killed and
            // not restarted; until then `read_committed` readers wait behind it.
            let timeout = (resume.commit_interval * 3).max(Duration::from_secs(60));
            defaults.extend(transactional(&transactional_id(&resume.name), timeout));
        }
        client_config(&self.brokers, &defaults, &self.properties)
    }

    /// Creates the topic unless it exists (the seed made users do this by hand).
    pub fn ensure_topic(&self) -> Result<(), ClientError> {
        let max = (MAX_MESSAGE_BYTES + KAFKA_RECORD_OVERHEAD).to_string();
        let spec = TopicSpec {
            name: &self.topic,
            partitions: self.partitions,
            replication: self.replication,
            config: &[
                ("max.message.bytes", &max),
                // Record timestamps are event times, which for archives are years old:
                // time-based retention would delete them as soon as they arrive.
                ("retention.ms", "-1"),
            ],
        };
        ensure_topic(
            &client_config(&self.brokers, &[], &self.properties),
            &self.brokers,
            &spec,
            TIMEOUT,
        )
        .map(|_| ())
    }
}

/// What happened to every message given to the writer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub delivered: u64,
    pub failed: u64,
    /// Sent but neither acknowledged nor failed when the flush ended.
    pub unconfirmed: u64,
    /// Messages that are not tweets (notices, blank, malformed, rejected): not written.
    pub skipped: u64,
    /// Tweets in hand when a stop request came while Kafka's queue was full: never sent. A file
    /// can be replayed; a live stream's are gone, so they are counted and logged.
    pub unsent: u64,
    /// The position of the first tweet not acknowledged: every tweet before it was delivered.
    pub resume_at: Option<String>,
    /// `--resume`: the position every tweet up to which is committed (this run or an earlier one).
    pub committed_through: Option<String>,
    /// `--resume`: the position the run went on after (what an earlier run had committed).
    pub resumed_after: Option<String>,
}

impl Delivery {
    pub fn complete(&self) -> bool {
        self.failed == 0 && self.unconfirmed == 0
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delivered {}, failed {}, unconfirmed {}, skipped {} (not tweets), unsent {} (stopped while Kafka's queue was full)",
            self.delivered, self.failed, self.unconfirmed, self.skipped, self.unsent
        )
    }
}

/// Names the position of a message from its sequence number (for dead letters of records refused
/// after the writer has moved on, and for the position a rerun starts from).
pub type Namer = Box<dyn Fn(u64) -> (String, String) + Send>;

/// Writes tweets to one topic.
pub struct TweetWriter {
    producer: ThreadedProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
    stop: Arc<AtomicBool>,
    topic: String,
    max_future_ms: u64,
    /// `(source, position)` of a sequence number.
    name: Namer,
    sent: u64,
    skipped: u64,
    unsent: u64,
    /// The sequence number of the first tweet not sent (a stop while Kafka's queue was full).
    first_unsent: Option<u64>,
    dead_letters: Option<(PathBuf, BufWriter<File>)>,
    /// `--dead-letter-topic`, and how many letters went there.
    letter_topic: Option<(String, u64)>,
    last_warning: Option<Instant>,
    /// `--resume`: the open transaction and the progress it will carry.
    exactly: Option<Exactly>,
}

/// The state of a `--resume` run.
struct Exactly {
    transactions: Transactions,
    resume: Resume,
    job: String,
    /// The last progress committed, by this run or the one it resumes.
    committed: Option<Progress>,
    /// Lines up to this sequence number were committed by an earlier run: skipped.
    resume_after: Option<u64>,
    /// The position of that line.
    resumed_after: Option<String>,
    /// Lines skipped for that.
    passed: u64,
    /// The last line this run handled.
    handled: Option<u64>,
    /// Tweets in the open transaction, and committed by this run.
    open_tweets: u64,
    committed_tweets: u64,
    last_commit: Instant,
    /// Tweets librdkafka refused at once (too large for it): kept as dead letters and passed, as a
    /// rerun would be refused them again.
    refused: u64,
    /// A commit failed: the open transaction is aborted and nothing more commits.
    failed: bool,
}

impl TweetWriter {
    /// `stop` is the shutdown flag: a write waiting for room in a full queue gives up when it is
    /// set. `name` gives the source and position of a sequence number passed to [`Self::write`].
    ///
    /// `job` says what the job is ([`crate::resume::replay_job`]); under `--resume` a committed
    /// progress of another job is refused.
    pub fn connect(
        stop: Arc<AtomicBool>,
        target: &KafkaTarget,
        name: Namer,
        job: &str,
    ) -> Result<TweetWriter, WriterError> {
        target.ensure_topic()?;
        if let Some(topic) = &target.dead_letter_topic {
            let max = (MAX_MESSAGE_BYTES + KAFKA_RECORD_OVERHEAD).to_string();
            let spec = TopicSpec {
                name: topic,
                partitions: 1,
                replication: target.replication,
                config: &[("max.message.bytes", &max)],
            };
            let admin = client_config(&target.brokers, &[], &target.properties);
            ensure_topic(&admin, &target.brokers, &spec, TIMEOUT)?;
        }
        let config = target.producer_config();
        // Under --resume a refused tweet fails its transaction and a rerun sends it again.
        let keep_failed = target.resume.is_none();
        let (producer, deliveries, _) = producer(&config, "tweet", keep_failed)?;
        let exactly = match &target.resume {
            None => None,
            Some(resume) => {
                ensure_progress_topic(
                    &target.brokers,
                    &target.properties,
                    &resume.progress_topic,
                    target.replication,
                )?;
                let what = format!("topic {} (--resume {})", target.topic, resume.name);
                let transactions = Transactions::start(&producer, &config, &what)?;
                let committed = last_progress(
                    &target.brokers,
                    &target.properties,
                    &resume.progress_topic,
                    &resume.name,
                )?;
                if let Some(committed) = &committed {
                    if committed.job != job {
                        return Err(WriterError::OtherJob {
                            name: resume.name.clone(),
                            committed: committed.job.clone(),
                            this: job.to_owned(),
                        });
                    }
                    tracing::info!(name = %resume.name, after = %committed.position, tweets = committed.tweets, "resuming after the last committed position");
                }
                Some(Exactly {
                    transactions,
                    resume: resume.clone(),
                    job: job.to_owned(),
                    resume_after: committed.as_ref().map(|c| c.seq),
                    resumed_after: committed.as_ref().map(|c| c.position.clone()),
                    committed,
                    passed: 0,
                    handled: None,
                    open_tweets: 0,
                    committed_tweets: 0,
                    last_commit: Instant::now(),
                    refused: 0,
                    failed: false,
                })
            }
        };
        let committed_letters = exactly
            .as_ref()
            .and_then(|x| x.committed.as_ref())
            .and_then(|c| c.dead_letter_bytes);
        let dead_letters = match &target.dead_letter {
            Some(path) => Some((path.clone(), open_dead_letters(path, committed_letters)?)),
            None => None,
        };
        Ok(TweetWriter {
            producer,
            deliveries,
            stop,
            topic: target.topic.clone(),
            max_future_ms: target.max_future_ms,
            name,
            sent: 0,
            skipped: 0,
            unsent: 0,
            first_unsent: None,
            dead_letters,
            letter_topic: target.dead_letter_topic.clone().map(|t| (t, 0)),
            last_warning: None,
            exactly,
        })
    }

    /// Classifies one message and, when it is a tweet, queues it for delivery. `seq` numbers the
    /// message in its input, increasing (the writer's [`Namer`] turns it into a position, unless
    /// `position` says more); `due` sees the tweet's event time first and says when it may be
    /// sent: replay paces itself there.
    pub fn write(
        &mut self,
        message: &[u8],
        seq: u64,
        position: Option<&str>,
        due: &mut dyn FnMut(u64) -> Option<Instant>,
    ) -> Result<(), WriterError> {
        if self.committed_before(seq) || self.first_unsent.is_some() {
            return Ok(());
        }
        self.commit_if_due()?;
        if self.write_one(message, seq, position, due)? {
            self.handled(seq);
        }
        Ok(())
    }

    /// [`Self::write`]; false when the tweet was not sent (a stop while Kafka's queue was full).
    fn write_one(
        &mut self,
        message: &[u8],
        seq: u64,
        position: Option<&str>,
        due: &mut dyn FnMut(u64) -> Option<Instant>,
    ) -> Result<bool, WriterError> {
        self.letter_refused()?;
        let classified = tweet::classify_read(message, Horizon::now(self.max_future_ms));
        if let Message::Tweet(tweet) = &classified {
            if let Some(at) = due(tweet.event_ms) {
                self.wait_until(at)?;
            }
            let mut record = BaseRecord::with_opaque_to(&self.topic, seq as usize)
                .payload(message)
                .timestamp(tweet.event_ms as i64);
            // No id, no key (a null key spreads such tweets instead of hashing them together).
            if let Some(id) = tweet.id.as_deref() {
                record = record.key(id);
            }
            let stop = || self.stop.load(Ordering::Relaxed);
            match send(&self.producer, record, &stop) {
                Ok(Sent::Queued) => {
                    self.sent += 1;
                    if let Some(x) = self.exactly.as_mut() {
                        x.transactions.added();
                        x.open_tweets += 1;
                    }
                }
                // A broker that is down keeps the queue full; the stop request is heard. The
                // record was never sent, so nothing is lost that a rerun would not send.
                Ok(Sent::Stopped) => {
                    self.unsent += 1;
                    self.first_unsent.get_or_insert(seq);
                    let (_, position) = (self.name)(seq);
                    tracing::warn!(%position, "stopping with Kafka's queue full: tweet not sent");
                    return Ok(false);
                }
                // Refused at once (too large for the producer, invalid): as final as a refusal
                // after the message timeout, and kept the same way.
                Err(error) => {
                    let refused = Undelivered {
                        opaque: seq as usize,
                        key: tweet.id.as_deref().map(|id| id.as_bytes().to_vec()),
                        payload: message.to_vec(),
                        error: error.to_string(),
                    };
                    match self.exactly.as_mut() {
                        // Too large for the producer: not in the transaction, which goes on; a
                        // rerun would be refused it too.
                        Some(x) if refused_for_good(&error) => {
                            x.refused += 1;
                            tracing::error!(%error, position = %(self.name)(seq).1, "tweet refused by the producer; kept as a dead letter");
                            self.letter(refused)?;
                        }
                        // Fenced by a newer run, or the transaction already failing: this run
                        // stops, and what it had not committed is the rerun's.
                        Some(x) => {
                            x.failed = true;
                            return Err(WriterError::Client(ClientError::Request {
                                what: format!("sending to {} under --resume", self.topic),
                                source: error,
                            }));
                        }
                        None => {
                            self.sent += 1;
                            self.deliveries.refuse(refused);
                        }
                    }
                }
            }
            return Ok(true);
        }
        self.skipped += 1;
        let Some((class, reason)) = classified.dead_letter() else {
            return Ok(true); // blank keep-alives
        };
        let (source, named) = (self.name)(seq);
        let position = position.map_or(named, str::to_owned);
        if self
            .last_warning
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            tracing::warn!(%position, class = class.as_str(), %reason, skipped = self.skipped, "not a tweet, not written");
            self.last_warning = Some(Instant::now());
        }
        self.keep(DeadLetter {
            source,
            position,
            class,
            reason,
            raw: String::from_utf8_lossy(message).into_owned(),
            key: None,
        })?;
        Ok(true)
    }

    /// A message over the size limit (`len` bytes, of which `head` was kept): never written,
    /// kept as a malformed dead letter.
    pub fn write_oversized(&mut self, head: &[u8], len: u64, seq: u64) -> Result<(), WriterError> {
        // After a tweet that was not sent nothing more is handled: the rerun starts there.
        if self.committed_before(seq) || self.first_unsent.is_some() {
            return Ok(());
        }
        self.commit_if_due()?;
        self.letter_refused()?;
        self.skipped += 1;
        let head = &head[..head.len().min(OVERSIZED_HEAD_BYTES)];
        let (source, position) = (self.name)(seq);
        tracing::warn!(%position, len, "message over the size limit, not written");
        self.keep(DeadLetter {
            source,
            position,
            class: Class::Malformed,
            reason: oversized_reason(len, head.len()),
            raw: String::from_utf8_lossy(head).into_owned(),
            key: None,
        })?;
        self.handled(seq);
        Ok(())
    }

    /// Whether an earlier run of this `--resume` job committed line `seq`: it is passed over.
    fn committed_before(&mut self, seq: u64) -> bool {
        match self.exactly.as_mut() {
            Some(x) if x.resume_after.is_some_and(|after| seq <= after) => {
                x.passed += 1;
                true
            }
            _ => false,
        }
    }

    fn handled(&mut self, seq: u64) {
        if let Some(x) = self.exactly.as_mut() {
            x.handled = Some(seq);
        }
    }

    /// The sequence number an earlier run of this `--resume` job committed through.
    pub fn resume_after(&self) -> Option<u64> {
        self.exactly.as_ref().and_then(|x| x.resume_after)
    }

    /// Lines passed over because an earlier run committed them (`--resume`).
    pub fn passed(&self) -> u64 {
        self.exactly.as_ref().map_or(0, |x| x.passed)
    }

    /// Sleeps until `due` in short steps, so that a stop request is seen promptly and a long wait
    /// does not keep a transaction open past its commit interval.
    fn wait_until(&mut self, due: Instant) -> Result<(), WriterError> {
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= due {
                break;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(100)));
            self.commit_if_due()?;
        }
        Ok(())
    }

    /// Commits under `--resume` once the commit interval has passed (or the open transaction
    /// nears its timeout) and there is something new to commit.
    fn commit_if_due(&mut self) -> Result<(), WriterError> {
        let Some(x) = &self.exactly else {
            return Ok(());
        };
        let due = x.last_commit.elapsed() >= x.resume.commit_interval || x.transactions.is_old();
        let news = x.open_tweets > 0 || x.handled > x.committed.as_ref().map(|c| c.seq);
        if due && news && !x.failed {
            self.commit(false)?;
        }
        Ok(())
    }

    /// Commits the open transaction with the progress it reaches (the last line handled and the
    /// dead-letter file's length, synced first), and begins the next unless `last`. A failure
    /// aborts the transaction: the rerun sends its tweets again.
    fn commit(&mut self, last: bool) -> Result<(), WriterError> {
        let dead_letter_bytes = self.sync_dead_letters()?;
        tweetflow_kafka::crash::point("before-progress");
        let x = self.exactly.as_mut().expect("only under --resume");
        let progress = x.handled.map(|seq| Progress {
            job: x.job.clone(),
            seq,
            position: (self.name)(seq).1,
            tweets: x.committed.as_ref().map_or(0, |c| c.tweets) + x.open_tweets,
            dead_letter_bytes,
        });
        let mut result = Ok(());
        if let Some(progress) = &progress {
            let value = serde_json::to_vec(progress).expect("serialisable");
            let record = BaseRecord::with_opaque_to(&x.resume.progress_topic, usize::MAX)
                .key(&x.resume.name)
                .payload(&value);
            // A stop request while Kafka's queue stays full gives up: the rerun redoes this
            // transaction.
            let stop = || self.stop.load(Ordering::Relaxed);
            result = match send(&self.producer, record, &stop) {
                Ok(Sent::Queued) => Ok(()),
                Ok(Sent::Stopped) => Err(ClientError::Request {
                    what: format!("writing the progress to {}", x.resume.progress_topic),
                    source: rdkafka::error::KafkaError::Canceled,
                }),
                Err(source) => Err(ClientError::Request {
                    what: format!("writing the progress to {}", x.resume.progress_topic),
                    source,
                }),
            };
        }
        if result.is_ok() {
            tweetflow_kafka::crash::point("before-commit");
        }
        let result = result.and_then(|()| match last {
            true => x.transactions.commit_last(&self.producer),
            false => x.transactions.commit(&self.producer),
        });
        match result {
            Ok(()) => {
                tweetflow_kafka::crash::point("after-commit");
                x.committed_tweets += x.open_tweets;
                x.open_tweets = 0;
                x.last_commit = Instant::now();
                if progress.is_some() {
                    x.committed = progress;
                }
                Ok(())
            }
            Err(error) => {
                x.failed = true;
                tracing::error!(%error, tweets = x.open_tweets, "the transaction did not commit; a rerun with the same --resume sends its tweets again");
                if let Err(abort) = x.transactions.abort(&self.producer) {
                    tracing::warn!(error = %abort, "aborting it failed too; the broker aborts it at its timeout, or the rerun does");
                }
                Err(error.into())
            }
        }
    }

    /// Flushes the dead-letter file to disk and says how long it is (for the progress).
    fn sync_dead_letters(&mut self) -> Result<Option<u64>, WriterError> {
        let Some((path, out)) = &mut self.dead_letters else {
            return Ok(None);
        };
        let failed = |source| WriterError::DeadLetter {
            path: path.clone(),
            source,
        };
        out.flush().map_err(failed)?;
        out.get_ref().sync_data().map_err(failed)?;
        let len = out.get_ref().metadata().map_err(failed)?.len();
        Ok(Some(len))
    }

    fn keep(&mut self, letter: DeadLetter) -> Result<(), WriterError> {
        if let Some((path, out)) = &mut self.dead_letters {
            letter
                .write_jsonl(out)
                .map_err(|source| WriterError::DeadLetter {
                    path: path.clone(),
                    source,
                })?;
        }
        if let Some((topic, sent)) = &mut self.letter_topic {
            // Beside the tweets (SIDE), in the same transaction under --resume.
            let mut record = BaseRecord::with_opaque_to(topic.as_str(), SIDE + *sent as usize)
                .payload(letter.raw.as_bytes())
                .headers(tweetflow_kafka::dead_letter::headers(&letter, None));
            if let Some(key) = letter.key.as_deref() {
                record = record.key(key);
            }
            let stop = || self.stop.load(Ordering::Relaxed);
            match send(&self.producer, record, &stop) {
                Ok(Sent::Queued) => *sent += 1,
                // Stopping with Kafka's queue full: the letter stays in the file only.
                Ok(Sent::Stopped) => {
                    tracing::warn!(position = %letter.position, "stopping with Kafka's queue full: dead letter not sent to {topic}");
                    return Ok(());
                }
                Err(source) => {
                    return Err(WriterError::Client(ClientError::Request {
                        what: format!("writing a dead letter to {topic}"),
                        source,
                    }));
                }
            }
            if let Some(x) = self.exactly.as_mut() {
                x.transactions.added();
            }
        }
        Ok(())
    }

    /// Dead letters Kafka refused for `--dead-letter-topic` end the run with an error: they are
    /// in the dead-letter file, if there is one, but not where they were asked for.
    fn side_refused(&self) -> Result<(), WriterError> {
        let Some((topic, sent)) = &self.letter_topic else {
            return Ok(());
        };
        let (delivered, failed) = (
            self.deliveries.side_delivered(),
            self.deliveries.side_failed(),
        );
        // Progress records (--resume) are side records too; they are not letters.
        match (*sent).saturating_sub(delivered) {
            0 if failed == 0 => Ok(()),
            missing => Err(WriterError::LetterTopic {
                topic: topic.clone(),
                failed: missing.max(failed),
            }),
        }
    }

    /// Dead-letters the records Kafka refused since the last call.
    fn letter_refused(&mut self) -> Result<(), WriterError> {
        for refused in self.deliveries.take_failures() {
            self.letter(refused)?;
        }
        Ok(())
    }

    /// Keeps a refused tweet as an `undelivered` dead letter, with its bytes and key.
    fn letter(&mut self, refused: Undelivered) -> Result<(), WriterError> {
        let (source, position) = (self.name)(refused.opaque as u64);
        self.keep(DeadLetter {
            source,
            position,
            class: Class::Undelivered,
            reason: refused.error,
            raw: String::from_utf8_lossy(&refused.payload).into_owned(),
            key: refused
                .key
                .map(|k| String::from_utf8_lossy(&k).into_owned()),
        })
    }

    /// Whether Kafka has finally refused a tweet: a file or generator should stop reading, as
    /// whatever it sends now is likely lost too (a live stream goes on, and keeps what fails).
    pub fn failing(&self) -> bool {
        self.deliveries.failed() > 0 || self.exactly.as_ref().is_some_and(|x| x.failed)
    }

    /// Counts so far (deliveries still in flight are neither delivered nor failed yet). Under
    /// `--resume` a tweet counts as delivered once its transaction committed, as in the summary.
    pub fn progress(&self) -> Delivery {
        let (delivered, failed) = match &self.exactly {
            Some(x) => (x.committed_tweets, x.refused),
            None => (self.deliveries.delivered(), self.deliveries.failed()),
        };
        Delivery {
            delivered,
            failed,
            unconfirmed: 0,
            skipped: self.skipped,
            unsent: self.unsent,
            resume_at: None,
            committed_through: None,
            resumed_after: None,
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Records in librdkafka's queue, not acknowledged yet.
    pub fn queued(&self) -> u64 {
        rdkafka::producer::Producer::in_flight_count(&self.producer).max(0) as u64
    }

    /// Flushes everything queued, keeps what Kafka refused, and reports what it acknowledged.
    pub fn finish(mut self) -> Result<Delivery, WriterError> {
        if self.exactly.is_some() {
            return self.finish_exactly();
        }
        // Records first: dropping the producer unflushed would purge what is in flight.
        let settled = finish(&self.producer, &self.deliveries, self.sent, TIMEOUT);
        self.letter_refused()?;
        if self.letter_topic.is_some() {
            // The refused tweets' letters were queued after the flush.
            let _ = rdkafka::producer::Producer::flush(&self.producer, TIMEOUT);
        }
        self.side_refused()?;
        if let Some((path, out)) = &mut self.dead_letters {
            out.flush().map_err(|source| WriterError::DeadLetter {
                path: path.clone(),
                source,
            })?;
        }
        Ok(Delivery {
            delivered: settled.delivered,
            failed: settled.failed,
            unconfirmed: settled.unconfirmed,
            skipped: self.skipped,
            unsent: self.unsent,
            // Every tweet before the first one refused or not sent is acknowledged; with some
            // still unconfirmed nothing can be promised.
            resume_at: match settled.unconfirmed {
                0 => self
                    .deliveries
                    .first_failed()
                    .map(|seq| seq as u64)
                    .into_iter()
                    .chain(self.first_unsent)
                    .min()
                    .map(|seq| (self.name)(seq).1),
                _ => None,
            },
            committed_through: None,
            resumed_after: None,
        })
    }

    /// [`Self::finish`] under `--resume`: the last commit. Delivered are the tweets this run
    /// committed; unconfirmed those of a transaction that did not commit (a rerun sends them).
    fn finish_exactly(mut self) -> Result<Delivery, WriterError> {
        let failed = self.exactly.as_ref().is_some_and(|x| x.failed);
        if !failed {
            // Logged and reported below as unconfirmed tweets.
            let _ = self.commit(true);
        }
        if let Some((path, out)) = &mut self.dead_letters {
            out.flush().map_err(|source| WriterError::DeadLetter {
                path: path.clone(),
                source,
            })?;
        }
        let x = self.exactly.as_ref().expect("under --resume");
        Ok(Delivery {
            delivered: x.committed_tweets,
            failed: x.refused,
            unconfirmed: x.open_tweets,
            skipped: self.skipped,
            unsent: self.unsent,
            resume_at: None,
            committed_through: x.committed.as_ref().map(|c| c.position.clone()),
            resumed_after: x.resumed_after.clone(),
        })
    }
}

/// Whether librdkafka refused a record at once for what it is (too large for it), so that sending
/// it again would be refused again; other refusals (fenced, a failing transaction) are the run's.
fn refused_for_good(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    matches!(
        error,
        KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidArgument
        )
    )
}

/// Opens the dead-letter file: a new one, or under `--resume` the committed one cut back to the
/// length its progress recorded (letters after it belong to a transaction that did not commit,
/// and the rerun writes them again).
fn open_dead_letters(
    path: &PathBuf,
    committed: Option<u64>,
) -> Result<BufWriter<File>, WriterError> {
    let failed = |source| WriterError::DeadLetter {
        path: path.clone(),
        source,
    };
    let file = match committed {
        None => File::create(path).map_err(failed)?,
        Some(len) => {
            let file = OpenOptions::new().append(true).open(path).map_err(failed)?;
            let has = file.metadata().map_err(failed)?.len();
            if has < len {
                return Err(WriterError::DeadLetterShort {
                    path: path.clone(),
                    len: has,
                    committed: len,
                });
            }
            file.set_len(len).map_err(failed)?;
            file
        }
    };
    Ok(BufWriter::new(file))
}

/// Feeds a byte stream of JSON Lines (the generator's output) to a [`TweetWriter`] line by line;
/// a line's sequence number is its line number.
pub struct LineSink<'a> {
    pub writer: &'a mut TweetWriter,
    pub pending: Vec<u8>,
    pub lines: u64,
    pub on_line: &'a mut dyn FnMut(&TweetWriter),
}

impl LineSink<'_> {
    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        self.lines += 1;
        self.writer
            .write(line, self.lines, None, &mut |_| None)
            .map_err(io::Error::other)?;
        (self.on_line)(self.writer);
        Ok(())
    }

    /// Writes a last line that has no newline.
    pub fn finish(mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let last = std::mem::take(&mut self.pending);
            self.line(&last)?;
        }
        Ok(())
    }
}

impl Write for LineSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            if self.pending.is_empty() {
                self.line(&rest[..i])?;
            } else {
                self.pending.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.pending);
                self.line(&line)?;
            }
            rest = &rest[i + 1..];
        }
        self.pending.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
