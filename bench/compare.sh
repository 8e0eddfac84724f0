#!/usr/bin/env bash
# Before/after table of two builds of mailscope on the main job (`FILE --format json`), for an
# issue's closing note (issue 14): one interleaved batch, since these machines drift between
# batches, so only runs of one batch compare.
#
#   bench/compare.sh OLD_BIN NEW_BIN [FILE]    FILE defaults to bench/data/traffic-1024M.pcap
#                                              (the 1 GB bench: bench/run.sh makes it)
#   RUNS=N bench/compare.sh ...                N runs of each build in each mode (default 5,
#                                              at least 5)
#
# Two modes: one core (`taskset -c 0`, `-j 1`) and the default thread count on every core.
# Each round runs, for each mode, OLD then NEW (OLD NEW OLD NEW ...), from a warm page cache.
# Wall time is measured around the process (date, ns), user time and peak RSS come from
# /usr/bin/time. The table gives medians per build and mode: wall s (with the range), MB/s
# (capture bytes / 10^6 / median wall), user s, sys s, peak RSS (MiB); then NEW's speedup over OLD
# and, per build, the default threads' speedup over one core (median wall / median wall).
# Every run's JSON output must be byte-identical to OLD's first (cmp): the script stops and
# fails at the first difference, keeping both outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# < 2 || $# > 3)); then
    echo "usage: bench/compare.sh OLD_BIN NEW_BIN [FILE]" >&2
    exit 2
fi
old=$1 new=$2 file=${3:-bench/data/traffic-1024M.pcap}
runs=${RUNS:-5}
[[ $runs =~ ^[0-9]+$ ]] && ((runs >= 5)) || { echo "compare: RUNS must be a number, at least 5" >&2; exit 2; }
for bin in "$old" "$new"; do
    [[ -x $bin ]] || { echo "compare: $bin is not an executable" >&2; exit 1; }
done
[[ -r $file ]] || { echo "compare: no capture $file (bench/run.sh makes bench/data/traffic-1024M.pcap)" >&2; exit 1; }
for tool in /usr/bin/time taskset python3 cmp; do
    command -v "$tool" >/dev/null || { echo "compare: $tool missing" >&2; exit 1; }
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
bytes=$(stat -L -c %s "$file")
all_cpus=0-$(($(nproc) - 1))

echo "compare: $file ($bytes bytes), $runs runs of each build per mode, interleaved"
echo "  old: $old"
echo "  new: $new"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$file" >/dev/null

# one BUILD MODE: runs BUILD (old or new) in MODE (j1 or default) once, appends its figures
# to the results and checks its output against the reference.
one() {
    local build=$1 mode=$2 bin cpus t0 t1
    bin=$old
    [[ $build == new ]] && bin=$new
    local args=("$file" --format json --no-progress)
    if [[ $mode == j1 ]]; then
        cpus=0
        args+=(-j 1)
    else
        cpus=$all_cpus
    fi
    t0=$(date +%s%N)
    /usr/bin/time -f '%U %S %M' -o "$scratch/time" taskset -c "$cpus" "$bin" "${args[@]}" \
        >"$scratch/out.json" 2>"$scratch/err" ||
        { echo "compare: $build ($mode) failed: $(tail -3 "$scratch/err")" >&2; exit 1; }
    t1=$(date +%s%N)
    echo "$build $mode $(((t1 - t0) / 1000)) $(cat "$scratch/time")" >>"$scratch/results"
    if [[ ! -e $scratch/ref.json ]]; then
        mv "$scratch/out.json" "$scratch/ref.json"
    elif ! cmp -s "$scratch/ref.json" "$scratch/out.json"; then
        local keep
        keep=$(mktemp -d /tmp/compare-diff.XXXXXX)
        cp "$scratch/ref.json" "$keep/old-first.json"
        cp "$scratch/out.json" "$keep/$build-$mode.json"
        echo "compare: FAIL: $build ($mode) output differs from old's first run: $(cmp "$keep/old-first.json" "$keep/$build-$mode.json" 2>&1 || true)" >&2
        echo "compare: both outputs kept in $keep" >&2
        exit 1
    fi
}

for round in $(seq "$runs"); do
    for mode in j1 default; do
        for build in old new; do
            one "$build" "$mode"
        done
    done
    printf '  round %d of %d done\n' "$round" "$runs"
done
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  outputs: all $((runs * 4)) byte-identical ($(stat -c %s "$scratch/ref.json") bytes of JSON)"
echo

python3 - "$scratch/results" "$bytes" <<'EOF'
import statistics, sys

results, size = sys.argv[1], int(sys.argv[2])
runs = {}
for line in open(results):
    build, mode, wall_us, user, sys_s, rss_kb = line.split()
    runs.setdefault((build, mode), []).append((int(wall_us) / 1e6, float(user), int(rss_kb) / 1024, float(sys_s)))
modes = {"j1": "1 core, `-j 1`", "default": "default threads, all cores"}
median = {}
print("| build | threads | wall s (median, range) | MB/s | user s | sys s | peak RSS MiB |")
print("|---|---|---|---|---|---|---|")
for mode in modes:
    for build in ("old", "new"):
        rows = runs[(build, mode)]
        wall = statistics.median(r[0] for r in rows)
        user = statistics.median(r[1] for r in rows)
        rss = statistics.median(r[2] for r in rows)
        system = statistics.median(r[3] for r in rows)
        median[(build, mode)] = wall
        low, high = min(r[0] for r in rows), max(r[0] for r in rows)
        print(f"| {build} | {modes[mode]} | {wall:.3f} ({low:.2f}–{high:.2f}) | {size / 1e6 / wall:.0f} "
              f"| {user:.2f} | {system:.2f} | {rss:.1f} |")
print()
for mode in modes:
    print(f"new over old, {modes[mode]}: {median[('old', mode)] / median[('new', mode)]:.2f}×")
for build in ("old", "new"):
    print(f"{build}: default threads over 1 core: {median[(build, 'j1')] / median[(build, 'default')]:.2f}×")
print(f"(medians of {len(runs[('old', 'j1')])} interleaved runs each)")
EOF
