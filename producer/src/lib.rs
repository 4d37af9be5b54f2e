//! Writes tweets for the tweetflow pipeline: a deterministic synthetic generator, replay of files,
//! and live tweets from X's streaming APIs, into Kafka (CONTRACT section 5).

pub mod generate;
pub mod kafka;
pub mod progress;
pub mod replay;
pub mod stream;
