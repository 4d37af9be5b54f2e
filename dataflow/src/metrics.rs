//! Every metric of `tweet-dataflow`, registered in one place and handed out as handles.
//!
//! Each process serves its own workers' metrics (`--metrics`); the window, dead-letter and
//! checkpoint metrics are process 0's, where those are written. Counters count this process's
//! work since it started (Prometheus' `rate()` expects a restart to reset them), so after a
//! resume the end-of-run summary, which includes the runs before, is larger by what those runs
//! did. Labels are few: the message class, and the partition for lag and watermarks; never a key.
//!
//! The hot path never touches an atomic per message: the ingest operator counts in plain
//! integers and adds what changed once per activation ([`WorkerMetrics::publish`]).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use serde::Serialize;

use crate::stats::Counters;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LagLabels {
    topic: String,
    partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    partition: String,
}

/// One partition as the live view and the progress line show it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PartitionView {
    pub partition: String,
    /// The partition's lateness watermark (event time), ms since the epoch; `None` before its
    /// first tweet.
    pub watermark_ms: Option<i64>,
    /// High watermark minus the next offset to read (Kafka only).
    pub lag: Option<i64>,
}

/// The classes of `tweetflow_messages_total`, in the order of [`Counters`].
const CLASSES: [&str; 5] = ["tweet", "blank", "notice", "malformed", "rejected"];

/// Every metric of a process, cheap to clone (handles to the same atomics).
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    messages: [Counter; 5],
    late: Counter,
    bytes: Counter,
    undelivered: Counter,
    read_errors: Counter,
    windows: Counter,
    dead_letters: Counter,
    lag: Family<LagLabels, Gauge>,
    watermark: Family<PartitionLabels, Gauge<f64, AtomicU64>>,
    close_latency: Histogram,
    checkpoint_duration: Histogram,
    checkpoint_bytes: Gauge,
    checkpoints: Counter,
    input_bytes: Gauge,
    started: Instant,
    partitions: Arc<Mutex<BTreeMap<String, PartitionView>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("tweetflow");
        let messages_family = Family::<ClassLabels, Counter>::default();
        r.register(
            "messages",
            "Messages read, by class (CONTRACT section 1); late tweets are in tweetflow_late_total",
            messages_family.clone(),
        );
        let messages = CLASSES.map(|class| {
            messages_family
                .get_or_create(&ClassLabels { class })
                .clone()
        });
        let counter = |r: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            r.register(name, help, c.clone());
            c
        };
        let late = counter(
            &mut r,
            "late",
            "Tweets behind their partition's watermark, dropped",
        );
        let bytes = Counter::default();
        r.register(
            "bytes",
            "Bytes of messages read, newline included",
            bytes.clone(),
        );
        let undelivered = counter(
            &mut r,
            "undelivered",
            "Tweets X's limit notices say it did not deliver",
        );
        let read_errors = counter(
            &mut r,
            "read_errors",
            "Partitions or files that could not be read to their end",
        );
        let windows = counter(
            &mut r,
            "windows_written",
            "Window records written (process 0)",
        );
        let dead_letters = counter(&mut r, "dead_letters", "Dead letters written (process 0)");
        let lag = Family::<LagLabels, Gauge>::default();
        r.register(
            "consumer_lag",
            "Records of a Kafka partition not read yet: its high watermark minus the next offset",
            lag.clone(),
        );
        let watermark = Family::<PartitionLabels, Gauge<f64, AtomicU64>>::default();
        r.register_with_unit(
            "watermark",
            "A partition's lateness watermark in event time, since the epoch",
            Unit::Seconds,
            watermark.clone(),
        );
        // 1 ms .. 16 s.
        let close_latency = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        r.register_with_unit(
            "window_close_latency",
            "From every partition's watermark passing a window's end to its record written and flushed (process 0)",
            Unit::Seconds,
            close_latency.clone(),
        );
        let checkpoint_duration = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        r.register_with_unit(
            "checkpoint_duration",
            "Time to make the outputs durable and write a checkpoint (process 0)",
            Unit::Seconds,
            checkpoint_duration.clone(),
        );
        let checkpoint_bytes = Gauge::default();
        r.register_with_unit(
            "checkpoint_size",
            "Size of the last checkpoint written (process 0)",
            Unit::Bytes,
            checkpoint_bytes.clone(),
        );
        let checkpoints = counter(&mut r, "checkpoints", "Checkpoints written (process 0)");
        let input_bytes = Gauge::default();
        r.register_with_unit(
            "input_size",
            "Bytes of the input files of this process's workers (0 for Kafka)",
            Unit::Bytes,
            input_bytes.clone(),
        );
        Metrics {
            registry: Arc::new(r),
            messages,
            late,
            bytes,
            undelivered,
            read_errors,
            windows,
            dead_letters,
            lag,
            watermark,
            close_latency,
            checkpoint_duration,
            checkpoint_bytes,
            checkpoints,
            input_bytes,
            started: Instant::now(),
            partitions: Arc::default(),
        }
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// The registry in Prometheus' text format, as `/metrics` serves it.
    pub fn text(&self) -> String {
        tweetflow_observe::metrics_text(&self.registry)
    }

    pub(crate) fn set_input_bytes(&self, bytes: u64) {
        self.input_bytes.set(bytes as i64);
    }

    pub(crate) fn window_written(&self, latency: Option<Duration>) {
        self.windows.inc();
        if let Some(latency) = latency {
            self.close_latency.observe(latency.as_secs_f64());
        }
    }

    pub(crate) fn dead_letters_written(&self, n: u64) {
        self.dead_letters.inc_by(n);
    }

    pub(crate) fn checkpoint_written(&self, bytes: u64, took: Duration) {
        self.checkpoints.inc();
        self.checkpoint_bytes.set(bytes as i64);
        self.checkpoint_duration.observe(took.as_secs_f64());
    }

    /// What this process's workers have counted so far, for the progress line and the live view.
    pub fn snapshot(&self) -> Snapshot {
        let [tweets, blank, notices, malformed, rejected] =
            self.messages.each_ref().map(|c| c.get());
        Snapshot {
            tweets,
            blank,
            notices,
            malformed,
            rejected,
            late: self.late.get(),
            bytes: self.bytes.get(),
            input_bytes: self.input_bytes.get().max(0) as u64,
            windows: self.windows.get(),
            dead_letters: self.dead_letters.get(),
            checkpoints: self.checkpoints.get(),
            elapsed_s: self.started.elapsed().as_secs_f64(),
            partitions: self
                .partitions
                .lock()
                .expect("not poisoned")
                .values()
                .cloned()
                .collect(),
        }
    }

    /// Handles for one worker's ingest operator.
    pub(crate) fn worker(&self, topic: Option<&str>) -> WorkerMetrics {
        WorkerMetrics {
            metrics: self.clone(),
            topic: topic.map(str::to_owned),
            published: Counters::default(),
            last_partitions: None,
        }
    }
}

/// The counters of a process, as the live view shows them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    pub tweets: u64,
    pub blank: u64,
    pub notices: u64,
    pub malformed: u64,
    pub rejected: u64,
    pub late: u64,
    pub bytes: u64,
    /// Bytes of input files (0: Kafka, or only gzip files).
    pub input_bytes: u64,
    pub windows: u64,
    pub dead_letters: u64,
    pub checkpoints: u64,
    pub elapsed_s: f64,
    pub partitions: Vec<PartitionView>,
}

impl Snapshot {
    pub fn lines(&self) -> u64 {
        self.tweets + self.blank + self.notices + self.malformed + self.rejected + self.late
    }
}

/// One ingest worker's handles and what it has published of its counters.
pub(crate) struct WorkerMetrics {
    metrics: Metrics,
    topic: Option<String>,
    published: Counters,
    last_partitions: Option<Instant>,
}

/// How often partitions' lag and watermark gauges are refreshed.
const PARTITIONS_EVERY: Duration = Duration::from_secs(1);

impl WorkerMetrics {
    /// Adds what `now` counted beyond what was published before.
    pub fn publish(&mut self, now: &Counters) {
        let was = &self.published;
        let notices = |c: &Counters| c.notices.iter().sum::<u64>();
        let m = &self.metrics;
        let deltas = [
            (&m.messages[0], now.tweets, was.tweets),
            (&m.messages[1], now.blank, was.blank),
            (&m.messages[2], notices(now), notices(was)),
            (&m.messages[3], now.malformed, was.malformed),
            (&m.messages[4], now.rejected, was.rejected),
            (&m.late, now.late, was.late),
            (&m.bytes, now.bytes, was.bytes),
            (&m.read_errors, now.read_errors, was.read_errors),
        ];
        for (counter, now, was) in deltas {
            if now > was {
                counter.inc_by(now - was);
            }
        }
        if now.undelivered > was.undelivered {
            m.undelivered.inc_by(now.undelivered - was.undelivered);
        }
        self.published = now.clone();
    }

    /// Forgets what was published: a worker restored from a checkpoint starts from its
    /// counters, which this process did not count.
    pub fn baseline(&mut self, counters: &Counters) {
        self.published = counters.clone();
    }

    /// Whether the partition gauges are due for a refresh.
    pub fn partitions_due(&mut self) -> bool {
        let due = self
            .last_partitions
            .is_none_or(|at| at.elapsed() >= PARTITIONS_EVERY);
        if due {
            self.last_partitions = Some(Instant::now());
        }
        due
    }

    pub fn partition(&self, view: PartitionView) {
        let m = &self.metrics;
        if let Some(ms) = view.watermark_ms {
            m.watermark
                .get_or_create(&PartitionLabels {
                    partition: view.partition.clone(),
                })
                .set(ms as f64 / 1000.0);
        }
        if let (Some(lag), Some(topic)) = (view.lag, &self.topic) {
            m.lag
                .get_or_create(&LagLabels {
                    topic: topic.clone(),
                    partition: view.partition.clone(),
                })
                .set(lag);
        }
        m.partitions
            .lock()
            .expect("not poisoned")
            .insert(view.partition.clone(), view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_deltas_add_up_across_workers() {
        let metrics = Metrics::new();
        let (mut a, mut b) = (metrics.worker(None), metrics.worker(None));
        let mut counters = Counters {
            tweets: 3,
            late: 1,
            bytes: 100,
            ..Counters::default()
        };
        a.publish(&counters);
        counters.tweets = 5;
        a.publish(&counters);
        b.publish(&Counters {
            tweets: 2,
            blank: 4,
            ..Counters::default()
        });
        let s = metrics.snapshot();
        assert_eq!((s.tweets, s.blank, s.late, s.bytes), (7, 4, 1, 100));
        let text = metrics.text();
        assert!(
            text.contains("tweetflow_messages_total{class=\"tweet\"} 7"),
            "{text}"
        );
        assert!(text.contains("tweetflow_bytes_total 100"), "{text}");
    }

    #[test]
    fn a_restored_baseline_is_not_counted_again() {
        let metrics = Metrics::new();
        let mut w = metrics.worker(None);
        let restored = Counters {
            tweets: 1000,
            ..Counters::default()
        };
        w.baseline(&restored);
        w.publish(&Counters {
            tweets: 1003,
            ..Counters::default()
        });
        assert_eq!(metrics.snapshot().tweets, 3);
    }
}
