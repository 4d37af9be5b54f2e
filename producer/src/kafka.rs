//! The Kafka side of the producer (CONTRACT section 5): each tweet is written as its raw bytes, keyed
//! by its id and stamped with its event time; every other message is counted, logged and kept in a
//! dead-letter file, never written to the tweet topic.
//!
//! Delivery is librdkafka's idempotent producer with `acks=all`: a record counts as delivered only
//! when its delivery report says so, and `finish` flushes before reporting, so an interrupted run
//! never claims a record the broker did not acknowledge.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use serde::Serialize;
use thiserror::Error;
use tweet::Message;

/// How long topic creation and the final flush may take before the run reports failure.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum KafkaSinkError {
    #[error("-X {0:?} is not of the form key=value")]
    Property(String),
    #[error("cannot create the Kafka client: {0}")]
    Client(KafkaError),
    #[error(
        "cannot create topic {topic} on {brokers} (is the broker up? scripts/kafka.sh start): {source}"
    )]
    Topic {
        topic: String,
        brokers: String,
        source: Box<KafkaError>,
    },
    #[error("producing to Kafka: {0}")]
    Produce(KafkaError),
    #[error("writing the dead-letter file: {0}")]
    DeadLetter(io::Error),
}

/// Where and how to write.
#[derive(Clone, Debug)]
pub struct KafkaOptions {
    pub brokers: String,
    pub topic: String,
    /// Used when the topic has to be created.
    pub partitions: i32,
    pub replication: i32,
    /// librdkafka properties applied last (`-X key=value`), as kcat and vector do.
    pub properties: Vec<(String, String)>,
}

/// `key=value` for `-X`.
pub fn parse_property(s: &str) -> Result<(String, String), KafkaSinkError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(KafkaSinkError::Property(s.to_owned())),
    }
}

fn client_config(options: &KafkaOptions) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &options.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "20")
        // Java clients hash keys with murmur2: the same tweet id lands on the same partition.
        .set("partitioner", "murmur2_random")
        .set("message.max.bytes", "16777216");
    for (key, value) in &options.properties {
        config.set(key, value);
    }
    config
}

/// Creates the topic unless it exists (the seed made users do this by hand).
pub fn ensure_topic(options: &KafkaOptions) -> Result<(), KafkaSinkError> {
    let topic_error = |source| KafkaSinkError::Topic {
        topic: options.topic.clone(),
        brokers: options.brokers.clone(),
        source: Box::new(source),
    };
    let admin: AdminClient<_> = client_config(options)
        .create()
        .map_err(KafkaSinkError::Client)?;
    let topic = NewTopic::new(
        &options.topic,
        options.partitions,
        TopicReplication::Fixed(options.replication),
    )
    .set("max.message.bytes", "16777216")
    // Record timestamps are event times, which for archives are years old: time-based
    // retention would delete them as soon as they arrive.
    .set("retention.ms", "-1");
    let admin_options = AdminOptions::new()
        .request_timeout(Some(TIMEOUT))
        .operation_timeout(Some(TIMEOUT));
    let results = futures_executor::block_on(admin.create_topics([&topic], &admin_options))
        .map_err(topic_error)?;
    for result in results {
        match result {
            Ok(name) => {
                tracing::info!(topic = %name, partitions = options.partitions, "created topic")
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(topic = %options.topic, "topic exists")
            }
            Err((_, code)) => return Err(topic_error(KafkaError::AdminOp(code))),
        }
    }
    Ok(())
}

/// Delivery reports, counted from librdkafka's background thread.
#[derive(Default)]
struct Deliveries {
    delivered: AtomicU64,
    failed: AtomicU64,
}

#[derive(Clone, Default)]
struct Context(Arc<Deliveries>);

impl ClientContext for Context {}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.delivered.fetch_add(1, Ordering::Relaxed),
            Err((error, _)) => {
                tracing::error!(%error, "record not delivered");
                self.0.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// What happened to every message given to the writer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub delivered: u64,
    pub failed: u64,
    /// Sent but neither acknowledged nor failed when the flush timed out.
    pub unconfirmed: u64,
    /// Messages that are not tweets (notices, blank, malformed, rejected): not written.
    pub skipped: u64,
    /// Tweets in hand when a stop request came while Kafka's queue was full: never sent. A file
    /// can be replayed; a live stream's are gone, so they are counted and logged.
    pub unsent: u64,
}

impl Delivery {
    pub fn complete(&self) -> bool {
        self.failed == 0 && self.unconfirmed == 0
    }
}

#[derive(Serialize)]
struct DeadLetter<'a> {
    position: &'a str,
    class: &'a str,
    reason: &'a str,
    raw: &'a str,
}

/// Writes tweets to one topic.
pub struct TweetWriter {
    producer: ThreadedProducer<Context>,
    stop: Arc<AtomicBool>,
    deliveries: Arc<Deliveries>,
    topic: String,
    sent: u64,
    skipped: u64,
    unsent: u64,
    dead_letters: Option<BufWriter<File>>,
    last_warning: Option<Instant>,
}

impl TweetWriter {
    /// `stop` is the shutdown flag: a write waiting for room in a full queue gives up when it is set.
    pub fn connect(
        stop: Arc<AtomicBool>,
        options: &KafkaOptions,
        dead_letter: Option<&Path>,
    ) -> Result<TweetWriter, KafkaSinkError> {
        ensure_topic(options)?;
        let context = Context::default();
        let deliveries = context.0.clone();
        let producer = client_config(options)
            .create_with_context(context)
            .map_err(KafkaSinkError::Client)?;
        let dead_letters = match dead_letter {
            Some(path) => Some(BufWriter::new(
                File::create(path).map_err(KafkaSinkError::DeadLetter)?,
            )),
            None => None,
        };
        Ok(TweetWriter {
            producer,
            stop,
            deliveries,
            topic: options.topic.clone(),
            sent: 0,
            skipped: 0,
            unsent: 0,
            dead_letters,
            last_warning: None,
        })
    }

    /// Classifies one message and, when it is a tweet, queues it for delivery. `position` says where
    /// it came from (file:line) for logs and dead letters.
    /// `before_send` sees the tweet's event time first: replay paces itself there.
    pub fn write(
        &mut self,
        message: &[u8],
        position: &dyn Fn() -> String,
        before_send: &mut dyn FnMut(u64),
    ) -> Result<(), KafkaSinkError> {
        let (class, reason) = match tweet::classify(message) {
            Message::Tweet(tweet) => {
                before_send(tweet.event_ms);
                let mut record = BaseRecord::to(&self.topic)
                    .payload(message)
                    .timestamp(tweet.event_ms as i64);
                // No id, no key (a null key spreads such tweets instead of hashing them together).
                if let Some(id) = tweet.id.as_deref() {
                    record = record.key(id);
                }
                loop {
                    match self.producer.send(record) {
                        Ok(()) => break,
                        // The local queue is full: wait for deliveries to make room.
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                            // A broker that is down keeps the queue full; a stop request must
                            // still be heard. The record was never sent, so nothing is lost.
                            if self.stop.load(Ordering::Relaxed) {
                                self.unsent += 1;
                                tracing::warn!(position = %position(), "stopping with Kafka's queue full: tweet not sent");
                                return Ok(());
                            }
                            record = back;
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err((error, _)) => return Err(KafkaSinkError::Produce(error)),
                    }
                }
                self.sent += 1;
                return Ok(());
            }
            Message::Blank => ("blank", String::new()),
            Message::Notice { kind, .. } => ("notice", kind.key().to_owned()),
            Message::Malformed(reason) => ("malformed", reason),
            Message::Rejected(reason) => ("rejected", reason.to_owned()),
        };
        self.skipped += 1;
        if class == "blank" {
            return Ok(());
        }
        let position = position();
        if self
            .last_warning
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            tracing::warn!(%position, class, %reason, skipped = self.skipped, "not a tweet, not written");
            self.last_warning = Some(Instant::now());
        }
        if let Some(out) = &mut self.dead_letters {
            let raw = String::from_utf8_lossy(message);
            let letter = DeadLetter {
                position: &position,
                class,
                reason: &reason,
                raw: &raw,
            };
            serde_json::to_writer(&mut *out, &letter)
                .map_err(|e| KafkaSinkError::DeadLetter(e.into()))?;
            out.write_all(b"\n").map_err(KafkaSinkError::DeadLetter)?;
        }
        Ok(())
    }

    /// Counts so far (deliveries still in flight are neither delivered nor failed yet).
    pub fn progress(&self) -> Delivery {
        Delivery {
            delivered: self.deliveries.delivered.load(Ordering::Relaxed),
            failed: self.deliveries.failed.load(Ordering::Relaxed),
            unconfirmed: 0,
            skipped: self.skipped,
            unsent: self.unsent,
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Flushes everything queued and reports what the broker acknowledged.
    pub fn finish(mut self) -> Result<Delivery, KafkaSinkError> {
        // Records first: dropping the producer unflushed would purge what is in flight.
        if let Err(error) = self.producer.flush(TIMEOUT) {
            tracing::error!(%error, in_flight = self.producer.in_flight_count(), "flush did not complete");
        }
        if let Some(out) = &mut self.dead_letters {
            out.flush().map_err(KafkaSinkError::DeadLetter)?;
        }
        let mut delivery = self.progress();
        delivery.unconfirmed = self
            .sent
            .saturating_sub(delivery.delivered + delivery.failed);
        Ok(delivery)
    }
}

/// Feeds a byte stream of JSON Lines (the generator's output) to a [`TweetWriter`] line by line.
pub struct LineSink<'a> {
    pub writer: &'a mut TweetWriter,
    pub pending: Vec<u8>,
    pub lines: u64,
    pub on_line: &'a mut dyn FnMut(&TweetWriter),
}

impl LineSink<'_> {
    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        self.lines += 1;
        let number = self.lines;
        self.writer
            .write(line, &|| format!("generated:{number}"), &mut |_| {})
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
        while let Some(i) = memchr_newline(rest) {
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

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}
