//! A real timely cluster: several `tweet-dataflow` processes on loopback, compared with a single
//! worker and with the sequential reference.

use tweetflow_tests::reference::{self, Params};
use tweetflow_tests::util::{dataflow, dataflow_cluster, fixture, messages};

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
