//! Writes tweets for the tweetflow pipeline: a deterministic synthetic generator, and replay of
//! files into Kafka (CONTRACT section 5).

pub mod generate;
pub mod kafka;
pub mod progress;
pub mod replay;
