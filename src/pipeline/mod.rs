//! The only place that wires the layers together:
//! capture → packet → flow → (transform) → proto → session records → render.
//!
//! | module | owns |
//! |---|---|
//! | `config` | the validated configs (`InputConfig`, `FlowsConfig`, `SessionsConfig`), `Filter`, `RunError`, the outcomes |
//! | `drive` | the capture → packet → flow loop and the run totals |
//! | `ordering` | the reorder buffer: output in order of first packet |
//! | `flows` | the `flows` command: a record per connection, stream files |
//! | `sessions` | the main job: recognition, dissectors, the session of each connection |
//! | `streams` | a session's stream-transform slot: what each direction passes through (`transform`) |
//! | `pool` | MIME decoding (and rendering) on worker threads |
//! | `rendering` | sessions rendered on worker threads, written in order |

mod config;
mod drive;
mod flows;
mod keys;
mod ordering;
mod pool;
mod rendering;
mod sessions;
mod streams;

pub use config::{
    Filter, FlowsConfig, FlowsOutcome, InputConfig, Prefix, RunError, SessionsConfig,
    SessionsOutcome,
};
pub use drive::ProgressSink;
pub use flows::flows;
pub use sessions::{sessions, sessions_from};
