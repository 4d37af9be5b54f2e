//! The processes of a cluster finding each other: the hostfile, the connection phase and the
//! handshake, before timely takes the sockets over.
//!
//! timely's own connection phase retries forever, prints on stdout, and panics when something that
//! is not a peer answers. Here every process binds its own address, connects to the processes
//! before it and accepts those after it (timely's layout), and both ends of each connection
//! exchange a greeting that says which job and process they are. The phase has a deadline
//! (`--connect-timeout`); past it, the error names the processes that never came. A peer that is
//! lost later (it crashed, or was killed) ends this process with one clear line and exit status 1,
//! instead of timely's panics, so that a supervisor restarts the job.

use std::collections::HashMap;
use std::hash::Hasher;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::initialize::Hooks;

use crate::config::Cluster;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HostfileError {
    #[error("line {line}: {text:?} is not host:port")]
    NotHostPort { line: usize, text: String },
    #[error("line {line}: {address} is already listed on line {first}")]
    Duplicate {
        line: usize,
        first: usize,
        address: String,
    },
    #[error("it lists no host")]
    Empty,
}

/// One `host:port` per line (blank lines and `#` comments ignored), one line per process in
/// process order. Every entry is checked here, so that a typo is an error with its line number
/// rather than a connection phase that never completes.
pub fn parse_hostfile(text: &str) -> Result<Vec<String>, HostfileError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut hosts = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let entry = raw.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        if !is_host_port(entry) {
            return Err(HostfileError::NotHostPort {
                line,
                text: entry.to_owned(),
            });
        }
        if let Some(&first) = seen.get(entry) {
            return Err(HostfileError::Duplicate {
                line,
                first,
                address: entry.to_owned(),
            });
        }
        seen.insert(entry, line);
        hosts.push(entry.to_owned());
    }
    if hosts.is_empty() {
        return Err(HostfileError::Empty);
    }
    Ok(hosts)
}

fn is_host_port(entry: &str) -> bool {
    let Some((host, port)) = entry.rsplit_once(':') else {
        return false;
    };
    let host_ok = match host.strip_prefix('[') {
        Some(v6) => v6
            .strip_suffix(']')
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok()),
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        }
    };
    host_ok && port.parse::<u16>().is_ok_and(|p| p > 0)
}

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("cannot resolve {address} (process {process}): {reason}")]
    Resolve {
        process: usize,
        address: String,
        reason: String,
    },
    #[error("cannot listen on {address} (this process, {process}): {source}")]
    Listen {
        process: usize,
        address: String,
        source: io::Error,
    },
    #[error(
        "gave up after {}s (--connect-timeout) waiting for {}; are they started, with the same hostfile?",
        waited.as_secs(),
        missing.iter().map(|(p, a)| format!("process {p} at {a}")).collect::<Vec<_>>().join(", ")
    )]
    Timeout {
        waited: Duration,
        missing: Vec<(usize, String)>,
    },
    #[error("{address} (process {process} in the hostfile) is not a tweetflow peer: {reason}")]
    NotAPeer {
        process: usize,
        address: String,
        reason: String,
    },
    #[error("process {process} at {address} is not part of this job: {reason}")]
    Mismatch {
        process: usize,
        address: String,
        reason: String,
    },
    #[error("starting timely's network threads: {0}")]
    Network(io::Error),
}

const MAGIC: &[u8; 8] = b"TWEETFLW";
/// Bumped when the greeting or what follows it changes.
const PROTOCOL: u32 = 1;
const GREETING_LEN: usize = 8 + 4 + 8 * 4;
/// How long a connected peer may take to send its greeting.
const GREETING_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between connection attempts to a process that is not listening yet.
const RETRY: Duration = Duration::from_millis(200);
/// How long one connection attempt may take (a slow link, a distant peer).
const ATTEMPT: Duration = Duration::from_secs(2);

/// What a process says about itself when it connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Greeting {
    process: u64,
    processes: u64,
    workers: u64,
    job: u64,
}

impl Greeting {
    fn bytes(&self) -> [u8; GREETING_LEN] {
        let mut out = [0u8; GREETING_LEN];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&PROTOCOL.to_be_bytes());
        for (i, v) in [self.process, self.processes, self.workers, self.job]
            .iter()
            .enumerate()
        {
            out[12 + 8 * i..20 + 8 * i].copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    fn parse(bytes: &[u8; GREETING_LEN]) -> Result<Greeting, String> {
        if &bytes[..8] != MAGIC {
            return Err(format!(
                "it answered {:?} instead of a tweetflow greeting",
                String::from_utf8_lossy(
                    &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(GREETING_LEN)]
                )
            ));
        }
        let protocol = u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if protocol != PROTOCOL {
            return Err(format!(
                "it speaks protocol {protocol}, this build {PROTOCOL}: run the same version everywhere"
            ));
        }
        let word = |i: usize| {
            u64::from_be_bytes(bytes[12 + 8 * i..20 + 8 * i].try_into().expect("8 bytes"))
        };
        Ok(Greeting {
            process: word(0),
            processes: word(1),
            workers: word(2),
            job: word(3),
        })
    }
}

/// A fingerprint of what every process must agree on (the job's input and windows, passed in by
/// the caller as text, and this build), so that processes of different jobs never mix.
pub fn job_fingerprint(job: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(env!("CARGO_PKG_VERSION").as_bytes());
    h.write(job.as_bytes());
    h.finish()
}

fn resolve(process: usize, address: &str) -> Result<SocketAddr, ClusterError> {
    let error = |reason: String| ClusterError::Resolve {
        process,
        address: address.to_owned(),
        reason,
    };
    address
        .to_socket_addrs()
        .map_err(|e| error(e.to_string()))?
        .next()
        .ok_or_else(|| error("no address".to_owned()))
}

/// Reads the peer's greeting within [`GREETING_TIMEOUT`]; the error says why it is not one.
fn read_greeting(stream: &mut TcpStream) -> Result<Greeting, String> {
    stream
        .set_read_timeout(Some(GREETING_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut bytes = [0u8; GREETING_LEN];
    let mut got = 0;
    while got < GREETING_LEN {
        match stream.read(&mut bytes[got..]) {
            Ok(0) if got == 0 => return Err("it closed the connection without a greeting".into()),
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if got == 0 {
                    return Err(format!(
                        "it accepted the connection but sent no greeting within {}s (or it is a \
                         peer that gave up waiting for the others)",
                        GREETING_TIMEOUT.as_secs()
                    ));
                }
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let greeting = Greeting::parse(&bytes)?;
    stream.set_read_timeout(None).map_err(|e| e.to_string())?;
    Ok(greeting)
}

/// Checks that a greeting comes from process `expected` (or, for accepted connections, from any
/// later process) of the same job.
fn check(theirs: &Greeting, mine: &Greeting, expected: Option<usize>) -> Result<usize, String> {
    if theirs.processes != mine.processes || theirs.workers != mine.workers {
        return Err(format!(
            "it runs {} process(es) x {} worker(s), this one {} x {}",
            theirs.processes, theirs.workers, mine.processes, mine.workers
        ));
    }
    if theirs.job != mine.job {
        return Err("its input, windows or build differ from this process's".to_owned());
    }
    let process = theirs.process as usize;
    let fits = match expected {
        Some(p) => process == p,
        None => process > mine.process as usize && process < mine.processes as usize,
    };
    if !fits {
        return Err(format!(
            "it says it is process {process}; check the -p flags and the hostfile"
        ));
    }
    Ok(process)
}

/// Why one side of the connection phase stopped before it had all its peers.
enum Halt {
    Failed(ClusterError),
    /// The deadline passed (or the other side failed) with these processes still missing.
    Missing(Vec<usize>),
}

/// The phase both sides run in: who we are, the hostfile, the deadline and a flag that ends
/// the other side at once when one side fails.
struct Phase<'a> {
    mine: Greeting,
    addresses: &'a [String],
    deadline: Instant,
    failed: AtomicBool,
}

impl Phase<'_> {
    fn halted(&self) -> bool {
        self.failed.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    fn fail(&self, error: ClusterError) -> Halt {
        self.failed.store(true, Ordering::Relaxed);
        Halt::Failed(error)
    }

    /// Connects to every process before this one, retrying those not listening yet (or whose
    /// names do not resolve yet: containers that are not up).
    fn connect_all(&self, before: usize) -> Result<Vec<(usize, TcpStream)>, Halt> {
        let mut done: Vec<(usize, TcpStream)> = Vec::new();
        loop {
            for process in 0..before {
                if done.iter().any(|(p, _)| *p == process) {
                    continue;
                }
                let Ok(target) = resolve(process, &self.addresses[process]) else {
                    continue;
                };
                let left = self.deadline.saturating_duration_since(Instant::now());
                let attempt = ATTEMPT.min(left).max(Duration::from_millis(10));
                let Ok(mut stream) = TcpStream::connect_timeout(&target, attempt) else {
                    continue; // not listening yet
                };
                let _ = stream.set_nodelay(true);
                if let Err(e) = stream.write_all(&self.mine.bytes()) {
                    return Err(self.fail(ClusterError::NotAPeer {
                        process,
                        address: self.addresses[process].clone(),
                        reason: e.to_string(),
                    }));
                }
                let address = &self.addresses[process];
                let theirs = read_greeting(&mut stream).map_err(|reason| {
                    self.fail(ClusterError::NotAPeer {
                        process,
                        address: address.clone(),
                        reason,
                    })
                })?;
                check(&theirs, &self.mine, Some(process)).map_err(|reason| {
                    self.fail(ClusterError::Mismatch {
                        process,
                        address: address.clone(),
                        reason,
                    })
                })?;
                tracing::debug!(process, address = %self.addresses[process], "connected to peer");
                done.push((process, stream));
            }
            if done.len() == before {
                return Ok(done);
            }
            if self.halted() {
                let missing = (0..before)
                    .filter(|p| done.iter().all(|(q, _)| q != p))
                    .collect();
                return Err(Halt::Missing(missing));
            }
            std::thread::sleep(RETRY);
        }
    }

    /// Accepts every process after this one.
    fn accept_all(&self, listener: &TcpListener) -> Result<Vec<(usize, TcpStream)>, Halt> {
        let me = self.mine.process as usize;
        let expected = self.addresses.len() - me - 1;
        let mut done: Vec<(usize, TcpStream)> = Vec::new();
        while done.len() < expected {
            match listener.accept() {
                Ok((mut stream, from)) => {
                    if stream.set_nonblocking(false).is_err() {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    // A stranger (a port scanner, a health check) must not end the phase.
                    let theirs = match read_greeting(&mut stream) {
                        Ok(theirs) => theirs,
                        Err(reason) => {
                            tracing::warn!(%from, %reason, "ignored a connection that is not a tweetflow peer");
                            continue;
                        }
                    };
                    let process = check(&theirs, &self.mine, None)
                        .and_then(|process| {
                            if done.iter().any(|(p, _)| *p == process) {
                                return Err(format!(
                                    "a second connection says it is process {process}"
                                ));
                            }
                            Ok(process)
                        })
                        .map_err(|reason| {
                            self.fail(ClusterError::Mismatch {
                                process: theirs.process as usize,
                                address: from.to_string(),
                                reason,
                            })
                        })?;
                    stream
                        .write_all(&self.mine.bytes())
                        .map_err(|e| self.fail(ClusterError::Network(e)))?;
                    tracing::debug!(process, %from, "peer connected");
                    done.push((process, stream));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.halted() {
                        let missing = (me + 1..self.addresses.len())
                            .filter(|p| done.iter().all(|(q, _)| q != p))
                            .collect();
                        return Err(Halt::Missing(missing));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(self.fail(ClusterError::Network(e))),
            }
        }
        Ok(done)
    }
}

/// Connects this process to every other one within `cluster.connect_timeout`, and returns timely's
/// allocator builders over those connections, and the guard of its network threads.
pub fn connect(
    cluster: &Cluster,
    job: u64,
) -> Result<(Vec<AllocatorBuilder>, Box<dyn std::any::Any + Send>), ClusterError> {
    let me = cluster.process;
    let addresses = &cluster.addresses;
    let listen_on = resolve(me, &addresses[me])?;
    let listener = TcpListener::bind(listen_on).map_err(|source| ClusterError::Listen {
        process: me,
        address: addresses[me].clone(),
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(ClusterError::Network)?;
    let phase = Phase {
        mine: Greeting {
            process: me as u64,
            processes: cluster.processes as u64,
            workers: cluster.workers as u64,
            job,
        },
        addresses,
        deadline: Instant::now() + cluster.connect_timeout,
        failed: AtomicBool::new(false),
    };
    let (before, after) = std::thread::scope(|s| {
        let after = s.spawn(|| phase.accept_all(&listener));
        let before = phase.connect_all(me);
        (
            before,
            after.join().expect("the accepting thread does not panic"),
        )
    });
    let mut sockets: Vec<Option<TcpStream>> = (0..cluster.processes).map(|_| None).collect();
    let mut missing = Vec::new();
    for side in [before, after] {
        match side {
            Ok(streams) => streams.into_iter().for_each(|(p, s)| sockets[p] = Some(s)),
            Err(Halt::Failed(error)) => return Err(error),
            Err(Halt::Missing(processes)) => missing.extend(processes),
        }
    }
    if !missing.is_empty() {
        missing.sort_unstable();
        return Err(ClusterError::Timeout {
            waited: cluster.connect_timeout,
            missing: missing
                .into_iter()
                .map(|p| (p, addresses[p].clone()))
                .collect(),
        });
    }
    tracing::info!(
        process = me,
        processes = cluster.processes,
        "cluster connected"
    );
    if let Some(timeout) = cluster.peer_timeout {
        // Every worker sends a heartbeat each second (the ingest's progress reports), so a socket
        // silent for this long belongs to a peer that froze or was cut off.
        let mut kept = Vec::new();
        for socket in sockets.iter().flatten() {
            socket
                .set_read_timeout(Some(timeout))
                .map_err(ClusterError::Network)?;
            kept.push(socket.try_clone().map_err(ClusterError::Network)?);
        }
        *PEERS.lock().expect("not poisoned") = kept;
    }
    exit_when_a_peer_is_lost(addresses.clone(), cluster.peer_timeout);
    let hooks = Hooks::default();
    let local = ProcessBuilder::new_typed_vector(
        cluster.workers,
        hooks.refill.clone(),
        hooks.spill.clone(),
    );
    let (builders, guard) =
        initialize_networking_from_sockets(local, sockets, me, cluster.workers, hooks)
            .map_err(ClusterError::Network)?;
    Ok((
        builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
        Box::new(guard),
    ))
}

/// The sockets to the peers, while they carry a read timeout.
static PEERS: std::sync::Mutex<Vec<TcpStream>> = std::sync::Mutex::new(Vec::new());

/// Lifts the peer timeout: called when this process stops reading, after which heartbeats stop
/// while the last windows and the final checkpoint are written.
pub(crate) fn relax_peer_timeouts() {
    for socket in PEERS.lock().expect("not poisoned").drain(..) {
        let _ = socket.set_read_timeout(None);
    }
}

/// timely's network threads panic when a connection breaks ("timely communication error: …"),
/// and then every worker panics too. A peer that stopped is an operational event, not a bug: say
/// which one, once, and exit with status 1 so that a supervisor restarts the job.
fn exit_when_a_peer_is_lost(addresses: Vec<String>, peer_timeout: Option<Duration>) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let thread = std::thread::current();
        let peer = thread
            .name()
            .and_then(|n| {
                n.strip_prefix("timely:recv-")
                    .or_else(|| n.strip_prefix("timely:send-"))
            })
            .and_then(|p| p.parse::<usize>().ok());
        match peer {
            Some(p) if message.starts_with("timely communication error") => {
                let address = addresses.get(p).map_or("?", String::as_str);
                let silent = message.contains("os error 11") || message.contains("timed out");
                match (silent, peer_timeout) {
                    (true, Some(t)) => eprintln!(
                        "error: process {p} at {address} sent nothing for {}s (--peer-timeout): \
                         it is frozen or cut off. Exiting so that the job can be restarted.",
                        t.as_secs()
                    ),
                    _ => eprintln!(
                        "error: lost the connection to process {p} at {address} ({message}); it \
                         stopped or the network failed. Exiting so that the job can be restarted."
                    ),
                }
                std::process::exit(1);
            }
            _ => previous(info),
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostfile_entries_are_checked_with_their_line() {
        assert_eq!(
            parse_hostfile("# cluster\n127.0.0.1:2101\n\nnode-b.example:2102\n[::1]:7\n"),
            Ok(vec![
                "127.0.0.1:2101".to_owned(),
                "node-b.example:2102".to_owned(),
                "[::1]:7".to_owned()
            ])
        );
        assert_eq!(
            parse_hostfile("a:1\nb\n"),
            Err(HostfileError::NotHostPort {
                line: 2,
                text: "b".into()
            })
        );
        for bad in [
            "a:0", "a:70000", ":1", "a b:1", "[::1:2]", "[nope]:1", "a:x",
        ] {
            assert!(parse_hostfile(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_hostfile("a:1\nb:2\na:1\n"),
            Err(HostfileError::Duplicate {
                line: 3,
                first: 1,
                address: "a:1".into()
            })
        );
        assert_eq!(parse_hostfile("# only\n\n"), Err(HostfileError::Empty));
    }

    #[test]
    fn greetings_round_trip_and_strangers_are_named() {
        let g = Greeting {
            process: 1,
            processes: 3,
            workers: 2,
            job: 99,
        };
        assert_eq!(Greeting::parse(&g.bytes()), Ok(g));
        let mut http = [0u8; GREETING_LEN];
        http[..17].copy_from_slice(b"HTTP/1.1 400 Bad ");
        let err = Greeting::parse(&http).unwrap_err();
        assert!(err.contains("HTTP/1.1 400"), "{err}");
    }
}
