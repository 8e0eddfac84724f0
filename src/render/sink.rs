//! The sinks of the output formats: each takes the pipeline's results as they come and
//! writes them with its printer (`text`, `json`, `table`, `diagram`, `mermaid`, `html`; the live transcript's is
//! `live::LiveText`); [`Extracting`] adds `--extract` in front of any of them.

use super::extract::Extractor;
use super::live::Tracked;
use super::{FlowSink, SessionSink, diagram, flowpic, html, json, mermaid, table, text};
use crate::session::mail::MessageInfo;
use crate::session::{Event, Exchange, FlowRecord, Origin, RunSummary, Session};
use crate::teach::Lang;
use crate::types::{Endpoint, Protocol, Timestamp};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

/// Annotated transcripts, streamed; the notes on what was skipped go to `notes` (stderr)
/// at the end of a run that did not fail.
pub struct Text<W, N> {
    out: W,
    notes: N,
    style: text::Style,
    first: bool,
}

impl<W: Write, N: Write> Text<W, N> {
    pub fn new(out: W, notes: N, style: text::Style) -> Self {
        Text {
            out,
            notes,
            style,
            first: true,
        }
    }
}

impl<W: Write, N: Write> SessionSink for Text<W, N> {
    fn session(&mut self, s: Session) -> io::Result<()> {
        if !self.first {
            writeln!(self.out)?;
        }
        self.first = false;
        text::write_session(&mut self.out, &s, self.style)
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        if !summary.refused_by.is_empty() && !self.first {
            writeln!(self.out)?;
        }
        text::write_refused(&mut self.out, summary, self.style)?;
        if summary.error.is_none() {
            text::write_skipped(&mut self.notes, summary)?;
        }
        text::write_capture(&mut self.notes, summary)
    }
}

/// Ladder diagrams (`--format diagram`), streamed, then the mail-flow picture of each
/// message seen in several sessions (linked by Message-ID: `session::hops`, drawn by
/// `flowpic`); notes on what was skipped go to `notes` (stderr) at the end of a run that
/// did not fail, as with [`Text`].
pub struct Diagram<W, N> {
    out: W,
    notes: N,
    style: text::Style,
    first: bool,
    /// Each session's hop facts (small, bounded by `Limits::max_flow_hops`), not the sessions.
    links: crate::session::hops::Links,
}

impl<W: Write, N: Write> Diagram<W, N> {
    /// Drawn to the style's width (a terminal's), else to [`diagram::WIDTH`] columns.
    pub fn new(out: W, notes: N, style: text::Style) -> Self {
        Diagram {
            out,
            notes,
            style,
            first: true,
            links: crate::session::hops::Links::new(crate::limits::Limits::default().max_flow_hops),
        }
    }
}

impl<W: Write, N: Write> SessionSink for Diagram<W, N> {
    fn session(&mut self, s: Session) -> io::Result<()> {
        if !self.first {
            writeln!(self.out)?;
        }
        self.first = false;
        self.links.add(&s);
        diagram::write_session(&mut self.out, &s, self.style)
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        if !summary.refused_by.is_empty() && !self.first {
            writeln!(self.out)?;
        }
        text::write_refused(&mut self.out, summary, self.style)?;
        let paths = self.links.paths();
        if !paths.is_empty() || self.links.dropped > 0 {
            let lang = self.style.lang().unwrap_or_default();
            flowpic::write(&mut self.out, &paths, self.links.dropped, self.style, lang)?;
        }
        if summary.error.is_none() {
            text::write_skipped(&mut self.notes, summary)?;
        }
        text::write_capture(&mut self.notes, summary)
    }
}

/// Mermaid sequence diagrams in Markdown (`--format mermaid`), streamed; notes for people
/// go to `notes` (stderr), never into the Markdown.
pub struct Mermaid<W, N> {
    out: W,
    notes: N,
    first: bool,
}

impl<W: Write, N: Write> Mermaid<W, N> {
    pub fn new(out: W, notes: N) -> Self {
        Mermaid {
            out,
            notes,
            first: true,
        }
    }
}

impl<W: Write, N: Write> SessionSink for Mermaid<W, N> {
    fn session(&mut self, s: Session) -> io::Result<()> {
        if !self.first {
            writeln!(self.out)?;
        }
        self.first = false;
        mermaid::write_session(&mut self.out, &s)
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        if summary.error.is_none() {
            text::write_skipped(&mut self.notes, summary)?;
        }
        text::write_capture(&mut self.notes, summary)
    }
}

/// The HTML report (`--format html`): one page, written at the end (the session list comes
/// first). Each session's section is rendered as it comes and kept as HTML, so the sessions
/// themselves are not held; notes for people go to `notes` (stderr), as with [`Text`].
pub struct Html<W, N> {
    out: W,
    notes: N,
    lang: Lang,
    rows: Vec<html::Row>,
    sections: Vec<u8>,
    /// Each session's messages by Message-ID, for the mail-flow picture.
    links: crate::session::hops::Links,
    /// Sessions shown in full, at most (`Limits::max_report_sessions`), and those past it.
    max_sessions: usize,
    omitted: u64,
}

impl<W: Write, N: Write> Html<W, N> {
    /// Show at most `n` sessions in full (`Limits::max_report_sessions`).
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n;
        self
    }

    /// Explanations and headings in `lang`.
    pub fn new(out: W, notes: N, lang: Lang) -> Self {
        Html {
            out,
            notes,
            lang,
            rows: Vec::new(),
            sections: Vec::new(),
            links: crate::session::hops::Links::new(crate::limits::Limits::default().max_flow_hops),
            max_sessions: crate::limits::Limits::default().max_report_sessions,
            omitted: 0,
        }
    }
}

impl<W: Write, N: Write> SessionSink for Html<W, N> {
    fn session(&mut self, s: Session) -> io::Result<()> {
        self.links.add(&s);
        if self.rows.len() >= self.max_sessions {
            self.omitted += 1;
            return Ok(());
        }
        self.rows.push(html::Row::of(&s));
        html::write_session(&mut self.sections, &s, self.lang)
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let mut sections = std::mem::take(&mut self.sections);
        if self.omitted > 0 {
            html::write_omitted(&mut sections, self.omitted, self.max_sessions, self.lang)?;
        }
        // The mail-flow picture of each message seen in several sessions.
        let lang = self.lang;
        let flow: String = self
            .links
            .paths()
            .iter()
            .map(|p| flowpic::svg(p, lang))
            .collect();
        html::write_page(
            &mut self.out,
            summary,
            &self.rows,
            &sections,
            (!flow.is_empty()).then_some(flow.as_str()),
            self.lang,
        )?;
        self.out.flush()?;
        if summary.error.is_none() {
            text::write_skipped(&mut self.notes, summary)?;
        }
        text::write_capture(&mut self.notes, summary)
    }
}

/// JSON Lines, streamed: an object per session or connection, then the summary object.
/// With [`Json::events`] (`--events`, a live feed), each session's changes go out too, as
/// they happen, one line each and every one with the session's number:
///
/// ```text
/// {"type":"session-start","session":3,"protocol":"smtp","client":{…},"server":{…},"start":…,"midstream":false}
/// {"type":"exchange","session":3,"index":0,"exchange":{…}}   when the exchange is complete
/// {"type":"message","session":3,"message":{…}}               when the message is decoded
/// {"type":"session-end","session":3,"state":"complete","end":…,"duration":2.315}
/// {"type":"session","id":3,…}                                the session, as without events
/// ```
///
/// `exchange` is the object the session's `exchanges` holds (at position `index`, the
/// exchange's number in the session, unless `--max-exchanges` let earlier ones go) and
/// `message` the one its `messages` holds.
pub struct Json<W> {
    out: W,
    pretty: bool,
    events: Option<Events>,
}

/// The open sessions of a JSON event feed.
struct Events {
    show_secrets: bool,
    bounds: crate::proto::Bounds,
    open: HashMap<u64, Tracked>,
}

#[derive(Serialize)]
struct SessionStart {
    #[serde(rename = "type")]
    kind: &'static str,
    session: u64,
    protocol: Protocol,
    client: Endpoint,
    server: Endpoint,
    start: Timestamp,
    midstream: bool,
}

#[derive(Serialize)]
struct ExchangeEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    session: u64,
    index: usize,
    exchange: &'a Exchange,
}

#[derive(Serialize)]
struct MessageEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    session: u64,
    message: &'a MessageInfo,
}

#[derive(Serialize)]
struct SessionEnd {
    #[serde(rename = "type")]
    kind: &'static str,
    session: u64,
    state: &'static str,
    end: Timestamp,
    duration: f64,
}

impl<W: Write> Json<W> {
    pub fn new(out: W, pretty: bool) -> Self {
        Json {
            out,
            pretty,
            events: None,
        }
    }

    /// Writes the events of open sessions too (`--events`); secrets in them are shown only
    /// with `show_secrets`, as in the sessions.
    pub fn events(mut self, show_secrets: bool) -> Self {
        self.events = Some(Events {
            show_secrets,
            bounds: crate::proto::Bounds::from(&crate::limits::Limits::default()),
            open: HashMap::new(),
        });
        self
    }

    /// The bounds an open session's record is kept within (the run's limits).
    pub fn bounds(mut self, bounds: crate::proto::Bounds) -> Self {
        if let Some(ev) = self.events.as_mut() {
            ev.bounds = bounds;
        }
        self
    }

    fn start_line(&mut self, o: &Origin) -> io::Result<()> {
        let line = SessionStart {
            kind: "session-start",
            session: o.number,
            protocol: o.protocol,
            client: o.client,
            server: o.server,
            start: o.start,
            midstream: o.midstream,
        };
        json::write_line(&mut self.out, &line, self.pretty)
    }

    /// Opens the record of a session (on its start, or its first event if no start came).
    fn open(&mut self, o: &Origin) -> io::Result<()> {
        let Some(ev) = self.events.as_mut() else {
            return Ok(());
        };
        if ev.open.contains_key(&o.number) {
            return Ok(());
        }
        ev.open
            .insert(o.number, Tracked::new(o.protocol, ev.bounds));
        self.start_line(o)
    }
}

impl<W: Write> SessionSink for Json<W> {
    fn wants_events(&self) -> bool {
        self.events.is_some()
    }

    fn start(&mut self, o: &Origin) -> io::Result<()> {
        self.open(o)
    }

    fn event(&mut self, o: &Origin, e: &Event) -> io::Result<()> {
        if self.events.is_none() || matches!(e, Event::Message(_) | Event::Upgrade { .. }) {
            return Ok(());
        }
        self.open(o)?;
        let Some(ev) = self.events.as_mut() else {
            return Ok(());
        };
        let Some(tracked) = ev.open.get_mut(&o.number) else {
            return Ok(());
        };
        for index in tracked.fold(e) {
            if let Some(exchange) = tracked.exchange(index, ev.show_secrets) {
                let line = ExchangeEvent {
                    kind: "exchange",
                    session: o.number,
                    index,
                    exchange: &exchange,
                };
                json::write_line(&mut self.out, &line, self.pretty)?;
            }
        }
        Ok(())
    }

    fn message(&mut self, o: &Origin, info: &MessageInfo) -> io::Result<()> {
        if self.events.is_none() {
            return Ok(());
        }
        self.open(o)?;
        if let Some(t) = self
            .events
            .as_mut()
            .and_then(|ev| ev.open.get_mut(&o.number))
            && !t.announced.insert(info.number)
        {
            return Ok(());
        }
        let line = MessageEvent {
            kind: "message",
            session: o.number,
            message: info,
        };
        json::write_line(&mut self.out, &line, self.pretty)
    }

    fn session(&mut self, s: Session) -> io::Result<()> {
        if let Some(ev) = self.events.as_mut() {
            let announced = match ev.open.remove(&s.id) {
                Some(t) => t.announced,
                None => {
                    // No event came for it (TLS from the first byte): its start now.
                    self.start_line(&Origin {
                        id: s.id,
                        number: s.id,
                        protocol: s.protocol,
                        client: s.client,
                        server: s.server,
                        start: s.start,
                        midstream: !s.handshake,
                    })?;
                    HashSet::new()
                }
            };
            for m in s.messages.iter().filter(|m| !announced.contains(&m.number)) {
                let line = MessageEvent {
                    kind: "message",
                    session: s.id,
                    message: m,
                };
                json::write_line(&mut self.out, &line, self.pretty)?;
            }
            let end = SessionEnd {
                kind: "session-end",
                session: s.id,
                state: s.state,
                end: s.end,
                duration: s.duration,
            };
            json::write_line(&mut self.out, &end, self.pretty)?;
        }
        json::write_line(&mut self.out, &s, self.pretty)
    }
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        json::write_line(&mut self.out, summary, self.pretty)
    }
    /// Without events a session is one line that depends on nothing else: workers may
    /// build it.
    fn renderer(&self) -> Option<super::Renderer> {
        self.events
            .is_none()
            .then_some(super::Renderer::new(json::session_line, self.pretty))
    }
    fn rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }
}

impl<W: Write> FlowSink for Json<W> {
    fn flow(&mut self, f: FlowRecord) -> io::Result<()> {
        json::write_line(&mut self.out, &f, self.pretty)
    }
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        json::write_line(&mut self.out, summary, self.pretty)
    }
}

/// Tables: they need every row, so rows are kept and written at the end. A live capture's
/// packet counts go to `notes` (standard error unless [`Table::notes`] says otherwise).
pub struct Table<W, N = io::Stderr> {
    out: W,
    notes: N,
    show_secrets: bool,
    color: bool,
    width: Option<u16>,
    sessions: Vec<Session>,
    flows: Vec<FlowRecord>,
}

impl<W: Write> Table<W> {
    pub fn new(out: W, show_secrets: bool, color: bool) -> Self {
        Table {
            out,
            notes: io::stderr(),
            show_secrets,
            color,
            width: None,
            sessions: Vec::new(),
            flows: Vec::new(),
        }
    }
}

impl<W: Write, N: Write> Table<W, N> {
    /// Fit the tables to this many columns (a terminal's width), wrapping long cells.
    pub fn width(mut self, width: Option<u16>) -> Self {
        self.width = width;
        self
    }

    /// Where the note on a live capture's packet counts goes.
    pub fn notes<M: Write>(self, notes: M) -> Table<W, M> {
        Table {
            out: self.out,
            notes,
            show_secrets: self.show_secrets,
            color: self.color,
            width: self.width,
            sessions: self.sessions,
            flows: self.flows,
        }
    }
}

impl<W: Write, N: Write> SessionSink for Table<W, N> {
    fn session(&mut self, s: Session) -> io::Result<()> {
        self.sessions.push(s);
        Ok(())
    }
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let rows = std::mem::take(&mut self.sessions);
        table::write_sessions(
            &mut self.out,
            &rows,
            summary,
            self.show_secrets,
            self.color,
            self.width,
        )?;
        text::write_capture(&mut self.notes, summary)
    }
}

impl<W: Write, N: Write> FlowSink for Table<W, N> {
    fn flow(&mut self, f: FlowRecord) -> io::Result<()> {
        self.flows.push(f);
        Ok(())
    }
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let rows = std::mem::take(&mut self.flows);
        table::write_flows(&mut self.out, &rows, summary, self.color, self.width)?;
        text::write_capture(&mut self.notes, summary)
    }
}

/// `--extract DIR` in front of another sink: every session's messages and attachments are
/// written to files before the session goes on. A failure to extract does not stop the
/// run; [`Extracting::done`] reports the first one.
pub struct Extracting<'a> {
    inner: &'a mut dyn SessionSink,
    extractor: Option<Extractor>,
    error: Option<io::Error>,
}

impl<'a> Extracting<'a> {
    /// With `extractor` `None`, sessions just pass through.
    pub fn new(inner: &'a mut dyn SessionSink, extractor: Option<Extractor>) -> Self {
        Extracting {
            inner,
            extractor,
            error: None,
        }
    }

    /// Finishes the extraction (`index.json`): the first error of the run, if any.
    pub fn done(self) -> io::Result<()> {
        match self.error {
            Some(e) => Err(e),
            None => self.extractor.map_or(Ok(()), Extractor::finish),
        }
    }
}

impl SessionSink for Extracting<'_> {
    fn session(&mut self, s: Session) -> io::Result<()> {
        if let Some(x) = self.extractor.as_mut()
            && let Err(e) = x.add(&s)
        {
            self.error.get_or_insert(e);
        }
        self.inner.session(s)
    }
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.inner.finish(summary)
    }
    fn wants_events(&self) -> bool {
        self.inner.wants_events()
    }
    fn start(&mut self, o: &Origin) -> io::Result<()> {
        self.inner.start(o)
    }
    fn event(&mut self, o: &Origin, e: &Event) -> io::Result<()> {
        self.inner.event(o, e)
    }
    fn message(&mut self, o: &Origin, m: &MessageInfo) -> io::Result<()> {
        self.inner.message(o, m)
    }
    /// Extraction needs every session here: rendered elsewhere only without it.
    fn renderer(&self) -> Option<super::Renderer> {
        match self.extractor {
            Some(_) => None,
            None => self.inner.renderer(),
        }
    }
    fn rendered(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.rendered(bytes)
    }
}
