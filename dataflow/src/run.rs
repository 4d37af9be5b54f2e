//! The driver: plans the input, connects the cluster, sets up the sinks on process 0, builds the
//! dataflow on every worker and runs it to completion (or until it is asked to stop).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use differential_dataflow::AsCollection;
use serde::Serialize;
use thiserror::Error;
use timely::{CommunicationConfig, WorkerConfig};
use tweetflow_kafka::ClientError;

use crate::cluster::{self, ClusterError};
use crate::config::{Config, Format, Input, Output};
use crate::shutdown::Shutdown;
use crate::sink::dead_letter::{Reported, write_reports};
use crate::sink::kafka::{Both, KafkaRecords};
use crate::sink::record::{JsonLines, RecordWriter, Table};
use crate::sink::windows::{Written, write_windows};
use crate::source::file::{self, InputError, Split};
use crate::source::ingest::{Rules, ingest};
use crate::source::kafka::{Joining, KafkaInput, KafkaSourceError};
use crate::source::{Broken, Discover, Partition};
use crate::stats::Stats;
use crate::topn::TopN;

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Kafka(#[from] KafkaSourceError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
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
    #[error("timely: {0}")]
    Timely(String),
}

impl RunError {
    /// Standard output was closed by its reader (`| head`): the reader has what it wants.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, RunError::Write { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The end-of-run summary (process 0 only): the counters of every worker, and what was written.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub stats: Stats,
    pub windows: u64,
    pub dead_letters: u64,
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
    fn open(&self, worker: usize, peers: usize) -> Vec<Box<dyn Partition>> {
        match self {
            Plan::Files(splits) => splits[worker].iter().map(file::open).collect(),
            Plan::Kafka(kafka, count, _) => {
                let owned: Vec<i32> = (0..*count)
                    .filter(|p| p % peers == worker)
                    .map(|p| p as i32)
                    .collect();
                kafka.open(&owned).unwrap_or_else(|e| {
                    tracing::error!(worker, error = %e, "cannot open partitions");
                    vec![Box::new(Broken {
                        source: kafka.topic.clone(),
                        error: Some(e.to_string()),
                    })]
                })
            }
        }
    }

    fn joining(&self, worker: usize, peers: usize) -> Option<Box<dyn Discover>> {
        match self {
            Plan::Kafka(kafka, known, Some(count)) => Some(Box::new(Joining::new(
                kafka.clone(),
                count.clone(),
                *known,
                worker,
                peers,
            ))),
            _ => None,
        }
    }
}

type Slot<T> = Arc<Mutex<Option<T>>>;

fn slot<T>(value: Option<T>) -> Slot<T> {
    Arc::new(Mutex::new(value))
}

fn create(what: &'static str, path: &PathBuf) -> Result<BufWriter<File>, RunError> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 16, f))
        .map_err(|source| RunError::Create {
            what,
            path: path.clone(),
            source,
        })
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
) -> Result<Box<dyn RecordWriter + Send>, RunError> {
    let primary: Box<dyn RecordWriter + Send> = match &config.output {
        Output::File(path) => Box::new(JsonLines(create("output", path)?)),
        Output::Stdout(format) => {
            let stdout: Box<dyn io::Write + Send> = match results {
                Some(file) => Box::new(BufWriter::new(file)),
                None => Box::new(BufWriter::new(io::stdout())),
            };
            match format {
                Format::Jsonl => Box::new(JsonLines(stdout)),
                Format::Table => Box::new(Table(stdout)),
            }
        }
    };
    Ok(match (&config.output_topic, &config.input) {
        (Some(out), Input::Kafka(kafka)) => {
            let records = KafkaRecords::connect(&kafka.brokers, &out.topic, &out.properties)
                .map_err(|source| RunError::OutputTopic {
                    topic: out.topic.clone(),
                    source: Box::new(source),
                })?;
            Box::new(Both(primary, Box::new(records)))
        }
        _ => primary,
    })
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
    let peers = config.cluster.peers();
    // Everything that can fail up front does, on every process, before the cluster connects.
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
    let output = slot(if leader {
        Some(open_output(&config, results)?)
    } else {
        None
    });
    let dead_letter = match (&config.dead_letter, leader) {
        (Some(path), true) => Some(create("dead-letter file", path)?),
        _ => None,
    };
    let dead_letter = slot(dead_letter);
    tracing::info!(
        processes = config.cluster.processes,
        workers = config.cluster.workers,
        input = ?plan,
        "starting"
    );

    let (builders, others) = if config.cluster.processes > 1 {
        cluster::connect(&config.cluster, cluster::job_fingerprint(&job(&config)))?
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
    };
    let (windows, top) = (config.windows, config.top);
    let guards = timely::execute::execute_from(builders, others, WorkerConfig::default(), {
        let shutdown = shutdown.clone();
        move |worker| {
            let index = worker.index();
            let writer = if index == 0 {
                output.lock().expect("not poisoned").take()
            } else {
                None
            };
            let letters = if index == 0 {
                dead_letter.lock().expect("not poisoned").take()
            } else {
                None
            };
            let written = Rc::new(RefCell::new(Written::default()));
            let reported = Rc::new(RefCell::new(Reported::default()));
            let plan = plan.clone();

            worker.dataflow::<u64, _, _>(|scope| {
                let partitions = plan.open(index, peers);
                let joining = plan.joining(index, peers);
                let (updates, reports) =
                    ingest(scope, partitions, joining, rules, shutdown.clone());
                let top_n = updates.as_collection().top_n(top);
                write_windows(
                    top_n.inner,
                    windows,
                    writer.map(|w| w as Box<dyn RecordWriter>),
                    written.clone(),
                    shutdown.clone(),
                );
                write_reports(reports, letters, reported.clone(), shutdown.clone());
            });
            while worker.has_dataflows() {
                worker.step_or_park(None);
            }

            (index == 0).then(|| {
                let written = written.take();
                let reported = reported.take();
                let error = written
                    .error
                    .map(|e| ("window records", e))
                    .or(reported.error.map(|e| ("dead letters", e)));
                let summary = Summary {
                    stats: reported.stats,
                    windows: written.windows,
                    dead_letters: reported.dead_letters,
                };
                (summary, error)
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
