//! The ingest operator: reads a worker's partitions, classifies every message (CONTRACT section 1),
//! drops late tweets per partition, and emits per-slide counts at their window time.
//!
//! Its capability follows the slowest partition's watermark; a worker with nothing to read drops it
//! at once, so idle workers never hold back the frontier. Idle partitions are judged across the
//! cluster (see `frontier`). Bad and late messages, the final counters and, with checkpoints, the
//! worker's state at each barrier (see `checkpoint`) leave on a second output: errors travel as
//! data, never as panics.
//!
//! A stop request (a signal, a closed output, a peer's stop) ends the reading at once, but a
//! stopped worker keeps its capability until every other worker has stopped or finished too: the
//! windows before the lowest of them are complete, those after are not, and the sink must see the
//! frontier stop there rather than jump to the end.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Capability, ConnectLoop, Feedback};
use timely::dataflow::{Scope, Stream};
use tweet::input::oversized_reason;
use tweet::time::Horizon;
use tweet::{Class, DeadLetter, Message};

use super::frontier::{Local, Peers, Progress};
use super::watermark::Watermark;
use super::{Discover, Next, Partition};
use crate::aggregate::{Aggregates, SlideState, Update, emit_restored};
use crate::checkpoint::{Delta, PartitionState};
use crate::metrics::{PartitionView, WorkerMetrics};
use crate::shutdown::Shutdown;
use crate::stats::{Counters, Stats};
use crate::window::Windows;

/// Messages read per partition before moving to the next; bounds the work of one activation.
const CHUNK: usize = 1024;

/// How soon to look again when no partition had anything to read.
const IDLE_POLL: Duration = Duration::from_millis(10);

/// In unbounded runs every worker tells every other one its state at least this often: the
/// heartbeat by which a peer that froze is noticed (see `cluster`).
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The reason of a tweet whose windows could not be written as RFC 3339.
const TOO_LATE_IN_TIME: &str =
    "event time too close to year 10000: its windows would end after 9999-12-31T23:59:59.999Z";

/// What the ingest operator needs to know of the job.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rules {
    pub windows: Windows,
    pub lateness_ms: u64,
    pub max_future_ms: u64,
    /// `None`: partitions never count as idle (files, bounded runs).
    pub idle_timeout: Option<Duration>,
    /// Whether partitions can join during the run; a worker then holds time even with none.
    pub discovering: bool,
    /// With checkpoints: the barriers are the multiples of this many epochs.
    pub barrier_epochs: Option<u64>,
    /// A partition that cannot be read stops the run (checkpointed or unbounded runs): carrying on
    /// without it would move time, and checkpoints, past its data; a restart tries it again.
    pub stop_on_read_error: bool,
}

impl Rules {
    /// Whether a barrier lies in `(from, to]` (`to` `None`: anywhere after `from`).
    fn crosses(&self, from: u64, to: Option<u64>) -> bool {
        match (self.barrier_epochs, to) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(every), Some(to)) => to / every > from / every,
        }
    }
}

/// Everything the ingest operator reports besides counts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Report {
    DeadLetter(DeadLetter),
    /// A worker's counters, sent once when it has read all its partitions or stopped.
    Stats(Stats),
    /// The worker stopped reading, asked to, with its capability here: windows from here on are
    /// not complete.
    Stopped {
        cap: u64,
    },
    /// The worker's state at a barrier (checkpoints only).
    Delta(Box<Delta>),
}

/// What a worker resumes from (issue 10): its share of a checkpoint.
#[derive(Debug, Default)]
pub(crate) struct Restore {
    /// Its partitions' states, by partition number.
    pub partitions: std::collections::HashMap<i32, PartitionState>,
    /// The slides of the keys that hash to it.
    pub slides: Vec<SlideState>,
    /// Windows before this time are written already.
    pub complete_before: u64,
    /// The counters so far (worker 0 only).
    pub counters: Option<Stats>,
}

struct Reader {
    partition: Box<dyn Partition>,
    watermark: Watermark,
    done: bool,
    /// Since when the partition has had nothing to read.
    idle_since: Option<Instant>,
    /// Idle when the checkpoint resumed from was taken: idle until it has data again, not
    /// decided again after another timeout.
    restored_idle: bool,
    /// Tweets of earlier epochs are late (restored from a checkpoint; the capability's floor
    /// applies as well).
    floor: u64,
}

impl Reader {
    fn new(partition: Box<dyn Partition>, rules: &Rules, restore: &Restore) -> Reader {
        let state = partition
            .offset()
            .and_then(|(p, _)| restore.partitions.get(&p));
        let mut watermark = Watermark::new(rules.lateness_ms);
        let (mut floor, mut restored_idle) = (0, false);
        if let Some(state) = state {
            watermark = Watermark::restored(rules.lateness_ms, state.max_event_ms);
            floor = state.floor;
            restored_idle = state.idle;
        }
        Reader {
            partition,
            watermark,
            done: false,
            idle_since: None,
            restored_idle,
            floor,
        }
    }

    /// The partition's state for a checkpoint, with the capability's floor `cap`.
    fn state(&self, rules: &Rules, cap: u64) -> Option<PartitionState> {
        let (partition, next_offset) = self.partition.offset()?;
        Some(PartitionState {
            partition,
            next_offset,
            max_event_ms: self.watermark.max_event_ms(),
            floor: self.floor.max(cap),
            idle: self.idle_for(rules.idle_timeout),
        })
    }
}

impl Reader {
    fn idle_for(&self, timeout: Option<Duration>) -> bool {
        match (self.idle_since, timeout) {
            (_, None) => false,
            (None, Some(_)) => self.restored_idle,
            (Some(since), Some(t)) => self.restored_idle || since.elapsed() >= t,
        }
    }
}

/// This worker's partitions, summarised for the cluster-wide rule of [`Peers::low`]: a partition
/// idle for longer than `idle_timeout` stops holding time back (its later tweets behind the
/// frontier are late). No epoch is below `floor`, where the capability already is.
fn local_state(readers: &[Reader], rules: &Rules, floor: u64) -> Local {
    let open = readers.iter().filter(|r| !r.done);
    let epoch = |r: &Reader| rules.windows.epoch(r.watermark.low_ms()).max(floor);
    let active = open
        .clone()
        .filter(|r| !r.idle_for(rules.idle_timeout))
        .map(epoch)
        .min();
    match (active, open.map(epoch).max()) {
        (Some(low), _) => Local::Active(low),
        (None, Some(reached)) => Local::Idle(reached),
        // A worker that may still be given partitions keeps its place, as an idle one.
        (None, None) if rules.discovering => Local::Idle(floor),
        (None, None) => Local::Done,
    }
}

/// Limits warnings about bad input to a few per worker, then one summary line per interval.
struct LogLimit {
    logged: u64,
    suppressed: u64,
    last: std::time::Instant,
}

impl LogLimit {
    const BURST: u64 = 5;
    const INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

    fn new() -> LogLimit {
        LogLimit {
            logged: 0,
            suppressed: 0,
            last: std::time::Instant::now(),
        }
    }

    fn warn(&mut self, worker: usize, letter: &DeadLetter) {
        if self.logged < Self::BURST || self.last.elapsed() >= Self::INTERVAL {
            tracing::warn!(
                worker,
                position = %letter.position,
                class = letter.class.as_str(),
                reason = %letter.reason,
                suppressed = self.suppressed,
                "bad input"
            );
            self.logged += 1;
            self.suppressed = 0;
            self.last = std::time::Instant::now();
        } else {
            self.suppressed += 1;
        }
    }
}

pub(crate) fn ingest<'s>(
    scope: Scope<'s, u64>,
    partitions: Vec<Box<dyn Partition>>,
    mut joining: Option<Box<dyn Discover>>,
    rules: Rules,
    mut restore: Restore,
    shutdown: Shutdown,
    mut metrics: WorkerMetrics,
) -> (Stream<'s, u64, Vec<Update>>, Stream<'s, u64, Vec<Report>>) {
    let worker = scope.index();
    let mut peers = Peers::new(worker, scope.peers());
    // Every worker's Progress reaches every worker through this loop (see `frontier`).
    let (heard_handle, heard) = scope.feedback::<Vec<Progress>>(1);
    let mut builder = OperatorBuilder::new("Ingest".to_owned(), scope);
    let activator = scope.activator_for(builder.operator_info().address);
    let (mut updates_out, updates) = builder.new_output::<Vec<Update>>();
    let (mut reports_out, reports) = builder.new_output::<Vec<Report>>();
    let (mut progress_out, progress) = builder.new_output::<Vec<Progress>>();
    // Not connected to any output: what peers report never holds back what this worker emits.
    let mut heard_in = builder.new_input_connection(heard, Pipeline, []);

    builder.build(move |mut capabilities| {
        // Capabilities held at the slowest partition's watermark epoch. Partition states are only
        // shared when partitions can go idle (otherwise no report would change anything); stops
        // and finishing are shared always.
        let mut progress_cap = capabilities.pop().expect("three outputs");
        let mut report_cap = capabilities.pop().expect("three outputs");
        let mut update_cap = capabilities.pop().expect("three outputs");
        // A resumed run starts where the checkpoint's cut is, on every worker: a partition the
        // checkpoint does not know (new since) must find earlier epochs closed, as they are.
        for cap in [&mut progress_cap, &mut report_cap, &mut update_cap] {
            cap.downgrade(&restore.complete_before);
        }
        let mut caps = Some(Caps {
            updates: update_cap,
            reports: report_cap,
            progress: progress_cap,
        });
        let mut readers: Vec<Reader> = partitions
            .into_iter()
            .map(|p| Reader::new(p, &rules, &restore))
            .collect();
        let mut aggregates = Aggregates::default();
        let mut counters = restore
            .counters
            .as_ref()
            .map(Counters::from_stats)
            .unwrap_or_default();
        metrics.baseline(&counters);
        let mut restored = Some(std::mem::take(&mut restore.slides));
        let complete_before = restore.complete_before;
        let mut drained: Vec<SlideState> = Vec::new();
        let mut letters = Vec::new();
        let mut log = LogLimit::new();
        let mut told: Option<(Local, Instant)> = None;
        let mut seq = 0;
        let mut stopping = false;

        move |_frontiers| {
            // Drained even when finished: unread messages would keep the dataflow alive.
            heard_in.for_each(|_time, reports| reports.iter().for_each(|p| peers.hear(p)));
            let Some(Caps {
                updates: update_cap,
                reports: report_cap,
                progress: progress_cap,
            }) = caps.as_mut()
            else {
                return;
            };
            // Sessions flush on drop: without that, data bound for other processes would sit in
            // the exchange buffers and the dataflow would never complete.
            let mut updates_out = updates_out.activate();
            let mut reports_out = reports_out.activate();
            let mut progress_out = progress_out.activate();
            let floor = *update_cap.time();
            if let Some(slides) = restored.take() {
                // The checkpoint's slides, handed to differential again for the windows to write.
                let from = rules.windows.first_window_time_from(complete_before);
                for slide in slides {
                    emit_restored(slide, from, |time, updates| {
                        updates_out.give(&update_cap.delayed(&time), updates)
                    });
                }
            }
            if !stopping && (shutdown.requested() || peers.stop_heard()) {
                // Asked to stop (here, or by a peer): read no more, and let every worker know.
                stopping = true;
                tracing::debug!(worker, floor, "stopping");
                crate::cluster::relax_peer_timeouts();
                progress_out.give(
                    &*progress_cap,
                    &mut numbered(&mut seq, worker, Local::Done, true),
                );
                reports_out.give(&*report_cap, &mut vec![Report::Stopped { cap: floor }]);
                readers.iter_mut().for_each(|r| r.done = true);
                joining = None;
            }
            if let Some(joining) = joining.as_mut() {
                let joined = joining.discover();
                readers.extend(joined.into_iter().map(|p| Reader::new(p, &rules, &restore)));
            }
            let horizon = Horizon::now(rules.max_future_ms);
            let mut read = 0;
            let read_errors = counters.read_errors;
            for reader in readers.iter_mut().filter(|r| !r.done) {
                read += read_chunk(
                    reader,
                    &rules,
                    horizon,
                    floor,
                    &mut aggregates,
                    &mut counters,
                    &mut letters,
                );
            }
            metrics.publish(&counters);
            if metrics.partitions_due() {
                publish_partitions(&readers, &metrics);
            }
            if rules.stop_on_read_error && counters.read_errors > read_errors && !stopping {
                tracing::error!(worker, "a partition cannot be read; stopping the run");
                shutdown.request();
            }
            if shutdown.requested() && !stopping {
                // Stopped where the capability is now, on the next activation, before it moves.
                activator.activate();
                return;
            }
            let local = if stopping {
                Local::Done
            } else {
                local_state(&readers, &rules, floor)
            };
            let heartbeat_due = told.is_none_or(|(_, at)| at.elapsed() >= HEARTBEAT);
            if rules.idle_timeout.is_some()
                && !stopping
                && (told.map(|(l, _)| l) != Some(local) || heartbeat_due)
            {
                progress_out.give(
                    &*progress_cap,
                    &mut numbered(&mut seq, worker, local, false),
                );
                told = Some((local, Instant::now()));
            }
            // A stopped worker holds its place until every other one has stopped or finished.
            let low = match stopping {
                true if !peers.all_others_finished() => Some(floor),
                true => None,
                false => peers.low(local),
            };
            if !stopping {
                let keep = rules.barrier_epochs.is_some().then_some(&mut drained);
                aggregates.drain_before(low, keep, |time, updates| {
                    updates_out.give(&update_cap.delayed(&time), updates)
                });
            }

            for letter in &letters {
                if let Report::DeadLetter(letter) = letter {
                    log.warn(worker, letter);
                }
            }
            if !letters.is_empty() {
                reports_out.give(&*report_cap, &mut letters);
                letters.clear();
            }

            let until = low.map(|l| l.max(floor));
            if until != Some(floor) && rules.crosses(floor, until) {
                // This worker's state at the barrier(s) it is about to pass: everything it emitted
                // so far is at or after `floor`, everything it emits from now on at or after
                // `until`.
                let delta = Delta {
                    worker,
                    cap: floor,
                    until,
                    partitions: readers
                        .iter()
                        .filter_map(|r| r.state(&rules, until.unwrap_or(floor)))
                        .collect(),
                    counters: counters.to_stats(),
                    drained: std::mem::take(&mut drained),
                    open: aggregates.open_states(),
                };
                reports_out.give(&*report_cap, &mut vec![Report::Delta(Box::new(delta))]);
            }

            match until {
                Some(low) => {
                    update_cap.downgrade(&low);
                    report_cap.downgrade(&low);
                    progress_cap.downgrade(&low);
                    if read > 0 {
                        activator.activate();
                    } else {
                        // Every partition is waiting for data: poll again soon, without spinning.
                        activator.activate_after(IDLE_POLL);
                    }
                }
                None => {
                    if stopping {
                        // Incomplete slides would make windows that lack tweets; a checkpoint
                        // has them (the delta above).
                        aggregates.clear();
                    } else {
                        debug_assert!(aggregates.is_empty());
                        // Everyone learns that this worker holds nothing any more.
                        progress_out.give(
                            &*progress_cap,
                            &mut numbered(&mut seq, worker, Local::Done, false),
                        );
                    }
                    // The partitions' last state, for a page that outlives the run.
                    publish_partitions(&readers, &metrics);
                    let stats = counters.to_stats();
                    tracing::debug!(worker, %stats, "partitions read");
                    reports_out.give(&*report_cap, &mut vec![Report::Stats(stats)]);
                    caps = None;
                }
            }
        }
    });
    progress.broadcast().connect_loop(heard_handle);
    (updates, reports)
}

/// Each partition's watermark and lag, for the metrics and the live view.
fn publish_partitions(readers: &[Reader], metrics: &WorkerMetrics) {
    for r in readers {
        metrics.partition(PartitionView {
            partition: r.partition.label(),
            watermark_ms: r
                .watermark
                .max_event_ms()
                .map(|_| r.watermark.low_ms() as i64),
            lag: r.partition.lag(),
        });
    }
}

/// This worker's next report, numbered so that receivers can drop stale ones.
fn numbered(seq: &mut u64, worker: usize, local: Local, stop: bool) -> Vec<Progress> {
    *seq += 1;
    vec![Progress {
        worker,
        seq: *seq,
        local,
        stop,
    }]
}

/// The ingest operator's capabilities, one per output.
struct Caps {
    updates: Capability<u64>,
    reports: Capability<u64>,
    progress: Capability<u64>,
}

/// Reads up to [`CHUNK`] messages of one partition; returns how many. Tweets before `floor` (the
/// epoch the operator's capability has reached) can no longer be counted: they are late.
fn read_chunk(
    reader: &mut Reader,
    rules: &Rules,
    horizon: Horizon,
    floor: u64,
    aggregates: &mut Aggregates,
    counters: &mut Counters,
    letters: &mut Vec<Report>,
) -> usize {
    let windows = rules.windows;
    for read in 0..CHUNK {
        let (class, reason, raw) = match reader.partition.next() {
            Next::Done => {
                reader.done = true;
                return read;
            }
            Next::Idle => {
                reader.idle_since.get_or_insert_with(Instant::now);
                return read;
            }
            Next::Failed(reason) => {
                reader.done = true;
                counters.read_errors += 1;
                (Class::ReadError, reason, String::new())
            }
            Next::Oversized { head, len } => {
                (reader.idle_since, reader.restored_idle) = (None, false);
                counters.lines += 1;
                counters.bytes += len + 1;
                counters.malformed += 1;
                (
                    Class::Malformed,
                    oversized_reason(len, head.len()),
                    String::from_utf8_lossy(head).into_owned(),
                )
            }
            Next::Message(bytes) => {
                (reader.idle_since, reader.restored_idle) = (None, false);
                counters.lines += 1;
                counters.bytes += bytes.len() as u64 + 1;
                let bad = match tweet::classify_read(bytes, horizon) {
                    Message::Blank => {
                        counters.blank += 1;
                        None
                    }
                    Message::Notice { kind, undelivered } => {
                        counters.notices[kind.index()] += 1;
                        counters.undelivered = counters
                            .undelivered
                            .saturating_add(undelivered.unwrap_or(0));
                        None
                    }
                    Message::Tweet(tweet) if tweet.event_ms > windows.latest_event_ms() => {
                        counters.rejected += 1;
                        Some((Class::Rejected, TOO_LATE_IN_TIME.to_owned()))
                    }
                    Message::Tweet(tweet) => {
                        let epoch = windows.epoch(tweet.event_ms);
                        if epoch >= floor.max(reader.floor)
                            && reader.watermark.admit(tweet.event_ms)
                        {
                            counters.tweets += 1;
                            if let Some(span) = windows.span(epoch) {
                                aggregates.add(span, &tweet);
                            }
                            None
                        } else {
                            counters.late += 1;
                            let low = (reader.watermark.low_ms())
                                .max(floor.max(reader.floor) * windows.batch_ms);
                            let behind = low.saturating_sub(tweet.event_ms);
                            Some((
                                Class::Late,
                                format!("event time {behind} ms before the partition's watermark"),
                            ))
                        }
                    }
                    Message::Malformed(reason) => {
                        counters.malformed += 1;
                        Some((Class::Malformed, reason))
                    }
                    Message::Rejected(reason) => {
                        counters.rejected += 1;
                        Some((Class::Rejected, reason.to_owned()))
                    }
                };
                match bad {
                    None => continue,
                    Some((class, reason)) => {
                        (class, reason, String::from_utf8_lossy(bytes).into_owned())
                    }
                }
            }
        };
        letters.push(Report::DeadLetter(DeadLetter {
            source: reader.partition.source().to_owned(),
            position: reader.partition.position(),
            class,
            reason,
            raw,
            key: None,
        }));
    }
    CHUNK
}
