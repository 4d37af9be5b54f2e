//! `tweet-producer`: writes tweets for the tweetflow pipeline (CONTRACT §5).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use flate2::Compression;
use flate2::write::GzEncoder;
use tweet::time::parse_duration;
use tweet_producer::generate::{DEFAULT_START_MS, GenerateConfig, generate};
use tweet_producer::kafka::{self, Delivery, KafkaOptions, LineSink, TweetWriter};
use tweet_producer::progress::Reporter;
use tweet_producer::replay::{Pace, replay};
use tweet_producer::stream::{self, Api, Auth, StreamConfig, StreamStats, TokioSleep};

#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
}

/// Where tweets go in Kafka (CONTRACT section 5).
#[derive(Args)]
struct KafkaArgs {
    /// Kafka bootstrap servers, e.g. 127.0.0.1:9092.
    #[arg(long, value_name = "HOST:PORT[,…]")]
    brokers: Option<String>,
    /// Topic to write; created when missing.
    #[arg(long, default_value = "tweets")]
    topic: String,
    /// Partitions of the topic when it is created.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Replication factor of the topic when it is created.
    #[arg(long, default_value_t = 1)]
    replication: i32,
    /// A librdkafka property applied last (SASL/SSL, tuning), e.g. -X security.protocol=SASL_SSL.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_property)]
    properties: Vec<(String, String)>,
    /// Keep messages that are not tweets here (JSON Lines: position, class, reason, raw).
    #[arg(long, value_name = "PATH")]
    dead_letter: Option<PathBuf>,
}

fn parse_property(s: &str) -> Result<(String, String), String> {
    kafka::parse_property(s).map_err(|e| e.to_string())
}

impl KafkaArgs {
    fn options(&self, brokers: &str) -> KafkaOptions {
        KafkaOptions {
            brokers: brokers.to_owned(),
            topic: self.topic.clone(),
            partitions: self.partitions,
            replication: self.replication,
            properties: self.properties.clone(),
        }
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
    api: Api,
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
    #[command(flatten)]
    kafka: KafkaArgs,
}

#[derive(Args)]
struct GenerateArgs {
    /// Output file; `-` for stdout, a `.gz` suffix compresses with gzip. Not with --brokers.
    #[arg(long, required_unless_present = "brokers", conflicts_with = "brokers")]
    out: Option<PathBuf>,
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Number of tweets (noise lines come on top).
    #[arg(long)]
    count: u64,
    /// Seed: equal flags write equal bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Tweets per second of event time.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
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
}

impl GenerateArgs {
    /// Every check of the flags lives here, so the library only sees a valid config.
    fn config(&self) -> Result<GenerateConfig> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            bail!(
                "--rate must be a positive number of tweets per second, got {}",
                self.rate
            );
        }
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
        Ok(GenerateConfig {
            count: self.count,
            seed: self.seed,
            rate: self.rate,
            v2: self.v2,
            disorder_ms: self.disorder,
            start_ms,
            noise: self.noise,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match cli.command {
        Command::Generate(args) => match &args.kafka.brokers {
            Some(brokers) => generate_into_kafka(&args, brokers),
            None => run_generate(&args),
        },
        Command::Replay(args) => run_replay(&args),
        Command::Stream(args) => run_stream(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) means the reader has all it wants.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run_generate(args: &GenerateArgs) -> Result<()> {
    let config = args.config()?;
    let out = args
        .out
        .as_ref()
        .expect("clap requires --out without --brokers");
    tracing::info!(out = %out.display(), count = config.count, seed = config.seed, v2 = config.v2, "generating");
    let started = Instant::now();
    let stats = if out.as_os_str() == "-" {
        generate(&config, &mut io::stdout().lock()).context("writing to stdout")?
    } else {
        let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let write_err = || format!("writing {}", out.display());
        if is_gzip(out) {
            let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
            let stats = generate(&config, &mut gz).with_context(write_err)?;
            gz.finish()
                .and_then(|mut w| w.flush())
                .with_context(write_err)?;
            stats
        } else {
            let mut w = BufWriter::new(file);
            let stats = generate(&config, &mut w).with_context(write_err)?;
            w.flush().with_context(write_err)?;
            stats
        }
    };
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "generated {} tweets, {} other lines, {} bytes of JSON in {:.2} s ({:.0} tweets/s)",
        stats.tweets,
        stats.other,
        stats.bytes,
        secs,
        stats.tweets as f64 / secs.max(1e-9)
    );
    Ok(())
}

fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// SIGINT and SIGTERM set the returned flag: readers stop, the writer flushes, the summary prints.
fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal, while the first is still flushing, exits at once (status 1).
        signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .context("installing signal handlers")?;
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    Ok(stop)
}

/// Prints what was delivered and fails unless every tweet sent was acknowledged.
fn report(delivery: &Delivery, started: Instant) -> Result<()> {
    eprintln!(
        "delivered {}, failed {}, unconfirmed {}, skipped {} (not tweets), unsent {} (stopped while Kafka's queue was full) in {:.2} s",
        delivery.delivered,
        delivery.failed,
        delivery.unconfirmed,
        delivery.skipped,
        delivery.unsent,
        started.elapsed().as_secs_f64()
    );
    if !delivery.complete() {
        bail!(
            "{} tweet(s) were not acknowledged by Kafka",
            delivery.failed + delivery.unconfirmed
        );
    }
    Ok(())
}

fn run_replay(args: &ReplayArgs) -> Result<()> {
    let Some(brokers) = &args.kafka.brokers else {
        bail!("replay needs --brokers (e.g. 127.0.0.1:9092)")
    };
    let pace = match (args.rate, args.speedup) {
        (Some(r), _) if !(r.is_finite() && r > 0.0) => bail!("--rate must be positive, got {r}"),
        (_, Some(x)) if !(x.is_finite() && x > 0.0) => bail!("--speedup must be positive, got {x}"),
        (Some(r), _) => Pace::Rate(r),
        (_, Some(x)) => Pace::Speedup(x),
        _ => Pace::AsFastAsPossible,
    };
    for file in &args.files {
        File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    }
    tracing::info!(brokers, topic = %args.kafka.topic, files = args.files.len(), ?pace, "replaying");
    into_kafka(&args.kafka, brokers, |writer, stop, reporter| {
        replay(&args.files, writer, pace, args.looping, stop, &mut |w| {
            reporter.tick(w)
        })?;
        Ok(())
    })
}

/// One run into Kafka: signals stop it, the writer is flushed and its deliveries reported whatever
/// ended `body`, and the run fails unless every tweet sent was acknowledged.
fn into_kafka(
    kafka: &KafkaArgs,
    brokers: &str,
    body: impl FnOnce(&mut TweetWriter, &AtomicBool, &mut Reporter) -> Result<()>,
) -> Result<()> {
    let stop = stop_on_signals()?;
    let mut writer = TweetWriter::connect(
        stop.clone(),
        &kafka.options(brokers),
        kafka.dead_letter.as_deref(),
    )?;
    let started = Instant::now();
    let mut reporter = Reporter::new();
    let result = body(&mut writer, &stop, &mut reporter);
    reporter.finish();
    let delivery = writer.finish()?;
    report(&delivery, started)?;
    result
}

fn generate_into_kafka(args: &GenerateArgs, brokers: &str) -> Result<()> {
    let config = args.config()?;
    tracing::info!(brokers, topic = %args.kafka.topic, count = config.count, "generating into Kafka");
    into_kafka(&args.kafka, brokers, |writer, stop, reporter| {
        let mut on_line = |w: &TweetWriter| reporter.tick(w);
        let mut sink = LineSink {
            writer,
            pending: Vec::new(),
            lines: 0,
            on_line: &mut on_line,
        };
        generate_until(&config, &mut sink, stop)?;
        sink.finish().context("writing to Kafka")
    })
}

/// The generator writes whole chunks; a stop request ends it at the next chunk.
fn generate_until(
    config: &GenerateConfig,
    sink: &mut LineSink<'_>,
    stop: &AtomicBool,
) -> Result<()> {
    /// Not `Interrupted`: `write_all` retries that kind.
    #[derive(Debug, thiserror::Error)]
    #[error("stopped by signal")]
    struct Stopped;
    struct Stoppable<'a, 'b> {
        sink: &'a mut LineSink<'b>,
        stop: &'a AtomicBool,
    }
    impl Write for Stoppable<'_, '_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.stop.load(Ordering::Relaxed) {
                return Err(io::Error::other(Stopped));
            }
            self.sink.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    match generate(config, &mut Stoppable { sink, stop }) {
        Ok(_) => Ok(()),
        Err(e) if e.get_ref().is_some_and(|inner| inner.is::<Stopped>()) => Ok(()),
        Err(e) => Err(e).context("writing to Kafka"),
    }
}

fn run_stream(args: &StreamArgs) -> Result<()> {
    if args.stall_timeout == 0 {
        bail!("--stall-timeout must be positive");
    }
    stream::load_dotenv();
    let auth = Auth::for_api(args.api, &stream::from_env)?;
    let config = StreamConfig {
        api: args.api,
        base: args
            .api_base
            .clone()
            .unwrap_or_else(|| args.api.default_base().to_owned()),
        track: args.track.clone(),
        rule_tag: args.rule_tag.clone(),
        stall_timeout: std::time::Duration::from_millis(args.stall_timeout),
        connect_timeout: std::time::Duration::from_secs(10),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Auth::Bearer(token) = &auth {
        let plan = runtime.block_on(stream::sync_rules(&config, token, args.dry_run))?;
        if args.dry_run {
            println!("stream rules (tag {}), dry run:", config.rule_tag);
            plan.add.iter().for_each(|v| println!("  add    {v}"));
            plan.delete.iter().for_each(|r| {
                println!(
                    "  delete {} (id {})",
                    r.value,
                    r.id.as_deref().unwrap_or("?")
                )
            });
            plan.foreign
                .iter()
                .for_each(|r| println!("  keep   {} (tag {:?}, not ours)", r.value, r.tag));
            if plan.is_empty() {
                println!("  nothing to change");
            }
            return Ok(());
        }
    } else if args.dry_run {
        println!(
            "would POST {}/1.1/statuses/filter.json with track={}",
            config.base.trim_end_matches('/'),
            args.track.join(",")
        );
        return Ok(());
    }
    let Some(brokers) = &args.kafka.brokers else {
        bail!("stream needs --brokers (e.g. 127.0.0.1:9092), or --dry-run")
    };
    tracing::info!(brokers, topic = %args.kafka.topic, api = ?args.api, base = %config.base, "streaming");
    into_kafka(&args.kafka, brokers, |writer, stop, reporter| {
        let mut sink = |message: &[u8], position: &str| -> Result<(), stream::BoxError> {
            writer.write(message, &|| position.to_owned(), &mut |_| {})?;
            reporter.tick(writer);
            Ok(())
        };
        let mut stats = StreamStats::default();
        let result = runtime.block_on(stream::run(
            &config,
            &auth,
            &mut sink,
            stop,
            &TokioSleep,
            &mut stats,
        ));
        // Also after a fatal error: weeks of counters are worth a line.
        print_stream_stats(&stats);
        Ok(result?)
    })
}

fn print_stream_stats(s: &StreamStats) {
    eprintln!(
        "stream: connections {}, messages {}, keep-alives {}, stalls {}, cut off {}, oversized {}, \
         undelivered {} (limit notices), disconnect notices {}, in-band errors {}, \
         failed attempts {} network / {} HTTP / {} rate-limited",
        s.connections,
        s.messages,
        s.keep_alives,
        s.stalls,
        s.cut_off,
        s.oversized,
        s.undelivered,
        s.disconnect_notices,
        s.in_band_errors,
        s.network_failures,
        s.http_failures,
        s.rate_limited
    );
}
