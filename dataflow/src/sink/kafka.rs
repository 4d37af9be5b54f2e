//! Window records into a Kafka topic as well (`--output-topic`): the JSON record as value, the
//! window end as key, so a compacted topic keeps the last result of each window.

use std::io;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

use super::record::{RecordWriter, WindowRecord};

/// Counts records the broker refused, so a run cannot end "successfully" without its results.
#[derive(Clone, Default)]
struct Failures(Arc<AtomicU64>);

impl ClientContext for Failures {}

impl ProducerContext for Failures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result
            && self.0.fetch_add(1, Ordering::Relaxed) == 0
        {
            tracing::error!(%error, "window record not delivered to the output topic");
        }
    }
}

pub(crate) struct KafkaRecords {
    producer: ThreadedProducer<Failures>,
    failures: Failures,
    topic: String,
}

impl KafkaRecords {
    pub fn connect(
        brokers: &str,
        topic: &str,
        properties: &[(String, String)],
    ) -> Result<KafkaRecords, KafkaError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all");
        for (key, value) in properties {
            config.set(key, value);
        }
        let failures = Failures::default();
        let producer = config.create_with_context(failures.clone())?;
        Ok(KafkaRecords {
            producer,
            failures,
            topic: topic.to_owned(),
        })
    }
}

impl RecordWriter for KafkaRecords {
    fn write(&mut self, record: &WindowRecord) -> io::Result<()> {
        let value = serde_json::to_vec(record)?;
        let mut message = BaseRecord::to(&self.topic)
            .key(&record.window_end)
            .payload(&value);
        loop {
            match self.producer.send(message) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => return Err(io::Error::other(error)),
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(io::Error::other)?;
        match self.failures.0.load(Ordering::Relaxed) {
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

    fn finish(&mut self) -> io::Result<()> {
        self.0.finish()?;
        self.1.finish()
    }
}
