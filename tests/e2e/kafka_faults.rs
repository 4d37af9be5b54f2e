//! Faults of the Kafka cluster itself, on a private broker (`tweetflow_tests::broker`) that the
//! test kills or restarts, so the shared broker of the other tests stays up.
//!
//! Test plan: the producer with its broker killed longer than `message.timeout.ms` stops reading,
//! keeps every refused tweet (bytes and key) as a dead letter, logs at a bounded rate and names the
//! position a rerun starts from; every tweet before it is in the topic.

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use tweetflow_tests::broker::Broker;
use tweetflow_tests::kafka::{count_on_if_exists, read_all, topic};
use tweetflow_tests::util::{Running, binary, messages, wait_for};

#[test]
fn tweets_kafka_refuses_are_dead_lettered_and_the_rerun_position_is_named() {
    // Issue 8, reproduced on the old main: with the broker down longer than message.timeout.ms,
    // `replay` kept sending, lost 36,215 tweets for good, wrote one ERROR line per record (7.3 MB of
    // stderr in 45 s, no key, no id), and only said at exit that tweets were not acknowledged.
    let broker = Broker::start(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tweets.jsonl");
    let generated = Command::new(binary("tweet-producer"))
        .args([
            "generate",
            "--count",
            "20000",
            "--seed",
            "3",
            "--out",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(generated.status.success());
    let lines = messages(&file);
    let dead = dir.path().join("dead.jsonl");
    let topic = topic("refused");
    let replay = Running::start(Command::new(binary("tweet-producer")).args([
        "replay",
        file.to_str().unwrap(),
        // Slow enough that a refusal arriving late on a loaded machine (librdkafka times records
        // out in batches) still leaves most of the file unread.
        "--rate",
        "500",
        "--brokers",
        broker.address(),
        "--topic",
        &topic,
        "--dead-letter",
        dead.to_str().unwrap(),
        "-X",
        "message.timeout.ms=3000",
    ]));
    wait_for(
        "a thousand tweets in the topic",
        Duration::from_secs(60),
        // Just created, the topic's partitions may have no leader yet: none counted then.
        || count_on_if_exists(broker.address(), &topic) > 1000,
    );
    broker.kill(0);
    let killed = Instant::now();
    let output = replay.wait_until(Instant::now() + Duration::from_secs(90));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        killed.elapsed() < Duration::from_secs(40),
        "it stops reading soon after the first refusal, not at the end of the file"
    );
    assert!(
        stderr.lines().count() < 60,
        "a bounded number of lines, not one per record: {} lines",
        stderr.lines().count()
    );
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("delivered "))
        .expect("summary line");
    let field = |name: &str| -> u64 {
        let at = summary.find(&format!("{name} ")).unwrap() + name.len() + 1;
        summary[at..]
            .split([',', ' '])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (delivered, failed) = (field("delivered"), field("failed"));
    assert!(failed > 0 && delivered > 1000, "{summary}");
    assert!(
        delivered + failed < lines.len() as u64 / 2,
        "it did not send the rest of the file into the void: {summary}"
    );
    let marker = "every tweet before ";
    let at = &stderr[stderr.find(marker).expect("a rerun position") + marker.len()..];
    let position = at.split(" was delivered").next().unwrap();
    let line: usize = position
        .strip_prefix(&format!("{}:", file.display()))
        .unwrap_or_else(|| panic!("{position} names the file"))
        .parse()
        .unwrap();

    let letters: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let refused: Vec<&serde_json::Value> = letters
        .iter()
        .filter(|l| l["class"] == "undelivered")
        .collect();
    assert_eq!(refused.len() as u64, failed, "every refused tweet is kept");
    for letter in &refused {
        let n: usize = letter["position"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(n >= line, "nothing before the rerun position was refused");
        assert_eq!(
            letter["raw"].as_str().unwrap().as_bytes(),
            &lines[n - 1][..],
            "its bytes"
        );
        let key = letter["key"].as_str().expect("its key");
        assert!(
            letter["raw"]
                .as_str()
                .unwrap()
                .contains(&format!("\"id_str\":\"{key}\""))
        );
    }

    broker.restart();
    let keys: HashSet<Vec<u8>> = read_all(broker.address(), &topic)
        .into_iter()
        .filter_map(|r| r.key)
        .collect();
    assert!(
        keys.len() as u64 >= delivered,
        "every acknowledged tweet is in the topic"
    );
    for (i, tweet) in lines[..line - 1].iter().enumerate() {
        let id = serde_json::from_slice::<serde_json::Value>(tweet).unwrap()["id_str"]
            .as_str()
            .unwrap()
            .as_bytes()
            .to_vec();
        assert!(
            keys.contains(&id),
            "line {} is before the rerun position but not in the topic",
            i + 1
        );
    }
}
