//! Against a real Apache Kafka (started by `scripts/test.sh` through `scripts/kafka.sh`; its address
//! in `KAFKA_BROKERS`): producer → Kafka → bounded dataflow equals the sequential reference.
//!
//! Test plan: topics of 1, 3 and 8 partitions read by 1×1, 1×4 and 2 processes × 2 workers; bytes
//! that are not tweets written straight into the topic (garbage, truncated JSON, non-UTF-8, 5 MB);
//! SIGTERM in the middle of a replay loses no acknowledged record; a broker that is down and a topic
//! that does not exist are clear errors.

use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use tweetflow_tests::kafka::{
    bounded, brokers, count, count_if_exists, empty_topic, grow, raw_producer, run, topic,
};
use tweetflow_tests::mock_x::{self, MockX, Reply, Step};
use tweetflow_tests::reference::{self, Params};
use tweetflow_tests::util::{
    Cluster, OutputWithin, Running, binary, fixture, free_ports, messages, wait_for,
};

const FIXTURES: [&str; 4] = [
    "tweets-v1.jsonl",
    "tweets-v2.jsonl",
    "edge-cases.jsonl",
    "tweets-v1.jsonl.gz",
];

fn replay(topic: &str, partitions: u32) {
    let mut args: Vec<String> = vec!["replay".into()];
    args.extend(FIXTURES.iter().map(|f| fixture(f).display().to_string()));
    args.extend([
        "--brokers".into(),
        brokers(),
        "--topic".into(),
        topic.into(),
        "--partitions".into(),
        partitions.to_string(),
    ]);
    run("tweet-producer", &args);
}

/// The replay writes the files one after the other, up to ~5 minutes of event time apart: a
/// lateness of 10 minutes makes nothing late, so the result is the reference over all messages.
fn expected() -> String {
    let all: Vec<Vec<u8>> = FIXTURES
        .iter()
        .flat_map(|f| messages(&fixture(f)))
        .collect();
    reference::run_lines(&[all], Params::defaults(600_000)).0
}

#[test]
fn replayed_fixtures_equal_the_reference_on_every_layout() {
    let want = expected();
    for partitions in [1, 3, 8] {
        let topic = topic(&format!("layout{partitions}"));
        replay(&topic, partitions);
        for (processes, workers) in [(1, 1), (1, 4), (2, 2)] {
            let (got, _) = bounded(&topic, processes, workers, &[]);
            assert_eq!(
                got, want,
                "{partitions} partitions, {processes} x {workers}"
            );
        }
    }
}

#[test]
fn bytes_that_are_not_tweets_are_counted_and_dead_lettered() {
    let topic = topic("garbage");
    replay(&topic, 3);
    let producer = raw_producer();
    let five_mb = format!("{{\"text\":\"{}\"", "x".repeat(5 << 20));
    let garbage: [&[u8]; 4] = [
        b"garbage",
        b"{\"user\":{\"location\":\"Par",
        b"\xff\xfe\xfd",
        five_mb.as_bytes(),
    ];
    for (i, bytes) in garbage.iter().enumerate() {
        let record = BaseRecord::to(&topic)
            .key("junk")
            .payload(*bytes)
            .partition(i as i32 % 3);
        producer.send(record).map_err(|(e, _)| e).expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");

    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let dead_topic = format!("{topic}-dead");
    let (got, stderr) = bounded(
        &topic,
        1,
        2,
        &[
            "--dead-letter",
            dead.to_str().unwrap(),
            "--dead-letter-topic",
            &dead_topic,
        ],
    );
    assert_eq!(got, expected(), "results stay exact");
    // The letters of both workers in the dead-letter topic too, Kafka Connect's way.
    let in_topic = tweetflow_tests::kafka::read_all(&brokers(), &dead_topic);
    assert_eq!(in_topic.len(), 4, "{stderr}");
    for record in &in_topic {
        assert_eq!(record.header("tweetflow.class"), Some("malformed"));
        assert!(
            record
                .header("tweetflow.reason")
                .is_some_and(|r| !r.is_empty())
        );
        assert!(
            record
                .header("tweetflow.position")
                .unwrap()
                .starts_with(&format!("{topic}/"))
        );
    }
    assert!(
        in_topic.iter().any(|r| r.value.len() > 5 << 20),
        "the 5 MB message is kept whole in the topic too"
    );
    assert!(stderr.contains("malformed 4"), "{stderr}");
    let letters: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 4);
    for letter in &letters {
        let position = letter["position"].as_str().unwrap();
        assert!(
            position.starts_with(&format!("{topic}/")) && position.matches('/').count() == 2,
            "{position}"
        );
        assert_eq!(letter["class"], "malformed");
    }
    assert!(
        letters
            .iter()
            .any(|l| l["raw"].as_str().unwrap().len() > 5 << 20),
        "the 5 MB message is kept whole"
    );
}

#[test]
fn a_transactional_topic_is_read_to_its_end_and_aborted_records_are_not_counted() {
    // Commit markers take offsets and aborted records are skipped by a read_committed consumer, so
    // the last record's offset + 1 is below the high watermark: a bounded run must still end.
    let topic = empty_topic("txn", 2);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("transactional.id", format!("{topic}-producer"))
        .create()
        .expect("transactional producer");
    let limit = Duration::from_secs(30);
    producer
        .init_transactions(limit)
        .expect("init transactions");
    let committed = messages(&fixture("tweets-v1.jsonl"));
    let (first, second) = committed.split_at(committed.len() / 2);
    let aborted = messages(&fixture("tweets-v2.jsonl"));
    let send = |lines: &[Vec<u8>]| {
        for (i, line) in lines.iter().enumerate() {
            let key = i.to_string();
            producer
                .send(BaseRecord::to(&topic).key(&key).payload(line))
                .map_err(|(e, _)| e)
                .unwrap();
        }
    };
    for (lines, commit) in [(first, true), (&aborted[..], false), (second, true)] {
        producer.begin_transaction().unwrap();
        send(lines);
        if commit {
            producer.commit_transaction(limit).unwrap();
        } else {
            producer.flush(limit).unwrap();
            producer.abort_transaction(limit).unwrap();
        }
    }

    let (got, _) = bounded(&topic, 1, 2, &[]);
    let (want, _) = reference::run_lines(&[committed], Params::defaults(600_000));
    assert_eq!(got, want);
}

#[test]
fn sigterm_during_a_replay_loses_no_acknowledged_record() {
    let topic = topic("sigterm");
    let child = Running::start(
        Command::new(binary("tweet-producer"))
            .args([
                "replay",
                fixture("tweets-v1.jsonl").to_str().unwrap(),
                "--loop",
                "--rate",
                "3000",
            ])
            .args([
                "--brokers",
                &brokers(),
                "--topic",
                &topic,
                "--partitions",
                "3",
            ]),
    );
    // Stopped in the middle of its work: once over a thousand records are in the topic.
    wait_for("records in the topic", Duration::from_secs(60), || {
        count_if_exists(&topic) > 1000
    });
    child.terminate();
    let output = child.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "a clean stop exits 0: {stderr}");
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("delivered "))
        .expect("summary line");
    let delivered: i64 = summary.split([' ', ',']).nth(1).unwrap().parse().unwrap();
    assert!(summary.contains("failed 0, unconfirmed 0"), "{summary}");
    assert!(delivered > 1000, "it ran for a while: {summary}");
    assert_eq!(
        count(&topic),
        delivered,
        "every acknowledged record is in the topic, and only those"
    );
}

#[test]
fn a_broker_that_is_down_is_a_clear_error_not_a_hang() {
    let closed = format!("127.0.0.1:{}", free_ports(1)[0]);
    let started = Instant::now();
    let output = Command::new(binary("tweet-dataflow"))
        .args(["--brokers", &closed, "--topic", "tweets", "--bounded"])
        .output_within_limit();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("no answer from Kafka at {closed}")),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(45));

    let output = Command::new(binary("tweet-producer"))
        .args([
            "replay",
            fixture("tweets-v1.jsonl").to_str().unwrap(),
            "--brokers",
            &closed,
        ])
        .output_within_limit();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is the broker up?"));
}

#[test]
fn an_unknown_topic_is_a_clear_error() {
    let output = Command::new(binary("tweet-dataflow"))
        .args([
            "--brokers",
            &brokers(),
            "--topic",
            "no-such-topic-here",
            "--bounded",
        ])
        .output_within_limit();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("topic no-such-topic-here does not exist"),
        "{stderr}"
    );
}

#[test]
fn window_records_also_go_to_the_output_topic() {
    let input = topic("in");
    let output = topic("out");
    replay(&input, 3);
    let (stdout, _) = bounded(&input, 1, 2, &["--output-topic", &output]);
    assert_eq!(stdout, expected());

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", "tweetflow-tests")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&output]).expect("subscribe");
    let want: Vec<&str> = stdout.lines().collect();
    let mut got: Vec<(String, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < want.len() && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            use rdkafka::message::Message;
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            got.push((
                key,
                String::from_utf8(m.payload().unwrap().to_vec()).unwrap(),
            ));
        }
    }
    let values: Vec<&str> = got.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(values, want, "one record per window, in order");
    for (key, value) in &got {
        let record: serde_json::Value = serde_json::from_str(value).unwrap();
        assert_eq!(record["window_end"], key.as_str(), "keyed by window end");
    }
}

#[test]
fn generate_writes_the_same_tweets_into_kafka_as_into_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("generated.jsonl");
    let common = [
        "--count",
        "400",
        "--seed",
        "11",
        "--rate",
        "5",
        "--disorder",
        "2s",
        "--noise",
    ];
    let mut args: Vec<String> = vec![
        "generate".into(),
        "--out".into(),
        file.display().to_string(),
    ];
    args.extend(common.map(String::from));
    run("tweet-producer", &args);
    let topic = topic("generate");
    let mut args: Vec<String> = vec![
        "generate".into(),
        "--brokers".into(),
        brokers(),
        "--topic".into(),
        topic.clone(),
    ];
    args.extend(common.map(String::from));
    let output = run("tweet-producer", &args);
    assert!(String::from_utf8_lossy(&output.stderr).contains("failed 0, unconfirmed 0"));

    let (got, _) = bounded(&topic, 1, 2, &[]);
    let (want, _) = reference::run_lines(&[messages(&file)], Params::defaults(600_000));
    assert_eq!(got, want);
}

#[test]
fn an_idle_partition_stops_holding_back_the_windows_on_any_worker() {
    // Tweets only in partition 0 of 2. Without the idle timeout, partition 1 would hold every
    // window; on 2 workers or 2 processes it is another worker's, which has to learn how far the
    // cluster got from the worker that reads partition 0.
    let topic = empty_topic("idle", 2);
    let dir = tempfile::tempdir().unwrap();
    let lines = messages(&fixture("tweets-v1.jsonl"));
    let producer = raw_producer();
    for line in &lines {
        producer
            .send(BaseRecord::to(&topic).key("k").payload(line).partition(0))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    let lateness_ms = 10_000;
    let (want, _) = reference::run_lines(&[lines], Params::defaults(lateness_ms));
    let want: Vec<&str> = want.lines().collect();

    for (processes, workers) in [(1, 1), (1, 2), (2, 1)] {
        let out = dir.path().join(format!("out-{processes}x{workers}.jsonl"));
        let args = [
            "--brokers",
            &brokers(),
            "--topic",
            &topic,
            "--idle-timeout",
            "1s",
            "--lateness",
            "10s",
            "--format",
            "jsonl",
            "--output",
            out.to_str().unwrap(),
        ]
        .map(String::from);
        let cluster = Cluster::spawn(processes, workers, &args);
        // Only windows that end before the watermark can be written; the last ones stay open.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = String::new();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            got = std::fs::read_to_string(&out).unwrap_or_default();
            if got.lines().count() >= want.len() / 2 {
                break;
            }
        }
        drop(cluster);
        let complete: Vec<&str> = got
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(str::trim_end)
            .collect();
        assert!(
            complete.len() >= want.len() / 2,
            "{processes} x {workers}: only {} of {} windows written while partition 1 is idle",
            complete.len(),
            want.len()
        );
        assert_eq!(complete, want[..complete.len()], "{processes} x {workers}");
    }
}

#[test]
fn live_tweets_from_either_api_reach_the_windows_exactly() {
    // Mock X stream → tweet-producer stream → Kafka → bounded dataflow = the reference over the
    // tweets served. The first connection drops in the middle of a message, which the second
    // serves again whole; keep-alives and notices come between the tweets.
    let secrets = [
        ("X_BEARER_TOKEN", "e2e-bearer-secret"),
        ("TWITTER_CONSUMER_KEY", "e2e-ck"),
        ("TWITTER_CONSUMER_SECRET", "e2e-cs-secret"),
        ("TWITTER_ACCESS_TOKEN", "e2e-at"),
        ("TWITTER_ACCESS_TOKEN_SECRET", "e2e-ats-secret"),
    ];
    for (api, fixture_name) in [("v2", "tweets-v2.jsonl"), ("v1", "tweets-v1.jsonl")] {
        let auth = if api == "v2" {
            mock_x::Auth::Bearer(secrets[0].1.into())
        } else {
            mock_x::Auth::OAuth1 {
                consumer_key: secrets[1].1.into(),
                consumer_secret: secrets[2].1.into(),
                token: secrets[3].1.into(),
                token_secret: secrets[4].1.into(),
            }
        };
        let server = MockX::start(auth);
        let tweets = messages(&fixture(fixture_name));
        let half = tweets.len() / 2;
        let mut first: Vec<u8> = Vec::new();
        for (i, tweet) in tweets[..half].iter().enumerate() {
            first.extend_from_slice(tweet);
            first.extend_from_slice(b"\r\n");
            if i % 10 == 0 {
                first.extend_from_slice(b"\r\n{\"limit\":{\"track\":7}}\r\n");
            }
        }
        first.extend_from_slice(&tweets[half][..100]);
        let mut steps: Vec<Step> = first.chunks(1500).map(|c| Step::Send(c.to_vec())).collect();
        steps.push(Step::Close);
        server.push(Reply { status: 200, steps });
        let rest: Vec<&[u8]> = tweets[half..].iter().map(Vec::as_slice).collect();
        server.push(mock_x::split_reply(&rest, 1000));

        let topic = topic(&format!("stream-{api}"));
        let producer = Running::start(
            Command::new(binary("tweet-producer"))
                .args(["stream", "--api", api, "--track", "rust,timely dataflow"])
                .args(["--api-base", &server.base_url()])
                .args([
                    "--brokers",
                    &brokers(),
                    "--topic",
                    &topic,
                    "--partitions",
                    "3",
                ])
                .envs(secrets)
                .env("RUST_LOG", "debug"),
        );
        wait_for("every tweet in the topic", Duration::from_secs(60), || {
            count_if_exists(&topic) >= tweets.len() as i64
        });
        producer.terminate();
        let output = producer.wait();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{api}: a signal ends the stream cleanly: {stderr}"
        );
        assert!(
            stderr.contains("failed 0, unconfirmed 0"),
            "{api}: {stderr}"
        );
        assert!(stderr.contains("cut off 1"), "{api}: {stderr}");
        for (name, value) in secrets {
            assert!(!stderr.contains(value), "{api}: {name} in the logs");
        }
        assert_eq!(
            count(&topic),
            tweets.len() as i64,
            "{api}: every tweet, once"
        );

        let (got, _) = bounded(&topic, 1, 2, &[]);
        let (want, _) = reference::run_lines(&[tweets], Params::defaults(600_000));
        assert_eq!(got, want, "{api}");
    }
}

/// A v1.1 tweet line at `event_ms`, with a location and a mention that say where it came from.
fn v1_line(id: u64, event_ms: u64, place: &str) -> Vec<u8> {
    serde_json::json!({
        "id_str": id.to_string(),
        "timestamp_ms": event_ms.to_string(),
        "user": {"location": place},
        "entities": {"user_mentions": [{"screen_name": format!("m{}", id % 7)}]}
    })
    .to_string()
    .into_bytes()
}

fn send_to(producer: &BaseProducer, topic: &str, partition: i32, lines: &[Vec<u8>]) {
    for line in lines {
        producer
            .send(
                BaseRecord::to(topic)
                    .key("k")
                    .payload(line)
                    .partition(partition),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

#[test]
fn partitions_added_during_a_run_are_read_from_their_start() {
    // Issue 8, reproduced on the old main: a topic grown from 2 to 4 partitions during an
    // unbounded run gave windows with about half the tweets, and nothing said why.
    // Tweets of the new partitions are later than those already read, so none can be late; a
    // last tweet ten minutes on, in every partition, completes every window before it.
    let base = 1_480_817_220_000u64;
    let producer = raw_producer();
    for (processes, workers) in [(1, 1), (1, 2), (2, 1)] {
        let layout = format!("{processes}x{workers}");
        let topic = empty_topic(&format!("grow{layout}"), 2);
        let mut parts: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 4];
        for i in 0..400u64 {
            parts[(i % 2) as usize].push(v1_line(i, base + i * 100, "before"));
        }
        for i in 400..800u64 {
            parts[2 + (i % 2) as usize].push(v1_line(i, base + i * 100, "joined"));
        }
        send_to(&producer, &topic, 0, &parts[0]);
        send_to(&producer, &topic, 1, &parts[1]);

        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let args = [
            "--brokers",
            &brokers(),
            "--topic",
            &topic,
            "--idle-timeout",
            "10m",
            "--discovery-interval",
            "200ms",
            "--lateness",
            "10s",
            "--format",
            "jsonl",
            "--output",
            out.to_str().unwrap(),
        ]
        .map(String::from);
        let cluster = Cluster::spawn(processes, workers, &args);
        let logged = |what: &str, n: usize| cluster.stderr_so_far().matches(what).count() >= n;
        // Every process has counted the partitions before the topic grows.
        wait_for("the processes to start", Duration::from_secs(60), || {
            logged("starting", processes)
        });
        // One worker grows twice (a second growth is added to the partitions that joined first).
        let steps: &[usize] = if processes * workers == 1 {
            &[3, 4]
        } else {
            &[4]
        };
        for (n, &to) in steps.iter().enumerate() {
            grow(&topic, to);
            wait_for(
                "the new partitions to join",
                Duration::from_secs(60),
                || logged("new partitions joined", n + 1),
            );
        }
        // A producer that knows the new partitions.
        let grown = raw_producer();
        send_to(&grown, &topic, 2, &parts[2]);
        send_to(&grown, &topic, 3, &parts[3]);
        let end = base + 800 * 100 + 600_000;
        for p in 0..4 {
            send_to(&grown, &topic, p, &[v1_line(9000 + p as u64, end, "end")]);
            parts[p as usize].push(v1_line(9000 + p as u64, end, "end"));
        }

        let (want, _) = reference::run_lines(&parts, Params::defaults(10_000));
        let want: Vec<&str> = want.lines().collect();
        // The last two windows hold the final tweets and stay open.
        let complete = &want[..want.len() - 2];
        let written = || {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            text.split_inclusive('\n')
                .filter(|l| l.ends_with('\n'))
                .count()
        };
        let enough = || written() >= complete.len();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !enough() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let stderr = cluster.stderr_so_far();
        drop(cluster);
        let got = std::fs::read_to_string(&out).unwrap_or_default();
        let got: Vec<&str> = got.lines().collect();
        assert_eq!(got, complete, "{layout}: {stderr}");
        assert!(
            stderr.contains("the topic has new partitions"),
            "{layout}: logged"
        );
    }
}

#[test]
fn a_tweet_from_the_future_is_not_written_to_the_topic() {
    // Issue 8: the rule that a tweet more than --max-future after the wall clock is rejected holds
    // in the producer too, so such a tweet never reaches the topic.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("future.jsonl");
    let mut lines = messages(&fixture("tweets-v1.jsonl"));
    lines.insert(3, v1_line(1, 253_402_300_799_999, "future"));
    let text: Vec<u8> = lines
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect();
    std::fs::write(&file, text).unwrap();
    let dead = dir.path().join("dead.jsonl");
    let topic = topic("future");
    let args = [
        "replay",
        file.to_str().unwrap(),
        "--brokers",
        &brokers(),
        "--topic",
        &topic,
        "--dead-letter",
        dead.to_str().unwrap(),
    ]
    .map(String::from);
    run("tweet-producer", &args);
    assert_eq!(count(&topic), lines.len() as i64 - 1);
    let letters = std::fs::read_to_string(&dead).unwrap();
    let letter: serde_json::Value = serde_json::from_str(letters.trim()).unwrap();
    assert_eq!(letter["class"], "rejected");
    assert_eq!(letter["reason"], "event time in the future");
    assert_eq!(letter["position"], format!("{}:4", file.display()));
}

#[test]
fn no_secret_property_is_printed_by_either_binary() {
    // Issue 8, reproduced on the old main: `tweet-dataflow --brokers B --topic T --bounded
    // -X sasl.password=SECRET` printed `properties: [("sasl.password", "SECRET")]` in its INFO
    // start-up line, once per process.
    let topic = topic("secrets");
    replay(&topic, 2);
    let secrets = [
        ("sasl.password", "pw-S3CRET-1"),
        ("sasl.oauthbearer.config", "principal=x S3CRET-2"),
        ("ssl.key.password", "S3CRET-3"),
    ];
    let plain = [
        "-X".to_owned(),
        format!("{}={}", secrets[0].0, secrets[0].1),
    ];
    let all: Vec<String> = secrets
        .iter()
        .flat_map(|(k, v)| ["-X".to_owned(), format!("{k}={v}")])
        .collect();
    let fixture_file = fixture("tweets-v2.jsonl").display().to_string();
    let dataflow: Vec<String> = ["--brokers", &brokers(), "--topic", &topic, "--bounded"]
        .map(String::from)
        .to_vec();
    let producer: Vec<String> = [
        "replay",
        &fixture_file,
        "--brokers",
        &brokers(),
        "--topic",
        &topic,
    ]
    .map(String::from)
    .to_vec();
    let debug = ["-w", "2", "-X", "debug=broker,conf"].map(String::from);
    let runs: Vec<(&str, Vec<String>)> = vec![
        // Working runs: the start-up lines, librdkafka's debug output.
        ("tweet-dataflow", [&dataflow[..], &debug, &plain].concat()),
        ("tweet-producer", [&producer[..], &plain].concat()),
        // Failing runs: errors naming the properties librdkafka refuses (no TLS in this build).
        ("tweet-dataflow", [&dataflow[..], &all].concat()),
        ("tweet-producer", [&producer[..], &all].concat()),
    ];
    for (program, args) in runs {
        let output = Command::new(binary(program))
            .args(&args)
            .env("RUST_LOG", "debug")
            .output_within_limit();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(printed.len() > 100, "{program} said something");
        for (name, value) in secrets {
            assert!(
                !printed.contains(value),
                "{program} {args:?} printed {name}: {printed}"
            );
        }
    }
}

#[test]
fn a_sasl_client_on_a_plaintext_listener_is_told_so_within_seconds() {
    // Issue 8: a SASL client talking to a plaintext listener was reported as "no answer … is it
    // running?" after 30 s.
    let sasl = [
        "-X",
        "security.protocol=SASL_PLAINTEXT",
        "-X",
        "sasl.mechanisms=PLAIN",
        "-X",
        "sasl.username=alice",
        "-X",
        "sasl.password=alice-secret",
    ];
    let fixture_file = fixture("tweets-v2.jsonl").display().to_string();
    for (program, args) in [
        (
            "tweet-dataflow",
            vec!["--brokers", &brokers(), "--topic", "tweets", "--bounded"],
        ),
        (
            "tweet-producer",
            vec![
                "replay",
                &fixture_file,
                "--brokers",
                &brokers(),
                "--topic",
                "sasl-test",
            ],
        ),
    ] {
        let started = Instant::now();
        let output = Command::new(binary(program))
            .args(args)
            .args(sasl)
            .output_within_limit();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{program}: {stderr}");
        assert!(
            stderr.contains("the listener may not do SASL") && !stderr.contains("is the broker up"),
            "{program}: {stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{program} took {:?}",
            started.elapsed()
        );
        assert!(!stderr.contains("alice-secret"));
    }
}

#[test]
fn replay_loop_over_files_without_tweets_is_an_error_not_a_busy_loop() {
    // Issue 8: `replay --loop` on an empty or all-garbage file spun at 100 % CPU forever.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let garbage = dir.path().join("garbage.jsonl");
    std::fs::write(&garbage, "not json\n{\"delete\":{}}\n\n").unwrap();
    let topic = topic("loop");
    for file in [empty, garbage] {
        let output = Running::start(Command::new(binary("tweet-producer")).args([
            "replay",
            file.to_str().unwrap(),
            "--loop",
            "--brokers",
            &brokers(),
            "--topic",
            &topic,
        ]))
        .wait_until(Instant::now() + Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("nothing to replay"), "{stderr}");
    }
}

#[test]
fn an_unbounded_run_whose_reader_goes_away_stops_and_exits_0() {
    // Issue 9: an unbounded run piped into `head` kept reading forever after the pipe closed.
    use std::io::BufRead;
    let topic = topic("pipe");
    replay(&topic, 2);
    let mut child = Command::new(binary("tweet-dataflow"))
        .args([
            "--brokers",
            &brokers(),
            "--topic",
            &topic,
            "--idle-timeout",
            "1s",
        ])
        .args(["--format", "jsonl", "--lateness", "10s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"window_start\""), "{first}");
    drop(stdout); // `head -1` is done
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run went on reading after its reader left");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_recovery_writes_the_tweets_of_its_period_the_topic_lacks_once() {
    // Issue 11: `stream --recover FROM..TO` re-streams a past period (X's Recovery, not
    // deduplicated); the tweets of the period the topic already holds are not written again.
    let token = "e2e-recover-secret";
    let server = MockX::start(mock_x::Auth::Bearer(token.into()));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let template: serde_json::Value =
        serde_json::from_slice(&messages(&fixture("tweets-v2.jsonl"))[0]).unwrap();
    // Ten tweets of the last hour, a few minutes apart, each matched when it was created.
    let posts: Vec<Vec<u8>> = (0..10)
        .map(|i| {
            let at = now_ms - 50 * 60_000 + i * 4 * 60_000;
            let mut post = template.clone();
            post["data"]["id"] = format!("9{i:017}").into();
            post["data"]["created_at"] = chrono::DateTime::from_timestamp_millis(at)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
                .into();
            let bytes = post.to_string().into_bytes();
            server.matched(at, &bytes);
            bytes
        })
        .collect();
    // The topic holds the first half already (a stream that ran then).
    let topic = topic("recover");
    let dir = tempfile::tempdir().unwrap();
    let held = dir.path().join("held.jsonl");
    let text: Vec<u8> = posts[..5]
        .iter()
        .flat_map(|p| [&p[..], b"\n"].concat())
        .collect();
    std::fs::write(&held, text).unwrap();
    run(
        "tweet-producer",
        &[
            "replay".into(),
            held.display().to_string(),
            "--brokers".into(),
            brokers(),
            "--topic".into(),
            topic.clone(),
        ],
    );
    let stamp = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let period = format!(
        "{}..{}",
        stamp(now_ms - 55 * 60_000),
        stamp(now_ms - 60_000)
    );
    let output = Command::new(binary("tweet-producer"))
        .args(["stream", "--track", "rust", "--recover", &period])
        .args(["--api-base", &server.base_url()])
        .args(["--brokers", &brokers(), "--topic", &topic])
        .env("X_BEARER_TOKEN", token)
        .output_within_limit();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the recovery ends by itself: {stderr}"
    );
    assert!(stderr.contains("duplicates 5,"), "{stderr}");
    let keys: Vec<Vec<u8>> = tweetflow_tests::kafka::read_all(&brokers(), &topic)
        .into_iter()
        .map(|r| r.key.unwrap())
        .collect();
    let mut want: Vec<Vec<u8>> = (0..10).map(|i| format!("9{i:017}").into_bytes()).collect();
    let mut got = keys.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "every tweet of the period once");
    let asked = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/2/tweets/search/stream")
        .expect("a stream request");
    assert!(asked.query_param("start_time").is_some() && asked.query_param("end_time").is_some());
}

#[test]
fn topics_compressed_by_other_clients_with_zstd_or_snappy_are_read() {
    // Issue 12: librdkafka was built without zstd, so a topic written by another client with
    // compression.type=zstd could not be read.
    let tweets = messages(&fixture("tweets-v1.jsonl"));
    let (want, _) = reference::run_lines(std::slice::from_ref(&tweets), Params::defaults(600_000));
    for codec in ["zstd", "snappy", "gzip"] {
        let topic = empty_topic(&format!("codec-{codec}"), 1);
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("compression.type", codec)
            .create()
            .expect("producer");
        send_to(&producer, &topic, 0, &tweets);
        let (got, stderr) = bounded(&topic, 1, 1, &[]);
        assert_eq!(got, want, "{codec}: {stderr}");
    }
}

/// The tweets a run counted, from its `--summary` file.
fn summary_tweets(path: &std::path::Path) -> u64 {
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    summary["tweets"].as_u64().unwrap()
}

/// Replays `lines` into `topic` with the producer (record timestamps = event times).
fn replay_lines(topic: &str, lines: &[Vec<u8>], partitions: u32) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    tweetflow_tests::inputs::write_lines(&file, lines);
    run(
        "tweet-producer",
        &[
            "replay".into(),
            file.display().to_string(),
            "--brokers".into(),
            brokers(),
            "--topic".into(),
            topic.to_owned(),
            "--partitions".into(),
            partitions.to_string(),
        ],
    );
}

#[test]
fn a_group_id_commits_the_checkpoints_offsets_and_start_committed_goes_on_there() {
    // Issue 12: nothing was committed, so lag tools saw nothing, and a run could only start at
    // earliest or latest.
    let topic = topic("group");
    let base = 1_480_817_220_000;
    let first: Vec<Vec<u8>> = (0..300)
        .map(|i| v1_line(i, base + i * 100, "Lyon"))
        .collect();
    replay_lines(&topic, &first, 2);
    let group = format!("{topic}-group");
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let summary = dir.path().join("summary.json");
    let common = [
        "--brokers".to_owned(),
        brokers(),
        "--topic".to_owned(),
        topic.clone(),
        "--bounded".to_owned(),
        "--group-id".to_owned(),
        group.clone(),
        "--summary".to_owned(),
        summary.display().to_string(),
        "--format".to_owned(),
        "jsonl".to_owned(),
    ];
    let mut args = common.to_vec();
    args.extend(["--checkpoint".to_owned(), ckpt.display().to_string()]);
    run("tweet-dataflow", &args);
    assert_eq!(summary_tweets(&summary), 300);

    // What kafka-consumer-groups.sh and lag dashboards read: the group's committed offsets.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", &group)
        .create()
        .unwrap();
    let mut list = rdkafka::TopicPartitionList::new();
    list.add_partition(&topic, 0);
    list.add_partition(&topic, 1);
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    for p in 0..2 {
        let (_, high) = consumer
            .fetch_watermarks(&topic, p, Duration::from_secs(10))
            .unwrap();
        let at = committed.find_partition(&topic, p).unwrap().offset();
        assert_eq!(at, rdkafka::Offset::Offset(high), "partition {p}: lag 0");
    }

    // More tweets; a run from the committed offsets reads only those.
    let more: Vec<Vec<u8>> = (300..420)
        .map(|i| v1_line(i, base + i * 100, "Paris"))
        .collect();
    replay_lines(&topic, &more, 2);
    let mut args = common.to_vec();
    args.extend(["--start".to_owned(), "committed".to_owned()]);
    run("tweet-dataflow", &args);
    assert_eq!(
        summary_tweets(&summary),
        120,
        "only what came after the commit"
    );
}

#[test]
fn start_at_a_time_begins_with_the_first_tweet_at_or_after_it() {
    let topic = topic("start-time");
    let base = 1_480_817_220_000;
    let lines: Vec<Vec<u8>> = (0..100)
        .map(|i| v1_line(i, base + i * 1000, "Lyon"))
        .collect();
    replay_lines(&topic, &lines, 1);
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let at = chrono::DateTime::from_timestamp_millis(base as i64 + 40_000)
        .unwrap()
        .to_rfc3339();
    run(
        "tweet-dataflow",
        &[
            "--brokers".into(),
            brokers(),
            "--topic".into(),
            topic.clone(),
            "--bounded".into(),
            "--start".into(),
            at,
            "--summary".into(),
            summary.display().to_string(),
        ],
    );
    assert_eq!(summary_tweets(&summary), 60, "tweets 40..100");
}
