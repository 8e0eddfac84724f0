#!/usr/bin/env python3
"""nDPI's own expectations for its mail captures, checked against mailscope's JSON (issue 9).

usage: ndpi.py MAILSCOPE CACHE_DIR

nDPI ships, with each test capture, the output its reader (ndpiReader) must print for it
(tests/result/NAME.pcap.out). This script takes nDPI 4.2's mail captures and expected outputs
from Debian's source tarball (fetched into CACHE_DIR once, its SHA-256 pinned: a download
failure or a different file is an error, never a skip), reads every fact each flow line
states with one line-format parser (not per file), and requires each to hold in
`mailscope FILE --format json --show-secrets` (and `mailscope flows FILE --json` for packet
counts), unless mailscope deliberately differs; each such difference is written out below
with its reason. A field that is not compared says why. A field or line this parser does not
know is an error, so a fact cannot pass unread.

Prints one line per fact and a summary; exits 1 on any mismatch or error.
Python 3 standard library only. The captures are LGPL-3.0 (nDPI's COPYING); they are not
vendored into this repository, only fetched.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

URL = "http://deb.debian.org/debian/pool/main/n/ndpi/ndpi_4.2.orig.tar.gz"
SHA256 = "e54ce8fe13adc5d747be7553513657fae78f796e0bd459e122c280cc06ce4daf"
TOP = "nDPI-4.2"
# nDPI's captures of SMTP, POP3 and IMAP sessions (the tarball's other captures carry only
# port scans or single packets on mail ports).
CAPTURES = ["imap-starttls", "imap", "imaps", "pop3", "smtp-starttls", "smtp"]

# The port each protocol is served on, in clear or with STARTTLS, and with implicit TLS.
STANDARD_PORTS = {"smtp": {25, 587, 465}, "pop3": {110, 995}, "imap": {143, 993}}
# nDPI's master protocol names: the mail protocol, and whether nDPI says it ran over TLS.
MASTER = {
    "SMTP": ("smtp", False), "SMTPS": ("smtp", True),
    "POP3": ("pop3", False), "POPS": ("pop3", True),
    "IMAP": ("imap", False), "IMAPS": ("imap", True),
}
TLS_VERSIONS = {"SSLv3": "SSL 3.0", "TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1",
                "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}

# Fields nDPI states that mailscope has no counterpart for, and why.
NOT_COMPARED = {
    "Confidence": "how nDPI reached its verdict (DPI, port, IP); mailscope recognises by port and content and says which in `flows --json` recognised_by",
    "cat": "nDPI's traffic category",
    "Goodput ratio": "frame-size statistics; mailscope reports stream bytes, not per-packet sizes",
    "bytes ratio": "frame-size statistics; mailscope reports stream bytes, not per-packet sizes",
    "IAT c2s/s2c min/avg/max/stddev": "inter-arrival time statistics; mailscope does not report them",
    "Pkt Len c2s/s2c min/avg/max/stddev": "frame-size statistics; mailscope reports stream bytes, not per-packet sizes",
    "Plen Bins": "payload-length histogram; mailscope does not report one",
    "Risk Score": "nDPI's own scoring of its risks",
    "Certificate SHA-1": "mailscope gives each certificate's SHA-256 (certificates[].sha256), not SHA-1",
}
BROWSERS = {"Firefox", "Chrome", "Safari"}


class Report:
    def __init__(self):
        self.ok = self.deliberate = self.skipped = 0
        self.bad = []

    def fact(self, where, what, holds, detail, deliberate=None):
        if holds:
            if deliberate:
                self.deliberate += 1
                print(f"ok (deliberate difference) {where}: {what}: {detail} [{deliberate}]")
            else:
                self.ok += 1
                print(f"ok       {where}: {what}: {detail}")
        else:
            self.bad.append(f"{where}: {what}")
            print(f"MISMATCH {where}: {what}: {detail}")

    def not_compared(self, where, what, why):
        self.skipped += 1
        print(f"not compared: {where}: {what}: {why}")

    def error(self, where, what):
        self.bad.append(f"{where}: {what}")
        print(f"ERROR    {where}: {what}")


def die(msg):
    print(f"ndpi.py: {msg}", file=sys.stderr)
    sys.exit(1)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(cache):
    """The tarball in CACHE, downloaded if absent; its SHA-256 must be the pinned one."""
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, os.path.basename(URL))
    if not os.path.exists(path):
        part = path + ".part"
        print(f"fetching {URL}")
        try:
            with urllib.request.urlopen(URL, timeout=120) as r, open(part, "wb") as f:
                while True:
                    block = r.read(1 << 20)
                    if not block:
                        break
                    f.write(block)
        except OSError as e:
            die(f"cannot download {URL}: {e}")
        got = sha256_of(part)
        if got != SHA256:
            os.remove(part)
            die(f"{URL}: SHA-256 {got}, expected {SHA256}")
        os.replace(part, path)
    got = sha256_of(path)
    if got != SHA256:
        die(f"{path}: SHA-256 {got}, expected {SHA256} (delete it to fetch it again)")
    return path


def extract(tarball, into):
    """Each capture and its expected output, written under names of our own (no path from
    the archive is used)."""
    out = []
    with tarfile.open(tarball, "r:gz") as tar:
        for name in CAPTURES:
            files = {}
            for kind, member in (("pcap", f"{TOP}/tests/pcap/{name}.pcap"),
                                 ("out", f"{TOP}/tests/result/{name}.pcap.out")):
                try:
                    f = tar.extractfile(member)
                except KeyError:
                    f = None
                if f is None:
                    die(f"{tarball}: no {member}")
                files[kind] = f.read()
            pcap = os.path.join(into, f"{name}.pcap")
            with open(pcap, "wb") as f:
                f.write(files["pcap"])
            out.append((name, pcap, files["out"].decode("utf-8")))
    return out


# ---- the .out line format -------------------------------------------------------------------

FLOW = re.compile(r"^\t(\d+)\t(TCP|UDP) (\S+) (<->|->) (\S+) ((?:\[[^\[\]]*\])*)$")
FIELD = re.compile(r"\[([^\[\]]*)\]")
STATS = re.compile(r"^(\S+)\t+(\d+)\t+(\d+)\t+(\d+)$")
JA3_HOST = re.compile(r"^\t(\d+)\t\s*(\S+)\s+(\d+)\s*$")
COUNTS = re.compile(r"^(\d+) pkts/(\d+) bytes (<->|->) (\d+) pkts/(\d+) bytes$")


def endpoint(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def field(text):
    """One bracketed field as (key, value)."""
    if text.startswith("proto: "):
        return "proto", text[len("proto: "):]
    m = COUNTS.match(text)
    if m:
        return "counts", m
    if re.fullmatch(r"[\d.]+ sec|< 1 sec", text):
        return "duration", text
    if text in TLS_VERSIONS:
        return "tls version", text
    if text in ("Encrypted", "ClearText"):
        return "encryption", text
    if text in BROWSERS:
        return "browser", text
    m = re.fullmatch(r"PLAIN TEXT \((.*)\)", text)
    if m:
        return "PLAIN TEXT", m.group(1)
    if ": " in text:
        return tuple(text.split(": ", 1))
    return "?", text


def parse(text):
    """The flows, the per-protocol totals and the JA3 host table of one .out file."""
    flows, stats, ja3_hosts, unknown = [], [], [], []
    section = None
    for line in text.splitlines():
        m = FLOW.match(line)
        if m:
            flows.append({
                "n": int(m.group(1)), "l4": m.group(2), "a": endpoint(m.group(3)),
                "b": endpoint(m.group(5)),
                "fields": [field(f) for f in FIELD.findall(m.group(6))],
            })
            continue
        if not line.strip():
            continue
        if line.startswith("JA3 Host Stats"):
            section = "ja3"
            continue
        if section == "ja3":
            if re.match(r"^\t\t IP Address\s+\t # JA3C\s*$", line):
                continue
            m = JA3_HOST.match(line)
            if m:
                ja3_hosts.append((m.group(2), int(m.group(3))))
                continue
        m = STATS.match(line)
        if m:
            stats.append((m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))))
            continue
        if re.match(r"^(Guessed flow protos|DPI Packets \((TCP|UDP|other)\)|Confidence [\w ]+?)\s*:", line):
            unknown.append(("summary", " ".join(line.split())))
            continue
        unknown.append(("?", line))
    return flows, stats, ja3_hosts, unknown


# ---- mailscope ------------------------------------------------------------------------------

def run_json(args):
    p = subprocess.run(args, capture_output=True, timeout=300)
    if p.returncode != 0:
        die(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.decode(errors='replace')}")
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]


def session_text(s):
    """Every line of the transcript, as sent."""
    lines = []
    for e in s.get("exchanges", []):
        if e.get("command"):
            lines.append(e["command"].get("raw") or "")
        lines += e.get("client_lines") or []
        for r in e.get("replies", []):
            lines += r.get("lines", [])
    return "\n".join(lines)


def in_order(words, text):
    at = 0
    for w in words:
        i = text.find(w, at)
        if i < 0:
            return False
        at = i + len(w)
    return True


def greeting_host(s):
    for e in s.get("exchanges", []):
        for r in e.get("replies", []):
            if r.get("code") == "220" and r.get("lines"):
                words = r["lines"][0].split()
                return words[1] if len(words) > 1 else None
        return None
    return None


def check_flow(rep, where, flow, sessions, flows):
    a, b = flow["a"], flow["b"]

    def ep(x):
        return (x["ip"], x["port"])

    s = next((s for s in sessions if {ep(s["client"]), ep(s["server"])} == {a, b}), None)
    fl = next((f for f in flows if {ep(f["client"]), ep(f["server"])} == {a, b}), None)
    rep.fact(where, f"flow {a[0]}:{a[1]} {b[0]}:{b[1]}", s is not None and fl is not None,
             f"mailscope session {'found' if s else 'missing'}, flow {'found' if fl else 'missing'}")
    if s is None or fl is None:
        return
    a_is_client = ep(s["client"]) == a
    tls = s.get("tls")
    leaf = (tls or {}).get("certificates", [{}])[0] if tls and tls.get("certificates") else {}
    for key, value in flow["fields"]:
        if key == "proto":
            master, _, app = value.split("/", 1)[1].partition(".")
            if master in MASTER:
                proto, over_tls = MASTER[master]
                if over_tls and tls and tls.get("mode") == "starttls":
                    # nDPI names an IMAP session that upgraded with STARTTLS "IMAPS";
                    # mailscope keeps the protocol and says how TLS began.
                    rep.fact(where, f"proto {master}", s["protocol"] == proto,
                             f"protocol {s['protocol']}, tls.mode starttls",
                             "nDPI says IMAPS for STARTTLS; mailscope: imap + tls.mode starttls")
                elif not over_tls and tls and tls.get("mode") == "starttls":
                    # nDPI 4.2's SMTP dissector stops before STARTTLS and keeps "SMTP".
                    rep.fact(where, f"proto {master}", s["protocol"] == proto,
                             f"protocol {s['protocol']}, tls.mode starttls",
                             "mailscope also reports the STARTTLS nDPI did not follow")
                else:
                    rep.fact(where, f"proto {master}",
                             s["protocol"] == proto and bool(tls) == over_tls,
                             f"protocol {s['protocol']}, tls {tls and tls.get('mode')}")
            elif master == "TLS":
                # nDPI names no protocol inside TLS; mailscope names it by the server port.
                rep.fact(where, "proto TLS", bool(tls) and tls.get("mode") == "implicit",
                         f"tls.mode {tls and tls.get('mode')}, protocol {s['protocol']} (by port)")
            else:
                rep.error(where, f"unknown nDPI protocol {master}")
            if app:
                rep.not_compared(where, f"application {app}",
                                 "nDPI's host-name/IP list of organisations")
        elif key == "encryption":
            if value == "Encrypted":
                rep.fact(where, "Encrypted", bool(tls), f"tls.mode {tls and tls.get('mode')}")
            elif tls and tls.get("mode") == "starttls":
                rep.fact(where, "ClearText", True, "tls.mode starttls",
                         "nDPI 4.2 calls SMTP clear text after STARTTLS; mailscope saw the TLS")
            else:
                rep.fact(where, "ClearText", not tls, f"tls {tls and tls.get('mode')}")
        elif key == "counts":
            m = value
            pa, ba, pb, bb = int(m.group(1)), int(m.group(2)), int(m.group(4)), int(m.group(5))
            if not a_is_client:
                pa, ba, pb, bb = pb, bb, pa, ba
            got = fl["packets"]
            rep.fact(where, "packets client/server", (got["client"], got["server"]) == (pa, pb),
                     f"nDPI {pa}/{pb}, mailscope flows {got['client']}/{got['server']}")
            # nDPI counts whole frames; mailscope counts TCP payload. With at least 20 bytes
            # of IPv4 and 20 of TCP header per packet, the payload fits in what is left.
            pay = fl["bytes"]
            rep.fact(where, "bytes client/server (payload within frames)",
                     pay["client"] <= ba - 40 * pa and pay["server"] <= bb - 40 * pb,
                     f"nDPI frames {ba}/{bb}, mailscope payload {pay['client']}/{pay['server']}")
        elif key == "duration":
            d = s["duration"]
            if value == "< 1 sec":  # nDPI prints this when the flow lasted under 1 ms
                rep.fact(where, "duration < 1 ms", d < 0.001, f"mailscope {d}")
            else:
                want = float(value.split()[0])
                # nDPI: whole milliseconds, then %.2f.
                rep.fact(where, f"duration {value}", abs(d - want) <= 0.006, f"mailscope {d}")
        elif key == "User":
            users = [x.get("username") for x in s.get("auth", [])]
            rep.fact(where, f"User {value}", value in users, f"auth usernames {users}")
        elif key == "Pwd":
            pwds = [x.get("password") for x in s.get("auth", [])]
            rep.fact(where, "Pwd (with --show-secrets)", value in pwds,
                     "matches auth[].password" if value in pwds else f"auth passwords {pwds}")
        elif key == "Hostname/SNI":
            if tls and tls.get("sni"):
                rep.fact(where, f"SNI {value}", tls["sni"] == value, f"tls.sni {tls['sni']}")
            elif s["protocol"] == "smtp":
                # nDPI's SMTP "Hostname" is the host the server names in its 220 greeting.
                host = greeting_host(s)
                rep.fact(where, f"Hostname {value}", host == value,
                         f"first word after 220 in mailscope's greeting reply: {host}",
                         "nDPI's SMTP Hostname is the server's greeting host")
            else:
                rep.fact(where, f"Hostname/SNI {value}", False, "mailscope has no SNI")
        elif key == "tls version":
            got = tls and tls.get("version")
            rep.fact(where, value, got == TLS_VERSIONS[value], f"tls.version {got}")
        elif key in ("JA3C", "JA3S"):
            want = value.split()[0]  # a weak cipher adds a note after the hash
            got = tls and tls.get("ja3" if key == "JA3C" else "ja3s")
            rep.fact(where, f"{key} {want}", got == want,
                     f"tls.{'ja3' if key == 'JA3C' else 'ja3s'} {got}")
        elif key == "ServerNames":
            want = value.split(",")
            got = leaf.get("dns_names", [])
            rep.fact(where, f"ServerNames {value}", got == want, f"leaf dns_names {got}")
        elif key in ("Issuer", "Subject"):
            got = leaf.get(key.lower())
            rep.fact(where, f"{key} {value}", got == value, f"leaf {key.lower()} {got}")
        elif key == "Validity":
            nb, _, na = value.partition(" - ")
            want = (nb.replace(" ", "T") + "Z", na.replace(" ", "T") + "Z")
            got = (leaf.get("not_before"), leaf.get("not_after"))
            rep.fact(where, f"Validity {value}", got == want, f"leaf {got[0]} to {got[1]}")
        elif key == "Cipher":
            got = tls and tls.get("cipher")
            rep.fact(where, f"Cipher {value}", got == value, f"tls.cipher {got}")
        elif key == "PLAIN TEXT":
            # nDPI shows runs of printable text from the first payload (its own heuristic
            # drops some characters): every word must appear, in order, in the transcript.
            words = re.findall(r"[A-Za-z0-9]+", value)
            rep.fact(where, f"PLAIN TEXT ({value})", in_order(words, session_text(s)),
                     "its words appear in order in the transcript's lines")
        elif key == "Risk":
            for risk in (r.strip() for r in value.split("**") if r.strip()):
                check_risk(rep, where, risk, s)
        elif key == "browser":
            rep.not_compared(where, value, "nDPI's guess of the client from its ClientHello")
        elif key in NOT_COMPARED:
            rep.not_compared(where, key, NOT_COMPARED[key])
        else:
            rep.error(where, f"field this parser does not know: [{key}: {value}]")


def check_risk(rep, where, risk, s):
    tls = s.get("tls")
    if risk == "Known Protocol on Non Standard Port":
        # nDPI's IMAPS verdict on port 143 makes it "non-standard"; STARTTLS on 143 is the
        # standard way (RFC 3501, RFC 8314), and mailscope reports it as such.
        std = s["server"]["port"] in STANDARD_PORTS.get(s["protocol"], set())
        rep.fact(where, f"Risk: {risk}", std and bool(tls) and tls.get("mode") == "starttls",
                 f"{s['protocol']} on port {s['server']['port']} with STARTTLS",
                 "STARTTLS on the protocol's own port is standard")
    elif risk == "Unsafe Protocol":
        rep.fact(where, f"Risk: {risk}", not tls, "no TLS in the session")
    elif risk == "Clear-Text Credentials":
        clear = [a for a in s.get("auth", []) if a.get("password")] if not tls else []
        rep.fact(where, f"Risk: {risk}", bool(clear),
                 f"{len(clear)} auth with a password, no TLS")
    elif risk == "TLS (probably) Not Carrying HTTPS":
        rep.fact(where, f"Risk: {risk}", bool(tls) and s["protocol"] in STANDARD_PORTS,
                 f"TLS carrying {s['protocol']}")
    else:
        rep.error(where, f"risk this parser does not know: {risk}")


def check_capture(rep, binary, name, pcap, out):
    flows_out, stats, ja3_hosts, other = parse(out)
    records = run_json([binary, pcap, "--format", "json", "--show-secrets", "--no-progress"])
    sessions = [r for r in records if r.get("type") == "session"]
    summary = next((r for r in records if r.get("type") == "summary"), {})
    flows = [r for r in run_json([binary, "flows", pcap, "--json", "--no-progress"])
             if r.get("type") == "flow"]
    where = f"{name}.pcap"
    for kind, line in other:
        if kind == "summary":
            rep.not_compared(where, line, "nDPI's own detection counters")
        else:
            rep.error(where, f"line this parser does not know: {line!r}")
    if not flows_out:
        rep.error(where, "no flow line in the expected output")
    for flow in flows_out:
        check_flow(rep, f"{where} flow {flow['n']}", flow, sessions, flows)
    if stats:
        packets = sum(p for _, p, _, _ in stats)
        n = sum(f for _, _, _, f in stats)
        names = "+".join(x for x, _, _, _ in stats)
        rep.fact(where, f"totals {names}: {n} flows", len(sessions) == n,
                 f"mailscope {len(sessions)} sessions")
        rep.fact(where, f"totals {names}: {packets} packets", summary.get("tcp_segments") == packets,
                 f"mailscope tcp_segments {summary.get('tcp_segments')}")
        rep.not_compared(where, "totals' bytes", "whole frames; mailscope counts stream bytes")
    for ip, count in ja3_hosts:
        got = {(s.get("tls") or {}).get("ja3") for s in sessions if s["client"]["ip"] == ip} - {None}
        rep.fact(where, f"JA3 host {ip}: {count} JA3C", len(got) == count,
                 f"mailscope: {len(got)} distinct tls.ja3")


def main():
    if len(sys.argv) != 3:
        die("usage: ndpi.py MAILSCOPE CACHE_DIR")
    binary, cache = sys.argv[1], sys.argv[2]
    tarball = fetch(cache)
    rep = Report()
    with tempfile.TemporaryDirectory(prefix="mailscope-ndpi-") as tmp:
        for name, pcap, out in extract(tarball, tmp):
            check_capture(rep, binary, name, pcap, out)
    total = rep.ok + rep.deliberate + len(rep.bad)
    print(f"nDPI 4.2 expected outputs ({len(CAPTURES)} captures): {total} facts checked, "
          f"{rep.ok + rep.deliberate} hold ({rep.deliberate} as deliberate differences), "
          f"{len(rep.bad)} mismatches, {rep.skipped} not compared")
    for b in rep.bad:
        print(f"  failed: {b}")
    sys.exit(1 if rep.bad else 0)


if __name__ == "__main__":
    main()
