//! Kafka input: each worker owns the partitions `p` with `p % workers == index` and reads them with
//! a manually assigned consumer — no consumer group, no rebalancing, no commits — so ownership is a
//! pure function every process computes alike (as Arroyo and Materialize do).
//!
//! Partitions added to the topic during an unbounded run join the same way: a thread per process
//! watches the topic's partition count, and each worker assigns the new partitions it owns from
//! their earliest offset; their watermarks start like any partition's.
//!
//! Per-partition position (`next_offset`) and watermark live in the ingest operator's readers, which
//! is the state a later resume-after-crash feature checkpoints; Kafka offsets are never committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use thiserror::Error;
use tweet::input::{MAX_MESSAGE_BYTES, OVERSIZED_HEAD_BYTES};
use tweetflow_kafka::{
    ClientError, Diagnostics, Properties, ReportingContext, TIMEOUT, client_config, create,
    partition_count,
};

use super::{Discover, Next, Partition};

#[derive(Debug, Error)]
pub enum KafkaSourceError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("reading the offsets of {topic}/{partition}: {source}")]
    Watermarks {
        topic: String,
        partition: i32,
        source: KafkaError,
    },
    #[error("assigning partitions of {topic}: {source}")]
    Assign { topic: String, source: KafkaError },
    #[error("cannot start the partition-discovery thread: {0}")]
    Thread(std::io::Error),
    /// Reading on from the end, or from the start, would skip or repeat records: a person must
    /// decide (a new --checkpoint directory starts the job afresh).
    #[error(
        "the checkpoint's offset {offset} of {topic}/{partition} is past its end {high}: the \
         topic was deleted and created again, or its log was truncated"
    )]
    PastEnd {
        topic: String,
        partition: i32,
        offset: i64,
        high: i64,
    },
}

/// Where a run without a checkpoint starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Earliest,
    Latest,
    /// The consumer group's committed offsets (`group_id`); a partition without one starts at
    /// its earliest offset.
    Committed,
    /// The first record whose timestamp (the tweet's event time, as the producer writes it) is at
    /// or after this many ms since the epoch; a partition without one starts at its end.
    At(i64),
}

#[derive(Clone, Debug)]
pub struct KafkaInput {
    pub brokers: String,
    pub topic: String,
    pub start: Start,
    /// Read up to the high watermarks seen at start, then finish.
    pub bounded: bool,
    /// librdkafka properties of the consumer, applied last.
    pub properties: Properties,
    /// How often an unbounded run looks for partitions added to the topic.
    pub discovery_interval: Duration,
    /// The consumer group whose offsets `Start::Committed` reads and checkpoints commit (so that
    /// lag tools see the job); partitions stay manually assigned, the group is never joined.
    pub group_id: Option<String>,
}

type Consumer_ = BaseConsumer<ReportingContext>;

impl KafkaInput {
    fn consumer(&self) -> Result<Consumer_, KafkaSourceError> {
        let fetch_max = (2 * MAX_MESSAGE_BYTES).to_string();
        let receive_max = (2 * MAX_MESSAGE_BYTES + 1024).to_string();
        let defaults = [
            // Required by librdkafka even with manual assignment; commits are explicit (checkpoints).
            (
                "group.id",
                self.group_id
                    .clone()
                    .unwrap_or_else(|| "tweetflow-dataflow".to_owned()),
            ),
            ("enable.auto.commit", "false".to_owned()),
            ("enable.auto.offset.store", "false".to_owned()),
            ("enable.partition.eof", "false".to_owned()),
            ("auto.offset.reset", "earliest".to_owned()),
            ("fetch.max.bytes", fetch_max),
            ("receive.message.max.bytes", receive_max),
            // librdkafka pre-fetches until a partition's queue holds queued.min.messages (100k by
            // default: 360 MB of tweets) and then pauses fetching for fetch.queue.backoff.ms
            // (1 s). A worker drains its queues well within that second and then starves: a
            // 1-worker bounded run spent ~45 % of its time parked. A smaller queue, refilled
            // within milliseconds, gave 1.9x the rate (2 workers: 2.9x) at a quarter of the memory
            // (scripts/bench.sh; README, Performance).
            ("queued.min.messages", "5000".to_owned()),
            ("queued.max.messages.kbytes", "8192".to_owned()),
            ("fetch.queue.backoff.ms", "5".to_owned()),
        ];
        let config = client_config(&self.brokers, &defaults, &self.properties);
        Ok(create(
            &config,
            ReportingContext::new(Diagnostics::default()),
        )?)
    }

    /// The topic's partition count; the clear errors for a broker that is down or a topic that is
    /// missing come from here, before any worker starts.
    pub fn partition_count(&self) -> Result<usize, KafkaSourceError> {
        let consumer = self.consumer()?;
        Ok(partition_count(
            &consumer,
            &self.brokers,
            &self.topic,
            TIMEOUT,
        )?)
    }

    /// Starts a thread that looks for new partitions every `discovery_interval` and publishes the
    /// partition count in the returned cell, until `stop` is set. Unbounded runs only.
    pub(crate) fn watch_partitions(
        &self,
        known: usize,
        stop: Arc<AtomicBool>,
    ) -> Result<Arc<AtomicUsize>, KafkaSourceError> {
        let count = Arc::new(AtomicUsize::new(known));
        let consumer = self.consumer()?;
        let (cell, input) = (count.clone(), self.clone());
        std::thread::Builder::new()
            .name("tweetflow:partitions".to_owned())
            .spawn(move || {
                let tick = Duration::from_millis(100);
                let mut waited = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited < input.discovery_interval {
                        continue;
                    }
                    waited = Duration::ZERO;
                    match partition_count(&consumer, &input.brokers, &input.topic, TIMEOUT) {
                        Ok(now) if now > cell.load(Ordering::Relaxed) => {
                            tracing::info!(topic = %input.topic, from = cell.load(Ordering::Relaxed), to = now, "the topic has new partitions; they are read from their earliest offset");
                            cell.store(now, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::debug!(%error, "partition discovery: no answer this time")
                        }
                    }
                }
            })
            .map_err(KafkaSourceError::Thread)?;
        Ok(count)
    }

    /// Opens the partitions one worker owns at start, sharing one consumer: from `resumed`
    /// offsets (a checkpoint's) where it has one, else from `start` (from the earliest offset when
    /// resuming: a partition the checkpoint does not know joined since).
    pub(crate) fn open(
        &self,
        partitions: &[i32],
        resumed: &std::collections::HashMap<i32, i64>,
    ) -> Result<Vec<Box<dyn Partition>>, KafkaSourceError> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let consumer = Arc::new(self.consumer()?);
        let chosen = if resumed.is_empty() {
            self.chosen_starts(&consumer, partitions)?
        } else {
            HashMap::new()
        };
        let mut starts = Vec::with_capacity(partitions.len());
        for &partition in partitions {
            let (low, high) =
                tweetflow_kafka::watermarks(&consumer, &self.topic, partition, TIMEOUT).map_err(
                    |source| KafkaSourceError::Watermarks {
                        topic: self.topic.clone(),
                        partition,
                        source,
                    },
                )?;
            tracing::debug!(topic = %self.topic, partition, low, high, "watermarks");
            let start = match (resumed.get(&partition), self.start) {
                (Some(&at), _) if at < low => {
                    tracing::warn!(topic = %self.topic, partition, checkpoint = at, earliest = low, "records after the checkpoint are gone (retention?): reading from the earliest left");
                    low
                }
                (Some(&at), _) if at > high => {
                    return Err(KafkaSourceError::PastEnd {
                        topic: self.topic.clone(),
                        partition,
                        offset: at,
                        high,
                    });
                }
                (Some(&at), _) => at,
                (None, _) if !resumed.is_empty() => low,
                (None, Start::Earliest) => low,
                (None, Start::Latest) => high,
                (None, Start::Committed) => match chosen.get(&partition) {
                    Some(&at) if at < low => {
                        tracing::warn!(topic = %self.topic, partition, committed = at, earliest = low, "the committed offset is gone (retention?): from the earliest left");
                        low
                    }
                    Some(&at) => at.min(high),
                    None => {
                        tracing::info!(topic = %self.topic, partition, "no committed offset: from the earliest");
                        low
                    }
                },
                (None, Start::At(_)) => chosen
                    .get(&partition)
                    .map_or(high, |&at| at.clamp(low, high)),
            };
            starts.push((
                partition,
                Offset::Offset(start),
                self.bounded.then_some(high),
            ));
        }
        self.assign(&consumer, &starts, false)
    }

    /// The offsets `--start committed` or `--start TIME` resolve to, for the partitions that have
    /// one.
    fn chosen_starts(
        &self,
        consumer: &Consumer_,
        partitions: &[i32],
    ) -> Result<HashMap<i32, i64>, KafkaSourceError> {
        let asked = match self.start {
            Start::Committed => Offset::Invalid,
            Start::At(ms) => Offset::Offset(ms),
            Start::Earliest | Start::Latest => return Ok(HashMap::new()),
        };
        let assign_error = |source| KafkaSourceError::Assign {
            topic: self.topic.clone(),
            source,
        };
        let mut list = TopicPartitionList::new();
        for &partition in partitions {
            list.add_partition_offset(&self.topic, partition, asked)
                .map_err(assign_error)?;
        }
        let found = match self.start {
            Start::Committed => consumer.committed_offsets(list, TIMEOUT),
            _ => consumer.offsets_for_times(list, TIMEOUT),
        }
        .map_err(assign_error)?;
        let mut chosen = HashMap::new();
        for e in found.elements_for_topic(&self.topic) {
            // A partition whose answer is an error must not be read from a guess.
            e.error().map_err(assign_error)?;
            if let Offset::Offset(at) = e.offset() {
                chosen.insert(e.partition(), at);
            }
        }
        Ok(chosen)
    }

    /// Assigns `(partition, start, end)` on `consumer` (added to what it has when `incremental`)
    /// and opens them.
    fn assign(
        &self,
        consumer: &Arc<Consumer_>,
        starts: &[(i32, Offset, Option<i64>)],
        incremental: bool,
    ) -> Result<Vec<Box<dyn Partition>>, KafkaSourceError> {
        let mut assignment = TopicPartitionList::new();
        let assign_error = |source| KafkaSourceError::Assign {
            topic: self.topic.clone(),
            source,
        };
        for &(partition, start, _) in starts {
            assignment
                .add_partition_offset(&self.topic, partition, start)
                .map_err(assign_error)?;
        }
        if incremental {
            consumer.incremental_assign(&assignment)
        } else {
            consumer.assign(&assignment)
        }
        .map_err(assign_error)?;
        let mut opened: Vec<Box<dyn Partition>> = Vec::with_capacity(starts.len());
        for &(partition, start, end) in starts {
            let queue = consumer
                .split_partition_queue(&self.topic, partition)
                .ok_or(KafkaError::Canceled)
                .map_err(assign_error)?;
            opened.push(Box::new(KafkaPartition {
                consumer: consumer.clone(),
                queue,
                topic: self.topic.clone(),
                partition,
                source: format!("{}/{partition}", self.topic),
                // A partition that joined starts at its beginning, which librdkafka resolves.
                next_offset: match start {
                    Offset::Offset(at) => at,
                    _ => 0,
                },
                end,
                last_offset: None,
                message: Vec::new(),
            }));
        }
        // Fetching starts with `assign`, before the queues are split: what arrived in between sits
        // on the consumer's main queue. Seeking each partition back to its start refetches it into
        // its own queue; the early copies are dropped there, unread.
        for &(partition, start, _) in starts {
            consumer
                .seek(&self.topic, partition, start, TIMEOUT)
                .map_err(assign_error)?;
        }
        Ok(opened)
    }
}

/// A worker's share of the partitions that join the topic during the run.
pub(crate) struct Joining {
    input: KafkaInput,
    count: Arc<AtomicUsize>,
    known: usize,
    worker: usize,
    peers: usize,
    /// The checkpoint's next offsets: a partition it knows that joins late (the metadata at start
    /// was stale) goes on from there, not from its beginning.
    resumed: Arc<HashMap<i32, i64>>,
    /// A consumer of its own, made when partitions first join (the worker's first consumer
    /// stays with its first partitions); later ones are added to it.
    consumer: Option<Arc<Consumer_>>,
}

impl Joining {
    pub fn new(
        input: KafkaInput,
        count: Arc<AtomicUsize>,
        known: usize,
        (worker, peers): (usize, usize),
        resumed: Arc<HashMap<i32, i64>>,
    ) -> Joining {
        Joining {
            input,
            count,
            known,
            worker,
            peers,
            resumed,
            consumer: None,
        }
    }
}

impl Discover for Joining {
    fn discover(&mut self) -> Vec<Box<dyn Partition>> {
        let now = self.count.load(Ordering::Relaxed);
        if now <= self.known {
            return Vec::new();
        }
        let mine: Vec<i32> = (self.known..now)
            .filter(|p| p % self.peers == self.worker)
            .map(|p| p as i32)
            .collect();
        self.known = now;
        if mine.is_empty() {
            return Vec::new();
        }
        tracing::info!(worker = self.worker, partitions = ?mine, topic = %self.input.topic, "new partitions joined");
        // From their beginning, resolved by librdkafka: asking the broker for their offsets here
        // would block the worker, and this consumer may not know of them yet.
        let starts: Vec<(i32, Offset, Option<i64>)> = mine
            .iter()
            .map(|&p| match self.resumed.get(&p) {
                Some(&next) => (p, Offset::Offset(next), None),
                None => (p, Offset::Beginning, None),
            })
            .collect();
        let opened = match &self.consumer {
            Some(consumer) => self.input.assign(consumer, &starts, true),
            None => self.input.consumer().and_then(|c| {
                let consumer = Arc::new(c);
                self.consumer = Some(consumer.clone());
                self.input.assign(&consumer, &starts, false)
            }),
        };
        opened.unwrap_or_else(|e| {
            tracing::error!(worker = self.worker, error = %e, "cannot open new partitions");
            vec![Box::new(super::Broken {
                source: self.input.topic.clone(),
                error: Some(e.to_string()),
            })]
        })
    }
}

/// One assigned partition, read through its own queue of the worker's consumer.
struct KafkaPartition {
    consumer: Arc<Consumer_>,
    topic: String,
    partition: i32,
    queue: PartitionQueue<ReportingContext>,
    source: String,
    /// The next offset to read: the position a checkpoint would keep.
    next_offset: i64,
    /// Bounded runs stop here (the high watermark at start).
    end: Option<i64>,
    last_offset: Option<i64>,
    /// The message returned last; copied out of librdkafka's buffer so it outlives the poll.
    message: Vec<u8>,
}

impl KafkaPartition {
    /// The next offset librdkafka will fetch for this partition, when it knows one.
    fn fetch_position(&self) -> Option<i64> {
        let positions = self.consumer.position().ok()?;
        match positions
            .find_partition(&self.topic, self.partition)?
            .offset()
        {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        }
    }
}

impl Partition for KafkaPartition {
    fn next(&mut self) -> Next<'_> {
        if self.end.is_some_and(|end| self.next_offset >= end) {
            return Next::Done;
        }
        match self.queue.poll(Duration::ZERO) {
            None => {
                // Serve the consumer's main queue too (errors, statistics): nothing else does.
                match self.consumer.poll(Duration::ZERO) {
                    Some(Err(error)) => {
                        tracing::warn!(%error, source = %self.source, "kafka consumer")
                    }
                    Some(Ok(early)) => {
                        tracing::debug!(
                            offset = early.offset(),
                            "dropped a pre-split copy, refetched after the seek"
                        )
                    }
                    None => {}
                }
                // Offsets that are never delivered (transaction markers, aborted or compacted
                // records) must not keep a bounded run waiting: the fetch position says when the
                // partition is past its end.
                if let Some(end) = self.end
                    && self.fetch_position().is_some_and(|p| p >= end)
                {
                    self.next_offset = end;
                    return Next::Done;
                }
                Next::Idle
            }
            Some(Err(error)) => {
                // Transient broker errors: librdkafka retries; say so and try again later.
                tracing::warn!(%error, source = %self.source, "kafka partition");
                Next::Idle
            }
            Some(Ok(message)) => {
                self.last_offset = Some(message.offset());
                self.next_offset = message.offset() + 1;
                // A record without a value reads as an empty, blank message.
                let payload = message.payload().unwrap_or_default();
                self.message.clear();
                if payload.len() > MAX_MESSAGE_BYTES {
                    self.message
                        .extend_from_slice(&payload[..OVERSIZED_HEAD_BYTES]);
                    return Next::Oversized {
                        head: &self.message,
                        len: payload.len() as u64,
                    };
                }
                self.message.extend_from_slice(payload);
                Next::Message(&self.message)
            }
        }
    }

    fn position(&mut self) -> String {
        match self.last_offset {
            Some(offset) => format!("{}/{offset}", self.source),
            None => self.source.clone(),
        }
    }

    fn source(&self) -> &str {
        &self.source
    }

    fn offset(&self) -> Option<(i32, i64)> {
        Some((self.partition, self.next_offset))
    }

    fn label(&self) -> String {
        self.partition.to_string()
    }

    fn lag(&self) -> Option<i64> {
        let high =
            tweetflow_kafka::cached_high_watermark(&self.consumer, &self.topic, self.partition)?;
        Some((high - self.next_offset).max(0))
    }
}
