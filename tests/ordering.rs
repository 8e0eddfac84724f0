//! The bounded reorder buffer (`Limits::max_reorder`, `--max-reorder`): an IMAP IDLE
//! session open from the start of a capture to its end no longer holds every other session
//! in memory. Past the bound, sessions are written as they finish, none is lost, and the
//! summary counts those written after later ones.

mod support;

use mailscope::limits::Limits;
use mailscope::pipeline::{InputConfig, SessionsConfig, sessions};
use mailscope::synth::{Conversation, PcapWriter, Rng, Side, mail_message, session_script};
use mailscope::types::{Protocol, Timestamp};
use std::path::{Path, PathBuf};

const SHORT: u64 = 40;

/// Sends `steps`, each acknowledged by the peer.
fn talk(c: &mut Conversation, steps: &[(Side, Vec<u8>)]) {
    for (side, data) in steps {
        c.send(*side, data);
        c.ack(match side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        });
    }
}

/// Connection 1: an IMAP session that logs in, IDLEs while `SHORT` SMTP sessions (each
/// carrying a message) come and go, then fetches a message and logs out.
fn capture(dir: &Path) -> PathBuf {
    let base = 1_700_000_000_000_000_000i64;
    let ms = 1_000_000i64;
    let at = |t: i64| Timestamp::from_nanos(base + t * ms);
    let mut frames = Vec::new();
    let mut long = Conversation::new(
        (support::ip("10.0.0.9"), 50000),
        (support::ip("10.0.0.2"), 143),
        [7, 9],
    );
    long.ts = at(0);
    long.handshake();
    let s = |t: &str| (Side::Server, t.as_bytes().to_vec());
    let c = |t: &str| (Side::Client, t.as_bytes().to_vec());
    talk(
        &mut long,
        &[
            s("* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n"),
            c("a1 LOGIN alice secret\r\n"),
            s("a1 OK Logged in\r\n"),
            c("a2 SELECT INBOX\r\n"),
            s("* 1 EXISTS\r\na2 OK [READ-WRITE] Select completed.\r\n"),
            c("a3 IDLE\r\n"),
            s("+ idling\r\n"),
        ],
    );
    let mut rng = Rng::new(5);
    for k in 0..SHORT {
        let mut short = Conversation::new(
            (support::ip("10.0.0.1"), 40000 + k as u16),
            (support::ip("10.0.0.2"), 25),
            [100 + k as u32, 200],
        );
        short.ts = at(10 + 10 * k as i64);
        short.handshake();
        talk(
            &mut short,
            &session_script(0, &mail_message(&mut rng, k, 300)),
        );
        short.close();
        frames.append(&mut short.frames);
    }
    long.ts = at(10 + 10 * SHORT as i64 + 10);
    let mut fetch = session_script(2, &mail_message(&mut rng, 99, 300));
    fetch.drain(..5);
    talk(&mut long, &[c("DONE\r\n"), s("a3 OK Idle completed.\r\n")]);
    talk(&mut long, &fetch);
    long.close();
    frames.append(&mut long.frames);
    frames.sort_by_key(|f| f.ts);
    let file = dir.join("idle.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
    for f in &frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    file
}

/// The main job on `input` with `limits`, every session shown.
fn config(input: &str, limits: Limits, threads: usize) -> SessionsConfig {
    SessionsConfig {
        threads,
        ..SessionsConfig::new(InputConfig {
            limits,
            ..InputConfig::files(vec![input.into()])
        })
    }
}

/// Runs the main job; returns the session ids in the order written, each session's message
/// count, the summary's `listed_out_of_order` and `listed`, and where the IMAP session was.
fn run(file: &Path, max_reorder: usize) -> (Vec<u64>, Vec<usize>, u64, u64, Option<usize>) {
    let limits = Limits {
        max_reorder,
        ..Limits::default()
    };
    let cfg = config(&file.to_string_lossy(), limits, 2);
    let mut ids = Vec::new();
    let mut protocols = Vec::new();
    let mut messages = Vec::new();
    let mut sink = |s: mailscope::session::Session| {
        ids.push(s.id);
        protocols.push(s.protocol);
        // Decoded messages: their MIME parts are listed (read through JSON, the contract).
        let v = serde_json::to_value(&s).unwrap();
        let decoded = v["messages"].as_array().unwrap().iter();
        messages.push(
            decoded
                .filter(|m| m["parts"].as_array().unwrap().len() == 2)
                .count(),
        );
        Ok(())
    };
    let outcome = sessions(&cfg, &mut sink, &mut |_| {}).unwrap();
    assert!(outcome.error.is_none());
    let s = outcome.summary;
    // Which one was the IDLE session: the only IMAP one.
    let imap = protocols.iter().position(|p| *p == Protocol::Imap);
    (ids, messages, s.listed_out_of_order, s.listed, imap)
}

#[test]
fn a_long_idle_session_does_not_hold_back_the_others_past_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let file = capture(dir.path());
    let all: Vec<u64> = (1..=SHORT + 1).collect();

    // Within the bound: first-packet order, as always.
    let (ids, messages, late, listed, imap) = run(&file, 1_000);
    assert_eq!(ids, all);
    assert_eq!(imap, Some(0), "the IDLE session first");
    assert_eq!((late, listed), (0, SHORT + 1));
    assert!(messages.iter().all(|&n| n == 1), "{messages:?}");

    // Past it: the short sessions are written as they finish, at most 4 held; the IDLE
    // session comes last and is the one counted. Every session and message is there.
    // Mail sessions are numbered as they are listed (issue 9: not by connection), so the
    // late IDLE session, listed last, has the last number.
    let (ids, messages, late, listed, imap) = run(&file, 4);
    assert_eq!(ids, all);
    assert_eq!(imap, Some(SHORT as usize), "the IDLE session last");
    assert_eq!((late, listed), (1, SHORT + 1));
    assert!(messages.iter().all(|&n| n == 1), "{messages:?}");
}

/// The flag reaches the run, and the JSON summary says how many came late.
#[test]
fn max_reorder_flag_and_summary_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = capture(dir.path());
    for (flag, late) in [("1000", 0), ("0", 1)] {
        let out = support::mailscope()
            .arg(&file)
            .args(["--format", "json", "--max-reorder", flag])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let summary: serde_json::Value =
            serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(summary["listed_out_of_order"], late, "--max-reorder {flag}");
        assert_eq!(summary["listed"], SHORT + 1);
        // Text output says so on stderr, not between the transcripts.
        let out = support::mailscope()
            .arg(&file)
            .args(["--max-reorder", flag])
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            stderr.contains("1 session written out of order"),
            late == 1,
            "--max-reorder {flag}: {stderr}"
        );
    }
}

/// A sink that wants the events of open sessions (as a live view will) and logs them beside
/// the whole sessions.
#[derive(Default)]
struct Log {
    /// (session id, what): what is "session" for a whole session, else the event's kind.
    entries: Vec<(u64, String)>,
    /// Per session: what the events folded into, to compare with the whole sessions.
    folded: std::collections::HashMap<u64, mailscope::session::Builder>,
    whole: Vec<mailscope::session::Session>,
}

impl mailscope::render::SessionSink for Log {
    fn session(&mut self, s: mailscope::session::Session) -> std::io::Result<()> {
        self.entries.push((s.id, "session".into()));
        self.whole.push(s);
        Ok(())
    }
    fn finish(&mut self, _: &mailscope::session::RunSummary) -> std::io::Result<()> {
        Ok(())
    }
    fn wants_events(&self) -> bool {
        true
    }
    fn event(
        &mut self,
        o: &mailscope::session::Origin,
        e: &mailscope::session::Event,
    ) -> std::io::Result<()> {
        use mailscope::session::Event;
        let kind = match e {
            Event::Exchange(x) => format!(
                "exchange {}",
                x.command.as_ref().map_or("", |c| c.verb.as_str())
            ),
            Event::Reply { .. } => "reply".into(),
            Event::Message(_) => "message".into(),
            Event::End => "end".into(),
            _ => "other".into(),
        };
        // Sessions are numbered as they are recognised; the whole session's id is that number.
        self.entries.push((o.number, kind));
        let b = self.folded.entry(o.number).or_insert_with(|| {
            mailscope::session::Builder::new(o.protocol, mailscope::proto::Bounds::default())
        });
        b.apply(e.clone());
        Ok(())
    }
}

#[test]
fn events_reach_the_sink_while_the_session_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = capture(dir.path());
    let cfg = config(&file.to_string_lossy(), Limits::default(), 1);
    let mut log = Log::default();
    sessions(&cfg, &mut log, &mut |_| {}).unwrap();
    let at = |id: u64, what: &str| {
        log.entries
            .iter()
            .position(|(i, w)| *i == id && w == what)
            .unwrap_or_else(|| panic!("no {what:?} for session {id}"))
    };
    // The IMAP session's LOGIN and IDLE are told long before it is whole, and before the
    // first SMTP session (which begins during the IDLE) is even opened.
    assert!(at(1, "exchange LOGIN") < at(2, "exchange EHLO"));
    assert!(at(1, "exchange IDLE") < at(2, "exchange EHLO"));
    assert!(at(2, "end") < at(1, "end"));
    for s in &log.whole {
        // Every session's events end with End, before the session itself.
        assert!(at(s.id, "end") < at(s.id, "session"), "session {}", s.id);
        // And fold into what the session holds.
        let b = log.folded.remove(&s.id).unwrap();
        assert!(b.ended());
        let folded: Vec<_> = b
            .transcript()
            .exchanges
            .iter()
            .map(|e| e.command.clone())
            .collect();
        let whole: Vec<_> = s.exchanges.iter().map(|e| e.command.clone()).collect();
        assert_eq!(folded, whole, "session {}", s.id);
        assert_eq!(
            b.transcript().auth().len(),
            s.auth.len(),
            "session {}",
            s.id
        );
        let messages = log
            .entries
            .iter()
            .filter(|(i, w)| *i == s.id && w == "message")
            .count();
        assert_eq!(messages, s.messages.len(), "session {}", s.id);
    }
    // With a live view, sessions are written as they end (the IDLE session last), numbered
    // as they were recognised.
    let ended: Vec<u64> = log.whole.iter().map(|s| s.id).collect();
    assert_eq!(*ended.last().unwrap(), 1, "{ended:?}");
    // Without a live view, no events are asked for and the sessions are the same, in
    // order of first packet.
    let mut plain = Vec::new();
    let mut sink = |s: mailscope::session::Session| {
        plain.push(s);
        Ok(())
    };
    sessions(&cfg, &mut sink, &mut |_| {}).unwrap();
    let json = |s: &mailscope::session::Session| {
        let mut s = s.clone();
        s.id = 0;
        serde_json::to_string(&s).unwrap()
    };
    let mut live = log.whole.clone();
    live.sort_by_key(|s| (s.start, s.client));
    assert_eq!(
        plain.iter().map(json).collect::<Vec<_>>(),
        live.iter().map(json).collect::<Vec<_>>()
    );
}

#[test]
fn the_main_job_runs_on_any_frame_source() {
    use mailscope::capture::{FileReader, InputSource};
    let dir = tempfile::tempdir().unwrap();
    let file = capture(dir.path());
    let cfg = config("in memory", Limits::default(), 1);
    let json = |s: &mailscope::session::Session| serde_json::to_string(s).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let mut source = FileReader::new(InputSource::from_reader(
        "in memory",
        std::io::Cursor::new(bytes),
    ))
    .unwrap();
    let mut from_memory = Vec::new();
    let mut sink = |s: mailscope::session::Session| {
        from_memory.push(json(&s));
        Ok(())
    };
    mailscope::pipeline::sessions_from(&cfg, &mut source, &mut sink, &mut |_| {}).unwrap();
    let mut from_file = Vec::new();
    let mut sink = |s: mailscope::session::Session| {
        from_file.push(json(&s));
        Ok(())
    };
    let cfg = config(&file.to_string_lossy(), Limits::default(), 1);
    sessions(&cfg, &mut sink, &mut |_| {}).unwrap();
    assert_eq!(from_memory.len() as u64, SHORT + 1);
    assert_eq!(from_memory, from_file);
}
