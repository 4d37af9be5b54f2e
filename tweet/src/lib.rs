//! Classification and field extraction of tweet messages: CONTRACT sections 1 and 2.
//!
//! Both the producer (to key and timestamp Kafka records) and the dataflow (to count) read tweets
//! through [`classify`], so that the two can never disagree about what a message is.

mod classify;
pub mod dead_letter;
pub mod input;
mod lenient;
mod message;
mod schema;
pub mod time;
mod validate;

pub use classify::{Backend, FUTURE, classify, classify_read, classify_with};
pub use dead_letter::{Class, DeadLetter};
pub use message::{Api, Message, NoticeKind, Tweet};
