//! Independent, sequential reference implementation ("oracle") of the tweetflow contract
//! (`CONTRACT.md`, sections 1-4).
//!
//! This module deliberately shares no code with the production crates. It favours being
//! literal and obviously correct over being fast: it parses every message into a
//! `serde_json::Value` tree, keeps every accepted tweet in memory and computes every window
//! directly from its definition.
//!
//! Decisions taken where the contract is silent (agreed by the team):
//! - One trailing `\r` is removed from every message before anything else.
//! - Blank = empty or only spaces/tabs (after the `\r` removal).
//! - Malformed = not UTF-8, or not accepted by `serde_json` (this includes serde_json's nesting
//!   limit of 128 and lone UTF-16 surrogate escapes), or valid JSON that is not an object.
//!   Duplicate object keys: the last one wins.
//! - Notice kind: the first notice key present, in the contract's listed order. `limit.track`
//!   (counted in `undelivered`) is only taken from messages whose kind is `limit`, when `limit`
//!   is an object whose `track` is a non-negative JSON integer (fits u64).
//! - "JSON integer" means `as_u64()` / `as_i64()` returns `Some` (so `5.0` is not one).
//! - v1.1 event time: `timestamp_ms` is used when it is a JSON integer fitting i64 or a string
//!   of 1+ ASCII digits fitting i64 (chosen by type only: a negative integer is chosen and then
//!   rejected by the range check); otherwise `created_at` with chrono format
//!   `%a %b %d %H:%M:%S %z %Y`. v2: `data.created_at` with chrono's RFC 3339 parser.
//!   Valid event times are `0 ..= 253402300799999` (1970 to the end of year 9999); anything
//!   else is rejected.
//! - v2 location: `includes.users` must be an array; the first object in it whose `id` is a JSON
//!   string equal to `data.author_id` (also a JSON string) gives the `location`.
//! - v2 weight: the first element of `data.referenced_tweets` with `"type":"retweeted"` gives the
//!   `id` (a JSON string); the first `includes.tweets` object with that `id` gives
//!   `public_metrics.retweet_count`.
//! - Read-time validity (section 2): a tweet whose event time is more than `max_future_ms` after
//!   `now_ms` is rejected, and so is a tweet one of whose windows would end after
//!   9999-12-31T23:59:59.999Z (its end could not be printed as RFC 3339).
//! - Lateness is per partition: a tweet is late when `event_ms < max_so_far - lateness_ms`,
//!   where `max_so_far` is the max event time of the non-late tweets read before it in that
//!   partition. The first tweet of a partition is never late.
//! - Window membership is computed on `event_ms`; since every window bound is a multiple of
//!   B, this is the same as using `epoch = floor(event_ms / B)`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// Largest accepted event time: 9999-12-31T23:59:59.999Z.
pub const MAX_EVENT_MS: i64 = 253_402_300_799_999;

/// The notice keys, in the contract's order (the first one present gives the kind).
pub const NOTICE_KINDS: [&str; 12] = [
    "delete",
    "scrub_geo",
    "limit",
    "status_withheld",
    "user_withheld",
    "disconnect",
    "warning",
    "friends",
    "friends_str",
    "event",
    "control",
    "for_user",
];

/// Parameters of the windowed job, all in milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub batch_ms: u64,
    pub window_ms: u64,
    pub slide_ms: u64,
    pub top: usize,
    pub lateness_ms: u64,
    /// The wall clock when the messages are read, and how far after it an event time may be
    /// (section 2); later tweets are rejected.
    pub now_ms: i64,
    pub max_future_ms: u64,
}

impl Params {
    /// Contract defaults: B = 5s, W = 60s, S = 30s, top N = 10, with the given lateness.
    pub fn defaults(lateness_ms: u64) -> Params {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970");
        Params {
            batch_ms: 5_000,
            window_ms: 60_000,
            slide_ms: 30_000,
            top: 10,
            lateness_ms,
            now_ms: now.as_millis() as i64,
            max_future_ms: 3_600_000,
        }
    }

    /// Section 3: W and S must be multiples of B. Zero durations are rejected too.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_ms == 0 || self.window_ms == 0 || self.slide_ms == 0 {
            return Err(format!("durations must be positive: {self:?}"));
        }
        if !self.window_ms.is_multiple_of(self.batch_ms) {
            return Err(format!(
                "window {} ms is not a multiple of batch {} ms",
                self.window_ms, self.batch_ms
            ));
        }
        if !self.slide_ms.is_multiple_of(self.batch_ms) {
            return Err(format!(
                "slide {} ms is not a multiple of batch {} ms",
                self.slide_ms, self.batch_ms
            ));
        }
        Ok(())
    }
}

/// Per-run counters, as the contract's classes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every message read (all classes, late tweets included).
    pub lines: u64,
    pub blank: u64,
    /// Tweets accepted into windows (late tweets are NOT counted here).
    pub tweets: u64,
    pub malformed: u64,
    pub rejected: u64,
    pub late: u64,
    /// Notice kind (the top-level key) -> count.
    pub notices: BTreeMap<String, u64>,
    /// Sum of `limit.track` values (saturating).
    pub undelivered: u64,
}

/// The fields of a tweet the windows need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefTweet {
    pub event_ms: i64,
    /// Trimmed, non-empty location.
    pub location: Option<String>,
    /// `"@name"` keys, in order, duplicates kept.
    pub mentions: Vec<String>,
    /// Retweet weight (>= 1).
    pub weight: u64,
}

/// The class of one message (section 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    Blank,
    Malformed,
    Tweet(RefTweet),
    /// Notice kind, and `limit.track` for `limit` notices.
    Notice(String, Option<u64>),
    Rejected,
}

// ---------------------------------------------------------------------------------------------
// Classification (section 1) and field extraction (section 2)
// ---------------------------------------------------------------------------------------------

/// Classify and extract one message (one line / one record value, bytes as given).
pub fn classify(message: &[u8]) -> Class {
    let message = message.strip_suffix(b"\r").unwrap_or(message);

    if message.iter().all(|&b| b == b' ' || b == b'\t') {
        return Class::Blank;
    }
    let Ok(text) = std::str::from_utf8(message) else {
        return Class::Malformed;
    };
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Class::Malformed;
    };
    let Value::Object(root) = value else {
        return Class::Malformed;
    };

    if root.get("user").is_some_and(Value::is_object) {
        return match v1_tweet(&root) {
            Some(t) => Class::Tweet(t),
            None => Class::Rejected,
        };
    }
    if let Some(Value::Object(data)) = root.get("data") {
        return match v2_tweet(&root, data) {
            Some(t) => Class::Tweet(t),
            None => Class::Rejected,
        };
    }
    for kind in NOTICE_KINDS {
        if root.contains_key(kind) {
            let track = if kind == "limit" {
                root.get("limit")
                    .and_then(|l| l.get("track"))
                    .and_then(Value::as_u64)
            } else {
                None
            };
            return Class::Notice(kind.to_string(), track);
        }
    }
    Class::Rejected
}

/// A JSON integer `> 0` (fits u64), else `None`.
fn positive_integer(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64).filter(|&n| n > 0)
}

/// The string value of `v`, if it is a JSON string.
fn string(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// Trim (Unicode White_Space) and drop empty results.
fn clean_location(v: Option<&Value>) -> Option<String> {
    let trimmed = string(v)?.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.to_string())
    }
}

/// `"@name"` for each element of `list` (an array) that is an object whose `field` is a
/// non-empty string.
fn mention_keys(list: Option<&Value>, field: &str) -> Vec<String> {
    let Some(Value::Array(items)) = list else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| string(item.get(field)))
        .filter(|name| !name.is_empty())
        .map(|name| format!("@{name}"))
        .collect()
}

/// Accept an event time when it lies in `0 ..= MAX_EVENT_MS`.
fn in_range(ms: i64) -> Option<i64> {
    (0..=MAX_EVENT_MS).contains(&ms).then_some(ms)
}

fn v1_event_ms(root: &Map<String, Value>) -> Option<i64> {
    match root.get("timestamp_ms") {
        Some(Value::Number(n)) if n.as_i64().is_some() => return in_range(n.as_i64()?),
        Some(Value::String(s))
            if !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit())
                && s.parse::<i64>().is_ok() =>
        {
            return in_range(s.parse::<i64>().ok()?);
        }
        _ => {}
    }
    let created_at = string(root.get("created_at"))?;
    let dt = DateTime::parse_from_str(created_at, "%a %b %d %H:%M:%S %z %Y").ok()?;
    in_range(dt.timestamp_millis())
}

fn v1_tweet(root: &Map<String, Value>) -> Option<RefTweet> {
    let event_ms = v1_event_ms(root)?;
    let location = clean_location(root.get("user").and_then(|u| u.get("location")));
    let mentions = mention_keys(
        root.get("entities").and_then(|e| e.get("user_mentions")),
        "screen_name",
    );
    let weight = match root.get("retweeted_status") {
        Some(rt @ Value::Object(_)) => positive_integer(rt.get("retweet_count")).unwrap_or(1),
        _ => 1,
    };
    Some(RefTweet {
        event_ms,
        location,
        mentions,
        weight,
    })
}

fn v2_tweet(root: &Map<String, Value>, data: &Map<String, Value>) -> Option<RefTweet> {
    let created_at = string(data.get("created_at"))?;
    let event_ms = in_range(
        DateTime::parse_from_rfc3339(created_at)
            .ok()?
            .timestamp_millis(),
    )?;

    let includes = root.get("includes");
    // First object of the array `includes.<list>` whose `id` is the JSON string `id`.
    let included = |list: &str, id: &str| -> Option<&Value> {
        let Some(Value::Array(items)) = includes.and_then(|i| i.get(list)) else {
            return None;
        };
        items.iter().find(|item| string(item.get("id")) == Some(id))
    };

    let location = string(data.get("author_id"))
        .and_then(|author| included("users", author))
        .and_then(|user| clean_location(user.get("location")));

    let mentions = mention_keys(
        data.get("entities").and_then(|e| e.get("mentions")),
        "username",
    );

    let retweeted_id = match data.get("referenced_tweets") {
        Some(Value::Array(refs)) => refs
            .iter()
            .find(|r| string(r.get("type")) == Some("retweeted"))
            .and_then(|r| string(r.get("id"))),
        _ => None,
    };
    let weight = retweeted_id
        .and_then(|id| included("tweets", id))
        .and_then(|t| {
            positive_integer(t.get("public_metrics").and_then(|m| m.get("retweet_count")))
        })
        .unwrap_or(1);

    Some(RefTweet {
        event_ms,
        location,
        mentions,
        weight,
    })
}

// ---------------------------------------------------------------------------------------------
// Windows (section 3) and output records (section 4)
// ---------------------------------------------------------------------------------------------

/// One window's result, with exact (u128) counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefWindow {
    /// `t - W`, in ms since the epoch (may be negative for windows near 1970).
    pub start_ms: i128,
    /// `t`, a multiple of S.
    pub end_ms: i128,
    pub tweets: u64,
    /// Sorted by count descending, then key ascending; cut to top N.
    pub locations: Vec<(String, u128)>,
    /// Sorted by count descending, then key ascending; cut to top N.
    pub mentions: Vec<(String, u128)>,
}

impl RefWindow {
    /// The output record as a `serde_json::Value`.
    ///
    /// Panics if a count exceeds `u64::MAX` (serde_json without `arbitrary_precision` cannot
    /// hold it); use [`RefWindow::to_json_line`] for such inputs.
    pub fn to_value(&self) -> Value {
        let list = |entries: &[(String, u128)]| -> Value {
            Value::Array(
                entries
                    .iter()
                    .map(|(key, count)| {
                        let count = u64::try_from(*count).unwrap_or_else(|_| {
                            panic!("count {count} of {key:?} exceeds u64; use to_json_line")
                        });
                        json!({ "key": key, "count": count })
                    })
                    .collect(),
            )
        };
        json!({
            "window_start": format_time(self.start_ms),
            "window_end": format_time(self.end_ms),
            "tweets": self.tweets,
            "locations": list(&self.locations),
            "mentions": list(&self.mentions),
        })
    }

    /// The output record as one JSON line (no trailing newline), fields in the contract's order,
    /// counts written as exact integers even beyond u64.
    pub fn to_json_line(&self) -> String {
        let quote = |s: &str| serde_json::to_string(s).expect("string serializes");
        let list = |entries: &[(String, u128)]| -> String {
            let items: Vec<String> = entries
                .iter()
                .map(|(key, count)| format!("{{\"key\":{},\"count\":{count}}}", quote(key)))
                .collect();
            format!("[{}]", items.join(","))
        };
        format!(
            "{{\"window_start\":{},\"window_end\":{},\"tweets\":{},\"locations\":{},\"mentions\":{}}}",
            quote(&format_time(self.start_ms)),
            quote(&format_time(self.end_ms)),
            self.tweets,
            list(&self.locations),
            list(&self.mentions),
        )
    }
}

/// RFC 3339 in UTC with `Z`, with milliseconds only when they are not zero.
pub fn format_time(ms: i128) -> String {
    let dt = i64::try_from(ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or_else(|| panic!("time {ms} ms is out of the representable range"));
    if ms.rem_euclid(1000) == 0 {
        dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

/// Is `event_ms` in the window ending at `t`, i.e. in `[t - W, t)`?
pub fn in_window(event_ms: i64, t: i128, window_ms: u64) -> bool {
    let e = i128::from(event_ms);
    t - i128::from(window_ms) <= e && e < t
}

/// The ends `t` (multiples of S, increasing) of every window holding `event_ms`.
pub fn window_ends(event_ms: i64, params: &Params) -> Vec<i128> {
    let e = i128::from(event_ms);
    let s = i128::from(params.slide_ms);
    let w = i128::from(params.window_ms);
    // Smallest multiple of S strictly greater than e, then every multiple up to e + W.
    let mut t = (e.div_euclid(s) + 1) * s;
    let mut ends = Vec::new();
    while t <= e + w {
        debug_assert!(in_window(event_ms, t, params.window_ms));
        ends.push(t);
        t += s;
    }
    ends
}

/// Sort by count descending, then key ascending (byte order), and keep the top N (0 = all).
fn ranked<C: Ord + Copy>(counts: BTreeMap<String, C>, top: usize) -> Vec<(String, C)> {
    let mut entries: Vec<(String, C)> = counts.into_iter().collect();
    entries.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
    });
    if top > 0 {
        entries.truncate(top);
    }
    entries
}

/// Run sections 1-3 over the partitions: the accepted tweets (in partition order), and the counts.
pub fn accept(partitions: &[Vec<Vec<u8>>], params: &Params) -> (Vec<RefTweet>, Counts) {
    let mut counts = Counts::default();
    let mut accepted = Vec::new();
    for partition in partitions {
        let mut max_so_far: Option<i64> = None;
        for message in partition {
            counts.lines += 1;
            match classify(message) {
                Class::Blank => counts.blank += 1,
                Class::Malformed => counts.malformed += 1,
                Class::Rejected => counts.rejected += 1,
                Class::Notice(kind, track) => {
                    *counts.notices.entry(kind).or_insert(0) += 1;
                    if let Some(track) = track {
                        counts.undelivered = counts.undelivered.saturating_add(track);
                    }
                }
                Class::Tweet(tweet)
                    if i128::from(tweet.event_ms)
                        > i128::from(params.now_ms) + i128::from(params.max_future_ms)
                        || window_ends(tweet.event_ms, params)
                            .iter()
                            .any(|&t| t > i128::from(MAX_EVENT_MS)) =>
                {
                    counts.rejected += 1
                }
                Class::Tweet(tweet) => {
                    let late = max_so_far.is_some_and(|max| {
                        i128::from(tweet.event_ms)
                            < i128::from(max) - i128::from(params.lateness_ms)
                    });
                    if late {
                        counts.late += 1;
                    } else {
                        counts.tweets += 1;
                        max_so_far =
                            Some(max_so_far.map_or(tweet.event_ms, |m| m.max(tweet.event_ms)));
                        accepted.push(tweet);
                    }
                }
            }
        }
    }
    (accepted, counts)
}

/// Run the whole contract, returning typed windows (exact counts) in increasing window end.
pub fn run_windows(partitions: &[Vec<Vec<u8>>], params: Params) -> (Vec<RefWindow>, Counts) {
    if let Err(e) = params.validate() {
        panic!("invalid parameters: {e}");
    }
    let (tweets, counts) = accept(partitions, &params);

    #[derive(Default)]
    struct Acc {
        tweets: u64,
        locations: BTreeMap<String, u128>,
        mentions: BTreeMap<String, u128>,
    }
    let mut windows: BTreeMap<i128, Acc> = BTreeMap::new();
    for tweet in &tweets {
        for t in window_ends(tweet.event_ms, &params) {
            let acc = windows.entry(t).or_default();
            acc.tweets += 1;
            if let Some(location) = &tweet.location {
                *acc.locations.entry(location.clone()).or_insert(0) += 1;
            }
            for mention in &tweet.mentions {
                *acc.mentions.entry(mention.clone()).or_insert(0) += u128::from(tweet.weight);
            }
        }
    }

    let results = windows
        .into_iter()
        .map(|(t, acc)| RefWindow {
            start_ms: t - i128::from(params.window_ms),
            end_ms: t,
            tweets: acc.tweets,
            locations: ranked(acc.locations, params.top),
            mentions: ranked(acc.mentions, params.top),
        })
        .collect();
    (results, counts)
}

/// Run the whole contract over partitions (each partition = ordered list of messages).
/// Returns the output records (section 4) as `serde_json::Value` objects in increasing window
/// end, and the counts. Panics if a count exceeds u64 (see [`run_windows`] for exact counts).
pub fn run(partitions: &[Vec<Vec<u8>>], params: Params) -> (Vec<Value>, Counts) {
    let (windows, counts) = run_windows(partitions, params);
    (windows.iter().map(RefWindow::to_value).collect(), counts)
}

/// Same as [`run`], as JSON Lines text (one record per line, each ending in `\n`).
pub fn run_lines(partitions: &[Vec<Vec<u8>>], params: Params) -> (String, Counts) {
    let (windows, counts) = run_windows(partitions, params);
    let text = windows.iter().map(|w| w.to_json_line() + "\n").collect();
    (text, counts)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// 2016-12-04T02:07:40Z
    const T0: i64 = 1_480_817_260_000;

    fn tweet(s: &str) -> RefTweet {
        match classify(s.as_bytes()) {
            Class::Tweet(t) => t,
            other => panic!("expected a tweet from {s}, got {other:?}"),
        }
    }

    /// A v1.1 tweet at `ms` with optional location and mentions.
    fn v1(ms: i64, location: Option<&str>, mentions: &[&str]) -> Vec<u8> {
        let mentions: Vec<Value> = mentions
            .iter()
            .map(|m| json!({ "screen_name": m }))
            .collect();
        let mut user = json!({});
        if let Some(l) = location {
            user["location"] = json!(l);
        }
        json!({ "timestamp_ms": ms.to_string(), "user": user, "entities": { "user_mentions": mentions } })
            .to_string()
            .into_bytes()
    }

    fn v1_rt(ms: i64, mentions: &[&str], retweet_count: u64) -> Vec<u8> {
        let mentions: Vec<Value> = mentions
            .iter()
            .map(|m| json!({ "screen_name": m }))
            .collect();
        json!({ "timestamp_ms": ms, "user": {}, "entities": { "user_mentions": mentions },
                "retweeted_status": { "retweet_count": retweet_count } })
        .to_string()
        .into_bytes()
    }

    fn params(window_ms: u64, slide_ms: u64, top: usize, lateness_ms: u64) -> Params {
        Params {
            batch_ms: 5_000,
            window_ms,
            slide_ms,
            top,
            lateness_ms,
            ..Params::defaults(0)
        }
    }

    fn p60() -> Params {
        params(60_000, 30_000, 10, 0)
    }

    // ---- section 1: classes ----

    #[test]
    fn blank_messages() {
        for m in ["", " ", "\t \t", "\r", "  \r"] {
            assert_eq!(classify(m.as_bytes()), Class::Blank, "{m:?}");
        }
        // Only ONE trailing \r is removed; other whitespace is not blank.
        assert_eq!(classify(b"\r\r"), Class::Malformed);
        assert_eq!(classify(b" \n"), Class::Malformed);
        assert_eq!(classify(b"\xc2\xa0"), Class::Malformed); // NBSP is not a space/tab
    }

    #[test]
    fn malformed_messages() {
        for m in [
            &b"{"[..],
            b"[]",
            b"42",
            b"\"x\"",
            b"null",
            b"{} {}",
            b"\xff{}",
            b"nope",
        ] {
            assert_eq!(classify(m), Class::Malformed, "{m:?}");
        }
        // Invalid UTF-8 inside a string is malformed too.
        assert_eq!(
            classify(b"{\"user\":{},\"timestamp_ms\":1,\"x\":\"\xff\"}"),
            Class::Malformed
        );
    }

    #[test]
    fn rejected_messages() {
        assert_eq!(classify(b"{}"), Class::Rejected);
        assert_eq!(classify(br#"{"id":1,"text":"hi"}"#), Class::Rejected);
        assert_eq!(
            classify(br#"{"user":"x","data":"y","timestamp_ms":1}"#),
            Class::Rejected
        );
        // Tweets without a valid event time.
        assert_eq!(classify(br#"{"user":{}}"#), Class::Rejected);
        assert_eq!(
            classify(br#"{"user":{},"timestamp_ms":"12a"}"#),
            Class::Rejected
        );
        assert_eq!(
            classify(br#"{"user":{},"timestamp_ms":-1}"#),
            Class::Rejected
        );
        assert_eq!(
            classify(br#"{"user":{},"timestamp_ms":253402300800000}"#),
            Class::Rejected
        );
        assert_eq!(classify(br#"{"data":{"id":"1"}}"#), Class::Rejected);
        assert_eq!(
            classify(br#"{"data":{"created_at":"yesterday"}}"#),
            Class::Rejected
        );
        assert_eq!(
            classify(br#"{"data":{"created_at":"1969-12-31T23:59:59Z"}}"#),
            Class::Rejected
        );
    }

    #[test]
    fn notices() {
        let n = |m: &str| classify(m.as_bytes());
        assert_eq!(
            n(r#"{"delete":{"status":{"id":1}}}"#),
            Class::Notice("delete".into(), None)
        );
        assert_eq!(
            n(r#"{"limit":{"track":42}}"#),
            Class::Notice("limit".into(), Some(42))
        );
        assert_eq!(
            n(r#"{"limit":{"track":-1}}"#),
            Class::Notice("limit".into(), None)
        );
        assert_eq!(
            n(r#"{"limit":{"track":4.0}}"#),
            Class::Notice("limit".into(), None)
        );
        assert_eq!(n(r#"{"limit":7}"#), Class::Notice("limit".into(), None));
        assert_eq!(
            n(r#"{"for_user":1,"friends":[]}"#),
            Class::Notice("friends".into(), None)
        );
        assert_eq!(
            n(r#"{"warning":{},"limit":{"track":3}}"#),
            Class::Notice("limit".into(), Some(3))
        );
        assert_eq!(n(r#"{"event":null}"#), Class::Notice("event".into(), None));
        // A tweet shape wins over notice keys.
        assert!(matches!(
            n(r#"{"delete":1,"user":{},"timestamp_ms":5}"#),
            Class::Tweet(_)
        ));
        // Unknown kinds are rejected.
        assert_eq!(n(r#"{"info":{}}"#), Class::Rejected);
    }

    // ---- section 2: fields ----

    #[test]
    fn v1_fields() {
        let t = tweet(
            r#"{"created_at":"Sun Dec 04 02:07:40 +0000 2016","timestamp_ms":"1480817260123",
                "user":{"location":"  New York, USA \n"},
                "entities":{"user_mentions":[{"screen_name":"a"},{"screen_name":""},{"screen_name":5},
                                             {"screen_name":"B"},{"screen_name":"a"},7]},
                "extended_tweet":{"entities":{"user_mentions":[{"screen_name":"ext"}]}},
                "retweeted_status":{"retweet_count":22150,"user":{},
                  "entities":{"user_mentions":[{"screen_name":"inner"}]}}}"#,
        );
        assert_eq!(t.event_ms, 1_480_817_260_123);
        assert_eq!(t.location.as_deref(), Some("New York, USA"));
        assert_eq!(t.mentions, ["@a", "@B", "@a"]);
        assert_eq!(t.weight, 22150);
        // The whole message may end with \r.
        assert_eq!(tweet("{\"user\":{},\"timestamp_ms\":9}\r").event_ms, 9);
    }

    #[test]
    fn v1_event_time_sources() {
        // Integer timestamp_ms.
        assert_eq!(
            tweet(r#"{"user":{},"timestamp_ms":1480817260000}"#).event_ms,
            T0
        );
        // Digit string with leading zeros.
        assert_eq!(tweet(r#"{"user":{},"timestamp_ms":"0001"}"#).event_ms, 1);
        // Fallback to created_at: float, signed string, empty string, too big, wrong type.
        for ts in [
            r#"1.5e12"#,
            r#""+1""#,
            r#""""#,
            r#""99999999999999999999""#,
            "true",
            "null",
        ] {
            let m = format!(
                r#"{{"user":{{}},"timestamp_ms":{ts},"created_at":"Sun Dec 04 02:07:40 +0000 2016"}}"#
            );
            assert_eq!(tweet(&m).event_ms, T0, "{ts}");
        }
        // created_at with a non-UTC offset.
        assert_eq!(
            tweet(r#"{"user":{},"created_at":"Sun Dec 04 03:07:40 +0100 2016"}"#).event_ms,
            T0
        );
        // timestamp_ms wins over created_at.
        assert_eq!(
            tweet(r#"{"user":{},"timestamp_ms":5,"created_at":"Sun Dec 04 02:07:40 +0000 2016"}"#)
                .event_ms,
            5
        );
        // Epoch itself and the last accepted ms.
        assert_eq!(tweet(r#"{"user":{},"timestamp_ms":0}"#).event_ms, 0);
        assert_eq!(
            tweet(r#"{"user":{},"timestamp_ms":253402300799999}"#).event_ms,
            MAX_EVENT_MS
        );
        // A negative integer timestamp_ms is chosen (by type) and then rejected.
        assert_eq!(
            classify(
                br#"{"user":{},"timestamp_ms":-5,"created_at":"Sun Dec 04 02:07:40 +0000 2016"}"#
            ),
            Class::Rejected
        );
        // An unparsable created_at is rejected.
        assert_eq!(
            classify(br#"{"user":{},"created_at":"2016-12-04T02:07:40Z"}"#),
            Class::Rejected
        );
    }

    #[test]
    fn v1_wrong_types_are_absent() {
        let t = tweet(
            r#"{"user":{"location":["x"]},"timestamp_ms":1,"entities":{"user_mentions":{"screen_name":"a"}},
                "retweeted_status":[{"retweet_count":9}]}"#,
        );
        assert_eq!(
            t,
            RefTweet {
                event_ms: 1,
                location: None,
                mentions: vec![],
                weight: 1
            }
        );
        let t = tweet(
            r#"{"user":{"location":null},"timestamp_ms":1,"entities":[],"retweeted_status":{}}"#,
        );
        assert_eq!(
            t,
            RefTweet {
                event_ms: 1,
                location: None,
                mentions: vec![],
                weight: 1
            }
        );
    }

    #[test]
    fn locations_trim_unicode_whitespace_only() {
        let loc = |l: &str| tweet(&String::from_utf8(v1(1, Some(l), &[])).unwrap()).location;
        assert_eq!(loc("  Paris  "), Some("Paris".into()));
        assert_eq!(loc("\u{3000}東京\u{a0}\u{2029}"), Some("東京".into()));
        assert_eq!(loc("\t\n "), None);
        assert_eq!(loc(""), None);
        assert_eq!(loc("\u{200b}"), Some("\u{200b}".into())); // ZWSP is not White_Space
        assert_eq!(loc("São  Paulo"), Some("São  Paulo".into())); // inner spaces kept
        assert_eq!(loc("paris"), Some("paris".into())); // case kept
    }

    #[test]
    fn v2_fields() {
        let t = tweet(
            r#"{"data":{"id":"10","created_at":"2016-12-04T02:07:40.500Z","author_id":"7",
                        "entities":{"mentions":[{"username":"Bob"},{"username":""},{"id":"3"},{"username":"bob"},{"username":"Bob"}]},
                        "referenced_tweets":[{"type":"quoted","id":"1"},{"type":"retweeted","id":"2"},{"type":"retweeted","id":"1"}]},
                "includes":{"users":[{"id":7,"location":"numeric id"},{"id":"7","location":" Lyon "},{"id":"7","location":"second"}],
                            "tweets":[{"id":"1","public_metrics":{"retweet_count":5}},
                                      {"id":"2","public_metrics":{"retweet_count":77}},
                                      {"id":"2","public_metrics":{"retweet_count":99}}]}}"#,
        );
        assert_eq!(t.event_ms, T0 + 500);
        assert_eq!(t.location.as_deref(), Some("Lyon"));
        assert_eq!(t.mentions, ["@Bob", "@bob", "@Bob"]);
        assert_eq!(t.weight, 77);
    }

    #[test]
    fn v2_event_time_and_absent_fields() {
        let t = tweet(r#"{"data":{"created_at":"2016-12-04T03:07:40+01:00"}}"#);
        assert_eq!(
            t,
            RefTweet {
                event_ms: T0,
                location: None,
                mentions: vec![],
                weight: 1
            }
        );
        // Sub-millisecond digits are truncated.
        assert_eq!(
            tweet(r#"{"data":{"created_at":"2016-12-04T02:07:40.123999Z"}}"#).event_ms,
            T0 + 123
        );
        // created_at of the wrong type: rejected; top-level created_at does not count for v2.
        assert_eq!(
            classify(br#"{"data":{"created_at":1480817260000}}"#),
            Class::Rejected
        );
        assert_eq!(
            classify(br#"{"data":{},"created_at":"2016-12-04T02:07:40Z"}"#),
            Class::Rejected
        );
        // Wrong types: location missing, weight 1.
        let t = tweet(
            r#"{"data":{"created_at":"2016-12-04T02:07:40Z","author_id":7,"referenced_tweets":{"type":"retweeted","id":"2"},
                        "entities":{"mentions":"x"}},
                "includes":{"users":[{"id":7,"location":"x"}],"tweets":[{"id":"2","public_metrics":{"retweet_count":9}}]}}"#,
        );
        assert_eq!(
            t,
            RefTweet {
                event_ms: T0,
                location: None,
                mentions: vec![],
                weight: 1
            }
        );
        // The author matches but its location is not a string: no location (no fallback to later entries).
        let t = tweet(
            r#"{"data":{"created_at":"2016-12-04T02:07:40Z","author_id":"7"},
                "includes":{"users":[{"id":"7","location":5},{"id":"7","location":"later"}]}}"#,
        );
        assert_eq!(t.location, None);
        // includes.users not an array.
        let t = tweet(
            r#"{"data":{"created_at":"2016-12-04T02:07:40Z","author_id":"7"},"includes":{"users":{"id":"7","location":"x"}}}"#,
        );
        assert_eq!(t.location, None);
    }

    #[test]
    fn retweet_weights() {
        let v1w = |rc: &str| {
            tweet(&format!(
                r#"{{"user":{{}},"timestamp_ms":1,"retweeted_status":{{"retweet_count":{rc}}}}}"#
            ))
            .weight
        };
        assert_eq!(v1w("0"), 1);
        assert_eq!(v1w("-3"), 1);
        assert_eq!(v1w("5.0"), 1);
        assert_eq!(v1w("2.5"), 1);
        assert_eq!(v1w("\"5\""), 1);
        assert_eq!(v1w("1e3"), 1);
        assert_eq!(v1w("1"), 1);
        assert_eq!(v1w("3"), 3);
        assert_eq!(v1w("18446744073709551615"), u64::MAX);
        assert_eq!(v1w("18446744073709551616"), 1); // does not fit u64 (parsed as a float)
        assert_eq!(v1w("100000000000000000000000000000"), 1);

        let v2w = |rc: &str| {
            tweet(&format!(
                r#"{{"data":{{"created_at":"2016-12-04T02:07:40Z","referenced_tweets":[{{"type":"retweeted","id":"9"}}]}},
                    "includes":{{"tweets":[{{"id":"9","public_metrics":{{"retweet_count":{rc}}}}}]}}}}"#
            ))
            .weight
        };
        assert_eq!(v2w("0"), 1);
        assert_eq!(v2w("-3"), 1);
        assert_eq!(v2w("5.0"), 1);
        assert_eq!(v2w("12"), 12);
        assert_eq!(v2w("18446744073709551615"), u64::MAX);
        assert_eq!(v2w("1e30"), 1);
        // A quote is not a retweet.
        let t = tweet(
            r#"{"data":{"created_at":"2016-12-04T02:07:40Z","referenced_tweets":[{"type":"quoted","id":"9"}]},
                "includes":{"tweets":[{"id":"9","public_metrics":{"retweet_count":12}}]}}"#,
        );
        assert_eq!(t.weight, 1);
    }

    // ---- sections 3 and 4: windows and output ----

    #[test]
    fn time_formatting() {
        assert_eq!(format_time(i128::from(T0) - 40_000), "2016-12-04T02:07:00Z");
        assert_eq!(
            format_time(i128::from(T0) + 500),
            "2016-12-04T02:07:40.500Z"
        );
        assert_eq!(format_time(7), "1970-01-01T00:00:00.007Z");
        assert_eq!(format_time(-30_000), "1969-12-31T23:59:30Z");
    }

    #[test]
    fn params_validation() {
        assert!(Params::defaults(0).validate().is_ok());
        assert!(params(62_000, 30_000, 0, 0).validate().is_err());
        assert!(params(60_000, 31_000, 0, 0).validate().is_err());
        assert!(params(0, 30_000, 0, 0).validate().is_err());
        assert!(
            Params {
                batch_ms: 0,
                ..Params::defaults(0)
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn window_boundaries() {
        let p = p60();
        // 02:08:00 exactly is a multiple of 30s.
        let t = T0 + 20_000;
        assert!(!in_window(t, i128::from(t), p.window_ms));
        assert!(in_window(t, i128::from(t) + 30_000, p.window_ms));
        assert!(in_window(t, i128::from(t) + 60_000, p.window_ms));
        assert!(!in_window(t, i128::from(t) + 90_000, p.window_ms));
        assert_eq!(
            window_ends(t, &p),
            [i128::from(t) + 30_000, i128::from(t) + 60_000]
        );
        assert_eq!(
            window_ends(t - 1, &p),
            [i128::from(t), i128::from(t) + 30_000]
        );
        assert_eq!(window_ends(0, &p), [30_000, 60_000]);
        // W < S: gaps between windows.
        let gap = params(10_000, 30_000, 0, 0);
        assert_eq!(window_ends(25_000, &gap), [30_000]);
        assert_eq!(window_ends(5_000, &gap), Vec::<i128>::new());
        // W not a multiple of S.
        let odd = params(45_000, 30_000, 0, 0);
        assert_eq!(window_ends(20_000, &odd), [30_000, 60_000]);
        assert_eq!(window_ends(10_000, &odd), [30_000]);
    }

    #[test]
    fn one_tweet_in_two_windows_and_boundary_output() {
        // A tweet exactly at 02:08:00: not in [02:07:00, 02:08:00), but in the windows ending
        // at 02:08:30 and 02:09:00.
        let at = T0 + 20_000;
        let (out, counts) = run(&[vec![v1(at, Some(" NYC "), &["x", "x"])]], p60());
        assert_eq!(counts.tweets, 1);
        assert_eq!(
            out,
            [
                json!({"window_start":"2016-12-04T02:07:30Z","window_end":"2016-12-04T02:08:30Z","tweets":1,
                       "locations":[{"key":"NYC","count":1}],"mentions":[{"key":"@x","count":2}]}),
                json!({"window_start":"2016-12-04T02:08:00Z","window_end":"2016-12-04T02:09:00Z","tweets":1,
                       "locations":[{"key":"NYC","count":1}],"mentions":[{"key":"@x","count":2}]}),
            ]
        );
        // One ms earlier: in the windows ending at 02:08:00 and 02:08:30.
        let (out, _) = run(&[vec![v1(at - 1, None, &[])]], p60());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["window_end"], "2016-12-04T02:08:00Z");
        assert_eq!(out[1]["window_end"], "2016-12-04T02:08:30Z");
        assert_eq!(out[0]["locations"], json!([]));
    }

    #[test]
    fn sliding_overlap_and_sums() {
        // Tweets at 02:07:40 (A) and 02:08:10 (B): window ending 02:08:00 has A,
        // 02:08:30 has A and B, 02:09:00 has B.
        let a = v1_rt(T0, &["m", "n"], 3);
        let b = v1(T0 + 30_000, Some("Rome"), &["m"]);
        let (out, counts) = run(&[vec![a, b]], p60());
        assert_eq!(counts.tweets, 2);
        let ends: Vec<&str> = out
            .iter()
            .map(|r| r["window_end"].as_str().unwrap())
            .collect();
        assert_eq!(
            ends,
            [
                "2016-12-04T02:08:00Z",
                "2016-12-04T02:08:30Z",
                "2016-12-04T02:09:00Z"
            ]
        );
        assert_eq!(out[0]["tweets"], 1);
        assert_eq!(
            out[0]["mentions"],
            json!([{"key":"@m","count":3},{"key":"@n","count":3}])
        );
        assert_eq!(out[1]["tweets"], 2);
        assert_eq!(out[1]["locations"], json!([{"key":"Rome","count":1}]));
        assert_eq!(
            out[1]["mentions"],
            json!([{"key":"@m","count":4},{"key":"@n","count":3}])
        );
        assert_eq!(out[2]["mentions"], json!([{"key":"@m","count":1}]));
    }

    #[test]
    fn ranking_ties_and_top_n() {
        // Counts: @b 2, @a 2, @C 2, @z 3, @é 1. Ties by byte order: "@C" < "@a" < "@b".
        let msgs = vec![
            v1(T0, Some("b"), &["z", "a", "b"]),
            v1(T0, Some("a"), &["z", "C", "a"]),
            v1(T0, Some("B"), &["z", "b", "C", "é"]),
            v1(T0, Some("a"), &[]),
        ];
        let top = |n| {
            let (out, _) = run(std::slice::from_ref(&msgs), params(60_000, 60_000, n, 0));
            assert_eq!(out.len(), 1);
            out[0].clone()
        };
        let all = top(0);
        assert_eq!(all["tweets"], 4);
        assert_eq!(
            all["mentions"],
            json!([{"key":"@z","count":3},{"key":"@C","count":2},{"key":"@a","count":2},
                   {"key":"@b","count":2},{"key":"@é","count":1}])
        );
        assert_eq!(
            all["locations"],
            json!([{"key":"a","count":2},{"key":"B","count":1},{"key":"b","count":1}])
        );
        let two = top(2);
        assert_eq!(
            two["mentions"],
            json!([{"key":"@z","count":3},{"key":"@C","count":2}])
        );
        assert_eq!(
            two["locations"],
            json!([{"key":"a","count":2},{"key":"B","count":1}])
        );
        assert_eq!(top(10), all);
    }

    #[test]
    fn lateness_per_partition() {
        let p = |l| params(60_000, 30_000, 0, l);
        // Partition 1: T0+10s, T0 (10s behind), T0+4999 (5001 behind).
        let part1 = vec![
            v1(T0 + 10_000, None, &[]),
            v1(T0, None, &[]),
            v1(T0 + 4_999, None, &[]),
        ];
        // Partition 2 is independent: its first tweet is never late, even if far behind part 1.
        let part2 = vec![v1(T0 - 1_000_000, None, &[]), v1(T0 - 1_005_000, None, &[])];
        let parts = [part1, part2];

        let (_, c) = run(&parts, p(0));
        assert_eq!((c.tweets, c.late), (2, 3));
        let (_, c) = run(&parts, p(5_000));
        // T0 is 10s behind (late); T0+4999 is 5001 behind (late); part 2's second is exactly 5s behind (not late).
        assert_eq!((c.tweets, c.late), (3, 2));
        let (_, c) = run(&parts, p(5_001));
        assert_eq!((c.tweets, c.late), (4, 1));
        let (out_all, c) = run(&parts, p(10_000));
        assert_eq!((c.tweets, c.late), (5, 0));
        // With enough lateness, the split into partitions does not matter.
        let merged = vec![parts.concat()];
        let (out_merged, _) = run(&merged, p(2_000_000));
        assert_eq!(out_all, out_merged);
        // A late tweet does not raise the maximum.
        let (_, c) = run(
            &[vec![
                v1(100_000, None, &[]),
                v1(1_000, None, &[]),
                v1(95_000, None, &[]),
            ]],
            p(10_000),
        );
        assert_eq!((c.tweets, c.late), (2, 1));
    }

    #[test]
    fn counts_of_every_class() {
        let msgs: Vec<Vec<u8>> = [
            "",
            "  \r",
            "{bad",
            "[1]",
            r#"{"user":{},"timestamp_ms":1000}"#,
            r#"{"data":{"created_at":"1970-01-01T00:00:02Z"}}"#,
            r#"{"limit":{"track":5}}"#,
            r#"{"limit":{"track":7}}"#,
            r#"{"delete":{}}"#,
            r#"{"user":{}}"#,
            r#"{"other":1}"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let (out, c) = run(&[msgs], p60());
        let expected = Counts {
            lines: 11,
            blank: 2,
            tweets: 2,
            malformed: 2,
            rejected: 2,
            late: 0,
            notices: [("delete".to_string(), 1), ("limit".to_string(), 2)]
                .into_iter()
                .collect(),
            undelivered: 12,
        };
        assert_eq!(c, expected);
        // Windows ending at 30s and 60s, both starting before 1970.
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["window_start"], "1969-12-31T23:59:30Z");
        assert_eq!(out[0]["window_end"], "1970-01-01T00:00:30Z");
        assert_eq!(out[0]["tweets"], 2);
    }

    #[test]
    fn huge_sums_are_exact() {
        let msgs = vec![v1_rt(T0, &["big"], u64::MAX), v1_rt(T0, &["big"], u64::MAX)];
        let (windows, _) = run_windows(std::slice::from_ref(&msgs), params(60_000, 60_000, 0, 0));
        assert_eq!(
            windows[0].mentions,
            [("@big".to_string(), 2 * u128::from(u64::MAX))]
        );
        let (text, _) = run_lines(&[msgs], params(60_000, 60_000, 0, 0));
        assert_eq!(
            text,
            "{\"window_start\":\"2016-12-04T02:07:00Z\",\"window_end\":\"2016-12-04T02:08:00Z\",\"tweets\":2,\
             \"locations\":[],\"mentions\":[{\"key\":\"@big\",\"count\":36893488147419103230}]}\n"
        );
    }

    #[test]
    fn json_line_matches_value() {
        let msgs = vec![
            v1(T0, Some("Zürich \"x\""), &["a"]),
            v1(T0 + 1, None, &["a"]),
        ];
        let (windows, _) = run_windows(&[msgs], p60());
        for w in &windows {
            let parsed: Value = serde_json::from_str(&w.to_json_line()).unwrap();
            assert_eq!(parsed, w.to_value());
        }
    }
    /// What chrono (and so this oracle) accepts where the contract is silent; pinned so that a
    /// change of behaviour is noticed.
    #[test]
    fn date_parser_leniency() {
        let v1 = |c: &str| classify(format!(r#"{{"user":{{}},"created_at":"{c}"}}"#).as_bytes());
        let v2 = |c: &str| classify(format!(r#"{{"data":{{"created_at":"{c}"}}}}"#).as_bytes());
        let ok = |c: Class| matches!(c, Class::Tweet(_));
        // created_at: case-insensitive names, 1-digit day, extra inner spaces, "+00:00" offset.
        assert!(ok(v1("sun dec 04 02:07:40 +0000 2016")));
        assert!(ok(v1("Sun Dec 4 02:07:40 +0000 2016")));
        assert!(ok(v1("Sun  Dec 04 02:07:40 +0000 2016")));
        assert!(ok(v1("Sun Dec 04 02:07:40 +00:00 2016")));
        // Rejected: wrong weekday for the date, long names, leading/trailing space, "Z" offset.
        assert_eq!(v1("Mon Dec 04 02:07:40 +0000 2016"), Class::Rejected);
        assert_eq!(v1("Sunday Dec 04 02:07:40 +0000 2016"), Class::Rejected);
        assert_eq!(v1("Sun December 04 02:07:40 +0000 2016"), Class::Rejected);
        assert_eq!(v1(" Sun Dec 04 02:07:40 +0000 2016"), Class::Rejected);
        assert_eq!(v1("Sun Dec 04 02:07:40 +0000 2016 "), Class::Rejected);
        assert_eq!(v1("Sun Dec 04 02:07:40 Z 2016"), Class::Rejected);
        // RFC 3339: space or lowercase separators accepted; an offset is required.
        assert!(ok(v2("2016-12-04 02:07:40Z")));
        assert!(ok(v2("2016-12-04t02:07:40z")));
        assert_eq!(v2("2016-12-04T02:07:40"), Class::Rejected);
        assert_eq!(v2("2016-12-04T02:07:40+24:00"), Class::Rejected);
        // A leap second (:60) is accepted and lands on the next second.
        for c in [
            v1("Sun Dec 04 02:07:60 +0000 2016"),
            v2("2016-12-04T02:07:60Z"),
        ] {
            let Class::Tweet(t) = c else {
                panic!("leap second rejected")
            };
            assert_eq!(t.event_ms, T0 + 20_000);
        }
    }
}
