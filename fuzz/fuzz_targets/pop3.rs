//! Any bytes as both sides of a POP3 connection; see `mailscope::fuzzing::pop3`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailscope::fuzzing::pop3(data));
