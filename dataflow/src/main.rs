//! `tweet-dataflow`: parse flags, run, report. Exit codes: 0 done, 1 failure, 2 bad flags,
//! 130 a second interrupt (also in `--help`).

mod cli;

use std::process::ExitCode;

use clap::Parser;
use tweet_dataflow::{Shutdown, run};

fn main() -> ExitCode {
    let args = cli::Args::parse();
    if let Some(what) = args.generated() {
        return match cli::generate(what, &mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    tweetflow_observe::init_logging(
        args.log_format(),
        "tweet_dataflow=info,tweetflow_kafka=info,tweetflow_observe=info",
    );
    let linger = args.ui_linger();
    let config = match args.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    // SIGINT and SIGTERM stop the run: it reads no more, writes the complete windows and a last
    // checkpoint, and exits 0; a second signal exits at once (130).
    let shutdown = Shutdown::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let installed =
            signal_hook::flag::register_conditional_shutdown(signal, 130, shutdown.flag())
                .and_then(|_| signal_hook::flag::register(signal, shutdown.flag()));
        if let Err(e) = installed {
            eprintln!("error: installing signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    }
    let code = report(run(config, shutdown.clone()));
    if code == ExitCode::SUCCESS && !linger.is_zero() && !shutdown.requested() {
        eprintln!(
            "tweet-dataflow: the run is over; the live view stays up for {} s (Ctrl-C ends it)",
            linger.as_secs()
        );
        let until = std::time::Instant::now() + linger;
        while std::time::Instant::now() < until && !shutdown.requested() {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    code
}

/// Prints the summary or the error; the exit code.
fn report(result: Result<Option<tweet_dataflow::Summary>, tweet_dataflow::RunError>) -> ExitCode {
    match result {
        Ok(Some(summary)) => {
            let stopped = if summary.stopped {
                " (stopped on request)"
            } else {
                ""
            };
            eprintln!(
                "tweet-dataflow: {}; {} windows written, {} dead letters{stopped}",
                summary.stats, summary.windows, summary.dead_letters
            );
            if summary.checkpoints > 0 {
                eprintln!(
                    "tweet-dataflow: {} checkpoints written ({} bytes, {} ms in all)",
                    summary.checkpoints, summary.checkpoint_bytes, summary.checkpoint_ms
                );
            }
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
        Err(e) if e.is_usage() => {
            eprintln!("error: {:#}", anyhow::Error::new(e));
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::new(e));
            ExitCode::FAILURE
        }
    }
}
