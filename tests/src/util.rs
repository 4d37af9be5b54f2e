//! Helpers for the end-to-end tests: workspace paths, the built binaries, free ports, and reading
//! input files the way the contract defines messages.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

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
        .output_within_limit();
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

/// The messages of a JSON Lines file (gzip by extension, in any case): split on `\n`, no final
/// empty line, and no UTF-8 byte-order mark at the start of the file (CONTRACT section 1).
pub fn messages(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).expect("read input");
    let bytes = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut out)
            .expect("gunzip");
        out
    } else {
        bytes
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
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

/// How long any process a test starts may run: a hang fails its test instead of blocking the suite.
pub const PROCESS_LIMIT: Duration = Duration::from_secs(300);

/// A started process whose stdout and stderr go to files, so it never blocks on a full pipe.
/// Dropping it kills the process if it still runs, so a failed assertion leaves nothing behind.
pub struct Running {
    child: Option<Child>,
    what: String,
    dir: tempfile::TempDir,
}

impl Running {
    pub fn start(command: &mut Command) -> Running {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = |name: &str| File::create(dir.path().join(name)).expect("create log");
        let what = format!("{command:?}");
        let child = command
            .stdout(file("stdout"))
            .stderr(file("stderr"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Running {
            child: Some(child),
            what,
            dir,
        }
    }

    /// Sends SIGTERM, as `kill` or a service manager would.
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    /// Sends a signal (`-KILL`, `-STOP`, `-CONT`, …) with `kill`.
    pub fn signal(&self, signal: &str) {
        let id = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([signal, &id.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {id}");
    }

    /// Whether it has exited (without waiting).
    pub fn exited(&mut self) -> bool {
        let child = self.child.as_mut().expect("running");
        child.try_wait().expect("wait").is_some()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).expect("read log")
    }

    /// What the process has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.read("stderr")).into_owned()
    }

    /// Its output once it exits; killed, and the test failed, if that is not before `deadline`.
    pub fn wait_until(mut self, deadline: Instant) -> Output {
        let mut child = self.child.take().expect("running");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} still ran at its deadline and was killed; stderr:\n{}",
                    self.what,
                    String::from_utf8_lossy(&self.read("stderr"))
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: self.read("stdout"),
            stderr: self.read("stderr"),
        }
    }

    pub fn wait(self) -> Output {
        self.wait_until(Instant::now() + PROCESS_LIMIT)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until `ready` holds, checking every 50 ms; fails the test with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `Command::output` with [`PROCESS_LIMIT`].
pub trait OutputWithin {
    fn output_within_limit(&mut self) -> Output;
}

impl OutputWithin for Command {
    fn output_within_limit(&mut self) -> Output {
        Running::start(self).wait()
    }
}

/// `tweet-dataflow` running as a local cluster of processes on free loopback ports.
pub struct Cluster {
    processes: Vec<Running>,
    _hosts: tempfile::TempDir,
}

impl Cluster {
    pub fn spawn(processes: usize, workers: usize, args: &[String]) -> Cluster {
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
        let processes = (0..processes)
            .map(|process| {
                Running::start(
                    Command::new(binary("tweet-dataflow"))
                        .args(args)
                        .args(&cluster)
                        .arg("--hostfile")
                        .arg(&hostfile)
                        .args(["-p", &process.to_string()]),
                )
            })
            .collect();
        Cluster {
            processes,
            _hosts: dir,
        }
    }

    /// Process `i` of the cluster.
    pub fn process(&mut self, i: usize) -> &mut Running {
        &mut self.processes[i]
    }

    /// What every process has written to stderr so far, one after the other.
    pub fn stderr_so_far(&self) -> String {
        self.processes.iter().map(Running::stderr_so_far).collect()
    }

    /// Every process's output once all have exited (process 0 first), within [`PROCESS_LIMIT`].
    pub fn wait(self) -> Vec<Output> {
        self.wait_until(Instant::now() + PROCESS_LIMIT)
    }

    /// Every process's output once all have exited (process 0 first); a failed test if that is
    /// not before `deadline`.
    pub fn wait_until(self, deadline: Instant) -> Vec<Output> {
        self.processes
            .into_iter()
            .map(|p| p.wait_until(deadline))
            .collect()
    }
}

/// Runs `tweet-dataflow` as a local cluster of `processes` processes of `workers` workers, and
/// returns every process's output once all succeeded (process 0 first).
pub fn dataflow_cluster(processes: usize, workers: usize, args: &[String]) -> Vec<Output> {
    let outputs = Cluster::spawn(processes, workers, args).wait();
    for (process, output) in outputs.iter().enumerate() {
        assert!(
            output.status.success(),
            "process {process}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    outputs
}

/// The values of a Prometheus text exposition (`/metrics`), by `name{labels}`.
pub fn prometheus(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}
