//! Named crash points for the fault tests of both binaries: `TWEETFLOW_CRASH=NAME[:N]` kills the
//! process with SIGKILL the N-th time (default first) it reaches the point NAME, exactly as an
//! operator's `kill -9` at the most dangerous moment would. Unset (always, outside tests), a point
//! costs one relaxed atomic load. They live here because every one of them surrounds a commit.
//!
//! Dataflow: `after-output` (window records and dead letters are written and synced, the checkpoint
//! is not), `mid-checkpoint` (half of the new checkpoint file is written), `after-commit` (the output
//! topic's transaction is committed, the checkpoint is not yet renamed into place). Producer under
//! `--resume`: `before-progress` (dead letters synced, the progress record not sent),
//! `before-commit` (the progress record sent, the transaction not committed), `after-commit`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

struct Armed {
    name: String,
    at: u64,
    seen: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var("TWEETFLOW_CRASH").ok()?;
            let (name, at) = match spec.split_once(':') {
                Some((name, n)) => (name.to_owned(), n.parse().ok()?),
                None => (spec, 1),
            };
            Some(Armed {
                name,
                at,
                seen: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Dies here, by SIGKILL, when this point is armed and reached for the armed time.
pub fn point(name: &str) {
    if let Some(armed) = armed()
        && armed.name == name
        && armed.seen.fetch_add(1, Ordering::Relaxed) + 1 == armed.at
    {
        eprintln!("crash point {name}: killing this process");
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}
