#!/usr/bin/env python3
"""Checks the TLS scenarios of tests/live/tls.py: mailscope's decryption against what each
client recorded, and tshark's decryption of the same captures against it too.

    tls_check.py MAILSCOPE DIR [--only mailscope|tshark]

DIR is what `tls.py run DIR` wrote; every scenario tls.py defines must be there, and between
them they must cover what issue 13 asks for (each TLS 1.3 suite, TLS 1.2 GCM/ChaCha20/CBC
with both MAC orders, STARTTLS for each protocol, implicit TLS on 465/993/995, resumption,
a KeyUpdate, missing keys, embedded secrets), as the clients report it (a server that
picked another suite fails here, not silently).

mailscope half, per capture: `MAILSCOPE CAPTURE --format json --tls-keylog NAME.keys` (no
flag for a pcapng that carries its secrets); per connection, the session with its client
port must have the client's command lines in order (a redacted secret matches up to
"<redacted>"), `"tls": true` on exactly those sent inside TLS, each message's sha256 (with
`"tls": true` when inside TLS), and a `tls` object with the client's version, cipher (IANA
name), SNI and `decrypted: true`, and no tls-* anomaly. A connection whose keys were taken
out of the key log: only the commands before TLS, nothing marked inside TLS, no message,
`decrypted: false`, version/cipher/SNI still (they travel in clear), an anomaly `tls-no-key`.

tshark half: `tshark -r CAPTURE -o tls.keylog_file:NAME.keys -Y 'smtp.req || pop.request ||
imap.request'`: per client port, the same command lines, each inside TLS (a frame with a tls
layer) or not as the client says; a connection without keys shows only those before TLS.

Prints what differs, per scenario and connection; exit 1 if anything does.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tls  # noqa: E402  (the scenario list)

REQUIRED = {
    "tls13:TLS_AES_128_GCM_SHA256", "tls13:TLS_AES_256_GCM_SHA384",
    "tls13:TLS_CHACHA20_POLY1305_SHA256", "tls12:gcm", "tls12:chacha20", "tls12:cbc",
    "tls12:encrypt-then-mac", "tls12:mac-then-encrypt", "starttls:smtp", "starttls:pop3",
    "starttls:imap", "implicit:465", "implicit:993", "implicit:995", "resumed", "keyupdate",
    "no-key", "embedded",
}


class Report:
    def __init__(self):
        self.problems = []

    def bad(self, where, msg):
        self.problems.append(f"{where}: {msg}")


def covered(doc):
    """What a scenario covers, from what its clients report (not from its label)."""
    out = set()
    for c in doc["connections"]:
        t = c["tls"]
        if t["version"] == "TLSv1.3":
            out.add(f"tls13:{t['cipher']}")
        elif t["version"] == "TLSv1.2":
            name = t["cipher"]
            if "_GCM_" in name:
                out.add("tls12:gcm")
            elif "CHACHA20" in name:
                out.add("tls12:chacha20")
            elif "_CBC_" in name:
                out.add("tls12:cbc")
                out.add("tls12:encrypt-then-mac" if t["encrypt_then_mac"]
                        else "tls12:mac-then-encrypt")
        if t["mode"] == "starttls":
            out.add(f"starttls:{c['protocol']}")
        else:
            out.add(f"implicit:{c['server_port']}")
        if t["resumed"]:
            out.add("resumed")
        if t["key_update"]:
            out.add("keyupdate")
        if not t["keys"]:
            out.add("no-key")
    if doc["keylog"] is None:
        out.add("embedded")
    return out


def same_line(got, sent):
    """mailscope redacts secrets: compare up to the redaction."""
    if "<redacted>" in got:
        return sent.startswith(got.split("<redacted>")[0].rstrip())
    return got == sent


def compare_commands(where, rep, got, want, who):
    """got, want: [(line, inside TLS)]. One message naming the first difference."""
    n = max(len(got), len(want))
    for i in range(n):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g is None or w is None or not same_line(g[0], w[0]) or g[1] != w[1]:
            def fmt(x):
                return "nothing" if x is None else f"{x[0]!r} ({'inside TLS' if x[1] else 'clear'})"
            rep.bad(where, f"{who} command #{i + 1} is {fmt(g)}, the client sent {fmt(w)}; "
                           f"{who} has {[('tls ' if t else '') + ln for ln, t in got]}, the client "
                           f"{[('tls ' if t else '') + ln for ln, t in want]}")
            return


def expected_commands(conn):
    cmds = [(c["line"], c["tls"]) for c in conn["commands"]]
    if not conn["tls"]["keys"]:
        cmds = [c for c in cmds if not c[1]]
    return cmds


def version(v):
    return re.sub(r"^TLS\s*v?", "", str(v)) if v is not None else None


# ---- mailscope ----

def check_mailscope(binary, d, doc, rep):
    name = doc["scenario"]
    cap = os.path.join(d, doc["capture"])
    cmd = [binary, cap, "--format", "json"]
    if doc["keylog"]:
        cmd += ["--tls-keylog", os.path.join(d, doc["keylog"])]
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    if p.returncode != 0:
        err = [ln for ln in p.stderr.decode(errors="replace").splitlines() if ln.strip()]
        said = " … ".join(dict.fromkeys(err[:1] + err[-1:])) or "(no stderr)"
        rep.bad(name, f"mailscope exited {p.returncode}: {said} "
                      f"({' '.join(os.path.basename(c) for c in cmd)})")
        return
    sessions = []
    for line in p.stdout.decode(errors="replace").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("type") == "session":
                sessions.append(row)
    for conn in doc["connections"]:
        check_session(name, conn, [s for s in sessions
                                   if s["client"]["port"] == conn["client_port"]], rep)


def check_session(name, conn, found, rep):
    t = conn["tls"]
    where = f"{name}: {conn['client']} :{conn['client_port']}"
    if len(found) != 1:
        rep.bad(where, f"mailscope has {len(found)} sessions with this client port")
        return
    s = found[0]
    if s["protocol"] != conn["protocol"]:
        rep.bad(where, f"protocol {s['protocol']!r}, want {conn['protocol']!r}")
    ex = [e for e in s["exchanges"] if e.get("command")]
    bad_flag = [e["command"]["raw"] for e in ex if e.get("tls") not in (True, False, None)]
    if bad_flag:
        rep.bad(where, f"exchanges with a \"tls\" that is not a boolean: {bad_flag}")
    got = [(e["command"]["raw"], e.get("tls") is True) for e in ex]
    compare_commands(where, rep, got, expected_commands(conn), "mailscope")
    if not t["keys"] and any(e.get("tls") is True for e in s["exchanges"]):
        rep.bad(where, "an exchange is marked inside TLS although the key log has no key for it")
    want_msgs = sorted(conn["messages"]) if t["keys"] else []
    got_msgs = sorted(m["sha256"] for m in s["messages"])
    if got_msgs != want_msgs:
        rep.bad(where, f"message sha256s {got_msgs}, the client's {want_msgs}")
    clear_msgs = [m["sha256"][:12] for m in s["messages"] if m.get("tls") is not True]
    if clear_msgs:
        rep.bad(where, f"messages from inside TLS without \"tls\": true: {clear_msgs}")
    st = s.get("tls") or {}
    for key in ("version", "cipher", "sni", "mode"):
        got, want = st.get(key), t[key]
        if key == "version":
            got, want = version(got), version(want)
        if got != want:
            rep.bad(where, f"tls.{key} is {st.get(key)!r}, the client's is {t[key]!r}")
    if st.get("decrypted") is not t["keys"]:
        rep.bad(where, f"tls.decrypted is {st.get('decrypted')!r}, want {t['keys']} "
                       f"({'keys in the key log' if t['keys'] else 'its keys were taken out'})")
    names = [a.get("name") for a in s.get("anomalies", [])]
    if t["keys"]:
        tls_anomalies = [a for a in s.get("anomalies", []) if str(a.get("name")).startswith("tls-")]
        if tls_anomalies:
            rep.bad(where, f"TLS anomalies on a session with keys: {tls_anomalies}")
    elif "tls-no-key" not in names:
        rep.bad(where, f"no tls-no-key anomaly (anomalies: {names})")


# ---- tshark ----

def tshark_commands(d, doc):
    cap = os.path.join(d, doc["capture"])
    cmd = ["tshark", "-r", cap, "-Y", "smtp.req || pop.request || imap.request", "-T", "json",
           "-e", "tcp.srcport", "-e", "frame.protocols", "-e", "smtp.command_line",
           "-e", "pop.request.command", "-e", "pop.request.parameter", "-e", "imap.request"]
    if doc["keylog"]:
        cmd[3:3] = ["-o", f"tls.keylog_file:{os.path.join(d, doc['keylog'])}"]
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"tshark exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    by_port = {}
    for frame in json.loads(p.stdout or b"[]"):
        f = frame["_source"]["layers"]
        port = int(f["tcp.srcport"][0])
        inside = "tls" in f["frame.protocols"][0].split(":")
        lines = [re.sub(r"(\\r\\n|\r\n)$", "", ln) for ln in f.get("smtp.command_line", [])]
        pop = f.get("pop.request.command", [])
        params = f.get("pop.request.parameter", [])
        if len(pop) == 1:
            lines.append(" ".join([pop[0]] + params[:1]))
        elif pop:
            raise RuntimeError(f"{cap}: a frame with {len(pop)} POP3 commands: {pop} {params}")
        lines += f.get("imap.request", [])
        by_port.setdefault(port, []).extend((ln, inside) for ln in lines)
    return by_port


def check_tshark(d, doc, rep):
    name = doc["scenario"]
    try:
        by_port = tshark_commands(d, doc)
    except RuntimeError as e:
        rep.bad(name, str(e))
        return
    ports = {c["client_port"] for c in doc["connections"]}
    for conn in doc["connections"]:
        where = f"{name}: {conn['client']} :{conn['client_port']}"
        compare_commands(where, rep, by_port.get(conn["client_port"], []),
                         expected_commands(conn), "tshark")
    extra = sorted(set(by_port) - ports)
    if extra:
        rep.bad(name, f"tshark shows commands from client ports {extra} the clients do not know")


def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2 or only not in (None, "mailscope", "tshark"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    binary, d = args
    halves = {"mailscope": Report(), "tshark": Report()}
    setup = Report()
    docs = []
    for sc in tls.SCENARIOS:
        path = os.path.join(d, sc.name + ".truth.json")
        if not os.path.exists(path):
            setup.bad(sc.name, f"no {path}: did `tls.py run {d}` run every scenario?")
            continue
        doc = json.load(open(path))
        docs.append(doc)
        for f in filter(None, (doc["capture"], doc["keylog"])):
            if not os.path.exists(os.path.join(d, f)):
                setup.bad(sc.name, f"{f} is missing")
        got = covered(doc)
        missing = set(sc.covers) & REQUIRED - got
        if missing:
            report = [(c["tls"]["version"], c["tls"]["cipher"]) for c in doc["connections"]]
            setup.bad(sc.name, f"meant to cover {sorted(missing)}, but the clients report {report}")
    missing = REQUIRED - set().union(*(covered(doc) for doc in docs)) if docs else REQUIRED
    if missing:
        setup.bad("coverage", f"no scenario covers {sorted(missing)}")
    for doc in docs:
        if only in (None, "tshark"):
            check_tshark(d, doc, halves["tshark"])
        if only in (None, "mailscope"):
            check_mailscope(binary, d, doc, halves["mailscope"])
    fail = bool(setup.problems)
    for p in setup.problems:
        print(f"FAIL: tls setup: {p}", file=sys.stderr)
    for half, rep in halves.items():
        if only not in (None, half):
            continue
        failed = {p.split(":")[0] for p in rep.problems}
        for p in rep.problems:
            print(f"FAIL: tls {half}: {p}", file=sys.stderr)
        print(f"tls: {half} agrees with the clients on {len(docs) - len(failed)}/{len(docs)} "
              f"scenarios ({sum(len(doc['connections']) for doc in docs)} connections)")
        fail |= bool(rep.problems)
    sys.exit(1 if fail else 0)


if __name__ == "__main__":
    main()
