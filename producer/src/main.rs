//! `tweet-producer`: writes tweets for the tweetflow pipeline (CONTRACT §5).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use flate2::Compression;
use flate2::write::GzEncoder;
use tweet::time::parse_duration;
use tweet_producer::generate::{DEFAULT_START_MS, GenerateConfig, generate};

#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a deterministic synthetic tweet stream as JSON Lines.
    Generate(GenerateArgs),
}

#[derive(Args)]
struct GenerateArgs {
    /// Output file; `-` for stdout, a `.gz` suffix compresses with gzip.
    #[arg(long)]
    out: PathBuf,
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
        Command::Generate(args) => run_generate(&args),
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
    let out = &args.out;
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
