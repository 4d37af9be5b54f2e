//! Top N per kind and window, in two levels: the top N of each hash bucket, then the top N of
//! those. A changed key only re-ranks its bucket, and the final merge sees at most N per bucket.

use std::cmp::{Ordering, Reverse};

use differential_dataflow::VecCollection;
use serde::{Deserialize, Serialize};

use crate::aggregate::{Group, Kind};

/// A key with its count, ordered as the contract sorts lists: count descending, then key by bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ranked {
    pub count: i128,
    pub key: String,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        (Reverse(self.count), self.key.as_bytes())
            .cmp(&(Reverse(other.count), other.key.as_bytes()))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub trait TopN<'s> {
    /// The `n` highest counts per kind at every time (`n == 0`: all keys).
    fn top_n(self, n: usize) -> VecCollection<'s, u64, (Kind, Ranked), isize>;
}

impl<'s> TopN<'s> for VecCollection<'s, u64, (Group, String), i128> {
    fn top_n(self, n: usize) -> VecCollection<'s, u64, (Kind, Ranked), isize> {
        let limit = if n == 0 { usize::MAX } else { n };
        self.reduce_named(
            "TopPerBucket",
            move |_group, keys: &[(&String, i128)], output| {
                // Ranked by reference, and only the winners' keys copied: a bucket of the long
                // tail holds many keys, of which at most `limit` leave it.
                let order = |a: &(&String, i128), b: &(&String, i128)| {
                    (Reverse(a.1), a.0.as_bytes()).cmp(&(Reverse(b.1), b.0.as_bytes()))
                };
                let mut ranked: Vec<(&String, i128)> = keys.to_vec();
                if ranked.len() > limit {
                    ranked.select_nth_unstable_by(limit - 1, order);
                    ranked.truncate(limit);
                }
                output.extend(ranked.into_iter().map(|(key, count)| {
                    (
                        Ranked {
                            count,
                            key: key.clone(),
                        },
                        1,
                    )
                }));
            },
        )
        .map(|(group, ranked)| (group.kind, ranked))
        .reduce_named(
            "TopPerKind",
            move |_kind, ranked: &[(&Ranked, isize)], output| {
                // Values arrive sorted by `Ranked`'s order: the first `limit` are the answer.
                output.extend(ranked.iter().take(limit).map(|(r, _)| ((*r).clone(), 1)));
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_is_count_descending_then_key_bytes() {
        let mut v = [
            Ranked {
                count: 1,
                key: "b".into(),
            },
            Ranked {
                count: 5,
                key: "z".into(),
            },
            Ranked {
                count: 1,
                key: "B".into(),
            },
            Ranked {
                count: 1,
                key: "a".into(),
            },
        ];
        v.sort();
        let keys: Vec<&str> = v.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["z", "B", "a", "b"]);
    }
}
