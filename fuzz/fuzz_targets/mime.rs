//! Any bytes as a message through the MIME layer; see `mailscope::fuzzing::mime`. Then again
//! with tiny bounds, so the limit paths run too: what is listed stays within them.
#![no_main]

use mailscope::mime::{Bounds, parse_bounded};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mailscope::fuzzing::mime(data);
    let bounds = Bounds {
        max_parts: 3,
        max_depth: 2,
        max_headers: 2,
        max_addresses: 2,
        max_anomalies_per_name: 1,
    };
    let info = parse_bounded(data, false, &bounds);
    assert!(info.tree.len() <= bounds.max_parts);
    assert!(info.parts.len() <= bounds.max_parts);
    assert!(info.headers.raw.len() <= bounds.max_headers);
    for name in info.anomalies.iter().map(|a| a.name()) {
        let n = info.anomalies.iter().filter(|a| a.name() == name).count();
        // One per name, and a summary per other name (or per address field) at most.
        assert!(n <= 16, "{n} {name} anomalies");
        if name != "too-many-anomalies" && name != "too-many-addresses" {
            assert!(n <= bounds.max_anomalies_per_name, "{n} {name} anomalies");
        }
    }
});
