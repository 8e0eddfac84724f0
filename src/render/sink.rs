//! The sinks of the output formats: each takes the pipeline's results as they come and
//! writes them with its printer (`text`, `json`, `table`); [`Extracting`] adds `--extract`
//! in front of any of them.

use super::extract::Extractor;
use super::{FlowSink, SessionSink, json, table, text};
use crate::session::{FlowRecord, RunSummary, Session};
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
        Ok(())
    }
}

/// JSON Lines, streamed: an object per session or connection, then the summary object.
pub struct Json<W> {
    out: W,
    pretty: bool,
}

impl<W: Write> Json<W> {
    pub fn new(out: W, pretty: bool) -> Self {
        Json { out, pretty }
    }
}

impl<W: Write> SessionSink for Json<W> {
    fn session(&mut self, s: Session) -> io::Result<()> {
        json::write_line(&mut self.out, &s, self.pretty)
    }
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        json::write_line(&mut self.out, summary, self.pretty)
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

/// Tables: they need every row, so rows are kept and written at the end.
pub struct Table<W> {
    out: W,
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
            show_secrets,
            color,
            width: None,
            sessions: Vec::new(),
            flows: Vec::new(),
        }
    }

    /// Fit the tables to this many columns (a terminal's width), wrapping long cells.
    pub fn width(mut self, width: Option<u16>) -> Self {
        self.width = width;
        self
    }
}

impl<W: Write> SessionSink for Table<W> {
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
        )
    }
}

impl<W: Write> FlowSink for Table<W> {
    fn flow(&mut self, f: FlowRecord) -> io::Result<()> {
        self.flows.push(f);
        Ok(())
    }
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let rows = std::mem::take(&mut self.flows);
        table::write_flows(&mut self.out, &rows, summary, self.color, self.width)
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
}
