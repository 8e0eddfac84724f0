//! The `mailscope` binary: parse flags, run the pipeline, print, map errors to exit codes.
#![forbid(unsafe_code)]

use clap::Parser;
use mailscope::cli::{Cli, Command, Output};
use mailscope::{pipeline, render};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// Exit codes: 0 success, 1 the capture or output failed (everything decoded before the
/// failure is still printed), 2 bad usage.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match &cli.command {
        Some(Command::Flows(args)) => args,
        None => &cli.main,
    };
    let (config, output) = match args.validate() {
        Ok(v) => v,
        Err(msg) => {
            eprintln!("mailscope: {msg}");
            return ExitCode::from(2);
        }
    };
    let outcome = match pipeline::flows(&config) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mailscope: {e}");
            return ExitCode::from(1);
        }
    };
    let stdout = io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = (|| -> io::Result<()> {
        match output {
            Output::Table => {
                render::table::write_flows(&mut out, &outcome.flows, &outcome.summary, color)?
            }
            Output::Json { pretty } => {
                for f in &outcome.flows {
                    render::json::write_line(&mut out, f, pretty)?;
                }
                render::json::write_line(&mut out, &outcome.summary, pretty)?;
            }
        }
        out.flush()
    })();
    match written {
        // A closed pipe (`mailscope … | head`) is the reader's choice, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailscope: writing output: {e}");
            return ExitCode::from(1);
        }
        Ok(()) => {}
    }
    if let Some(e) = outcome.error {
        eprintln!("mailscope: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
