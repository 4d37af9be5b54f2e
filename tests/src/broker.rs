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
    /// Starts `nodes` brokers (KRaft, combined controller) and waits until they all answer.
    pub fn start(nodes: usize) -> Broker {
        let data = tempfile::tempdir().expect("temp dir");
        // kafka.sh uses KAFKA_PORT + i for clients and KAFKA_PORT + 100 + i for controllers.
        let port = loop {
            let port = free_ports(1)[0];
            if port < 60_000 && std::net::TcpListener::bind(("127.0.0.1", port + 100)).is_ok() {
                break port;
            }
        };
        let mut broker = Broker {
            data,
            port,
            nodes,
            address: String::new(),
        };
        broker.address = broker.script(&["start", "--brokers", &nodes.to_string()]);
        broker
    }

    /// Runs `kafka.sh` with this broker's environment; its last stdout line.
    fn script(&self, args: &[&str]) -> String {
        let output = Command::new(workspace().join("scripts/kafka.sh"))
            .args(args)
            .env("KAFKA_DATA", self.data.path())
            .env("KAFKA_PORT", self.port.to_string())
            .env("KAFKA_HEAP", "256m")
            .output_within_limit();
        assert!(
            output.status.success(),
            "kafka.sh {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned()
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
