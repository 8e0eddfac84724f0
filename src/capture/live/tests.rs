//! Hermetic tests of the live source: a scripted backend stands in for the interface.

use super::*;
use crate::capture::{FileReader, InputSource};
use std::collections::VecDeque;

enum Step {
    Packet {
        ts: i64,
        data: Vec<u8>,
    },
    /// The interface vanished.
    Fail,
}

/// Plays its steps, then stops the capture (like Ctrl-C) if `then_stop`, else times out
/// forever.
struct Script {
    steps: VecDeque<Step>,
    then_stop: Option<Arc<AtomicBool>>,
    stats: KernelStats,
}

impl Backend for Script {
    fn next_packet(&mut self, _snaplen: usize) -> io::Result<Got> {
        match self.steps.pop_front() {
            Some(Step::Packet { ts, data }) => Ok(Got::Packet(Packet {
                ts: Timestamp::from_nanos(ts),
                orig_len: data.len() as u32,
                data,
            })),
            Some(Step::Fail) => Err(io::Error::other("interface vanished")),
            None => {
                if let Some(stop) = &self.then_stop {
                    stop.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
                Ok(Got::Timeout)
            }
        }
    }
    fn stats(&mut self) -> KernelStats {
        self.stats
    }
}

fn options(queue_bytes: usize) -> LiveOptions {
    LiveOptions {
        interface: "test0".into(),
        filter: None,
        promiscuous: true,
        snaplen: 0,
        duration: None,
        write: None,
        queue_bytes,
        stop: Arc::new(AtomicBool::new(false)),
    }
}

fn packet(n: usize, len: usize) -> Step {
    Step::Packet {
        ts: 1_700_000_000_123_456_789 + n as i64 * 1_000_001,
        data: (0..len).map(|i| (i + n) as u8).collect(),
    }
}

fn start(steps: Vec<Step>, stop_after: bool, opts: LiveOptions) -> LiveSource {
    let script = Script {
        steps: steps.into(),
        then_stop: stop_after.then(|| opts.stop.clone()),
        stats: KernelStats {
            dropped: Some(5),
            if_dropped: None,
        },
    };
    let opened = Opened {
        backend: Box::new(script),
        linktype: 1,
    };
    LiveSource::start(opened, opts).unwrap()
}

/// Waits until the capture thread has ended (so the queue holds all it will get).
fn wait_for_thread(src: &LiveSource) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !src.thread.as_ref().is_none_or(|t| t.is_finished()) {
        assert!(Instant::now() < deadline, "capture thread did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every frame until the end: (index, ts, orig_len, data); Idle is skipped.
fn drain(src: &mut LiveSource) -> Vec<(u64, i64, u32, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        assert_eq!(f.input, 0);
        assert_eq!(f.link, LinkType::Ethernet);
        out.push((f.index, f.ts.as_nanos(), f.orig_len, f.data.to_vec()));
    }
    out
}

#[test]
fn queue_is_bounded_in_bytes_and_drops_are_counted() {
    let steps = (0..10).map(|n| packet(n, 100)).collect();
    let mut src = start(steps, true, options(3 * (100 + PACKET_OVERHEAD)));
    wait_for_thread(&src);
    let frames = drain(&mut src);
    assert_eq!(
        frames.len(),
        3,
        "only what fits in the byte budget is queued"
    );
    let stats = src.capture_stats().unwrap();
    assert_eq!(stats.packets_received, 10);
    assert_eq!(stats.packets_dropped_by_mailscope, 7);
    assert_eq!(stats.packets_dropped_by_kernel, Some(5));
    assert_eq!(stats.packets_dropped_by_interface, None);
    assert_eq!(stats.interface, "test0");
    assert_eq!(stats.backend, BACKEND);
    assert!(src.is_live());
}

#[test]
fn after_a_stop_every_queued_packet_comes_out_before_the_end() {
    let steps = (0..5).map(|n| packet(n, 60 + n)).collect();
    let mut src = start(steps, true, options(1 << 20));
    wait_for_thread(&src); // stopped (like Ctrl-C) before anything was pulled
    let frames = drain(&mut src);
    assert_eq!(
        frames.iter().map(|f| f.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    for (n, (_, ts, orig_len, data)) in frames.iter().enumerate() {
        let Step::Packet {
            ts: want_ts,
            data: want,
        } = packet(n, 60 + n)
        else {
            unreachable!()
        };
        assert_eq!(
            (*ts, *orig_len as usize, data),
            (want_ts, want.len(), &want)
        );
    }
    assert!(matches!(src.pull().unwrap(), Pulled::End), "End stays End");
    assert_eq!(src.frames(), 5);
    assert_eq!(src.progress().read, (60..65).sum::<u64>());
    // The budget was given back as packets were handed out.
    assert_eq!(src.shared.in_flight.load(Ordering::Relaxed), 0);
}

#[test]
fn nothing_arriving_is_idle_with_the_wall_clock() {
    let mut src = start(Vec::new(), false, options(1 << 20));
    let before = now();
    match src.pull().unwrap() {
        Pulled::Idle(ts) => assert!(ts >= before && ts.since(before) < 5_000_000_000),
        other => panic!("expected Idle, got {other:?}"),
    }
    drop(src); // stops and joins the thread; the test would hang if it did not
}

#[test]
fn the_duration_ends_the_capture() {
    let mut opts = options(1 << 20);
    opts.duration = Some(Duration::from_millis(150));
    let mut src = start(vec![packet(0, 70)], false, opts);
    let frames = drain(&mut src); // next_frame skips the Idles until the end
    assert_eq!(frames.len(), 1);
}

#[test]
fn a_capture_error_ends_the_capture_naming_the_interface() {
    let mut src = start(vec![packet(0, 70), Step::Fail], false, options(1 << 20));
    assert!(matches!(src.pull().unwrap(), Pulled::Frame(_)));
    let e = loop {
        match src.pull() {
            Ok(Pulled::Idle(_)) => {}
            Ok(other) => panic!("expected the error, got {other:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.path, "test0");
    assert_eq!(e.frame, 2);
    assert!(e.to_string().contains("interface vanished"), "{e}");
    assert!(matches!(src.pull().unwrap(), Pulled::End));
}

#[test]
fn frames_are_cut_to_the_snaplen() {
    let mut opts = options(1 << 20);
    opts.snaplen = 50;
    let mut src = start(vec![packet(0, 200)], true, opts);
    let frames = drain(&mut src);
    assert_eq!(frames[0].2, 200);
    assert_eq!(frames[0].3.len(), 50);
}

fn read_back(path: &std::path::Path) -> Vec<(u64, i64, u32, Vec<u8>)> {
    let input = InputSource::open(path.to_str().unwrap(), None).unwrap();
    let mut reader = FileReader::new(input).unwrap();
    let mut out = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        assert_eq!(f.link, LinkType::Ethernet);
        out.push((f.index, f.ts.as_nanos(), f.orig_len, f.data.to_vec()));
    }
    out
}

#[test]
fn write_copies_every_frame_handed_out_to_a_readable_pcap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.pcap");
    let mut opts = options(1 << 20);
    opts.write = Some(path.clone());
    let steps = vec![packet(0, 60), packet(1, 1514), packet(2, 65_000)];
    let mut src = start(steps, true, opts);
    let frames = drain(&mut src);
    assert_eq!(frames.len(), 3);
    // The file is complete at End, before the source is dropped.
    assert_eq!(
        read_back(&path),
        frames,
        "byte-identical frames and timestamps"
    );
    drop(src);
    assert_eq!(read_back(&path), frames);
}

#[test]
fn write_is_flushed_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idle.pcap");
    let mut opts = options(1 << 20);
    opts.write = Some(path.clone());
    let mut src = start(vec![packet(0, 100), packet(1, 100)], false, opts);
    let mut seen = 0;
    loop {
        match src.pull().unwrap() {
            Pulled::Frame(_) => seen += 1,
            Pulled::Idle(_) if seen == 2 => break,
            Pulled::Idle(_) => {}
            Pulled::End => panic!("no stop was asked for"),
        }
    }
    // The capture is still running (as when Ctrl-C kills it now): whole records on disk.
    assert_eq!(read_back(&path).len(), 2);
}

#[test]
fn write_to_an_impossible_path_is_a_write_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(1 << 20);
    opts.write = Some(dir.path().join("missing").join("x.pcap"));
    let opened = Opened {
        backend: Box::new(Script {
            steps: VecDeque::new(),
            then_stop: None,
            stats: KernelStats::default(),
        }),
        linktype: 1,
    };
    let e = LiveSource::start(opened, opts).err().unwrap();
    assert!(matches!(e, LiveError::Write { .. }));
    assert!(e.to_string().starts_with("-w "), "{e}");
}

#[cfg(not(feature = "libpcap"))]
#[test]
fn a_filter_needs_the_libpcap_feature() {
    let mut opts = options(1 << 20);
    opts.filter = Some("port 25".into());
    assert!(matches!(open(opts), Err(LiveError::FilterNeedsLibpcap)));
}

#[test]
fn errors_are_one_line_each() {
    let errors = [
        LiveError::NoSuchInterface {
            name: "eth9".into(),
            known: vec!["lo".into(), "eth0".into()],
        },
        LiveError::PermissionDenied {
            interface: "eth0".into(),
        },
        LiveError::Down {
            interface: "eth1".into(),
        },
        LiveError::FilterNeedsLibpcap,
        LiveError::BadFilter {
            filter: "port".into(),
            why: "syntax error".into(),
        },
        LiveError::Write {
            path: "/x/y.pcap".into(),
            error: io::Error::from(io::ErrorKind::NotFound),
        },
        LiveError::Other {
            interface: "eth0".into(),
            why: "boom".into(),
        },
    ];
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    for t in &texts {
        assert!(!t.contains('\n'), "{t}");
    }
    assert_eq!(texts[0], "no such interface: eth9 (interfaces: lo, eth0)");
    assert!(texts[1].contains("root or CAP_NET_RAW"));
    assert!(texts[1].contains("setcap cap_net_raw,cap_net_admin=eip $(command -v mailscope)"));
    assert_eq!(texts[2], "interface eth1 is down");
    assert!(texts[3].contains("libpcap"));
    assert_eq!(texts[4], "-f \"port\": syntax error");
    assert!(texts[5].starts_with("-w /x/y.pcap: "));
    assert_eq!(texts[6], "eth0: boom");
}
