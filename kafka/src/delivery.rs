//! Delivery accounting for every producer of both binaries: a record counts as delivered only when
//! its delivery report says so; a record Kafka finally refuses (its message timeout passed, the
//! broker rejected it, it was purged at the end) is counted, logged at a bounded rate, and kept with
//! its bytes and key so that its owner can dead-letter it and name where a rerun must start.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message, ToBytes};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, PurgeConfig, ThreadedProducer};

use crate::client::{ClientError, Diagnostics, LogLimit, ReportingContext, create};

/// A record Kafka did not acknowledge in the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undelivered {
    /// What the sender attached to the record: its sequence number.
    pub opaque: usize,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub error: String,
}

/// Records sent with an opaque value at or above this are not the producer's own records (its
/// tweets, its windows) but records beside them (dead letters for a topic, a progress record):
/// they are counted apart, so that the delivery of the records proper stays exact.
pub const SIDE: usize = 1 << 62;

/// Delivery reports of one producer, counted from librdkafka's background thread.
pub struct Deliveries {
    what: &'static str,
    keep: bool,
    delivered: AtomicU64,
    failed: AtomicU64,
    /// Records beside the producer's own ([`SIDE`]) delivered, and failed.
    side_delivered: AtomicU64,
    side_failed: AtomicU64,
    first_failed: AtomicUsize,
    failures: Mutex<Vec<Undelivered>>,
    limit: Mutex<LogLimit>,
}

impl Deliveries {
    fn new(what: &'static str, keep: bool) -> Deliveries {
        Deliveries {
            what,
            keep,
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            side_delivered: AtomicU64::new(0),
            side_failed: AtomicU64::new(0),
            first_failed: AtomicUsize::new(usize::MAX),
            failures: Mutex::new(Vec::new()),
            limit: Mutex::new(LogLimit::new()),
        }
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Records beside the producer's own ([`SIDE`]) that Kafka acknowledged.
    pub fn side_delivered(&self) -> u64 {
        self.side_delivered.load(Ordering::Relaxed)
    }

    /// Records beside the producer's own ([`SIDE`]) that Kafka refused.
    pub fn side_failed(&self) -> u64 {
        self.side_failed.load(Ordering::Relaxed)
    }

    /// The smallest sequence number of a failed record: every record before it that was sent is
    /// delivered or failed too, so a rerun starts there.
    pub fn first_failed(&self) -> Option<usize> {
        match self.first_failed.load(Ordering::Relaxed) {
            usize::MAX => None,
            n => Some(n),
        }
    }

    /// The failed records kept since the last call (with `keep_failed`), oldest report first.
    pub fn take_failures(&self) -> Vec<Undelivered> {
        std::mem::take(&mut *self.failures.lock().expect("not poisoned"))
    }

    /// Counts a record that librdkafka refused at once (too large, invalid), as a failed one.
    pub fn refuse(&self, record: Undelivered) {
        self.fail(record)
    }

    fn fail(&self, record: Undelivered) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.first_failed
            .fetch_min(record.opaque, Ordering::Relaxed);
        if let Some(held) = self.limit.lock().expect("not poisoned").due() {
            let key = record.key.as_deref().map(String::from_utf8_lossy);
            tracing::error!(
                error = %record.error,
                key = key.as_deref().unwrap_or("-"),
                failed = self.failed(),
                held_back = held,
                "{} not delivered",
                self.what
            );
        }
        if self.keep {
            self.failures.lock().expect("not poisoned").push(record);
        }
    }
}

/// The context of every producer: delivery accounting, plus what [`ReportingContext`] does.
#[derive(Clone)]
pub struct DeliveryContext {
    reporting: ReportingContext,
    deliveries: Arc<Deliveries>,
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        self.reporting.log(level, fac, message)
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.reporting.error(error, reason)
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        if opaque >= SIDE {
            if result.is_ok() {
                self.deliveries
                    .side_delivered
                    .fetch_add(1, Ordering::Relaxed);
            }
            if let Err((error, _)) = result {
                self.deliveries.side_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "a record beside the {}s (a dead letter, a progress record) was not delivered", self.deliveries.what);
            }
            return;
        }
        match result {
            Ok(_) => {
                self.deliveries.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, message)) => self.deliveries.fail(Undelivered {
                opaque,
                key: self
                    .deliveries
                    .keep
                    .then(|| message.key().map(<[u8]>::to_vec))
                    .flatten(),
                payload: if self.deliveries.keep {
                    message.payload().unwrap_or_default().to_vec()
                } else {
                    Vec::new()
                },
                error: error.to_string(),
            }),
        }
    }
}

/// A producer with a [`DeliveryContext`]; `what` names its records in logs ("tweet"), and
/// `keep_failed` keeps the bytes of failed records for [`Deliveries::take_failures`].
pub fn producer(
    config: &ClientConfig,
    what: &'static str,
    keep_failed: bool,
) -> Result<
    (
        ThreadedProducer<DeliveryContext>,
        Arc<Deliveries>,
        Diagnostics,
    ),
    ClientError,
> {
    let diagnostics = Diagnostics::default();
    let deliveries = Arc::new(Deliveries::new(what, keep_failed));
    let context = DeliveryContext {
        reporting: ReportingContext::new(diagnostics.clone()),
        deliveries: deliveries.clone(),
    };
    let producer = create(config, context)?;
    Ok((producer, deliveries, diagnostics))
}

/// What became of a record handed to [`send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    Queued,
    /// `stop` said to give up while librdkafka's queue was full: the record was never sent.
    Stopped,
}

/// Queues `record`, waiting while librdkafka's local queue is full (a broker that is slow or down
/// keeps it full); `stop` is asked between attempts, so a shutdown is still heard.
pub fn send<K, P>(
    producer: &ThreadedProducer<DeliveryContext>,
    mut record: BaseRecord<'_, K, P, usize>,
    stop: &dyn Fn() -> bool,
) -> Result<Sent, KafkaError>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(Sent::Queued),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                if stop() {
                    return Ok(Sent::Stopped);
                }
                record = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((error, _)) => return Err(error),
        }
    }
}

/// Every record sent, accounted for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub delivered: u64,
    pub failed: u64,
    /// Neither acknowledged nor failed: only when even the purge's reports did not come.
    pub unconfirmed: u64,
}

/// Flushes the producer. Records still unacknowledged at `timeout` are purged, which makes
/// librdkafka report them as failed, so that every record is kept or counted, none forgotten.
pub fn finish(
    producer: &ThreadedProducer<DeliveryContext>,
    deliveries: &Deliveries,
    sent: u64,
    timeout: Duration,
) -> Settled {
    if let Err(error) = producer.flush(timeout) {
        tracing::error!(%error, in_flight = producer.in_flight_count(), "flush did not complete; purging what is left");
        producer.purge(PurgeConfig::default().queue().inflight());
        if let Err(error) = producer.flush(Duration::from_secs(5)) {
            tracing::error!(%error, "delivery reports of purged records did not come");
        }
    }
    let held = deliveries.limit.lock().expect("not poisoned").take_held();
    if held > 0 {
        tracing::error!(
            failed = deliveries.failed(),
            "{} more {}s not delivered",
            held,
            deliveries.what
        );
    }
    let (delivered, failed) = (deliveries.delivered(), deliveries.failed());
    Settled {
        delivered,
        failed,
        unconfirmed: sent.saturating_sub(delivered + failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(opaque: usize) -> Undelivered {
        Undelivered {
            opaque,
            key: Some(b"k".to_vec()),
            payload: b"p".to_vec(),
            error: "timed out".into(),
        }
    }

    #[test]
    fn the_first_failure_is_the_smallest_sequence_number() {
        let d = Deliveries::new("tweet", true);
        assert_eq!(d.first_failed(), None);
        d.fail(failure(9));
        d.fail(failure(4));
        d.fail(failure(7));
        assert_eq!(d.first_failed(), Some(4));
        assert_eq!(d.failed(), 3);
        assert_eq!(d.take_failures().len(), 3);
        assert!(d.take_failures().is_empty());
    }

    #[test]
    fn failures_are_only_kept_when_asked() {
        let d = Deliveries::new("window record", false);
        d.fail(failure(1));
        assert!(d.take_failures().is_empty());
        assert_eq!(d.failed(), 1);
    }

    #[test]
    fn records_to_a_broker_that_is_not_there_fail_with_their_bytes() {
        let config = crate::client_config(
            "127.0.0.1:1",
            &[("message.timeout.ms", "200".to_owned())],
            &Default::default(),
        );
        let (producer, deliveries, diagnostics) = producer(&config, "tweet", true).unwrap();
        for i in 0..3usize {
            let key = i.to_string();
            let record = BaseRecord::with_opaque_to("t", i).key(&key).payload("x");
            assert_eq!(send(&producer, record, &|| false).unwrap(), Sent::Queued);
        }
        let settled = finish(&producer, &deliveries, 3, Duration::from_secs(10));
        assert_eq!(
            settled,
            Settled {
                delivered: 0,
                failed: 3,
                unconfirmed: 0
            }
        );
        let mut kept = deliveries.take_failures();
        kept.sort_by_key(|u| u.opaque);
        assert_eq!(kept[2].key.as_deref(), Some(&b"2"[..]));
        assert_eq!(kept[0].payload, b"x");
        assert_eq!(deliveries.first_failed(), Some(0));
        let heard = diagnostics.last().unwrap_or_default();
        assert!(heard.contains("Connection refused"), "{heard}");
    }
}
