//! Kafka input: each worker owns the partitions `p` with `p % workers == index` and reads them with
//! a manually assigned consumer — no consumer group, no rebalancing, no commits — so ownership is a
//! pure function every process computes alike (as Arroyo and Materialize do).
//!
//! Per-partition position (`next_offset`) and watermark live in the ingest operator's readers, which
//! is the state a later resume-after-crash feature checkpoints; Kafka offsets are never committed.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use thiserror::Error;

use super::{MAX_MESSAGE_BYTES, Next, OVERSIZED_HEAD_BYTES, Partition};

/// How long start-up may wait for the brokers before it is an error rather than a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum KafkaSourceError {
    #[error("cannot create a Kafka consumer: {0}")]
    Client(KafkaError),
    #[error("no answer from Kafka at {brokers} within {}s (is it running? scripts/kafka.sh start): {source}", CONNECT_TIMEOUT.as_secs())]
    Unreachable { brokers: String, source: KafkaError },
    #[error("topic {topic} does not exist on {brokers}")]
    UnknownTopic { topic: String, brokers: String },
    #[error("reading the offsets of {topic}/{partition}: {source}")]
    Watermarks {
        topic: String,
        partition: i32,
        source: KafkaError,
    },
    #[error("assigning partitions of {topic}: {source}")]
    Assign { topic: String, source: KafkaError },
}

/// Where an unbounded run starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Start {
    Earliest,
    Latest,
}

#[derive(Clone, Debug)]
pub struct KafkaInput {
    pub brokers: String,
    pub topic: String,
    pub start: Start,
    /// Read up to the high watermarks seen at start, then finish.
    pub bounded: bool,
    /// librdkafka properties applied last (`-X key=value`).
    pub properties: Vec<(String, String)>,
}

impl KafkaInput {
    fn consumer(&self) -> Result<BaseConsumer, KafkaSourceError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            // Required by librdkafka even with manual assignment; nothing is ever committed.
            .set("group.id", "tweetflow-dataflow")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.max.bytes", (2 * MAX_MESSAGE_BYTES).to_string())
            .set(
                "receive.message.max.bytes",
                (2 * MAX_MESSAGE_BYTES + 1024).to_string(),
            )
            // librdkafka pre-fetches until a partition's queue holds queued.min.messages (100k by
            // default: 360 MB of tweets) and then pauses fetching for fetch.queue.backoff.ms
            // (1 s). A worker drains its queues well within that second and then starves: a
            // 1-worker bounded run spent ~45 % of its time parked. A smaller queue, refilled
            // within milliseconds, gave 1.9x the rate (2 workers: 2.9x) at a quarter of the memory
            // (scripts/bench.sh; README, Performance).
            .set("queued.min.messages", "5000")
            .set("queued.max.messages.kbytes", "8192")
            .set("fetch.queue.backoff.ms", "5");
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config.create().map_err(KafkaSourceError::Client)
    }

    /// The topic's partition count; the clear errors for a broker that is down or a topic that is
    /// missing come from here, before any worker starts.
    pub fn partition_count(&self) -> Result<usize, KafkaSourceError> {
        let consumer = self.consumer()?;
        let metadata = consumer
            .fetch_metadata(Some(&self.topic), CONNECT_TIMEOUT)
            .map_err(|source| KafkaSourceError::Unreachable {
                brokers: self.brokers.clone(),
                source,
            })?;
        let topic = metadata.topics().iter().find(|t| t.name() == self.topic);
        match topic {
            Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                Ok(t.partitions().len())
            }
            _ => Err(KafkaSourceError::UnknownTopic {
                topic: self.topic.clone(),
                brokers: self.brokers.clone(),
            }),
        }
    }

    /// Opens the partitions one worker owns, sharing one consumer.
    pub(crate) fn open(
        &self,
        partitions: &[i32],
    ) -> Result<Vec<Box<dyn Partition>>, KafkaSourceError> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let consumer = Arc::new(self.consumer()?);
        let mut assignment = TopicPartitionList::new();
        let mut ends = Vec::with_capacity(partitions.len());
        for &partition in partitions {
            let (low, high) = consumer
                .fetch_watermarks(&self.topic, partition, CONNECT_TIMEOUT)
                .map_err(|source| KafkaSourceError::Watermarks {
                    topic: self.topic.clone(),
                    partition,
                    source,
                })?;
            tracing::debug!(topic = %self.topic, partition, low, high, "watermarks");
            let start = match self.start {
                Start::Earliest => low,
                Start::Latest => high,
            };
            let assign_error = |source| KafkaSourceError::Assign {
                topic: self.topic.clone(),
                source,
            };
            assignment
                .add_partition_offset(&self.topic, partition, Offset::Offset(start))
                .map_err(assign_error)?;
            ends.push((partition, start, self.bounded.then_some(high)));
        }
        consumer
            .assign(&assignment)
            .map_err(|source| KafkaSourceError::Assign {
                topic: self.topic.clone(),
                source,
            })?;
        let mut opened: Vec<Box<dyn Partition>> = Vec::with_capacity(ends.len());
        for &(partition, start, end) in &ends {
            let queue = consumer
                .split_partition_queue(&self.topic, partition)
                .ok_or_else(|| KafkaSourceError::Assign {
                    topic: self.topic.clone(),
                    source: KafkaError::Canceled,
                })?;
            opened.push(Box::new(KafkaPartition {
                consumer: consumer.clone(),
                queue,
                topic: self.topic.clone(),
                partition,
                source: format!("{}/{partition}", self.topic),
                next_offset: start,
                end,
                last_offset: None,
                message: Vec::new(),
            }));
        }
        // Fetching starts with `assign`, before the queues are split: what arrived in between sits
        // on the consumer's main queue. Seeking each partition back to its start refetches it into
        // its own queue; the early copies are dropped there, unread.
        for &(partition, start, _) in &ends {
            consumer
                .seek(
                    &self.topic,
                    partition,
                    Offset::Offset(start),
                    CONNECT_TIMEOUT,
                )
                .map_err(|source| KafkaSourceError::Assign {
                    topic: self.topic.clone(),
                    source,
                })?;
        }
        Ok(opened)
    }
}

/// One assigned partition, read through its own queue of the worker's consumer.
struct KafkaPartition {
    consumer: Arc<BaseConsumer>,
    topic: String,
    partition: i32,
    queue: rdkafka::consumer::base_consumer::PartitionQueue<DefaultConsumerContext>,
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
}
