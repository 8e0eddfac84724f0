#!/usr/bin/env bash
# Root-only suite: real Postfix/Dovecot on loopback, live captures, mailscope against tcpflow.
# Run from .ci/run (CI is root); it fails rather than skips when it cannot run.
#  1. tcpdump writes a pcap while swaks, poplib and imaplib talk to the real servers at once;
#     `mailscope flows --write-streams` must give files byte-identical to tcpflow's.
#  2. `tcpdump -w - | mailscope flows -` reads a live capture from standard input.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) == 0 ]] || { echo "tests/live/run.sh needs root" >&2; exit 1; }
# shellcheck source=samples/mailservers.sh
source samples/mailservers.sh
ms_install
cargo build --release --quiet --bin mailscope
bin=$PWD/target/release/mailscope
work=$(mktemp -d)
trap 'ms_stop; rm -rf "$work"' EXIT
ms_start
fail=0

clients() {
    swaks --silent 1 --server 127.0.0.1 --port 25 --to alice@example.test \
        --attach-type application/octet-stream --attach-name blob.bin \
        --attach @/usr/bin/tcpdump --header 'Subject: live test' &
    local a=$!
    swaks --silent 1 --server 127.0.0.1 --port 587 --auth PLAIN --auth-user bob \
        --auth-password 's3cr3t pass"word' --from bob@example.test --to alice@example.test &
    local b=$!
    # Only these two: tcpdump is a background job of this shell too.
    wait "$a" "$b"
    ms_wait_mail alice 2
    python3 - <<'PY'
import imaplib, poplib
p = poplib.POP3("127.0.0.1", 110); p.user("alice"); p.pass_("Wonderland-2024")
for n in range(1, p.stat()[0] + 1):
    p.retr(n)
p.quit()
m = imaplib.IMAP4("127.0.0.1", 143); m.login("alice", "Wonderland-2024"); m.select("INBOX")
m.fetch("1:*", "(BODY.PEEK[])"); m.logout()
PY
}

echo "live: capture of concurrent SMTP, submission, POP3 and IMAP sessions"
ms_capture "$work/live.pcap" 'tcp port 25 or tcp port 587 or tcp port 110 or tcp port 143' clients
"$bin" flows "$work/live.pcap" --json --write-streams "$work/ours" >"$work/flows.json"
"$bin" flows "$work/live.pcap" --no-progress
mkdir "$work/tcpflow" && (cd "$work/tcpflow" && tcpflow -r "$work/live.pcap" >/dev/null 2>&1)
n=$(python3 -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get('type')=='flow'))" "$work/flows.json")
echo "live: mailscope listed $n connections"
((n >= 4)) || { echo "FAIL: expected at least 4 connections" >&2; fail=1; }
compared=0
for f in "$work"/tcpflow/*-*; do
    name=$(basename "$f")
    if cmp -s "$f" "$work/ours/$name"; then
        compared=$((compared + 1))
    else
        echo "FAIL: $name differs from tcpflow" >&2
        fail=1
    fi
done
echo "live: $compared stream files byte-identical to tcpflow's"
((compared >= 8)) || { echo "FAIL: too few stream files compared" >&2; fail=1; }

echo "live: the main job on the same capture"
"$bin" "$work/live.pcap" --format json >"$work/sessions.json"
"$bin" "$work/live.pcap" | head -40
if python3 - "$work/sessions.json" "$(sha256sum /usr/bin/tcpdump | cut -d' ' -f1)" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
smtp = [s for s in rows if s.get("type") == "session" and s["protocol"] == "smtp"]
parts = [p for s in smtp for m in s["messages"] for p in m["parts"]]
ok = any(p["sha256"] == sys.argv[2] and p.get("filename") == "blob.bin" for p in parts)
auth = [a for s in smtp for a in s["auth"]]
ok &= any(a["username"] == "bob" and a["password"] == "<redacted>" and a["success"] for a in auth)
ok &= all(s["exchanges"][-1]["command"]["verb"] == "QUIT" for s in smtp if s["state"] == "complete" and s["handshake"])
# The same attachment, retrieved by POP3 RETR and by IMAP FETCH.
for origin in ("pop3-retr", "imap-fetch"):
    got = [p for s in rows if s.get("type") == "session" for m in s["messages"]
           if m["origin"] == origin for p in m["parts"] if p["sha256"] == sys.argv[2]]
    if not got:
        print(f"no {origin} message carries the attachment", file=sys.stderr)
        ok = False
logins = [a for s in rows if s.get("type") == "session" and s["protocol"] in ("pop3", "imap") for a in s["auth"]]
ok &= len(logins) >= 2 and all(a["username"] == "alice" and a["password"] == "<redacted>" and a["success"] for a in logins)
if not (ok and len(smtp) >= 2):
    print("parts:", [(p.get("filename"), p["sha256"][:12]) for p in parts], "want", sys.argv[2][:12], file=sys.stderr)
    print("auth:", auth, file=sys.stderr)
    sys.exit(1)
PY
then echo "live: attachment hash (SMTP DATA, POP3 RETR, IMAP FETCH), logins and QUIT decoded from real Postfix/Dovecot traffic"
else echo "FAIL: main job on the live capture" >&2; fail=1; fi

echo "live: tcpdump -w - | mailscope flows -"
(tcpdump -i lo -U -s 0 -w - 'tcp port 25' 2>/dev/null | "$bin" flows - --json >"$work/stdin.json") &
reader=$!
sleep 1
swaks --silent 1 --server 127.0.0.1 --port 25 --to alice@example.test --header 'Subject: via stdin'
sleep 1
pkill -INT -x tcpdump || true
wait "$reader" || true
if python3 - "$work/stdin.json" <<'PY'
import json, sys
flows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
smtp = [f for f in flows if f.get("type") == "flow" and f["protocol"] == "smtp" and f["state"] == "complete"]
sys.exit(0 if smtp and smtp[0]["bytes"]["client"] > 100 and smtp[0]["gaps"]["client"] == 0 else 1)
PY
then echo "live: stdin capture decoded"; else echo "FAIL: stdin capture" >&2; cat "$work/stdin.json" >&2; fail=1; fi
exit $fail
