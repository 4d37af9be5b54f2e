//! The flags of `tweet-producer` (binary only: the library takes typed jobs), and their
//! validation into a [`Job`]. Every usage error is found here and exits with status 2.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tweet::time::parse_duration;
use tweet_producer::generate::{DEFAULT_START_MS, GenerateConfig, KeyShape};
use tweet_producer::replay::{PACE_RANGE, Pace};
use tweet_producer::resume::Resume;
use tweet_producer::run::Job;
use tweet_producer::stream::{Api, Recover, StreamConfig};
use tweet_producer::writer::KafkaTarget;
use tweetflow_kafka::user_properties;
use tweetflow_observe::LogFormat;

/// The exit statuses, the same in both binaries.
const AFTER_HELP: &str = "\
Examples:
  Synthetic tweets into a file, and into Kafka:
    tweet-producer generate --count 100000 --out tweets.jsonl
    tweet-producer generate --count 100000 -b 127.0.0.1:9092 -t tweets
  A live synthetic stream (event time = now), 200 tweets/s until Ctrl-C, with metrics:
    tweet-producer generate --live --rate 200 -b 127.0.0.1:9092 --metrics 127.0.0.1:9465
  Replay archives at 10x their event-time speed, exactly once across reruns:
    tweet-producer replay --speedup 10 --resume archive-1 -b 127.0.0.1:9092 a.jsonl b.jsonl.gz
  Live tweets from X (credentials from the environment or .env):
    tweet-producer stream --track rust,kafka -b 127.0.0.1:9092 -t tweets

Exit status: 0 done; 1 failure (the error says why); 2 bad flags or a usage error found after parsing; 130 a second SIGINT/SIGTERM while the first one's flush or checkpoint runs.";

#[derive(Parser)]
#[command(name = "tweet-producer", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Serve the producer's metrics for Prometheus at http://HOST:PORT/metrics while it runs
    /// into Kafka (README, "Metrics"). Port 0 picks a free one (logged).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    metrics: Option<SocketAddr>,

    /// Logs on standard error as text or as one JSON object per line.
    #[arg(long, global = true, value_name = "text|json", default_value = "text")]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Write a deterministic synthetic tweet stream as JSON Lines, to a file or into Kafka.
    Generate(GenerateArgs),
    /// Replay fixture or archive files (.jsonl, .json, .gz) into a Kafka topic.
    Replay(ReplayArgs),
    /// Stream live tweets matching --track from X's API into a Kafka topic, until interrupted.
    /// Credentials come from the environment or a .env file (see README, "Live tweets").
    Stream(StreamArgs),
    /// Print a completion script for SHELL (e.g. `tweet-producer completions bash >
    /// /etc/bash_completion.d/tweet-producer`).
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), e.g. `tweet-producer man > tweet-producer.1`.
    Man,
}

/// Where tweets go in Kafka (CONTRACT section 5).
#[derive(Args)]
struct KafkaArgs {
    /// Kafka bootstrap servers, e.g. 127.0.0.1:9092.
    #[arg(long, short = 'b', value_name = "HOST:PORT[,…]")]
    brokers: Option<String>,
    /// Topic to write; created when missing.
    #[arg(long, short = 't', default_value = "tweets")]
    topic: String,
    /// Partitions of the topic when it is created.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Replication factor of the topic when it is created.
    #[arg(long, default_value_t = 1)]
    replication: i32,
    /// A librdkafka property applied last (tuning; put secrets in -F or the environment, which
    /// other users of the machine cannot read), e.g. -X compression.type=zstd.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// librdkafka properties from a file (key=value lines, # comments, as kcat -F), e.g. for
    /// SASL/SSL; then TWEETFLOW_KAFKA_* variables (TWEETFLOW_KAFKA_SASL_PASSWORD is
    /// sasl.password), then -X.
    #[arg(short = 'F', long = "kafka-config", value_name = "FILE")]
    kafka_config: Option<PathBuf>,
    /// Keep messages that are not tweets, and tweets Kafka refused, here (JSON Lines: source,
    /// position, class, reason, raw, and the key of refused tweets).
    #[arg(long, value_name = "PATH")]
    dead_letter: Option<PathBuf>,
    /// Also write dead letters to this Kafka topic, as Kafka Connect's dead-letter queues do: the
    /// message as value, its key when known, class, reason, source and position in headers
    /// (tweetflow.class…). Created when missing; under --resume in the same transactions as the
    /// tweets.
    #[arg(long, value_name = "TOPIC")]
    dead_letter_topic: Option<String>,
    /// A tweet whose event time is more than this after the wall clock is rejected, not written:
    /// no genuine tweet comes from the future.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    max_future: u64,
}

impl KafkaArgs {
    fn target(&self, command: &str) -> Result<KafkaTarget> {
        let Some(brokers) = &self.brokers else {
            bail!("{command} needs --brokers (e.g. 127.0.0.1:9092)")
        };
        if self.dead_letter_topic.as_ref() == Some(&self.topic) {
            bail!("--dead-letter-topic must not be the tweet topic (--topic)");
        }
        if self.partitions < 1 || self.replication < 1 {
            bail!("--partitions and --replication must be at least 1");
        }
        Ok(KafkaTarget {
            brokers: brokers.clone(),
            topic: self.topic.clone(),
            partitions: self.partitions,
            replication: self.replication,
            properties: user_properties(
                self.kafka_config.as_deref(),
                std::env::vars(),
                &self.properties,
            )?,
            dead_letter: self.dead_letter.clone(),
            max_future_ms: self.max_future,
            resume: None,
            dead_letter_topic: self.dead_letter_topic.clone(),
        })
    }
}

/// Exactly once across reruns (`replay` and `generate --brokers`).
#[derive(Args)]
struct ResumeArgs {
    /// Exactly once across crashes and reruns: tweets are written in transactions that carry the
    /// position they reach, and the same command run again goes on exactly after the last commit.
    /// NAME is the job's (its transactional id is tweetflow-producer-NAME).
    #[arg(long, value_name = "NAME")]
    resume: Option<String>,
    /// The compacted topic holding the job's committed position; created when missing
    /// [default: tweetflow-progress-NAME]. Jobs may share one, but then a job killed with a
    /// transaction open there holds the others' start-up back until the broker aborts it.
    #[arg(long, requires = "resume", value_name = "TOPIC")]
    progress_topic: Option<String>,
    /// How often a --resume run commits: a read_committed reader sees tweets this much later.
    #[arg(long, requires = "resume", value_parser = parse_duration, default_value = "1s")]
    commit_interval: u64,
}

impl ResumeArgs {
    fn resume(&self) -> Result<Option<Resume>> {
        let Some(name) = &self.resume else {
            return Ok(None);
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if name.is_empty() || name.len() > 200 || !name.chars().all(valid) {
            bail!("--resume {name:?}: a name of letters, digits, '.', '_' and '-' (at most 200)");
        }
        if self.commit_interval == 0 || self.commit_interval > 300_000 {
            bail!("--commit-interval must be from 1ms to 5m");
        }
        Ok(Some(Resume {
            name: name.clone(),
            progress_topic: self
                .progress_topic
                .clone()
                .unwrap_or_else(|| format!("tweetflow-progress-{name}")),
            commit_interval: std::time::Duration::from_millis(self.commit_interval),
        }))
    }
}

#[derive(Args)]
struct ReplayArgs {
    /// Files to replay, in order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Tweets per second of wall time (default: as fast as possible).
    #[arg(long, conflicts_with = "speedup")]
    rate: Option<f64>,
    /// Replay at this many times event-time speed.
    #[arg(long)]
    speedup: Option<f64>,
    /// Start again from the first file after the last, until interrupted.
    #[arg(long = "loop")]
    looping: bool,
    #[command(flatten)]
    resume: ResumeArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KeysFlag {
    /// Concentrated: about 0.4 distinct mention names per tweet per 30 s slide.
    Default,
    /// A long tail like the real stream's, at 470 tweets/s unless --rate says otherwise: 1.9
    /// mentions and 1.1 distinct names per tweet per slide, 2,200 locations per slide.
    Realistic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ApiFlag {
    /// `GET /2/tweets/search/stream`, app-only bearer token, rules synced with --track.
    V2,
    /// `POST /1.1/statuses/filter.json` with `track=`, OAuth 1.0a user context.
    V1,
}

#[derive(Args)]
struct StreamArgs {
    /// Terms to track, comma separated: a term's spaces mean AND, the terms OR (v1.1 `track`).
    #[arg(
        long,
        required = true,
        value_delimiter = ',',
        value_name = "TERM[,TERM…]"
    )]
    track: Vec<String>,
    /// v2: the filtered stream with a bearer token (X_BEARER_TOKEN). v1: the legacy
    /// statuses/filter with OAuth 1.0a (TWITTER_CONSUMER_KEY, TWITTER_CONSUMER_SECRET,
    /// TWITTER_ACCESS_TOKEN, TWITTER_ACCESS_TOKEN_SECRET).
    #[arg(long, value_enum, default_value = "v2")]
    api: ApiFlag,
    /// Another host for the API: a proxy, a compatible service, a test server
    /// [default: https://api.x.com for v2, https://stream.twitter.com for v1].
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    /// Show what would change (v2 rules) or be requested (v1), then exit without streaming.
    #[arg(long)]
    dry_run: bool,
    /// Tag of the v2 rules this tool manages; rules with other tags are left alone.
    #[arg(long, default_value = "tweetflow")]
    rule_tag: String,
    /// Reconnect when the stream sends nothing, not even a keep-alive, for this long.
    #[arg(long, value_parser = parse_duration, default_value = "90s")]
    stall_timeout: u64,
    /// v2, Enterprise access: reconnect with backfill_minutes for the gap (up to 5 minutes) and
    /// drop the tweets it delivers twice.
    #[arg(long, conflicts_with = "recover")]
    backfill: bool,
    /// v2, Enterprise access: a one-off Recovery of the tweets matched in FROM..TO (RFC 3339, at
    /// most 24 hours back) into the topic, without those it holds already; ends when X has
    /// re-streamed the period.
    #[arg(long, value_name = "FROM..TO")]
    recover: Option<String>,
    #[command(flatten)]
    kafka: KafkaArgs,
}

#[derive(Args)]
struct GenerateArgs {
    /// Output file; `-` for stdout, a `.gz` suffix (any case) compresses with gzip. Not with
    /// --brokers.
    #[arg(long, required_unless_present = "brokers", conflicts_with = "brokers")]
    out: Option<PathBuf>,
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Number of tweets (noise lines come on top) [default with --live: until interrupted].
    #[arg(long, required_unless_present = "live")]
    count: Option<u64>,
    /// Seed: equal flags write equal bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Tweets per second of event time [default: 1000; with --keys realistic 470, the real
    /// stream's sample].
    #[arg(long)]
    rate: Option<f64>,
    /// Write X API v2 filtered-stream envelopes instead of v1.1 statuses.
    #[arg(long)]
    v2: bool,
    /// Largest event-time disorder, e.g. 500ms, 3s, 1m: any lateness at least this large drops nothing.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    disorder: u64,
    /// Event time of the first tweet, RFC 3339 [default: 2016-12-04T02:07:40Z].
    #[arg(long)]
    start: Option<String>,
    /// Also write notices, blank, malformed and rejected lines (~1% of lines).
    #[arg(long)]
    noise: bool,
    /// How diverse the keys are. The flags below override the preset's parts.
    #[arg(long, value_enum, default_value_t = KeysFlag::Default)]
    keys: KeysFlag,
    /// Accounts that can be mentioned (ranks of a Zipf law, at most 2,000,000).
    #[arg(long, value_name = "N")]
    mention_accounts: Option<usize>,
    /// Exponent of the Zipf law of mentions (lower: flatter, more distinct names).
    #[arg(long, value_name = "S")]
    mention_zipf: Option<f64>,
    /// Places people give as their location (beyond ~190 real cities, synthetic towns).
    #[arg(long, value_name = "N")]
    places: Option<usize>,
    /// Exponent of the Zipf law of places.
    #[arg(long, value_name = "S")]
    location_zipf: Option<f64>,
    /// Mean of the Poisson law of mentions per original tweet, before the cap at 4 (retweets add
    /// the retweeted account).
    #[arg(long, value_name = "M")]
    mentions_per_original: Option<f64>,
    /// Stamp tweets with the current time and write each when it is due, --rate per second of
    /// wall clock, so that an unbounded tweet-dataflow closes windows in real time (the demo's
    /// `--live`). Into Kafka only (--brokers); not with --start or --resume.
    #[arg(long, conflicts_with_all = ["start", "resume", "out"], requires = "brokers")]
    live: bool,
    #[command(flatten)]
    resume: ResumeArgs,
}

/// A pace flag must be one a clock can keep.
fn pace(flag: &str, value: f64) -> Result<f64> {
    if !(value.is_finite() && PACE_RANGE.contains(&value)) {
        bail!(
            "{flag} must be a number from {} to {}, got {value}",
            PACE_RANGE.start(),
            PACE_RANGE.end()
        );
    }
    Ok(value)
}

impl GenerateArgs {
    fn config(&self) -> Result<GenerateConfig> {
        let rate = match (self.rate, self.keys) {
            (Some(rate), _) => rate,
            (None, KeysFlag::Realistic) => 470.0,
            (None, KeysFlag::Default) => 1000.0,
        };
        let rate = pace("--rate", rate)?;
        let start_ms = match &self.start {
            None => DEFAULT_START_MS,
            Some(s) => {
                let t = chrono::DateTime::parse_from_rfc3339(s).with_context(|| {
                    format!("--start {s:?} is not an RFC 3339 time such as 2016-12-04T02:07:40Z")
                })?;
                u64::try_from(t.timestamp_millis())
                    .with_context(|| format!("--start {s:?} is before 1970"))?
            }
        };
        let mut keys = match self.keys {
            KeysFlag::Default => KeyShape::default(),
            KeysFlag::Realistic => KeyShape::realistic(),
        };
        if let Some(n) = self.mention_accounts {
            if !(1..=2_000_000).contains(&n) {
                bail!("--mention-accounts must be from 1 to 2000000, got {n}");
            }
            keys.mention_accounts = n;
        }
        if let Some(n) = self.places {
            if n == 0 || n > 10_000_000 {
                bail!("--places must be from 1 to 10000000, got {n}");
            }
            keys.places = n;
        }
        for (flag, value, slot) in [
            ("--mention-zipf", self.mention_zipf, &mut keys.mention_zipf),
            (
                "--location-zipf",
                self.location_zipf,
                &mut keys.location_zipf,
            ),
        ] {
            if let Some(v) = value {
                if !(v.is_finite() && (0.0..=5.0).contains(&v)) {
                    bail!("{flag} must be from 0 to 5, got {v}");
                }
                *slot = v;
            }
        }
        if let Some(m) = self.mentions_per_original {
            if !(m.is_finite() && (0.0..=4.0).contains(&m)) {
                bail!("--mentions-per-original must be from 0 to 4, got {m}");
            }
            keys.mentions_per_original = Some(m);
        }
        Ok(GenerateConfig {
            keys,
            count: self.count.unwrap_or(u64::MAX),
            live: self.live,
            seed: self.seed,
            rate,
            v2: self.v2,
            disorder_ms: self.disorder,
            start_ms,
            noise: self.noise,
        })
    }
}

/// `FROM..TO` of `--recover`: RFC 3339 instants, FROM before TO, TO not in the future, FROM at
/// most 24 hours back (X's limit).
fn recover_period(text: &str) -> Result<Recover> {
    let (from, to) = text.split_once("..").with_context(|| {
        format!("--recover {text:?}: FROM..TO, e.g. 2026-12-01T10:00:00Z..2026-12-01T10:20:00Z")
    })?;
    let time = |s: &str| -> Result<u64> {
        let t = chrono::DateTime::parse_from_rfc3339(s)
            .with_context(|| format!("--recover: {s:?} is not an RFC 3339 time"))?;
        u64::try_from(t.timestamp_millis())
            .with_context(|| format!("--recover: {s:?} is before 1970"))
    };
    let (from_ms, to_ms) = (time(from)?, time(to)?);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if from_ms >= to_ms {
        bail!("--recover {text:?}: FROM must be before TO");
    }
    if to_ms > now {
        bail!("--recover {text:?}: TO is in the future");
    }
    // X recovers at most 24 hours back, counted when the request arrives: a margin for the
    // reading of the topic and the reconnects before it.
    if from_ms + 24 * 3_600_000 - 10 * 60_000 < now {
        bail!("--recover {text:?}: X recovers at most 24 hours back (FROM within 23 h 50 min)");
    }
    Ok(Recover { from_ms, to_ms })
}

/// What the binary does after validation.
pub enum Plan {
    Run(Job),
    /// `stream --dry-run`: show the rule change (v2) or the request (v1).
    DryRun(StreamConfig),
    /// `completions SHELL` or `man`: text generated from these flags.
    Generated(String),
}

/// The completion script for `shell`, or the manual page, generated from the flags.
fn generated(shell: Option<clap_complete::Shell>) -> Result<String> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut out = Vec::new();
    match shell {
        Some(shell) => clap_complete::generate(shell, &mut command, "tweet-producer", &mut out),
        None => clap_mangen::Man::new(command).render(&mut out)?,
    }
    Ok(String::from_utf8(out)?)
}

impl Cli {
    /// Validates the flags; every error here is a usage error.
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    pub fn metrics(&self) -> Option<SocketAddr> {
        self.metrics
    }

    pub fn plan(self) -> Result<Plan> {
        Ok(Plan::Run(match self.command {
            Command::Completions { shell } => return Ok(Plan::Generated(generated(Some(shell))?)),
            Command::Man => return Ok(Plan::Generated(generated(None)?)),
            Command::Generate(args) => {
                let config = args.config()?;
                match (&args.out, &args.kafka.brokers) {
                    (Some(_), None)
                        if !args.kafka.properties.is_empty()
                            || args.kafka.kafka_config.is_some()
                            || args.kafka.dead_letter.is_some()
                            || args.kafka.dead_letter_topic.is_some()
                            || args.resume.resume.is_some() =>
                    {
                        bail!(
                            "-X, -F, --dead-letter and --resume need --brokers (generate --out writes a file)"
                        )
                    }
                    (Some(out), None) => Job::GenerateFile {
                        config,
                        out: out.clone(),
                    },
                    _ => {
                        let mut target = args.kafka.target("generate")?;
                        target.resume = args.resume.resume()?;
                        Job::GenerateKafka { config, target }
                    }
                }
            }
            Command::Replay(args) => {
                let pace = match (args.rate, args.speedup) {
                    (Some(r), _) => Pace::Rate(pace("--rate", r)?),
                    (_, Some(x)) => Pace::Speedup(pace("--speedup", x)?),
                    _ => Pace::AsFastAsPossible,
                };
                let mut target = args.kafka.target("replay")?;
                target.resume = args.resume.resume()?;
                for file in &args.files {
                    std::fs::File::open(file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                }
                Job::Replay {
                    files: args.files,
                    pace,
                    looping: args.looping,
                    target,
                }
            }
            Command::Stream(args) => {
                if args.stall_timeout == 0 {
                    bail!("--stall-timeout must be positive");
                }
                let api = match args.api {
                    ApiFlag::V2 => Api::V2,
                    ApiFlag::V1 => Api::V1,
                };
                if api == Api::V1 && (args.backfill || args.recover.is_some()) {
                    bail!("--backfill and --recover are features of the v2 stream (--api v2)");
                }
                let recover = args.recover.as_deref().map(recover_period).transpose()?;
                let config = StreamConfig {
                    api,
                    base: args
                        .api_base
                        .clone()
                        .unwrap_or_else(|| api.default_base().to_owned()),
                    track: args.track.clone(),
                    rule_tag: args.rule_tag.clone(),
                    stall_timeout: std::time::Duration::from_millis(args.stall_timeout),
                    connect_timeout: std::time::Duration::from_secs(10),
                    backfill: args.backfill,
                    recover,
                };
                if args.dry_run {
                    return Ok(Plan::DryRun(config));
                }
                let target = args.kafka.target("stream").context("or --dry-run")?;
                Job::Stream { config, target }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(argv: &[&str]) -> Result<Plan, String> {
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        cli.plan().map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn paces_a_clock_cannot_keep_are_usage_errors() {
        // Issue 8: `--rate 1e-300` panicked.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.jsonl");
        std::fs::write(&file, "").unwrap();
        let file = file.to_str().unwrap();
        for flags in [
            ["--rate", "1e-300"],
            ["--rate", "0"],
            ["--rate", "inf"],
            ["--speedup", "1e-300"],
            ["--speedup=-1", "--loop"],
        ] {
            let mut argv = vec!["tweet-producer", "replay", file, "--brokers", "b:1"];
            argv.extend(flags);
            let err = plan(&argv).err().expect("refused");
            assert!(err.contains("must be a number from"), "{flags:?}: {err}");
        }
        let err = plan(&[
            "tweet-producer",
            "generate",
            "--out",
            "-",
            "--count",
            "1",
            "--rate",
            "1e-300",
        ])
        .err()
        .expect("refused");
        assert!(err.contains("--rate must be"), "{err}");
        let mut argv = vec!["tweet-producer", "replay", file, "--brokers", "b:1"];
        argv.extend(["--rate", "0.5"]);
        assert!(plan(&argv).is_ok());
    }

    #[test]
    fn kafka_flags_have_kcat_short_forms() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.jsonl");
        std::fs::write(&file, "").unwrap();
        let argv = [
            "tweet-producer",
            "replay",
            file.to_str().unwrap(),
            "-b",
            "k:1",
            "-t",
            "raw",
        ];
        let Ok(Plan::Run(Job::Replay { target, .. })) = plan(&argv) else {
            panic!("a replay")
        };
        assert_eq!(
            (target.brokers.as_str(), target.topic.as_str()),
            ("k:1", "raw")
        );
    }

    #[test]
    fn completions_and_the_manual_come_from_the_flags() {
        let Ok(Plan::Generated(script)) = plan(&["tweet-producer", "completions", "bash"]) else {
            panic!("a script")
        };
        assert!(script.contains("--resume") && script.contains("tweet-producer"));
        let Ok(Plan::Generated(page)) = plan(&["tweet-producer", "man"]) else {
            panic!("a page")
        };
        assert!(page.contains(".TH tweet-producer 1") && page.contains("Exit status"));
    }

    #[test]
    fn replay_needs_brokers() {
        let err = plan(&["tweet-producer", "replay", "x.jsonl"])
            .err()
            .unwrap();
        assert!(err.contains("replay needs --brokers"), "{err}");
    }
}
