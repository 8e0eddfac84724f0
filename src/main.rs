//! The `mailscope` binary: parse flags, run the pipeline into the chosen format's sink, draw
//! the progress bar, map errors to exit codes, stop cleanly on Ctrl-C / SIGTERM.
#![forbid(unsafe_code)]

use mailscope::capture::Progress;
use mailscope::cli::{Cli, Command, ExplainArgs, FlowsArgs, Format, Look, SessionArgs};
use mailscope::render::sink::Extracting;
use mailscope::teach::Lang;
use mailscope::{pipeline, render};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit codes: 0 success, 1 the capture or output failed (everything decoded before the
/// failure is still printed; a capture of which no frame could be decoded fails too), 2 bad
/// usage. Error messages are one line, control and bidi characters escaped.
fn main() -> ExitCode {
    let cli = Cli::parse_args();
    let input = match &cli.command {
        Some(Command::Flows(args)) => &args.input,
        Some(Command::Explain(args)) => return explain(args),
        None => &cli.main.input,
    };
    if input.list_interfaces {
        return list_interfaces();
    }
    let stdout = io::stdout();
    // `-o FILE`: the output goes to a temporary file beside FILE, renamed to FILE once the run
    // wrote something; the flags are checked first, and FILE may not be one of the inputs.
    let output = match cli
        .command
        .is_none()
        .then_some(cli.main.output.as_ref())
        .flatten()
    {
        Some(path) => match Output::create(path, &cli.main) {
            Ok(o) => Some(o),
            Err(Failure::Usage(msg)) => {
                eprintln!("mailscope: {}", render::escape(&msg));
                return ExitCode::from(2);
            }
            Err(Failure::Run(msg)) => {
                eprintln!("mailscope: {}", render::escape(&msg));
                return ExitCode::from(1);
            }
            Err(Failure::Output(e)) => {
                let msg = format!("-o {}: {e}", path.display());
                eprintln!("mailscope: {}", render::escape(&msg));
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let file = match &output {
        Some(o) => match o.file.try_clone() {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("mailscope: -o: {}", render::escape(&e.to_string()));
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let terminal = file.is_none() && stdout.is_terminal();
    // A live capture or a pipe: each line goes out as it is written, not at exit.
    let as_it_comes = input.interface.is_some()
        || input
            .read
            .iter()
            .chain(&input.files)
            .any(|f| mailscope::capture::is_stream(f));
    let look = Look {
        color: cli
            .color
            .enabled(terminal, std::env::var_os("NO_COLOR").is_some()),
        // On a terminal, output fits its width; a pipe or a file gets every line whole.
        width: terminal.then(terminal_width),
        ..Look::default()
    };
    let mut out: Box<dyn Write> = match (file, as_it_comes) {
        (Some(f), true) => Box::new(io::LineWriter::new(f)),
        (Some(f), false) => Box::new(io::BufWriter::new(f)),
        (None, true) => Box::new(io::LineWriter::new(stdout.lock())),
        (None, false) => Box::new(io::BufWriter::new(stdout.lock())),
    };
    let result = match &cli.command {
        Some(Command::Flows(args)) => flows(args, &mut out, look),
        Some(Command::Explain(_)) => Ok(()),
        None => sessions(&cli.main, &mut out, look),
    };
    let written = out.flush();
    drop(out);
    // Built with `copy-count` (bench/run.sh --copies): the bytes copied per capture byte.
    let size = |f: &String| std::fs::metadata(f).map_or(0, |m| m.len());
    if let Some(line) =
        mailscope::copies::report(input.read.iter().chain(&input.files).map(size).sum())
    {
        eprintln!("{line}");
    }
    if let Some(o) = output
        && let Err(e) = o.finish()
    {
        eprintln!("mailscope: -o: {}", render::escape(&e.to_string()));
        return ExitCode::from(1);
    }
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

/// The terminal's width in columns (80 when it cannot be asked, as a terminal's default).
fn terminal_width() -> u16 {
    match crossterm::terminal::size() {
        Ok((w, _)) if w > 0 => w,
        _ => 80,
    }
}

/// `-o FILE` on its way: a temporary file in FILE's directory.
struct Output {
    path: std::path::PathBuf,
    temp: std::path::PathBuf,
    file: std::fs::File,
}

impl Output {
    /// Checks the flags (so that a usage error leaves FILE alone) and that FILE is none of
    /// the inputs, then creates the temporary file.
    fn create(path: &std::path::Path, args: &SessionArgs) -> Result<Output, Failure> {
        args.validate().map_err(Failure::Usage)?;
        if let Ok(target) = std::fs::canonicalize(path) {
            let inputs = args.input.read.iter().chain(&args.input.files);
            if inputs
                .filter_map(|i| std::fs::canonicalize(i).ok())
                .any(|i| i == target || target.starts_with(&i))
            {
                return Err(Failure::Usage(format!(
                    "-o {}: that is an input; write the output elsewhere",
                    path.display()
                )));
            }
        }
        let name = path
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let temp = path.with_file_name(format!(".{name}.mailscope-{}", std::process::id()));
        let file = std::fs::File::create(&temp).map_err(Failure::Output)?;
        Ok(Output {
            path: path.to_path_buf(),
            temp,
            file,
        })
    }

    /// Puts the output in place, if the run wrote any (a run that could not open its input
    /// leaves an existing FILE as it was).
    fn finish(self) -> io::Result<()> {
        let wrote = self.file.metadata().map(|m| m.len() > 0).unwrap_or(false);
        drop(self.file);
        if wrote {
            std::fs::rename(&self.temp, &self.path)
        } else {
            std::fs::remove_file(&self.temp)
        }
    }
}

/// `mailscope explain TERM`: what the knowledge base says of it; exit 1 (with the nearest
/// known terms) when it knows nothing of it.
fn explain(args: &ExplainArgs) -> ExitCode {
    let lang = args.lang.unwrap_or_else(Lang::from_env);
    let width = if io::stdout().is_terminal() {
        usize::from(terminal_width())
    } else {
        80
    };
    // Each TERM on its own (a term of several words is quoted: "UID FETCH").
    let mut code = ExitCode::SUCCESS;
    let mut out = io::stdout().lock();
    for (n, term) in args.term.iter().enumerate() {
        let shown: String = render::escape(term.trim()).chars().take(80).collect();
        if term.trim().is_empty() {
            eprintln!("mailscope: explain: an empty term");
            code = ExitCode::from(1);
            continue;
        }
        match render::explain::lookup(term, lang, width) {
            Ok(text) => {
                // A closed pipe (`| head`) is the reader's choice.
                let sep = if n > 0 { "\n" } else { "" };
                if write!(out, "{sep}{text}").is_err() {
                    break;
                }
            }
            Err(nearest) => {
                match nearest.is_empty() {
                    true => eprintln!("mailscope: explain: nothing known as \"{shown}\""),
                    false => eprintln!(
                        "mailscope: explain: nothing known as \"{shown}\"; did you mean {}?",
                        nearest.join(", ")
                    ),
                }
                code = ExitCode::from(1);
            }
        }
    }
    code
}

/// `-D`: the interfaces a live capture can use, numbered as tshark -D does.
fn list_interfaces() -> ExitCode {
    match mailscope::capture::live::interfaces() {
        Ok(list) => {
            let mut out = io::stdout().lock();
            for (n, i) in list.iter().enumerate() {
                let mut flags = vec![if i.up { "up" } else { "down" }];
                if i.loopback {
                    flags.push("loopback");
                }
                let line = format!(
                    "{}. {}{} [{}]{}",
                    n + 1,
                    i.name,
                    i.description
                        .as_ref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default(),
                    flags.join(", "),
                    if i.addresses.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", i.addresses.join(", "))
                    }
                );
                if writeln!(out, "{}", render::escape(&line)).is_err() {
                    break;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mailscope: {}", render::escape(&e.to_string()));
            ExitCode::from(1)
        }
    }
}

/// Ctrl-C and SIGTERM raise `stop`: reading ends, every open session is written as it
/// stands, then the totals. Another one a second or more later exits at once (one sent
/// twice at the same moment, by a terminal and a wrapper relaying it, does not).
fn stop_on_signals(stop: &Arc<AtomicBool>) {
    let stop = stop.clone();
    let first = std::sync::Mutex::new(None::<std::time::Instant>);
    // Without a handler the signal still ends the process: only less tidily.
    let _ = ctrlc::set_handler(move || {
        stop.store(true, Ordering::SeqCst);
        let mut first = first.lock().unwrap_or_else(|p| p.into_inner());
        match *first {
            Some(t) if t.elapsed() >= std::time::Duration::from_secs(1) => std::process::exit(130),
            Some(_) => {}
            None => *first = Some(std::time::Instant::now()),
        }
    });
}

fn flows(args: &FlowsArgs, out: &mut impl Write, look: Look) -> Result<(), Failure> {
    let (config, output) = args.validate().map_err(Failure::Usage)?;
    if let Some(stop) = &config.input.stop {
        stop_on_signals(stop);
    }
    let mut sink = output.sink(out, look);
    let mut bar = Bar::new(!args.input.no_progress);
    let outcome = pipeline::flows(&config, sink.as_mut(), &mut |p| bar.update(p));
    bar.clear();
    let outcome = outcome.map_err(|e| Failure::Run(e.to_string()))?;
    if let Some(e) = outcome.output_error {
        return Err(Failure::Output(e));
    }
    match outcome.error {
        Some(e) => Err(Failure::Run(e.to_string())),
        None => Ok(()),
    }
}

fn sessions(args: &SessionArgs, out: &mut impl Write, look: Look) -> Result<(), Failure> {
    let config = args.validate().map_err(Failure::Usage)?;
    if let Some(stop) = &config.input.stop {
        stop_on_signals(stop);
    }
    let extract_failed = |dir: &std::path::Path, e: io::Error| {
        Failure::Run(format!("--extract {}: {e}", dir.display()))
    };
    let extractor = match &config.extract {
        Some(dir) => {
            Some(render::extract::Extractor::new(dir).map_err(|e| extract_failed(dir, e))?)
        }
        None => None,
    };
    let look = Look {
        pretty: args.pretty,
        show_secrets: config.show_secrets,
        time: Some(args.time_format),
        frames: args.frames,
        // From an interface, the text view shows sessions as they happen.
        events: args.events || (config.input.live.is_some() && args.format == Format::Text),
        bounds: Some(mailscope::proto::Bounds::from(&config.input.limits)),
        // The HTML report always explains, in --lang or the environment's language.
        explain: (args.explain || args.format == Format::Html)
            .then(|| args.lang.unwrap_or_else(Lang::from_env)),
        ..look
    };
    let mut format = args.format.sink(out, io::stderr(), look);
    let mut sink = Extracting::new(format.as_mut(), extractor);
    let mut bar = Bar::new(!args.input.no_progress);
    let outcome = pipeline::sessions(&config, &mut sink, &mut |p| bar.update(p));
    bar.clear();
    let outcome = outcome.map_err(|e| Failure::Run(e.to_string()))?;
    if let Some(e) = outcome.output_error {
        return Err(Failure::Output(e));
    }
    let extracted = sink.done();
    if let Some(dir) = &config.extract {
        extracted.map_err(|e| extract_failed(dir, e))?;
    }
    if let Some(why) = &outcome.empty {
        // Not an error: the capture was read; say why nothing is shown.
        eprintln!("mailscope: {}", render::escape(why));
    }
    match outcome.error {
        Some(e) => Err(Failure::Run(e.to_string())),
        None => Ok(()),
    }
}

/// The progress bar on stderr: drawn for an input of 64 MiB or more whose size is known,
/// when stderr is a terminal and `--no-progress` was not given.
struct Bar {
    enabled: bool,
    bar: Option<indicatif::ProgressBar>,
}

impl Bar {
    fn new(enabled: bool) -> Bar {
        Bar {
            enabled: enabled && io::stderr().is_terminal(),
            bar: None,
        }
    }

    fn update(&mut self, p: Progress) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() {
            match p.total {
                Some(size) if size >= (64 << 20) => {
                    let bar = indicatif::ProgressBar::new(size);
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    ) {
                        bar.set_style(style);
                    }
                    self.bar = Some(bar);
                }
                _ => {
                    self.enabled = false;
                    return;
                }
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_position(p.read);
        }
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
