//! Consolidation of tweets into per-window-time counts before they enter differential.
//!
//! Differential's cost is per update, not per tweet: folding every tweet of a slide into one
//! `(key, count)` per worker first keeps the batcher and the reduces proportional to the distinct
//! keys of a slide. A slide is handed over once no partition of the worker can add to it any more,
//! which is also when the frontier could first move past it, so nothing waits longer than it must.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};
use tweet::Tweet;

/// What a count is about. `Tweets` has the single empty key: the window's tweet count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Tweets,
    Location,
    Mention,
}

/// A hash bucket of keys of one kind: the unit of the first level of the top-N.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Group {
    pub kind: Kind,
    pub bucket: u16,
}

/// Enough buckets to spread the first-level top-N over many workers and keep each small.
const BUCKETS: u64 = 256;

impl Group {
    pub fn of(kind: Kind, key: &str) -> Group {
        let mut h = FxHasher::default();
        key.hash(&mut h);
        Group {
            kind,
            bucket: (h.finish() % BUCKETS) as u16,
        }
    }
}

/// A differential update: `(group, key)` counted `diff` times at a window time.
pub type Update = ((Group, String), u64, i128);

/// The counts of the tweets that share a window span.
#[derive(Default)]
struct Slide {
    tweets: i128,
    locations: FxHashMap<String, i128>,
    mentions: FxHashMap<String, i128>,
}

/// One slide's folded counts as a checkpoint holds them: the window times at which they enter and
/// leave the collection, and a count per key. Counts are additive, so the slides of several
/// workers (or of a checkpoint and of new tweets) with the same span merge by adding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlideState {
    pub enter: u64,
    pub leave: u64,
    pub tweets: i128,
    pub locations: Vec<(String, i128)>,
    pub mentions: Vec<(String, i128)>,
}

impl Slide {
    fn state(&self, (enter, leave): (u64, u64)) -> SlideState {
        let list = |map: &FxHashMap<String, i128>| -> Vec<(String, i128)> {
            map.iter().map(|(k, n)| (k.clone(), *n)).collect()
        };
        SlideState {
            enter,
            leave,
            tweets: self.tweets,
            locations: list(&self.locations),
            mentions: list(&self.mentions),
        }
    }
}

/// Slides merged by span and key: the replica of a cluster's live state a checkpoint is made of.
#[derive(Default)]
pub(crate) struct SlideSet {
    slides: BTreeMap<(u64, u64), Slide>,
}

impl SlideSet {
    pub fn add(&mut self, state: &SlideState) {
        let slide = self.slides.entry((state.enter, state.leave)).or_default();
        slide.tweets += state.tweets;
        for (key, n) in &state.locations {
            bump(&mut slide.locations, key, *n);
        }
        for (key, n) in &state.mentions {
            bump(&mut slide.mentions, key, *n);
        }
    }

    /// Forgets the slides that leave the collection at or before `time`: no window from `time`
    /// on holds their tweets.
    pub fn prune_through(&mut self, time: u64) {
        self.slides.retain(|&(_, leave), _| leave > time);
    }

    pub fn states(&self) -> impl Iterator<Item = SlideState> + '_ {
        self.slides.iter().map(|(span, slide)| slide.state(*span))
    }

    pub fn keys(&self) -> usize {
        self.slides
            .values()
            .map(|s| 1 + s.locations.len() + s.mentions.len())
            .sum()
    }
}

fn bump(map: &mut FxHashMap<String, i128>, key: &str, by: i128) {
    match map.get_mut(key) {
        Some(count) => *count += by,
        None => {
            map.insert(key.to_owned(), by);
        }
    }
}

/// Open slides of one worker, by the window times at which their tweets enter and leave the
/// collection (one slide's tweets leave at one or two times, when W is not a multiple of S), and
/// the retractions of the slides it has handed over.
#[derive(Default)]
pub(crate) struct Aggregates {
    slides: BTreeMap<(u64, u64), Slide>,
    /// The retractions of the slides handed over, by the time they take effect. They are held
    /// here until the frontier is about to pass that time rather than handed over with their
    /// slide: in differential's batcher they would wait as long (a window's length), merged
    /// again with every batch that arrives meanwhile.
    retractions: BTreeMap<u64, Vec<Update>>,
}

impl Aggregates {
    pub fn add(&mut self, (enter, leave): (u64, u64), tweet: &Tweet<'_>) {
        let slide = self.slides.entry((enter, leave)).or_default();
        slide.tweets += 1;
        if let Some(location) = &tweet.location {
            bump(&mut slide.locations, location, 1);
        }
        for name in &tweet.mentions {
            bump(&mut slide.mentions, name, tweet.weight as i128);
        }
    }

    /// Hands over every slide entering before `frontier` (all of them for `None`), oldest first:
    /// its counts at the time they enter; their retractions are held until the frontier passes
    /// their time (see [`Aggregates::retract_before`]), and those it passes now go too. With
    /// `drained`, each slide handed over is also kept there, for a checkpoint.
    pub fn drain_before(
        &mut self,
        frontier: Option<u64>,
        mut drained: Option<&mut Vec<SlideState>>,
        mut emit: impl FnMut(u64, &mut Vec<Update>),
    ) {
        while let Some(entry) = self.slides.first_entry() {
            if frontier.is_some_and(|f| entry.key().0 >= f) {
                break;
            }
            let (span, slide) = entry.remove_entry();
            if let Some(kept) = drained.as_deref_mut() {
                kept.push(slide.state(span));
            }
            let (mut counts, mut retractions) =
                slide_updates(span, slide.tweets, [slide.locations, slide.mentions]);
            emit(span.0, &mut counts);
            match self.retractions.entry(span.1) {
                Entry::Vacant(vacant) => {
                    vacant.insert(retractions);
                }
                Entry::Occupied(mut occupied) => occupied.get_mut().append(&mut retractions),
            }
        }
        self.retract_before(frontier, emit);
    }

    /// Hands over the retractions that take effect before `frontier` (all of them for `None`):
    /// the caller's capability must not pass a time with retractions still held.
    fn retract_before(
        &mut self,
        frontier: Option<u64>,
        mut emit: impl FnMut(u64, &mut Vec<Update>),
    ) {
        while let Some(entry) = self.retractions.first_entry() {
            if frontier.is_some_and(|f| *entry.key() >= f) {
                break;
            }
            let (time, mut retractions) = entry.remove_entry();
            emit(time, &mut retractions);
        }
    }

    /// The slides not handed over yet, for a checkpoint.
    pub fn open_states(&self) -> Vec<SlideState> {
        self.slides
            .iter()
            .map(|(span, slide)| slide.state(*span))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.slides.is_empty() && self.retractions.is_empty()
    }

    /// Forgets the open slides (a stopped run's checkpoint has them) and the held retractions:
    /// they are all at or after the stopped worker's capability, from which no window is written.
    pub fn clear(&mut self) {
        self.slides.clear();
        self.retractions.clear();
    }
}

/// Emits a slide restored from a checkpoint: its counts from the first window time at or after
/// `from` (the windows before are written), and their retraction when it leaves. A slide that
/// leaves by then contributes to no window still to write.
pub(crate) fn emit_restored(
    state: SlideState,
    from: u64,
    mut emit: impl FnMut(u64, &mut Vec<Update>),
) {
    if state.leave <= from {
        return;
    }
    let maps = [state.locations, state.mentions].map(|list| list.into_iter().collect());
    let at = state.enter.max(from);
    let (mut counts, mut retractions) = slide_updates((at, state.leave), state.tweets, maps);
    emit(at, &mut counts);
    emit(state.leave, &mut retractions);
}

/// `tweets` and the location and mention counts at `at`, and their retractions at `leave`.
fn slide_updates(
    (at, leave): (u64, u64),
    tweets: i128,
    [locations, mentions]: [FxHashMap<String, i128>; 2],
) -> (Vec<Update>, Vec<Update>) {
    let mut buffer: Vec<Update> = Vec::with_capacity(1 + locations.len() + mentions.len());
    let total = (
        Group {
            kind: Kind::Tweets,
            bucket: 0,
        },
        String::new(),
    );
    if tweets != 0 {
        buffer.push((total, at, tweets));
    }
    for (kind, map) in [(Kind::Location, locations), (Kind::Mention, mentions)] {
        buffer.extend(
            map.into_iter()
                .map(|(key, n)| ((Group::of(kind, &key), key), at, n)),
        );
    }
    let retractions: Vec<Update> = buffer
        .iter()
        .map(|(data, _, n)| (data.clone(), leave, -n))
        .collect();
    (buffer, retractions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tweet::Api;

    fn tweet(location: &str) -> Tweet<'_> {
        Tweet {
            api: Api::V1,
            id: None,
            event_ms: 0,
            location: Some(location.into()),
            mentions: vec!["a".into(), "a".into()],
            weight: 3,
        }
    }

    /// What one call hands over, as (time, kind, key, diff).
    fn drain(aggregates: &mut Aggregates, frontier: Option<u64>) -> Vec<(u64, Kind, String, i128)> {
        let mut out = Vec::new();
        aggregates.drain_before(frontier, None, |time, updates| {
            assert!(updates.iter().all(|u| u.1 == time), "{time}");
            out.extend(updates.drain(..).map(|((g, k), t, n)| (t, g.kind, k, n)));
        });
        out.sort();
        out
    }

    #[test]
    fn retractions_are_handed_over_only_when_the_frontier_reaches_them() {
        let mut aggregates = Aggregates::default();
        aggregates.add((10, 30), &tweet("x"));
        aggregates.add((10, 30), &tweet("x"));
        aggregates.add((20, 40), &tweet("y"));
        // Leaves with the first slide (W not a multiple of S).
        aggregates.add((25, 30), &tweet("z"));
        // The slide entering at 10: its counts now, its retractions (at 30) not yet.
        let at = |t, kind, key: &str, n| (t, kind, key.to_owned(), n);
        assert_eq!(
            drain(&mut aggregates, Some(20)),
            [
                at(10, Kind::Tweets, "", 2),
                at(10, Kind::Location, "x", 2),
                at(10, Kind::Mention, "a", 12),
            ]
        );
        assert!(!aggregates.is_empty());
        // Up to 30 (not past it): the counts of the slides entering at 20 and 25, no retraction.
        assert_eq!(
            drain(&mut aggregates, Some(30)),
            [
                at(20, Kind::Tweets, "", 1),
                at(20, Kind::Location, "y", 1),
                at(20, Kind::Mention, "a", 6),
                at(25, Kind::Tweets, "", 1),
                at(25, Kind::Location, "z", 1),
                at(25, Kind::Mention, "a", 6),
            ]
        );
        // Past 30: the retractions of both slides that leave at 30.
        assert_eq!(
            drain(&mut aggregates, Some(31)),
            [
                at(30, Kind::Tweets, "", -2),
                at(30, Kind::Tweets, "", -1),
                at(30, Kind::Location, "x", -2),
                at(30, Kind::Location, "z", -1),
                at(30, Kind::Mention, "a", -12),
                at(30, Kind::Mention, "a", -6),
            ]
        );
        // The end: what is left.
        assert_eq!(
            drain(&mut aggregates, None),
            [
                at(40, Kind::Tweets, "", -1),
                at(40, Kind::Location, "y", -1),
                at(40, Kind::Mention, "a", -6),
            ]
        );
        assert!(aggregates.is_empty());
    }
}
