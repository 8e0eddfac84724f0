//! Any bytes as a capture file through the whole main job, to sessions, JSON, text and table;
//! see `mailscope::fuzzing::sessions`. Seed it with `samples/*.pcap`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailscope::fuzzing::sessions(data));
