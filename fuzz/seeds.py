#!/usr/bin/env python3
"""Seeds the fuzz corpora from samples/: whole captures for capture_reader, and their
Ethernet frames re-encoded as (u16 length, link selector 0, bytes) for packet_flow."""
import glob, os, struct

here = os.path.dirname(os.path.abspath(__file__))
samples = sorted(glob.glob(os.path.join(here, "..", "samples", "*.pcap")))
for target in ("capture_reader", "packet_flow"):
    os.makedirs(os.path.join(here, "corpus", target), exist_ok=True)
for path in samples:
    raw = open(path, "rb").read()
    name = os.path.basename(path)
    open(os.path.join(here, "corpus", "capture_reader", name), "wb").write(raw[:200_000])
    out, off = bytearray(), 24
    while off + 16 <= len(raw) and len(out) < 60_000:
        incl = struct.unpack_from("<I", raw, off + 8)[0]
        frame = raw[off + 16: off + 16 + incl][:2047]
        out += struct.pack("<HB", len(frame), 0) + frame
        off += 16 + incl
    open(os.path.join(here, "corpus", "packet_flow", name), "wb").write(bytes(out))
