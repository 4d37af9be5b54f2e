//! The flags of `tweet-dataflow` (binary only: the library takes a typed `Config`), and their
//! validation into that config. Every usage error is found here and exits with status 2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use tweet::time::parse_duration;
use tweet_dataflow::cluster::parse_hostfile;
use tweet_dataflow::window::WindowError;
use tweet_dataflow::{
    Checkpoints, Cluster, Config, Format, Input, KafkaInput, Observe, Output, OutputTopic, Start,
    Windows,
};
use tweetflow_kafka::user_properties;
use tweetflow_observe::LogFormat;

/// The exit statuses, the same in both binaries.
const AFTER_HELP: &str = "\
Examples:
  A file, windows as a table:
    tweet-dataflow -i tweets.jsonl
  Files on 4 workers, JSON Lines to a file, with a summary:
    tweet-dataflow -w 4 -i a.jsonl -i b.jsonl.gz -o windows.jsonl --summary summary.json
  Kafka to its end, then exit:
    tweet-dataflow -b 127.0.0.1:9092 -t tweets --bounded -o windows.jsonl
  Kafka, live, crash-safe, watched (open http://127.0.0.1:8080/):
    tweet-dataflow -b 127.0.0.1:9092 -t tweets --checkpoint ckpt -o windows.jsonl \\
      --output-topic windows --ui 127.0.0.1:8080 --metrics 127.0.0.1:9464
  A cluster of 2 processes (run both; -p 1 on the second machine):
    tweet-dataflow -n 2 -p 0 --hostfile hosts.txt -w 2 -b broker:9092 -t tweets
  A managed cluster (SASL/SSL properties in a file, secrets never on the command line):
    tweet-dataflow -b broker:9093 -F client.properties -t tweets

Exit status: 0 done; 1 failure (the error says why); 2 bad flags or a usage error found after parsing; 130 a second SIGINT/SIGTERM while the first one's flush or checkpoint runs.";

/// Windowed tweet analytics: tweets per location and retweet-weighted mentions, per sliding window.
#[derive(Debug, Parser)]
#[command(name = "tweet-dataflow", version, after_help = AFTER_HELP)]
pub struct Args {
    /// Print a completion script for this shell and exit (e.g. `tweet-dataflow --completions
    /// bash > /etc/bash_completion.d/tweet-dataflow`).
    #[arg(long, value_name = "SHELL", exclusive = true)]
    completions: Option<clap_complete::Shell>,

    /// Print the manual page (roff) and exit (e.g. `tweet-dataflow --man > tweet-dataflow.1`).
    #[arg(long, exclusive = true)]
    man: bool,

    /// Input file (JSON Lines; `.gz` is decompressed). Repeatable; the files are split across all
    /// workers. Not with --brokers.
    #[arg(
        long = "input",
        short = 'i',
        value_name = "PATH",
        required_unless_present = "brokers",
        conflicts_with = "brokers"
    )]
    inputs: Vec<PathBuf>,

    /// Read the topic from these Kafka brokers instead of files; worker i owns the partitions p
    /// with p % workers == i.
    #[arg(long, short = 'b', value_name = "HOST:PORT[,…]")]
    brokers: Option<String>,

    /// Kafka topic of raw tweets.
    #[arg(long, short = 't', default_value = "tweets")]
    topic: String,

    /// Read every partition up to the end seen at start, write all windows and exit.
    #[arg(long)]
    bounded: bool,

    /// Where a run without a checkpoint starts reading: earliest, latest, committed (the
    /// --group-id's offsets; partitions without one from the earliest), or an RFC 3339 time (the
    /// first record whose timestamp, the tweet's event time, is at or after it; partitions
    /// without one from their end).
    #[arg(
        long,
        default_value = "earliest",
        value_name = "earliest|latest|committed|TIME"
    )]
    start: String,

    /// Commit each checkpoint's offsets to this consumer group (never joined: partitions stay
    /// manually assigned), so that kafka-consumer-groups.sh and lag dashboards see the job; and
    /// the group --start committed reads. Needs --checkpoint for commits.
    #[arg(long, value_name = "GROUP")]
    group_id: Option<String>,

    /// A partition with nothing to read for this long stops holding back the windows (unbounded
    /// runs); it rejoins when data arrives.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    idle_timeout: u64,

    /// How often an unbounded run looks for partitions added to the topic; new ones are read from
    /// their earliest offset by worker `partition % workers`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    discovery_interval: u64,

    /// Also write each window record to this Kafka topic (key: the window end). Needs --brokers.
    /// Created when missing, compacted; with --checkpoint written in transactions that commit
    /// with each checkpoint (read it with isolation.level=read_committed).
    #[arg(long, value_name = "TOPIC")]
    output_topic: Option<String>,

    /// Replication factor of --output-topic when it is created [default: min(3, brokers)].
    #[arg(long, value_name = "N")]
    output_replication: Option<i32>,

    /// Partitions of --output-topic when it is created (one keeps the windows in order).
    #[arg(long, value_name = "N", default_value_t = 1)]
    output_partitions: i32,

    /// Keep checkpoints in this directory and resume from the newest one there: after a crash or
    /// a stop the job goes on where it was, and --output, --output-topic and --dead-letter hold
    /// every window and letter exactly once (see README, "Recovery"). Kafka input only.
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,

    /// At most one checkpoint per this much time (each holds the state when the last window
    /// closed) [default: the slide].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    checkpoint_interval: Option<u64>,

    /// In a cluster reading Kafka without --bounded, a peer that sends nothing (not even its
    /// heartbeat, once a second) for this long is taken for frozen or cut off: this process exits
    /// 1 naming it, so that a supervisor restarts the job. At least 3s; the default is twice the
    /// longest a Kafka request may block process 0 (a transaction's commit, 30 s).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    peer_timeout: u64,

    /// A librdkafka property for every Kafka client (tuning; put secrets in -F or the
    /// environment, which other users of the machine cannot read). Needs --brokers.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    properties: Vec<String>,

    /// librdkafka properties for every Kafka client from a file (key=value lines, # comments, as
    /// kcat -F), e.g. for SASL/SSL; then TWEETFLOW_KAFKA_* variables (TWEETFLOW_KAFKA_SASL_PASSWORD
    /// is sasl.password), then -X.
    #[arg(short = 'F', long = "kafka-config", value_name = "FILE")]
    kafka_config: Option<PathBuf>,

    /// librdkafka properties from a file for the consumer of the input topic only, applied after
    /// the common ones and before --consumer-property.
    #[arg(long = "consumer-config", value_name = "FILE")]
    consumer_config: Option<PathBuf>,

    /// A librdkafka property for the consumer of the input topic only, applied after -X.
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    consumer_properties: Vec<String>,

    /// librdkafka properties from a file for the producer of --output-topic only, applied after
    /// the common ones and before --producer-property.
    #[arg(long = "producer-config", value_name = "FILE")]
    producer_config: Option<PathBuf>,

    /// A librdkafka property for the producer of --output-topic only, applied after -X.
    #[arg(long = "producer-property", value_name = "KEY=VALUE")]
    producer_properties: Vec<String>,

    /// Batch interval: tweets are assigned to epochs of this length.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    batch: u64,

    /// Window length; a multiple of the batch interval.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    window: u64,

    /// Window slide; a multiple of the batch interval.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    slide: u64,

    /// Allowed disorder per partition: a tweet more than this behind the newest one already read
    /// from its partition is late (counted and dead-lettered, not added).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    lateness: u64,

    /// A tweet whose event time is more than this after the wall clock when it is read is
    /// rejected: no genuine tweet comes from the future.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    max_future: u64,

    /// Keys per list in each window record; 0 means all.
    #[arg(long, default_value_t = 10)]
    top: usize,

    /// Write window records here (JSON Lines) instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    output: Option<PathBuf>,

    /// Format of the window records on standard output.
    #[arg(long, value_enum, default_value_t = FormatFlag::Table)]
    format: FormatFlag,

    /// Write bad and late messages here (JSON Lines: source, position, class, reason, raw).
    #[arg(long, value_name = "PATH")]
    dead_letter: Option<PathBuf>,

    /// Also write each dead letter to this Kafka topic, as Kafka Connect's dead-letter queues do:
    /// the message as value, its key when known, class, reason, source and position in headers
    /// (tweetflow.class…). Created when missing (one partition); with --checkpoint written in
    /// transactions like --output-topic. Needs --brokers.
    #[arg(long, value_name = "TOPIC")]
    dead_letter_topic: Option<String>,

    /// Also write the end-of-run counters here, as JSON.
    #[arg(long, value_name = "PATH")]
    summary: Option<PathBuf>,

    /// Worker threads per process.
    #[arg(long, short = 'w', default_value_t = 1)]
    workers: usize,

    /// Number of processes in the cluster; with a hostfile, exactly its number of entries.
    #[arg(long, short = 'n', default_value_t = 1)]
    processes: usize,

    /// Index of this process, from 0.
    #[arg(long, short = 'p', default_value_t = 0)]
    process: usize,

    /// File with one `host:port` per line, one line per process (default: 127.0.0.1:2101 upwards).
    #[arg(long, value_name = "PATH")]
    hostfile: Option<PathBuf>,

    /// How long the processes of a cluster may take to find each other before this one gives up.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    connect_timeout: u64,

    /// Serve this process's metrics for Prometheus at http://HOST:PORT/metrics (every process of
    /// a cluster serves its own workers'; README, "Metrics"). Port 0 picks a free one (logged).
    #[arg(long, value_name = "HOST:PORT")]
    metrics: Option<SocketAddr>,

    /// Serve the live view of the windows at http://HOST:PORT/ (process 0; also /metrics and the
    /// JSON behind the page: /api/windows?last=N, /api/status, /api/events).
    #[arg(long, value_name = "HOST:PORT")]
    ui: Option<SocketAddr>,

    /// With --ui: once the run has ended (a bounded run, files), keep serving the live view this
    /// long (Ctrl-C ends it sooner), to look at the windows of a batch run.
    #[arg(long, value_parser = parse_duration, default_value = "0s", value_name = "DURATION")]
    ui_linger: u64,

    /// No progress on standard error (a bar on a terminal, else a log line every 10 s).
    #[arg(long)]
    no_progress: bool,

    /// Logs on standard error as text or as one JSON object per line.
    #[arg(long, value_name = "text|json", default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FormatFlag {
    /// A readable block per window.
    Table,
    /// One JSON object per window (CONTRACT section 4).
    Jsonl,
}

/// A window error in the words of the flags.
fn window_error(e: WindowError) -> anyhow::Error {
    let flag = |d: tweet_dataflow::window::Duration| format!("--{}", d.name());
    anyhow::anyhow!(match e {
        WindowError::Zero(d) => format!("{} must be greater than zero", flag(d)),
        WindowError::TooLong { which, value_ms } => format!(
            "{} ({value_ms} ms) is longer than the representable time range",
            flag(which)
        ),
        WindowError::NotMultiple {
            which,
            value_ms,
            batch_ms,
        } => format!(
            "{} ({value_ms} ms) must be a multiple of --batch ({batch_ms} ms)",
            flag(which)
        ),
    })
}

/// What `--completions` and `--man` ask for, done before anything else.
pub enum Generated {
    Completions(clap_complete::Shell),
    Man,
}

impl Args {
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    /// How long the live view outlives the run (zero without --ui).
    pub fn ui_linger(&self) -> Duration {
        match self.ui {
            // Only process 0 serves it.
            Some(_) if self.process == 0 => Duration::from_millis(self.ui_linger),
            _ => Duration::ZERO,
        }
    }

    /// `--completions SHELL` or `--man`, when given.
    pub fn generated(&self) -> Option<Generated> {
        match (self.completions, self.man) {
            (Some(shell), _) => Some(Generated::Completions(shell)),
            (None, true) => Some(Generated::Man),
            (None, false) => None,
        }
    }
}

/// Writes the completion script or the manual page, generated from these flags, to `out`.
pub fn generate(what: Generated, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut command = Args::command();
    match what {
        Generated::Completions(shell) => {
            clap_complete::generate(shell, &mut command, "tweet-dataflow", out);
            Ok(())
        }
        Generated::Man => clap_mangen::Man::new(command).render(out),
    }
}

impl Args {
    /// Validates the flags into a run configuration; every error here is a usage error.
    pub fn into_config(self) -> Result<Config> {
        let windows = Windows::new(self.batch, self.window, self.slide).map_err(window_error)?;
        let cluster = self.cluster()?;
        if self.output_partitions < 1 || self.output_replication.is_some_and(|r| r < 1) {
            bail!("--output-partitions and --output-replication must be at least 1");
        }
        let checkpoints = match (&self.checkpoint, self.checkpoint_interval) {
            (None, Some(_)) => bail!("--checkpoint-interval needs --checkpoint DIR"),
            (None, None) => None,
            (Some(dir), interval) => Some(Checkpoints {
                dir: dir.clone(),
                interval: Duration::from_millis(interval.unwrap_or(self.slide)),
            }),
        };
        if self.group_id.is_some() && self.checkpoint.is_none() {
            tracing::warn!(
                "--group-id without --checkpoint commits nothing: the committed offsets are the checkpoints'"
            );
        }
        if let Some(dlq) = &self.dead_letter_topic
            && (dlq == &self.topic || self.output_topic.as_ref() == Some(dlq))
        {
            bail!(
                "--dead-letter-topic {dlq}: not the input topic or --output-topic (its letters would be read back, or mixed with windows)"
            );
        }
        let common = user_properties(
            self.kafka_config.as_deref(),
            std::env::vars(),
            &self.properties,
        )?;
        let no_env = std::iter::empty();
        let consumer = user_properties(
            self.consumer_config.as_deref(),
            no_env.clone(),
            &self.consumer_properties,
        )?;
        let producer = user_properties(
            self.producer_config.as_deref(),
            no_env,
            &self.producer_properties,
        )?;
        let (input, idle_timeout) = match &self.brokers {
            None => {
                for (flag, given) in [
                    ("--output-topic", self.output_topic.is_some()),
                    ("--checkpoint", self.checkpoint.is_some()),
                    ("-X", !self.properties.is_empty()),
                    ("-F", self.kafka_config.is_some()),
                    ("--consumer-config", self.consumer_config.is_some()),
                    ("--producer-config", self.producer_config.is_some()),
                    ("--group-id", self.group_id.is_some()),
                    ("--dead-letter-topic", self.dead_letter_topic.is_some()),
                    ("--consumer-property", !self.consumer_properties.is_empty()),
                    ("--producer-property", !self.producer_properties.is_empty()),
                ] {
                    if given {
                        bail!(
                            "{flag} needs --brokers (it is about Kafka; the input here is files)"
                        );
                    }
                }
                (Input::Files(self.inputs), None)
            }
            Some(brokers) => {
                let idle = (!self.bounded).then(|| Duration::from_millis(self.idle_timeout));
                if self.discovery_interval == 0 {
                    bail!("--discovery-interval must be greater than zero");
                }
                let kafka = KafkaInput {
                    brokers: brokers.clone(),
                    topic: self.topic.clone(),
                    start: match self.start.as_str() {
                        "earliest" => Start::Earliest,
                        "latest" => Start::Latest,
                        "committed" if self.group_id.is_none() => {
                            bail!("--start committed needs --group-id: whose offsets?")
                        }
                        "committed" => Start::Committed,
                        time => match tweet::time::parse_rfc3339(time) {
                            Some(ms) => Start::At(ms as i64),
                            None => bail!(
                                "--start {time:?}: earliest, latest, committed or an RFC 3339 time such as 2016-12-04T02:07:40Z"
                            ),
                        },
                    },
                    bounded: self.bounded,
                    properties: common.then(&consumer),
                    discovery_interval: Duration::from_millis(self.discovery_interval),
                    group_id: self.group_id.clone(),
                };
                (Input::Kafka(kafka), idle)
            }
        };
        if self.ui.is_some_and(|a| a.port() != 0) && self.ui == self.metrics {
            bail!(
                "--metrics and --ui at the same address: --ui serves /metrics too, give only --ui"
            );
        }
        Ok(Config {
            input,
            idle_timeout,
            windows,
            lateness_ms: self.lateness,
            max_future_ms: self.max_future,
            top: self.top,
            output_topic: self.output_topic.map(|topic| OutputTopic {
                topic,
                properties: common.then(&producer),
                partitions: self.output_partitions,
                replication: self.output_replication,
            }),
            output: match self.output {
                Some(path) => Output::File(path),
                None => Output::Stdout(match self.format {
                    FormatFlag::Table => Format::Table,
                    FormatFlag::Jsonl => Format::Jsonl,
                }),
            },
            dead_letter: self.dead_letter,
            dead_letter_topic: self.dead_letter_topic.map(|topic| OutputTopic {
                topic,
                properties: common.then(&producer),
                partitions: 1,
                replication: self.output_replication,
            }),
            summary: self.summary,
            cluster,
            checkpoints,
            observe: Observe {
                metrics: self.metrics,
                ui: self.ui,
                progress: !self.no_progress,
            },
        })
    }

    fn cluster(&self) -> Result<Cluster> {
        if self.workers == 0 {
            bail!("--workers must be at least 1");
        }
        if self.processes == 0 {
            bail!("--processes must be at least 1");
        }
        if self.process >= self.processes {
            bail!(
                "--process {} is out of range for --processes {}",
                self.process,
                self.processes
            );
        }
        let addresses = match &self.hostfile {
            None => (0..self.processes)
                .map(|i| format!("127.0.0.1:{}", 2101 + i))
                .collect(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading --hostfile {}", path.display()))?;
                let hosts = parse_hostfile(&text)
                    .with_context(|| format!("--hostfile {}", path.display()))?;
                if hosts.len() != self.processes {
                    bail!(
                        "--hostfile {} lists {} hosts but --processes is {}: they must be equal",
                        path.display(),
                        hosts.len(),
                        self.processes
                    );
                }
                hosts
            }
        };
        if self.connect_timeout == 0 {
            bail!("--connect-timeout must be greater than zero");
        }
        if self.peer_timeout < 3 * 1000 {
            // Three heartbeats: one late heartbeat is no reason to end the job.
            bail!("--peer-timeout must be at least 3s (peers send a heartbeat once a second)");
        }
        Ok(Cluster {
            workers: self.workers,
            processes: self.processes,
            process: self.process,
            addresses,
            connect_timeout: Duration::from_millis(self.connect_timeout),
            // Heartbeats flow only while every worker reads on (unbounded Kafka runs).
            peer_timeout: (self.brokers.is_some() && !self.bounded)
                .then(|| Duration::from_millis(self.peer_timeout)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["tweet-dataflow", "--input", "x.jsonl"];
        argv.extend_from_slice(extra);
        let args = Args::try_parse_from(argv).map_err(|e| e.to_string())?;
        args.into_config().map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn kafka_flags_have_kcat_short_forms_and_start_takes_a_time() {
        let argv = [
            "tweet-dataflow",
            "-b",
            "k:9092",
            "-t",
            "raw",
            "--start",
            "2016-12-04T02:08:00Z",
        ];
        let config = Args::try_parse_from(argv).unwrap().into_config().unwrap();
        let Input::Kafka(kafka) = config.input else {
            panic!("Kafka input")
        };
        assert_eq!(
            (kafka.brokers.as_str(), kafka.topic.as_str()),
            ("k:9092", "raw")
        );
        assert_eq!(kafka.start, Start::At(1_480_817_280_000));
        let argv = ["tweet-dataflow", "-b", "k:9092", "--start", "committed"];
        let err = Args::try_parse_from(argv)
            .unwrap()
            .into_config()
            .unwrap_err();
        assert!(format!("{err:#}").contains("needs --group-id"), "{err:#}");
        let argv = ["tweet-dataflow", "-b", "k:9092", "--start", "yesterday"];
        assert!(Args::try_parse_from(argv).unwrap().into_config().is_err());
    }

    #[test]
    fn completions_and_the_manual_come_from_the_flags() {
        let mut out = Vec::new();
        generate(Generated::Completions(clap_complete::Shell::Bash), &mut out).unwrap();
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("--checkpoint") && script.contains("tweet-dataflow"));
        let mut out = Vec::new();
        generate(Generated::Man, &mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.contains(".TH tweet-dataflow 1") && page.contains("Exit status"));
        let args = Args::try_parse_from(["tweet-dataflow", "--man"]).unwrap();
        assert!(
            matches!(args.generated(), Some(Generated::Man)),
            "no input needed"
        );
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.windows, Windows::new(5_000, 60_000, 30_000).unwrap());
        assert_eq!(config.top, 10);
        assert_eq!(config.output, Output::Stdout(Format::Table));
        assert_eq!(config.cluster.addresses, ["127.0.0.1:2101"]);
        assert_eq!(config.max_future_ms, 3_600_000);
    }

    #[test]
    fn window_and_slide_must_be_multiples_of_batch() {
        let err = parse(&["--batch", "7s"]).unwrap_err();
        assert!(
            err.contains("--window (60000 ms) must be a multiple of --batch (7000 ms)"),
            "{err}"
        );
        let err = parse(&["--slide", "12s"]).unwrap_err();
        assert!(err.contains("--slide"), "{err}");
        assert!(parse(&["--batch", "500ms", "--window", "1m", "--slide", "1500ms"]).is_ok());
        assert!(
            parse(&["--batch", "0s"])
                .unwrap_err()
                .contains("--batch must be greater than zero")
        );
    }

    #[test]
    fn bad_durations_are_flag_errors() {
        assert!(
            parse(&["--batch", "5"])
                .unwrap_err()
                .contains("needs a unit")
        );
        assert!(parse(&["--window", "soon"]).is_err());
    }

    #[test]
    fn cluster_flags() {
        assert!(
            parse(&["-n", "2", "-p", "2"])
                .unwrap_err()
                .contains("out of range")
        );
        let config = parse(&["-n", "2", "-p", "1", "-w", "3"]).unwrap();
        assert_eq!(
            config.cluster.addresses,
            ["127.0.0.1:2101", "127.0.0.1:2102"]
        );
        assert_eq!(config.cluster.workers, 3);
    }

    #[test]
    fn the_hostfile_must_match_the_process_count() {
        // Issue 8: `-n 1` with a two-line hostfile was accepted.
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "127.0.0.1:2101\n127.0.0.1:2102\n").unwrap();
        let hosts = hosts.to_str().unwrap();
        let err = parse(&["-n", "1", "--hostfile", hosts]).unwrap_err();
        assert!(err.contains("lists 2 hosts but --processes is 1"), "{err}");
        assert!(parse(&["-n", "2", "--hostfile", hosts]).is_ok());
        std::fs::write(dir.path().join("bad"), "127.0.0.1:2101\nnot-an-address\n").unwrap();
        let bad = dir.path().join("bad");
        let err = parse(&["-n", "2", "--hostfile", bad.to_str().unwrap()]).unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn kafka_flags_need_brokers() {
        // Issue 8: --output-topic without --brokers was silently ignored.
        for flag in [
            &["--output-topic", "out"][..],
            &["-X", "acks=1"],
            &["--producer-property", "linger.ms=5"],
        ] {
            let err = parse(flag).unwrap_err();
            assert!(err.contains("needs --brokers"), "{flag:?}: {err}");
        }
    }

    #[test]
    fn a_malformed_secret_property_is_not_quoted() {
        // Review of issue 8: clap quoted the whole argument in its own error.
        let err = parse(&["-X", "sasl.password:hunter2"]).unwrap_err();
        assert!(
            err.contains("is not of the form key=value") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn consumer_and_producer_properties_are_kept_apart() {
        let args = Args::try_parse_from([
            "tweet-dataflow",
            "--brokers",
            "b:1",
            "--output-topic",
            "out",
            "-X",
            "security.protocol=SASL_SSL",
            "--consumer-property",
            "queued.min.messages=10",
            "--producer-property",
            "linger.ms=5",
        ])
        .unwrap();
        let config = args.into_config().unwrap();
        let Input::Kafka(kafka) = &config.input else {
            panic!("kafka input")
        };
        assert_eq!(kafka.properties.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(kafka.properties.get("queued.min.messages"), Some("10"));
        assert_eq!(kafka.properties.get("linger.ms"), None);
        let out = config.output_topic.unwrap();
        assert_eq!(out.properties.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(out.properties.get("linger.ms"), Some("5"));
        assert_eq!(out.properties.get("queued.min.messages"), None);
    }
}
