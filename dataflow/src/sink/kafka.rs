//! Window records into a Kafka topic as well (`--output-topic`): the JSON record as value, the
//! window end as key, so a compacted topic keeps the last result of each window.

use std::collections::HashSet;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use tweetflow_kafka::{
    ClientError, Deliveries, DeliveryContext, Diagnostics, ReportingContext, Sent, TIMEOUT,
    TopicSpec, Transactions, client_config, committed_reader, create, ensure_topic, finish,
    metadata, producer, read_committed, send, transactional,
};

use tweet::DeadLetter;
use tweet::input::{KAFKA_RECORD_OVERHEAD, MAX_MESSAGE_BYTES};

use super::record::{RecordWriter, WindowRecord};
use crate::checkpoint::LetterTopicState;
use crate::config::OutputTopic;

/// How the window records reach the topic.
#[derive(Clone, Debug)]
pub(crate) enum Delivery {
    /// An idempotent producer: every record once, as long as the run does not restart.
    Idempotent,
    /// A transactional producer whose transaction commits with each checkpoint, so that a
    /// `read_committed` consumer sees every window once across crashes and restarts. The id is
    /// the job's own, so a restarted run fences the one before and aborts its open transaction.
    /// `resuming`: the run resumes from a checkpoint, and the topic may hold windows committed
    /// after it (a crash between the commit and the checkpoint), which are not written again.
    /// `started`: where the topic's partitions ended when the job first started (kept in its
    /// checkpoint directory); only windows from there on are this job's. A job that has it but no
    /// checkpoint was killed before its first: it resumes too.
    Transactional {
        id: String,
        resuming: bool,
        started: Option<Vec<i64>>,
    },
}

/// One output topic, written by worker 0: idempotent, or in transactions committed with each
/// checkpoint. What the window records and the dead letters have in common.
struct Topic {
    producer: ThreadedProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
    name: String,
    /// What its records are, for errors ("window record").
    what: &'static str,
    sent: u64,
    /// Transactional delivery's open transaction.
    transactions: Option<Transactions>,
    /// A fresh job's start offsets, which the caller records before the first commit.
    started: Option<Vec<i64>>,
}

/// What a transactional topic held when the run started: what a resumed run must not write again
/// is found there.
struct Found {
    consumer: BaseConsumer<ReportingContext>,
    /// Each partition's first and end offsets, as `read_committed` sees them.
    ends: Vec<(i64, i64)>,
    /// Where this job's records begin in each partition.
    since: Vec<i64>,
    /// The run resumes (a checkpoint, or a start recorded before its first commit).
    resuming: bool,
}

/// The transaction timeout asked for: the broker's default `transaction.max.timeout.ms`, the most
/// it allows. Transactions commit with each checkpoint, and earlier when they get old (see
/// [`Topic::tick`]), so any checkpoint interval works.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn io_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl Topic {
    /// Creates `out` when missing (`compacted` or not) and its producer; for transactional
    /// delivery, also what the topic holds of this job.
    fn connect(
        brokers: &str,
        out: &OutputTopic,
        compacted: bool,
        what: &'static str,
        delivery: Delivery,
    ) -> Result<(Topic, Option<Found>), ClientError> {
        let admin = client_config(brokers, &[], &out.properties);
        let replication = match out.replication {
            Some(n) => n,
            None => {
                let probe: BaseConsumer<ReportingContext> =
                    create(&admin, ReportingContext::new(Diagnostics::default()))?;
                let brokers_up = metadata(&probe, brokers, None, TIMEOUT)?.brokers().len();
                brokers_up.clamp(1, 3) as i32
            }
        };
        // Room for a dead letter of the largest message read (and its key).
        let max = (MAX_MESSAGE_BYTES + KAFKA_RECORD_OVERHEAD).to_string();
        let mut settings = vec![("max.message.bytes", max.as_str())];
        if compacted {
            settings.push(("cleanup.policy", "compact"));
        }
        let spec = TopicSpec {
            name: &out.topic,
            partitions: out.partitions,
            replication,
            config: &settings,
        };
        ensure_topic(&admin, brokers, &spec, TIMEOUT)?;
        let mut defaults = vec![
            ("enable.idempotence", "true".to_owned()),
            ("acks", "all".to_owned()),
            ("message.max.bytes", max.clone()),
        ];
        if let Delivery::Transactional { id, .. } = &delivery {
            defaults.extend(transactional(id, TRANSACTION_TIMEOUT));
        }
        let config = client_config(brokers, &defaults, &out.properties);
        // A refused record fails the run; its bytes need not be kept.
        let (producer, deliveries, _) = producer(&config, what, false)?;
        let mut topic = Topic {
            producer,
            deliveries,
            name: out.topic.clone(),
            what,
            sent: 0,
            transactions: None,
            started: None,
        };
        let Delivery::Transactional {
            resuming, started, ..
        } = delivery
        else {
            return Ok((topic, None));
        };
        let label = format!("topic {}", out.topic);
        // First, so that what a killed run left open is aborted before the topic is read.
        topic.transactions = Some(Transactions::start(&topic.producer, &config, &label)?);
        let consumer = committed_reader(brokers, "tweetflow-output-check", &out.properties)?;
        let ends = partition_ends(&consumer, brokers, &out.topic)?;
        let resuming = resuming || started.is_some();
        let since = match started {
            Some(offsets) => offsets,
            // Checkpoints from before the start offsets were kept: the whole topic.
            None if resuming => ends.iter().map(|&(low, _)| low).collect(),
            None => {
                let highs: Vec<i64> = ends.iter().map(|&(_, high)| high).collect();
                topic.started = Some(highs.clone());
                highs
            }
        };
        Ok((
            topic,
            Some(Found {
                consumer,
                ends,
                since,
                resuming,
            }),
        ))
    }

    fn send(
        &mut self,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
    ) -> io::Result<()> {
        let mut record =
            BaseRecord::with_opaque_to(&self.name, self.sent as usize).payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(headers) = headers {
            record = record.headers(headers);
        }
        // Never asked to stop: the record is queued or this is an error.
        if send(&self.producer, record, &|| false).map_err(io::Error::other)? == Sent::Queued {
            self.sent += 1;
        }
        if let Some(transactions) = self.transactions.as_mut() {
            transactions.added();
        }
        Ok(())
    }

    fn settle(&self) -> io::Result<()> {
        match self.deliveries.failed() {
            0 => Ok(()),
            n => Err(io::Error::other(format!(
                "{n} {}(s) not delivered to {}",
                self.what, self.name
            ))),
        }
    }

    fn commit(&mut self) -> io::Result<()> {
        let Some(transactions) = self.transactions.as_mut() else {
            return Ok(());
        };
        transactions.commit(&self.producer).map_err(io_error)?;
        self.settle()
    }

    /// A transaction holding records for a third of its timeout commits without waiting for the
    /// next checkpoint (a long --checkpoint-interval, a stalled input): the topic then runs ahead
    /// of the checkpoint, which a resumed run handles as after a crash between the two.
    fn tick(&mut self) -> io::Result<()> {
        match &self.transactions {
            Some(transactions) if transactions.is_old() => self.commit(),
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(transactions) = self.transactions.as_mut() {
            transactions.commit_last(&self.producer).map_err(io_error)?;
            return self.settle();
        }
        let settled = finish(&self.producer, &self.deliveries, self.sent, TIMEOUT);
        match settled.failed + settled.unconfirmed {
            0 => Ok(()),
            n => Err(io::Error::other(format!(
                "{n} {}(s) not delivered to {}",
                self.what, self.name
            ))),
        }
    }
}

pub(crate) struct KafkaRecords {
    topic: Topic,
    /// Windows ending at or before this are in the topic already (a resumed run).
    skip_through_ms: Option<i64>,
}

impl KafkaRecords {
    pub fn connect(
        brokers: &str,
        out: &OutputTopic,
        delivery: Delivery,
    ) -> Result<KafkaRecords, ClientError> {
        // Keyed by window end: compaction keeps each window's record.
        let (topic, found) = Topic::connect(brokers, out, true, "window record", delivery)?;
        let mut skip_through_ms = None;
        if let Some(found) = found {
            let last = last_window_end(&found.consumer, &out.topic, &found.ends, &found.since)?;
            match last.map(tweet::time::format_rfc3339) {
                Some(through) if found.resuming => {
                    tracing::info!(topic = %out.topic, %through, "the output topic holds windows already; they are not written again");
                    skip_through_ms = last;
                }
                _ if !found.resuming && found.ends.iter().any(|&(low, high)| high > low) => {
                    // Not this run's: another job's, or this job's before its checkpoints were lost.
                    tracing::warn!(topic = %out.topic, "the output topic holds windows, but there is no checkpoint to resume from: every window is written again (keyed by window end, so compaction keeps the new ones)");
                }
                _ => {}
            }
        }
        Ok(KafkaRecords {
            topic,
            skip_through_ms,
        })
    }

    /// A fresh job's start offsets, which the caller records before the first commit.
    pub fn started(&self) -> Option<&[i64]> {
        self.topic.started.as_deref()
    }
}

/// The first and the end offset of each partition of `topic`, as a `read_committed` consumer
/// sees them.
fn partition_ends(
    consumer: &BaseConsumer<ReportingContext>,
    brokers: &str,
    topic: &str,
) -> Result<Vec<(i64, i64)>, ClientError> {
    let partitions = metadata(consumer, brokers, Some(topic), TIMEOUT)?
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len() as i32);
    (0..partitions)
        .map(|partition| {
            tweetflow_kafka::watermarks(consumer, topic, partition, TIMEOUT).map_err(|source| {
                ClientError::Request {
                    what: format!("reading the offsets of output topic {topic}"),
                    source,
                }
            })
        })
        .collect()
}

/// The end (in ms) of the last window a `read_committed` consumer sees in `topic` at or after the
/// offsets `since` (per partition; the job's own records): a resumed run does not write those
/// again. Records are keyed by window end; the tail of each partition is read, further back while
/// it holds no committed record (an aborted transaction at its end).
fn last_window_end(
    consumer: &BaseConsumer<ReportingContext>,
    topic: &str,
    ends: &[(i64, i64)],
    since: &[i64],
) -> Result<Option<i64>, ClientError> {
    let mut last = None;
    for (partition, &(low, high)) in ends.iter().enumerate() {
        // A partition added since the job started is the job's from its beginning.
        let low = low.max(since.get(partition).copied().unwrap_or(0));
        if high <= low {
            continue; // nothing of the job's in it
        }
        let mut back = 64;
        loop {
            let from = (high - back).max(low);
            let mut found = None;
            read_committed(
                consumer,
                topic,
                partition as i32,
                (from, high),
                TIMEOUT,
                &mut |m| {
                    let end = m
                        .key()
                        .and_then(|k| std::str::from_utf8(k).ok())
                        .and_then(tweet::time::parse_rfc3339);
                    if let Some(end) = end {
                        found = found.max(Some(end as i64));
                    }
                },
            )?;
            if found.is_some() || from == low {
                last = last.max(found);
                break;
            }
            back *= 4;
        }
    }
    Ok(last)
}

impl RecordWriter for KafkaRecords {
    fn write(&mut self, record: &WindowRecord) -> io::Result<()> {
        if self.skip_through_ms.is_some_and(|ms| record.end_ms <= ms) {
            return Ok(());
        }
        let value = serde_json::to_vec(record)?;
        self.topic
            .send(Some(record.window_end.as_bytes()), &value, None)
    }

    fn commit(&mut self) -> io::Result<()> {
        self.topic.commit()
    }

    fn tick(&mut self) -> io::Result<()> {
        self.topic.tick()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.topic.finish()
    }
}

/// Dead letters into a Kafka topic as well (`--dead-letter-topic`; see
/// `tweetflow_kafka::dead_letter`). Written by worker 0 with the file, in time order; with
/// checkpoints in transactions committed with them, so that a `read_committed` consumer sees each
/// letter once across crashes.
pub(crate) struct KafkaLetters {
    topic: Topic,
    /// `(source, position)` of letters a killed run committed after the checkpoint resumed from:
    /// not written again (after a resume the letters of one epoch may come in another order).
    committed: HashSet<(String, String)>,
    /// Reads the topic's end after each commit, for the checkpoint (transactional delivery).
    reader: Option<(BaseConsumer<ReportingContext>, String)>,
    /// The transactional id, in each record's `tweetflow.job` header.
    job: Option<String>,
}

impl KafkaLetters {
    /// `resumed`: the topic's state at the checkpoint resumed from; the letters after its `end`
    /// and its `pending` ones are in the topic already. Without one, a resuming run (killed
    /// before its first checkpoint) takes every letter of the job's.
    pub fn connect(
        brokers: &str,
        out: &OutputTopic,
        delivery: Delivery,
        resumed: Option<LetterTopicState>,
    ) -> Result<KafkaLetters, ClientError> {
        let job = match &delivery {
            Delivery::Transactional { id, .. } => Some(id.clone()),
            Delivery::Idempotent => None,
        };
        let (topic, found) = Topic::connect(brokers, out, false, "dead letter", delivery)?;
        let mut committed = HashSet::new();
        if let Some(found) = found.as_ref().filter(|f| f.resuming) {
            let resumed = resumed.unwrap_or_default();
            let from: Vec<i64> = found
                .since
                .iter()
                .enumerate()
                .map(|(p, &since)| since.max(resumed.end.get(p).copied().unwrap_or(0)))
                .collect();
            let job = job.as_deref().unwrap_or_default();
            committed = letters_from(found, &out.topic, &from, job)?;
            committed.extend(resumed.pending);
            if !committed.is_empty() {
                tracing::info!(topic = %out.topic, letters = committed.len(), "the dead-letter topic holds letters after the checkpoint; they are not written again");
            }
        }
        // The reader that found what the topic held reads its end after each commit.
        let reader = found.map(|found| (found.consumer, brokers.to_owned()));
        Ok(KafkaLetters {
            topic,
            committed,
            reader,
            job,
        })
    }

    /// Whether the topic is written in transactions committed with the checkpoints.
    pub fn is_transactional(&self) -> bool {
        self.reader.is_some()
    }

    /// The topic's state for a checkpoint, after its commit (transactional delivery).
    pub fn state(&self) -> io::Result<Option<LetterTopicState>> {
        let Some((consumer, brokers)) = &self.reader else {
            return Ok(None);
        };
        let ends = partition_ends(consumer, brokers, &self.topic.name).map_err(io_error)?;
        Ok(Some(LetterTopicState {
            end: ends.into_iter().map(|(_, high)| high).collect(),
            pending: self.committed.iter().cloned().collect(),
        }))
    }

    pub fn write(&mut self, epoch: u64, letter: &DeadLetter) -> io::Result<()> {
        if !self.committed.is_empty()
            && self
                .committed
                .remove(&(letter.source.clone(), letter.position.clone()))
        {
            return Ok(());
        }
        let mut headers = tweetflow_kafka::dead_letter::headers(letter, Some(epoch));
        if let Some(job) = &self.job {
            headers = headers.insert(rdkafka::message::Header {
                key: tweetflow_kafka::dead_letter::JOB,
                value: Some(job.as_str()),
            });
        }
        self.topic.send(
            letter.key.as_deref().map(str::as_bytes),
            letter.raw.as_bytes(),
            Some(headers),
        )
    }

    /// A fresh job's start offsets, which the caller records before the first commit.
    pub fn started(&self) -> Option<&[i64]> {
        self.topic.started.as_deref()
    }

    pub fn commit(&mut self) -> io::Result<()> {
        self.topic.commit()
    }

    pub fn tick(&mut self) -> io::Result<()> {
        self.topic.tick()
    }

    pub fn finish(&mut self) -> io::Result<()> {
        self.topic.finish()
    }
}

/// `(source, position)` of the letters of `job` in the topic from the offsets `from` (per
/// partition) to its end.
fn letters_from(
    found: &Found,
    topic: &str,
    from: &[i64],
    job: &str,
) -> Result<HashSet<(String, String)>, ClientError> {
    use tweetflow_kafka::dead_letter::{JOB, POSITION, SOURCE, header};
    let mut letters = HashSet::new();
    for (partition, &(low, high)) in found.ends.iter().enumerate() {
        let start = low.max(from.get(partition).copied().unwrap_or(0));
        read_committed(
            &found.consumer,
            topic,
            partition as i32,
            (start, high),
            TIMEOUT,
            &mut |m| {
                let headers = m.headers();
                if header(headers, JOB) != Some(job) {
                    return;
                }
                let source = header(headers, SOURCE).unwrap_or_default().to_owned();
                let position = header(headers, POSITION).unwrap_or_default().to_owned();
                letters.insert((source, position));
            },
        )?;
    }
    Ok(letters)
}
