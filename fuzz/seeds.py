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

# tls: each fixture of tests/data/tls (real OpenSSL sessions) as mailscope::fuzzing::tls
# reads it: sel (0 no key log, 1 the fixture's, 2 a wrong one, 3 key log bytes from the
# input; +0x80: the main job too), u16 LE fixture index (sorted names, as TLS_FIXTURES), then
# the ClientHello, the server's records, the rest of the client's, as chunks; and one cut
# into records with a hole before the client's last records.
import json


def records(data):
    out, i = [], 0
    while i + 5 <= len(data):
        n = 5 + struct.unpack_from(">H", data, i + 3)[0]
        out.append(data[i:i + n])
        i += n
    return out


os.makedirs(os.path.join(here, "corpus", "tls"), exist_ok=True)
fixtures = sorted(glob.glob(os.path.join(here, "..", "tests", "data", "tls", "*.json")))
for index, path in enumerate(fixtures):
    f = json.load(open(path))
    client, server = bytes.fromhex(f["client"]), bytes.fromhex(f["server"])
    hello = 5 + struct.unpack_from(">H", client, 3)[0]
    whole = chunk(0, client[:hello]) + chunk(1, server) + chunk(0, client[hello:])
    per_record = chunk(0, client[:hello]) + b"".join(chunk(1, r) for r in records(server))
    rest = records(client[hello:])
    for k, r in enumerate(rest):
        # A hole of 5 bytes (ctl bit 7, bits 1-6 = 4) before the last two records.
        per_record += chunk(0x88 if k == len(rest) - 2 else 0, r)
    for sel, data in ((1, whole), (0x81, whole), (0, whole), (2, whole), (1, per_record)):
        name = "%s-%02x-%s" % (f["name"], sel, "whole" if data is whole else "records")
        head = struct.pack("<BH", sel, index)
        open(os.path.join(here, "corpus", "tls", name), "wb").write(head + data)
    # The key log from the input (sel 3).
    log = f["keylog"].encode()
    open(os.path.join(here, "corpus", "tls", f["name"] + "-03-log"), "wb").write(
        struct.pack("<BH", 3, len(log)) + log + whole)
