//! `tweet-dataflow` on files, checked against the sequential reference (`tweetflow_tests::reference`).
//!
//! Test plan: the committed fixtures (every message class, both API versions, gzip) under the default
//! windows and under small windows with all keys, on 1, 2 and 4 workers; the counters and dead letters
//! of the summary; lateness on a single partition; bad flags and missing input.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use tweetflow_tests::reference::{self, Counts, Params};
use tweetflow_tests::util::{OutputWithin, binary, dataflow, fixture, lines, messages};

const FIXTURES: [&str; 4] = [
    "tweets-v1.jsonl",
    "tweets-v2.jsonl",
    "edge-cases.jsonl",
    "tweets-v1.jsonl.gz",
];

fn fixture_paths() -> Vec<PathBuf> {
    FIXTURES.iter().map(|f| fixture(f)).collect()
}

/// Runs the dataflow on `inputs` with `flags`, returning (records, summary, dead letters).
fn run(inputs: &[PathBuf], flags: &[&str]) -> (Vec<String>, Value, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let summary = dir.path().join("summary.json");
    let dead = dir.path().join("dead.jsonl");
    let mut args: Vec<String> = Vec::new();
    for input in inputs {
        args.extend(["--input".into(), input.display().to_string()]);
    }
    for (flag, path) in [
        ("--output", &out),
        ("--summary", &summary),
        ("--dead-letter", &dead),
    ] {
        args.extend([flag.into(), path.display().to_string()]);
    }
    args.extend(flags.iter().map(|s| s.to_string()));
    dataflow(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let dead = lines(&dead)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines(&out), summary, dead)
}

fn expected(partitions: &[Vec<Vec<u8>>], params: Params) -> (Vec<String>, Counts) {
    let (text, counts) = reference::run_lines(partitions, params);
    (text.lines().map(str::to_owned).collect(), counts)
}

fn assert_counts(summary: &Value, counts: &Counts) {
    for (field, value) in [
        ("lines", counts.lines),
        ("blank", counts.blank),
        ("tweets", counts.tweets),
        ("malformed", counts.malformed),
        ("rejected", counts.rejected),
        ("late", counts.late),
        ("undelivered", counts.undelivered),
    ] {
        assert_eq!(summary[field], value, "summary field {field}: {summary}");
    }
    let notices: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(summary["notices"].clone()).unwrap();
    assert_eq!(notices, counts.notices);
    assert_eq!(
        summary["dead_letters"],
        counts.malformed + counts.rejected + counts.late
    );
}

#[test]
fn fixtures_equal_the_reference_on_1_2_and_4_workers() {
    let inputs = fixture_paths();
    let partitions: Vec<_> = inputs.iter().map(|p| messages(p)).collect();
    // The edge cases are up to a minute out of order: with this lateness nothing is late, so the
    // split of the files across workers cannot change the result.
    let (want, counts) = expected(&partitions, Params::defaults(120_000));
    assert!(want.len() >= 8, "the fixtures span several windows");
    assert_eq!(counts.late, 0);
    assert!(
        counts.malformed > 0 && counts.rejected > 0 && !counts.notices.is_empty(),
        "{counts:?}"
    );
    for workers in ["1", "2", "4"] {
        let (got, summary, dead) = run(&inputs, &["--lateness", "2m", "-w", workers]);
        assert_eq!(got, want, "{workers} workers");
        assert_counts(&summary, &counts);
        assert_eq!(summary["windows"], want.len() as u64);
        assert_eq!(dead.len() as u64, counts.malformed + counts.rejected);
    }
}

#[test]
fn small_windows_with_all_keys_equal_the_reference() {
    let inputs = fixture_paths();
    let partitions: Vec<_> = inputs.iter().map(|p| messages(p)).collect();
    let params = Params {
        batch_ms: 1_000,
        window_ms: 3_000,
        slide_ms: 1_000,
        top: 0,
        lateness_ms: 120_000,
        ..Params::defaults(0)
    };
    let (want, _) = expected(&partitions, params);
    for workers in ["1", "3"] {
        let flags = [
            "--batch",
            "1s",
            "--window",
            "3s",
            "--slide",
            "1s",
            "--top",
            "0",
            "--lateness",
            "2m",
            "-w",
            workers,
        ];
        let (got, _, _) = run(&inputs, &flags);
        assert_eq!(got, want, "{workers} workers");
    }
}

#[test]
fn dead_letters_carry_position_class_reason_and_raw_text() {
    let (_, _, dead) = run(&[fixture("edge-cases.jsonl")], &[]);
    let edge = messages(&fixture("edge-cases.jsonl"));
    for letter in &dead {
        let position = letter["position"].as_str().unwrap();
        let line: usize = position.rsplit(':').next().unwrap().parse().unwrap();
        let raw = String::from_utf8_lossy(&edge[line - 1]);
        assert_eq!(letter["raw"], raw.as_ref(), "{position}");
        assert!(
            ["malformed", "rejected", "late"].contains(&letter["class"].as_str().unwrap()),
            "{letter}"
        );
        assert!(!letter["reason"].as_str().unwrap().is_empty());
        assert!(
            letter["source"]
                .as_str()
                .unwrap()
                .ends_with("edge-cases.jsonl")
        );
    }
    assert!(
        dead.iter()
            .any(|l| l["reason"].as_str().unwrap().starts_with("not UTF-8")),
        "the invalid UTF-8 line"
    );
}

#[test]
fn late_tweets_are_counted_and_left_out_per_partition() {
    // One worker reads each file as one partition, so the reference sees the same partitions.
    let inputs = [fixture("tweets-v1.jsonl"), fixture("edge-cases.jsonl")];
    let partitions: Vec<_> = inputs.iter().map(|p| messages(p)).collect();
    let params = Params {
        lateness_ms: 500,
        ..Params::defaults(0)
    };
    let (want, counts) = expected(&partitions, params);
    assert!(counts.late > 0, "the v1 fixture has disorder beyond 500 ms");
    let (got, summary, dead) = run(&inputs, &["--lateness", "500ms"]);
    assert_eq!(got, want);
    assert_counts(&summary, &counts);
    assert_eq!(
        dead.iter().filter(|l| l["class"] == "late").count() as u64,
        counts.late
    );
}

#[test]
fn table_is_the_default_format_on_stdout() {
    let output = dataflow(&["--input", fixture("tweets-v1.jsonl").to_str().unwrap()]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("window 2016-12-04T02:07:00Z .. 2016-12-04T02:08:00Z"),
        "{stdout}"
    );
    assert!(stdout.contains("locations") && stdout.contains("mentions"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("windows written"),
        "summary on stderr: {stderr}"
    );
}

#[test]
fn jsonl_on_stdout_equals_the_output_file() {
    let input = fixture("tweets-v2.jsonl");
    let output = dataflow(&["--input", input.to_str().unwrap(), "--format", "jsonl"]);
    let (want, _) = expected(&[messages(&input)], Params::defaults(10_000));
    let got: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn bad_flags_exit_2_with_a_clear_message() {
    let input = fixture("tweets-v1.jsonl");
    for (flags, message) in [
        (
            vec!["--window", "7s"],
            "--window (7000 ms) must be a multiple of --batch (5000 ms)",
        ),
        (
            vec!["--slide", "12s"],
            "--slide (12000 ms) must be a multiple of --batch",
        ),
        (vec!["--batch", "5"], "needs a unit"),
        (vec!["--top", "many"], "invalid value 'many' for '--top"),
        (vec!["--workers", "0"], "--workers must be at least 1"),
    ] {
        let output = Command::new(binary("tweet-dataflow"))
            .arg("--input")
            .arg(&input)
            .args(&flags)
            .output_within_limit();
        assert_eq!(output.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
    }
}

#[test]
fn missing_input_is_a_clear_error() {
    let output = Command::new(binary("tweet-dataflow"))
        .args(["--input", "/nonexistent/tweets.jsonl"])
        .output_within_limit();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read input /nonexistent/tweets.jsonl"),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_gzip_input_is_reported_and_fails_the_run_after_writing_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt.jsonl.gz");
    std::fs::write(
        &bad,
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage that is not deflate",
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let dead = dir.path().join("dead.jsonl");
    let good = fixture("tweets-v1.jsonl");
    let output = Command::new(binary("tweet-dataflow"))
        .args([
            "--input",
            good.to_str().unwrap(),
            "--input",
            bad.to_str().unwrap(),
        ])
        .args([
            "--output",
            out.to_str().unwrap(),
            "--dead-letter",
            dead.to_str().unwrap(),
        ])
        .output_within_limit();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("could not be read to the end"));
    let letters = lines(&dead);
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0].contains("\"class\":\"read-error\"") && letters[0].contains("corrupt.jsonl.gz")
    );
    let (want, _) = expected(&[messages(&good)], Params::defaults(10_000));
    assert_eq!(lines(&out), want, "the readable input is still counted");
}

#[test]
fn huge_garbage_and_non_utf8_messages_are_counted_and_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.jsonl");
    let good = messages(&fixture("tweets-v1.jsonl"));
    let mut bytes = Vec::new();
    for (i, line) in good.iter().enumerate() {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        match i {
            10 => bytes.extend_from_slice(b"\xff\xfe not utf-8 at all\n"),
            20 => bytes
                .extend_from_slice(format!("{{\"text\":\"{}\"\n", "y".repeat(5 << 20)).as_bytes()),
            30 => bytes.extend_from_slice(format!("{}\n", "z".repeat(17 << 20)).as_bytes()),
            40 => {
                bytes.extend_from_slice(format!("{{\"x\":{}}}\n", "[".repeat(100_000)).as_bytes())
            }
            _ => {}
        }
    }
    std::fs::write(&input, &bytes).unwrap();
    let (got, summary, dead) = run(&[input], &["--lateness", "10s", "-w", "2"]);
    let (want, _) = expected(&[good], Params::defaults(10_000));
    assert_eq!(got, want, "bad messages change nothing");
    assert_eq!(summary["malformed"], 4);
    assert_eq!(dead.len(), 4);
    let truncated_5mb = dead
        .iter()
        .find(|l| l["raw"].as_str().unwrap().len() > 5 << 20)
        .expect("5 MB kept whole");
    assert!(
        truncated_5mb["reason"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON")
    );
    let oversized = dead
        .iter()
        .find(|l| {
            l["reason"]
                .as_str()
                .unwrap()
                .contains("over the 16 MiB limit")
        })
        .unwrap();
    assert_eq!(oversized["raw"].as_str().unwrap().len(), 64 << 10);
}

/// A v1.1 tweet line at `event_ms` with one mention.
fn v1_line(id: u64, event_ms: u64) -> Vec<u8> {
    serde_json::json!({
        "id_str": id.to_string(),
        "timestamp_ms": event_ms.to_string(),
        "user": {"location": "Lyon"},
        "entities": {"user_mentions": [{"screen_name": "rustlang"}]}
    })
    .to_string()
    .into_bytes()
}

#[test]
fn a_tweet_from_the_future_is_rejected_instead_of_making_its_partition_late() {
    // Issue 8, reproduced on the old main: in 1000 tweets, one with timestamp_ms 253402300799999
    // (9999-12-31) made 989 of the others late, and the windows printed
    // "window_end":"+10000-01-01T00:00:00Z", which is not RFC 3339.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("future.jsonl");
    let base = 1_480_817_220_000;
    let mut lines: Vec<Vec<u8>> = (0..1000).map(|i| v1_line(i, base + i * 100)).collect();
    lines.insert(10, v1_line(5000, 253_402_300_799_999));
    let text: Vec<u8> = lines
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect();
    std::fs::write(&input, text).unwrap();

    let (want, counts) = expected(&[lines], Params::defaults(10_000));
    assert_eq!((counts.rejected, counts.late, counts.tweets), (1, 0, 1000));
    let (got, summary, dead) = run(&[input], &["--lateness", "10s"]);
    assert_eq!(got, want);
    assert_counts(&summary, &counts);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["class"], "rejected");
    assert_eq!(dead[0]["reason"], tweet::FUTURE);
}

#[test]
fn window_bounds_stay_rfc3339_at_the_end_of_year_9999() {
    // With the future check widened, tweets of the last minute of 9999 are read; those whose
    // windows would end in year 10000 are rejected, and every bound written is RFC 3339.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("y9999.jsonl");
    let last = 253_402_300_799_999u64;
    let lines: Vec<Vec<u8>> = (0..120)
        .map(|i| v1_line(i, last - 119_000 + i * 1000))
        .collect();
    let text: Vec<u8> = lines
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect();
    std::fs::write(&input, text).unwrap();
    let params = Params {
        max_future_ms: 1 << 62,
        ..Params::defaults(10_000)
    };
    let (want, counts) = expected(&[lines], params);
    assert!(counts.rejected > 0 && counts.tweets > 0, "{counts:?}");
    let (got, summary, _) = run(&[input], &["--max-future", "100000000h"]);
    assert_eq!(got, want);
    assert_counts(&summary, &counts);
    assert!(!got.is_empty());
    for record in &got {
        let record: Value = serde_json::from_str(record).unwrap();
        for bound in ["window_start", "window_end"] {
            let text = record[bound].as_str().unwrap();
            assert!(
                chrono::DateTime::parse_from_rfc3339(text).is_ok() && text.starts_with("9999-"),
                "{bound} {text}"
            );
        }
    }
}

#[test]
fn a_byte_order_mark_at_the_start_of_a_file_is_ignored() {
    // Issue 8: a UTF-8 BOM made the first line of a file malformed.
    let dir = tempfile::tempdir().unwrap();
    for name in ["bom.jsonl", "bom.jsonl.gz"] {
        let input = dir.path().join(name);
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(std::fs::read(fixture("tweets-v2.jsonl")).unwrap());
        if name.ends_with(".gz") {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            bytes = gz.finish().unwrap();
        }
        std::fs::write(&input, bytes).unwrap();
        let partitions = [messages(&fixture("tweets-v2.jsonl"))];
        let (want, counts) = expected(&partitions, Params::defaults(10_000));
        let (got, summary, _) = run(&[input], &["-w", "2"]);
        assert_eq!(got, want, "{name}");
        assert_counts(&summary, &counts);
        assert_eq!(summary["malformed"], 0, "{name}");
    }
}

#[test]
fn kafka_flags_without_brokers_are_usage_errors() {
    // Issue 8: --output-topic without --brokers was silently ignored although its help says it
    // needs --brokers.
    let input = fixture("tweets-v1.jsonl");
    for flags in [
        &["--output-topic", "windows"][..],
        &["-X", "acks=all"],
        &["--consumer-property", "queued.min.messages=10"],
    ] {
        let output = Command::new(binary("tweet-dataflow"))
            .arg("--input")
            .arg(&input)
            .args(flags)
            .output_within_limit();
        assert_eq!(output.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("needs --brokers"), "{flags:?}: {stderr}");
    }
}

#[test]
fn a_closed_standard_output_ends_the_run_quietly() {
    // Issue 9: `tweet-dataflow … | head` exited 1 with "Broken pipe".
    let input = fixture("tweets-v1.jsonl");
    let mut child = Command::new(binary("tweet-dataflow"))
        .args(["--input", input.to_str().unwrap(), "--format", "jsonl"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before the first window
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn a_run_stopped_by_a_failing_output_writes_only_complete_windows() {
    // Review of issue 8/9: a stop wrote windows that lacked tweets (a worker ahead had handed
    // over slides the others would never complete). Two files that overlap in time, read by two
    // workers, and a dead-letter file that cannot be written: the run stops early, and every
    // window it wrote is the reference's. The stop falls at a different moment each time.
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for seed in ["1", "2"] {
        let path = dir.path().join(format!("in{seed}.jsonl.gz"));
        let output = Command::new(binary("tweet-producer"))
            .args([
                "generate", "--count", "15000", "--rate", "100", "--noise", "--seed", seed,
            ])
            .arg("--out")
            .arg(&path)
            .output_within_limit();
        assert!(output.status.success());
        inputs.push(path);
    }
    let partitions: Vec<_> = inputs.iter().map(|p| messages(p)).collect();
    let (want, _) = expected(&partitions, Params::defaults(10_000));
    for attempt in 0..3 {
        let out = dir.path().join("out.jsonl");
        let output = Command::new(binary("tweet-dataflow"))
            .args([
                "-w",
                "2",
                "--dead-letter",
                "/dev/full",
                "--output",
                out.to_str().unwrap(),
            ])
            .args(
                inputs
                    .iter()
                    .flat_map(|p| ["--input".as_ref(), p.as_os_str()]),
            )
            .output_within_limit();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("No space left on device"), "{stderr}");
        let got = lines(&out);
        assert!(
            got.len() < want.len(),
            "attempt {attempt}: the run stopped early"
        );
        assert_eq!(
            got,
            want[..got.len()],
            "attempt {attempt}: only complete windows"
        );
    }
}

#[test]
fn a_malformed_secret_property_is_never_quoted() {
    // Review of issue 8: `-X sasl.password:hunter2` (no `=`) made clap quote the whole argument.
    let input = fixture("tweets-v1.jsonl");
    for (program, args) in [
        (
            "tweet-dataflow",
            vec![
                "--input",
                input.to_str().unwrap(),
                "-X",
                "sasl.password:S3CRET",
            ],
        ),
        (
            "tweet-dataflow",
            vec![
                "--brokers",
                "127.0.0.1:1",
                "--consumer-property",
                "sasl.password S3CRET",
            ],
        ),
        (
            "tweet-producer",
            vec![
                "replay",
                input.to_str().unwrap(),
                "--brokers",
                "127.0.0.1:1",
                "-X",
                "ssl.key.passwordS3CRET",
            ],
        ),
    ] {
        let output = Command::new(binary(program))
            .args(&args)
            .output_within_limit();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(2), "{program}: {printed}");
        assert!(
            printed.contains("is not of the form key=value"),
            "{printed}"
        );
        assert!(
            !printed.contains("S3CRET"),
            "{program} printed the secret: {printed}"
        );
    }
}
