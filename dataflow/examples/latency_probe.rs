//! End-to-end latency of an unbounded run (`scripts/bench-latency.sh`): from the moment this
//! probe has received, on every partition of the input topic, a tweet at or after a window's end
//! plus the lateness (the tweet that completes the window), to that window's record in the output
//! file and in the output topic. The clock starts when the completing tweet is in the topic and
//! delivered to a consumer: the producer's batching (`linger.ms`) is before it, outside the
//! figure. Records are matched to completions at the end, so a completion the probe's input
//! consumer saw late still counts; a record seen before its completion counts as such.
//!
//! `cargo run --release --example latency_probe -- BROKERS INPUT_TOPIC PARTITIONS OUTPUT_FILE
//! OUTPUT_TOPIC LATENESS_MS WINDOWS`: prints p50/p99/max once WINDOWS records are in both, or once
//! the outputs have been quiet for 5 s.

use std::io::{BufRead, Seek};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// When the lowest per-partition maximum timestamp first reached each value.
#[derive(Default)]
struct Completions(Vec<(i64, Instant)>);

impl Completions {
    /// The instant the input first held `at_ms` or later on every partition.
    fn at(&self, at_ms: i64) -> Option<Instant> {
        let i = self.0.partition_point(|(ms, _)| *ms < at_ms);
        self.0.get(i).map(|(_, t)| *t)
    }
}

fn consumer(brokers: &str, topic: &str, partitions: i32, start: Offset) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "tweetflow-latency-probe")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "5")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, start)
            .expect("assign");
    }
    consumer.assign(&assignment).expect("assign");
    consumer
}

fn window_end_ms(record: &[u8]) -> i64 {
    let v: serde_json::Value = serde_json::from_slice(record).expect("a window record");
    let end = v["window_end"].as_str().expect("window_end");
    chrono_like_parse(end)
}

/// RFC 3339 `YYYY-MM-DDTHH:MM:SS[.mmm]Z` to ms since the epoch (days from civil, Howard Hinnant).
fn chrono_like_parse(s: &str) -> i64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().expect("digits");
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (hh, mm, ss) = (n(11, 13), n(14, 16), n(17, 19));
    let ms = if s.as_bytes()[19] == b'.' {
        n(20, 23)
    } else {
        0
    };
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms
}

/// The latencies of records seen at their instants, against the completions.
fn report(what: &str, seen: &[(i64, Instant)], completions: &Completions, lateness: i64) {
    let (mut samples, mut unseen, mut early) = (Vec::new(), 0, 0);
    for &(end_ms, at) in seen {
        match completions.at(end_ms + lateness) {
            None => unseen += 1,
            Some(done) if done > at => early += 1,
            Some(done) => samples.push(at.duration_since(done).as_secs_f64() * 1000.0),
        }
    }
    if samples.is_empty() {
        println!("{what}: no window measured ({unseen} without a completion seen)");
        return;
    }
    samples.sort_by(f64::total_cmp);
    let q = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!(
        "{what}: {} windows, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({unseen} without a completion seen, {early} before it)",
        samples.len(),
        q(0.5),
        q(0.99),
        samples[samples.len() - 1]
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, input, partitions, file, output, lateness, windows] = &args[..] else {
        eprintln!(
            "usage: latency_probe BROKERS INPUT_TOPIC PARTITIONS OUTPUT_FILE OUTPUT_TOPIC LATENESS_MS WINDOWS"
        );
        std::process::exit(2);
    };
    let partitions: i32 = partitions.parse().expect("PARTITIONS");
    let lateness: i64 = lateness.parse().expect("LATENESS_MS");
    let windows: usize = windows.parse().expect("WINDOWS");
    let completions = Arc::new(Mutex::new(Completions::default()));

    // The input, from its start: the lowest of the partitions' highest timestamps over time.
    std::thread::spawn({
        let (brokers, input, completions) = (brokers.clone(), input.clone(), completions.clone());
        move || {
            let c = consumer(&brokers, &input, partitions, Offset::Beginning);
            let mut max = vec![i64::MIN; partitions as usize];
            loop {
                if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                    let ts = m.timestamp().to_millis().unwrap_or(i64::MIN);
                    let p = m.partition() as usize;
                    max[p] = max[p].max(ts);
                    let low = *max.iter().min().expect("partitions");
                    let mut c = completions.lock().unwrap();
                    if c.0.last().is_none_or(|(ms, _)| low > *ms) {
                        c.0.push((low, Instant::now()));
                    }
                }
            }
        }
    });

    // The output topic, from its current end, and the file, from where it is now.
    let out = consumer(brokers, output, 1, Offset::End);
    let mut reader = std::io::BufReader::new(std::fs::File::open(file).expect("OUTPUT_FILE"));
    reader.seek(std::io::SeekFrom::End(0)).expect("seek");
    let (mut in_file, mut in_topic) = (Vec::new(), Vec::new());
    let mut line = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last_seen = Instant::now();
    let quiet = |last: Instant, any: bool| any && last.elapsed() > Duration::from_secs(5);
    while (in_file.len() < windows || in_topic.len() < windows)
        && Instant::now() < deadline
        && !quiet(last_seen, !in_file.is_empty())
    {
        match reader.read_until(b'\n', &mut line).expect("read") {
            n if n > 0 && line.ends_with(b"\n") => {
                last_seen = Instant::now();
                in_file.push((window_end_ms(&line), last_seen));
                line.clear();
            }
            _ => {
                if let Some(Ok(m)) = out.poll(Duration::from_millis(1)) {
                    last_seen = Instant::now();
                    in_topic.push((window_end_ms(m.payload().unwrap_or_default()), last_seen));
                }
            }
        }
    }
    let completions = completions.lock().unwrap();
    report("output file", &in_file, &completions, lateness);
    report("output topic", &in_topic, &completions, lateness);
}
