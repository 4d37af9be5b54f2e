//! The Kafka side of the producer (CONTRACT section 5): each tweet is written as its raw bytes, keyed
//! by its id and stamped with its event time; every other message is counted, logged and kept as a
//! dead letter, never written to the tweet topic.
//!
//! Delivery is librdkafka's idempotent producer with `acks=all`: a record counts as delivered only
//! when its delivery report says so, and `finish` flushes before reporting, so an interrupted run
//! never claims a record the broker did not acknowledge. A record Kafka finally refuses is kept as
//! an `undelivered` dead letter with its bytes and key, and the writer says from where a rerun
//! must start: every record before the first refused one is acknowledged.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseRecord, ThreadedProducer};
use serde::Serialize;
use thiserror::Error;
use tweet::input::{
    KAFKA_RECORD_OVERHEAD, MAX_MESSAGE_BYTES, OVERSIZED_HEAD_BYTES, oversized_reason,
};
use tweet::time::Horizon;
use tweet::{Class, DeadLetter, Message};
use tweetflow_kafka::{
    ClientError, Deliveries, DeliveryContext, Properties, Sent, TIMEOUT, TopicSpec, Undelivered,
    client_config, ensure_topic, finish, producer, send,
};

#[derive(Debug, Error)]
pub enum WriterError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("writing the dead-letter file {path}: {source}")]
    DeadLetter { path: PathBuf, source: io::Error },
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
}

impl KafkaTarget {
    fn producer_config(&self) -> rdkafka::ClientConfig {
        let max = (MAX_MESSAGE_BYTES + KAFKA_RECORD_OVERHEAD).to_string();
        let defaults = [
            ("enable.idempotence", "true".to_owned()),
            ("acks", "all".to_owned()),
            ("compression.type", "lz4".to_owned()),
            ("linger.ms", "20".to_owned()),
            // Java clients hash keys with murmur2: the same tweet id lands on the same partition.
            ("partitioner", "murmur2_random".to_owned()),
            ("message.max.bytes", max),
        ];
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
    last_warning: Option<Instant>,
}

impl TweetWriter {
    /// `stop` is the shutdown flag: a write waiting for room in a full queue gives up when it is
    /// set. `name` gives the source and position of a sequence number passed to [`Self::write`].
    pub fn connect(
        stop: Arc<AtomicBool>,
        target: &KafkaTarget,
        name: Namer,
    ) -> Result<TweetWriter, WriterError> {
        target.ensure_topic()?;
        let (producer, deliveries, _) = producer(&target.producer_config(), "tweet", true)?;
        let dead_letters = match &target.dead_letter {
            Some(path) => Some((
                path.clone(),
                BufWriter::new(
                    File::create(path).map_err(|source| WriterError::DeadLetter {
                        path: path.clone(),
                        source,
                    })?,
                ),
            )),
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
            last_warning: None,
        })
    }

    /// Classifies one message and, when it is a tweet, queues it for delivery. `seq` numbers the
    /// message in its input, increasing (the writer's [`Namer`] turns it into a position, unless
    /// `position` says more); `before_send` sees the tweet's event time first: replay paces itself
    /// there.
    pub fn write(
        &mut self,
        message: &[u8],
        seq: u64,
        position: Option<&str>,
        before_send: &mut dyn FnMut(u64),
    ) -> Result<(), WriterError> {
        self.letter_refused()?;
        let classified = tweet::classify_read(message, Horizon::now(self.max_future_ms));
        if let Message::Tweet(tweet) = &classified {
            before_send(tweet.event_ms);
            let mut record = BaseRecord::with_opaque_to(&self.topic, seq as usize)
                .payload(message)
                .timestamp(tweet.event_ms as i64);
            // No id, no key (a null key spreads such tweets instead of hashing them together).
            if let Some(id) = tweet.id.as_deref() {
                record = record.key(id);
            }
            let stop = || self.stop.load(Ordering::Relaxed);
            match send(&self.producer, record, &stop) {
                Ok(Sent::Queued) => self.sent += 1,
                // A broker that is down keeps the queue full; the stop request is heard. The
                // record was never sent, so nothing is lost that a rerun would not send.
                Ok(Sent::Stopped) => {
                    self.unsent += 1;
                    self.first_unsent.get_or_insert(seq);
                    let (_, position) = (self.name)(seq);
                    tracing::warn!(%position, "stopping with Kafka's queue full: tweet not sent");
                }
                // Refused at once (too large for the producer, invalid): as final as a refusal
                // after the message timeout, and kept the same way.
                Err(error) => {
                    self.sent += 1;
                    self.deliveries.refuse(Undelivered {
                        opaque: seq as usize,
                        key: tweet.id.as_deref().map(|id| id.as_bytes().to_vec()),
                        payload: message.to_vec(),
                        error: error.to_string(),
                    });
                }
            }
            return Ok(());
        }
        self.skipped += 1;
        let Some((class, reason)) = classified.dead_letter() else {
            return Ok(()); // blank keep-alives
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
        })
    }

    /// A message over the size limit (`len` bytes, of which `head` was kept): never written,
    /// kept as a malformed dead letter.
    pub fn write_oversized(&mut self, head: &[u8], len: u64, seq: u64) -> Result<(), WriterError> {
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
        })
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
        Ok(())
    }

    /// Dead-letters the records Kafka refused since the last call.
    fn letter_refused(&mut self) -> Result<(), WriterError> {
        for refused in self.deliveries.take_failures() {
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
            })?;
        }
        Ok(())
    }

    /// Whether Kafka has finally refused a tweet: a file or generator should stop reading, as
    /// whatever it sends now is likely lost too (a live stream goes on, and keeps what fails).
    pub fn failing(&self) -> bool {
        self.deliveries.failed() > 0
    }

    /// Counts so far (deliveries still in flight are neither delivered nor failed yet).
    pub fn progress(&self) -> Delivery {
        Delivery {
            delivered: self.deliveries.delivered(),
            failed: self.deliveries.failed(),
            unconfirmed: 0,
            skipped: self.skipped,
            unsent: self.unsent,
            resume_at: None,
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Flushes everything queued, keeps what Kafka refused, and reports what it acknowledged.
    pub fn finish(mut self) -> Result<Delivery, WriterError> {
        // Records first: dropping the producer unflushed would purge what is in flight.
        let settled = finish(&self.producer, &self.deliveries, self.sent, TIMEOUT);
        self.letter_refused()?;
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
        })
    }
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
            .write(line, self.lines, None, &mut |_| {})
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
