#!/usr/bin/env bash
# Scaling of every path whose cost an attacker controls by a count (issue 8, "No quadratic
# paths"): for each case, a capture of one connection with the count at N, 10·N and 100·N,
# and the time and peak RSS of `mailscope FILE --format json` on it. Linear cost shows as a
# time ratio of about 10 per row; a ratio near 100 is quadratic.
#
#   bench/scaling.sh                 every case at N, 10·N, 100·N
#   bench/scaling.sh --quick         N and 10·N only
#   bench/scaling.sh CASE...         only these cases (names as in the table)
#
# Captures are made by `cargo run --release --example scaling -- CASE N FILE` (see that file
# for what each case sends) into a scratch folder. Time is the best of three wall times
# (one when it is over 5 s; a run over $SCALING_TIMEOUT seconds, default 120, is stopped and
# shown as >LIMIT). Peak RSS is /usr/bin/time's.
set -euo pipefail
limit=${SCALING_TIMEOUT:-120}
cd "$(dirname "$0")/.."
steps=(1 10 100)
if [[ ${1:-} == --quick ]]; then
    steps=(1 10)
    shift
fi
command -v /usr/bin/time >/dev/null || { echo "scaling: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

# case and its base count N
cases=(
    parts:1000
    headers:1000
    words:1000
    addresses:1000
    received:1000
    nesting:100
    headers-forever:20000
    rcpt:1000
    pipelined:1000
    xlines:20000
    literals:1000
    fetch-items:1000
    anomalies:20000
)
if (($#)); then
    wanted=" $* "
    keep=()
    for c in "${cases[@]}"; do
        [[ $wanted == *" ${c%%:*} "* ]] && keep+=("$c")
    done
    cases=("${keep[@]}")
fi

cargo build --release --quiet --bin mailscope --example scaling
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

printf '%-16s %9s %9s %9s %7s %9s\n' path N bytes 'time(s)' ratio 'RSS(MiB)'
for c in "${cases[@]}"; do
    name=${c%%:*}
    base=${c##*:}
    prev=
    for step in "${steps[@]}"; do
        n=$((base * step))
        file=$scratch/$name-$n.pcap
        target/release/examples/scaling "$name" "$n" "$file"
        best=
        rss=0
        for _ in 1 2 3; do
            t0=$EPOCHREALTIME
            status=0
            timeout "$limit" /usr/bin/time -f '%M' -o "$scratch/rss" \
                target/release/mailscope "$file" --format json >/dev/null || status=$?
            t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
            if ((status == 124)); then
                best=">$limit"
                break
            fi
            m=$(tail -n 1 "$scratch/rss")
            ((m > rss)) && rss=$m
            if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
                best=$t
            fi
            # Slow runs are not repeated.
            awk -v a="$t" 'BEGIN { exit !(a > 5) }' && break
        done
        ratio=-
        if [[ -n $prev && $best != ">"* && $prev != ">"* ]]; then
            ratio=$(awk -v a="$best" -v b="$prev" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
        fi
        printf '%-16s %9d %9d %9s %7s %9.1f\n' "$name" "$n" "$(stat -c %s "$file")" "$best" "$ratio" \
            "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
        prev=$best
        rm -f "$file"
        [[ $best == ">"* ]] && break
    done
done
