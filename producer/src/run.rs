//! One command of the producer, from a typed job to what it reports: signals, the run into Kafka
//! (flushed and accounted for however it ends), generating into a file, streaming.
//!
//! The binary (`src/main.rs`, `src/cli.rs`) builds a [`Job`] from its flags, calls [`run`] and
//! prints the [`Report`] it gets back, also when the run failed.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use thiserror::Error;

use crate::generate::{GenerateConfig, GenerateStats, generate, generate_stoppable};
use crate::metrics::ProducerMetrics;
use crate::progress::Reporter;
use crate::replay::{Pace, ReplayError, namer, replay};
use crate::resume;
use crate::stream::{self, Auth, Seen, StreamConfig, StreamError, StreamStats, TokioSleep};
use crate::writer::{Delivery, KafkaTarget, LineSink, Namer, TweetWriter, WriterError};

/// What to do.
pub enum Job {
    /// Generate into a file (`-` for standard output; a `.gz` name compresses).
    GenerateFile {
        config: GenerateConfig,
        out: PathBuf,
    },
    GenerateKafka {
        config: GenerateConfig,
        target: KafkaTarget,
    },
    Replay {
        files: Vec<PathBuf>,
        pace: Pace,
        looping: bool,
        target: KafkaTarget,
    },
    /// Stream from X into Kafka until stopped (rules are synced first for v2). Credentials come
    /// from the environment or a `.env` file.
    Stream {
        config: StreamConfig,
        target: KafkaTarget,
    },
}

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Writer(#[from] WriterError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error("writing {path}: {source}")]
    Output { path: String, source: io::Error },
    #[error("installing signal handlers: {0}")]
    Signals(io::Error),
    #[error("starting the async runtime: {0}")]
    Runtime(io::Error),
    #[error("{}", NotDelivered(.failed + .unconfirmed, .resume_at.as_deref(), *.kept, .resume.as_deref()))]
    NotDelivered {
        failed: u64,
        unconfirmed: u64,
        resume_at: Option<String>,
        /// Whether the refused tweets were kept in a dead-letter file.
        kept: bool,
        /// The `--resume` name, under which a rerun goes on after the last commit.
        resume: Option<String>,
    },
}

struct NotDelivered<'a>(u64, Option<&'a str>, bool, Option<&'a str>);

impl fmt::Display for NotDelivered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let NotDelivered(n, resume_at, kept, resume) = *self;
        if let Some(name) = resume {
            return write!(
                f,
                "{n} tweet(s) were not committed (refused ones are kept as undelivered dead \
                 letters); the same command with --resume {name} goes on after the last commit"
            );
        }
        write!(f, "{n} tweet(s) were not acknowledged by Kafka")?;
        match kept {
            true => write!(f, " (kept as undelivered dead letters)")?,
            false => write!(f, " (--dead-letter FILE keeps them)")?,
        }
        if let Some(at) = resume_at {
            write!(
                f,
                "; every tweet before {at} was delivered: a rerun must start there"
            )?;
        }
        Ok(())
    }
}

impl RunError {
    /// Standard output was closed by its reader (`| head`): the reader has what it wants.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, RunError::Output { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// What a run did, for the summary lines; kept whether the run succeeded or not.
#[derive(Debug, Default)]
pub struct Report {
    pub elapsed: Duration,
    pub delivery: Option<Delivery>,
    pub generated: Option<GenerateStats>,
    pub stream: Option<StreamStats>,
}

/// SIGINT and SIGTERM set the returned flag: readers stop, the writer flushes, the summary prints.
/// A second signal, while the first is still flushing, exits at once (status 130).
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, RunError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone())
            .map_err(RunError::Signals)?;
        signal_hook::flag::register(signal, stop.clone()).map_err(RunError::Signals)?;
    }
    Ok(stop)
}

/// Runs `job` until it ends or `stop` is set.
pub fn run(job: Job, stop: Arc<AtomicBool>) -> (Report, Result<(), RunError>) {
    run_observed(job, stop, &ProducerMetrics::new())
}

/// [`run`], counting into `metrics` (served by `--metrics`, readable after the run).
pub fn run_observed(
    job: Job,
    stop: Arc<AtomicBool>,
    metrics: &ProducerMetrics,
) -> (Report, Result<(), RunError>) {
    let started = Instant::now();
    let mut report = Report::default();
    let result = match job {
        Job::GenerateFile { config, out } => {
            generate_file(&config, &out).map(|stats| report.generated = Some(stats))
        }
        Job::GenerateKafka { config, target } => {
            tracing::info!(brokers = %target.brokers, topic = %target.topic, count = config.count, "generating into Kafka");
            let name: Namer =
                Box::new(|line| ("generated".to_owned(), format!("tweet line {line}")));
            into_kafka(
                &target,
                name,
                &resume::generate_job(&target.topic, &config),
                &stop,
                &mut report,
                metrics,
                |writer, stop, reporter| {
                    let mut on_line = |w: &TweetWriter| reporter.tick(w);
                    let mut sink = LineSink {
                        writer,
                        pending: Vec::new(),
                        lines: 0,
                        on_line: &mut on_line,
                    };
                    generate_until(&config, &mut sink, stop)?;
                    sink.finish().map_err(|source| RunError::Output {
                        path: "Kafka".to_owned(),
                        source,
                    })
                },
            )
        }
        Job::Replay {
            files,
            pace,
            looping,
            target,
        } => {
            tracing::info!(brokers = %target.brokers, topic = %target.topic, files = files.len(), ?pace, "replaying");
            into_kafka(
                &target,
                namer(&files),
                &resume::replay_job(&target.topic, &files, looping),
                &stop,
                &mut report,
                metrics,
                |writer, stop, reporter| {
                    replay(&files, writer, pace, looping, stop, &mut |w| {
                        reporter.tick(w)
                    })?;
                    Ok(())
                },
            )
        }
        Job::Stream { config, target } => {
            let auth = match stream::credentials(&config) {
                Ok(auth) => auth,
                Err(e) => return (report, Err(e.into())),
            };
            if let Auth::Bearer(token) = &auth {
                match stream::rules_in_place(&config, token, &stop, &TokioSleep) {
                    Ok(true) => {}
                    // Stopped while the rules API was unreachable: nothing was streamed.
                    Ok(false) => return (report, Ok(())),
                    Err(e) => return (report, Err(e.into())),
                }
            }
            tracing::info!(brokers = %target.brokers, topic = %target.topic, api = ?config.api, base = %config.base, "streaming");
            let mut stats = StreamStats::default();
            let api = config.api;
            let name: Namer =
                Box::new(move |n| (format!("{api:?} stream"), format!("message {n}")));
            let result = into_kafka(
                &target,
                name,
                "stream",
                &stop,
                &mut report,
                metrics,
                |writer, stop, reporter| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(RunError::Runtime)?;
                    let seen = known_tweets(&config, &target)?;
                    let mut sink = StreamSink {
                        writer,
                        reporter,
                        n: 0,
                    };
                    let streamed = runtime.block_on(stream::run_with(
                        &config,
                        &auth,
                        &mut sink,
                        stop,
                        &TokioSleep,
                        &mut stats,
                        seen,
                    ));
                    stream::MessageSink::observe(&mut sink, &stats, false);
                    streamed?;
                    Ok(())
                },
            );
            // Also after a fatal error: weeks of counters are worth a line.
            report.stream = Some(stats);
            result
        }
    };
    report.elapsed = started.elapsed();
    (report, result)
}

/// The stream's messages into the writer, with progress and metrics.
struct StreamSink<'a> {
    writer: &'a mut TweetWriter,
    reporter: &'a mut Reporter,
    n: u64,
}

impl stream::MessageSink for StreamSink<'_> {
    fn message(&mut self, message: &[u8], position: &str) -> Result<(), stream::BoxError> {
        self.n += 1;
        self.writer
            .write(message, self.n, Some(position), &mut |_| None)?;
        self.reporter.tick(self.writer);
        Ok(())
    }

    fn observe(&mut self, stats: &StreamStats, connected: bool) {
        self.reporter.stream(self.writer, stats, connected);
    }
}

/// One run into Kafka: the writer is flushed and its deliveries reported whatever ended `body`,
/// and the run fails unless every tweet sent was acknowledged.
fn into_kafka(
    target: &KafkaTarget,
    name: Namer,
    job: &str,
    stop: &Arc<AtomicBool>,
    report: &mut Report,
    metrics: &ProducerMetrics,
    body: impl FnOnce(&mut TweetWriter, &AtomicBool, &mut Reporter) -> Result<(), RunError>,
) -> Result<(), RunError> {
    let mut writer = TweetWriter::connect(stop.clone(), target, name, job)?;
    let mut reporter = Reporter::new(metrics.clone());
    let result = body(&mut writer, stop, &mut reporter);
    reporter.finish(&writer);
    let sent = writer.sent();
    let delivery = writer.finish()?;
    metrics.writer(sent, &delivery, 0);
    report.delivery = Some(delivery.clone());
    if !delivery.complete() {
        return Err(RunError::NotDelivered {
            failed: delivery.failed,
            unconfirmed: delivery.unconfirmed,
            resume_at: delivery.resume_at,
            kept: target.dead_letter.is_some(),
            resume: target.resume.as_ref().map(|r| r.name.clone()),
        });
    }
    result
}

/// The ids to drop as duplicates from the start: for a recovery, the tweets of its period the topic
/// holds already (record timestamps are event times; a minute's margin each side for disorder).
fn known_tweets(config: &StreamConfig, target: &KafkaTarget) -> Result<Option<Seen>, RunError> {
    let mut seen = stream::seen(config);
    if let (Some(period), Some(seen)) = (config.recover, seen.as_mut()) {
        let keys = tweetflow_kafka::keys_between(
            &target.brokers,
            &target.properties,
            &target.topic,
            period.from_ms as i64 - 60_000,
            period.to_ms as i64 + 60_000,
        )
        .map_err(WriterError::from)?;
        let now = Instant::now();
        for key in keys {
            seen.first(&String::from_utf8_lossy(&key), now);
        }
        tracing::info!(topic = %target.topic, known = seen.len(), "recovery: the tweets of the period the topic holds are not written again");
    }
    Ok(seen)
}

fn generate_file(config: &GenerateConfig, out: &PathBuf) -> Result<GenerateStats, RunError> {
    tracing::info!(out = %out.display(), count = config.count, seed = config.seed, v2 = config.v2, "generating");
    let failed = |source| RunError::Output {
        path: out.display().to_string(),
        source,
    };
    if out.as_os_str() == "-" {
        return generate(config, &mut io::stdout().lock()).map_err(failed);
    }
    let file = File::create(out).map_err(failed)?;
    if tweet::input::is_gzip(out) {
        let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
        let stats = generate(config, &mut gz).map_err(failed)?;
        gz.finish().and_then(|mut w| w.flush()).map_err(failed)?;
        Ok(stats)
    } else {
        let mut w = BufWriter::new(file);
        let stats = generate(config, &mut w).map_err(failed)?;
        w.flush().map_err(failed)?;
        Ok(stats)
    }
}

/// The generator writes whole chunks; a stop request, or a tweet Kafka refused, ends it at the
/// next chunk.
fn generate_until(
    config: &GenerateConfig,
    sink: &mut LineSink<'_>,
    stop: &AtomicBool,
) -> Result<(), RunError> {
    /// Not `Interrupted`: `write_all` retries that kind.
    #[derive(Debug, Error)]
    #[error("stopped")]
    struct Stopped;
    struct Stoppable<'a, 'b> {
        sink: &'a mut LineSink<'b>,
        stop: &'a AtomicBool,
    }
    impl Write for Stoppable<'_, '_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.stop.load(Ordering::Relaxed) || self.sink.writer.failing() {
                return Err(io::Error::other(Stopped));
            }
            self.sink.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    match generate_stoppable(config, &mut Stoppable { sink, stop }, stop) {
        Ok(_) => Ok(()),
        Err(e) if e.get_ref().is_some_and(|inner| inner.is::<Stopped>()) => Ok(()),
        Err(source) => Err(RunError::Output {
            path: "Kafka".to_owned(),
            source,
        }),
    }
}
