//! Window records into a Kafka topic as well (`--output-topic`): the JSON record as value, the
//! window end as key, so a compacted topic keeps the last result of each window.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use tweetflow_kafka::{
    ClientError, Deliveries, DeliveryContext, Diagnostics, ReportingContext, Sent, TIMEOUT,
    TopicSpec, Transactions, client_config, committed_reader, create, ensure_topic, finish,
    metadata, producer, read_committed, send, transactional,
};

use super::record::{RecordWriter, WindowRecord};
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

pub(crate) struct KafkaRecords {
    producer: ThreadedProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
    topic: String,
    sent: u64,
    /// Transactional delivery's open transaction.
    transactions: Option<Transactions>,
    /// Windows ending at or before this are in the topic already (a resumed run).
    skip_through_ms: Option<i64>,
    /// A fresh job's start offsets, which the caller records before the first commit.
    pub started: Option<Vec<i64>>,
}

/// The transaction timeout asked for: the broker's default `transaction.max.timeout.ms`, the most
/// it allows. Transactions commit with each checkpoint, and earlier when they get old (see
/// [`KafkaRecords::tick`]), so any checkpoint interval works.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn io_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl KafkaRecords {
    pub fn connect(
        brokers: &str,
        out: &OutputTopic,
        delivery: Delivery,
    ) -> Result<KafkaRecords, ClientError> {
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
        let spec = TopicSpec {
            name: &out.topic,
            partitions: out.partitions,
            replication,
            // Keyed by window end: compaction keeps each window's record.
            config: &[("cleanup.policy", "compact")],
        };
        ensure_topic(&admin, brokers, &spec, TIMEOUT)?;
        let mut defaults = vec![
            ("enable.idempotence", "true".to_owned()),
            ("acks", "all".to_owned()),
        ];
        if let Delivery::Transactional { id, .. } = &delivery {
            defaults.extend(transactional(id, TRANSACTION_TIMEOUT));
        }
        let config = client_config(brokers, &defaults, &out.properties);
        // A refused window record fails the run; its bytes need not be kept.
        let (producer, deliveries, _) = producer(&config, "window record", false)?;
        let mut skip_through_ms = None;
        let mut fresh_start = None;
        let transactions = match delivery {
            Delivery::Idempotent => None,
            Delivery::Transactional {
                resuming, started, ..
            } => {
                let what = format!("output topic {}", out.topic);
                // First, so that what a killed run left open is aborted before the topic is read.
                let transactions = Transactions::start(&producer, &config, &what)?;
                let consumer =
                    committed_reader(brokers, "tweetflow-output-check", &out.properties)?;
                let ends = partition_ends(&consumer, brokers, &out.topic)?;
                let resuming = resuming || started.is_some();
                let since = match started {
                    Some(offsets) => offsets,
                    // Checkpoints from before the start offsets were kept: the whole topic.
                    None if resuming => ends.iter().map(|&(low, _)| low).collect(),
                    None => {
                        let highs: Vec<i64> = ends.iter().map(|&(_, high)| high).collect();
                        fresh_start = Some(highs.clone());
                        highs
                    }
                };
                let last = last_window_end(&consumer, &out.topic, &ends, &since)?;
                match last.map(tweet::time::format_rfc3339) {
                    Some(through) if resuming => {
                        tracing::info!(topic = %out.topic, %through, "the output topic holds windows already; they are not written again");
                        skip_through_ms = last;
                    }
                    _ if !resuming && ends.iter().any(|&(low, high)| high > low) => {
                        // Not this run's: another job's, or this job's before its checkpoints were lost.
                        tracing::warn!(topic = %out.topic, "the output topic holds windows, but there is no checkpoint to resume from: every window is written again (keyed by window end, so compaction keeps the new ones)");
                    }
                    _ => {}
                }
                Some(transactions)
            }
        };
        Ok(KafkaRecords {
            producer,
            deliveries,
            topic: out.topic.clone(),
            sent: 0,
            transactions,
            skip_through_ms,
            started: fresh_start,
        })
    }

    fn settle(&self) -> io::Result<()> {
        match self.deliveries.failed() {
            0 => Ok(()),
            n => Err(io::Error::other(format!(
                "{n} window record(s) not delivered to {}",
                self.topic
            ))),
        }
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
        let message = BaseRecord::with_opaque_to(&self.topic, self.sent as usize)
            .key(&record.window_end)
            .payload(&value);
        // Never asked to stop: the record is queued or this is an error.
        if send(&self.producer, message, &|| false).map_err(io::Error::other)? == Sent::Queued {
            self.sent += 1;
        }
        if let Some(transactions) = self.transactions.as_mut() {
            transactions.added();
        }
        Ok(())
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
                "{n} window record(s) not delivered to {}",
                self.topic
            ))),
        }
    }
}

/// Writes every record to both writers.
pub(crate) struct Both(
    pub Box<dyn RecordWriter + Send>,
    pub Box<dyn RecordWriter + Send>,
);

impl RecordWriter for Both {
    fn write(&mut self, record: &WindowRecord) -> io::Result<()> {
        self.0.write(record)?;
        self.1.write(record)
    }

    fn position(&self) -> u64 {
        self.0.position()
    }

    fn closed(&self) -> bool {
        self.0.closed()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync()?;
        self.1.sync()
    }

    fn commit(&mut self) -> io::Result<()> {
        self.0.commit()?;
        self.1.commit()
    }

    fn tick(&mut self) -> io::Result<()> {
        self.0.tick()?;
        self.1.tick()
    }

    fn finish(&mut self) -> io::Result<()> {
        // Both, whatever the first says: the other still has records to deliver.
        let first = self.0.finish();
        let second = self.1.finish();
        first.and(second)
    }
}
