//! Any bytes as a message through the MIME layer; see `mailscope::fuzzing::mime`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailscope::fuzzing::mime(data));
