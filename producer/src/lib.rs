//! Writes tweets for the tweetflow pipeline: today a deterministic synthetic generator, later replay and live streams into Kafka.

pub mod generate;
