//! Helpers for the tests against a real Apache Kafka (feature `kafka`): the address of the broker
//! `scripts/test.sh` started, fresh topic names, the records a topic holds, a raw producer for
//! bytes the tweet producer would never write.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::BaseProducer;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::reference::{self, Counts, Params};
use crate::util::{OutputWithin, binary, dataflow_cluster};

/// The shared broker's bootstrap address (`KAFKA_BROKERS`, set by `scripts/test.sh`).
pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| {
        panic!("KAFKA_BROKERS is not set: these tests need a running Kafka; run scripts/test.sh, which starts one")
    })
}

/// A topic name no other test (or earlier run) uses.
pub fn topic(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("test-{name}-{}-{nanos}", std::process::id())
}

/// Runs a workspace binary, failing the test unless it succeeds.
pub fn run(program: &str, args: &[String]) -> Output {
    let output = Command::new(binary(program))
        .args(args)
        .output_within_limit();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Window records of a bounded dataflow run over `topic` of the shared broker (lateness 10 min:
/// nothing is late whatever the partition; JSON Lines) on `processes` × `workers`, from process
/// 0's stdout, and its stderr.
pub fn bounded(topic: &str, processes: usize, workers: usize, extra: &[&str]) -> (String, String) {
    let mut args: Vec<String> = [
        "--brokers",
        &brokers(),
        "--topic",
        topic,
        "--bounded",
        "--format",
        "jsonl",
        "--lateness",
        "10m",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    let output = if processes == 1 {
        args.extend(["-w".into(), workers.to_string()]);
        run("tweet-dataflow", &args)
    } else {
        dataflow_cluster(processes, workers, &args).swap_remove(0)
    };
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A new topic of `partitions` partitions, created by the producer as users would, holding nothing.
pub fn empty_topic(name: &str, partitions: u32) -> String {
    let topic = topic(name);
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let args = [
        "replay".into(),
        empty.display().to_string(),
        "--brokers".into(),
        brokers(),
        "--topic".into(),
        topic.clone(),
        "--partitions".into(),
        partitions.to_string(),
    ];
    run("tweet-producer", &args);
    topic
}

pub fn raw_producer() -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("message.max.bytes", "16777216")
        .create()
        .expect("producer")
}

fn consumer(brokers: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "tweetflow-tests")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer")
}

fn partitions(consumer: &BaseConsumer, topic: &str) -> i32 {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    metadata.topics()[0].partitions().len() as i32
}

/// Records in a topic of `brokers`, from the partitions' offsets.
pub fn count_on(brokers: &str, topic: &str) -> i64 {
    let consumer = consumer(brokers);
    (0..partitions(&consumer, topic))
        .map(|p| {
            let (low, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks");
            high - low
        })
        .sum()
}

/// Records in a topic of the shared broker.
pub fn count(topic: &str) -> i64 {
    count_on(&brokers(), topic)
}

/// [`count`], or 0 while the topic does not exist yet.
pub fn count_if_exists(topic: &str) -> i64 {
    count_on_if_exists(&brokers(), topic)
}

/// [`count_on`], or 0 while the topic does not exist yet (or the brokers do not answer).
pub fn count_on_if_exists(brokers: &str, topic: &str) -> i64 {
    let consumer = consumer(brokers);
    match consumer.fetch_metadata(Some(topic), Duration::from_secs(10)) {
        Ok(m)
            if m.topics()
                .first()
                .is_some_and(|t| t.error().is_none() && !t.partitions().is_empty()) =>
        {
            // Just created, a partition may not be known to every broker yet: none counted.
            (0..m.topics()[0].partitions().len() as i32)
                .map(|p| {
                    consumer
                        .fetch_watermarks(topic, p, Duration::from_secs(10))
                        .map_or(0, |(low, high)| high - low)
                })
                .sum()
        }
        _ => 0,
    }
}

/// One record as a `read_committed` consumer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub partition: i32,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// Header names and values (as text).
    pub headers: Vec<(String, String)>,
}

impl Record {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every committed record of a topic of `brokers`, per partition in offset order (partitions one
/// after the other). Reads up to the high watermarks seen at the start.
pub fn read_all(brokers: &str, topic: &str) -> Vec<Record> {
    let consumer = consumer(brokers);
    let mut assignment = TopicPartitionList::new();
    let mut ends = Vec::new();
    for p in 0..partitions(&consumer, topic) {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("watermarks");
        assignment
            .add_partition_offset(topic, p, Offset::Offset(low))
            .unwrap();
        ends.push(high);
    }
    consumer.assign(&assignment).expect("assign");
    let mut records: Vec<(i32, i64, Record)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = |consumer: &BaseConsumer| {
        let positions = consumer.position().expect("position");
        ends.iter().enumerate().all(|(p, &end)| {
            match positions
                .find_partition(topic, p as i32)
                .map(|e| e.offset())
            {
                Some(Offset::Offset(at)) => at >= end,
                _ => end == 0,
            }
        })
    };
    while !done(&consumer) {
        assert!(
            Instant::now() < deadline,
            "reading {topic} took over 2 minutes"
        );
        // Transport errors (a broker of the cluster is down) are retried by librdkafka.
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            records.push((
                m.partition(),
                m.offset(),
                Record {
                    partition: m.partition(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().unwrap_or_default().to_vec(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| {
                                    let value = h.value.map(String::from_utf8_lossy);
                                    (h.key.to_owned(), value.unwrap_or_default().into_owned())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            ));
        }
    }
    records.sort_by_key(|(p, o, _)| (*p, *o));
    records.into_iter().map(|(_, _, r)| r).collect()
}

/// Grows a topic of the shared broker to `partitions` partitions, as an operator would.
pub fn grow(topic: &str, partitions: usize) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("admin");
    let results = futures_executor::block_on(admin.create_partitions(
        [&NewPartitions::new(topic, partitions)],
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
    ))
    .expect("create partitions");
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("growing {t}: {e}"));
    }
}

/// The reference (lateness 10 s) over what `topic` holds, partition by partition: the dataflow's
/// lateness is per partition, and the partition of each tweet is the producer's choice.
pub fn expected_on(brokers: &str, topic: &str) -> (Vec<String>, Counts) {
    let (text, counts) =
        reference::run_lines(&per_partition(brokers, topic), Params::defaults(10_000));
    (text.lines().map(str::to_owned).collect(), counts)
}

/// What `topic` holds (committed), partition by partition in offset order.
pub fn per_partition(brokers: &str, topic: &str) -> Vec<Vec<Vec<u8>>> {
    let mut per: Vec<Vec<Vec<u8>>> = Vec::new();
    for r in read_all(brokers, topic) {
        if per.len() <= r.partition as usize {
            per.resize(r.partition as usize + 1, Vec::new());
        }
        per[r.partition as usize].push(r.value);
    }
    per
}

/// The window records of `topic` as a read_committed consumer sees them, in order.
pub fn committed_on(brokers: &str, topic: &str) -> Vec<String> {
    read_all(brokers, topic)
        .into_iter()
        .map(|r| String::from_utf8(r.value).unwrap())
        .collect()
}

/// The shared broker's secured listeners (`scripts/test.sh` starts it with `--tls`).
pub struct Tls {
    /// `KAFKA_TLS_DIR`: the CA and the client properties files `ssl.properties` and
    /// `sasl_ssl.properties`.
    pub dir: std::path::PathBuf,
    pub ssl_brokers: String,
    pub sasl_brokers: String,
}

pub fn tls() -> Tls {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: these tests need the broker's TLS listeners; run scripts/test.sh, which starts them")
        })
    };
    Tls {
        dir: var("KAFKA_TLS_DIR").into(),
        ssl_brokers: var("KAFKA_SSL_BROKERS"),
        sasl_brokers: var("KAFKA_SASL_BROKERS"),
    }
}
