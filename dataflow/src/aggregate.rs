//! Consolidation of tweets into per-window-time counts before they enter differential.
//!
//! Differential's cost is per update, not per tweet: folding every tweet of a slide into one
//! `(key, count)` per worker first keeps the batcher and the reduces proportional to the distinct
//! keys of a slide. A slide is handed over once no partition of the worker can add to it any more,
//! which is also when the frontier could first move past it, so nothing waits longer than it must.

use std::collections::BTreeMap;
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

fn bump(map: &mut FxHashMap<String, i128>, key: &str, by: i128) {
    match map.get_mut(key) {
        Some(count) => *count += by,
        None => {
            map.insert(key.to_owned(), by);
        }
    }
}

/// Open slides of one worker, by the window times at which their tweets enter and leave the
/// collection (one slide's tweets leave at one or two times, when W is not a multiple of S).
#[derive(Default)]
pub(crate) struct Aggregates {
    slides: BTreeMap<(u64, u64), Slide>,
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
    /// its counts at the time they enter, and their retractions at the time they leave.
    pub fn drain_before(
        &mut self,
        frontier: Option<u64>,
        mut emit: impl FnMut(u64, &mut Vec<Update>),
    ) {
        let mut buffer = Vec::new();
        while let Some(entry) = self.slides.first_entry() {
            if frontier.is_some_and(|f| entry.key().0 >= f) {
                break;
            }
            let ((enter, leave), slide) = entry.remove_entry();
            let tweets = (
                Group {
                    kind: Kind::Tweets,
                    bucket: 0,
                },
                String::new(),
            );
            buffer.push((tweets, enter, slide.tweets));
            for (kind, map) in [
                (Kind::Location, slide.locations),
                (Kind::Mention, slide.mentions),
            ] {
                buffer.extend(
                    map.into_iter()
                        .map(|(key, n)| ((Group::of(kind, &key), key), enter, n)),
                );
            }
            let mut retractions: Vec<Update> = buffer
                .iter()
                .map(|(data, _, n)| (data.clone(), leave, -n))
                .collect();
            emit(enter, &mut buffer);
            emit(leave, &mut retractions);
            buffer.clear();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slides.is_empty()
    }
}
