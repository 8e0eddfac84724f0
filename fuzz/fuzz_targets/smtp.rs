//! Any bytes as both sides of an SMTP connection; see `mailscope::fuzzing::smtp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailscope::fuzzing::smtp(data));
