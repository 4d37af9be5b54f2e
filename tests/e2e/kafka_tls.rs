//! Secured clusters (issue 12), against the shared broker's SSL and SASL_SSL listeners
//! (`scripts/kafka.sh start --tls`: its own CA, SCRAM-SHA-256/512 and PLAIN for user "tweetflow").
//!
//! Test plan: the producer replays the fixtures over SSL with `-F`; the dataflow reads them over
//! SASL_SSL (SCRAM-SHA-512 from `-F`, and PLAIN with the password from the environment) and
//! writes its output topic the same way: the windows equal the reference. A wrong password and an
//! untrusted certificate are clear errors within seconds, and the password is never printed.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tweetflow_tests::kafka::{brokers, committed_on, run, tls, topic};
use tweetflow_tests::reference::{self, Params};
use tweetflow_tests::util::{OutputWithin, binary, fixture, messages};

const FIXTURES: [&str; 2] = ["tweets-v1.jsonl", "tweets-v2.jsonl"];

fn password() -> String {
    std::fs::read_to_string(tls().dir.join("sasl.password"))
        .unwrap()
        .trim()
        .to_owned()
}

fn dataflow(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(binary("tweet-dataflow"))
        .args(args)
        .envs(env.iter().copied())
        .output_within_limit()
}

#[test]
fn producer_and_dataflow_work_over_ssl_and_over_sasl_ssl() {
    let tls = tls();
    let topic = topic("tls");
    let out_topic = format!("{topic}-windows");
    let ssl = tls.dir.join("ssl.properties");
    let mut args: Vec<String> = vec!["replay".into()];
    args.extend(FIXTURES.iter().map(|f| fixture(f).display().to_string()));
    args.extend(
        [
            "--brokers",
            &tls.ssl_brokers,
            "--topic",
            &topic,
            "-F",
            ssl.to_str().unwrap(),
        ]
        .map(String::from),
    );
    run("tweet-producer", &args);
    let all: Vec<Vec<u8>> = FIXTURES
        .iter()
        .flat_map(|f| messages(&fixture(f)))
        .collect();
    let (want, _) = reference::run_lines(&[all], Params::defaults(600_000));

    let sasl = tls.dir.join("sasl_ssl.properties");
    let common = [
        "--brokers",
        &tls.sasl_brokers,
        "--topic",
        &topic,
        "--bounded",
        "--format",
        "jsonl",
        "--lateness",
        "10m",
    ];
    let scram = dataflow(
        &[
            &common[..],
            &["-F", sasl.to_str().unwrap(), "--output-topic", &out_topic],
        ]
        .concat(),
        &[],
    );
    let stderr = String::from_utf8_lossy(&scram.stderr);
    assert!(scram.status.success(), "SCRAM: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&scram.stdout),
        want,
        "SCRAM-SHA-512"
    );
    let records = committed_on(&brokers(), &out_topic);
    assert_eq!(
        records.join("\n") + "\n",
        want,
        "the output topic, written over SASL_SSL"
    );

    // PLAIN, the password from the environment and the rest from a file without it.
    let dir = tempfile::tempdir().unwrap();
    let plain: PathBuf = dir.path().join("plain.properties");
    std::fs::write(
        &plain,
        format!(
            "security.protocol=SASL_SSL\nssl.ca.location={}\nsasl.mechanisms=PLAIN\nsasl.username=tweetflow\n",
            tls.dir.join("ca.pem").display()
        ),
    )
    .unwrap();
    let password = password();
    let env = [
        ("TWEETFLOW_KAFKA_SASL_PASSWORD", password.as_str()),
        ("RUST_LOG", "debug"),
    ];
    let plain_run = dataflow(
        &[&common[..], &["-F", plain.to_str().unwrap()]].concat(),
        &env,
    );
    let stderr = String::from_utf8_lossy(&plain_run.stderr);
    assert!(plain_run.status.success(), "PLAIN: {stderr}");
    assert_eq!(String::from_utf8_lossy(&plain_run.stdout), want, "PLAIN");
    assert!(!stderr.contains(&password), "the password is never printed");
}

#[test]
fn a_wrong_password_is_a_clear_error_within_seconds() {
    let tls = tls();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.properties");
    let secret = "not-the-password-0451";
    std::fs::write(
        &wrong,
        format!(
            "security.protocol=SASL_SSL\nssl.ca.location={}\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=tweetflow\nsasl.password={secret}\n",
            tls.dir.join("ca.pem").display()
        ),
    )
    .unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let topic = topic("tls-wrong");
    for (program, args) in [
        (
            "tweet-producer",
            vec![
                "replay",
                empty.to_str().unwrap(),
                "--brokers",
                &tls.sasl_brokers,
            ],
        ),
        (
            "tweet-dataflow",
            vec!["--bounded", "--brokers", &tls.sasl_brokers],
        ),
    ] {
        let started = Instant::now();
        let output = Command::new(binary(program))
            .args(&args)
            .args(["--topic", &topic, "-F", wrong.to_str().unwrap()])
            .env("RUST_LOG", "debug")
            .output_within_limit();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{program}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "{program}: refused within seconds, not after the 30 s wait"
        );
        assert!(
            stderr.contains("refused the credentials"),
            "{program}: {stderr}"
        );
        assert!(
            !stderr.contains(secret),
            "{program}: the password is never printed"
        );
    }
}

#[test]
fn an_untrusted_certificate_is_a_clear_error_within_seconds() {
    let tls = tls();
    let started = Instant::now();
    let output = dataflow(
        &[
            "--bounded",
            "--brokers",
            &tls.ssl_brokers,
            "--topic",
            "any",
            "-X",
            "security.protocol=SSL",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(25));
    assert!(stderr.contains("certificate is not trusted"), "{stderr}");
}
