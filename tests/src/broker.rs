//! A private Apache Kafka for the tests that kill, freeze or restart brokers: `scripts/kafka.sh`
//! on its own data directory and ports, so that the shared broker of `scripts/test.sh` stays up
//! for every other test. Dropping it stops every node.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{OutputWithin, free_ports, workspace};

pub struct Broker {
    data: tempfile::TempDir,
    port: u16,
    nodes: usize,
    address: String,
}

impl Broker {
    /// Starts `nodes` brokers (KRaft, combined controller) and waits until they all answer. A
    /// start that fails (a port taken meanwhile by another test) is tried again on other ports.
    pub fn start(nodes: usize) -> Broker {
        let mut failures = Vec::new();
        for _ in 0..3 {
            let data = tempfile::tempdir().expect("temp dir");
            // kafka.sh uses KAFKA_PORT + i for clients and KAFKA_PORT + 100 + i for controllers.
            let port = loop {
                let port = free_ports(1)[0];
                let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
                if port < 60_000
                    && (0..nodes as u16).all(|i| free(port + i) && free(port + 100 + i))
                {
                    break port;
                }
            };
            let mut broker = Broker {
                data,
                port,
                nodes,
                address: String::new(),
            };
            match broker.try_script(&["start", "--brokers", &nodes.to_string()]) {
                Ok(address) => {
                    broker.address = address;
                    return broker;
                }
                Err(e) => failures.push(e),
            }
        }
        panic!("a private Kafka of {nodes} broker(s) did not start: {failures:#?}");
    }

    /// Runs `kafka.sh` with this broker's environment; its last stdout line.
    fn script(&self, args: &[&str]) -> String {
        self.try_script(args).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_script(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new(workspace().join("scripts/kafka.sh"))
            .args(args)
            .env("KAFKA_DATA", self.data.path())
            .env("KAFKA_PORT", self.port.to_string())
            .env("KAFKA_HEAP", "256m")
            .output_within_limit();
        if !output.status.success() {
            return Err(format!(
                "kafka.sh {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned())
    }

    /// The bootstrap address of every node.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn pid(&self, node: usize) -> String {
        let path: PathBuf = self.data.path().join(format!("node{node}/pid"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_owned()
    }

    fn signal(&self, node: usize, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid(node)])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} node {node}");
    }

    /// SIGKILL to one node, as a crash would.
    pub fn kill(&self, node: usize) {
        self.signal(node, "-KILL");
    }

    /// Starts the nodes that are not running again, and waits until all answer.
    pub fn restart(&self) {
        self.script(&["start", "--brokers", &self.nodes.to_string()]);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new(workspace().join("scripts/kafka.sh"))
            .arg("stop")
            .env("KAFKA_DATA", self.data.path())
            .env("KAFKA_PORT", self.port.to_string())
            .output_within_limit();
    }
}
