//! JSON Lines: one object per record, each with a `type` tag, written as it is produced.

use serde::Serialize;
use std::io::{self, Write};

/// Writes one JSON value and a newline; `pretty` indents it for people.
pub fn write_line<W: Write, T: Serialize>(out: &mut W, value: &T, pretty: bool) -> io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, value)?;
    } else {
        serde_json::to_writer(&mut *out, value)?;
    }
    out.write_all(b"\n")
}
