//! The test side of tweetflow: an independent sequential reference of the contract, and helpers
//! for the end-to-end tests in `tests/e2e/`.

#[cfg(feature = "kafka")]
pub mod broker;
pub mod inputs;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod mock_x;
pub mod reference;
pub mod util;
