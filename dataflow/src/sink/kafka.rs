//! Window records into a Kafka topic as well (`--output-topic`): the JSON record as value, the
//! window end as key, so a compacted topic keeps the last result of each window.

use std::io;
use std::sync::Arc;

use rdkafka::producer::{BaseRecord, ThreadedProducer};
use tweetflow_kafka::{
    ClientError, Deliveries, DeliveryContext, Properties, Sent, TIMEOUT, client_config, finish,
    producer, send,
};

use super::record::{RecordWriter, WindowRecord};

pub(crate) struct KafkaRecords {
    producer: ThreadedProducer<DeliveryContext>,
    deliveries: Arc<Deliveries>,
    topic: String,
    sent: u64,
}

impl KafkaRecords {
    pub fn connect(
        brokers: &str,
        topic: &str,
        properties: &Properties,
    ) -> Result<KafkaRecords, ClientError> {
        let defaults = [
            ("enable.idempotence", "true".to_owned()),
            ("acks", "all".to_owned()),
        ];
        let config = client_config(brokers, &defaults, properties);
        // A refused window record fails the run; its bytes need not be kept.
        let (producer, deliveries, _) = producer(&config, "window record", false)?;
        Ok(KafkaRecords {
            producer,
            deliveries,
            topic: topic.to_owned(),
            sent: 0,
        })
    }
}

impl RecordWriter for KafkaRecords {
    fn write(&mut self, record: &WindowRecord) -> io::Result<()> {
        let value = serde_json::to_vec(record)?;
        let message = BaseRecord::with_opaque_to(&self.topic, self.sent as usize)
            .key(&record.window_end)
            .payload(&value);
        // Never asked to stop: the record is queued or this is an error.
        if send(&self.producer, message, &|| false).map_err(io::Error::other)? == Sent::Queued {
            self.sent += 1;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
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

    fn finish(&mut self) -> io::Result<()> {
        self.0.finish()?;
        self.1.finish()
    }
}
