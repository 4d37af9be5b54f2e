//! The metrics of both binaries add up: after a run, every counter `/metrics` would serve equals
//! the end-of-run summary, and both equal the independent reference's counts of the same input.
//! (The live view and the metrics endpoints of running binaries are tested in a real browser in
//! `live_view.rs`, against Kafka.)

use std::path::PathBuf;

use tweet_dataflow::{Config, Metrics, Output, Shutdown, run_observed};
use tweetflow_tests::reference::{self, Params};
use tweetflow_tests::util::{fixture, messages, prometheus};

#[test]
fn the_dataflow_metrics_equal_the_summary_and_the_reference() {
    let inputs: Vec<PathBuf> = ["tweets-v1.jsonl", "edge-cases.jsonl", "tweets-v2.jsonl"]
        .iter()
        .map(|f| fixture(f))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::files(inputs.clone(), Output::File(dir.path().join("out.jsonl")));
    config.cluster = tweet_dataflow::Cluster::local(2);
    config.dead_letter = Some(dir.path().join("dead.jsonl"));
    let metrics = Metrics::new();
    let summary = run_observed(config, Shutdown::new(), metrics.clone())
        .expect("the run succeeds")
        .expect("process 0 has the summary");
    let m = prometheus(&metrics.text());
    let get = |key: &str| *m.get(key).unwrap_or_else(|| panic!("{key} in {m:?}")) as u64;

    let s = &summary.stats;
    let notices: u64 = s.notices.values().sum();
    for (key, value) in [
        ("tweetflow_messages_total{class=\"tweet\"}", s.tweets),
        ("tweetflow_messages_total{class=\"blank\"}", s.blank),
        ("tweetflow_messages_total{class=\"notice\"}", notices),
        ("tweetflow_messages_total{class=\"malformed\"}", s.malformed),
        ("tweetflow_messages_total{class=\"rejected\"}", s.rejected),
        ("tweetflow_late_total", s.late),
        ("tweetflow_bytes_total", s.bytes),
        ("tweetflow_undelivered_total", s.undelivered),
        ("tweetflow_windows_written_total", summary.windows),
        ("tweetflow_dead_letters_total", summary.dead_letters),
        (
            "tweetflow_window_close_latency_seconds_count",
            summary.windows,
        ),
    ] {
        assert_eq!(get(key), value, "{key}");
    }
    let classes: u64 = ["tweet", "blank", "notice", "malformed", "rejected"]
        .iter()
        .map(|c| get(&format!("tweetflow_messages_total{{class=\"{c}\"}}")))
        .sum();
    assert_eq!(classes + get("tweetflow_late_total"), s.lines);

    // And the summary is the reference's (each file is a partition of its own: one split each).
    let partitions: Vec<Vec<Vec<u8>>> = inputs.iter().map(|p| messages(p)).collect();
    let (windows, counts) = reference::run_windows(&partitions, Params::defaults(10_000));
    assert_eq!(
        (s.tweets, s.late, s.malformed, s.rejected, s.blank),
        (
            counts.tweets,
            counts.late,
            counts.malformed,
            counts.rejected,
            counts.blank
        )
    );
    assert_eq!(summary.windows, windows.len() as u64);
    assert!(summary.windows > 0 && s.malformed > 0 && s.late + s.rejected > 0);
    // Every input file has a watermark.
    let watermarks = m
        .keys()
        .filter(|k| k.starts_with("tweetflow_watermark_seconds{"))
        .count();
    assert!(watermarks >= inputs.len(), "{m:?}");
}
