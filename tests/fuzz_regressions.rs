//! Replays every input fuzzing ever found a bug with (`tests/fuzz-regressions/TARGET-*.bin`)
//! through the same harness the fuzz target runs.

#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        if name.starts_with("packet_flow-") {
            mailscope::fuzzing::packet_flow(&data);
        } else if name.starts_with("capture_reader-") {
            mailscope::fuzzing::capture_reader(&data);
        } else if name.starts_with("smtp-") {
            mailscope::fuzzing::smtp(&data);
        } else if name.starts_with("pop3-") {
            mailscope::fuzzing::pop3(&data);
        } else if name.starts_with("imap-") {
            mailscope::fuzzing::imap(&data);
        } else if name.starts_with("sessions-") {
            mailscope::fuzzing::sessions(&data);
        } else if name.starts_with("tls-") {
            mailscope::fuzzing::tls(&data);
        } else if name.starts_with("mime-") {
            mailscope::fuzzing::mime(&data);
        } else {
            panic!("{name}: name it after its fuzz target");
        }
        n += 1;
    }
    assert!(n > 0);
}
