//! Kafka transactions, for the outputs that must hold every record once across crashes: the
//! dataflow's window topic (committed with each checkpoint) and the producer's tweets under
//! `--resume` (committed with their position). Writing them, and reading what they committed.
//!
//! A transactional id belongs to one job: a restarted run initialises with the same id, which
//! fences the run before it and aborts its open transaction, so a `read_committed` reader never
//! sees what a crashed run had not committed.

use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::{Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::client::{ClientError, Diagnostics, ReportingContext, create};
use crate::delivery::DeliveryContext;
use crate::properties::Properties;
use crate::{TIMEOUT, client_config};

/// The properties that make a producer transactional under `id`, its transactions aborted by the
/// broker when open longer than `timeout` (the user's properties, applied later, may change it).
pub fn transactional(id: &str, timeout: Duration) -> [(&'static str, String); 2] {
    [
        ("transactional.id", id.to_owned()),
        ("transaction.timeout.ms", timeout.as_millis().to_string()),
    ]
}

/// The open transaction of a transactional producer, and how old it may get.
pub struct Transactions {
    /// What the transactions write, for errors ("output topic windows").
    what: String,
    /// The `transaction.timeout.ms` in effect.
    timeout: Duration,
    /// Since when the open transaction holds records.
    opened: Option<Instant>,
}

impl Transactions {
    /// Initialises the producer's transactions (fencing an earlier producer with the same id and
    /// aborting its open transaction) and begins the first. `config` is the producer's.
    pub fn start(
        producer: &ThreadedProducer<DeliveryContext>,
        config: &ClientConfig,
        what: &str,
    ) -> Result<Transactions, ClientError> {
        let timeout = config
            .get("transaction.timeout.ms")
            .and_then(|ms| ms.parse::<u64>().ok())
            .map_or(Duration::from_secs(60), Duration::from_millis);
        let request = |step: &str| {
            let what = format!("{step} of {what}");
            move |source| ClientError::Request { what, source }
        };
        producer
            .init_transactions(TIMEOUT)
            .map_err(request("initialising transactions"))?;
        producer
            .begin_transaction()
            .map_err(request("beginning a transaction"))?;
        Ok(Transactions {
            what: what.to_owned(),
            timeout,
            opened: None,
        })
    }

    /// A record went into the open transaction.
    pub fn added(&mut self) {
        self.opened.get_or_insert_with(Instant::now);
    }

    /// Whether the open transaction has held records for a third of its timeout: it should commit
    /// now, leaving time for the commit itself, or the broker will abort it.
    pub fn is_old(&self) -> bool {
        self.opened
            .is_some_and(|at| at.elapsed() >= self.timeout / 3)
    }

    /// The `transaction.timeout.ms` in effect.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Commits the open transaction (flushing its records first) and begins the next.
    pub fn commit(
        &mut self,
        producer: &ThreadedProducer<DeliveryContext>,
    ) -> Result<(), ClientError> {
        self.commit_last(producer)?;
        producer
            .begin_transaction()
            .map_err(|source| ClientError::Request {
                what: format!("beginning a transaction of {}", self.what),
                source,
            })
    }

    /// Commits the open transaction and begins none. A failure names the likely causes: the broker
    /// aborted a transaction open too long, or another run with the same id took over.
    pub fn commit_last(
        &mut self,
        producer: &ThreadedProducer<DeliveryContext>,
    ) -> Result<(), ClientError> {
        let open_for = self.opened.take().map(|at| at.elapsed());
        producer
            .commit_transaction(TIMEOUT)
            .map_err(|source| ClientError::Request {
                what: format!(
                    "committing the transaction of {} (records in it for {:.1?}, \
                     transaction.timeout.ms {} ms; fenced means it was aborted for its age or \
                     another run with the same transactional id took over)",
                    self.what,
                    open_for.unwrap_or_default(),
                    self.timeout.as_millis()
                ),
                source,
            })
    }

    /// Aborts the open transaction: none of its records is seen by a `read_committed` reader.
    pub fn abort(
        &mut self,
        producer: &ThreadedProducer<DeliveryContext>,
    ) -> Result<(), ClientError> {
        self.opened = None;
        producer
            .abort_transaction(TIMEOUT)
            .map_err(|source| ClientError::Request {
                what: format!("aborting the transaction of {}", self.what),
                source,
            })
    }
}

/// A consumer that sees only committed records, assigned by hand (its group is never joined).
pub fn committed_reader(
    brokers: &str,
    group: &str,
    properties: &Properties,
) -> Result<BaseConsumer<ReportingContext>, ClientError> {
    let defaults = [
        ("group.id", group.to_owned()),
        ("enable.auto.commit", "false".to_owned()),
        ("isolation.level", "read_committed".to_owned()),
    ];
    create(
        &client_config(brokers, &defaults, properties),
        ReportingContext::new(Diagnostics::default()),
    )
}

/// Reads `topic`/`partition` from offset `from` up to `end` with a [`committed_reader`], handing
/// each record to `record`; an error once `within` passes without a record. With `end` the partition's end as that reader
/// sees it (`fetch_watermarks` of a `read_committed` consumer gives the last stable offset), an
/// open transaction of another producer is not waited for; with the high watermark (see
/// [`high_watermark`]) it is, until it commits or aborts.
pub fn read_committed(
    consumer: &BaseConsumer<ReportingContext>,
    topic: &str,
    partition: i32,
    (from, end): (i64, i64),
    within: Duration,
    record: &mut dyn FnMut(&BorrowedMessage<'_>),
) -> Result<(), ClientError> {
    let failed = |what: &str, source| ClientError::Request {
        what: format!("{what} {topic}/{partition}"),
        source,
    };
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, Offset::Offset(from))
        .map_err(|e| failed("assigning", e))?;
    consumer
        .assign(&assignment)
        .map_err(|e| failed("assigning", e))?;
    let mut deadline = Instant::now() + within;
    loop {
        let at = consumer
            .position()
            .ok()
            .and_then(|p| p.find_partition(topic, partition).map(|e| e.offset()));
        if matches!(at, Some(Offset::Offset(o)) if o >= end) || from >= end {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(failed("reading", KafkaError::Canceled));
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            deadline = Instant::now() + within;
            record(&m);
        }
    }
}

/// The keys of the records of `topic` whose timestamps are in `from_ms..=to_ms`, as a
/// `read_committed` reader sees them: each partition is read from the first offset at or after
/// `from_ms` to the first after `to_ms` (offsets-for-times; the end when there is none), so the
/// cost is what the topic holds of the period, give or take its disorder.
pub fn keys_between(
    brokers: &str,
    properties: &Properties,
    topic: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Vec<u8>>, ClientError> {
    let consumer = committed_reader(brokers, "tweetflow-recover-check", properties)?;
    let partitions = crate::metadata(&consumer, brokers, Some(topic), TIMEOUT)?
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len() as i32);
    let failed = |what: &str, source| ClientError::Request {
        what: format!("{what} of {topic}"),
        source,
    };
    // The first offset of each partition at or after `at_ms`; `None` when there is none.
    let offsets_at = |at_ms: i64| -> Result<Vec<Option<i64>>, ClientError> {
        let mut times = TopicPartitionList::new();
        for partition in 0..partitions {
            times
                .add_partition_offset(topic, partition, Offset::Offset(at_ms))
                .map_err(|e| failed("asking for the offsets", e))?;
        }
        let found = consumer
            .offsets_for_times(times, TIMEOUT)
            .map_err(|e| failed("asking for the offsets", e))?;
        (0..partitions)
            .map(|partition| {
                let entry = found
                    .find_partition(topic, partition)
                    .ok_or_else(|| failed("asking for the offsets", KafkaError::Canceled))?;
                entry
                    .error()
                    .map_err(|e| failed("asking for the offsets", e))?;
                Ok(match entry.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
            })
            .collect()
    };
    let starts = offsets_at(from_ms)?;
    let ends = offsets_at(to_ms.saturating_add(1))?;
    let mut keys = Vec::new();
    for partition in 0..partitions {
        let Some(start) = starts[partition as usize] else {
            continue; // nothing at or after from_ms
        };
        let end = match ends[partition as usize] {
            Some(end) => end,
            None => {
                crate::watermarks(&consumer, topic, partition, TIMEOUT)
                    .map_err(|e| failed("reading the offsets", e))?
                    .1
            }
        };
        read_committed(
            &consumer,
            topic,
            partition,
            (start, end),
            TIMEOUT,
            &mut |m| {
                let at = m.timestamp().to_millis().unwrap_or(i64::MIN);
                if (from_ms..=to_ms).contains(&at)
                    && let Some(key) = m.key()
                {
                    keys.push(key.to_vec());
                }
            },
        )?;
    }
    Ok(keys)
}

/// The high watermark of `topic`/`partition`: the end of its log, open transactions included
/// (a `read_committed` reader's own watermarks stop at the first open one).
pub fn high_watermark(
    brokers: &str,
    properties: &Properties,
    topic: &str,
    partition: i32,
) -> Result<i64, ClientError> {
    let defaults = [
        ("group.id", "tweetflow-watermarks".to_owned()),
        ("enable.auto.commit", "false".to_owned()),
        ("isolation.level", "read_uncommitted".to_owned()),
    ];
    let consumer: BaseConsumer<ReportingContext> = create(
        &client_config(brokers, &defaults, properties),
        ReportingContext::new(Diagnostics::default()),
    )?;
    crate::watermarks(&consumer, topic, partition, TIMEOUT)
        .map(|(_, high)| high)
        .map_err(|source| ClientError::Request {
            what: format!("reading the offsets of {topic}/{partition}"),
            source,
        })
}
