//! The producer's edge (issue 11): `replay --resume` and `generate --resume`, killed with SIGKILL
//! at seeded random moments and run again, leave every tweet of the input in the topic once for a
//! `read_committed` reader, every dead letter once in the file, and windows equal to the
//! reference over the input.
//!
//! Test plan: a replay of 300,000 tweets (and a malformed line every 997) SIGKILLed 6 times, each
//! time once the topic has grown past a seeded threshold, rerun with the same command; the last
//! run goes to the end. Then: the topic's tweets are the file's, each once; the dead letters are
//! the malformed lines, each once; a bounded dataflow over the topic equals the reference over the
//! file. The same for `generate --resume`, whose position is the tweet number. A rerun under the
//! same name with other input is refused; a finished job run again writes nothing.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tweetflow_tests::inputs::{Rng, input, write_lines};
use tweetflow_tests::kafka::{bounded, brokers, count_if_exists, read_all, run, topic};
use tweetflow_tests::reference::{self, Params};
use tweetflow_tests::util::{OutputWithin, Running, binary, lines, messages, wait_for};

/// The input: tweets, with a line that is not JSON every 997 lines.
fn noisy_input(n: u64, seed: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, tweet) in input(n, 5_000, seed).into_iter().enumerate() {
        if i % 997 == 500 {
            out.push(format!("{{not json {i}").into_bytes());
        }
        out.push(tweet);
    }
    out
}

fn id_of(line: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(line).unwrap();
    v["id_str"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v["id"].to_string())
}

/// `replay FILE --resume TOPIC` into `topic` at `rate` tweets/s, committing every `interval`, dead
/// letters to `dead`.
fn resumed_replay(
    file: &Path,
    topic: &str,
    rate: &str,
    interval: &str,
    dead: &Path,
) -> Vec<String> {
    [
        "replay",
        file.to_str().unwrap(),
        "--brokers",
        &brokers(),
        "--topic",
        topic,
        "--rate",
        rate,
        "--resume",
        topic,
        "--commit-interval",
        interval,
        "--dead-letter",
        dead.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// The line of `file` after which a run logged that it resumed.
fn resumed_after(stderr: &str, file: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .find(|l| l.contains("resuming after the last committed position"))?;
    let at = line.find(&format!("{file}:"))? + file.len() + 1;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// SIGKILLs `command` (a producer writing `total` tweets into `topic`) `kills` times, each time
/// once the topic holds a seeded share more records than before; runs it again each time; the last
/// run ends by itself. Returns the stderr of every run.
fn kill_loop(args: &[String], topic: &str, total: i64, kills: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut runs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    for k in 0..kills {
        let before = count_if_exists(topic);
        let step = (total / (kills as i64 + 2)) * (50 + rng.below(100) as i64) / 100;
        let threshold = (before + step.max(1)).min(total - 1);
        let mut producer = Running::start(Command::new(binary("tweet-producer")).args(args));
        wait_for(
            &format!("kill {k}: the topic past {threshold} records"),
            Duration::from_secs(120),
            || count_if_exists(topic) > threshold || producer.exited(),
        );
        assert!(
            Instant::now() < deadline,
            "the kill loop took over 5 minutes"
        );
        producer.signal("-KILL");
        let output = producer.wait();
        runs.push(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let output = Command::new(binary("tweet-producer"))
        .args(args)
        .output_within_limit();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "the last run: {stderr}");
    runs.push(stderr);
    runs
}

/// The topic's tweet ids (record keys), with how often each is there.
fn ids_in(topic: &str) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in read_all(&brokers(), topic) {
        let key = String::from_utf8(r.key.expect("keyed")).unwrap();
        *seen.entry(key).or_insert(0) += 1;
    }
    seen
}

/// Every tweet of `file` is in `topic` once, and nothing else is.
fn assert_each_tweet_once(file: &Path, topic: &str) {
    let want: HashSet<String> = messages(file)
        .iter()
        .filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok())
        .map(|l| id_of(l))
        .collect();
    let seen = ids_in(topic);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "tweets written twice: {twice:?}");
    let missing: Vec<_> = want
        .iter()
        .filter(|id| !seen.contains_key(*id))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "tweets missing: {missing:?}");
    assert_eq!(seen.len(), want.len(), "nothing else in the topic");
}

/// A bounded dataflow over `topic` (lateness 10 min: nothing is late whatever the partition)
/// equals the reference over `file`.
fn assert_windows_equal_reference(file: &Path, topic: &str) {
    let (got, _) = bounded(topic, 1, 2, &[]);
    let (want, _) = reference::run_lines(&[messages(file)], Params::defaults(600_000));
    assert!(!want.is_empty());
    assert!(
        got == want,
        "the windows differ from the reference over the file"
    );
}

#[test]
fn replay_killed_again_and_again_with_resume_writes_every_tweet_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    let lines_in = noisy_input(300_000, 0x11_0001);
    write_lines(&file, &lines_in);
    let dead = dir.path().join("dead.jsonl");
    let topic = topic("resume-replay");
    let mut args = resumed_replay(&file, &topic, "100000", "300ms", &dead);
    args.extend(["--dead-letter-topic".into(), format!("{topic}-dead")]);
    let runs = kill_loop(&args, &topic, 300_000, 6, 0x11_0002);
    // Each rerun went on after a committed position, never an earlier one than the run before.
    let resumed: Vec<u64> = runs[1..]
        .iter()
        .map(|stderr| {
            resumed_after(stderr, file.to_str().unwrap())
                .unwrap_or_else(|| panic!("no resume: {stderr}"))
        })
        .collect();
    assert!(resumed.windows(2).all(|w| w[0] <= w[1]), "{resumed:?}");
    assert!(
        resumed.iter().collect::<HashSet<_>>().len() >= 4,
        "the kills landed at distinct commits: {resumed:?}"
    );
    assert_each_tweet_once(&file, &topic);
    let letters = lines(&dead);
    let malformed = lines_in.iter().filter(|l| l.starts_with(b"{not")).count();
    let positions: HashSet<String> = letters
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["position"].to_string())
        .collect();
    assert_eq!(letters.len(), malformed, "every dead letter once");
    assert_eq!(positions.len(), malformed);
    // And once in the dead-letter topic (in the transactions of the tweets), with its headers.
    let in_topic = read_all(&brokers(), &format!("{topic}-dead"));
    let topic_positions: HashSet<String> = in_topic
        .iter()
        .map(|r| {
            assert_eq!(r.header("tweetflow.class"), Some("malformed"));
            format!("{:?}", r.header("tweetflow.position").unwrap())
        })
        .collect();
    assert_eq!(
        in_topic.len(),
        malformed,
        "every dead letter once in the topic"
    );
    assert_eq!(topic_positions, positions, "the file's letters");
    assert_windows_equal_reference(&file, &topic);
    eprintln!(
        "replay --resume: {} kills, resumed after lines {resumed:?}; 300000 tweets once, {malformed} dead letters once",
        runs.len() - 1
    );
}

#[test]
fn generate_killed_with_resume_writes_every_tweet_once() {
    let topic = topic("resume-generate");
    let count = 30_000;
    let args: Vec<String> = [
        "generate",
        "--count",
        &count.to_string(),
        "--seed",
        "11",
        "--brokers",
        &brokers(),
        "--topic",
        &topic,
        "--resume",
        &topic,
        "--commit-interval",
        "200ms",
    ]
    .map(String::from)
    .to_vec();
    let runs = kill_loop(&args, &topic, count, 3, 0x11_0003);
    let resumed = runs[1..]
        .iter()
        .filter(|stderr| stderr.contains("resuming after the last committed position"))
        .count();
    assert!(resumed >= 2, "reruns went on from a commit: {resumed} of 3");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("same.jsonl");
    run(
        "tweet-producer",
        &[
            "generate",
            "--count",
            &count.to_string(),
            "--seed",
            "11",
            "--out",
            file.to_str().unwrap(),
        ]
        .map(String::from),
    );
    assert_each_tweet_once(&file, &topic);
    assert_windows_equal_reference(&file, &topic);
}

#[test]
fn a_kill_at_each_moment_of_a_commit_then_a_rerun_writes_every_tweet_once() {
    // Review of issue 11: kills timed by the topic's growth land just after a commit; these land
    // between the dead-letter sync, the progress record and the commit.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    write_lines(&file, &noisy_input(40_000, 0x11_0004));
    let malformed = lines_in_file(&file);
    for point in ["before-progress", "before-commit", "after-commit"] {
        let topic = topic(&format!("resume-{point}"));
        let dead = dir.path().join(format!("{point}.jsonl"));
        let args = resumed_replay(&file, &topic, "20000", "100ms", &dead);
        let killed = Command::new(binary("tweet-producer"))
            .args(&args)
            .env("TWEETFLOW_CRASH", format!("{point}:3"))
            .output_within_limit();
        let stderr = String::from_utf8_lossy(&killed.stderr);
        assert!(
            stderr.contains(&format!("crash point {point}")),
            "{point}: {stderr}"
        );
        let rerun = Command::new(binary("tweet-producer"))
            .args(&args)
            .output_within_limit();
        let stderr = String::from_utf8_lossy(&rerun.stderr);
        assert!(rerun.status.success(), "{point}: {stderr}");
        assert!(stderr.contains("resuming after"), "{point}: {stderr}");
        assert_each_tweet_once(&file, &topic);
        assert_eq!(
            lines(&dead).len(),
            malformed,
            "{point}: every dead letter once"
        );
    }
}

/// The lines of `file` that are not JSON.
fn lines_in_file(file: &Path) -> usize {
    messages(file)
        .iter()
        .filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_err())
        .count()
}

#[test]
fn a_finished_job_writes_nothing_again_and_another_input_under_its_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    write_lines(&a, &noisy_input(2_000, 1));
    write_lines(&b, &noisy_input(2_000, 2));
    let topic = topic("resume-finished");
    let replay = |file: &Path| {
        Command::new(binary("tweet-producer"))
            .args(["replay", file.to_str().unwrap(), "--brokers", &brokers()])
            .args(["--topic", &topic, "--resume", &topic])
            .output_within_limit()
    };
    assert!(replay(&a).status.success());
    let again = replay(&a);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(stderr.contains("delivered 0,"), "{stderr}");
    assert_each_tweet_once(&a, &topic);
    let other = replay(&b);
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another job"), "{stderr}");
    assert_each_tweet_once(&a, &topic);
}
