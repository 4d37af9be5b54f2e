//! Kafka client plumbing shared by `tweet-producer` and `tweet-dataflow`, in one place (as vector
//! keeps its `src/kafka.rs`): the user's librdkafka properties, which are never printed with a
//! secret in them; client configuration per role with the user's properties applied last, as kcat
//! does; errors that say what the broker's answer suggests; delivery accounting that keeps every
//! record Kafka finally refused; topic creation; transactions and reading what they committed.

mod admin;
mod client;
pub mod crash;
pub mod dead_letter;
mod delivery;
mod group;
mod properties;
mod transaction;

pub use admin::{TopicSpec, ensure_topic};
pub use client::{
    ClientError, Diagnostics, ReportingContext, cached_high_watermark, client_config, create, hint,
    metadata, partition_count, watermarks,
};
pub use delivery::{
    Deliveries, DeliveryContext, SIDE, Sent, Settled, Undelivered, finish, producer, send,
};
pub use group::GroupOffsets;
pub use properties::{
    ENV_PREFIX, Properties, PropertyError, is_sensitive, parse_properties, parse_property,
    properties_from_env, read_properties_file, user_properties,
};
pub use transaction::{
    Transactions, committed_reader, high_watermark, keys_between, read_committed, transactional,
};

/// How long start-up requests (metadata, topic creation) and a final flush may take before they
/// are errors rather than hangs.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
