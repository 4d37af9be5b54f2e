//! Window records into a Kafka topic as well (`--output-topic`): the JSON record as value, the
//! window end as key, so a compacted topic keeps the last result of each window.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tweetflow_kafka::{
    ClientError, Deliveries, DeliveryContext, Diagnostics, Properties, ReportingContext, Sent,
    TIMEOUT, TopicSpec, client_config, create, ensure_topic, finish, metadata, producer, send,
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
    Transactional { id: String, resuming: bool },
}

pub(crate) struct KafkaRecords {
    producer: ThreadedProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
    topic: String,
    sent: u64,
    /// Transactional: the longest a transaction stays open, and since when the open one holds
    /// records (the broker aborts one older than `transaction.timeout.ms`).
    transaction: Option<(Duration, Option<Instant>)>,
    /// Windows ending at or before this are in the topic already (a resumed run).
    skip_through_ms: Option<i64>,
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
        let resuming = match &delivery {
            Delivery::Idempotent => None,
            Delivery::Transactional { id, resuming } => {
                defaults.push(("transactional.id", id.clone()));
                defaults.push((
                    "transaction.timeout.ms",
                    TRANSACTION_TIMEOUT.as_millis().to_string(),
                ));
                Some(*resuming)
            }
        };
        let config = client_config(brokers, &defaults, &out.properties);
        // A third of the timeout that takes effect (a --producer-property may lower it) leaves
        // time for the commit itself.
        let max_open = config
            .get("transaction.timeout.ms")
            .and_then(|ms| ms.parse::<u64>().ok())
            .map_or(TRANSACTION_TIMEOUT, Duration::from_millis)
            / 3;
        // A refused window record fails the run; its bytes need not be kept.
        let (producer, deliveries, _) = producer(&config, "window record", false)?;
        let request = |what: &str| {
            let what = format!("{what} of output topic {}", out.topic);
            move |source| ClientError::Request { what, source }
        };
        let mut skip_through_ms = None;
        if let Some(resuming) = resuming {
            producer
                .init_transactions(TIMEOUT)
                .map_err(request("initialising transactions"))?;
            let last = last_window_end(brokers, &out.topic, &out.properties)?;
            match last.map(tweet::time::format_rfc3339) {
                Some(through) if resuming => {
                    tracing::info!(topic = %out.topic, %through, "the output topic holds windows already; they are not written again");
                    skip_through_ms = last;
                }
                // Not this run's: another job's, or this job's before its checkpoints were lost.
                Some(through) => {
                    tracing::warn!(topic = %out.topic, %through, "the output topic holds windows, but there is no checkpoint to resume from: every window is written again (keyed by window end, so compaction keeps the new ones)");
                }
                None => {}
            }
            producer
                .begin_transaction()
                .map_err(request("beginning a transaction"))?;
        }
        Ok(KafkaRecords {
            producer,
            deliveries,
            topic: out.topic.clone(),
            sent: 0,
            transaction: resuming.map(|_| (max_open, None)),
            skip_through_ms,
        })
    }

    /// Commits the open transaction and begins the next. A failure names the likely cause: the
    /// broker aborted a transaction open too long, or another instance of the job took over.
    fn commit_transaction(&mut self) -> io::Result<()> {
        let Some((max_open, opened)) = self.transaction.as_mut() else {
            return Ok(());
        };
        let open_for = opened.take().map(|at| at.elapsed());
        let limit = *max_open * 3;
        self.producer.commit_transaction(TIMEOUT).map_err(|e| {
            io::Error::other(format!(
                "committing the transaction (records in it for {:.1?}, transaction.timeout.ms {} ms; \
                 fenced means an older one was aborted or another run of the job took over): {e}",
                open_for.unwrap_or_default(),
                limit.as_millis()
            ))
        })?;
        self.settle()
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

/// The end (in ms) of the last window a `read_committed` consumer sees in `topic`: a resumed run
/// does not write those again. Records are keyed by window end; the tail of each partition is read,
/// further back while it holds no committed record (an aborted transaction at its end).
fn last_window_end(
    brokers: &str,
    topic: &str,
    properties: &Properties,
) -> Result<Option<i64>, ClientError> {
    let defaults = [
        ("group.id", "tweetflow-output-check".to_owned()),
        ("enable.auto.commit", "false".to_owned()),
        ("isolation.level", "read_committed".to_owned()),
    ];
    let config = client_config(brokers, &defaults, properties);
    let consumer: BaseConsumer<ReportingContext> =
        create(&config, ReportingContext::new(Diagnostics::default()))?;
    let request = |what: &'static str| {
        move |source| ClientError::Request {
            what: format!("{what} of output topic {topic}"),
            source,
        }
    };
    let partitions = metadata(&consumer, brokers, Some(topic), TIMEOUT)?
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len() as i32);
    let mut last = None;
    for partition in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, TIMEOUT)
            .map_err(request("reading the offsets"))?;
        if high <= low {
            continue; // nothing in it
        }
        let mut back = 64;
        loop {
            let from = (high - back).max(low);
            let mut assignment = TopicPartitionList::new();
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(from))
                .map_err(request("assigning"))?;
            consumer.assign(&assignment).map_err(request("assigning"))?;
            let mut found = None;
            let deadline = Instant::now() + TIMEOUT;
            loop {
                let at = consumer
                    .position()
                    .ok()
                    .and_then(|p| p.find_partition(topic, partition).map(|e| e.offset()));
                if matches!(at, Some(Offset::Offset(o)) if o >= high) {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(ClientError::Request {
                        what: format!(
                            "reading the last windows of output topic {topic}/{partition}"
                        ),
                        source: rdkafka::error::KafkaError::Canceled,
                    });
                }
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                    let end = m
                        .key()
                        .and_then(|k| std::str::from_utf8(k).ok())
                        .and_then(tweet::time::parse_rfc3339);
                    if let Some(end) = end {
                        found = found.max(Some(end as i64));
                    }
                }
            }
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
        if let Some((_, opened)) = self.transaction.as_mut() {
            opened.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    fn commit(&mut self) -> io::Result<()> {
        if self.transaction.is_none() {
            return Ok(());
        }
        self.commit_transaction()?;
        self.producer.begin_transaction().map_err(io_error)
    }

    /// A transaction holding records for a third of its timeout commits without waiting for the
    /// next checkpoint (a long --checkpoint-interval, a stalled input): the topic then runs ahead
    /// of the checkpoint, which a resumed run handles as after a crash between the two.
    fn tick(&mut self) -> io::Result<()> {
        match self.transaction {
            Some((max_open, Some(opened))) if opened.elapsed() >= max_open => self.commit(),
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.transaction.is_some() {
            return self.commit_transaction();
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
