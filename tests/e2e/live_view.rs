//! The live view and the metrics endpoints of running binaries, in a real browser (Debian's
//! `chromium` driven through `chromedriver`'s WebDriver; `scripts/test.sh` installs both).
//!
//! Test plan: `tweet-producer generate --live` writes tweets stamped with the wall clock into a
//! topic while an unbounded `tweet-dataflow --ui --metrics` reads it, so windows close in real
//! time. The producer's `/metrics` is scraped while it runs. Once the input has stopped and every
//! window that can close has, the page (loaded while windows were closing, so kept up to date by
//! its event stream) must show the last window of the output file, its bars must carry the
//! file's keys and counts, its history chart the file's windows; `/api/windows` must equal the
//! file; the file must be the reference's windows up to there; and the counters of `/metrics`
//! must equal the reference's counts and, after SIGTERM, the summary's. A screenshot of the page
//! is saved (target/live-view.png; the README shows a copy).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tweetflow_tests::kafka::{brokers, empty_topic, per_partition};
use tweetflow_tests::reference::{self, Params};
use tweetflow_tests::util::{Running, binary, free_ports, lines, prometheus, wait_for, workspace};

/// `GET path` on `addr`: the body, or `None` while nothing listens.
fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    Some(body.to_owned())
}

/// The address a binary logged it serves `what` at (`serving WHAT at http://ADDR/`).
fn served(process: &Running, what: &str) -> String {
    let mut addr = None;
    wait_for(
        &format!("the address of {what}"),
        Duration::from_secs(60),
        || {
            let log = process.stderr_so_far();
            let marker = format!("serving {what} at http://");
            addr = log
                .split(&marker)
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .map(str::to_owned);
            addr.is_some()
        },
    );
    addr.unwrap()
}

/// chromedriver on a free port, killed when dropped.
fn chromedriver() -> (Running, u16) {
    let path = which("chromedriver").unwrap_or_else(|| {
        panic!("chromedriver is not installed: scripts/test.sh installs Debian's chromium and chromium-driver")
    });
    let port = free_ports(1)[0];
    let driver = Running::start(Command::new(path).arg(format!("--port={port}")));
    wait_for("chromedriver to listen", Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (driver, port)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// What the page shows, read from its DOM.
const READ_PAGE: &str = r##"
const text = id => document.getElementById(id).textContent;
const bars = id => [...document.querySelectorAll(`#${id} .bar`)].map(g => ({
  key: g.querySelector(".key").textContent,
  count: Number(g.querySelector(".count").textContent),
}));
return {
  connection: text("conn"),
  window_start: text("window-start"),
  window_end: text("window-end"),
  tweets: Number(text("tweets")),
  locations: bars("locations"),
  mentions: bars("mentions"),
  history: [...document.querySelectorAll("#history circle")].map(c => ({
    window_end: c.dataset.end, tweets: Number(c.dataset.tweets) })),
  counters: Object.fromEntries([...document.querySelectorAll("#counters tr")].map(
    tr => [tr.dataset.counter, Number(tr.children[1].textContent)])),
  partitions: document.querySelectorAll("#partitions tr").length - 1,
};
"##;

#[test]
fn the_live_view_shows_the_windows_written_and_the_metrics_add_up() {
    let topic = empty_topic("live-view", 2);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("windows.jsonl");
    let summary = dir.path().join("summary.json");
    // Half-second windows: their ends alternate between whole and fractional seconds in RFC 3339
    // (`…:07Z`, `…:07.500Z`), which the page must order as instants.
    let (batch, window, slide, lateness) = (500, 3_000, 500, 1_000);

    let dataflow = Running::start(Command::new(binary("tweet-dataflow")).args([
        "--brokers",
        &brokers(),
        "--topic",
        &topic,
        "--batch",
        "500ms",
        "--window",
        "3s",
        "--slide",
        "500ms",
        "--lateness",
        "1s",
        "--idle-timeout",
        "2s",
        "--output",
        &out.display().to_string(),
        "--summary",
        &summary.display().to_string(),
        "--ui",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
    ]));
    let ui = served(&dataflow, "the live view");
    let dataflow_metrics = served(&dataflow, "metrics");

    // The browser opens the page before any window: what it shows later came by its events.
    let (_driver, port) = chromedriver();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let browser = runtime.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1100"]}),
        );
        // Plain HTTP: the driver is on loopback.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session")
    });
    runtime
        .block_on(browser.goto(&format!("http://{ui}/")))
        .unwrap();
    let page = |browser: &fantoccini::Client| -> Value {
        runtime
            .block_on(browser.execute(READ_PAGE, vec![]))
            .expect("read the page")
    };
    wait_for("the page's event stream", Duration::from_secs(30), || {
        page(&browser)["connection"] == "live"
    });

    // 2,400 tweets over 8 s of wall clock, noise included.
    let producer = Running::start(Command::new(binary("tweet-producer")).args([
        "generate",
        "--live",
        "--rate",
        "300",
        "--count",
        "2400",
        "--noise",
        "--brokers",
        &brokers(),
        "--topic",
        &topic,
        "--metrics",
        "127.0.0.1:0",
    ]));
    let producer_metrics = served(&producer, "metrics");
    wait_for(
        "the producer's metrics to count",
        Duration::from_secs(60),
        || {
            get(&producer_metrics, "/metrics").is_some_and(|text| {
                prometheus(&text)
                    .get("tweetflow_producer_sent_total")
                    .is_some_and(|&n| n > 0.0)
            })
        },
    );
    let produced = producer.wait();
    assert!(
        produced.status.success(),
        "{}",
        String::from_utf8_lossy(&produced.stderr)
    );

    // Once every partition is idle (--idle-timeout after the last tweet) the job's time moves up
    // to the furthest partition's watermark epoch, and every window ending by then is written:
    // exactly the reference's windows up to there. The page, the counters and the lag must then
    // agree with the file.
    let input = per_partition(&brokers(), &topic);
    let params = Params {
        batch_ms: batch,
        window_ms: window,
        slide_ms: slide,
        top: 10,
        ..Params::defaults(lateness)
    };
    let (reference, counts) = reference::run_lines(&input, params);
    let reached = input
        .iter()
        .filter_map(|partition| {
            let (tweets, _) = reference::accept(std::slice::from_ref(partition), &params);
            tweets.iter().map(|t| t.event_ms).max()
        })
        .map(|max| (max - lateness as i64).max(0) / batch as i64)
        .max()
        .expect("tweets in the topic");
    let end_ms = |line: &str| {
        let w: Value = serde_json::from_str(line).unwrap();
        chrono::DateTime::parse_from_rfc3339(w["window_end"].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let expected: Vec<&str> = reference
        .lines()
        .filter(|l| end_ms(l) <= reached * batch as i64)
        .collect();
    assert!(
        expected.len() >= 3,
        "windows to close live: {}",
        expected.len()
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    let (written, shown, scraped) = loop {
        let written = lines(&out);
        let scraped = prometheus(&get(&dataflow_metrics, "/metrics").unwrap());
        let shown = page(&browser);
        let last_end = written
            .last()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["window_end"].clone());
        let lag: Vec<f64> = scraped
            .iter()
            .filter(|(k, _)| k.starts_with("tweetflow_consumer_lag{"))
            .map(|(_, v)| *v)
            .collect();
        let settled = written.len() == expected.len()
            && scraped["tweetflow_messages_total{class=\"tweet\"}"] as u64 == counts.tweets
            && lag.len() == 2
            && lag.iter().all(|&l| l == 0.0)
            && Some(&shown["window_end"]) == last_end.as_ref()
            && shown["counters"]["windows written"].as_u64() == Some(written.len() as u64)
            && shown["counters"]["tweets"].as_u64() == Some(counts.tweets);
        if settled {
            break (written, shown, scraped);
        }
        assert!(
            Instant::now() < deadline,
            "the job did not settle: {} of {} windows in the file, page {shown}, stderr:\n{}",
            written.len(),
            expected.len(),
            dataflow.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        written, expected,
        "the file holds the reference's complete windows"
    );

    // The page shows the last window of the file, bar for bar.
    let last: Value = serde_json::from_str(written.last().unwrap()).unwrap();
    for field in ["window_start", "window_end", "tweets"] {
        assert_eq!(shown[field], last[field], "{field}");
    }
    for list in ["locations", "mentions"] {
        assert_eq!(shown[list], last[list], "the bars of {list}");
        assert!(!shown[list].as_array().unwrap().is_empty(), "{list} shown");
    }
    let history: Vec<Value> = written
        .iter()
        .map(|l| {
            let w: Value = serde_json::from_str(l).unwrap();
            json!({"window_end": w["window_end"], "tweets": w["tweets"]})
        })
        .collect();
    assert_eq!(
        shown["history"],
        json!(history),
        "the chart of tweets per window"
    );
    assert_eq!(shown["counters"]["tweets"].as_u64(), Some(counts.tweets));
    assert_eq!(shown["partitions"], 2, "both partitions listed");
    let api: Value = serde_json::from_str(&get(&ui, "/api/windows?last=1000").unwrap()).unwrap();
    let file: Vec<Value> = written
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(api, json!(file), "/api/windows is the file");

    let png = runtime
        .block_on(browser.screenshot())
        .expect("a screenshot");
    let shot = workspace().join("target/live-view.png");
    std::fs::write(&shot, png).unwrap();
    runtime.block_on(browser.close()).unwrap();

    // The counters, against the reference and then the summary.
    let get_metric = |key: &str| scraped[key] as u64;
    for (key, value) in [
        ("tweetflow_messages_total{class=\"tweet\"}", counts.tweets),
        ("tweetflow_messages_total{class=\"blank\"}", counts.blank),
        (
            "tweetflow_messages_total{class=\"malformed\"}",
            counts.malformed,
        ),
        (
            "tweetflow_messages_total{class=\"rejected\"}",
            counts.rejected,
        ),
        ("tweetflow_late_total", counts.late),
        ("tweetflow_windows_written_total", written.len() as u64),
    ] {
        assert_eq!(get_metric(key), value, "{key}");
    }
    assert_eq!(
        get_metric("tweetflow_window_close_latency_seconds_count"),
        written.len() as u64
    );

    dataflow.terminate();
    let stopped = dataflow.wait();
    assert!(stopped.status.success());
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    for (key, field) in [
        ("tweetflow_messages_total{class=\"tweet\"}", "tweets"),
        ("tweetflow_messages_total{class=\"blank\"}", "blank"),
        ("tweetflow_messages_total{class=\"malformed\"}", "malformed"),
        ("tweetflow_messages_total{class=\"rejected\"}", "rejected"),
        ("tweetflow_late_total", "late"),
        ("tweetflow_bytes_total", "bytes"),
        ("tweetflow_windows_written_total", "windows"),
        ("tweetflow_dead_letters_total", "dead_letters"),
    ] {
        assert_eq!(
            Some(get_metric(key)),
            summary[field].as_u64(),
            "{key} and the summary's {field}"
        );
    }
}

#[test]
fn the_producer_metrics_equal_its_report_and_the_topic() {
    use tweet_producer::generate::GenerateConfig;
    use tweet_producer::metrics::ProducerMetrics;
    use tweet_producer::run::{Job, run_observed};
    use tweet_producer::writer::KafkaTarget;

    let topic = tweetflow_tests::kafka::topic("producer-metrics");
    let job = Job::GenerateKafka {
        config: GenerateConfig {
            count: 5_000,
            noise: true,
            ..GenerateConfig::default()
        },
        target: KafkaTarget {
            brokers: brokers(),
            topic: topic.clone(),
            partitions: 2,
            replication: 1,
            properties: Default::default(),
            dead_letter: None,
            max_future_ms: tweet::time::DEFAULT_MAX_FUTURE_MS,
            resume: None,
            dead_letter_topic: None,
        },
    };
    let metrics = ProducerMetrics::new();
    let (report, result) = run_observed(job, Default::default(), &metrics);
    result.expect("the run succeeds");
    let delivery = report.delivery.expect("a delivery report");
    let m = prometheus(&metrics.text());
    for (key, value) in [
        ("tweetflow_producer_sent_total", 5_000),
        ("tweetflow_producer_delivered_total", delivery.delivered),
        ("tweetflow_producer_failed_total", delivery.failed),
        ("tweetflow_producer_skipped_total", delivery.skipped),
        ("tweetflow_producer_queue_depth", 0),
    ] {
        assert_eq!(m[key] as u64, value, "{key}");
    }
    assert_eq!(delivery.delivered, 5_000);
    assert!(delivery.skipped > 0, "noise lines are skipped");
    let held: usize = per_partition(&brokers(), &topic).iter().map(Vec::len).sum();
    assert_eq!(
        held, 5_000,
        "the topic holds what the metrics say was delivered"
    );
}
