//! Watching both binaries run: one HTTP server per process for `/metrics` (Prometheus text
//! format, from a `prometheus-client` registry) and for whatever else a binary serves beside it
//! (the dataflow's live view), and the log set-up of both binaries (`--log-format text|json`).
//!
//! The server runs on a thread of its own with a one-thread tokio runtime: the binaries' work
//! (timely workers, the producer's loop) never waits for a scrape, and a scrape reads only atomics.

mod logging;
mod server;

pub use logging::{LogFormat, init_logging};
pub use prometheus_client;
pub use server::{Server, ServerError, metrics_text};
