//! The end-of-run counters of every message class (CONTRACT section 1), summed over all workers.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use tweet::NoticeKind;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub lines: u64,
    pub blank: u64,
    pub tweets: u64,
    /// Per notice kind (its top-level key).
    pub notices: BTreeMap<String, u64>,
    pub malformed: u64,
    pub rejected: u64,
    pub late: u64,
    /// Sum of `limit.track`: tweets the API says it did not deliver.
    pub undelivered: u64,
    pub bytes: u64,
    /// Inputs that could not be read to their end (a corrupt gzip stream, an I/O error).
    pub read_errors: u64,
}

/// Per-worker counters on the hot path: plain integers, turned into [`Stats`] once at the end.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters {
    pub lines: u64,
    pub blank: u64,
    pub tweets: u64,
    pub notices: [u64; NoticeKind::ALL.len()],
    pub malformed: u64,
    pub rejected: u64,
    pub late: u64,
    pub undelivered: u64,
    pub bytes: u64,
    pub read_errors: u64,
}

impl Counters {
    /// Counters that start from a checkpoint's.
    pub fn from_stats(stats: &Stats) -> Counters {
        let mut notices = [0; NoticeKind::ALL.len()];
        for (key, n) in &stats.notices {
            if let Some(kind) = NoticeKind::from_key(key) {
                notices[kind.index()] = *n;
            }
        }
        Counters {
            lines: stats.lines,
            blank: stats.blank,
            tweets: stats.tweets,
            notices,
            malformed: stats.malformed,
            rejected: stats.rejected,
            late: stats.late,
            undelivered: stats.undelivered,
            bytes: stats.bytes,
            // A read error stopped the run that had it, and this one reads that input again.
            read_errors: 0,
        }
    }

    pub fn to_stats(&self) -> Stats {
        Stats {
            lines: self.lines,
            blank: self.blank,
            tweets: self.tweets,
            notices: NoticeKind::ALL
                .iter()
                .zip(self.notices)
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (k.key().to_owned(), n))
                .collect(),
            malformed: self.malformed,
            rejected: self.rejected,
            late: self.late,
            undelivered: self.undelivered,
            bytes: self.bytes,
            read_errors: self.read_errors,
        }
    }
}

impl Stats {
    pub fn add(&mut self, other: &Stats) {
        self.lines += other.lines;
        self.blank += other.blank;
        self.tweets += other.tweets;
        for (kind, n) in &other.notices {
            *self.notices.entry(kind.clone()).or_default() += n;
        }
        self.malformed += other.malformed;
        self.rejected += other.rejected;
        self.late += other.late;
        self.undelivered = self.undelivered.saturating_add(other.undelivered);
        self.bytes += other.bytes;
        self.read_errors += other.read_errors;
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let notices: u64 = self.notices.values().sum();
        write!(
            f,
            "lines {} ({} bytes): tweets {}, blank {}, notices {}, malformed {}, rejected {}, late {}",
            self.lines,
            self.bytes,
            self.tweets,
            self.blank,
            notices,
            self.malformed,
            self.rejected,
            self.late
        )?;
        if !self.notices.is_empty() {
            let kinds: Vec<String> = self
                .notices
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            write!(f, " [{}]", kinds.join(", "))?;
        }
        if self.read_errors > 0 {
            write!(f, "; inputs not read to the end {}", self.read_errors)?;
        }
        if self.undelivered > 0 {
            write!(f, "; undelivered by the API {}", self.undelivered)?;
        }
        Ok(())
    }
}
