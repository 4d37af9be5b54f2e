//! Helpers for the end-to-end tests: workspace paths, the built binaries, free ports, and reading
//! input files the way the contract defines messages.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    workspace().join("fixtures").join(name)
}

/// A workspace binary, built by `cargo build --bins` (the README's test command does this first).
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let path = target.join(profile).join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Runs `tweet-dataflow` with `args` and returns its output, failing on a non-zero exit.
pub fn dataflow(args: &[&str]) -> Output {
    let output = Command::new(binary("tweet-dataflow"))
        .args(args)
        .output()
        .expect("spawn tweet-dataflow");
    assert!(
        output.status.success(),
        "tweet-dataflow {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Ports the OS says are free now (bound and released; good enough on loopback for a test).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

/// The messages of a JSON Lines file (gzip by extension): split on `\n`, no final empty line.
pub fn messages(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).expect("read input");
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut out)
            .expect("gunzip");
        out
    } else {
        bytes
    };
    let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// The lines of a text file, for comparing JSON Lines outputs.
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read output")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs `tweet-dataflow` as a local cluster of `processes` processes of `workers` workers on free
/// loopback ports, and returns every process's output once all succeeded (process 0 first).
pub fn dataflow_cluster(processes: usize, workers: usize, args: &[String]) -> Vec<Output> {
    let dir = tempfile::tempdir().expect("temp dir");
    let hostfile = dir.path().join("hosts");
    let hosts: String = free_ports(processes)
        .iter()
        .map(|port| format!("127.0.0.1:{port}\n"))
        .collect();
    std::fs::write(&hostfile, hosts).expect("write hostfile");
    let cluster = [
        "-w".to_owned(),
        workers.to_string(),
        "-n".to_owned(),
        processes.to_string(),
    ];
    let children: Vec<_> = (0..processes)
        .map(|process| {
            Command::new(binary("tweet-dataflow"))
                .args(args)
                .args(&cluster)
                .arg("--hostfile")
                .arg(&hostfile)
                .args(["-p", &process.to_string()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn tweet-dataflow")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    for (process, output) in outputs.iter().enumerate() {
        assert!(
            output.status.success(),
            "process {process}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    outputs
}
