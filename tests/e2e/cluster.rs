//! A real timely cluster: several `tweet-dataflow` processes on loopback, compared with a single
//! worker and with the sequential reference.

use std::io::Write;
use std::process::{Command, Stdio};

use tweetflow_tests::reference::{self, Params};
use tweetflow_tests::util::{binary, dataflow, fixture, free_ports, messages};

const FIXTURES: [&str; 4] = [
    "tweets-v1.jsonl",
    "tweets-v2.jsonl",
    "edge-cases.jsonl",
    "tweets-v1.jsonl.gz",
];

#[test]
fn two_processes_of_two_workers_equal_one_worker_and_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let hostfile = dir.path().join("hosts");
    let mut hosts = std::fs::File::create(&hostfile).unwrap();
    for port in free_ports(2) {
        writeln!(hosts, "127.0.0.1:{port}").unwrap();
    }
    let mut args: Vec<String> = Vec::new();
    for f in FIXTURES {
        args.extend(["--input".into(), fixture(f).display().to_string()]);
    }
    args.extend(
        [
            "--format",
            "jsonl",
            "--lateness",
            "10s",
            "-w",
            "2",
            "-n",
            "2",
        ]
        .map(String::from),
    );
    args.extend(["--hostfile".into(), hostfile.display().to_string()]);

    let children: Vec<_> = (0..2)
        .map(|process| {
            Command::new(binary("tweet-dataflow"))
                .args(&args)
                .args(["-p", &process.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (i, o) in outputs.iter().enumerate() {
        assert!(
            o.status.success(),
            "process {i}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let cluster = String::from_utf8(outputs[0].stdout.clone()).unwrap();
    assert!(
        outputs[1].stdout.is_empty(),
        "only process 0 writes results"
    );

    let single_args: Vec<&str> = args[..args.len() - 6].iter().map(String::as_str).collect();
    let single = String::from_utf8(dataflow(&single_args).stdout).unwrap();

    let partitions: Vec<_> = FIXTURES.iter().map(|f| messages(&fixture(f))).collect();
    let (want, _) = reference::run_lines(&partitions, Params::defaults(10_000));
    assert_eq!(single, want, "single worker vs reference");
    assert_eq!(
        cluster, want,
        "2 processes x 2 workers vs reference (timely's own messages must not mix in)"
    );
}
