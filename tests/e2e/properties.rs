//! Property test: on random streams and random window parameters, worker counts and file layouts,
//! the dataflow's output equals the sequential reference.
//!
//! Streams mix v1.1 tweets and v2 envelopes with padded, unicode and missing locations, duplicate and
//! case-variant mentions, zero and huge retweet counts, bounded disorder, notices, blank and malformed
//! lines. Lateness is set to the disorder bound, so nothing is late and the results may not depend on
//! how the input is split.

use proptest::prelude::*;
use serde_json::json;
use tweet_dataflow::{Cluster, Config, Output, Shutdown, Windows, run};
use tweetflow_tests::reference::{self, Params};
use tweetflow_tests::util::lines;

const BASE_MS: u64 = 1_480_817_220_000;
const LOCATIONS: [Option<&str>; 7] = [
    Some("Paris"),
    Some("  Paris "),
    Some("東京"),
    Some("New York, USA"),
    Some(" "),
    None,
    Some("london"),
];
const NAMES: [&str; 6] = ["Foo", "foo", "Bar", "élan", "x_y", "Zed"];

#[derive(Clone, Debug)]
struct Spec {
    v2: bool,
    jitter_ms: u64,
    location: usize,
    mentions: Vec<usize>,
    retweets: Option<u64>,
    noise: Option<u8>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        0u64..4_000,
        0..LOCATIONS.len(),
        prop::collection::vec(0..NAMES.len(), 0..4),
        prop_oneof![
            Just(None),
            (0u64..5).prop_map(Some),
            Just(Some(u64::MAX)),
            (1u64..1_000_000).prop_map(Some)
        ],
        prop_oneof![8 => Just(None), 1 => (0u8..4).prop_map(Some)],
    )
        .prop_map(
            |(v2, jitter_ms, location, mentions, retweets, noise)| Spec {
                v2,
                jitter_ms,
                location,
                mentions,
                retweets,
                noise,
            },
        )
}

/// One message line for the `i`-th spec, with event time at most `jitter` behind the stream's clock.
fn render(i: u64, step_ms: u64, s: &Spec) -> String {
    if let Some(kind) = s.noise {
        return match kind {
            0 => String::new(),
            1 => r#"{"limit":{"track":3}}"#.to_owned(),
            2 => "{\"truncated\":".to_owned(),
            _ => r#"{"neither":"tweet nor notice"}"#.to_owned(),
        };
    }
    let event_ms = (BASE_MS + i * step_ms).saturating_sub(s.jitter_ms);
    let location = LOCATIONS[s.location];
    if s.v2 {
        let mentions: Vec<_> = s
            .mentions
            .iter()
            .map(|&m| json!({"username": NAMES[m], "start": 0, "end": 1}))
            .collect();
        let created = chrono::DateTime::from_timestamp_millis(event_ms as i64)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut data = json!({"id": i.to_string(), "author_id": "u1", "created_at": created, "entities": {"mentions": mentions}});
        let mut includes = json!({"users": [{"id": "u1", "location": location}]});
        if let Some(count) = s.retweets {
            data["referenced_tweets"] = json!([{"type": "retweeted", "id": "rt"}]);
            includes["tweets"] = json!([{"id": "rt", "public_metrics": {"retweet_count": count}}]);
        }
        json!({"data": data, "includes": includes}).to_string()
    } else {
        let mentions: Vec<_> = s
            .mentions
            .iter()
            .map(|&m| json!({"screen_name": NAMES[m]}))
            .collect();
        let mut tweet = json!({"id_str": i.to_string(), "timestamp_ms": event_ms.to_string(), "user": {"location": location}, "entities": {"user_mentions": mentions}});
        if let Some(count) = s.retweets {
            tweet["retweeted_status"] = json!({"retweet_count": count, "entities": {"user_mentions": [{"screen_name": "hidden"}]}});
        }
        tweet.to_string()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn dataflow_equals_reference(
        specs in prop::collection::vec(spec(), 1..300),
        step_ms in 1u64..3_000,
        batch_s in prop_oneof![Just(1u64), Just(2), Just(5)],
        slide_k in 1u64..4,
        window_n in 1u64..13,
        top in prop_oneof![Just(0usize), Just(1), Just(3), Just(10)],
        workers in 1usize..5,
        files in 1usize..4,
    ) {
        let (batch, slide) = (batch_s * 1000, batch_s * 1000 * slide_k);
        // Any multiple of the batch: also shorter than the slide, or not a multiple of it.
        let window = batch * window_n;
        let lateness = 4_000;
        let lines_in: Vec<String> = specs.iter().enumerate().map(|(i, s)| render(i as u64, step_ms, s)).collect();

        let dir = tempfile::tempdir().unwrap();
        let chunk = lines_in.len().div_ceil(files);
        let mut partitions = Vec::new();
        let mut inputs = Vec::new();
        for (f, part) in lines_in.chunks(chunk).enumerate() {
            let path = dir.path().join(format!("in{f}.jsonl"));
            std::fs::write(&path, part.join("\n") + "\n").unwrap();
            partitions.push(part.iter().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>());
            inputs.push(path);
        }
        let out = dir.path().join("out.jsonl");
        let config = Config {
            windows: Windows::new(batch, window, slide).unwrap(),
            lateness_ms: lateness,
            top,
            cluster: Cluster::local(workers),
            ..Config::files(inputs, Output::File(out.clone()))
        };
        let summary = run(config, Shutdown::new()).unwrap().expect("process 0 has the summary");

        let params = Params { batch_ms: batch, window_ms: window, slide_ms: slide, top, lateness_ms: lateness, ..Params::defaults(0) };
        let (want, counts) = reference::run_lines(&partitions, params);
        let want: Vec<String> = want.lines().map(str::to_owned).collect();
        prop_assert_eq!(lines(&out), want);
        prop_assert_eq!(summary.stats.tweets, counts.tweets);
        prop_assert_eq!(summary.stats.late, 0);
        prop_assert_eq!(summary.stats.malformed, counts.malformed);
        prop_assert_eq!(summary.stats.rejected, counts.rejected);
        prop_assert_eq!(summary.stats.blank, counts.blank);
    }
}
