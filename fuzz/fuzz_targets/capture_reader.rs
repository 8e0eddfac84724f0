//! Any bytes as a capture file (pcap, pcapng, gzip): reading must end in frames, a clean end
//! or an error, never a panic, an endless loop or an allocation the input asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailscope::capture::{FileReader, InputSource};
use mailscope::packet::Decoder;

fuzz_target!(|data: &[u8]| {
    let source = InputSource::from_reader("fuzz", std::io::Cursor::new(data.to_vec()));
    let Ok(mut reader) = FileReader::new(source) else {
        return;
    };
    let mut decoder = Decoder::new(64);
    let mut frames = 0u64;
    while let Ok(Some(frame)) = reader.next_frame() {
        assert!(frame.index > frames);
        frames = frame.index;
        let _ = decoder.decode(&frame);
    }
});
