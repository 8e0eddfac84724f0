//! Any bytes as both sides of an IMAP connection; see `mailscope::fuzzing::imap`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailscope::fuzzing::imap(data));
