//! `tweet-producer`: parse flags, run, report (CONTRACT §5). Exit codes: 0 done, 1 failure,
//! 2 bad flags, 130 a second interrupt.

mod cli;

use std::io;
use std::process::ExitCode;

use clap::Parser;
use tweet_producer::metrics::ProducerMetrics;
use tweet_producer::run::{self, Report, RunError};
use tweet_producer::stream;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tweetflow_observe::init_logging(cli.log_format(), "info");
    let metrics = ProducerMetrics::new();
    let _server = match cli.metrics().map(|addr| metrics.serve(addr)).transpose() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let plan = match cli.plan() {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let result = match plan {
        cli::Plan::DryRun(config) => stream::dry_run(&config)
            .map(|text| print!("{text}"))
            .map_err(anyhow::Error::from),
        cli::Plan::Generated(text) => {
            use std::io::Write;
            match io::stdout().lock().write_all(text.as_bytes()) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        cli::Plan::Run(job) => match run::stop_on_signals() {
            Err(e) => Err(e.into()),
            Ok(stop) => {
                let (report, result) = run::run_observed(job, stop, &metrics);
                print_report(&report);
                result.map_err(anyhow::Error::from)
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) means the reader has all it wants.
        Err(e)
            if e.downcast_ref::<RunError>()
                .is_some_and(RunError::is_broken_pipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_report(report: &Report) {
    let secs = report.elapsed.as_secs_f64();
    if let Some(stats) = &report.generated {
        eprintln!(
            "generated {} tweets, {} other lines, {} bytes of JSON in {secs:.2} s ({:.0} tweets/s)",
            stats.tweets,
            stats.other,
            stats.bytes,
            stats.tweets as f64 / secs.max(1e-9)
        );
    }
    if let Some(stats) = &report.stream {
        eprintln!("stream: {stats}");
    }
    if let Some(delivery) = &report.delivery {
        if let Some(after) = &delivery.resumed_after {
            eprintln!("resumed after {after}, committed by an earlier run");
        }
        eprintln!("{delivery} in {secs:.2} s");
        if let Some(through) = &delivery.committed_through {
            eprintln!("committed through {through}");
        }
    }
}
