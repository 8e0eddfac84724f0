#!/usr/bin/env bash
# Root-only suite: real Postfix/Dovecot on loopback, live captures, mailscope against tcpflow.
# Run from .ci/run (CI is root); it fails rather than skips when it cannot run.
#  1. tcpdump writes a pcap while swaks, poplib and imaplib talk to the real servers at once;
#     `mailscope flows --write-streams` must give files byte-identical to tcpflow's.
#  2. `tcpdump -w - | mailscope flows -` reads a live capture from standard input.
#  3. `mailscope -i lo` itself, with each backend (the default pnet build, and a second build
#     with `--features libpcap` in target/libpcap): swaks (AUTH PLAIN on 587, STARTTLS on 25),
#     curl (smtp, pop3, imap) and Python smtplib/poplib/imaplib run while it captures
#     (tests/live/clients.py records what each sent); tests/live/check.py compares the JSON
#     and text live output with it (commands, reply codes, message sha256s), checks that a
#     held-open session's EHLO is in the output before its client goes on (streaming), that
#     SIGINT flushes it as "open" with a summary and exit 0, that the -w file analysed
#     offline gives the same sessions, that -f filters (libpcap), and the error messages.
#  4. TLS (issue 13): tests/live/tls.py drives smtplib/poplib/imaplib, openssl s_client and
#     curl over STARTTLS and implicit TLS with key logs, one tcpdump capture per scenario;
#     tests/live/tls_check.py compares `mailscope --tls-keylog` (and tshark's decryption)
#     with what each client sent inside TLS: commands, "tls": true, message sha256s, the
#     session's tls object, a session without keys, a pcapng with embedded secrets.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) == 0 ]] || { echo "tests/live/run.sh needs root" >&2; exit 1; }
# shellcheck source=samples/mailservers.sh
source samples/mailservers.sh
ms_install
cargo build --release --quiet --bin mailscope
bin=$PWD/target/release/mailscope
work=$(mktemp -d)
chmod 711 "$work" # the unprivileged run needs to reach its copy of the binary
trap 'ms_stop; rm -rf "$work"; [[ -z ${ns:-} ]] || ip netns del "$ns" 2>/dev/null' EXIT
ms_lock
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

echo "tls: real clients with key logs, one capture per scenario (tests/live/tls.py)"
ms_clear_mail
if python3 tests/live/tls.py run "$work/tls"; then
    python3 tests/live/tls_check.py "$bin" "$work/tls" ||
        { echo "FAIL: TLS scenarios: mailscope or tshark differs from the clients" >&2; fail=1; }
else
    echo "FAIL: TLS scenarios: a client or a capture failed" >&2
    fail=1
fi

# ---- live capture: mailscope -i lo ----
here=$PWD/tests/live
# The second backend: its own target dir, so the default build stays as it is.
# (LIVE_BIN / LIVE_PCAP_BIN: other binaries to test, e.g. an installed one.)
if [[ -z ${LIVE_PCAP_BIN:-} ]]; then
    cargo build --release --quiet --features libpcap --bin mailscope --target-dir target/libpcap
fi
pcap_bin=${LIVE_PCAP_BIN:-$PWD/target/libpcap/release/mailscope}
bin=${LIVE_BIN:-$bin}
# Every client binds its own port, from here up (~200 a run), below the ephemeral range; a
# random base, as a rerun within a minute finds the last run's ports in TIME_WAIT.
ports=$((20000 + RANDOM % 60 * 200))
cap=
holder=
held_port=

say() { echo "live -i: $*"; }
failed() {
    echo "FAIL: live -i: $*" >&2
    fail=1
}

# start LABEL BIN ARGS...: mailscope -i lo in the background, output in $work/LABEL.out.
start() {
    local label=$1 b=$2
    shift 2
    "$b" -i lo "$@" >"$work/$label.out" 2>"$work/$label.err" &
    cap=$!
    # Nothing says when capturing has begun; the first client comes 1.5 s later.
    sleep 1.5
    if ! kill -0 "$cap" 2>/dev/null; then
        failed "$label: mailscope exited at start: $(cat "$work/$label.err")"
        cap=
    fi
}

# stop LABEL: SIGINT; mailscope must exit with code 0 within 10 s.
stop() {
    local label=$1 rc=0
    [[ -n $cap ]] || return 1
    sleep 0.5
    kill -INT "$cap"
    for _ in $(seq 100); do
        kill -0 "$cap" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$cap" 2>/dev/null; then
        failed "$label: still running 10 s after SIGINT"
        kill -KILL "$cap"
    fi
    wait "$cap" || rc=$?
    cap=
    ((rc == 0)) || failed "$label: exit code $rc after SIGINT (stderr: $(tail -3 "$work/$label.err"))"
    return $rc
}

# drive LABEL: every client once, into an emptied mailbox; expectations in $work/LABEL.exp.json.
drive() {
    ms_clear_mail
    python3 "$here/clients.py" all "$work/$1.exp.json" "$ports" || failed "$1: a client failed"
    ports=$((ports + 20))
}

# hold LABEL: an smtplib session stopped after EHLO (tests/live/clients.py hold); returns once
# it is there. `touch $work/LABEL.sync/go` lets it send a message and QUIT, `drop` closes it.
hold() {
    rm -rf "$work/$1.sync" && mkdir "$work/$1.sync"
    python3 "$here/clients.py" hold "$work/$1.held.json" "$ports" "$work/$1.sync" &
    holder=$!
    held_port=$ports
    ports=$((ports + 1))
    for _ in $(seq 100); do
        [[ -e $work/$1.sync/ready ]] && return 0
        sleep 0.1
    done
    failed "$1: the held client did not get past EHLO"
}

# appears LABEL REGEX: waits up to 5 s for an extended regex in $work/LABEL.out.
appears() {
    for _ in $(seq 50); do
        grep -Eq "$2" "$work/$1.out" && return 0
        sleep 0.1
    done
    return 1
}

check() { python3 "$here/check.py" "$@"; }

live_suite() {
    local tag=$1 b=$2 backend=$3 l

    l=$tag-json
    say "$l: mailscope -i lo --format json -w FILE, every client"
    start "$l" "$b" --format json -w "$work/$l.pcap"
    drive "$l"
    if stop "$l"; then
        if check json "$work/$l.out" "$work/$l.exp.json" --backend "$backend"; then
            say "$l: commands, reply codes and message sha256s of every client match"
        else
            failed "$l: live JSON differs from what the clients sent"
        fi
        if "$bin" "$work/$l.pcap" --format json >"$work/$l.offline.json" 2>"$work/$l.offline.err" &&
            check same "$work/$l.out" "$work/$l.offline.json"; then
            say "$l: the -w file analysed offline gives the same sessions"
        else
            failed "$l: the -w file offline differs (or does not read: $(tail -2 "$work/$l.offline.err"))"
        fi
    fi

    l=$tag-tls
    say "$l: --tls-keylog KEYS, written by the clients while capturing (absent at the start)"
    rm -f "$work/$l.keys"
    start "$l" "$b" --format json --tls-keylog "$work/$l.keys"
    python3 "$here/tls_live.py" drive "$work/$l.keys" "$work/$l.exp.json" "$ports" ||
        failed "$l: a TLS client failed"
    ports=$((ports + 5))
    if stop "$l"; then
        if python3 "$here/tls_live.py" check "$work/$l.out" "$work/$l.exp.json"; then
            say "$l: SMTPS, STARTTLS and IMAPS decrypted live: commands inside TLS, message sha256s"
        else
            failed "$l: the live TLS sessions differ from what the clients sent"
        fi
    fi

    l=$tag-events
    say "$l: --events; a session held open after EHLO, then SIGINT"
    start "$l" "$b" --format json --events
    drive "$l"
    hold "$l"
    # Streaming: the held session's EHLO exchange is out while its client still waits.
    if appears "$l" '"type":"exchange".*EHLO held\.example\.test' && kill -0 "$holder" 2>/dev/null; then
        say "$l: the open session's EHLO is in the output before its client goes on"
    else
        failed "$l: the held session's EHLO is not in the output while it is open"
    fi
    if stop "$l"; then
        touch "$work/$l.sync/drop"
        wait "$holder" || failed "$l: the held client failed"
        if check json "$work/$l.out" "$work/$l.exp.json" "$work/$l.held.json" --backend "$backend" \
            --open "$held_port" --events; then
            say "$l: events match the sessions; the open one flushed as \"open\"; summary; exit 0"
        else
            failed "$l: --events output"
        fi
    else
        touch "$work/$l.sync/drop"
        wait "$holder" || true
    fi

    l=$tag-text
    say "$l: the text live view"
    start "$l" "$b"
    hold "$l"
    if appears "$l" '^\[[0-9]+\] .*EHLO held\.example\.test' && kill -0 "$holder" 2>/dev/null; then
        say "$l: the [N] EHLO line is printed while its session is open"
    else
        failed "$l: no [N] EHLO line while the session is open"
    fi
    touch "$work/$l.sync/go"
    wait "$holder" || failed "$l: the held client failed"
    drive "$l"
    if stop "$l" && check text "$work/$l.out" "$work/$l.exp.json" "$work/$l.held.json"; then
        say "$l: every client's commands and sha256s on its own [N] lines, with end lines"
    else
        failed "$l: text view"
    fi
}

live_suite pnet "$bin" pnet
live_suite libpcap "$pcap_bin" libpcap

l=libpcap-filter
say "$l: -f 'tcp port 25' with the libpcap build"
start "$l" "$pcap_bin" --format json -f 'tcp port 25'
drive "$l"
if stop "$l"; then
    python3 -c '
import json, sys
json.dump([c for c in json.load(open(sys.argv[1])) if c["server_port"] == 25], open(sys.argv[2], "w"))
' "$work/$l.exp.json" "$work/$l.port25.json"
    if check json "$work/$l.out" "$work/$l.port25.json" --backend libpcap --only-port 25; then
        say "$l: only the port-25 sessions, each one right"
    else
        failed "$l: -f 'tcp port 25'"
    fi
fi

# ---- errors: one line on stderr, exit code 1 ----
# error LABEL REGEX CMD...: CMD exits with 1 and one stderr line matching REGEX.
error() {
    local label=$1 pattern=$2 rc=0
    shift 2
    timeout 10 "$@" >"$work/err.out" 2>"$work/err.txt" || rc=$?
    if ((rc == 1)) && [[ $(wc -l <"$work/err.txt") == 1 ]] && grep -Eq "$pattern" "$work/err.txt"; then
        say "error, $label: $(cat "$work/err.txt")"
    else
        failed "error, $label: exit $rc, stderr: $(cat "$work/err.txt") (want one line matching $pattern)"
    fi
}
error "no such interface" 'nosuch0.*\blo\b' "$bin" -i nosuch0
error "no such interface (libpcap)" 'nosuch0.*\blo\b' "$pcap_bin" -i nosuch0
error "-f without the libpcap feature" 'libpcap' "$bin" -i lo -f 'tcp port 25' -c 1
# Unprivileged: copies the nobody user can reach.
install -d -m 755 "$work/nobody"
install -m 755 "$bin" "$work/nobody/mailscope"
install -m 755 "$pcap_bin" "$work/nobody/mailscope-libpcap"
for b in mailscope mailscope-libpcap; do
    error "unprivileged ($b)" 'CAP_NET_RAW.*setcap cap_net_raw,cap_net_admin=eip' \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$work/nobody/$b" -i lo -c 1
done
# A new network namespace's lo is down.
ns=mailscope-test-$$
ip netns add "$ns"
error "interface down" '\blo\b.*down' ip netns exec "$ns" "$bin" -i lo -c 1
error "interface down (libpcap)" '\blo\b.*down' ip netns exec "$ns" "$pcap_bin" -i lo -c 1
ip netns del "$ns"
ns=
if "$bin" -D >"$work/D.txt" 2>&1 && grep -q '\blo\b' "$work/D.txt"; then
    say "-D lists lo"
else
    failed "-D: $(cat "$work/D.txt")"
fi
exit $fail
