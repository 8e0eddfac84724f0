//! Any bytes as a quoted-printable body; see `mailscope::fuzzing::check_qp_paths`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailscope::fuzzing::check_qp_paths(data));
