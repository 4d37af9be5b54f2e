//! Command-line flags, and their validation into a typed [`Config`]: the one place where the
//! rules of CONTRACT section 3 about durations are enforced.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use thiserror::Error;
use tweet::time::parse_duration;

use crate::source::kafka::{KafkaInput, Start};
use crate::window::Windows;

fn parse_property(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not of the form key=value")),
    }
}

/// Where tweets come from.
#[derive(Clone, Debug)]
pub enum Input {
    Files(Vec<PathBuf>),
    Kafka(KafkaInput),
}

/// Windowed tweet analytics: tweets per location and retweet-weighted mentions, per sliding window.
#[derive(Debug, Parser)]
#[command(name = "tweet-dataflow", version)]
pub struct Args {
    /// Input file (JSON Lines; `.gz` is decompressed). Repeatable; the files are split across all
    /// workers. Not with --brokers.
    #[arg(
        long = "input",
        short = 'i',
        value_name = "PATH",
        required_unless_present = "brokers",
        conflicts_with = "brokers"
    )]
    pub inputs: Vec<PathBuf>,

    /// Read the topic from these Kafka brokers instead of files; worker i owns the partitions p
    /// with p % workers == i.
    #[arg(long, value_name = "HOST:PORT[,…]")]
    pub brokers: Option<String>,

    /// Kafka topic of raw tweets.
    #[arg(long, default_value = "tweets")]
    pub topic: String,

    /// Read every partition up to the end seen at start, write all windows and exit.
    #[arg(long)]
    pub bounded: bool,

    /// Where to start reading the topic.
    #[arg(long, value_enum, default_value_t = Start::Earliest)]
    pub start: Start,

    /// A partition with nothing to read for this long stops holding back the windows (unbounded
    /// runs); it rejoins when data arrives.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub idle_timeout: u64,

    /// Also write each window record to this Kafka topic (key: the window end). Needs --brokers.
    #[arg(long, value_name = "TOPIC", requires = "brokers")]
    pub output_topic: Option<String>,

    /// A librdkafka property for the consumer, applied last (SASL/SSL, tuning).
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,

    /// Batch interval: tweets are assigned to epochs of this length.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub batch: u64,

    /// Window length; a multiple of the batch interval.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub window: u64,

    /// Window slide; a multiple of the batch interval.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub slide: u64,

    /// Allowed disorder per partition: a tweet more than this behind the newest one already read
    /// from its partition is late (counted and dead-lettered, not added).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub lateness: u64,

    /// Keys per list in each window record; 0 means all.
    #[arg(long, default_value_t = 10)]
    pub top: usize,

    /// Write window records here (JSON Lines) instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Format of the window records on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write bad and late messages here (JSON Lines: source, position, class, reason, raw).
    #[arg(long, value_name = "PATH")]
    pub dead_letter: Option<PathBuf>,

    /// Also write the end-of-run counters here, as JSON.
    #[arg(long, value_name = "PATH")]
    pub summary: Option<PathBuf>,

    /// Worker threads per process.
    #[arg(long, short = 'w', default_value_t = 1)]
    pub workers: usize,

    /// Number of processes in the cluster.
    #[arg(long, short = 'n', default_value_t = 1)]
    pub processes: usize,

    /// Index of this process, from 0.
    #[arg(long, short = 'p', default_value_t = 0)]
    pub process: usize,

    /// File with one `host:port` per line, one line per process (default: 127.0.0.1:2101 upwards).
    #[arg(long, value_name = "PATH")]
    pub hostfile: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable block per window.
    Table,
    /// One JSON object per window (CONTRACT section 4).
    Jsonl,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("--{name} must be greater than zero")]
    Zero { name: &'static str },
    #[error("--{name} ({value_ms} ms) is longer than the representable time range")]
    TooLong { name: &'static str, value_ms: u64 },
    #[error("--{name} ({value_ms} ms) must be a multiple of --batch ({batch_ms} ms)")]
    NotMultiple {
        name: &'static str,
        value_ms: u64,
        batch_ms: u64,
    },
    #[error("--workers must be at least 1")]
    NoWorkers,
    #[error("--processes must be at least 1")]
    NoProcesses,
    #[error("--process {process} is out of range for --processes {processes}")]
    ProcessIndex { process: usize, processes: usize },
    #[error("reading --hostfile {path}: {source}")]
    Hostfile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--hostfile {path} lists {found} hosts but --processes is {processes}")]
    HostCount {
        path: PathBuf,
        found: usize,
        processes: usize,
    },
}

/// Where window records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout(Format),
    File(PathBuf),
}

/// The timely cluster this process is part of.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub workers: usize,
    pub processes: usize,
    pub process: usize,
    pub addresses: Vec<String>,
}

/// A validated run configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub input: Input,
    /// `None`: idle partitions always hold time back (files, bounded Kafka runs).
    pub idle_timeout: Option<std::time::Duration>,
    pub windows: Windows,
    pub lateness_ms: u64,
    pub top: usize,
    pub output: Output,
    /// `--output-topic`, on the input's brokers.
    pub output_topic: Option<String>,
    pub dead_letter: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub cluster: Cluster,
}

impl TryFrom<Args> for Config {
    type Error = ConfigError;

    fn try_from(args: Args) -> Result<Config, ConfigError> {
        let windows = Windows::new(args.batch, args.window, args.slide)?;
        let cluster = cluster(&args)?;
        let (input, idle_timeout) = match args.brokers {
            None => (Input::Files(args.inputs), None),
            Some(brokers) => {
                let idle =
                    (!args.bounded).then(|| std::time::Duration::from_millis(args.idle_timeout));
                let kafka = KafkaInput {
                    brokers,
                    topic: args.topic,
                    start: args.start,
                    bounded: args.bounded,
                    properties: args.properties,
                };
                (Input::Kafka(kafka), idle)
            }
        };
        Ok(Config {
            input,
            idle_timeout,
            windows,
            lateness_ms: args.lateness,
            top: args.top,
            output_topic: args.output_topic,
            output: match args.output {
                Some(path) => Output::File(path),
                None => Output::Stdout(args.format),
            },
            dead_letter: args.dead_letter,
            summary: args.summary,
            cluster,
        })
    }
}

fn cluster(args: &Args) -> Result<Cluster, ConfigError> {
    if args.workers == 0 {
        return Err(ConfigError::NoWorkers);
    }
    if args.processes == 0 {
        return Err(ConfigError::NoProcesses);
    }
    let processes = args.processes;
    if args.process >= processes {
        return Err(ConfigError::ProcessIndex {
            process: args.process,
            processes,
        });
    }
    let addresses = match &args.hostfile {
        None => (0..processes)
            .map(|i| format!("127.0.0.1:{}", 2101 + i))
            .collect(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Hostfile {
                path: path.clone(),
                source,
            })?;
            let hosts: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect();
            if hosts.len() < processes {
                return Err(ConfigError::HostCount {
                    path: path.clone(),
                    found: hosts.len(),
                    processes,
                });
            }
            hosts.into_iter().take(processes).collect()
        }
    };
    Ok(Cluster {
        workers: args.workers,
        processes,
        process: args.process,
        addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["tweet-dataflow", "--input", "x.jsonl"];
        argv.extend_from_slice(extra);
        let args = Args::try_parse_from(argv).map_err(|e| e.to_string())?;
        Config::try_from(args).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.windows, Windows::new(5_000, 60_000, 30_000).unwrap());
        assert_eq!(config.top, 10);
        assert_eq!(config.output, Output::Stdout(Format::Table));
        assert_eq!(config.cluster.addresses, ["127.0.0.1:2101"]);
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
                .contains("greater than zero")
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
}
