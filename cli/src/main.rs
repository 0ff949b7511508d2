//! `dffmpeg`: a drop-in ffmpeg that spreads a video encode over worker nodes.
//!
//! It parses the command line as ffmpeg does; an encode it can distribute is
//! cut into chunks, encoded on the nodes and assembled; anything else is
//! handed to the real ffmpeg with the original argv, by exec, so its output
//! and exit status are ffmpeg's own.

use std::ffi::OsString;
use std::process::ExitCode;

use cli::local::Tools;
use cli::{args, console, distribute, route, settings};

/// ffmpeg's exit status for a failed run (5.1 uses 1 for nearly every error).
const EXIT_FAILURE: u8 = 1;
/// ffmpeg's exit status when interrupted by a signal.
const EXIT_INTERRUPTED: u8 = 255;

fn main() -> ExitCode {
    node::malloc::bound_arenas();
    use tracing_subscriber::prelude::*;
    let console = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        // It would report a failed write with eprintln!, which panics once
        // standard error is closed (`console::stderr`).
        .log_internal_errors(false)
        .with_filter(
            tracing_subscriber::EnvFilter::try_from_env("DFFMPEG_LOG")
                .unwrap_or_else(|_| "error".into()),
        );
    // The -report file's own trace, at the report's level (off without one).
    let report = tracing_subscriber::fmt::layer()
        .with_writer(cli::report::TraceWriter)
        .with_ansi(false)
        // Dynamic for dffmpeg's own callsites, as a report starts mid-run;
        // never for the libraries'.
        .with_filter(
            tracing_subscriber::filter::dynamic_filter_fn(|meta, _| cli::report::records(meta))
                .with_callsite_filter(|meta| {
                    if cli::report::may_record(meta) {
                        tracing::subscriber::Interest::sometimes()
                    } else {
                        tracing::subscriber::Interest::never()
                    }
                }),
        );
    tracing_subscriber::registry().with(console).with(report).init();
    let code = match run() {
        Ok(code) => code,
        Err(error) => {
            match error.downcast_ref::<cli::assemble::PipeClosed>() {
                // As ffmpeg alone says it, at its level.
                Some(closed) => {
                    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
                    if log_level(&argv) >= console::level::ERROR {
                        cli::console::stderr(&format!("{closed}\n"));
                    }
                }
                None => cli::console::stderr(&format!("dffmpeg: {error:#}\n")),
            }
            ExitCode::from(EXIT_FAILURE)
        }
    };
    cli::report::finish();
    code
}

fn run() -> anyhow::Result<ExitCode> {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    if argv.first().is_some_and(|a| a == "policy") {
        return policy_command(&argv[1..]);
    }
    let (own, ffmpeg_argv) = settings::split_own_args(argv)?;
    let settings = settings::Settings::load(&own)?;
    let tools = Tools::find(settings.ffmpeg.as_deref())?;

    let strings: Option<Vec<String>> =
        ffmpeg_argv.iter().map(|a| a.to_str().map(str::to_string)).collect();
    let level = log_level(&ffmpeg_argv);
    let verbose = level >= console::level::VERBOSE
        || std::env::var("DFFMPEG_LOG").is_ok_and(|v| v.contains("info"));
    let decision = match &strings {
        None => Err("the command line is not UTF-8".to_string()),
        Some(argv) => match args::parse(argv) {
            Ok(command) => route::route_all(&command),
            Err(error) => Err(error.to_string()),
        },
    };
    let jobs = match decision {
        Ok(jobs) => jobs,
        Err(reason) => return Err(passthrough(&tools, &ffmpeg_argv, &reason, verbose, None)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (outcome, signaled) = runtime.block_on(async {
        let signals = cli::interrupt::Signals::listen()?;
        let mut aborting = signals.clone();
        let outcome = tokio::select! {
            outcome = distribute::run(jobs, &settings, tools.clone(), &signals) => {
                outcome.map(Some)
            }
            () = aborting.abort() => Ok(None),
        };
        anyhow::Ok((outcome, signals.received()))
    })?;
    // Dropping the runtime kills every child; an unfinished job's directory
    // keeps its verified chunks for the rerun (`resume`).
    drop(runtime);
    let exiting = |signal: i32| {
        // ffmpeg logs it at info level.
        if level >= console::level::INFO {
            cli::console::stderr(&format!("Exiting normally, received signal {signal}.\n"));
        }
        Ok(ExitCode::from(EXIT_INTERRUPTED))
    };
    match outcome {
        // Stopped by a signal, the output of what was encoded is written.
        Ok(Some(distribute::Outcome::Done)) if let Some(received) = signaled => {
            exiting(received.signal)
        }
        Ok(Some(distribute::Outcome::Done)) => Ok(ExitCode::SUCCESS),
        Ok(Some(distribute::Outcome::Fallback { reason, stdin })) => {
            Err(passthrough(&tools, &ffmpeg_argv, &reason, verbose, stdin))
        }
        Ok(Some(distribute::Outcome::Refused(refusal))) => {
            cli::console::stderr(&format!("{refusal}\n"));
            Ok(ExitCode::from(EXIT_FAILURE))
        }
        Ok(None) => exiting(signaled.map_or(libc::SIGINT, |r| r.signal)),
        Err(error) => Err(error),
    }
}

/// The console's level as ffmpeg takes it from the raw argv: the last
/// `-loglevel`/`-v` it understands, else info. From the raw argv, so that a
/// command that is not UTF-8 still says why it runs through ffmpeg.
fn log_level(argv: &[OsString]) -> i32 {
    argv.windows(2)
        .filter(|w| w[0] == "-loglevel" || w[0] == "-v")
        .filter_map(|w| w[1].to_str().and_then(console::parse_level))
        .next_back()
        .unwrap_or(console::level::INFO)
}

/// `dffmpeg policy ...`: tools for policy authors.
#[derive(Debug, clap::Parser)]
#[command(name = "dffmpeg policy", about = "Tools for authors of scheduling policies")]
enum PolicyCommand {
    /// Validates a module, runs it on built-in fixtures and prints its decisions.
    Check {
        /// The module (`.wasm` or `.wat`).
        file: std::path::PathBuf,
    },
    /// Simulates a cluster of heterogeneous nodes with the policy in the loop.
    Simulate(cli::policy::simulate::SimulateArgs),
}

/// Runs a `dffmpeg policy` command. No ffmpeg command line starts with the
/// word `policy` (it would be an output with no input).
fn policy_command(args: &[OsString]) -> anyhow::Result<ExitCode> {
    use clap::Parser as _;
    let argv = std::iter::once(OsString::from("dffmpeg policy")).chain(args.iter().cloned());
    let command = match PolicyCommand::try_parse_from(argv) {
        Ok(command) => command,
        Err(error) => {
            let _ = error.print();
            return Ok(ExitCode::from(if error.use_stderr() { 2 } else { 0 }));
        }
    };
    let report = match command {
        PolicyCommand::Check { file } => cli::policy::check::run(&file)?,
        PolicyCommand::Simulate(args) => cli::policy::simulate::run(&args)?,
    };
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// Replaces this process with the real ffmpeg, reading `stdin` if dffmpeg
/// already consumed the real one; returns only if exec failed.
fn passthrough(
    tools: &Tools,
    argv: &[OsString],
    reason: &str,
    verbose: bool,
    stdin: Option<std::process::Stdio>,
) -> anyhow::Error {
    if verbose {
        cli::console::stderr(&format!("[dffmpeg] running with ffmpeg: {reason}\n"));
    }
    // ffmpeg writes its own report; standard error is the real one for it.
    cli::report::finish();
    tools.exec(argv, stdin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_level_ffmpeg_understands_counts() {
        let argv = |words: &[&str]| words.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(log_level(&argv(&["-i", "in.mkv", "out.mkv"])), console::level::INFO);
        let both = argv(&["-v", "verbose", "-i", "in.mkv", "-loglevel", "error", "out.mkv"]);
        assert_eq!(log_level(&both), console::level::ERROR);
        let flagged = argv(&["-loglevel", "repeat+level+warning", "-v", "nonsense"]);
        assert_eq!(log_level(&flagged), console::level::WARNING);
    }
}
