#!/usr/bin/env python3
"""Seeds the fuzz corpora from samples/: whole captures for capture_reader and sessions, their Ethernet
frames re-encoded as (u16 length, link selector 0, bytes) for packet_flow, and (with a built
target/release/mailscope) the samples' streams for smtp, pop3 and imap and the SMTP messages for mime."""
import glob, os, struct, subprocess, tempfile

here = os.path.dirname(os.path.abspath(__file__))
samples = sorted(glob.glob(os.path.join(here, "..", "samples", "*.pcap")))
for target in ("capture_reader", "packet_flow", "sessions"):
    os.makedirs(os.path.join(here, "corpus", target), exist_ok=True)
for path in samples:
    raw = open(path, "rb").read()
    name = os.path.basename(path)
    open(os.path.join(here, "corpus", "capture_reader", name), "wb").write(raw[:200_000])
    open(os.path.join(here, "corpus", "sessions", name), "wb").write(raw[:200_000])
    out, off = bytearray(), 24
    while off + 16 <= len(raw) and len(out) < 60_000:
        incl = struct.unpack_from("<I", raw, off + 8)[0]
        frame = raw[off + 16: off + 16 + incl][:2047]
        out += struct.pack("<HB", len(frame), 0) + frame
        off += 16 + incl
    open(os.path.join(here, "corpus", "packet_flow", name), "wb").write(bytes(out))

# smtp/pop3/imap: each line as a chunk in the format of mailscope::fuzzing::chunks (ctl byte:
# 0 = client, 1 = server; u16 little-endian length; the bytes); mime: the SMTP messages.
def chunk(ctl, data):
    out = bytearray()
    for i in range(0, len(data), 0xffff):
        out += struct.pack("<BH", ctl, len(data[i:i + 0xffff])) + data[i:i + 0xffff]
    return bytes(out)


PORTS = {"00025": "smtp", "00587": "smtp", "00110": "pop3", "00143": "imap"}
binary = os.path.join(here, "..", "target", "release", "mailscope")
if os.path.exists(binary):
    for target in ("smtp", "pop3", "imap", "mime"):
        os.makedirs(os.path.join(here, "corpus", target), exist_ok=True)
    for path in samples:
        out = tempfile.mkdtemp()
        subprocess.run([binary, "flows", path, "--write-streams", out],
                       capture_output=True, check=False)
        files = [f for f in sorted(glob.glob(out + "/*")) if not f.endswith(".gaps")]
        server = [f for f in files if os.path.basename(f).split("-")[0].rsplit(".", 1)[-1] in PORTS]
        client = [f for f in files if os.path.basename(f).split("-")[1].rsplit(".", 1)[-1] in PORTS]
        if not client or not server:
            continue
        proto = PORTS[os.path.basename(server[0]).split("-")[0].rsplit(".", 1)[-1]]
        cl = open(client[0], "rb").read().split(b"\r\n")
        sl = open(server[0], "rb").read().split(b"\r\n")
        seed = bytearray()
        for i in range(max(len(cl), len(sl))):
            if i < len(sl):
                seed += chunk(1, sl[i] + b"\r\n")
            if i < len(cl):
                seed += chunk(0, cl[i] + b"\r\n")
        name = os.path.basename(path)
        open(os.path.join(here, "corpus", proto, name), "wb").write(bytes(seed))
        body = open(client[0], "rb").read()
        start = body.find(b"DATA\r\n")
        if proto == "smtp" and start >= 0:
            open(os.path.join(here, "corpus", "mime", name + ".eml"), "wb").write(body[start + 6:])
