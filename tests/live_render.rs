//! The render side of live capture: the live text transcript (`render::live::LiveText`) and
//! the JSON event feed (`sink::Json::events`), driven by the pipeline with the real events
//! of every sample, as a live capture drives them.

use mailscope::pipeline::{InputConfig, SessionsConfig, sessions};
use mailscope::render::SessionSink;
use mailscope::render::live::LiveText;
use mailscope::render::sink;
use mailscope::render::text::Style;
use mailscope::session::mail::MessageInfo;
use mailscope::session::{Event, Origin, RunSummary, Session};
use mailscope::types::{CaptureStats, Endpoint, Timestamp};
use serde_json::Value;
use std::cell::RefCell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    files
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

fn config(file: &Path, show_secrets: bool) -> SessionsConfig {
    SessionsConfig {
        show_secrets,
        ..SessionsConfig::new(InputConfig::files(vec![file.to_string_lossy().into()]))
    }
}

/// A writer whose bytes can be read while a sink owns it.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.borrow().clone()).expect("UTF-8")
    }
}

/// The streaming mode's contract for a pipeline that numbers sessions only as they are
/// written: numbers them in order of their first event, calls `start` then, and gives the
/// whole session its number. (A pipeline that numbers them itself passes through.) Every
/// call is logged, with the output written before it.
struct Streaming<'a, S> {
    inner: S,
    numbers: Vec<((Endpoint, Endpoint, Timestamp), u64)>,
    out: Shared,
    /// (what, session number, output length before the call).
    log: &'a RefCell<Vec<(&'static str, u64, usize)>>,
}

impl<S: SessionSink> Streaming<'_, S> {
    fn number(&mut self, key: (Endpoint, Endpoint, Timestamp)) -> (u64, bool) {
        if let Some((_, n)) = self.numbers.iter().find(|(k, _)| *k == key) {
            return (*n, false);
        }
        let n = self.numbers.len() as u64 + 1;
        self.numbers.push((key, n));
        (n, true)
    }
    fn origin(&mut self, o: &Origin) -> Origin {
        if o.number != 0 {
            return *o;
        }
        let (number, new) = self.number((o.client, o.server, o.start));
        let o = Origin { number, ..*o };
        if new {
            self.inner.start(&o).unwrap();
        }
        o
    }
    fn note(&self, what: &'static str, n: u64) {
        let len = self.out.0.borrow().len();
        self.log.borrow_mut().push((what, n, len));
    }
}

impl<S: SessionSink> SessionSink for Streaming<'_, S> {
    fn session(&mut self, mut s: Session) -> io::Result<()> {
        if let Some((_, n)) = self
            .numbers
            .iter()
            .find(|(k, _)| *k == (s.client, s.server, s.start))
        {
            s.id = *n;
        }
        self.note("session", s.id);
        self.inner.session(s)
    }
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.inner.finish(summary)
    }
    fn wants_events(&self) -> bool {
        self.inner.wants_events()
    }
    fn start(&mut self, o: &Origin) -> io::Result<()> {
        self.note("start", o.number);
        self.inner.start(o)
    }
    fn event(&mut self, o: &Origin, e: &Event) -> io::Result<()> {
        let o = self.origin(o);
        self.note("event", o.number);
        self.inner.event(&o, e)
    }
    fn message(&mut self, o: &Origin, m: &MessageInfo) -> io::Result<()> {
        let o = self.origin(o);
        self.note("message", o.number);
        self.inner.message(&o, m)
    }
}

type Log = RefCell<Vec<(&'static str, u64, usize)>>;

/// Runs `file` through the pipeline into `sink` (writing to `out`).
fn stream<S: SessionSink>(file: &Path, show_secrets: bool, sink: S, out: &Shared, log: &Log) {
    let mut s = Streaming {
        inner: sink,
        numbers: Vec::new(),
        out: out.clone(),
        log,
    };
    sessions(&config(file, show_secrets), &mut s, &mut |_| {}).unwrap();
}

fn live_text(file: &Path, show_secrets: bool, style: Style) -> (String, Vec<u8>) {
    let (out, notes) = (Shared::default(), Shared::default());
    let log = Log::default();
    let sink = LiveText::new(out.clone(), notes.clone(), style, show_secrets);
    stream(file, show_secrets, sink, &out, &log);
    (out.text(), notes.0.borrow().clone())
}

fn json_events(file: &Path, show_secrets: bool) -> String {
    let out = Shared::default();
    let log = Log::default();
    let sink = sink::Json::new(out.clone(), false).events(show_secrets);
    stream(file, show_secrets, sink, &out, &log);
    out.text()
}

/// A command's line is written while its session is open, before the session's end line.
#[test]
fn live_text_prints_commands_while_the_session_is_open() {
    let out = Shared::default();
    let log = Log::default();
    let sink = LiveText::new(out.clone(), io::sink(), Style::new(false), false);
    stream(&sample("smtp-attachment.pcap"), false, sink, &out, &log);
    let text = out.text();
    let ehlo = text.find("C: EHLO").expect("EHLO shown");
    let end = text.find("[1] ── end:").expect("end line");
    assert!(ehlo < end, "{text}");
    // Written by an event call, not when the session ended.
    let log = log.borrow();
    let (_, _, before_session) = log.iter().find(|(w, _, _)| *w == "session").unwrap();
    assert!(
        text[..*before_session].contains("C: EHLO"),
        "the command waited for the session's end:\n{text}"
    );
    assert!(text.starts_with("[1] ── session 1 · SMTP · "), "{text}");
    // Every line carries the session's number, and the end line is one line.
    assert!(text.lines().all(|l| l.starts_with("[1] ")), "{text}");
    assert_eq!(text.matches("── end:").count(), 1);
    assert!(
        text.contains("[1] ── end: complete after "),
        "{}",
        text.lines().last().unwrap()
    );
}

/// Every exchange line of the file view appears, identical, in the live view (after the
/// prefix): the live view prints exchanges with the file view's printer.
#[test]
fn live_exchange_lines_are_the_file_view_s() {
    for file in samples() {
        let (live, _) = live_text(&file, false, Style::new(false));
        let mut whole = Vec::new();
        let mut sink = sink::Text::new(&mut whole, io::sink(), Style::new(false));
        sessions(&config(&file, false), &mut sink, &mut |_| {}).unwrap();
        let whole = String::from_utf8(whole).unwrap();
        let live: Vec<&str> = live
            .lines()
            .map(|l| l.split_once("] ").map_or(l, |(_, rest)| rest))
            .collect();
        for line in whole
            .lines()
            .filter(|l| l.contains(" C: ") || l.contains(" S: "))
        {
            assert!(
                live.contains(&line),
                "{}: {line:?} not in the live view",
                file.display()
            );
        }
    }
}

/// Records each session's calls, to replay two sessions interleaved.
#[derive(Default)]
struct Recorder {
    calls: Vec<Call>,
}

enum Call {
    Start(Origin),
    Event(Origin, Box<Event>),
    Message(Origin, Box<MessageInfo>),
    Session(Box<Session>),
}

impl SessionSink for Recorder {
    fn session(&mut self, s: Session) -> io::Result<()> {
        self.calls.push(Call::Session(Box::new(s)));
        Ok(())
    }
    fn finish(&mut self, _: &RunSummary) -> io::Result<()> {
        Ok(())
    }
    fn wants_events(&self) -> bool {
        true
    }
    fn start(&mut self, o: &Origin) -> io::Result<()> {
        self.calls.push(Call::Start(*o));
        Ok(())
    }
    fn event(&mut self, o: &Origin, e: &Event) -> io::Result<()> {
        self.calls.push(Call::Event(*o, Box::new(e.clone())));
        Ok(())
    }
    fn message(&mut self, o: &Origin, m: &MessageInfo) -> io::Result<()> {
        self.calls.push(Call::Message(*o, Box::new(m.clone())));
        Ok(())
    }
}

fn record(file: &Path) -> Vec<Call> {
    let out = Shared::default();
    let log = Log::default();
    let mut s = Streaming {
        inner: Recorder::default(),
        numbers: Vec::new(),
        out,
        log: &log,
    };
    sessions(&config(file, false), &mut s, &mut |_| {}).unwrap();
    s.inner.calls
}

/// Replays `calls` into `sink` as session `number`.
fn replay(sink: &mut dyn SessionSink, call: Call, number: u64) {
    match call {
        Call::Start(o) => sink.start(&Origin { number, ..o }),
        Call::Event(o, e) => sink.event(&Origin { number, ..o }, &e),
        Call::Message(o, m) => sink.message(&Origin { number, ..o }, &m),
        Call::Session(mut s) => {
            s.id = number;
            sink.session(*s)
        }
    }
    .unwrap()
}

/// Two sessions open at once: their lines interleave, each with its own number, and each
/// session's lines (prefix taken off) are what it prints alone.
#[test]
fn interleaved_sessions_keep_their_numbers() {
    let a = record(&sample("smtp-attachment.pcap"));
    let b = record(&sample("submission-auth-login.pcap"));
    let alone = |calls: Vec<Call>, number: u64| {
        let out = Shared::default();
        let mut sink = LiveText::new(out.clone(), io::sink(), Style::new(false), false);
        for c in calls {
            replay(&mut sink, c, number);
        }
        out.text()
    };
    let (a_alone, b_alone) = (
        alone(record(&sample("smtp-attachment.pcap")), 3),
        alone(record(&sample("submission-auth-login.pcap")), 4),
    );
    let out = Shared::default();
    let mut sink = LiveText::new(out.clone(), io::sink(), Style::new(false), false);
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    loop {
        let (x, y) = (a.next(), b.next());
        if x.is_none() && y.is_none() {
            break;
        }
        if let Some(c) = x {
            replay(&mut sink, c, 3);
        }
        if let Some(c) = y {
            replay(&mut sink, c, 4);
        }
    }
    let both = out.text();
    let of = |n: &str| -> String {
        both.lines()
            .filter(|l| l.starts_with(n))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert!(
        both.lines()
            .all(|l| l.starts_with("[3] ") || l.starts_with("[4] ")),
        "{both}"
    );
    assert_eq!(of("[3] "), a_alone);
    assert_eq!(of("[4] "), b_alone);
    // They did interleave: a [4] line comes before the last [3] line.
    let first_b = both.find("[4] ").unwrap();
    assert!(both[first_b..].contains("[3] "), "{both}");
}

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The exchange of each `exchange` event is the session's own object (JSON equality), for
/// every sample, with and without secrets; each session's events come between its
/// `session-start` and its `session-end`, which comes right before the session.
#[test]
fn event_exchanges_equal_the_session_s() {
    for file in samples() {
        for show_secrets in [false, true] {
            let out = lines(&json_events(&file, show_secrets));
            let what = file.display();
            let sessions: Vec<&Value> = out.iter().filter(|v| v["type"] == "session").collect();
            assert!(!sessions.is_empty(), "{what}");
            for s in sessions {
                let id = &s["id"];
                let mine: Vec<(usize, &Value)> = out
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v["session"] == *id || v["id"] == *id)
                    .collect();
                assert_eq!(mine[0].1["type"], "session-start", "{what}");
                assert_eq!(mine[0].1["protocol"], s["protocol"], "{what}");
                assert_eq!(mine[0].1["client"], s["client"], "{what}");
                assert_eq!(mine[0].1["start"], s["start"], "{what}");
                let n = mine.len();
                assert_eq!(mine[n - 1].1["type"], "session", "{what}");
                assert_eq!(mine[n - 2].1["type"], "session-end", "{what}");
                assert_eq!(mine[n - 2].0 + 1, mine[n - 1].0, "{what}");
                assert_eq!(mine[n - 2].1["state"], s["state"], "{what}");
                assert_eq!(mine[n - 2].1["duration"], s["duration"], "{what}");
                let exchanges = s["exchanges"].as_array().unwrap();
                let mut seen = Vec::new();
                for (_, e) in mine.iter().filter(|(_, v)| v["type"] == "exchange") {
                    let i = e["index"].as_u64().unwrap() as usize;
                    assert_eq!(
                        e["exchange"], exchanges[i],
                        "{what}: exchange {i} (secrets {show_secrets})"
                    );
                    seen.push(i);
                }
                seen.sort_unstable();
                assert_eq!(
                    seen,
                    (0..exchanges.len()).collect::<Vec<_>>(),
                    "{what}: every exchange once"
                );
                let messages = s["messages"].as_array().unwrap();
                let events: Vec<&Value> = mine
                    .iter()
                    .filter(|(_, v)| v["type"] == "message")
                    .map(|(_, v)| &v["message"])
                    .collect();
                assert_eq!(events.len(), messages.len(), "{what}");
                for m in events {
                    let k = m["number"].as_u64().unwrap() as usize;
                    assert_eq!(*m, messages[k - 1], "{what}: message {k}");
                }
            }
        }
    }
}

/// Without `--events` the JSON output is the file format's, byte for byte.
#[test]
fn json_without_events_is_unchanged() {
    let file = sample("smtp-attachment.pcap");
    let out = Shared::default();
    let mut sink = sink::Json::new(out.clone(), false);
    assert!(!sink.wants_events());
    sessions(&config(&file, false), &mut sink, &mut |_| {}).unwrap();
    let with = lines(&json_events(&file, false));
    let plain: Vec<Value> = with
        .into_iter()
        .filter(|v| v["type"] == "session" || v["type"] == "summary")
        .collect();
    assert_eq!(lines(&out.text()), plain);
}

/// A password never reaches the live text or the event feed unless secrets were asked for.
#[test]
fn passwords_stay_redacted_live() {
    for name in [
        "submission-auth-login.pcap",
        "submission-starttls-auth.pcap",
    ] {
        let file = sample(name);
        let secrets = ["Wonderland-2024", "V29uZGVybGFuZC0yMDI0"];
        let (text, _) = live_text(&file, false, Style::new(false));
        let json = json_events(&file, false);
        for s in secrets {
            assert!(!text.contains(s), "{name}: text\n{text}");
            assert!(!json.contains(s), "{name}: json");
        }
        if name == "submission-auth-login.pcap" {
            assert!(text.contains("(password <redacted>): succeeded"), "{text}");
            let (shown, _) = live_text(&file, true, Style::new(false));
            assert!(shown.contains("Wonderland-2024"), "{shown}");
            assert!(json_events(&file, true).contains("Wonderland-2024"));
        }
    }
}

/// Terminal width: every line, prefix included, fits; colour does not count.
#[test]
fn live_lines_fit_the_terminal() {
    for color in [false, true] {
        let (text, _) = live_text(
            &sample("smtp-attachment.pcap"),
            false,
            Style::new(color).width(Some(60)),
        );
        for l in text.lines() {
            let visible: String = {
                let mut s = String::new();
                let mut chars = l.chars();
                while let Some(c) = chars.next() {
                    if c == '\x1b' {
                        chars.by_ref().find(|&c| c == 'm');
                    } else {
                        s.push(c);
                    }
                }
                s
            };
            assert!(visible.chars().count() <= 60, "{l:?}");
            assert!(visible.starts_with("[1] "), "{l:?}");
        }
    }
}

fn summary(kernel: Option<u64>) -> RunSummary {
    RunSummary {
        kind: "summary",
        capture: Some(CaptureStats {
            interface: "lo".into(),
            backend: "pnet",
            packets_received: 12345,
            packets_dropped_by_kernel: kernel,
            packets_dropped_by_interface: None,
            packets_dropped_by_mailscope: 0,
        }),
        ..RunSummary::default()
    }
}

/// A live capture's counts: one line on standard error from every text-like sink; a backend
/// that cannot count drops says so instead of "0".
#[test]
fn capture_counts_go_to_stderr() {
    let line = |sink: &mut dyn SessionSink, notes: &Shared, kernel| {
        notes.0.borrow_mut().clear();
        sink.finish(&summary(kernel)).unwrap();
        notes.text()
    };
    let notes = Shared::default();
    let mut live = LiveText::new(io::sink(), notes.clone(), Style::new(false), false);
    let mut text = sink::Text::new(io::sink(), notes.clone(), Style::new(false));
    let mut table = sink::Table::new(io::sink(), false, false).notes(notes.clone());
    for sink in [
        &mut live as &mut dyn SessionSink,
        &mut text as &mut dyn SessionSink,
        &mut table as &mut dyn SessionSink,
    ] {
        assert_eq!(
            line(sink, &notes, Some(0)),
            "mailscope: lo (pnet): 12345 packets received, 0 dropped by the kernel, 0 dropped by mailscope's limits\n"
        );
        assert_eq!(
            line(sink, &notes, None),
            "mailscope: lo (pnet): 12345 packets received, drops not reported by the pnet backend, 0 dropped by mailscope's limits\n"
        );
        // A file: nothing.
        notes.0.borrow_mut().clear();
        sink.finish(&RunSummary::default()).unwrap();
        assert_eq!(notes.text(), "");
    }
    // JSON: in the summary.
    let out = Shared::default();
    sink::Json::new(out.clone(), false)
        .finish(&summary(None))
        .unwrap();
    let v: Value = serde_json::from_str(&out.text()).unwrap();
    assert_eq!(v["capture"]["packets_dropped_by_kernel"], Value::Null);
    assert_eq!(v["capture"]["packets_received"], 12345);
}

/// The live view and the event feed of an SMTP session with a message, as snapshots.
#[test]
fn snapshots_of_the_live_views() {
    let file = sample("smtp-attachment.pcap");
    let (text, _) = live_text(&file, false, Style::new(false));
    insta::assert_snapshot!("live_text@smtp-attachment.pcap", text);
    // The summary names the input by its path, which differs from one checkout to another.
    let json: String = json_events(&file, false)
        .lines()
        .filter(|l| !l.starts_with(r#"{"type":"summary""#))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("json_events@smtp-attachment.pcap", json);
}

/// Every line of the event feed, and a live capture's summary, match
/// docs/session.schema.json, which stays closed for them too.
#[test]
fn event_lines_match_the_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/session.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut kinds = std::collections::BTreeSet::new();
    for file in samples() {
        for show_secrets in [false, true] {
            for v in lines(&json_events(&file, show_secrets)) {
                let errors: Vec<String> =
                    validator.iter_errors(&v).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{}: {errors:?}\n{v}", file.display());
                kinds.insert(v["type"].as_str().unwrap().to_string());
            }
        }
    }
    for kind in ["session-start", "exchange", "message", "session-end"] {
        assert!(kinds.contains(kind), "no {kind} line checked");
    }
    let out = Shared::default();
    for kernel in [Some(3), None] {
        out.0.borrow_mut().clear();
        sink::Json::new(out.clone(), false)
            .finish(&summary(kernel))
            .unwrap();
        let v: Value = serde_json::from_str(&out.text()).unwrap();
        assert!(validator.is_valid(&v), "{v}");
        let mut bad = v.clone();
        bad["capture"]["not_in_the_schema"] = 1.into();
        assert!(!validator.is_valid(&bad));
    }
    // Closed: a field not listed fails, in each kind of event line.
    let all = lines(&json_events(&sample("smtp-attachment.pcap"), false));
    for kind in ["session-start", "exchange", "message", "session-end"] {
        let mut v = all.iter().find(|v| v["type"] == kind).unwrap().clone();
        assert!(validator.is_valid(&v));
        v["not_in_the_schema"] = 1.into();
        assert!(!validator.is_valid(&v), "{kind} with an extra field passed");
    }
}
