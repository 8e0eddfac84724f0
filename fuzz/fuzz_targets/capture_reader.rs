//! Any bytes as a capture file (pcap, pcapng, gzip); see `mailscope::fuzzing::capture_reader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailscope::fuzzing::capture_reader(data));
