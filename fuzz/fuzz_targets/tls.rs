//! One TLS connection (records, handshakes, hostile lengths, holes) with no key log, a
//! fixture's, a wrong one or one from the input; see `mailscope::fuzzing::tls`. Seed it with
//! `python3 fuzz/seeds.py` (the sessions of tests/data/tls, decrypting).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailscope::fuzzing::tls(data));
