//! Deterministic synthetic tweet stream in JSON Lines (CONTRACT §1–2 shapes, §5 producer input).
//!
//! Real captures cannot be shipped or scaled, so tests and benchmarks use this instead: realistic
//! v1.1 statuses (3–7 KB, full `user`, nested `retweeted_status`) or v2 envelopes, with Zipf-like
//! locations and mentions, heavy-tailed retweet counts, bounded event-time disorder and, on
//! request, the notices and broken lines a real stream carries. One seed renders the same tweets
//! in both formats, so their windows agree.

mod model;
mod noise;
mod v1;
mod v2;
#[rustfmt::skip]
mod vocabulary;
mod world;

use std::io::{self, Write};

use chrono::{DateTime, Datelike, Timelike};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 2016-12-04T02:07:40Z, the time of the contract's examples.
pub const DEFAULT_START_MS: u64 = 1_480_817_260_000;

/// What to generate. Two runs with equal configs write equal bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateConfig {
    /// Number of tweets; noise lines come on top.
    pub count: u64,
    pub seed: u64,
    /// Tweets per second of event time (default 1000).
    pub rate: f64,
    /// Write X API v2 filtered-stream envelopes instead of v1.1 statuses.
    pub v2: bool,
    /// Each tweet's event time is at most this far behind the largest one before it.
    /// v2 times have whole seconds, as the API's: there the bound is this rounded up to a second.
    pub disorder_ms: u64,
    /// Event time of the first tweet (default [`DEFAULT_START_MS`]).
    pub start_ms: u64,
    /// Also emit notices, blank, malformed and rejected lines (~1% of lines).
    pub noise: bool,
    /// How diverse the keys are: mention and location vocabularies, their skew, mentions per
    /// tweet.
    pub keys: KeyShape,
    /// Live: the first tweet's event time is the wall clock at start (`start_ms` is ignored) and
    /// each tweet is written when the clock reaches its event time, `rate` per second, so that a
    /// job downstream closes windows in real time.
    pub live: bool,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig {
            count: 1000,
            seed: 42,
            rate: 1000.0,
            v2: false,
            disorder_ms: 0,
            start_ms: DEFAULT_START_MS,
            noise: false,
            keys: KeyShape::default(),
            live: false,
        }
    }
}

/// The diversity of the keys the dataflow counts. Real streams have a long tail of mentions
/// (about one new distinct mention per tweet per 30 s slide); the default shape, kept for the
/// benchmarks' continuity, is concentrated (about 0.4).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyShape {
    /// Accounts that can be mentioned, retweeted or quoted: ranks of a Zipf law (at most
    /// 2,000,000, the population). The 15 % of tweets by popular authors draw their author from
    /// the same law.
    pub mention_accounts: usize,
    /// The exponent of that law: lower is flatter, more distinct names.
    pub mention_zipf: f64,
    /// Places people give in their profiles (each written in up to 15 ways): the first ~190
    /// are real cities, the rest synthetic towns.
    pub places: usize,
    pub location_zipf: f64,
    /// The mean of a Poisson law of mentions per original tweet, before the cap (4; 3 in a
    /// retweeted original, 2 in a quoted one), so the mean drawn is below it at high values; a
    /// retweet adds the retweeted account's name to its original's. `None`: the built-in mix
    /// (mean 0.93).
    pub mentions_per_original: Option<f64>,
}

impl Default for KeyShape {
    fn default() -> Self {
        KeyShape {
            mention_accounts: world::FAMOUS,
            mention_zipf: 1.0,
            places: world::REAL_PLACES,
            location_zipf: 0.9,
            mentions_per_original: None,
        }
    }
}

impl KeyShape {
    /// A realistic stream at 470 tweets/s (`--keys realistic` sets that `--rate`; library callers
    /// set [`GenerateConfig::rate`]): 14,100 tweets,
    /// 1.9 mentions per tweet, 15,700 distinct mention names (1.1 per tweet) and 2,200 distinct
    /// locations per 30 s slide, as a sample of the real stream had (issue 14; measured with
    /// `cargo run -p tweet --example keys`).
    pub fn realistic() -> KeyShape {
        KeyShape {
            mention_accounts: 2_000_000,
            mention_zipf: 0.95,
            places: 800,
            location_zipf: 1.0,
            mentions_per_original: Some(1.65),
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerateStats {
    pub tweets: u64,
    /// Lines that are not valid tweets: blank, notices, malformed, rejected.
    pub other: u64,
    pub bytes: u64,
}

/// Probability of a noise line before each tweet.
const NOISE_RATE: f64 = 0.01;
/// Output is written in chunks of about this size, so an unbuffered writer costs nothing.
const CHUNK: usize = 256 * 1024;

/// Writes `config.count` tweets (plus noise lines when asked) as JSON Lines to `out`.
///
/// Fails with [`io::ErrorKind::InvalidInput`] when `rate` is not a positive finite number, and
/// with the writer's errors.
pub fn generate(config: &GenerateConfig, out: &mut impl Write) -> io::Result<GenerateStats> {
    generate_stoppable(config, out, &std::sync::atomic::AtomicBool::new(false))
}

/// [`generate`], ending early (everything before written) once `stop` is set; `--live` waits
/// for each tweet's time in slices short enough to notice it.
pub fn generate_stoppable(
    config: &GenerateConfig,
    out: &mut impl Write,
    stop: &std::sync::atomic::AtomicBool,
) -> io::Result<GenerateStats> {
    if !(config.rate.is_finite() && config.rate > 0.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("rate must be a positive number, got {}", config.rate),
        ));
    }
    let composer = model::Composer::new(&config.keys);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    // Noise draws from its own stream: adding noise must not change the tweets.
    let mut noise_rng = ChaCha8Rng::seed_from_u64(config.seed);
    noise_rng.set_stream(1);
    let mut noise = noise::Noise::default();
    let mut stats = GenerateStats::default();
    let mut buf = Vec::with_capacity(CHUNK + 64 * 1024);
    let ms_per_tweet = 1000.0 / config.rate;
    let started = std::time::Instant::now();
    let start_ms = match config.live {
        true => tweet::time::Horizon::now(0).now_ms,
        false => config.start_ms,
    };
    let config = &GenerateConfig {
        start_ms,
        ..config.clone()
    };
    for i in 0..config.count {
        if config.live {
            let due = std::time::Duration::from_secs_f64(i as f64 * ms_per_tweet / 1000.0);
            if due > started.elapsed() {
                // What is due goes out before the wait, so each tweet leaves on its time.
                out.write_all(&buf)?;
                out.flush()?;
                stats.bytes += buf.len() as u64;
                buf.clear();
                while let Some(wait) = due.checked_sub(started.elapsed()).filter(|w| !w.is_zero()) {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return Ok(stats);
                    }
                    std::thread::sleep(wait.min(std::time::Duration::from_millis(100)));
                }
            }
        }
        let base = config
            .start_ms
            .saturating_add((i as f64 * ms_per_tweet) as u64);
        // Base times never decrease, so a backwards jitter of at most `disorder_ms` keeps every
        // tweet within `disorder_ms` of the maximum so far.
        let jitter = if config.disorder_ms > 0 && i > 0 {
            rng.random_range(0..=config.disorder_ms)
        } else {
            0
        };
        let ts = base.saturating_sub(jitter).max(config.start_ms);
        if config.noise && noise_rng.random_bool(NOISE_RATE) {
            let kind = noise.pick(config.v2, &mut noise_rng);
            noise.line(kind, &composer, ts, config.v2, &mut noise_rng, &mut buf);
            stats.other += 1;
        }
        let tweet = composer.tweet(ts, &mut rng);
        if config.v2 {
            serde_json::to_writer(&mut buf, &v2::envelope(&composer, &tweet))?;
        } else {
            serde_json::to_writer(&mut buf, &v1::status(&composer, &tweet, true))?;
        }
        buf.push(b'\n');
        stats.tweets += 1;
        if buf.len() >= CHUNK {
            out.write_all(&buf)?;
            stats.bytes += buf.len() as u64;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    stats.bytes += buf.len() as u64;
    out.flush()?;
    Ok(stats)
}

fn datetime(ms: u64) -> DateTime<chrono::Utc> {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or_default()
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// v1.1 `created_at`: `Sun Dec 04 02:07:40 +0000 2016` (seconds only, like the API).
fn v1_time(ms: u64) -> String {
    let t = datetime(ms);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} +0000 {}",
        WEEKDAYS[t.weekday().num_days_from_monday() as usize],
        MONTHS[t.month0() as usize],
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

/// v1.1 `timestamp_ms`: a string of digits, as Twitter sends it.
fn v1_time_ms(ms: u64) -> String {
    ms.to_string()
}

/// v2 `created_at`: RFC 3339 with the API's always-zero milliseconds.
fn v2_time(ms: u64) -> String {
    let t = datetime(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    //! Checks the output against CONTRACT §1–2 with a small independent reading of the fields,
    //! so a generator bug cannot hide behind the same bug in the `tweet` crate.
    use super::*;
    use serde_json::Value;
    use std::collections::{HashMap, HashSet};

    fn run(config: &GenerateConfig) -> (Vec<u8>, GenerateStats) {
        let mut out = Vec::new();
        let stats = generate(config, &mut out).expect("generate into memory");
        assert_eq!(stats.bytes, out.len() as u64);
        (out, stats)
    }

    fn lines(bytes: &[u8]) -> Vec<&[u8]> {
        assert_eq!(bytes.last(), Some(&b'\n'));
        bytes[..bytes.len() - 1].split(|&b| b == b'\n').collect()
    }

    #[derive(Debug, PartialEq)]
    enum Class {
        Blank,
        Malformed,
        V1(Value),
        V2(Value),
        Notice(&'static str),
        Rejected,
    }

    /// The class of a line, by the production parser (itself checked against the independent
    /// reference in tests/); tweets keep their JSON for checks of the generated shape.
    fn classify(line: &[u8]) -> Class {
        match tweet::classify(line) {
            tweet::Message::Blank => Class::Blank,
            tweet::Message::Malformed(_) => Class::Malformed,
            tweet::Message::Rejected(_) => Class::Rejected,
            tweet::Message::Notice { kind, .. } => Class::Notice(kind.key()),
            tweet::Message::Tweet(t) => {
                let v: Value = serde_json::from_slice(line).expect("a tweet is JSON");
                match t.api {
                    tweet::Api::V1 => Class::V1(v),
                    tweet::Api::V2 => Class::V2(v),
                }
            }
        }
    }

    /// (event second, location, mention keys, weight): what the windows see of a tweet.
    type Seen = (u64, Option<String>, Vec<String>, u64);

    fn tweet_of(c: &Class) -> (u64, Seen) {
        let (Class::V1(v) | Class::V2(v)) = c else {
            panic!("not a tweet: {c:?}")
        };
        let bytes = serde_json::to_vec(v).expect("serialises");
        let tweet::Message::Tweet(t) = tweet::classify(&bytes) else {
            panic!("not a tweet: {c:?}")
        };
        let mentions = t.mentions.iter().map(|m| format!("@{m}")).collect();
        let location = t.location.map(|l| l.into_owned());
        (
            t.event_ms,
            (t.event_ms / 1000, location, mentions, t.weight),
        )
    }

    fn seen(c: &Class) -> Seen {
        tweet_of(c).1
    }

    fn tweets(bytes: &[u8]) -> Vec<Class> {
        lines(bytes).into_iter().map(classify).collect()
    }

    #[test]
    fn same_seed_same_bytes() {
        for v2 in [false, true] {
            let config = GenerateConfig {
                count: 300,
                seed: 7,
                v2,
                disorder_ms: 2000,
                noise: true,
                ..Default::default()
            };
            let (a, sa) = run(&config);
            let (b, sb) = run(&config);
            assert_eq!(sa, sb);
            assert!(a == b, "v2={v2}: output differs between runs");
            let (c, _) = run(&GenerateConfig { seed: 8, ..config });
            assert!(a != c, "seed has no effect");
        }
    }

    #[test]
    fn counts_are_exact() {
        let config = GenerateConfig {
            count: 2000,
            noise: true,
            ..Default::default()
        };
        let (out, stats) = run(&config);
        let classes = tweets(&out);
        let n = classes.iter().filter(|c| matches!(c, Class::V1(_))).count();
        assert_eq!(stats.tweets, 2000);
        assert_eq!(n as u64, stats.tweets);
        assert_eq!(classes.len() as u64, stats.tweets + stats.other);
        assert!(stats.other > 5 && stats.other < 50, "{}", stats.other);
    }

    #[test]
    fn noise_does_not_change_the_tweets() {
        for v2 in [false, true] {
            let quiet = GenerateConfig {
                count: 1500,
                seed: 3,
                v2,
                ..Default::default()
            };
            let (a, _) = run(&quiet);
            let (b, stats) = run(&GenerateConfig {
                noise: true,
                ..quiet.clone()
            });
            assert!(stats.other > 0);
            let kept: Vec<&[u8]> = lines(&b)
                .into_iter()
                .filter(|l| matches!(classify(l), Class::V1(_) | Class::V2(_)))
                .collect();
            assert_eq!(kept, lines(&a));
        }
    }

    #[test]
    fn every_noise_kind_is_what_its_name_says() {
        use noise::Kind as K;
        let c = model::Composer::new(&KeyShape::default());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut n = noise::Noise::default();
        let cases = [
            (K::Blank, false),
            (K::Whitespace, false),
            (K::Delete, false),
            (K::Limit, false),
            (K::ScrubGeo, false),
            (K::StatusWithheld, false),
            (K::UserWithheld, false),
            (K::Warning, false),
            (K::Disconnect, false),
            (K::Truncated, false),
            (K::Truncated, true),
            (K::NotJson, true),
            (K::Array, false),
            (K::Unknown, false),
            (K::NoTime, false),
            (K::NoTime, true),
            (K::Errors, true),
        ];
        for _ in 0..20 {
            for (kind, v2) in cases {
                let mut buf = Vec::new();
                n.line(kind, &c, DEFAULT_START_MS, v2, &mut rng, &mut buf);
                assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
                let class = classify(&buf[..buf.len() - 1]);
                let ok = match kind {
                    K::Blank | K::Whitespace => class == Class::Blank,
                    K::Delete => class == Class::Notice("delete"),
                    K::Limit => class == Class::Notice("limit"),
                    K::ScrubGeo => class == Class::Notice("scrub_geo"),
                    K::StatusWithheld => class == Class::Notice("status_withheld"),
                    K::UserWithheld => class == Class::Notice("user_withheld"),
                    K::Warning => class == Class::Notice("warning"),
                    K::Disconnect => class == Class::Notice("disconnect"),
                    K::Truncated | K::NotJson | K::Array => class == Class::Malformed,
                    K::Unknown | K::NoTime | K::Errors => class == Class::Rejected,
                };
                assert!(ok, "{kind:?} (v2={v2}) classified as {class:?}");
            }
        }
    }

    #[test]
    fn sizes_are_realistic() {
        for (v2, lo, hi) in [(false, 3000, 7000), (true, 2000, 4000)] {
            let (out, stats) = run(&GenerateConfig {
                count: 1000,
                v2,
                ..Default::default()
            });
            let avg = stats.bytes / stats.tweets;
            assert!((lo..=hi).contains(&avg), "v2={v2}: average {avg} bytes");
            let max = lines(&out).iter().map(|l| l.len()).max().unwrap();
            assert!(max < 16_000, "v2={v2}: a line of {max} bytes");
        }
    }

    #[test]
    fn event_times_follow_rate_and_start() {
        let (out, _) = run(&GenerateConfig {
            count: 240,
            rate: 1.0,
            ..Default::default()
        });
        let times: Vec<u64> = tweets(&out).iter().map(|c| seen(c).0 * 1000).collect();
        assert_eq!(times[0], DEFAULT_START_MS);
        assert_eq!(times[239], DEFAULT_START_MS + 239_000);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn disorder_is_bounded_and_used() {
        for (v2, disorder) in [(false, 3000), (false, 500), (true, 3000)] {
            let (out, _) = run(&GenerateConfig {
                count: 3000,
                rate: 50.0,
                v2,
                disorder_ms: disorder,
                ..Default::default()
            });
            let mut max = 0;
            let mut worst = 0;
            for c in tweets(&out) {
                let t = match &c {
                    c @ (Class::V1(_) | Class::V2(_)) => tweet_of(c).0,
                    other => panic!("{other:?}"),
                };
                assert!(t >= DEFAULT_START_MS);
                worst = worst.max(max.max(t) - t);
                max = max.max(t);
            }
            assert!(worst <= disorder, "v2={v2}: {worst} ms late");
            assert!(worst * 10 >= disorder * 8, "v2={v2}: disorder barely used");
        }
    }

    #[test]
    fn v1_fields_are_where_the_contract_reads_them() {
        let (out, _) = run(&GenerateConfig {
            count: 2000,
            disorder_ms: 1000,
            ..Default::default()
        });
        let mut retweets = 0;
        let mut extended = 0;
        for c in tweets(&out) {
            let Class::V1(v) = &c else { panic!("{c:?}") };
            let ts = v["timestamp_ms"].as_str().expect("timestamp_ms string");
            let ms: u64 = ts.parse().unwrap();
            let created = chrono::DateTime::parse_from_str(
                v["created_at"].as_str().unwrap(),
                "%a %b %d %H:%M:%S %z %Y",
            )
            .unwrap();
            assert_eq!(created.timestamp() as u64, ms / 1000);
            assert_eq!(v["id_str"].as_str().unwrap(), v["id"].to_string());
            let loc = &v["user"]["location"];
            assert!(loc.is_null() || loc.is_string());
            assert!(v["user"].as_object().unwrap().len() >= 36);
            let text: Vec<char> = v["text"].as_str().unwrap().chars().collect();
            for m in v["entities"]["user_mentions"].as_array().unwrap() {
                let name = m["screen_name"].as_str().unwrap();
                assert!(!name.is_empty());
                let [s, e] = [&m["indices"][0], &m["indices"][1]].map(|i| i.as_u64().unwrap());
                let got: String = text[s as usize..e as usize].iter().collect();
                assert_eq!(got, format!("@{name}"));
                assert!(m["id"].is_u64() && m["id_str"].is_string() && m["name"].is_string());
            }
            if v["retweeted_status"].is_object() {
                retweets += 1;
                let rs = &v["retweeted_status"];
                assert!(rs["retweet_count"].is_u64());
                assert!(rs["user"].is_object());
                assert!(rs.get("timestamp_ms").is_none());
                assert!(v["text"].as_str().unwrap().starts_with("RT @"));
            }
            if v["extended_tweet"].is_object() {
                extended += 1;
                assert_eq!(v["truncated"], true);
                assert!(v["extended_tweet"]["full_text"].is_string());
            }
        }
        assert!((500..700).contains(&retweets), "{retweets} retweets");
        assert!(extended > 50, "{extended} extended tweets");
    }

    #[test]
    fn v2_fields_are_where_the_contract_reads_them() {
        let (out, _) = run(&GenerateConfig {
            count: 1000,
            v2: true,
            ..Default::default()
        });
        let mut retweets = 0;
        for c in tweets(&out) {
            let Class::V2(v) = &c else { panic!("{c:?}") };
            let data = &v["data"];
            assert!(data["created_at"].as_str().unwrap().ends_with(".000Z"));
            assert!(data["id"].is_string() && data["author_id"].is_string());
            assert!(
                v["matching_rules"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            );
            for m in data["entities"]["mentions"]
                .as_array()
                .into_iter()
                .flatten()
            {
                assert!(m["username"].as_str().is_some_and(|s| !s.is_empty()));
                assert!(m["start"].is_u64() && m["end"].is_u64() && m["id"].is_string());
            }
            if data["referenced_tweets"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["type"] == "retweeted"))
            {
                retweets += 1;
            }
            let includes = &v["includes"];
            let has = |list: &str, id: &Value| {
                includes[list]
                    .as_array()
                    .is_some_and(|xs| xs.iter().any(|x| &x["id"] == id))
            };
            assert!(has("users", &data["author_id"]), "author in includes.users");
            for r in data["referenced_tweets"].as_array().into_iter().flatten() {
                if r["type"] == "retweeted" {
                    assert!(
                        has("tweets", &r["id"]),
                        "retweeted status in includes.tweets"
                    );
                }
            }
        }
        assert!((230..370).contains(&retweets), "{retweets} retweets");
    }

    #[test]
    fn v1_and_v2_of_one_seed_agree_on_what_windows_see() {
        let config = GenerateConfig {
            count: 1500,
            seed: 11,
            disorder_ms: 3000,
            rate: 20.0,
            ..Default::default()
        };
        let (a, _) = run(&config);
        let (b, _) = run(&GenerateConfig { v2: true, ..config });
        let sa: Vec<Seen> = tweets(&a).iter().map(seen).collect();
        let sb: Vec<Seen> = tweets(&b).iter().map(seen).collect();
        assert_eq!(sa, sb);
    }

    #[test]
    fn skew_is_realistic() {
        let (out, _) = run(&GenerateConfig {
            count: 4000,
            ..Default::default()
        });
        let seen: Vec<Seen> = tweets(&out).iter().map(seen).collect();
        let missing = seen.iter().filter(|s| s.1.is_none()).count();
        assert!(
            (600..1000).contains(&missing),
            "{missing} of 4000 without location"
        );
        let mut locations: HashMap<&str, usize> = HashMap::new();
        for s in &seen {
            if let Some(l) = &s.1 {
                *locations.entry(l).or_default() += 1;
            }
        }
        assert!(locations.len() > 500, "{} locations", locations.len());
        let top = locations.values().max().unwrap();
        assert!(*top > 40, "top location only {top} tweets");
        assert!(locations.keys().any(|l| !l.is_ascii()));
        let mentions: Vec<&String> = seen.iter().flat_map(|s| &s.2).collect();
        let distinct: HashSet<_> = mentions.iter().collect();
        assert!(mentions.len() > 3000, "{} mentions", mentions.len());
        assert!(
            distinct.len() > 1000,
            "{} distinct mentions",
            distinct.len()
        );
        assert!(seen.iter().any(|s| s.2.len() >= 4));
        let max_weight = seen.iter().map(|s| s.3).max().unwrap();
        assert!(max_weight > 50_000, "largest retweet weight {max_weight}");
        assert!(seen.iter().filter(|s| s.3 > 1).count() > 900);
    }

    #[test]
    fn output_is_valid_utf8_json_with_escapes() {
        let (out, _) = run(&GenerateConfig {
            count: 3000,
            ..Default::default()
        });
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.contains("\\n") && text.contains("\\\""));
        assert!(text.contains("東京") || text.contains("São Paulo"));
    }

    #[test]
    fn bad_rate_is_rejected() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = generate(
                &GenerateConfig {
                    rate,
                    ..Default::default()
                },
                &mut Vec::new(),
            )
            .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }

    /// The committed generated fixtures are what `fixtures/README.md` says made them.
    #[test]
    fn committed_fixtures_match_their_generate_commands() {
        use std::io::Read;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let read = |name: &str| std::fs::read(dir.join(name)).expect("fixture is committed");
        let v1 = GenerateConfig {
            count: 200,
            seed: 1,
            rate: 0.8,
            disorder_ms: 3000,
            ..Default::default()
        };
        let v2 = GenerateConfig {
            count: 100,
            seed: 2,
            rate: 0.4,
            disorder_ms: 3000,
            v2: true,
            ..Default::default()
        };
        let gz = GenerateConfig {
            count: 50,
            seed: 3,
            rate: 0.2,
            disorder_ms: 3000,
            ..Default::default()
        };
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&read("tweets-v1.jsonl.gz")[..])
            .read_to_end(&mut unzipped)
            .expect("fixture is gzip");
        for (name, config, actual) in [
            ("tweets-v1.jsonl", v1, read("tweets-v1.jsonl")),
            ("tweets-v2.jsonl", v2, read("tweets-v2.jsonl")),
            ("tweets-v1.jsonl.gz", gz, unzipped),
        ] {
            let (expected, _) = run(&config);
            assert!(
                actual == expected,
                "{name} differs from its command in fixtures/README.md: regenerate it"
            );
        }
    }

    #[test]
    fn time_formats_match_the_apis() {
        assert_eq!(
            v1_time(DEFAULT_START_MS + 999),
            "Sun Dec 04 02:07:40 +0000 2016"
        );
        assert_eq!(v2_time(DEFAULT_START_MS + 999), "2016-12-04T02:07:40.000Z");
        assert_eq!(v1_time_ms(DEFAULT_START_MS), "1480817260000");
    }

    /// Distinct mention names and locations, and mentions per tweet, of generated bytes.
    fn diversity(out: &[u8]) -> (usize, usize, f64) {
        let (mut names, mut places, mut mentions, mut tweets) =
            (HashSet::new(), HashSet::new(), 0, 0);
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if let tweet::Message::Tweet(t) = tweet::classify(line) {
                tweets += 1;
                mentions += t.mentions.len();
                names.extend(t.mentions.iter().map(|m| m.to_string()));
                places.extend(t.location.map(|l| l.into_owned()));
            }
        }
        (names.len(), places.len(), mentions as f64 / tweets as f64)
    }

    #[test]
    fn the_realistic_key_shape_has_the_long_tail_and_stays_deterministic() {
        // Issue 14: the default shape is concentrated; real streams have about one new distinct
        // mention per tweet per slide.
        let base = GenerateConfig {
            count: 14_100,
            rate: 470.0,
            ..GenerateConfig::default()
        };
        let realistic = GenerateConfig {
            keys: KeyShape::realistic(),
            ..base.clone()
        };
        let (default_out, _) = run(&base);
        let (real_out, _) = run(&realistic);
        let (d_names, d_places, d_mentions) = diversity(&default_out);
        let (r_names, r_places, r_mentions) = diversity(&real_out);
        // One slide of the real stream: 15.7k names, 2.2k locations, 1.9 mentions per tweet.
        assert!((14_000..17_500).contains(&r_names), "{r_names} names");
        assert!((1_800..2_700).contains(&r_places), "{r_places} places");
        assert!(
            (1.8..2.0).contains(&r_mentions),
            "{r_mentions} mentions per tweet"
        );
        assert!(
            d_names * 2 < r_names && d_mentions < 1.4,
            "{d_names} {d_mentions}"
        );
        assert!(d_places < r_places, "{d_places} < {r_places}");
        assert_eq!(run(&realistic).0, real_out, "equal flags, equal bytes");
    }

    #[test]
    fn synthetic_towns_are_written_in_a_few_ways_and_named_apart() {
        let config = GenerateConfig {
            count: 5_000,
            keys: KeyShape {
                places: 100_000,
                location_zipf: 0.0,
                ..KeyShape::default()
            },
            ..GenerateConfig::default()
        };
        let (out, _) = run(&config);
        let (_, places, _) = diversity(&out);
        // A flat law over 100k places: nearly every profile names a town of its own.
        assert!(places > 3_000, "{places}");
        assert!(
            out.windows(b", Valdoria".len()).any(|w| w == b", Valdoria"),
            "towns with their country"
        );
    }
}
