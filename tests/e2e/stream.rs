//! The X streaming clients against `MockX`, a local server that speaks both streaming protocols
//! (chunked transfer, keep-alives, rules endpoints, OAuth 1.0a checked by its own implementation of
//! X's published algorithm).
//!
//! Test plan: a normal v2 stream with messages split across chunks and several in one chunk; rules
//! synced with `--track` (our stale rules deleted, others' kept, dry run changes nothing); a
//! disconnect in the middle of a message, then resume; 429 then success, and 503, with the backoff
//! clock injected so nothing sleeps; 401 on both APIs, fatal and naming the credential, never its
//! value; a stalled connection replaced; v1.1 with `limit.track` counted as deltas per connection,
//! a disconnect notice and an in-band v2 error acted on. The binary reads credentials from `.env`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tweet_producer::stream::{
    self, Api, Auth, BoxError, OAuth1, Secret, Sleep, StreamConfig, StreamError, StreamStats,
};
use tweetflow_tests::mock_x::{self, MockX, Reply, Rule, Step};
use tweetflow_tests::util::{OutputWithin, binary, fixture, messages};

const TOKEN: &str = "test-bearer-AAAA%2Fsecret";

/// Records the delays it is asked for and returns at once.
#[derive(Default)]
struct Clock(RefCell<Vec<Duration>>);

impl Sleep for Clock {
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> {
        self.0.borrow_mut().push(delay);
        std::future::ready(())
    }
}

fn config(api: Api, server: &MockX) -> StreamConfig {
    StreamConfig {
        api,
        base: server.base_url(),
        track: vec!["rust".into(), "timely dataflow".into()],
        rule_tag: "tweetflow".into(),
        stall_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(5),
        backfill: false,
        recover: None,
    }
}

fn bearer() -> Auth {
    Auth::Bearer(Secret::new(TOKEN))
}

fn oauth() -> (mock_x::Auth, Auth) {
    let [ck, cs, t, ts] = ["ck-1", "cs-secret-2", "t-3", "ts-secret-4"];
    (
        mock_x::Auth::OAuth1 {
            consumer_key: ck.into(),
            consumer_secret: cs.into(),
            token: t.into(),
            token_secret: ts.into(),
        },
        Auth::OAuth1(OAuth1 {
            consumer_key: Secret::new(ck),
            consumer_secret: Secret::new(cs),
            token: Secret::new(t),
            token_secret: Secret::new(ts),
        }),
    )
}

struct Run {
    /// (message, position) in the order the sink saw them.
    seen: Vec<(Vec<u8>, String)>,
    result: Result<(), StreamError>,
    counted: StreamStats,
    delays: Vec<Duration>,
}

impl Run {
    fn messages(&self) -> Vec<Vec<u8>> {
        self.seen.iter().map(|(m, _)| m.clone()).collect()
    }

    fn stats(&self) -> &StreamStats {
        if let Err(e) = &self.result {
            panic!("the run ends without error, not: {e}");
        }
        &self.counted
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Streams until the sink has seen `until` messages (then stops, as a signal would), or errors.
fn stream(config: &StreamConfig, auth: &Auth, until: usize) -> Run {
    let runtime = runtime();
    let stop = AtomicBool::new(false);
    let clock = Clock::default();
    let mut seen = Vec::new();
    let mut sink = |message: &[u8], position: &str| -> Result<(), BoxError> {
        seen.push((message.to_vec(), position.to_owned()));
        if seen.len() >= until {
            stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    };
    let mut counted = StreamStats::default();
    let result = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            stream::run(config, auth, &mut sink, &stop, &clock, &mut counted),
        )
        .await
        .expect("the stream run ends within a minute")
    });
    Run {
        seen,
        result,
        counted,
        delays: clock.0.into_inner(),
    }
}

fn v2_lines() -> Vec<Vec<u8>> {
    messages(&fixture("tweets-v2.jsonl"))
}

fn line(bytes: &[u8]) -> Vec<u8> {
    let mut l = bytes.to_vec();
    l.extend_from_slice(b"\r\n");
    l
}

#[test]
fn v2_stream_frames_messages_across_and_within_chunks() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    let mut steps = vec![Step::Send(b"\r\n".to_vec())];
    // The first message in three chunks, the next three in one chunk, the rest one per chunk with
    // keep-alives between.
    let first = line(&lines[0]);
    let (a, rest) = first.split_at(10);
    let (b, c) = rest.split_at(rest.len() / 2);
    steps.extend([a, b, c].map(|p| Step::Send(p.to_vec())));
    steps.push(Step::Send(
        lines[1..4].iter().flat_map(|l| line(l)).collect(),
    ));
    for l in &lines[4..] {
        steps.push(Step::Send(line(l)));
        steps.push(Step::Send(b"\r\n".to_vec()));
    }
    steps.push(Step::Hang);
    server.push(Reply { status: 200, steps });

    let config = config(Api::V2, &server);
    let run = stream(&config, &bearer(), lines.len());
    assert_eq!(run.messages(), lines);
    let stats = run.stats();
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.messages, lines.len() as u64);
    assert!(stats.keep_alives >= lines.len() as u64 - 4, "{stats:?}");
    assert_eq!((stats.cut_off, stats.stalls), (0, 0));

    let request = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/2/tweets/search/stream")
        .expect("a stream request");
    assert_eq!(request.method, "GET");
    let query = |k: &str| {
        request
            .query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    for (key, value) in stream::V2_FIELDS {
        assert_eq!(query(key).as_deref(), Some(value), "{key}");
    }
    let header = |k: &str| {
        request
            .headers
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("authorization").as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[test]
fn v2_rules_follow_track_and_leave_foreign_rules_alone() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let rule = |id: &str, value: &str, tag: Option<&str>| Rule {
        id: id.into(),
        value: value.into(),
        tag: tag.map(str::to_owned),
    };
    server.set_rules(vec![
        rule("1", "rust", Some("tweetflow")),
        rule("2", "old term", Some("tweetflow")),
        rule("3", "cats", Some("someone-else")),
    ]);
    let config = config(Api::V2, &server);
    let Auth::Bearer(token) = bearer() else {
        unreachable!()
    };
    let runtime = runtime();

    let plan = runtime
        .block_on(stream::sync_rules(&config, &token, true))
        .unwrap();
    assert_eq!(plan.add, ["timely dataflow"]);
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(server.rules().len(), 3, "a dry run changes nothing");

    runtime
        .block_on(stream::sync_rules(&config, &token, false))
        .unwrap();
    let mut values: Vec<(String, Option<String>)> = server
        .rules()
        .into_iter()
        .map(|r| (r.value, r.tag))
        .collect();
    values.sort();
    let tag = Some("tweetflow".to_owned());
    assert_eq!(
        values,
        [
            ("cats".to_owned(), Some("someone-else".to_owned())),
            ("rust".to_owned(), tag.clone()),
            ("timely dataflow".to_owned(), tag),
        ]
    );
    let again = runtime
        .block_on(stream::sync_rules(&config, &token, false))
        .unwrap();
    assert!(again.is_empty(), "in sync: {again:?}");
}

#[test]
fn a_disconnect_in_the_middle_of_a_message_reconnects_at_once_and_resumes() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    let half = line(&lines[3]);
    server.push(Reply {
        status: 200,
        steps: vec![
            Step::Send(lines[..3].iter().flat_map(|l| line(l)).collect()),
            Step::Send(half[..half.len() / 2].to_vec()),
            Step::Close,
        ],
    });
    server.push(mock_x::messages_reply(
        &lines[3..].iter().map(Vec::as_slice).collect::<Vec<_>>(),
    ));
    let config = config(Api::V2, &server);
    let run = stream(&config, &bearer(), lines.len() + 1);

    let (cut, whole): (Vec<_>, Vec<_>) = run
        .seen
        .iter()
        .partition(|(_, position)| position.contains("cut off"));
    assert_eq!(cut.len(), 1, "the fragment goes to the sink once, marked");
    assert_eq!(cut[0].0, half[..half.len() / 2]);
    let whole: Vec<Vec<u8>> = whole.into_iter().map(|(m, _)| m.clone()).collect();
    assert_eq!(whole, lines, "every complete message, none twice");
    let stats = run.stats();
    assert_eq!((stats.connections, stats.cut_off), (2, 1));
    assert_eq!(
        run.delays,
        [],
        "an established stream that drops reconnects at once"
    );
}

#[test]
fn rate_limits_and_server_errors_back_off_by_the_documented_policy() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    for status in [429, 429, 503, 503] {
        server.push(Reply {
            status,
            steps: vec![],
        });
    }
    server.push(mock_x::messages_reply(&[&lines[0]]));
    server.push(Reply {
        status: 429,
        steps: vec![],
    });
    server.push(mock_x::messages_reply(&[&lines[1]]));
    let config = config(Api::V2, &server);
    let run = stream(&config, &bearer(), 2);
    assert_eq!(run.messages(), &lines[..2]);
    let secs: Vec<u64> = run.delays.iter().map(Duration::as_secs).collect();
    // 429s from a minute, doubling; 5xx from 5 s; a stream that delivered resets the count, and
    // its end reconnects at once (no delay recorded) before the next 429.
    assert_eq!(secs, [60, 120, 5, 10, 60]);
    let stats = run.stats();
    assert_eq!((stats.rate_limited, stats.http_failures), (3, 2));
    assert_eq!(server.stream_connections(), 7);
}

#[test]
fn a_refused_bearer_token_is_fatal_and_named_never_shown() {
    let server = MockX::start(mock_x::Auth::Bearer("the-right-one".into()));
    let config = config(Api::V2, &server);
    let run = stream(&config, &bearer(), 1);
    let error = run.result.expect_err("401 ends the run").to_string();
    assert!(
        error.contains("HTTP 401") && error.contains("X_BEARER_TOKEN"),
        "{error}"
    );
    assert!(
        !error.contains(TOKEN) && !error.contains("the-right-one"),
        "{error}"
    );
    assert!(run.delays.is_empty(), "no retry");
}

#[test]
fn refused_oauth_credentials_are_fatal_and_named_never_shown() {
    let (server_auth, _) = oauth();
    let server = MockX::start(server_auth);
    let wrong = Auth::OAuth1(OAuth1 {
        consumer_key: Secret::new("ck-1"),
        consumer_secret: Secret::new("not-the-secret"),
        token: Secret::new("t-3"),
        token_secret: Secret::new("ts-secret-4"),
    });
    let run = stream(&config(Api::V1, &server), &wrong, 1);
    let error = run.result.expect_err("401 ends the run").to_string();
    for name in [
        "TWITTER_CONSUMER_KEY",
        "TWITTER_CONSUMER_SECRET",
        "TWITTER_ACCESS_TOKEN",
        "TWITTER_ACCESS_TOKEN_SECRET",
    ] {
        assert!(error.contains(name), "{error}");
    }
    assert!(!error.contains("not-the-secret") && !error.contains("ts-secret-4"));
}

#[test]
fn a_stalled_connection_is_replaced() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    server.push(Reply {
        status: 200,
        steps: vec![
            Step::Send(lines[..2].iter().flat_map(|l| line(l)).collect()),
            Step::Hang,
        ],
    });
    server.push(mock_x::messages_reply(
        &lines[2..5].iter().map(Vec::as_slice).collect::<Vec<_>>(),
    ));
    let config = config(Api::V2, &server);
    let run = stream(&config, &bearer(), 5);
    assert_eq!(run.messages(), &lines[..5]);
    let stats = run.stats();
    assert_eq!((stats.stalls, stats.connections), (1, 2));
}

#[test]
fn v1_stream_is_signed_counts_limit_deltas_and_acts_on_notices() {
    let (server_auth, auth) = oauth();
    let server = MockX::start(server_auth);
    let tweets = messages(&fixture("tweets-v1.jsonl"));
    let limit =
        |n: u64| format!("{{\"limit\":{{\"track\":{n},\"timestamp_ms\":\"1480817260000\"}}}}");
    let disconnect =
        br#"{"disconnect":{"code":1,"stream_name":"tweetflow-statuses","reason":"shutdown"}}"#;
    let first: Vec<Vec<u8>> = vec![
        tweets[0].clone(),
        limit(5).into_bytes(),
        tweets[1].clone(),
        limit(12).into_bytes(),
        limit(12).into_bytes(),
        disconnect.to_vec(),
    ];
    let second: Vec<Vec<u8>> = vec![tweets[2].clone(), limit(3).into_bytes(), tweets[3].clone()];
    // After the disconnect notice the client must hang up itself: the server would go on.
    let mut steps: Vec<Step> = first.iter().map(|m| Step::Send(line(m))).collect();
    steps.push(Step::Hang);
    server.push(Reply { status: 200, steps });
    server.push(mock_x::messages_reply(
        &second.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    ));

    let run = stream(&config(Api::V1, &server), &auth, first.len() + second.len());
    let all: Vec<Vec<u8>> = first.iter().chain(&second).cloned().collect();
    assert_eq!(run.messages(), all);
    let stats = run.stats();
    assert_eq!(
        stats.undelivered,
        12 + 3,
        "deltas within a connection, afresh after"
    );
    assert_eq!((stats.disconnect_notices, stats.connections), (1, 2));
    assert_eq!(
        stats.stalls, 0,
        "the notice, not a stall, ended the first connection"
    );

    let request = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/1.1/statuses/filter.json")
        .expect("a filter request");
    assert_eq!(request.method, "POST");
    let body = String::from_utf8(request.body).unwrap();
    assert!(body.contains("track=rust%2Ctimely+dataflow"), "{body}");
}

#[test]
fn an_in_band_operational_disconnect_reconnects() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    let error = br#"{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect","detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.twitter.com/2/problems/operational-disconnect"}]}"#;
    server.push(Reply {
        status: 200,
        steps: vec![
            Step::Send(line(&lines[0])),
            Step::Send(line(error)),
            Step::Hang,
        ],
    });
    server.push(mock_x::messages_reply(&[&lines[1]]));
    let run = stream(&config(Api::V2, &server), &bearer(), 3);
    assert_eq!(
        run.messages(),
        [lines[0].clone(), error.to_vec(), lines[1].clone()]
    );
    let stats = run.stats();
    assert_eq!(
        (stats.in_band_errors, stats.connections, stats.stalls),
        (1, 2, 0)
    );
}

#[test]
fn the_binary_reads_credentials_from_dotenv_and_never_prints_them() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), format!("X_BEARER_TOKEN={TOKEN}\n")).unwrap();
    let output = std::process::Command::new(binary("tweet-producer"))
        .current_dir(dir.path())
        .env_remove("X_BEARER_TOKEN")
        .env("RUST_LOG", "debug")
        .args(["stream", "--track", "rust,timely dataflow", "--dry-run"])
        .args(["--api-base", &server.base_url()])
        .output_within_limit();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("add    rust") && stdout.contains("add    timely dataflow"),
        "{stdout}"
    );
    assert!(server.rules().is_empty(), "a dry run changes nothing");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));

    // A malformed file: reported by position, its text (a secret, likely) never shown.
    std::fs::write(
        dir.path().join(".env"),
        "X_BEARER_TOKEN=AAAA-secret-part two\nTWITTER_CONSUMER_KEY=\"ck-unterminated\n",
    )
    .unwrap();
    let output = std::process::Command::new(binary("tweet-producer"))
        .current_dir(dir.path())
        .env_remove("X_BEARER_TOKEN")
        .args(["stream", "--track", "rust", "--dry-run"])
        .args(["--api-base", &server.base_url()])
        .output_within_limit();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot parse .env"), "{stderr}");
    assert!(
        !stderr.contains("secret-part") && !stderr.contains("ck-unterminated"),
        "{stderr}"
    );

    // Without the file and the variable: a clear error naming it.
    let output = std::process::Command::new(binary("tweet-producer"))
        .current_dir(std::env::temp_dir())
        .env_remove("X_BEARER_TOKEN")
        .args(["stream", "--track", "rust", "--dry-run"])
        .args(["--api-base", &server.base_url()])
        .output_within_limit();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("X_BEARER_TOKEN is not set"), "{stderr}");

    // A wrong token: fatal, named, not shown.
    let output = std::process::Command::new(binary("tweet-producer"))
        .env("X_BEARER_TOKEN", "wrong-token-value")
        .env("RUST_LOG", "trace")
        .args(["stream", "--track", "rust", "--brokers", "127.0.0.1:1"])
        .args(["--api-base", &server.base_url()])
        .output_within_limit();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("check X_BEARER_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-token-value"), "{stderr}");
}

#[test]
fn streams_that_keep_dropping_at_once_get_a_pause_not_a_hot_loop() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    for l in &lines[..4] {
        server.push(mock_x::messages_reply(&[l]));
    }
    let run = stream(&config(Api::V2, &server), &bearer(), 4);
    assert_eq!(run.messages(), &lines[..4]);
    let ms: Vec<u128> = run.delays.iter().map(Duration::as_millis).collect();
    assert_eq!(
        ms,
        [250, 500],
        "the first drop is retried at once, later ones back off"
    );
}

#[test]
fn a_forbidden_app_is_fatal_too() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    server.push(Reply {
        status: 403,
        steps: vec![Step::Send(
            br#"{"title":"Client Forbidden","detail":"This request must be made using an approved developer account that is enrolled in the requested endpoint.","reason":"client-not-enrolled"}"#.to_vec(),
        )],
    });
    let run = stream(&config(Api::V2, &server), &bearer(), 1);
    let error = run.result.expect_err("403 ends the run").to_string();
    assert!(
        error.contains("HTTP 403")
            && error.contains("X_BEARER_TOKEN")
            && error.contains("enrolled"),
        "{error}"
    );
    assert!(run.delays.is_empty());
}

#[test]
fn v1_enhance_your_calm_backs_off_like_429() {
    let (server_auth, auth) = oauth();
    let server = MockX::start(server_auth);
    let tweets = messages(&fixture("tweets-v1.jsonl"));
    server.push(Reply::status(420));
    server.push(Reply::status(420));
    server.push(mock_x::messages_reply(&[&tweets[0]]));
    let run = stream(&config(Api::V1, &server), &auth, 1);
    assert_eq!(run.messages(), &tweets[..1]);
    let secs: Vec<u64> = run.delays.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [60, 120]);
    assert_eq!(run.stats().rate_limited, 2);
}

#[test]
fn too_many_connections_in_the_stream_backs_off_like_429() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    let error = br#"{"errors":[{"title":"ConnectionException","detail":"This stream is currently at the maximum allowed connection limit.","connection_issue":"TooManyConnections","type":"https://api.twitter.com/2/problems/streaming-connection"}]}"#;
    server.push(Reply {
        status: 200,
        steps: vec![Step::Send(line(error)), Step::Hang],
    });
    server.push(mock_x::messages_reply(&[&lines[0]]));
    let run = stream(&config(Api::V2, &server), &bearer(), 2);
    assert_eq!(run.messages(), [error.to_vec(), lines[0].clone()]);
    assert_eq!(run.delays, [Duration::from_secs(60)]);
}

#[test]
fn a_duplicate_stream_notice_is_fatal_and_says_why() {
    let (server_auth, auth) = oauth();
    let server = MockX::start(server_auth);
    let notice: &[u8] =
        br#"{"disconnect":{"code":2,"stream_name":"app-statuses","reason":"duplicate stream"}}"#;
    server.push(Reply {
        status: 200,
        steps: vec![Step::Send(line(notice)), Step::Hang],
    });
    let run = stream(&config(Api::V1, &server), &auth, 5);
    let error = run.result.expect_err("code 2 ends the run").to_string();
    assert!(error.contains("same credentials"), "{error}");
    assert_eq!(
        run.counted.disconnect_notices, 1,
        "counted even though it failed"
    );
}

#[test]
fn a_server_that_never_answers_or_never_finishes_an_error_is_given_up_on() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    // A 503 whose body never ends: read for at most the stall timeout, then backed off.
    server.push(Reply {
        status: 503,
        steps: vec![Step::Send(b"{\"title\":".to_vec()), Step::Hang],
    });
    server.push(mock_x::messages_reply(&[&lines[0]]));
    let run = stream(&config(Api::V2, &server), &bearer(), 1);
    assert_eq!(run.messages(), &lines[..1]);
    assert_eq!(run.delays, [Duration::from_secs(5)]);

    // A listener that accepts and never sends a response head. Its third connection means two
    // attempts timed out (1 s each): then the run is stopped, as a signal would.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = config(Api::V2, &server);
    config.base = format!("http://{}", silent.local_addr().unwrap());
    let (third, third_seen) = std::sync::mpsc::channel();
    let (done, done_seen) = std::sync::mpsc::channel::<()>();
    let held = std::thread::spawn(move || {
        let open: Vec<_> = (0..3).map(|_| silent.accept().unwrap().0).collect();
        third.send(()).unwrap();
        // Kept open (and silent) until the run is over.
        let _ = done_seen.recv();
        drop(open);
    });
    let started = std::time::Instant::now();
    let runtime = runtime();
    let stop = AtomicBool::new(false);
    let clock = Clock::default();
    let mut counted = StreamStats::default();
    let mut sink = |_: &[u8], _: &str| -> Result<(), BoxError> { Ok(()) };
    let auth = bearer();
    runtime.block_on(async {
        let run = stream::run(&config, &auth, &mut sink, &stop, &clock, &mut counted);
        tokio::pin!(run);
        let third = tokio::task::spawn_blocking(move || third_seen.recv());
        tokio::select! {
            _ = &mut run => panic!("the run ended by itself"),
            seen = third => seen.unwrap().expect("a third attempt"),
        }
        stop.store(true, Ordering::Relaxed);
        tokio::time::timeout(Duration::from_secs(2), run)
            .await
            .expect("a stop is heard while waiting for a response")
            .unwrap();
    });
    done.send(()).unwrap();
    assert!(counted.network_failures >= 2, "{counted:?}");
    assert_eq!(counted.connections, 0);
    assert!(started.elapsed() < Duration::from_secs(5));
    held.join().unwrap();
}

/// A clock for a run on another thread: records the delays and returns at once.
#[derive(Default)]
struct SharedClock(std::sync::Mutex<Vec<Duration>>);

impl Sleep for SharedClock {
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> {
        self.0.lock().unwrap().push(delay);
        std::future::ready(())
    }
}

impl SharedClock {
    fn delays(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn the_rules_sync_retries_an_unreachable_api_with_the_stream_backoff() {
    // Issue 11: the rules sync at start failed on the first refused connection.
    let port = tweetflow_tests::util::free_ports(1)[0];
    let config = StreamConfig {
        base: format!("http://127.0.0.1:{port}"),
        ..config(Api::V2, &MockX::start(mock_x::Auth::Bearer(TOKEN.into())))
    };
    let (stop, clock) = (AtomicBool::new(false), SharedClock::default());
    let server = std::thread::scope(|s| {
        let sync = s.spawn(|| stream::rules_in_place(&config, &Secret::new(TOKEN), &stop, &clock));
        tweetflow_tests::util::wait_for("three refused attempts", Duration::from_secs(30), || {
            clock.delays().len() >= 3
        });
        let server = MockX::start_on(port, mock_x::Auth::Bearer(TOKEN.into()));
        assert!(
            matches!(sync.join().unwrap(), Ok(true)),
            "synced once the API is up"
        );
        server
    });
    let delays = clock.delays();
    let ms: Vec<u128> = delays.iter().take(3).map(Duration::as_millis).collect();
    assert_eq!(
        ms,
        [250, 500, 750],
        "network errors back off linearly, as the stream does"
    );
    let values: Vec<String> = server.rules().into_iter().map(|r| r.value).collect();
    assert_eq!(values, ["rust", "timely dataflow"]);
}

#[test]
fn a_stop_request_ends_the_rules_retries() {
    let port = tweetflow_tests::util::free_ports(1)[0];
    let config = StreamConfig {
        base: format!("http://127.0.0.1:{port}"),
        ..config(Api::V2, &MockX::start(mock_x::Auth::Bearer(TOKEN.into())))
    };
    let (stop, clock) = (AtomicBool::new(false), SharedClock::default());
    std::thread::scope(|s| {
        let sync = s.spawn(|| stream::rules_in_place(&config, &Secret::new(TOKEN), &stop, &clock));
        tweetflow_tests::util::wait_for("a refused attempt", Duration::from_secs(30), || {
            !clock.delays().is_empty()
        });
        stop.store(true, Ordering::Relaxed);
        assert!(
            matches!(sync.join().unwrap(), Ok(false)),
            "stopped, not synced"
        );
    });
}

#[test]
fn the_binary_stops_cleanly_on_sigterm_while_the_rules_api_is_down() {
    let port = tweetflow_tests::util::free_ports(1)[0];
    let dir = tempfile::tempdir().unwrap();
    let running = tweetflow_tests::util::Running::start(
        std::process::Command::new(binary("tweet-producer"))
            .current_dir(dir.path())
            .env("X_BEARER_TOKEN", TOKEN)
            .args(["stream", "--track", "rust", "--api-base"])
            .arg(format!("http://127.0.0.1:{port}"))
            .args(["--brokers", "127.0.0.1:1"]),
    );
    tweetflow_tests::util::wait_for("a retried rules sync", Duration::from_secs(30), || {
        running
            .stderr_so_far()
            .contains("cannot sync the stream rules")
    });
    running.terminate();
    let output = running.wait_until(std::time::Instant::now() + Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_backfill_after_a_disconnect_delivers_the_gap_and_its_duplicates_are_dropped() {
    // Issue 11: X's backfill repeats what was matched before the disconnect (not deduplicated).
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    let now = now_ms();
    let (before, away, after) = (&lines[0..3], &lines[3..5], &lines[5..7]);
    let mut first: Vec<u8> = Vec::new();
    for post in before {
        server.matched(now, post);
        first.extend(line(post));
    }
    server.push(Reply {
        status: 200,
        steps: vec![Step::Send(first), Step::Close],
    });
    // Matched while the client was away: only a backfill brings them.
    for post in away {
        server.matched(now, post);
    }
    server.push(mock_x::messages_reply(
        &after.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    ));
    let config = StreamConfig {
        backfill: true,
        ..config(Api::V2, &server)
    };
    let run = stream(&config, &bearer(), 7);
    let want: Vec<Vec<u8>> = [before, away, after].concat();
    assert_eq!(run.messages(), want, "the gap's tweets once, none twice");
    let stats = run.stats();
    assert_eq!((stats.duplicates, stats.backfills), (3, 1));
    let asked = backfills_asked(&server);
    assert_eq!(
        asked,
        [None, Some("1".to_owned())],
        "the gap's minutes, rounded up"
    );
}

#[test]
fn without_backfill_the_gap_is_lost_as_before() {
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    let lines = v2_lines();
    let now = now_ms();
    server.push(Reply {
        status: 200,
        steps: vec![Step::Send(line(&lines[0])), Step::Close],
    });
    server.matched(now, &lines[0]);
    server.matched(now, &lines[1]);
    server.push(mock_x::messages_reply(&[&lines[2]]));
    let run = stream(&config(Api::V2, &server), &bearer(), 2);
    assert_eq!(run.messages(), [lines[0].clone(), lines[2].clone()]);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn without_enterprise_access_a_refused_backfill_does_not_end_the_stream() {
    // Review of issue 11: X refuses backfill_minutes without Enterprise access, possibly hours
    // into a stream, at its first reconnect; that ended the run.
    let server = MockX::start(mock_x::Auth::Bearer(TOKEN.into()));
    server.set_enterprise(false);
    let lines = v2_lines();
    server.push(Reply {
        status: 200,
        steps: vec![Step::Send(line(&lines[0])), Step::Close],
    });
    server.push(mock_x::messages_reply(&[&lines[1]]));
    let config = StreamConfig {
        backfill: true,
        ..config(Api::V2, &server)
    };
    let run = stream(&config, &bearer(), 2);
    assert_eq!(run.messages(), [lines[0].clone(), lines[1].clone()]);
    let asked = backfills_asked(&server);
    assert_eq!(
        asked,
        [None, Some("1".to_owned()), None],
        "asked once, then without"
    );
}

/// The `backfill_minutes` of each stream request the mock received, in order.
fn backfills_asked(server: &MockX) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .filter(|r| r.path == "/2/tweets/search/stream")
        .map(|r| r.query_param("backfill_minutes").map(str::to_owned))
        .collect()
}
