//! Live tweets from X's streaming APIs (issue 4): the v2 filtered stream and the legacy v1.1
//! `statuses/filter`, with X's reconnect policy, stall detection and credentials that never leave
//! the environment.

mod backoff;
mod client;
mod credentials;
mod dedup;
mod error;
mod framing;
mod oauth1;
mod rules;

pub use backoff::{Backoff, Failure, Sleep, TokioSleep};
pub use client::{
    Api, Auth, MessageSink, Recover, StreamConfig, StreamStats, V2_FIELDS, credentials, dry_run,
    rfc3339_seconds, rules_in_place, run, run_with, seen, sync_rules,
};
pub use credentials::{CredentialError, OAuth1, Secret, from_env, load_dotenv};
pub use dedup::{BACKFILL_HORIZON, Seen, backfill_minutes};
pub use error::{BoxError, StreamError};
pub use oauth1::signature as oauth1_signature;
pub use rules::{Rule, RulePlan};
