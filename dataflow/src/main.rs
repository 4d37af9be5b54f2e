//! `tweet-dataflow`: parse flags, run, report. Exit codes: 0 done, 1 failure, 2 bad flags.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use tweet_dataflow::{Shutdown, run};

fn main() -> ExitCode {
    let args = cli::Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "tweet_dataflow=info,tweetflow_kafka=info".into()),
        )
        .init();
    let config = match args.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(config, Shutdown::new()) {
        Ok(Some(summary)) => {
            eprintln!(
                "tweet-dataflow: {}; {} windows written, {} dead letters",
                summary.stats, summary.windows, summary.dead_letters
            );
            if summary.stats.read_errors > 0 {
                // The windows are written, but they are missing whatever could not be read.
                eprintln!(
                    "error: {} input(s) could not be read to the end; see the dead letters",
                    summary.stats.read_errors
                );
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) means the reader has all it wants, as for ripgrep.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::new(e));
            ExitCode::FAILURE
        }
    }
}
