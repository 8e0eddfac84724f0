#!/usr/bin/env bash
# The HTML report in a real browser: renders every sample to HTML (English and Chinese)
# with the release binary and checks each page in headless Chromium (tests/browser/check.py:
# no console error, no request leaving the file, one SVG arrow per transcript line, both
# languages), and saves the README's screenshot docs/report.png.
# Installs Chromium (apt) and Playwright for Python (pip; its own browsers are not
# downloaded: the apt Chromium is used). Fails, never skips, when either cannot run.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ ! -x /usr/bin/chromium ]]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
if ! python3 -c 'import playwright' 2>/dev/null; then
    python3 -m pip install -q playwright
fi

cargo build --release --quiet
bin=target/release/mailscope
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for f in samples/*.pcap; do
    name=$(basename "$f" .pcap)
    "$bin" "$f" --format html --lang en >"$out/$name.en.html"
    "$bin" "$f" --format html --lang zh >"$out/$name.zh.html"
    "$bin" "$f" --format json >"$out/$name.json"
done
python3 tests/browser/check.py "$out" docs/report.png
size=$(stat -c %s docs/report.png)
if ((size > 300 * 1024)); then
    echo "docs/report.png is $size bytes: keep it under 300 KiB" >&2
    exit 1
fi
