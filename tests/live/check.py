#!/usr/bin/env python3
"""Checks mailscope's live output against what the clients of clients.py sent.

    check.py json   OUT.json EXP.json... [--backend B] [--open PORT] [--events] [--only-port P]
        JSON Lines of `mailscope -i lo --format json [--events]`: for every client of the
        EXP files, a session with its client port whose commands (raw line, or verb where
        mailscope redacts a secret), reply codes and message sha256s are the client's; a
        summary with a capture field from backend B; --open PORT: that client's session was
        flushed by SIGINT in state "open"; --events: every session also came as
        session-start, exchange and session-end events (messages as message events);
        --only-port P: every session has server port P (a -f filter).
    check.py text   OUT.txt EXP.json...
        The text live view: every line of a session carries "[N] ", each client's command
        lines and message hashes appear on lines of one session number, and each session
        has an end line.
    check.py same   LIVE.json OFFLINE.json
        The same sessions (protocol, ports, verbs, message sha256s) in both.
Exit 1 with the reasons on stderr when something differs.
"""
import json
import re
import sys

SECRET = {"AUTH", "AUTHENTICATE", "PASS", "LOGIN", "APOP"}
problems = []


def bad(msg):
    problems.append(msg)


def rows(path):
    out = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError as e:
                bad(f"{path}:{n}: not JSON ({e}): {line[:120]!r}")
    return out


def expected(paths):
    return [c for p in paths for c in json.load(open(p))]


def same_command(live, sent):
    """mailscope redacts secrets: compare up to the redaction."""
    raw = live["raw"]
    if "<redacted>" in raw:
        return sent.startswith(raw.split("<redacted>")[0].rstrip())
    return raw == sent


def check_session(s, c):
    where = f"{c['name']} (client port {c['client_port']})"
    if s["protocol"] != c["protocol"]:
        bad(f"{where}: protocol {s['protocol']}, want {c['protocol']}")
    if s["server"]["port"] != c["server_port"]:
        bad(f"{where}: server port {s['server']['port']}, want {c['server_port']}")
    exchanges = [e for e in s["exchanges"] if e.get("command")]
    i = 0
    for raw, code in c["commands"]:
        while i < len(exchanges) and not same_command(exchanges[i]["command"], raw):
            i += 1
        if i == len(exchanges):
            bad(f"{where}: command {raw!r} not found in order; mailscope saw "
                f"{[e['command']['raw'] for e in exchanges]}")
            return
        codes = [r["code"] for r in exchanges[i]["replies"]]
        if code is not None and code not in codes:
            bad(f"{where}: {raw!r} got replies {codes}, the client saw {code}")
        i += 1
    got = sorted(m["sha256"] for m in s["messages"])
    if got != sorted(c["messages"]):
        bad(f"{where}: message sha256s {got}, the client's {sorted(c['messages'])}")
    if c["tls"] and (s.get("tls") or {}).get("mode") != "starttls":
        bad(f"{where}: STARTTLS not seen: tls={s.get('tls')}")


def check_json(path, exp_paths, backend=None, open_port=None, events=False, only_port=None):
    out = rows(path)
    sessions = [r for r in out if r.get("type") == "session"]
    summaries = [r for r in out if r.get("type") == "summary"]
    by_port = {}
    for s in sessions:
        by_port.setdefault(s["client"]["port"], []).append(s)
    for c in expected(exp_paths):
        found = by_port.get(c["client_port"], [])
        if len(found) != 1:
            bad(f"{c['name']}: {len(found)} sessions with client port {c['client_port']}")
            continue
        check_session(found[0], c)
        want_state = "open" if c["client_port"] == open_port else None
        if want_state and found[0]["state"] != want_state:
            bad(f"{c['name']}: state {found[0]['state']}, want {want_state} (SIGINT flush)")
        if not want_state and found[0]["state"] == "open":
            bad(f"{c['name']}: left open, but the client had closed it")
    if only_port is not None:
        other = [s["server"]["port"] for s in sessions if s["server"]["port"] != only_port]
        if other:
            bad(f"-f: sessions on server ports {other} got through a filter for {only_port}")
    if len(summaries) != 1 or out[-1].get("type") != "summary":
        bad(f"want one summary, last: {len(summaries)} summaries")
    else:
        cap = summaries[0].get("capture")
        if not isinstance(cap, dict):
            bad(f"summary has no capture field: {summaries[0]}")
        else:
            keys = ("interface", "backend", "packets_received", "packets_dropped_by_kernel",
                    "packets_dropped_by_mailscope")
            missing = [k for k in keys if k not in cap]
            if missing:
                bad(f"capture field lacks {missing}: {cap}")
            elif cap["interface"] != "lo" or (backend and cap["backend"] != backend):
                bad(f"capture field: {cap}, want interface lo, backend {backend}")
            elif not cap["packets_received"]:
                bad(f"capture field: no packets received: {cap}")
            elif cap["packets_dropped_by_kernel"] not in (0, None) or cap["packets_dropped_by_mailscope"]:
                bad(f"packets dropped on a quiet loopback: {cap}")
    if events:
        check_events(out, sessions)
    return sessions


def check_events(out, sessions):
    """Every session came as events first, in order: start, exchanges, end, then the object."""
    seen = {}
    for n, r in enumerate(out):
        t = r.get("type")
        if t in ("session-start", "exchange", "message", "session-end"):
            if not isinstance(r.get("session"), int):
                bad(f"event without a session number: {r}")
                continue
            seen.setdefault(r["session"], []).append((n, t, r))
    for s in sessions:
        ev = seen.get(s["id"], [])
        kinds = [t for _, t, _ in ev]
        where = f"session {s['id']} (client port {s['client']['port']})"
        if not kinds or kinds[0] != "session-start" or kinds.count("session-start") != 1:
            bad(f"{where}: events {kinds[:5]}... do not open with one session-start")
            continue
        if s["state"] != "open" and kinds[-1] != "session-end":
            bad(f"{where}: no session-end event last: {kinds[-3:]}")
        # {"type":"exchange","session":N,"index":I,"exchange":{the session's exchange}}
        ex = [r.get("exchange") or {} for _, t, r in ev if t == "exchange"]
        verbs_ev = [(e.get("command") or {}).get("verb") for e in ex]
        verbs = [(e.get("command") or {}).get("verb") for e in s["exchanges"]]
        if verbs_ev != verbs:
            bad(f"{where}: exchange events {verbs_ev} differ from the session's {verbs}")
        msgs = sorted(r.get("sha256") or (r.get("message") or {}).get("sha256")
                      for _, t, r in ev if t == "message")
        if msgs != sorted(m["sha256"] for m in s["messages"]):
            bad(f"{where}: message events {msgs} differ from the session's messages")
        obj = next(n for n, r in enumerate(out) if r.get("type") == "session" and r["id"] == s["id"])
        if ev[-1][0] > obj:
            bad(f"{where}: an event came after the session object")


def check_text(path, exp_paths):
    lines = open(path, encoding="utf-8").read().splitlines()
    numbered = {}
    for line in lines:
        m = re.match(r"^\[(\d+)\] (.*)$", line)
        if m:
            numbered.setdefault(int(m.group(1)), []).append(m.group(2))
        elif line.strip() and not line.startswith(("capture", "summary", "──", " ")):
            pass  # the closing summary is free text
    if not numbered:
        bad(f"{path}: no line carries a [N] session number")
    for c in expected(exp_paths):
        port = f":{c['client_port']} "
        owners = [n for n, ls in numbered.items() if any(port in ln for ln in ls[:3])]
        if len(owners) != 1:
            bad(f"{c['name']}: {len(owners)} sessions whose header names client port {c['client_port']}")
            continue
        body = "\n".join(numbered[owners[0]])
        for raw, _ in c["commands"]:
            verb = raw.split()[1] if c["protocol"] == "imap" else raw.split()[0]
            cut = 2 if c["protocol"] == "imap" else 1
            want = raw if verb.upper() not in SECRET else " ".join(raw.split()[:cut])
            if want not in body:
                bad(f"{c['name']}: [{owners[0]}] lines lack {want!r}")
        for h in c["messages"]:
            if h not in body:
                bad(f"{c['name']}: [{owners[0]}] lines lack message sha256 {h}")
        last = numbered[owners[0]][-1]
        if not re.search(r"complete|reset|open|cut|timed", last):
            bad(f"{c['name']}: [{owners[0]}] has no end line (last: {last!r})")


def summary_of(path):
    out = []
    for s in rows(path):
        if s.get("type") == "session":
            out.append((s["protocol"], s["client"]["port"], s["server"]["port"],
                        tuple((e.get("command") or {}).get("verb") for e in s["exchanges"]),
                        tuple(sorted(m["sha256"] for m in s["messages"]))))
    return sorted(out, key=repr)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    opts = {}
    for flag in ("--backend", "--open", "--only-port"):
        if flag in args:
            i = args.index(flag)
            opts[flag] = args[i + 1]
            del args[i:i + 2]
    events = "--events" in args
    args = [a for a in args if a != "--events"]
    if mode == "json":
        check_json(args[0], args[1:], opts.get("--backend"),
                   int(opts["--open"]) if "--open" in opts else None, events,
                   int(opts["--only-port"]) if "--only-port" in opts else None)
    elif mode == "text":
        check_text(args[0], args[1:])
    elif mode == "same":
        a, b = summary_of(args[0]), summary_of(args[1])
        if a != b or not a:
            bad(f"live and offline differ:\n live    {a}\n offline {b}")
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
