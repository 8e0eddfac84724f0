//! The `mailscope` binary: parse flags, run the pipeline, print, map errors to exit codes.
#![forbid(unsafe_code)]

use clap::Parser;
use mailscope::cli::{Cli, Command, FlowsArgs, FlowsOutput, Format, SessionArgs};
use mailscope::{pipeline, render};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// Exit codes: 0 success, 1 the capture or output failed (everything decoded before the
/// failure is still printed; a capture of which no frame could be decoded fails too), 2 bad
/// usage. Error messages are one line, control and bidi characters escaped.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match &cli.command {
        Some(Command::Flows(args)) => flows(args, &mut out, color),
        None => sessions(&cli.main, &mut out, color),
    };
    let written = out.flush();
    match (result, written) {
        (Err(Failure::Usage(msg)), _) => {
            eprintln!("mailscope: {}", render::escape(&msg));
            ExitCode::from(2)
        }
        (Err(Failure::Output(e)), _) | (_, Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            // A closed pipe (`mailscope … | head`) is the reader's choice, not an error.
            ExitCode::SUCCESS
        }
        (Err(Failure::Output(e)), _) | (_, Err(e)) => {
            eprintln!(
                "mailscope: writing output: {}",
                render::escape(&e.to_string())
            );
            ExitCode::from(1)
        }
        (Err(Failure::Run(msg)), _) => {
            // One line, whatever a file name or a capture put into it.
            eprintln!("mailscope: {}", render::escape(&msg));
            ExitCode::from(1)
        }
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
    }
}

enum Failure {
    Usage(String),
    Run(String),
    Output(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Output(e)
    }
}

fn flows(args: &FlowsArgs, out: &mut impl Write, color: bool) -> Result<(), Failure> {
    let (config, output) = args.validate().map_err(Failure::Usage)?;
    // The table needs every row; JSON streams.
    let mut rows = Vec::new();
    let outcome = {
        let mut sink = |f: mailscope::session::FlowRecord| -> io::Result<()> {
            match output {
                FlowsOutput::Table => {
                    rows.push(f);
                    Ok(())
                }
                FlowsOutput::Json { pretty } => render::json::write_line(out, &f, pretty),
            }
        };
        pipeline::flows(&config, &mut sink).map_err(|e| Failure::Run(e.to_string()))?
    };
    if let Some(e) = outcome.output_error {
        return Err(Failure::Output(e));
    }
    match output {
        FlowsOutput::Table => render::table::write_flows(out, &rows, &outcome.summary, color)?,
        FlowsOutput::Json { pretty } => render::json::write_line(out, &outcome.summary, pretty)?,
    }
    match outcome.error {
        Some(e) => Err(Failure::Run(e.to_string())),
        None => Ok(()),
    }
}

fn sessions(args: &SessionArgs, out: &mut impl Write, color: bool) -> Result<(), Failure> {
    let config = args.validate().map_err(Failure::Usage)?;
    let mut extractor = match &config.extract {
        Some(dir) => Some(
            render::extract::Extractor::new(dir)
                .map_err(|e| Failure::Run(format!("--extract {}: {e}", dir.display())))?,
        ),
        None => None,
    };
    let extract_error = std::cell::RefCell::new(None);
    let style = render::text::Style::new(color);
    // Tables need every session; text and JSON stream as sessions finish.
    let mut table = Vec::new();
    let mut first = true;
    let outcome = {
        let mut sink = |s: mailscope::session::Session| -> io::Result<()> {
            if let Some(x) = extractor.as_mut()
                && let Err(e) = x.add(&s)
            {
                extract_error.borrow_mut().get_or_insert(e);
            }
            match args.format {
                Format::Text => {
                    if !first {
                        writeln!(out)?;
                    }
                    first = false;
                    render::text::write_session(out, &s, style)
                }
                Format::Json => render::json::write_line(out, &s, args.pretty),
                Format::Table => {
                    table.push(s);
                    Ok(())
                }
            }
        };
        pipeline::sessions(&config, &mut sink).map_err(|e| Failure::Run(e.to_string()))?
    };
    if let Some(e) = outcome.output_error {
        return Err(Failure::Output(e));
    }
    match args.format {
        Format::Text if outcome.error.is_none() => {
            render::text::write_skipped(&mut io::stderr().lock(), &outcome.summary)?
        }
        Format::Text => {}
        Format::Json => render::json::write_line(out, &outcome.summary, args.pretty)?,
        Format::Table => render::table::write_sessions(
            out,
            &table,
            &outcome.summary,
            config.show_secrets,
            color,
        )?,
    }
    let extract_failed = extract_error.into_inner();
    if let Some(dir) = &config.extract {
        let finished = match extract_failed {
            Some(e) => Err(e),
            None => extractor.map_or(Ok(()), |x| x.finish()),
        };
        finished.map_err(|e| Failure::Run(format!("--extract {}: {e}", dir.display())))?;
    }
    match outcome.error {
        Some(e) => Err(Failure::Run(e.to_string())),
        None => Ok(()),
    }
}
