//! The driver: plans the input, connects the cluster, sets up the sinks on process 0, builds the
//! dataflow on every worker and runs it to completion (or until it is asked to stop).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use differential_dataflow::AsCollection;
use serde::Serialize;
use thiserror::Error;
use timely::{CommunicationConfig, WorkerConfig};
use tweetflow_kafka::ClientError;

use crate::aggregate::SlideState;
use crate::checkpoint::{Checkpoint, CheckpointError, Store};
use crate::cluster::{self, ClusterError};
use crate::config::{Config, Format, Input, Output};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::sink::commit::{Checkpointing, Committed, commit};
use crate::sink::dead_letter::LetterSink;
use crate::sink::file::{OutputFile, Stdout};
use crate::sink::kafka::{Delivery, KafkaLetters, KafkaRecords};
use crate::sink::record::{Both, JsonLines, RecordWriter, Table};
use crate::sink::windows::WindowSink;
use crate::source::file::{self, InputError, Split};
use crate::source::ingest::{Restore, Rules, ingest};
use crate::source::kafka::{Joining, KafkaInput, KafkaSourceError};
use crate::source::{Broken, Discover, Partition};
use crate::stats::Stats;
use crate::topn::TopN;
use crate::ui::{JobView, Live, Tap};

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Kafka(#[from] KafkaSourceError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("the consumer group of --group-id: {0}")]
    Group(Box<ClientError>),
    #[error("output topic {topic}: {source}")]
    OutputTopic {
        topic: String,
        source: Box<ClientError>,
    },
    #[error("cannot create {what} {path}: {source}")]
    Create {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("writing {what}: {source}")]
    Write {
        what: &'static str,
        source: io::Error,
    },
    #[error("cannot separate results from timely's messages on standard output: {0}")]
    Stdout(io::Error),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("resuming {what} {path}: {source}")]
    Resume {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(transparent)]
    Serve(#[from] tweetflow_observe::ServerError),
    #[error("timely: {0}")]
    Timely(String),
}

impl RunError {
    /// Standard output was closed by its reader (`| head`): the reader has what it wants.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, RunError::Write { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The flags do not fit the checkpoint they point at (another job's): a usage error.
    pub fn is_usage(&self) -> bool {
        matches!(self, RunError::Checkpoint(CheckpointError::OtherJob { .. }))
    }
}

/// The end-of-run summary (process 0 only): the counters of every worker, and what was written.
/// After a resume the counters and counts include those of the runs before.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub stats: Stats,
    pub windows: u64,
    pub dead_letters: u64,
    /// The run stopped on request before the end of its input (its last checkpoint resumes it).
    pub stopped: bool,
    /// Checkpoints this run wrote, their bytes and the time they took.
    pub checkpoints: u64,
    pub checkpoint_bytes: u64,
    pub checkpoint_ms: u64,
}

/// What every worker reads, decided once per process from the same facts.
#[derive(Debug)]
enum Plan {
    /// Splits per worker.
    Files(Vec<Vec<Split>>),
    /// The topic, its partition count at start, and the cell partition discovery updates.
    Kafka(KafkaInput, usize, Option<Arc<AtomicUsize>>),
}

impl Plan {
    fn open(
        &self,
        worker: usize,
        peers: usize,
        resumed: &HashMap<i32, i64>,
    ) -> Vec<Box<dyn Partition>> {
        match self {
            Plan::Files(splits) => splits[worker].iter().map(file::open).collect(),
            Plan::Kafka(kafka, count, _) => {
                let owned: Vec<i32> = (0..*count)
                    .filter(|p| p % peers == worker)
                    .map(|p| p as i32)
                    .collect();
                kafka.open(&owned, resumed).unwrap_or_else(|e| {
                    tracing::error!(worker, error = %e, "cannot open partitions");
                    vec![Box::new(Broken {
                        source: kafka.topic.clone(),
                        error: Some(e.to_string()),
                    })]
                })
            }
        }
    }

    fn joining(
        &self,
        worker: usize,
        peers: usize,
        resumed: &Arc<HashMap<i32, i64>>,
    ) -> Option<Box<dyn Discover>> {
        match self {
            Plan::Kafka(kafka, known, Some(count)) => Some(Box::new(Joining::new(
                kafka.clone(),
                count.clone(),
                *known,
                (worker, peers),
                resumed.clone(),
            ))),
            _ => None,
        }
    }
}

type Slot<T> = Arc<Mutex<Option<T>>>;

fn slot<T>(value: Option<T>) -> Slot<T> {
    Arc::new(Mutex::new(value))
}

/// An output file: new, or (resuming) cut back to what the checkpoint says was written.
fn output_file(
    what: &'static str,
    path: &Path,
    resumed: Option<u64>,
) -> Result<OutputFile, RunError> {
    match resumed {
        None => OutputFile::create(path).map_err(|source| RunError::Create {
            what,
            path: path.to_owned(),
            source,
        }),
        Some(len) => OutputFile::resume(path, len).map_err(|source| RunError::Resume {
            what,
            path: path.to_owned(),
            source,
        }),
    }
}

/// In a cluster, timely prints connection progress on standard output of every process. Results
/// get a descriptor of their own (returned), and everything else written to fd 1 goes to stderr.
fn separate_stdout() -> Result<File, RunError> {
    let results = rustix::io::dup(io::stdout()).map_err(|e| RunError::Stdout(e.into()))?;
    rustix::stdio::dup2_stdout(io::stderr()).map_err(|e| RunError::Stdout(e.into()))?;
    Ok(File::from(results))
}

/// The window-record writer of process 0; `results` is its standard output in a cluster.
fn open_output(
    config: &Config,
    results: Option<File>,
    resume: Option<&Checkpoint>,
    store: Option<&Store>,
    live: Option<Arc<Live>>,
) -> Result<Box<dyn RecordWriter + Send>, RunError> {
    let primary: Box<dyn RecordWriter + Send> = match &config.output {
        Output::File(path) => Box::new(JsonLines(output_file(
            "output",
            path,
            resume.map(|c| c.output_bytes),
        )?)),
        Output::Stdout(format) => {
            if resume.is_some() {
                tracing::warn!(
                    "resuming onto standard output: windows since the checkpoint may be written again (use --output FILE)"
                );
            }
            let stdout = match results {
                Some(file) => {
                    let fd = file.try_clone().map_err(RunError::Stdout)?;
                    Stdout::new(Box::new(file), std::os::fd::AsFd::as_fd(&fd))
                }
                None => Stdout::new(
                    Box::new(io::stdout()),
                    std::os::fd::AsFd::as_fd(&io::stdout()),
                ),
            }
            .map_err(RunError::Stdout)?;
            match format {
                Format::Jsonl => Box::new(JsonLines(stdout)),
                Format::Table => Box::new(Table(stdout)),
            }
        }
    };
    // After the file: the page shows a window once it is written there.
    let primary: Box<dyn RecordWriter + Send> = match live {
        Some(live) => Box::new(Both(primary, Box::new(Tap(live)))),
        None => primary,
    };
    Ok(match (&config.output_topic, &config.input) {
        (Some(out), Input::Kafka(kafka)) => {
            let delivery = delivery(config, resume, store, &out.topic, "")?;
            let records =
                KafkaRecords::connect(&kafka.brokers, out, delivery).map_err(|source| {
                    RunError::OutputTopic {
                        topic: out.topic.clone(),
                        source: Box::new(source),
                    }
                })?;
            // Before anything is committed there: a restart then knows which windows are its own.
            if let (Some(store), Some(offsets)) = (store, records.started()) {
                store.write_output_start(&out.topic, offsets)?;
            }
            Box::new(Both(primary, Box::new(records)))
        }
        _ => primary,
    })
}

/// How an output topic of process 0 is written: with checkpoints in transactions under the job's
/// own id (`suffix` tells its topics apart), with where the job's records began there.
fn delivery(
    config: &Config,
    resume: Option<&Checkpoint>,
    store: Option<&Store>,
    topic: &str,
    suffix: &str,
) -> Result<Delivery, RunError> {
    let Some(store) = store else {
        return Ok(Delivery::Idempotent);
    };
    Ok(Delivery::Transactional {
        id: format!(
            "tweetflow-{:016x}-{topic}{suffix}",
            cluster::job_fingerprint(&checkpoint_job(config)),
        ),
        resuming: resume.is_some(),
        started: store.output_start(topic)?,
    })
}

/// The dead-letter topic of process 0 (`--dead-letter-topic`): transactional with checkpoints,
/// like the output topic, under an id of its own.
fn open_letter_topic(
    config: &Config,
    resume: Option<&Checkpoint>,
    store: Option<&Store>,
) -> Result<Option<KafkaLetters>, RunError> {
    let (Some(out), Input::Kafka(kafka)) = (&config.dead_letter_topic, &config.input) else {
        return Ok(None);
    };
    let delivery = delivery(config, resume, store, &out.topic, "-dead-letters")?;
    let resumed = resume.and_then(|c| c.dead_letter_topic.clone());
    let letters =
        KafkaLetters::connect(&kafka.brokers, out, delivery, resumed).map_err(|source| {
            RunError::OutputTopic {
                topic: out.topic.clone(),
                source: Box::new(source),
            }
        })?;
    // Before anything is committed there: a restart then knows which letters are its own.
    if let (Some(store), Some(offsets)) = (store, letters.started()) {
        store.write_output_start(&out.topic, offsets)?;
    }
    Ok(Some(letters))
}

/// What a checkpoint is of: a checkpoint of another topic or other windows is refused.
fn checkpoint_job(config: &Config) -> String {
    let topic = config.input.topic().unwrap_or("(files)");
    let w = &config.windows;
    format!(
        "topic {topic}, batch {} ms, window {} ms, slide {} ms, lateness {} ms, top {}",
        w.batch_ms, w.window_ms, w.slide_ms, config.lateness_ms, config.top
    )
}

/// This worker's share of a checkpoint: its partitions and the keys that hash to it; the counters
/// go to worker 0.
fn share(checkpoint: &Checkpoint, worker: usize, peers: usize) -> Restore {
    let mine = |key: &str| {
        let mut h = rustc_hash::FxHasher::default();
        key.hash(&mut h);
        h.finish() as usize % peers == worker
    };
    let keys = |list: &[(String, i128)]| -> Vec<(String, i128)> {
        list.iter().filter(|(k, _)| mine(k)).cloned().collect()
    };
    let slides = checkpoint
        .slides
        .iter()
        .map(|s| SlideState {
            enter: s.enter,
            leave: s.leave,
            tweets: if worker == 0 { s.tweets } else { 0 },
            locations: keys(&s.locations),
            mentions: keys(&s.mentions),
        })
        .filter(|s| s.tweets != 0 || !s.locations.is_empty() || !s.mentions.is_empty())
        .collect();
    Restore {
        partitions: checkpoint
            .partitions
            .iter()
            .filter(|p| p.partition as usize % peers == worker)
            .map(|p| (p.partition, p.clone()))
            .collect(),
        slides,
        complete_before: checkpoint.complete_before,
        counters: (worker == 0).then(|| checkpoint.counters.clone()),
    }
}

/// What every process of a cluster must agree on, as text for the connection handshake: the
/// input (not the brokers' addresses or client properties, which may differ per machine), the
/// windows and the rules.
fn job(config: &Config) -> String {
    let input = match &config.input {
        Input::Files(paths) => format!("files {paths:?}"),
        Input::Kafka(k) => format!("kafka {} {:?} bounded {}", k.topic, k.start, k.bounded),
    };
    format!(
        "{input}; {:?}; lateness {}; max future {}; top {}; idle {:?}",
        config.windows, config.lateness_ms, config.max_future_ms, config.top, config.idle_timeout
    )
}

/// Runs the job to the end of its input, or until `shutdown` is requested. Returns the summary on
/// process 0, `None` elsewhere.
pub fn run(config: Config, shutdown: Shutdown) -> Result<Option<Summary>, RunError> {
    run_observed(config, shutdown, Metrics::new())
}

/// [`run`], counting into `metrics` (which the caller can read during and after the run).
pub fn run_observed(
    config: Config,
    shutdown: Shutdown,
    metrics: Metrics,
) -> Result<Option<Summary>, RunError> {
    let peers = config.cluster.peers();
    // Everything that can fail up front does, on every process, before the cluster connects.
    let store = match &config.checkpoints {
        Some(c) => Some(Store::open(&c.dir)?),
        None => None,
    };
    let resume = match &store {
        Some(store) => store.latest(&checkpoint_job(&config))?,
        None => None,
    };
    if let Some(c) = &resume {
        tracing::info!(
            complete_before = c.complete_before,
            windows = c.windows,
            partitions = c.partitions.len(),
            slides = c.slides.len(),
            "resuming from the checkpoint"
        );
    }
    let resumed_offsets: Arc<HashMap<i32, i64>> = Arc::new(
        resume
            .iter()
            .flat_map(|c| c.partitions.iter().map(|p| (p.partition, p.next_offset)))
            .collect(),
    );
    let watching = Arc::new(AtomicBool::new(false));
    let plan = Arc::new(match &config.input {
        Input::Files(paths) => Plan::Files(file::plan_splits(paths, peers)?),
        Input::Kafka(kafka) => {
            let count = kafka.partition_count()?;
            let growth = match kafka.bounded {
                true => None,
                false => Some(kafka.watch_partitions(count, watching.clone())?),
            };
            Plan::Kafka(kafka.clone(), count, growth)
        }
    });
    // Stops the watcher however this function returns.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _watching = StopOnDrop(watching);
    let leader = config.cluster.process == 0;
    let results = if config.cluster.processes > 1 {
        Some(separate_stdout()?)
    } else {
        None
    };
    if let Plan::Files(splits) = &*plan {
        let mine = config.cluster.process * config.cluster.workers
            ..(config.cluster.process + 1) * config.cluster.workers;
        metrics.set_input_bytes(splits[mine].iter().flatten().map(|s| s.end - s.start).sum());
    }
    let (_servers, live) = serve(&config, &metrics, leader)?;
    let _progress = config
        .observe
        .progress
        .then(|| crate::progress::start(metrics.clone(), config.input.topic().is_some(), leader));
    let sinks = if leader {
        let records = open_output(&config, results, resume.as_ref(), store.as_ref(), live)?;
        let letter_file = match &config.dead_letter {
            Some(path) => Some(output_file(
                "dead-letter file",
                path,
                resume.as_ref().map(|c| c.dead_letter_bytes),
            )?),
            None => None,
        };
        let letter_topic = open_letter_topic(&config, resume.as_ref(), store.as_ref())?;
        let letters = LetterSink::new(letter_file, letter_topic);
        let checkpoints = match (&config.checkpoints, store) {
            (Some(c), Some(store)) => Some(Checkpointing {
                store,
                interval: c.interval,
                every: config.windows.slide_ms / config.windows.batch_ms,
                base: resume.clone().unwrap_or_else(|| {
                    let topic = config.input.topic().unwrap_or_default().to_owned();
                    Checkpoint::new(checkpoint_job(&config), topic)
                }),
                group: match &config.input {
                    Input::Kafka(k) => match &k.group_id {
                        Some(group) => Some(
                            tweetflow_kafka::GroupOffsets::new(
                                &k.brokers,
                                &k.properties,
                                group,
                                &k.topic,
                            )
                            .map_err(|source| RunError::Group(Box::new(source)))?,
                        ),
                        None => None,
                    },
                    Input::Files(_) => None,
                },
            }),
            _ => None,
        };
        Some((records, letters, checkpoints))
    } else {
        None
    };
    let sinks = slot(sinks);
    tracing::info!(
        processes = config.cluster.processes,
        workers = config.cluster.workers,
        input = ?plan,
        "starting"
    );

    let (builders, others) = if config.cluster.processes > 1 {
        // The whole checkpoint, not its name: a final checkpoint can replace one of the same
        // name with other offsets, and a process that read the old one must not start.
        let resuming = resume.as_ref().map(|c| {
            let text = serde_json::to_string(c).unwrap_or_default();
            (c.complete_before, cluster::job_fingerprint(&text))
        });
        let agreed = format!("{}; resuming {resuming:?}", job(&config));
        cluster::connect(&config.cluster, cluster::job_fingerprint(&agreed))?
    } else {
        let communication = match config.cluster.workers {
            1 => CommunicationConfig::Thread,
            n => CommunicationConfig::Process(n),
        };
        communication.try_build().map_err(RunError::Timely)?
    };
    let rules = Rules {
        windows: config.windows,
        lateness_ms: config.lateness_ms,
        max_future_ms: config.max_future_ms,
        idle_timeout: config.idle_timeout,
        discovering: matches!(*plan, Plan::Kafka(_, _, Some(_))),
        barrier_epochs: config
            .checkpoints
            .as_ref()
            .map(|_| config.windows.slide_ms / config.windows.batch_ms),
        stop_on_read_error: config.checkpoints.is_some()
            || matches!(&config.input, Input::Kafka(k) if !k.bounded),
    };
    let (windows, top) = (config.windows, config.top);
    let resume = Arc::new(resume);
    let topic = config.input.topic().map(str::to_owned);
    let guards = timely::execute::execute_from(builders, others, WorkerConfig::default(), {
        let shutdown = shutdown.clone();
        move |worker| {
            let index = worker.index();
            let sinks = if index == 0 {
                sinks.lock().expect("not poisoned").take()
            } else {
                None
            };
            let committed = Rc::new(RefCell::new(Committed::default()));
            let plan = plan.clone();
            let restore = resume
                .as_ref()
                .as_ref()
                .map(|c| share(c, index, peers))
                .unwrap_or_default();
            let skip_before = restore.complete_before;

            worker.dataflow::<u64, _, _>(|scope| {
                let partitions = plan.open(index, peers, &resumed_offsets);
                let joining = plan.joining(index, peers, &resumed_offsets);
                let (updates, reports) = ingest(
                    scope,
                    partitions,
                    joining,
                    rules,
                    restore,
                    shutdown.clone(),
                    metrics.worker(topic.as_deref()),
                );
                let top_n = updates.as_collection().top_n(top);
                let sinks = sinks.map(|(records, letters, checkpoints)| {
                    (
                        WindowSink::new(
                            windows,
                            records as Box<dyn RecordWriter>,
                            skip_before,
                            metrics.clone(),
                        ),
                        letters,
                        checkpoints,
                    )
                });
                commit(
                    top_n.inner,
                    reports,
                    windows,
                    sinks,
                    committed.clone(),
                    shutdown.clone(),
                    metrics.clone(),
                );
            });
            while worker.has_dataflows() {
                worker.step_or_park(None);
            }

            (index == 0).then(|| {
                let committed = committed.take();
                let summary = Summary {
                    stats: committed.stats,
                    windows: committed.windows,
                    dead_letters: committed.dead_letters,
                    stopped: committed.stopped,
                    checkpoints: committed.checkpoints,
                    checkpoint_bytes: committed.checkpoint_bytes,
                    checkpoint_ms: committed.checkpoint_time.as_millis() as u64,
                };
                (summary, committed.error)
            })
        }
    })
    .map_err(RunError::Timely)?;

    let mut summary = None;
    for result in guards.join() {
        match result.map_err(RunError::Timely)? {
            Some((s, None)) => summary = Some(s),
            Some((_, Some((what, source)))) => return Err(RunError::Write { what, source }),
            None => {}
        }
    }
    if let (Some(summary), Some(path)) = (&summary, &config.summary) {
        let file = File::create(path).map_err(|source| RunError::Create {
            what: "summary",
            path: path.clone(),
            source,
        })?;
        serde_json::to_writer_pretty(file, summary).map_err(|e| RunError::Write {
            what: "summary",
            source: e.into(),
        })?;
    }
    Ok(summary)
}

/// The servers of `--metrics` (every process) and `--ui` (process 0, which serves `/metrics` too),
/// and the live view's state. They serve until the process exits.
fn serve(
    config: &Config,
    metrics: &Metrics,
    leader: bool,
) -> Result<(Vec<tweetflow_observe::Server>, Option<Arc<Live>>), RunError> {
    use tweetflow_observe::Server;
    let mut servers = Vec::new();
    if let Some(addr) = config.observe.metrics {
        servers.push(Server::start(
            "metrics",
            addr,
            Some(metrics.registry()),
            axum::Router::new(),
        )?);
    }
    let live = match (config.observe.ui, leader) {
        (Some(addr), true) => {
            let input = match &config.input {
                Input::Kafka(k) => format!("kafka topic {}", k.topic),
                Input::Files(paths) => match paths.as_slice() {
                    [one] => format!("file {}", one.display()),
                    many => format!("{} files", many.len()),
                },
            };
            let w = &config.windows;
            let live = Live::new(
                metrics.clone(),
                JobView {
                    input,
                    window_ms: w.window_ms,
                    slide_ms: w.slide_ms,
                    batch_ms: w.batch_ms,
                    lateness_ms: config.lateness_ms,
                    top: config.top,
                    processes: config.cluster.processes,
                    workers: config.cluster.workers,
                },
            );
            servers.push(Server::start(
                "the live view",
                addr,
                Some(metrics.registry()),
                live.routes(),
            )?);
            Some(live)
        }
        _ => None,
    };
    Ok((servers, live))
}
