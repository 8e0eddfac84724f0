//! mailscope: a packet analyzer for mail protocols.
//!
//! ```text
//!  capture ──Frame──▶ packet ──Segment──▶ flow ──Chunk/Gap──▶ proto ──▶ session ──▶ render
//! ```
//!
//! Each layer is one module and depends only on the layers before it; [`pipeline`] is the
//! only module that knows them all, and the binary's `main` only parses flags and calls it.
#![deny(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod copies;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod mime;
pub mod packet;
pub mod pipeline;
pub mod proto;
pub mod render;
pub mod session;
pub mod sha;
pub mod synth;
pub mod teach;
pub mod transform;
pub mod types;
