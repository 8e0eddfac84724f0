//! Render layer: turns the session model into output. One printer per format; renderers read
//! only `session` types, never dissector or reassembly internals.
//!
//! The pipeline hands its results to a [`SessionSink`] (main job) or a [`FlowSink`]
//! (`flows`), in the style of ripgrep's `Sink` and hyperfine's `Exporter`: one
//! implementation per output format (`sink`: text, JSON Lines, table). A new output format
//! is a printer plus its sink, and its value in `cli`'s format enum; nothing else changes.
//!
//! Strings in the model come from the capture, so no printer writes them raw: the text and
//! table printers pass them through [`escape`], the JSON printers through the escaping
//! formatter of [`json`] (also used for `--extract`'s `index.json`), and extracted file names
//! keep only `[A-Za-z0-9._-]`. The characters that matter are those [`is_unsafe`] names.

pub mod diagram;
pub mod explain;
pub mod extract;
pub mod flowpic;
pub mod html;
pub mod json;
pub mod live;
pub mod mermaid;
pub mod sink;
pub mod streams;
pub mod table;
pub mod text;

use crate::session::mail::MessageInfo;
use crate::session::{Event, FlowRecord, Origin, RunSummary, Session};
use std::io;

/// Where the main job's results go: one implementation per output format.
pub trait SessionSink {
    /// A finished session, in order of first packet (see `Limits::max_reorder` for when a
    /// session comes later than its number says).
    fn session(&mut self, session: Session) -> io::Result<()>;
    /// The run is over (not called when writing failed): the totals. A sink that needs
    /// every session (a table) writes here.
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()>;
    /// Whether [`SessionSink::event`] wants to be called (a live view); file formats
    /// render whole sessions and say no.
    fn wants_events(&self) -> bool {
        false
    }
    /// A change to an open session, as it happens: the same events the session is folded
    /// from (see `session::Event`), for the sessions the filter shows. A message's event
    /// carries its bytes; what MIME decoding finds comes with the whole session.
    fn event(&mut self, _session: &Origin, _event: &Event) -> io::Result<()> {
        Ok(())
    }
    /// A connection was recognised as a mail session (only when [`SessionSink::wants_events`]):
    /// its first events follow.
    fn start(&mut self, _session: &Origin) -> io::Result<()> {
        Ok(())
    }
    /// A message of an open session is decoded (only when [`SessionSink::wants_events`]):
    /// the same record the whole session will carry, `number` counting from 1. With several
    /// threads it may come after later events of its session.
    fn message(&mut self, _session: &Origin, _message: &MessageInfo) -> io::Result<()> {
        Ok(())
    }
    /// How this sink turns a whole session into the bytes it writes, when that needs
    /// nothing but the session (JSON lines without events or extraction): the pipeline may
    /// then render sessions on its worker threads and hand the bytes, in the sessions'
    /// order, to [`SessionSink::rendered`] instead of calling [`SessionSink::session`].
    /// `None` (the default): every session goes to [`SessionSink::session`].
    fn renderer(&self) -> Option<Renderer> {
        None
    }
    /// Writes what [`SessionSink::renderer`] made of a session.
    fn rendered(&mut self, _bytes: &[u8]) -> io::Result<()> {
        Err(io::Error::other(
            "this sink renders its sessions itself (it has no renderer)",
        ))
    }
}

/// A sink's rendering of a whole session as a pure function (see
/// [`SessionSink::renderer`]), so that any thread can run it.
#[derive(Clone, Copy)]
pub struct Renderer {
    render: fn(&Session, bool, &mut Vec<u8>) -> io::Result<()>,
    pretty: bool,
}

impl Renderer {
    pub fn new(render: fn(&Session, bool, &mut Vec<u8>) -> io::Result<()>, pretty: bool) -> Self {
        Renderer { render, pretty }
    }

    /// Appends the bytes the sink would write for `session` to `out`.
    pub fn render(&self, session: &Session, out: &mut Vec<u8>) -> io::Result<()> {
        (self.render)(session, self.pretty, out)
    }
}

/// Where the `flows` command's records go: one implementation per output format.
pub trait FlowSink {
    /// A finished connection's record, in order of first packet.
    fn flow(&mut self, flow: FlowRecord) -> io::Result<()>;
    /// The run is over (not called when writing failed): the totals.
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()>;
}

/// A closure is a sink that takes each session and ignores the totals (tests, library use).
impl<F: FnMut(Session) -> io::Result<()>> SessionSink for F {
    fn session(&mut self, session: Session) -> io::Result<()> {
        self(session)
    }
    fn finish(&mut self, _: &RunSummary) -> io::Result<()> {
        Ok(())
    }
}

/// A closure is a sink that takes each record and ignores the totals.
impl<F: FnMut(FlowRecord) -> io::Result<()>> FlowSink for F {
    fn flow(&mut self, flow: FlowRecord) -> io::Result<()> {
        self(flow)
    }
    fn finish(&mut self, _: &RunSummary) -> io::Result<()> {
        Ok(())
    }
}

/// Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they reorder how
/// the text around them is shown ("Trojan Source", CVE-2021-42574), so `exe.pdf` can hide
/// `fdp.exe`.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Characters never written raw in any format: C0 controls (U+0000–U+001F), DEL (U+007F),
/// C1 controls (U+0080–U+009F, among them U+009B, the 8-bit CSI some terminals obey) and the
/// bidi controls of [`is_bidi_control`].
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// A capture string made safe for a terminal, in text and table output: tab, CR and LF as
/// `\t`, `\r`, `\n`; every other character of [`is_unsafe`], and U+FFFD (which stands for
/// bytes that were not UTF-8), as `\u{…}` with its hex code point.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if is_unsafe(c) || c == '\u{fffd}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_every_control_and_bidi_character() {
        assert_eq!(escape("a\tb\r\n"), "a\\tb\\r\\n");
        assert_eq!(escape("\0\x07\x1b[2J"), "\\u{0}\\u{7}\\u{1b}[2J");
        assert_eq!(
            escape("\x7f\u{80}\u{9b}31m\u{9f}"),
            "\\u{7f}\\u{80}\\u{9b}31m\\u{9f}"
        );
        assert_eq!(
            escape("invoice\u{202e}fdp.exe\u{2066}x\u{2069}"),
            "invoice\\u{202e}fdp.exe\\u{2066}x\\u{2069}"
        );
        assert_eq!(escape("bad \u{fffd} byte"), "bad \\u{fffd} byte");
        // Printable text, including non-ASCII, stays as it is.
        assert_eq!(escape("Grüße, 東京 → ✉ \u{a0}"), "Grüße, 東京 → ✉ \u{a0}");
    }

    #[test]
    fn unsafe_characters_are_exactly_c0_del_c1_and_bidi_controls() {
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let want = (c as u32) < 0x20
                || (0x7f..=0x9f).contains(&(c as u32))
                || (0x202a..=0x202e).contains(&(c as u32))
                || (0x2066..=0x2069).contains(&(c as u32));
            assert_eq!(is_unsafe(c), want, "U+{:04X}", c as u32);
        }
    }
}
