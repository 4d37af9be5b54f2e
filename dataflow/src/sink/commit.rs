//! The sink of the whole job, on worker 0: window records, dead letters and, with checkpoints, the
//! job's state at each barrier (see `checkpoint`), all driven by one frontier so that they agree.
//!
//! Every activation applies what arrived, then, for the frontier `f` of both inputs: if a barrier
//! `b <= f` was passed, writes the windows and letters before `b`, folds the workers' states for `b`
//! into the replica, and notes how long the outputs were; then writes everything before `f`. When a
//! checkpoint is due (at most once per `--checkpoint-interval` of wall clock) it makes the outputs
//! durable (fsync, then the output topic's transaction) and writes the state of the last barrier.
//! When both inputs end, a stop (some worker stopped, asked to) writes only the windows before the
//! lowest stopped capability — the later ones lack tweets — and a final checkpoint.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::dead_letter::LetterSink;
use super::windows::{TopChange, WindowSink};
use crate::aggregate::{SlideSet, SlideState};
use crate::checkpoint::{Checkpoint, Delta, PartitionState, Store};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::source::ingest::Report;
use crate::stats::Stats;
use crate::window::Windows;

/// How checkpoints are taken.
pub(crate) struct Checkpointing {
    pub store: Store,
    /// At most one write per this much wall clock.
    pub interval: Duration,
    /// Barriers are the multiples of this many epochs.
    pub every: u64,
    /// The checkpoint resumed from, or an empty one naming the job.
    pub base: Checkpoint,
    /// `--group-id`: each checkpoint's offsets are committed there too, for lag tools.
    pub group: Option<tweetflow_kafka::GroupOffsets>,
}

/// What worker 0's sink did, read by the driver once the dataflow completes.
#[derive(Default)]
pub(crate) struct Committed {
    pub windows: u64,
    pub dead_letters: u64,
    pub stats: Stats,
    pub error: Option<(&'static str, io::Error)>,
    /// Checkpoints written, their bytes and time in all.
    pub checkpoints: u64,
    pub checkpoint_bytes: u64,
    pub checkpoint_time: Duration,
    /// Some worker stopped reading because it was asked to.
    pub stopped: bool,
}

/// How long the outputs were, and what the workers' states were, at a barrier.
#[derive(Clone, Copy, Debug)]
struct Mark {
    complete_before: u64,
    output_bytes: u64,
    dead_letter_bytes: u64,
    windows: u64,
    dead_letters: u64,
}

/// The job's state as the workers reported it, at the last barrier passed.
struct Replica {
    job: String,
    topic: String,
    drained: SlideSet,
    open: HashMap<usize, Vec<SlideState>>,
    partitions: BTreeMap<i32, PartitionState>,
    counters: HashMap<usize, Stats>,
    /// Deltas not folded in yet, by the capability they were sent at.
    queued: BTreeMap<(u64, usize), Vec<Delta>>,
}

impl Replica {
    fn new(base: &Checkpoint) -> Replica {
        let mut drained = SlideSet::default();
        base.slides.iter().for_each(|s| drained.add(s));
        Replica {
            job: base.job.clone(),
            topic: base.topic.clone(),
            drained,
            open: HashMap::new(),
            partitions: base
                .partitions
                .iter()
                .map(|p| (p.partition, p.clone()))
                .collect(),
            // Worker 0 counts on from the checkpoint's counters; its deltas replace these.
            counters: HashMap::from([(0, base.counters.clone())]),
            queued: BTreeMap::new(),
        }
    }

    fn queue(&mut self, delta: Delta) {
        self.queued
            .entry((delta.cap, delta.worker))
            .or_default()
            .push(delta);
    }

    /// Folds in the deltas sent before `limit` (`None`: all).
    fn fold_before(&mut self, limit: Option<u64>) {
        while let Some(entry) = self.queued.first_entry() {
            if limit.is_some_and(|l| entry.key().0 >= l) {
                break;
            }
            for delta in entry.remove() {
                for slide in &delta.drained {
                    self.drained.add(slide);
                }
                self.open.insert(delta.worker, delta.open);
                for p in delta.partitions {
                    self.partitions.insert(p.partition, p);
                }
                self.counters.insert(delta.worker, delta.counters);
            }
        }
    }

    fn checkpoint(&self, mark: Mark) -> Checkpoint {
        let mut counters = Stats::default();
        self.counters.values().for_each(|c| counters.add(c));
        let mut slides: Vec<SlideState> = self.drained.states().collect();
        slides.extend(self.open.values().flatten().cloned());
        Checkpoint {
            complete_before: mark.complete_before,
            output_bytes: mark.output_bytes,
            dead_letter_bytes: mark.dead_letter_bytes,
            windows: mark.windows,
            dead_letters: mark.dead_letters,
            partitions: self.partitions.values().cloned().collect(),
            counters,
            slides,
            ..Checkpoint::new(self.job.clone(), self.topic.clone())
        }
    }
}

struct Sink {
    windows: Windows,
    records: WindowSink,
    letters: LetterSink,
    stats: Stats,
    stopped: Vec<u64>,
    base: (u64, u64),
    checkpoints: Option<(Checkpointing, Replica)>,
    last_barrier: u64,
    pending: Option<Mark>,
    last_write: Option<Instant>,
    /// When the output was last checked for a reader that went away.
    last_look: Instant,
    committed: Rc<RefCell<Committed>>,
    shutdown: Shutdown,
    finished: bool,
    metrics: Metrics,
    /// Dead letters counted in the metrics so far.
    letters_counted: u64,
}

impl Sink {
    fn mark(&self, complete_before: u64) -> Mark {
        Mark {
            complete_before,
            output_bytes: self.records.writer.position(),
            dead_letter_bytes: self.letters.position(),
            windows: self.base.0 + self.records.written,
            dead_letters: self.base.1 + self.letters.written,
        }
    }

    /// Writes what the frontier `f` allows, passing the last barrier at or before it.
    fn advance(&mut self, f: u64) {
        // Once the ingest has stopped, differential's own work at later times (retractions) moves
        // the frontier on; the windows from the lowest stopped capability on lack tweets.
        let f = self.stopped.iter().min().map_or(f, |&stop| stop.min(f));
        if let Some((config, replica)) = self.checkpoints.as_mut() {
            let barrier = f / config.every * config.every;
            if barrier > self.last_barrier {
                self.last_barrier = barrier;
                self.records.advance(Some(barrier));
                self.letters.advance(Some(barrier));
                self.letters.release(Some(barrier));
                replica.fold_before(Some(barrier));
                replica
                    .drained
                    .prune_through(self.windows.first_window_time_from(barrier));
                self.pending = Some(self.mark(barrier));
            }
        }
        self.records.advance(Some(f));
        self.letters.advance(Some(f));
        // A reader that left (`| head`) is otherwise only noticed at the next window written.
        if self.last_look.elapsed() >= Duration::from_secs(1) {
            self.last_look = Instant::now();
            if self.records.writer.closed() && self.records.error.is_none() {
                self.records.error = Some(io::ErrorKind::BrokenPipe.into());
            }
            if self.records.error.is_none()
                && let Err(e) = self.records.writer.tick()
            {
                self.records.error = Some(e);
            }
            if self.letters.error.is_none()
                && let Err(e) = self.letters.tick()
            {
                self.letters.error = Some(e);
            }
        }
        let due = self.checkpoints.as_ref().is_some_and(|(config, _)| {
            self.last_write
                .is_none_or(|at| at.elapsed() >= config.interval)
        });
        if due && let Some(mark) = self.pending.take() {
            self.write_checkpoint(mark);
        }
    }

    /// Both inputs ended: the last windows, letters and checkpoint, and the writers' finish.
    fn finish(&mut self) {
        self.finished = true;
        let complete_before = match self.stopped.iter().min() {
            Some(&stop) => {
                // Windows from here on lack the tweets the stopped workers did not read.
                self.records.advance(Some(stop));
                self.committed.borrow_mut().stopped = true;
                // Never behind the checkpoint resumed from: that one would be replaced by less.
                stop.max(self.last_barrier)
            }
            None => {
                self.records.advance(None);
                self.records
                    .last_time
                    .map_or(self.last_barrier, |t| t + 1)
                    .max(self.last_barrier)
            }
        };
        // Every letter comes from a message read before the end, and belongs to the final state.
        self.letters.advance(None);
        self.letters.release(None);
        if let Some((_, replica)) = self.checkpoints.as_mut() {
            replica.fold_before(None);
            replica
                .drained
                .prune_through(self.windows.first_window_time_from(complete_before));
            let mark = self.mark(complete_before);
            self.write_checkpoint(mark);
        }
        // Also after a write error: a second output (the topic) still flushes what it has.
        if let Err(e) = self.records.writer.finish() {
            self.records.error.get_or_insert(e);
        }
        if self.letters.error.is_none()
            && let Err(e) = self.letters.sync()
        {
            self.letters.error = Some(e);
        }
        if let Err(e) = self.letters.finish() {
            self.letters.error.get_or_insert(e);
        }
    }

    /// Makes the outputs durable up to now, then writes the state at `mark`.
    fn write_checkpoint(&mut self, mark: Mark) {
        let Some((config, replica)) = self.checkpoints.as_ref() else {
            return;
        };
        // Once an output failed (reported or not yet), the records after it were not written:
        // the run fails, and its last checkpoint stays the one to resume from.
        if self.records.error.is_some()
            || self.letters.error.is_some()
            || self.committed.borrow().error.is_some()
        {
            return;
        }
        let started = Instant::now();
        let durable = self
            .records
            .writer
            .sync()
            .map_err(|e| ("window records", e))
            .and_then(|()| self.letters.sync().map_err(|e| ("dead letters", e)))
            .and_then(|()| {
                tweetflow_kafka::crash::point("after-output");
                self.records
                    .writer
                    .commit()
                    .map_err(|e| ("the output topic", e))
            })
            .and_then(|()| {
                self.letters
                    .commit()
                    .and_then(|()| self.letters.topic_state())
                    .map_err(|e| ("the dead-letter topic", e))
            });
        let dead_letter_topic = match durable {
            Ok(ends) => ends,
            Err((what, e)) => {
                tracing::error!(error = %e, "cannot make {what} durable for a checkpoint; stopping");
                self.committed.borrow_mut().error.get_or_insert((what, e));
                self.shutdown.request();
                return;
            }
        };
        tweetflow_kafka::crash::point("after-commit");
        let mut checkpoint = replica.checkpoint(mark);
        checkpoint.dead_letter_topic = dead_letter_topic;
        match config.store.write(&checkpoint) {
            Ok(bytes) => {
                let took = started.elapsed();
                tracing::debug!(
                    complete_before = mark.complete_before,
                    bytes,
                    keys = replica.drained.keys(),
                    took_ms = took.as_millis() as u64,
                    "checkpoint written"
                );
                self.metrics.checkpoint_written(bytes, took);
                let mut committed = self.committed.borrow_mut();
                committed.checkpoints += 1;
                committed.checkpoint_bytes += bytes;
                committed.checkpoint_time += took;
                // After the checkpoint, so the group never runs ahead of what a restart resumes
                // from; advisory (lag tools), so a failure is only logged.
                if let Some(group) = &config.group {
                    let offsets: Vec<(i32, i64)> = checkpoint
                        .partitions
                        .iter()
                        .map(|p| (p.partition, p.next_offset))
                        .collect();
                    if let Err(error) = group.commit(&offsets) {
                        tracing::warn!(%error, "cannot commit the checkpoint's offsets to the consumer group");
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot write a checkpoint; stopping");
                self.committed
                    .borrow_mut()
                    .error
                    .get_or_insert(("the checkpoint", io::Error::other(e.to_string())));
                self.shutdown.request();
            }
        }
        self.last_write = Some(Instant::now());
    }

    fn report_errors(&mut self) {
        for (what, error) in [
            ("window records", &mut self.records.error),
            ("dead letters", &mut self.letters.error),
        ] {
            if let Some(e) = error.take() {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    tracing::error!(error = %e, "cannot write {what}; stopping");
                }
                self.shutdown.request();
                self.committed.borrow_mut().error.get_or_insert((what, e));
            }
        }
    }
}

/// Sends the top-N changes and the reports to worker 0, which writes them with `sinks` (other
/// workers pass `None` and receive nothing).
#[allow(clippy::too_many_arguments)]
pub(crate) fn commit<'s>(
    top: Stream<'s, u64, Vec<TopChange>>,
    reports: Stream<'s, u64, Vec<Report>>,
    windows: Windows,
    sinks: Option<(WindowSink, LetterSink, Option<Checkpointing>)>,
    committed: Rc<RefCell<Committed>>,
    shutdown: Shutdown,
    metrics: Metrics,
) {
    let scope = top.scope();
    let mut builder = OperatorBuilder::new("Commit".to_owned(), scope);
    // Woken at least once a second, to notice an output whose reader left while nothing changes.
    let activator = scope.activator_for(builder.operator_info().address);
    let mut top_in = builder.new_input(top, Exchange::new(|_| 0));
    let mut reports_in = builder.new_input(reports, Exchange::new(|_| 0));
    let mut sink = sinks.map(|(records, letters, checkpoints)| {
        let base = checkpoints
            .as_ref()
            .map_or((0, 0), |c| (c.base.windows, c.base.dead_letters));
        let last_barrier = checkpoints.as_ref().map_or(0, |c| c.base.complete_before);
        Sink {
            windows,
            records,
            letters,
            stats: Stats::default(),
            stopped: Vec::new(),
            base,
            checkpoints: checkpoints.map(|c| {
                let replica = Replica::new(&c.base);
                (c, replica)
            }),
            last_barrier,
            pending: None,
            last_write: None,
            last_look: Instant::now(),
            committed: committed.clone(),
            shutdown,
            finished: false,
            metrics,
            letters_counted: 0,
        }
    });
    builder.build(move |_capabilities| {
        move |frontiers| {
            top_in.for_each(|_time, data| {
                let sink = sink
                    .as_mut()
                    .expect("only worker 0 receives window changes");
                data.drain(..).for_each(|change| sink.records.push(change));
            });
            reports_in.for_each(|time, data| {
                let sink = sink.as_mut().expect("only worker 0 receives reports");
                for report in data.drain(..) {
                    match report {
                        Report::DeadLetter(letter) => sink
                            .letters
                            .push(time.least().copied().unwrap_or(0), letter),
                        Report::Stats(stats) => sink.stats.add(&stats),
                        Report::Stopped { cap } => sink.stopped.push(cap),
                        Report::Delta(delta) => {
                            if let Some((_, replica)) = sink.checkpoints.as_mut() {
                                replica.queue(*delta);
                            }
                        }
                    }
                }
            });
            let Some(sink) = sink.as_mut() else {
                return;
            };
            if sink.finished {
                return;
            }
            activator.activate_after(Duration::from_secs(1));
            // The reports' frontier is the ingest's: every partition's watermark (empty: all read).
            let ingested = frontiers[1].frontier().first().copied();
            sink.records.complete_before(ingested.unwrap_or(u64::MAX));
            let frontier = frontiers
                .iter()
                .filter_map(|f| f.frontier().first().copied())
                .min();
            match frontier {
                Some(f) => sink.advance(f),
                None => sink.finish(),
            }
            sink.report_errors();
            if sink.letters.written > sink.letters_counted {
                sink.metrics
                    .dead_letters_written(sink.letters.written - sink.letters_counted);
                sink.letters_counted = sink.letters.written;
            }
            if sink.finished {
                let mut done = sink.committed.borrow_mut();
                done.windows = sink.base.0 + sink.records.written;
                done.dead_letters = sink.base.1 + sink.letters.written;
                done.stats = std::mem::take(&mut sink.stats);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::aggregate::Kind;
    use crate::sink::record::{RecordWriter, WindowRecord};
    use crate::topn::Ranked;

    /// Records the window ends written.
    struct Ends(Arc<Mutex<Vec<i64>>>);

    impl RecordWriter for Ends {
        fn write(&mut self, record: &WindowRecord) -> io::Result<()> {
            self.0.lock().unwrap().push(record.end_ms);
            Ok(())
        }
    }

    #[test]
    fn after_a_stop_the_frontier_moving_on_writes_no_incomplete_window() {
        // Review of issue 8/9: once the workers stopped, differential's retractions at later
        // times moved the frontier on, and the windows from the stop on were written as if
        // complete.
        let windows = Windows::new(5_000, 10_000, 5_000).unwrap();
        let ends = Arc::new(Mutex::new(Vec::new()));
        let records = WindowSink::new(windows, Box::new(Ends(ends.clone())), 0, Metrics::new());
        let mut sink = Sink {
            windows,
            records,
            letters: LetterSink::new(None, None),
            stats: Stats::default(),
            stopped: Vec::new(),
            base: (0, 0),
            checkpoints: None,
            last_barrier: 0,
            pending: None,
            last_write: None,
            last_look: Instant::now(),
            committed: Rc::new(RefCell::new(Committed::default())),
            shutdown: Shutdown::new(),
            finished: false,
            metrics: Metrics::new(),
            letters_counted: 0,
        };
        let tweets = |count| {
            (
                Kind::Tweets,
                Ranked {
                    count,
                    key: String::new(),
                },
            )
        };
        // One tweet in the window at time 0, more from time 1 on, all retracted at time 10.
        sink.records.push((tweets(1), 0, 1));
        sink.records.push((tweets(1), 1, -1));
        sink.records.push((tweets(3), 1, 1));
        sink.records.push((tweets(3), 10, -1));
        sink.stopped.push(2);
        sink.advance(11);
        assert_eq!(
            *ends.lock().unwrap(),
            [5_000, 10_000],
            "windows 0 and 1 only, not 2..9"
        );
    }
}
