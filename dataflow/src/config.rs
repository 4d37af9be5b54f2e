//! The typed configuration of a run. The binary builds it from its flags (`cli.rs`); tests and
//! other callers build it directly. Everything here is already valid: the window shape is checked
//! by [`Windows::new`], the cluster by [`crate::cluster::parse_hostfile`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tweetflow_kafka::Properties;

use crate::source::kafka::KafkaInput;
use crate::window::Windows;

/// Where tweets come from.
#[derive(Clone, Debug)]
pub enum Input {
    Files(Vec<PathBuf>),
    Kafka(KafkaInput),
}

impl Input {
    /// The Kafka topic read, `None` for files.
    pub fn topic(&self) -> Option<&str> {
        match self {
            Input::Kafka(k) => Some(&k.topic),
            Input::Files(_) => None,
        }
    }
}

/// How window records look on standard output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A readable block per window.
    Table,
    /// One JSON object per window (CONTRACT section 4).
    Jsonl,
}

/// Where window records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout(Format),
    File(PathBuf),
}

/// A Kafka topic that receives every window record too, on the input's brokers.
#[derive(Clone, Debug)]
pub struct OutputTopic {
    pub topic: String,
    /// librdkafka properties of its producer, applied last.
    pub properties: Properties,
    /// When the topic is created: its partitions and replication (`None`: min(3, brokers)).
    pub partitions: i32,
    pub replication: Option<i32>,
}

/// Crash safety (issue 10): where checkpoints go and how often.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    pub dir: PathBuf,
    /// At most one checkpoint per this much wall clock (the state of the last window closed).
    pub interval: Duration,
}

/// The timely cluster this process is part of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub workers: usize,
    pub processes: usize,
    pub process: usize,
    /// `host:port` of every process, in process order.
    pub addresses: Vec<String>,
    /// How long the processes may take to find each other before this one gives up.
    pub connect_timeout: Duration,
    /// In unbounded runs, a peer that sends nothing (not even the once-a-second heartbeat) for
    /// this long is taken for frozen or cut off, and this process exits.
    pub peer_timeout: Option<Duration>,
}

impl Cluster {
    /// One process of `workers` threads.
    pub fn local(workers: usize) -> Cluster {
        Cluster {
            workers,
            processes: 1,
            process: 0,
            addresses: vec!["127.0.0.1:2101".to_owned()],
            connect_timeout: Duration::from_secs(60),
            peer_timeout: None,
        }
    }

    /// Workers in the whole cluster.
    pub fn peers(&self) -> usize {
        self.workers * self.processes
    }
}

/// A validated run configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub input: Input,
    /// `None`: idle partitions always hold time back (files, bounded Kafka runs).
    pub idle_timeout: Option<Duration>,
    pub windows: Windows,
    pub lateness_ms: u64,
    /// Tweets whose event time is more than this after the wall clock when read are rejected.
    pub max_future_ms: u64,
    pub top: usize,
    pub output: Output,
    pub output_topic: Option<OutputTopic>,
    pub dead_letter: Option<PathBuf>,
    /// Dead letters to this Kafka topic as well (raw message as value, what went wrong in
    /// headers). Kafka input only.
    pub dead_letter_topic: Option<OutputTopic>,
    pub summary: Option<PathBuf>,
    pub cluster: Cluster,
    /// `None`: no checkpoints, every run starts afresh.
    pub checkpoints: Option<Checkpoints>,
    pub observe: Observe,
}

/// How the run can be watched (issue 13).
#[derive(Clone, Debug, Default)]
pub struct Observe {
    /// Serve this process's metrics at `/metrics` here.
    pub metrics: Option<SocketAddr>,
    /// Serve the live view here (process 0 only; it serves `/metrics` too).
    pub ui: Option<SocketAddr>,
    /// A progress bar on standard error when it is a terminal, a log line every few seconds
    /// otherwise.
    pub progress: bool,
}

impl Config {
    /// A file run with the contract's defaults, for tests and embedding.
    pub fn files(inputs: Vec<PathBuf>, output: Output) -> Config {
        Config {
            input: Input::Files(inputs),
            idle_timeout: None,
            windows: Windows::new(5_000, 60_000, 30_000).expect("the contract's defaults"),
            lateness_ms: 10_000,
            max_future_ms: tweet::time::DEFAULT_MAX_FUTURE_MS,
            top: 10,
            output,
            output_topic: None,
            dead_letter: None,
            dead_letter_topic: None,
            summary: None,
            cluster: Cluster::local(1),
            checkpoints: None,
            observe: Observe::default(),
        }
    }
}
