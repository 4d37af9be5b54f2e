//! How far a worker's ingest capability may advance, with idle partitions (CONTRACT section 3,
//! issue 3's `--idle-timeout`) seen across the whole cluster rather than one worker.
//!
//! The rule, over every open partition of every worker: time is held at the slowest partition
//! that is *active* (has had data within the idle timeout); when none is active anywhere, time goes
//! as far as the most advanced partition has shown. One worker only knows its own partitions, so
//! workers broadcast a [`Progress`] whenever their state changes. Without that, a worker whose
//! partitions are all idle (say, more workers than partitions with data) would hold every window
//! of the job at its own stale watermark forever.
//!
//! Reports are at most milliseconds old (a worker reports whenever its state changes); one that
//! has not reported yet is treated as absent, and it still holds its own capability, so the
//! frontier never passes data a worker can still send. What the rule decides is how late a
//! rejoining partition's tweets are, which is a wall-clock policy anyway. When everything is idle,
//! one partition's outlier (a tweet with a future `created_at`) takes every worker to its epoch,
//! as it took its own worker before; lateness is then measured from there.

use serde::{Deserialize, Serialize};

/// A worker's partitions, summarised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Local {
    /// At least one partition is active; the lowest epoch an active one may still add to.
    Active(u64),
    /// Every open partition is idle; the highest epoch any of them has reached.
    Idle(u64),
    /// Every partition is read: the worker no longer holds time.
    Done,
}

/// What one worker tells all others; `seq` orders a sender's reports. `stop` asks every worker to
/// stop reading (a signal, or a closed output, on the sender's process).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Progress {
    pub worker: usize,
    pub seq: u64,
    pub local: Local,
    pub stop: bool,
}

/// The latest report of every worker.
#[derive(Debug)]
pub struct Peers {
    me: usize,
    latest: Vec<Option<(u64, Local)>>,
    stop: bool,
    /// Workers that said they hold nothing any more (finished, or stopped).
    finished: Vec<bool>,
}

impl Peers {
    pub fn new(me: usize, peers: usize) -> Peers {
        Peers {
            me,
            latest: vec![None; peers],
            stop: false,
            finished: vec![false; peers],
        }
    }

    /// Takes in a report; older reports of a sender than one already seen change nothing.
    pub fn hear(&mut self, progress: &Progress) {
        if progress.worker == self.me {
            return;
        }
        self.stop |= progress.stop;
        if progress.local == Local::Done
            && let Some(done) = self.finished.get_mut(progress.worker)
        {
            *done = true;
        }
        if let Some(slot) = self.latest.get_mut(progress.worker)
            && slot.is_none_or(|(seq, _)| seq < progress.seq)
        {
            *slot = Some((progress.seq, progress.local));
        }
    }

    /// Whether every other worker has finished or stopped.
    pub fn all_others_finished(&self) -> bool {
        self.finished
            .iter()
            .enumerate()
            .all(|(w, done)| w == self.me || *done)
    }

    /// Whether some worker asked all to stop.
    pub fn stop_heard(&self) -> bool {
        self.stop
    }

    /// The epoch this worker's capability may advance to, given its own partitions; `None` once
    /// they are all read.
    pub fn low(&self, local: Local) -> Option<u64> {
        let others = || self.latest.iter().flatten().map(|(_, l)| *l);
        match local {
            Local::Done => None,
            Local::Active(low) => Some(low),
            Local::Idle(reached) => {
                let active = others()
                    .filter_map(|l| match l {
                        Local::Active(low) => Some(low),
                        _ => None,
                    })
                    .min();
                Some(active.unwrap_or_else(|| {
                    others()
                        .filter_map(|l| match l {
                            Local::Idle(reached) => Some(reached),
                            _ => None,
                        })
                        .fold(reached, u64::max)
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(worker: usize, seq: u64, local: Local) -> Progress {
        Progress {
            worker,
            seq,
            local,
            stop: false,
        }
    }

    #[test]
    fn an_active_worker_follows_its_own_partitions() {
        let mut peers = Peers::new(0, 2);
        peers.hear(&report(1, 1, Local::Active(3)));
        assert_eq!(peers.low(Local::Active(7)), Some(7));
        assert_eq!(peers.low(Local::Done), None);
    }

    #[test]
    fn an_idle_worker_follows_the_slowest_active_peer() {
        let mut peers = Peers::new(0, 3);
        assert_eq!(
            peers.low(Local::Idle(2)),
            Some(2),
            "nobody heard: own reach"
        );
        peers.hear(&report(1, 1, Local::Active(9)));
        peers.hear(&report(2, 1, Local::Active(6)));
        assert_eq!(peers.low(Local::Idle(2)), Some(6));
        peers.hear(&report(2, 2, Local::Done));
        assert_eq!(
            peers.low(Local::Idle(2)),
            Some(9),
            "a finished peer holds nothing"
        );
    }

    #[test]
    fn when_all_are_idle_time_goes_to_the_furthest_reach() {
        let mut peers = Peers::new(1, 3);
        peers.hear(&report(0, 1, Local::Idle(4)));
        peers.hear(&report(2, 1, Local::Idle(11)));
        assert_eq!(peers.low(Local::Idle(5)), Some(11));
        assert_eq!(peers.low(Local::Idle(12)), Some(12));
    }

    #[test]
    fn a_stop_from_any_peer_is_heard() {
        let mut peers = Peers::new(0, 3);
        peers.hear(&report(1, 1, Local::Active(3)));
        assert!(!peers.stop_heard());
        peers.hear(&Progress {
            stop: true,
            ..report(2, 1, Local::Done)
        });
        assert!(peers.stop_heard());
        assert!(!peers.all_others_finished(), "worker 1 has not finished");
        peers.hear(&report(1, 2, Local::Done));
        assert!(peers.all_others_finished());
    }

    #[test]
    fn stale_and_own_reports_are_ignored() {
        let mut peers = Peers::new(0, 2);
        peers.hear(&report(1, 5, Local::Active(10)));
        peers.hear(&report(1, 4, Local::Active(3)));
        peers.hear(&report(0, 9, Local::Active(1)));
        peers.hear(&report(7, 1, Local::Active(1)));
        assert_eq!(peers.low(Local::Idle(0)), Some(10));
    }
}
