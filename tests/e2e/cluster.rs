//! A real timely cluster: several `tweet-dataflow` processes on loopback, compared with a single
//! worker and with the sequential reference; and what its connection phase does with mistakes:
//! a bad hostfile, a peer that never comes, something that is not a peer.

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use tweetflow_tests::reference::{self, Params};
use tweetflow_tests::util::{
    Running, binary, dataflow, dataflow_cluster, fixture, free_ports, messages,
};

const FIXTURES: [&str; 4] = [
    "tweets-v1.jsonl",
    "tweets-v2.jsonl",
    "edge-cases.jsonl",
    "tweets-v1.jsonl.gz",
];

#[test]
fn two_processes_of_two_workers_equal_one_worker_and_the_reference() {
    let mut args: Vec<String> = Vec::new();
    for f in FIXTURES {
        args.extend(["--input".into(), fixture(f).display().to_string()]);
    }
    args.extend(["--format", "jsonl", "--lateness", "10s"].map(String::from));

    let outputs = dataflow_cluster(2, 2, &args);
    let cluster = String::from_utf8(outputs[0].stdout.clone()).unwrap();
    assert!(
        outputs[1].stdout.is_empty(),
        "only process 0 writes results"
    );

    let single_args: Vec<&str> = args.iter().map(String::as_str).collect();
    let single = String::from_utf8(dataflow(&single_args).stdout).unwrap();

    let partitions: Vec<_> = FIXTURES.iter().map(|f| messages(&fixture(f))).collect();
    let (want, _) = reference::run_lines(&partitions, Params::defaults(10_000));
    assert_eq!(single, want, "single worker vs reference");
    assert_eq!(
        cluster, want,
        "2 processes x 2 workers vs reference (timely's own messages must not mix in)"
    );
}

/// `tweet-dataflow` on the fixtures as process `process` of `processes`, with this hostfile text
/// and extra flags; its output once it exits, or a failed test if that takes over `limit`.
fn cluster_process(
    hosts: &str,
    processes: usize,
    process: usize,
    extra: &[&str],
    limit: Duration,
) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let hostfile = dir.path().join("hosts");
    std::fs::write(&hostfile, hosts).unwrap();
    Running::start(
        Command::new(binary("tweet-dataflow"))
            .args(["--input", fixture("tweets-v1.jsonl").to_str().unwrap()])
            .args(["-n", &processes.to_string(), "-p", &process.to_string()])
            .arg("--hostfile")
            .arg(&hostfile)
            .args(extra),
    )
    .wait_until(Instant::now() + limit)
}

#[test]
fn hostfile_mistakes_are_usage_errors_with_their_line() {
    // Issue 8, reproduced on the old main: a line that is not host:port, or an address listed
    // twice, made the process wait forever; `-n 1` with a two-line hostfile was accepted.
    let ports = free_ports(2);
    let (a, b) = (
        format!("127.0.0.1:{}", ports[0]),
        format!("127.0.0.1:{}", ports[1]),
    );
    for (hosts, processes, message) in [
        (
            format!("{a}\nlocalhost\n"),
            2,
            "line 2: \"localhost\" is not host:port".to_owned(),
        ),
        (
            format!("{a}\n{a}\n"),
            2,
            format!("line 2: {a} is already listed on line 1"),
        ),
        (
            format!("{a}\n{b}\n"),
            1,
            "lists 2 hosts but --processes is 1".to_owned(),
        ),
    ] {
        let output = cluster_process(&hosts, processes, 0, &[], Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{hosts:?}: {stderr}");
        assert!(stderr.contains(&message), "{hosts:?}: {stderr}");
    }
}

#[test]
fn a_peer_that_never_comes_is_named_when_the_connect_timeout_passes() {
    // Issue 8: a process whose peers never come waited forever.
    let ports = free_ports(2);
    let hosts = format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1]);
    let started = Instant::now();
    let output = cluster_process(
        &hosts,
        2,
        0,
        &["--connect-timeout", "2s"],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("process 1 at 127.0.0.1:{}", ports[1]))
            && stderr.contains("--connect-timeout"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn something_that_is_not_a_peer_is_a_clear_error_not_a_panic() {
    // Issue 8: a hostfile entry pointing at a port that is not a tweetflow peer panicked (rc 101).
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let (http_at, silent_at) = (http.local_addr().unwrap(), silent.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in http.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let held = std::thread::spawn(move || silent.accept().map(|(s, _)| s));
    let me = free_ports(1)[0];
    for (stranger, reason) in [
        (http_at, "answered \"HTTP/1.1 400 Bad Request"),
        (silent_at, "sent no greeting within"),
    ] {
        let hosts = format!("{stranger}\n127.0.0.1:{me}\n");
        let output = cluster_process(&hosts, 2, 1, &[], Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{stranger} (process 0 in the hostfile) is not a tweetflow peer"
            )) && stderr.contains(reason),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    drop(held);
}
