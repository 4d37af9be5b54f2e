//! Writes tweets for the tweetflow pipeline: a deterministic synthetic generator, replay of files,
//! and live tweets from X's streaming APIs, into Kafka (CONTRACT section 5).
//!
//! The library takes typed jobs ([`run::Job`]); the flags of `tweet-producer` live with the binary
//! (`src/main.rs`, `src/cli.rs`).

pub mod generate;
pub mod metrics;
pub mod progress;
pub mod replay;
pub mod resume;
pub mod run;
pub mod stream;
pub mod writer;
