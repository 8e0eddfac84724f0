//! `mailscope flows` end to end on synthetic captures: every input format and link type, and
//! the TCP cases reassembly must get right.

mod support;

use mailscope::synth::{self, Conversation, PcapWriter, PcapngWriter, Rng, Side, SynthFrame};
use mailscope::types::Timestamp;
use std::io::Write;
use std::path::{Path, PathBuf};
use support::*;

fn write_pcap(path: &Path, frames: &[SynthFrame]) {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for f in frames {
        w.frame(f.ts, &f.data, f.data.len()).unwrap();
    }
    std::fs::write(path, w.into_inner()).unwrap();
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Reads the two stream files of a flow.
fn streams(flow: &Flow) -> (Vec<u8>, Vec<u8>) {
    let s = flow.streams.as_ref().expect("streams written");
    (
        std::fs::read(&s.client).unwrap(),
        std::fs::read(&s.server).unwrap(),
    )
}

fn check_streams(file: &Path, want_client: &[u8], want_server: &[u8]) -> Run {
    let dir = tmp();
    let run = flows(file, &["--write-streams", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.flows.len(), 1, "{:?}", run.flows);
    let (c, s) = streams(&run.flows[0]);
    assert_eq!(c, want_client);
    assert_eq!(s, want_server);
    run
}

#[test]
fn clean_conversation_streams_and_record() {
    let dir = tmp();
    let (conv, client, server) = smtp_conversation(40000, [1000, 2000]);
    let file = dir.path().join("clean.pcap");
    write_pcap(&file, &conv.frames);
    let run = check_streams(&file, &client, &server);
    let f = &run.flows[0];
    // Every frame counts, the final ACK after both FINs included (as tshark counts).
    assert_eq!(
        f.packets.client + f.packets.server,
        conv.frames.len() as u64
    );
    assert_eq!(f.kind, "flow");
    assert_eq!(
        f.client,
        Endpoint {
            ip: "10.0.0.1".into(),
            port: 40000
        }
    );
    assert_eq!(
        f.server,
        Endpoint {
            ip: "10.0.0.2".into(),
            port: 25
        }
    );
    assert_eq!(f.protocol, "smtp");
    assert_eq!(f.state, "complete");
    assert!(f.handshake);
    assert_eq!(
        f.bytes,
        PerSide {
            client: client.len() as u64,
            server: server.len() as u64
        }
    );
    assert_eq!(
        f.gaps,
        PerSide {
            client: 0,
            server: 0
        }
    );
    assert_eq!(f.start, "2023-11-14T22:13:20.000100Z");
}

#[test]
fn reordered_retransmitted_overlapping_gives_identical_streams() {
    let dir = tmp();
    let (mut conv, client, server) = smtp_conversation(40001, [u32::MAX - 5000, 7]);
    // Overlapping resend of bytes the client sent, with the same content.
    let base = conv
        .next_seq(Side::Client)
        .wrapping_sub(client.len() as u32 + 1);
    let off = 100;
    conv.send_at(
        Side::Client,
        base.wrapping_add(off as u32),
        &client[off..off + 3000],
    );
    let mut frames = conv.frames.clone();
    let mut rng = Rng::new(42);
    synth::disorder(&mut frames, &mut rng, 30, 20);
    let file = dir.path().join("disorder.pcap");
    write_pcap(&file, &frames);
    let run = check_streams(&file, &client, &server);
    let f = &run.flows[0];
    assert!(f.retransmissions.client + f.retransmissions.server > 0);
    assert!(f.out_of_order.client + f.out_of_order.server > 0);
    assert_eq!(
        f.overlap_conflicts,
        PerSide {
            client: 0,
            server: 0
        }
    );
}

/// Moves frame `from` to just after frame `after`: a segment the capture holds back.
fn hold_back(frames: &mut Vec<SynthFrame>, from: usize, after: usize) {
    let f = frames.remove(from);
    frames.insert(after, f);
}

fn from_client(f: &SynthFrame) -> bool {
    f.data[26..30] == [10, 0, 0, 1]
}

/// SPAN ports, multi-queue NICs and merged captures put an ACK ahead of the data it
/// acknowledges: the late segment is kept, not taken for a retransmission of a gap.
#[test]
fn late_segments_after_the_peers_ack_are_kept() {
    let (conv, client, server) = smtp_conversation(40020, [3, u32::MAX - 2000]);
    let frames = conv.frames;
    let body: Vec<usize> = (0..frames.len())
        .filter(|&i| from_client(&frames[i]) && frames[i].payload_len == 1448)
        .collect();
    assert!(body.len() >= 4);
    let server_ack = (body[2]..frames.len())
        .find(|&k| !from_client(&frames[k]) && frames[k].payload_len == 0)
        .unwrap();
    let dir = tmp();
    let file = dir.path().join("late.pcap");
    // The third body segment comes after the rest of the body and the server's ACK of it.
    let mut late = frames.clone();
    hold_back(&mut late, body[2], server_ack);
    write_pcap(&file, &late);
    let run = check_streams(&file, &client, &server);
    let f = &run.flows[0];
    assert_eq!(f.gaps.client, 0);
    assert_eq!(f.retransmissions.client, 0);
    assert_eq!(f.state, "complete");
    // A segment coming after the server's reply (data acknowledging it) is not waited for:
    // the reply answers what it acknowledges, so it is handed on after a gap in its place.
    let reply = (server_ack..frames.len())
        .find(|&k| !from_client(&frames[k]) && frames[k].payload_len > 0)
        .unwrap();
    let mut late = frames.clone();
    hold_back(&mut late, body[2], reply);
    write_pcap(&file, &late);
    let d = tmp();
    let run = flows(&file, &["--write-streams", d.path().to_str().unwrap()]);
    let f = &run.flows[0];
    let at: usize = frames[..body[2]]
        .iter()
        .filter(|f| from_client(f))
        .map(|f| f.payload_len)
        .sum();
    assert_eq!(
        f.gap_list.as_ref().unwrap().client,
        vec![Gap {
            offset: at as u64,
            len: 1448
        }]
    );
    assert_eq!(f.retransmissions.client, 1);
    assert_eq!(streams(f).1, server);

    // After both FINs and the final ACK (only pure ACKs and FINs pass it): still kept,
    // every packet is counted with the connection, which still ends complete.
    let mut c = Conversation::new((ip("10.0.0.1"), 40021), (ip("10.0.0.2"), 25), [9, 9]);
    c.handshake();
    c.send(Side::Server, b"220 mx ESMTP\r\n");
    c.ack(Side::Client);
    let blob = bytes(5 * 1448, 7);
    c.send(Side::Client, &blob);
    c.ack(Side::Server);
    c.close();
    let mut frames = c.frames;
    let second = (0..frames.len())
        .filter(|&i| from_client(&frames[i]) && frames[i].payload_len > 0)
        .nth(1)
        .unwrap();
    let last = frames.len() - 1;
    let total = frames.len() as u64;
    hold_back(&mut frames, second, last);
    write_pcap(&file, &frames);
    let run = check_streams(&file, &blob, b"220 mx ESMTP\r\n");
    let f = &run.flows[0];
    assert_eq!(f.gaps.client, 0);
    assert_eq!(f.state, "complete");
    assert_eq!(f.packets.client + f.packets.server, total);
}

/// The benchmark's traffic, small: its disordered variant (segments held back past the
/// ACKs covering them, retransmissions) gives the clean variant's streams, connection by
/// connection.
#[test]
fn disordered_mail_traffic_gives_the_clean_streams() {
    let dir = tmp();
    let mut streams_of = Vec::new();
    for disorder in [false, true] {
        let file = dir.path().join(format!("traffic-{disorder}.pcap"));
        let n =
            synth::write_mail_traffic(std::fs::File::create(&file).unwrap(), 4 << 20, 16, disorder)
                .unwrap();
        assert!(n >= 4, "{n} sessions");
        let out = dir.path().join(format!("streams-{disorder}"));
        let run = flows(&file, &["--write-streams", out.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.flows.iter().all(|f| f.gaps.client + f.gaps.server == 0));
        if disorder {
            let moved: u64 = run
                .flows
                .iter()
                .map(|f| f.out_of_order.client + f.out_of_order.server)
                .sum();
            let resent: u64 = run
                .flows
                .iter()
                .map(|f| f.retransmissions.client + f.retransmissions.server)
                .sum();
            assert!(moved > 0 && resent > 0, "{moved} {resent}");
        }
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        streams_of.push(files);
    }
    assert_eq!(streams_of[0].len(), streams_of[1].len());
    for (clean, disordered) in streams_of[0].iter().zip(&streams_of[1]) {
        assert_eq!(clean.0, disordered.0);
        assert!(clean.1 == disordered.1, "{} differs", clean.0);
    }
}

#[test]
fn conflicting_overlap_is_counted_first_data_wins() {
    let dir = tmp();
    let mut c = Conversation::new((ip("10.0.0.1"), 40002), (ip("10.0.0.2"), 25), [0, 0]);
    c.handshake();
    c.send(Side::Server, b"220 hi SMTP\r\n");
    let seq = c.next_seq(Side::Client);
    // Second half first, then a conflicting copy of it, then the first half.
    c.send_at(Side::Client, seq.wrapping_add(5), b"world\r\n");
    c.send_at(Side::Client, seq.wrapping_add(5), b"WORLD\r\n");
    c.send_at(Side::Client, seq, b"hello");
    let file = dir.path().join("conflict.pcap");
    write_pcap(&file, &c.frames);
    let d = tmp();
    let run = flows(&file, &["--write-streams", d.path().to_str().unwrap()]);
    let f = &run.flows[0];
    assert_eq!(streams(f).0, b"helloworld\r\n");
    assert_eq!(f.overlap_conflicts.client, 1);
    assert_eq!(f.state, "open");
}

#[test]
fn missing_segment_is_a_gap_at_its_offset() {
    let dir = tmp();
    let (conv, client, server) = smtp_conversation(40003, [5, 6]);
    // Drop the third client data segment.
    let mut seen = 0;
    let mut dropped = None;
    let mut frames = Vec::new();
    let mut offset = 0usize;
    for f in conv.frames {
        let from_client = f.data[26..30] == [10, 0, 0, 1];
        if from_client && f.payload_len > 0 {
            seen += 1;
            if seen == 3 {
                dropped = Some((offset, f.payload_len));
                offset += f.payload_len;
                continue;
            }
            offset += f.payload_len;
        }
        frames.push(f);
    }
    let (gap_at, gap_len) = dropped.unwrap();
    let file = dir.path().join("gap.pcap");
    write_pcap(&file, &frames);
    let d = tmp();
    let run = flows(&file, &["--write-streams", d.path().to_str().unwrap()]);
    let f = &run.flows[0];
    assert_eq!(
        f.gaps,
        PerSide {
            client: 1,
            server: 0
        }
    );
    assert_eq!(
        f.gap_list.as_ref().unwrap().client,
        vec![Gap {
            offset: gap_at as u64,
            len: gap_len as u64
        }]
    );
    let (c, s) = streams(f);
    assert_eq!(s, server);
    assert_eq!(c.len(), client.len());
    assert_eq!(c[..gap_at], client[..gap_at]);
    assert!(c[gap_at..gap_at + gap_len].iter().all(|b| *b == 0));
    assert_eq!(c[gap_at + gap_len..], client[gap_at + gap_len..]);
    let gaps_file = PathBuf::from(format!("{}.gaps", f.streams.as_ref().unwrap().client));
    assert_eq!(
        std::fs::read_to_string(gaps_file).unwrap(),
        format!("{gap_at} {gap_len}\n")
    );
}

#[test]
fn every_link_type_and_vlan_decodes() {
    let (conv, client, server) = smtp_conversation(40004, [9, 9]);
    for (link, vlans) in [
        (1u32, vec![]),
        (1, vec![100]),
        (1, vec![100, 200]),
        (101, vec![]),
        (0, vec![]),
        (113, vec![]),
        (276, vec![]),
    ] {
        let dir = tmp();
        let file = dir.path().join("link.pcap");
        let mut w = PcapWriter::with_options(Vec::new(), link, 65535, false, false).unwrap();
        for f in &conv.frames {
            let data = synth::reframe(&f.data, link, &vlans);
            w.frame(f.ts, &data, data.len()).unwrap();
        }
        std::fs::write(&file, w.into_inner()).unwrap();
        check_streams(&file, &client, &server);
    }
}

#[test]
fn ipv6_with_extension_header() {
    let mut c = Conversation::new((ip("2001:db8::1"), 40005), (ip("2001:db8::2"), 143), [1, 2]);
    c.handshake();
    c.send(Side::Server, b"* OK IMAP4rev1 ready\r\n");
    c.send(Side::Client, b"a1 LOGOUT\r\n");
    c.close();
    // Insert a hop-by-hop options header (8 bytes) into every packet.
    let frames: Vec<SynthFrame> = c
        .frames
        .iter()
        .map(|f| {
            let mut d = f.data[..14 + 40].to_vec();
            let plen = u16::from_be_bytes([d[18], d[19]]) + 8;
            d[18..20].copy_from_slice(&plen.to_be_bytes());
            d[20] = 0; // next header: hop-by-hop
            d.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // next: TCP, PadN
            d.extend_from_slice(&f.data[14 + 40..]);
            SynthFrame {
                data: d,
                ..f.clone()
            }
        })
        .collect();
    let dir = tmp();
    let file = dir.path().join("v6.pcap");
    write_pcap(&file, &frames);
    let run = check_streams(&file, b"a1 LOGOUT\r\n", b"* OK IMAP4rev1 ready\r\n");
    assert_eq!(run.flows[0].client.ip, "2001:db8::1");
    assert_eq!(run.flows[0].protocol, "imap");
}

/// Replaces every frame carrying more than 600 payload bytes by the fragments `split`
/// makes of it (given the frame's index), one nanosecond apart.
fn fragmented(
    frames: &[SynthFrame],
    split: impl Fn(usize, &SynthFrame) -> Vec<Vec<u8>>,
) -> Vec<SynthFrame> {
    let mut out = Vec::new();
    for (n, f) in frames.iter().enumerate() {
        if f.payload_len <= 600 {
            out.push(f.clone());
            continue;
        }
        for (i, frag) in split(n, f).into_iter().enumerate() {
            out.push(SynthFrame {
                ts: Timestamp::from_nanos(f.ts.as_nanos() + i as i64),
                data: frag,
                payload_len: 0,
            });
        }
    }
    out
}

#[test]
fn ipv4_fragments_are_reassembled() {
    let (conv, client, server) = smtp_conversation(40006, [3, 4]);
    let frames = fragmented(&conv.frames, |_, f| synth::fragment_ipv4(&f.data, 512));
    let dir = tmp();
    let file = dir.path().join("frag.pcap");
    write_pcap(&file, &frames);
    let run = check_streams(&file, &client, &server);
    assert!(run.summary.ip_fragments > 0);
}

/// IPv6 fragments (RFC 8200 Fragment header), some arriving last-first, are put back
/// together before TCP sees them.
#[test]
fn ipv6_fragments_are_reassembled() {
    let mut c = Conversation::new((ip("2001:db8::1"), 40008), (ip("2001:db8::2"), 25), [5, 6]);
    c.handshake();
    let greeting = b"220 mx.example.test ESMTP\r\n".to_vec();
    let mut client = b"EHLO v6.example.test\r\n".to_vec();
    client.extend_from_slice(&support::bytes(6000, 8));
    c.send(Side::Server, &greeting);
    c.send(Side::Client, &client);
    c.close();
    let frames = fragmented(&c.frames, |n, f| {
        let mut frags = synth::fragment_ipv6(&f.data, 512, n as u32);
        if n % 2 == 0 {
            frags.reverse();
        }
        frags
    });
    let dir = tmp();
    let file = dir.path().join("frag6.pcap");
    write_pcap(&file, &frames);
    let run = check_streams(&file, &client, &greeting);
    assert!(run.summary.ip_fragments > 0);
    assert_eq!(run.flows[0].client.ip, "2001:db8::1");
}

#[test]
fn pcap_byte_orders_resolutions_gzip_and_stdin() {
    let (conv, client, server) = smtp_conversation(40007, [11, 12]);
    for (big_endian, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
        let dir = tmp();
        let file = dir.path().join("order.pcap");
        let mut w = PcapWriter::with_options(Vec::new(), 1, 65535, big_endian, nanos).unwrap();
        for f in &conv.frames {
            w.frame(f.ts, &f.data, f.data.len()).unwrap();
        }
        std::fs::write(&file, w.into_inner()).unwrap();
        let run = check_streams(&file, &client, &server);
        assert_eq!(run.flows[0].start, "2023-11-14T22:13:20.000100Z");
    }
    // gzip, detected by magic bytes whatever the name.
    let dir = tmp();
    let plain = dir.path().join("plain.pcap");
    write_pcap(&plain, &conv.frames);
    let raw = std::fs::read(&plain).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz_file = dir.path().join("capture.bin");
    std::fs::write(&gz_file, gz.finish().unwrap()).unwrap();
    check_streams(&gz_file, &client, &server);
    // Standard input, both spellings.
    for args in [
        vec!["flows", "-", "--json"],
        vec!["flows", "-r", "-", "--json"],
    ] {
        let out = mailscope()
            .args(&args)
            .write_stdin(raw.clone())
            .output()
            .unwrap();
        assert!(out.status.success());
        let (flows, _) = parse(&out.stdout);
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].bytes.client, client.len() as u64);
    }
}

#[test]
fn pcapng_interfaces_resolutions_and_block_kinds() {
    let (conv, client, server) = smtp_conversation(40008, [21, 22]);
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    let eth = w.interface(1, 6).unwrap();
    let raw = w.interface(101, 9).unwrap();
    for (i, f) in conv.frames.iter().enumerate() {
        match i % 3 {
            0 => w.epb(eth, f.ts, &f.data).unwrap(),
            1 => w
                .epb(raw, f.ts, &synth::reframe(&f.data, 101, &[]))
                .unwrap(),
            _ => w.opb(eth as u16, f.ts, &f.data).unwrap(),
        }
    }
    let dir = tmp();
    let file = dir.path().join("multi.pcapng");
    std::fs::write(&file, w.into_inner()).unwrap();
    let run = check_streams(&file, &client, &server);
    assert_eq!(run.flows[0].start, "2023-11-14T22:13:20.000100Z");

    // Simple Packet Blocks (no timestamps) on interface 0.
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    w.interface(1, 6).unwrap();
    for f in &conv.frames {
        w.spb(&f.data).unwrap();
    }
    std::fs::write(&file, w.into_inner()).unwrap();
    check_streams(&file, &client, &server);
}

#[test]
fn truncated_file_reports_frame_and_offset_and_keeps_results() {
    let (conv, client, _) = smtp_conversation(40009, [1, 1]);
    let dir = tmp();
    let file = dir.path().join("cut.pcap");
    write_pcap(&file, &conv.frames);
    let mut raw = std::fs::read(&file).unwrap();
    raw.truncate(raw.len() - 30); // inside the last record
    std::fs::write(&file, &raw).unwrap();
    let run = flows(&file, &[]);
    assert_eq!(run.code, 1);
    let frames = conv.frames.len();
    let want = format!("frame {frames} at byte offset");
    assert!(run.stderr.contains(&want), "stderr: {}", run.stderr);
    assert!(run.stderr.contains("truncated"), "stderr: {}", run.stderr);
    assert_eq!(run.flows.len(), 1);
    assert_eq!(run.flows[0].bytes.client, client.len() as u64);
    assert!(run.summary.error.unwrap().contains(&want));
}

#[test]
fn garbage_and_empty_inputs_fail_cleanly() {
    let dir = tmp();
    let file = dir.path().join("junk");
    std::fs::write(&file, b"this is not a capture at all, just text\n").unwrap();
    let out = mailscope().args(["flows"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap or pcapng"));
    std::fs::write(&file, b"").unwrap();
    let out = mailscope().args(["flows"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = mailscope()
        .args(["flows", "/nonexistent/x.pcap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = mailscope().args(["flows"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn snaplen_cut_becomes_a_gap() {
    let (conv, client, server) = smtp_conversation(40010, [100, 200]);
    let mut w = PcapWriter::with_options(Vec::new(), 1, 1000, false, false).unwrap();
    for f in &conv.frames {
        let cut = f.data.len().min(1000);
        w.frame(f.ts, &f.data[..cut], f.data.len()).unwrap();
    }
    let dir = tmp();
    let file = dir.path().join("snap.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();
    let d = tmp();
    let run = flows(&file, &["--write-streams", d.path().to_str().unwrap()]);
    let f = &run.flows[0];
    assert!(run.summary.frames_cut_by_snaplen > 0);
    assert!(f.gaps.client > 0);
    let (c, s) = streams(f);
    assert_eq!(s, server);
    // Same length; every byte outside the gaps is the original.
    assert_eq!(c.len(), client.len());
    let gaps = &f.gap_list.as_ref().unwrap().client;
    let total: u64 = gaps.iter().map(|g| g.len).sum();
    assert_eq!(f.bytes.client + total, client.len() as u64);
    let mut next = 0;
    for g in gaps {
        assert_eq!(c[next..g.offset as usize], client[next..g.offset as usize]);
        next = (g.offset + g.len) as usize;
    }
    assert_eq!(c[next..], client[next..]);
}

#[test]
fn roles_states_reuse_and_port_maps() {
    let dir = tmp();
    let mut frames = Vec::new();
    // 1: mid-stream (no handshake), server on a mapped port sends first.
    let mut a = Conversation::new((ip("10.0.0.5"), 50000), (ip("10.0.0.6"), 110), [500, 600]);
    a.send(Side::Client, b"STAT\r\n");
    a.send(Side::Server, b"+OK 2 320\r\n");
    frames.extend(a.frames);
    // 2: reset.
    let mut b = Conversation::new((ip("10.0.0.5"), 50001), (ip("10.0.0.6"), 143), [1, 2]);
    b.handshake();
    b.send(Side::Server, b"* OK hi\r\n");
    b.reset(Side::Client);
    frames.extend(b.frames);
    // 3 and 4: the same 4-tuple used twice.
    for isn in [10_000u32, 90_000] {
        let mut c = Conversation::new((ip("10.0.0.5"), 50002), (ip("10.0.0.6"), 25), [isn, isn]);
        c.handshake();
        c.send(Side::Server, b"220 mx ESMTP\r\n");
        c.send(Side::Client, b"QUIT\r\n");
        c.close();
        frames.extend(c.frames);
    }
    // 5: an unmapped port, SMTP by content, only listed with --port or --all-ports.
    let mut e = Conversation::new((ip("10.0.0.5"), 50003), (ip("10.0.0.6"), 2525), [1, 2]);
    e.handshake();
    e.send(Side::Server, b"220 mx.example ESMTP Postfix\r\n");
    e.close();
    frames.extend(e.frames);
    // Keep timestamps increasing in file order.
    for (i, f) in frames.iter_mut().enumerate() {
        f.ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + i as i64 * 1000);
    }
    let file = dir.path().join("mixed.pcap");
    write_pcap(&file, &frames);

    let run = flows(&file, &[]);
    let states: Vec<(&str, &str, u16)> = run
        .flows
        .iter()
        .map(|f| (f.state.as_str(), f.protocol.as_str(), f.client.port))
        .collect();
    assert_eq!(
        states,
        vec![
            ("open", "pop3", 50000),
            ("reset", "imap", 50001),
            ("complete", "smtp", 50002),
            ("complete", "smtp", 50002),
        ]
    );
    assert!(!run.flows[0].handshake);
    assert_eq!(run.flows[0].server.port, 110);

    let run = flows(&file, &["--port", "2525=smtp"]);
    assert_eq!(run.flows.len(), 5);
    assert_eq!(run.flows[4].protocol, "smtp");
    let run = flows(&file, &["--all-ports"]);
    assert_eq!(run.flows.len(), 5);
    assert_eq!(run.flows[4].protocol, "smtp");

    let out = mailscope()
        .args(["flows", "x.pcap", "--port", "25=http"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn limits_are_reported_not_exceeded() {
    let dir = tmp();
    let mut frames = Vec::new();
    for i in 0..6u16 {
        let (conv, _, _) = smtp_conversation(41000 + i, [u32::from(i), 7]);
        frames.push(conv.frames);
    }
    // Interleave the six connections.
    let mut merged = Vec::new();
    let longest = frames.iter().map(Vec::len).max().unwrap();
    for k in 0..longest {
        for conv in &frames {
            if let Some(f) = conv.get(k) {
                merged.push(f.clone());
            }
        }
    }
    for (i, f) in merged.iter_mut().enumerate() {
        f.ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + i as i64 * 1000);
    }
    let file = dir.path().join("many.pcap");
    write_pcap(&file, &merged);
    let run = flows(&file, &["--max-connections", "3"]);
    assert!(run.summary.connections_evicted_at_limit > 0);
    assert!(run.flows.iter().any(|f| f.state == "evicted"));
    assert_eq!(run.code, 0);

    // Reverse each connection's client data: everything arrives out of order; a tiny
    // buffer limit forces gaps instead of growth.
    let (conv, client, _) = smtp_conversation(42000, [1, 1]);
    let mut frames = conv.frames.clone();
    let data_idx: Vec<usize> = (0..frames.len())
        .filter(|&i| frames[i].payload_len > 1000)
        .collect();
    let reversed: Vec<SynthFrame> = data_idx.iter().rev().map(|&i| frames[i].clone()).collect();
    for (slot, f) in data_idx.iter().zip(reversed) {
        frames[*slot] = f;
    }
    write_pcap(&file, &frames);
    let run = flows(&file, &["--max-buffered-bytes", "2000"]);
    assert!(run.summary.buffer_limit_flushes > 0);
    let f = &run.flows[0];
    assert!(f.gaps.client > 0);
    assert_eq!(f.bytes.client + f.gap_bytes.client, client.len() as u64);
}

#[test]
fn table_output_lists_connections() {
    let dir = tmp();
    let (conv, _, _) = smtp_conversation(40011, [1, 1]);
    let file = dir.path().join("t.pcap");
    write_pcap(&file, &conv.frames);
    let out = mailscope().arg("flows").arg(&file).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("10.0.0.1:40011"));
    assert!(text.contains("smtp"));
    assert!(text.contains("complete"));
    assert!(!text.contains('\x1b'), "no colour when piped");
    // The main job (no subcommand) accepts the capture directly.
    let out = mailscope().arg(&file).output().unwrap();
    assert!(out.status.success());
}

#[test]
fn idle_connections_time_out() {
    let mut a = Conversation::new((ip("10.0.0.7"), 50010), (ip("10.0.0.8"), 25), [1, 2]);
    a.handshake();
    a.send(Side::Server, b"220 mx ESMTP\r\n");
    let mut b = Conversation::new((ip("10.0.0.7"), 50011), (ip("10.0.0.8"), 25), [1, 2]);
    b.handshake();
    b.send(Side::Server, b"220 mx ESMTP\r\n");
    b.close();
    // The second connection starts ten minutes after the first went quiet.
    let mut frames = a.frames;
    let later = frames.last().unwrap().ts.as_nanos() + 600_000_000_000;
    for (i, mut f) in b.frames.into_iter().enumerate() {
        f.ts = Timestamp::from_nanos(later + i as i64 * 1000);
        frames.push(f);
    }
    let dir = tmp();
    let file = dir.path().join("idle.pcap");
    write_pcap(&file, &frames);
    let run = flows(&file, &["--idle-timeout", "60"]);
    let states: Vec<&str> = run.flows.iter().map(|f| f.state.as_str()).collect();
    assert_eq!(states, vec!["timed-out", "complete"]);
    // With the default (300 s) timeout the first one also times out; with a longer one it
    // is still open when the capture ends.
    let run = flows(&file, &["--idle-timeout", "3600"]);
    let states: Vec<&str> = run.flows.iter().map(|f| f.state.as_str()).collect();
    assert_eq!(states, vec!["open", "complete"]);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // 300 sessions: every format writes far more than a pipe buffer (64 KiB) holds.
    let dir = tmp();
    let file = dir.path().join("many.pcap");
    let mut frames = Vec::new();
    for i in 0..300u16 {
        frames.extend(smtp_conversation(20000 + i, [1, 1]).0.frames);
    }
    for (i, f) in frames.iter_mut().enumerate() {
        f.ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + i as i64 * 1000);
    }
    write_pcap(&file, &frames);
    for args in [vec!["flows", "--json"], vec!["--format", "json"], vec![]] {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("mailscope"))
            .args(&args)
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 64];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take()); // like `| head -c 64`
        let out = child.wait_with_output().unwrap();
        // The output really was cut: a full run writes much more than was read.
        let full = mailscope().args(&args).arg(&file).output().unwrap();
        assert!(
            full.stdout.len() > 128 * 1024,
            "{args:?}: only {} bytes",
            full.stdout.len()
        );
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
