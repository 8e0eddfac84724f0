//! The only place that wires the layers together:
//! capture → packet → flow → (proto: recognition) → session records → render.
//!
//! | module | owns |
//! |---|---|
//! | `config` | the validated configs (`InputConfig`, `FlowsConfig`, `SessionsConfig`), `Filter`, `RunError`, the outcomes |
//! | `drive` | the capture → packet → flow loop and the run totals |
//! | `ordering` | the reorder buffer: output in order of first packet |
//! | `flows` | the `flows` command: a record per connection, stream files |
//! | `sessions` | the main job: recognition, dissectors, the session of each connection |
//! | `pool` | MIME decoding on worker threads |

mod config;
mod drive;
mod flows;
mod ordering;
mod pool;
mod sessions;

pub use config::{
    Filter, FlowsConfig, FlowsOutcome, InputConfig, RunError, SessionsConfig, SessionsOutcome,
};
pub use flows::flows;
pub use sessions::sessions;

use crate::session::{FlowRecord, Session};
use std::io;

/// Where finished sessions go, in order of first packet.
pub type SessionSink<'a> = dyn FnMut(Session) -> io::Result<()> + 'a;

/// Where finished connection records go, in order of first packet.
pub type FlowSink<'a> = dyn FnMut(FlowRecord) -> io::Result<()> + 'a;
