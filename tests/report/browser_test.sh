#!/bin/sh
# Writes one result of every kind with xpusim, turns each into an HTML report, and opens them all
# in headless Chromium (tools/report/check_reports.js): fails on a console error, a request for
# anything outside the file, or a chart without marks; screenshots land in OUT_DIR.
#   browser_test.sh XPUSIM CHECK_SCRIPT CHROMIUM OUT_DIR
# Exits 77 (skipped) where Chromium, node or the npm packages are missing: scripts/quickstart.sh
# installs all three.
set -eu
xpusim=$1 check=$2 chromium=$3 out=$4
modules="$(dirname "$check")/node_modules"
if [ ! -x "$chromium" ] || ! command -v node >/dev/null || [ ! -d "$modules/puppeteer-core" ]; then
  echo "skipped: needs chromium ($chromium), node and npm ci in $(dirname "$check")"
  exit 77
fi
rm -rf "$out" && mkdir -p "$out"
result() {  # NAME xpusim-arguments...: the JSON of one command (validate exits 1 when it fails)
  name=$1 && shift
  "$xpusim" "$@" --format json >"$out/$name.json" || [ $? -eq 1 ]
}
result compare compare
result infer infer --model llama-2-70b --hw h100-sxm --devices 8 --batch 16
result train train --model llama-3.1-70b --system dgx-h100-superpod --nodes 64 --tp 8 --pp 4 \
  --vpp 5 --global-batch 512 --micro-batch 1 --seq-len 8192 --recompute selective --sp
result search train --model llama-3.1-8b --hw h100-sxm --nodes 4 --global-batch 256 --seq-len 4096 \
  --search --top 20
result serve serve --model llama-3.1-8b --hw h100-sxm --rate 4 --num-requests 400
result plan plan --model llama-3.1-8b --rate 2 --num-requests 60
result sensitivity sensitivity infer --model llama-2-70b --hw h100-sxm --devices 8 --batch 16
result validate-training validate training
result validate-inference validate inference
for json in "$out"/*.json; do
  "$xpusim" report --from "$json" -o "${json%.json}.html"
done
node "$check" "$chromium" "$out" "$out"/*.html
# The check itself must be able to fail: a page that logs an error and fetches an image.
mkdir -p "$out/broken"
sed 's|^</body>$|<img src="http://127.0.0.1:9/x.png"><script>console.error("broken")</script></body>|' \
  "$out/compare.html" >"$out/broken/compare.html"
if node "$check" "$chromium" "$out/broken" "$out/broken/compare.html" >"$out/broken/log" 2>&1; then
  echo "check_reports.js passed a page with a console error and a fetch" >&2
  exit 1
fi
grep -q "console error" "$out/broken/log" && grep -q "fetched http://127.0.0.1:9/x.png" "$out/broken/log"
