#!/usr/bin/env bash
# Live capture benchmark (issue 11): `mailscope -i lo` under a tcpreplay of the 100 MB bench
# capture, beside `tshark -i lo`, and a memory soak. Not run by CI (it takes ~15 minutes and
# wants the machine to itself). Needs root, tcpreplay, tshark (apt-get install tcpreplay tshark).
#
#   bench/live.sh                 everything: rates, then a SOAK_SECS soak
#   SOAK_SECS=60 bench/live.sh    a short soak
#   STANDIN=tcpdump bench/live.sh tcpdump -w stands in for mailscope (its capture is analysed
#                                 offline): checks the namespace, rewrite and replay themselves
#
# Nothing is injected on the host's interfaces: the capture's 10.x / 192.0.2.x addresses are
# first rewritten into 127.0.0.0/8 (tcprewrite --pnat keeps distinct hosts distinct, so every
# connection stays its own; --fixcsum), and the replay and every capture run inside a network
# namespace this script creates (its lo only) and removes at exit. The capture's frames are
# addressed to 02:00:00:00:00:02, not to lo's MAC, so the namespace's own TCP stack ignores
# them (no RSTs join the replay).
#
# Steps, each printed as a table row:
#  1. --mbps 1000 with mailscope (pnet), mailscope (libpcap build) and tshark: packets sent
#     (tcpreplay) and received, kernel drops (mailscope's JSON summary, `capture` field;
#     tshark's own report), and whether the message sha256s equal those mailscope finds
#     offline in the rewritten file (the bar: same messages, 0 kernel drops).
#  2. --topspeed, then rising --mbps steps (RATES) until drops: the highest rate held.
#  3. Soak: SOAK_SECS (600) of continuous replay (--loop, at SOAK_MBPS, 1000) into
#     `mailscope -i lo --format json`; VmRSS sampled every 30 s and printed as a curve.
#     Fails if the peak is over 64 MiB or the RSS grows after the first minute (its highest
#     after it more than 2 MiB or 5 % over its highest within it).
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECS=${SOAK_SECS:-600}
SOAK_MBPS=${SOAK_MBPS:-1000}
RATES=${RATES:-"2000 4000 8000 16000"}
STANDIN=${STANDIN:-}
input=${BENCH_PCAP:-bench/data/traffic-100M.pcap}

[[ $(id -u) == 0 ]] || { echo "bench/live.sh needs root (network namespace, capture)" >&2; exit 1; }
for tool in tcpreplay tcprewrite tshark tcpdump ip; do
    command -v "$tool" >/dev/null || { echo "bench/live.sh: $tool missing (apt-get install tcpreplay tshark tcpdump iproute2)" >&2; exit 1; }
done
if [[ -z $STANDIN ]]; then
    cargo build --release --quiet --bin mailscope --example synth
    cargo build --release --quiet --features libpcap --bin mailscope --target-dir target/libpcap
fi
bin=$PWD/target/release/mailscope
pcap_bin=$PWD/target/libpcap/release/mailscope
if [[ ! -s $input ]]; then
    [[ -x target/release/examples/synth ]] || cargo build --release --quiet --example synth
    mkdir -p "$(dirname "$input")"
    target/release/examples/synth traffic "$input" 100
fi

scratch=$(mktemp -d)
ns=mailscope-bench-$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

lo=$scratch/lo.pcap
tcprewrite --pnat=10.0.0.0/8:127.0.0.0/8,192.0.2.0/24:127.192.2.0/24 --fixcsum \
    --infile="$input" --outfile="$lo"
sent_total=$(capinfos -c -M "$lo" | awk '/Number of packets/ {print $NF}')
# What the capture holds, found offline: the bar for every live run.
"$bin" "$lo" --format json --no-progress >"$scratch/offline.json"
hashes() { python3 -c '
import json, sys
print("\n".join(sorted(m["sha256"] for l in open(sys.argv[1]) if l.strip()
      for s in [json.loads(l)] if s.get("type") == "session" for m in s["messages"])))' "$1"; }
hashes "$scratch/offline.json" >"$scratch/offline.sha"
echo "bench/live: $(basename "$input") rewritten into 127/8: $sent_total packets, $(wc -l <"$scratch/offline.sha") messages offline"
echo "(namespace $ns; ${STANDIN:+tcpdump stands in for mailscope; }tcpreplay $(tcpreplay --version 2>&1 | head -1 | awk '{print $3}'))"

# capture KIND OUT: starts KIND capturing on the namespace's lo in the background ($cpid).
capture() {
    local kind=$1 out=$2
    case $kind in
    mailscope) ip netns exec "$ns" "$bin" -i lo --format json >"$out" 2>"$out.err" & ;;
    mailscope-libpcap) ip netns exec "$ns" "$pcap_bin" -i lo --format json >"$out" 2>"$out.err" & ;;
    tcpdump) ip netns exec "$ns" tcpdump -i lo -n -w "$out.pcap" >/dev/null 2>"$out.err" & ;;
    tshark) ip netns exec "$ns" tshark -n -i lo -T fields -e smtp.req.command -e smtp.response.code >/dev/null 2>"$out.err" & ;;
    esac
    cpid=$!
    pids+=("$cpid")
}

# result KIND OUT: prints "received kernel-drops messages-equal" for a finished capture.
result() {
    local kind=$1 out=$2 rx drops same=-
    case $kind in
    mailscope*)
        read -r rx drops < <(python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cap = (rows[-1] if rows and rows[-1].get("type") == "summary" else {}).get("capture") or {}
d = cap.get("packets_dropped_by_kernel")
print(cap.get("packets_received", "?"), "unknown" if d is None else d, "+", cap.get("packets_dropped_by_mailscope", "?"))' "$out" | sed 's/ + /+/')
        hashes "$out" >"$out.sha"
        ;;
    tcpdump)
        rx=$(awk '/packets captured/ {print $1}' "$out.err")
        drops=$(awk '/packets dropped by kernel/ {print $1}' "$out.err")
        "$bin" "$out.pcap" --format json --no-progress >"$out" && hashes "$out" >"$out.sha"
        rm -f "$out.pcap"
        ;;
    tshark)
        rx=$(awk '/packets? captured/ {print $1}' "$out.err" | tail -1)
        drops=$(awk '/packets? dropped/ {print $1}' "$out.err" | tail -1)
        drops=${drops:-0}
        ;;
    esac
    if [[ -e $out.sha ]]; then
        if cmp -s "$out.sha" "$scratch/offline.sha"; then same=yes; else same="NO ($(wc -l <"$out.sha") found)"; fi
    fi
    echo "${rx:-?} ${drops:-?} $same"
}

# replay KIND LABEL TCPREPLAY-RATE-ARGS...: one replay under KIND; prints a row; returns 1 on
# kernel drops or different messages.
replay() {
    local kind=$1 label=$2 out
    shift 2
    out=$scratch/run-$kind-$RANDOM
    capture "$kind" "$out"
    sleep 2
    in_ns tcpreplay -i lo "$@" "$lo" >"$out.replay" 2>&1 || { echo "tcpreplay failed: $(tail -3 "$out.replay")" >&2; return 2; }
    sleep 2
    kill -INT "$cpid"
    wait "$cpid" || true
    local sent mbps pps rx drops same
    sent=$(awk '/Successful packets:/ {print $3}' "$out.replay")
    read -r mbps pps < <(sed -nE 's/.*Rated: .* ([0-9.]+) Mbps, ([0-9.]+) pps.*/\1 \2/p' "$out.replay")
    read -r rx drops same < <(result "$kind" "$out")
    printf '%-36s %-14s %10s %9s %9s %9s %12s %s\n' "$label" "$*" "${mbps:-?}" "${pps:-?}" "$sent" "$rx" "$drops" "$same"
    rm -f "$out" "$out".*
    [[ $drops == 0 || $drops == 0+0 ]] && [[ $same == yes || $same == - ]]
}

kinds=(mailscope mailscope-libpcap tshark)
label_of() {
    case $1 in
    mailscope) echo "mailscope -i lo --format json (pnet)" ;;
    mailscope-libpcap) echo "mailscope -i lo --format json (libpcap)" ;;
    tshark) echo "tshark -i lo -T fields smtp" ;;
    tcpdump) echo "tcpdump -i lo -w" ;;
    esac
}
run_kind() { if [[ -n $STANDIN && $1 == mailscope* ]]; then echo tcpdump; else echo "$1"; fi; }

status=0
printf '%-36s %-14s %10s %9s %9s %9s %12s %s\n' capturer replay Mbps pps sent received "kernel drops" "messages = offline"
for k in "${kinds[@]}"; do
    kind=$(run_kind "$k")
    replay "$kind" "$(label_of "$kind")" --mbps 1000 || { [[ $k == mailscope* ]] && status=1; }
done
for k in "${kinds[@]}"; do
    kind=$(run_kind "$k")
    replay "$kind" "$(label_of "$kind")" --topspeed || true
done
for k in "${kinds[@]}"; do
    kind=$(run_kind "$k")
    held=none
    for rate in 1000 $RATES; do
        replay "$kind" "$(label_of "$kind")" --mbps "$rate" >"$scratch/row" || { cat "$scratch/row"; break; }
        cat "$scratch/row"
        held=$rate
    done
    echo "  $(label_of "$kind"): highest rate held without drops: ${held} Mbit/s asked"
done

# ---- soak ----
kind=$(run_kind mailscope)
echo "soak: ${SOAK_SECS} s of continuous replay at ${SOAK_MBPS} Mbit/s into $(label_of "$kind"), VmRSS every 30 s"
mkfifo "$scratch/soak.fifo"
tail -n 1 <"$scratch/soak.fifo" >"$scratch/soak.last" &
pids+=($!)
case $kind in
mailscope) ip netns exec "$ns" "$bin" -i lo --format json >"$scratch/soak.fifo" 2>"$scratch/soak.err" & ;;
tcpdump) ip netns exec "$ns" tcpdump -i lo -n -w /dev/null >"$scratch/soak.fifo" 2>"$scratch/soak.err" & ;;
esac
soak=$!
pids+=("$soak")
sleep 2
ip netns exec "$ns" tcpreplay -i lo -K --loop=0 --mbps "$SOAK_MBPS" --duration="$SOAK_SECS" "$lo" >"$scratch/soak.replay" 2>&1 &
player=$!
pids+=("$player")
samples=()
t=0
while kill -0 "$player" 2>/dev/null; do
    sleep 1
    t=$((t + 1))
    if ((t % 30 == 0)); then
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$soak/status" 2>/dev/null || echo 0)
        samples+=("$t:$rss")
        printf '  %5d s  %7.1f MiB\n' "$t" "$(echo "$rss / 1024" | bc -l)"
    fi
done
wait "$player" || true
sleep 2
kill -INT "$soak"
wait "$soak" || true
sleep 0.5
grep -E 'Actual|Rated' "$scratch/soak.replay" | sed 's/^/  tcpreplay: /'
if [[ $kind == mailscope ]]; then
    echo "  summary: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("capture"))' "$scratch/soak.last" 2>/dev/null || echo none)"
else
    grep -E 'captured|dropped' "$scratch/soak.err" | sed 's/^/  tcpdump: /'
fi
python3 - "${samples[@]}" <<'PY' || status=1
import sys
s = [(int(t), int(kb)) for t, kb in (a.split(":") for a in sys.argv[1:])]
if not s:
    print("soak: no RSS sample (shorter than 30 s?)")
    sys.exit(0)
peak = max(kb for _, kb in s)
after = [kb for t, kb in s if t >= 60]
print(f"soak: RSS curve (MiB) {' '.join(f'{kb / 1024:.1f}' for _, kb in s)}; peak {peak / 1024:.1f} MiB")
bad = peak > 64 * 1024
if bad:
    print("soak: FAIL: peak RSS over 64 MiB")
# Growth: the highest RSS after the first minute against the highest within it (one sample
# compared with another is fooled by the allocator's swings, which go both ways).
first = [kb for t, kb in s if t <= 60]
if first and after:
    grew = max(after) - max(first)
    if grew > max(2048, max(first) * 0.05):
        print(f"soak: FAIL: RSS grew {grew / 1024:.1f} MiB after the first minute")
        bad = True
    else:
        print(f"soak: highest RSS within the first minute {max(first) / 1024:.1f} MiB, after it {max(after) / 1024:.1f} MiB (flat)")
sys.exit(1 if bad else 0)
PY
exit $status
