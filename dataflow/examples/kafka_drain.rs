//! The ceiling for the Kafka benchmark: how fast a bare rdkafka consumer drains a topic on this
//! machine, reading every partition to its current end without looking at the bytes.
//!
//! `cargo run --release --example kafka_drain -- BROKERS TOPIC`

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, topic] = &args[..] else {
        eprintln!("usage: kafka_drain BROKERS TOPIC");
        std::process::exit(2);
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "tweetflow-drain")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let timeout = Duration::from_secs(30);
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .expect("metadata");
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let mut assignment = TopicPartitionList::new();
    let mut remaining = 0i64;
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .expect("watermarks");
        remaining += high - low;
        assignment
            .add_partition_offset(topic, p, Offset::Offset(low))
            .expect("assign");
    }
    consumer.assign(&assignment).expect("assign");
    let total = remaining;
    let started = Instant::now();
    let mut bytes = 0usize;
    while remaining > 0 {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            bytes += message.payload().map_or(0, <[u8]>::len);
            remaining -= 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "drained {total} records, {:.0} MB in {secs:.2} s: {:.0} records/s, {:.0} MB/s",
        bytes as f64 / 1e6,
        total as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}
