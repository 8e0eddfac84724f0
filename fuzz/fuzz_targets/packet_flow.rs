//! Any bytes as frames through packet decoding and TCP reassembly, checking the stream
//! invariants; see `mailscope::fuzzing::packet_flow`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailscope::fuzzing::packet_flow(data));
