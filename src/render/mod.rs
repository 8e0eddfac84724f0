//! Render layer: turns the session model into output. One printer per format; renderers read
//! only `session` types, never dissector or reassembly internals.

pub mod extract;
pub mod json;
pub mod streams;
pub mod table;
pub mod text;
