#!/bin/sh
# Runs every command of docs/claims.md: each must exit 0 and print its key figure (a pattern).
# Commands of a subcommand this build lacks (pending another branch) are skipped, by name.
# Usage: claims_commands.sh XPUSIM DATA_DIR SOURCE_DIR
set -u
xpusim=$1
data=$2
src=$3
failed=0
ran=0
subcommands=$("$xpusim" --help 2>&1)
skipped=""

# check NAME SUBCOMMAND PATTERN ARGS...: run `xpusim --data-dir DATA ARGS...` from SOURCE_DIR.
check() {
  name=$1 sub=$2 pattern=$3
  shift 3
  if ! printf '%s\n' "$subcommands" | grep -Eq "^  $sub( |\$)"; then
    skipped="$skipped $name"
    return
  fi
  out=$(cd "$src" && "$xpusim" --data-dir "$data" "$@" 2>&1)
  status=$?
  ran=$((ran + 1))
  if [ $status -ne 0 ]; then
    echo "FAIL $name: exit $status: $out" | head -5
    failed=$((failed + 1))
  elif ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
    echo "FAIL $name: no match for /$pattern/ in:"
    printf '%s\n' "$out" | head -20
    failed=$((failed + 1))
  else
    echo "ok   $name"
  fi
}

# 1. H200 against H100 on Llama 2 70B inference.
check h200-llama-natural compare '^h200-sxm +8 +node h200-hgx-ib' compare --price-basis cloud
check h200-llama-tp1-fp8 compare '^h200-sxm +1 +given +[0-9]+ +4[0-9][0-9] ' \
  compare --devices 1 --weight-dtype fp8 --input-len 2048 --output-len 128 \
  --max-ttft-s 0 --max-tpot-s 0 --price-basis cloud
# 2. H200 against H100 on GPT-3 175B training.
check h200-gpt3-train compare '^h200-sxm +64 x 8 +h200-hgx-ib' \
  compare --train --model gpt3-175b --devices 512 --tokens 300e9 --global-batch 2048 \
  --seq-len 2048 --precision fp8-delayed --price-basis cloud
# 3. Maia 100 against H100 and MI300X.
check maia-serving compare '^maia100 +4 +node maia100-rack' compare
check maia-equal-devices compare '^maia100 +4 +given +256 ' compare --devices 4 --price-basis cloud
check maia-priced compare '^maia100\* +4 ' compare --price maia100=8.20 --price-basis cloud
check maia-train compare '^maia100 +128 x 4 +maia100-rack' \
  compare --train --model gpt3-175b --devices 512 --tokens 300e9 --global-batch 2048 \
  --seq-len 2048 --price-basis cloud
check maia-sensitivity sensitivity '^memory_bandwidth +-5\.' \
  sensitivity infer --model llama-2-70b --hw maia100 --devices 4 --batch 64 --input-len 1024 \
  --output-len 256
# 4. A100 purchases against an in-house chip program of about $100 M a year.
check a100-owned compare '"price_usd_per_device_hour": 0\.55' \
  compare --price-basis owned --format json
check a100-tco tco 'a100-sxm-80gb' tco --hw a100-sxm-80gb --devices 20000 --tokens-per-s 181
check maia-build-vs-buy build-vs-buy '[Bb]reak-even' \
  build-vs-buy --chip data/chips/maia100.yaml --buy a100-sxm-80gb --in-house-tokens-per-s 397 \
  --bought-tokens-per-s 181 --workload-tokens-per-s 3.7e6
check maia-derive chip 'bf16 dense TFLOP/s +7[0-9][0-9]' chip derive data/chips/maia100.yaml
# 5. A 1000x dataflow claim.
check x1000-decode infer 'time per output token +0\.010' \
  infer --model llama-2-70b --hw docs/claims/h100-flops-x1000.yaml --devices 8 --batch 1 \
  --input-len 128 --output-len 512
check x1000-prefill infer 'time to first token +0\.13' \
  infer --model llama-2-7b --hw docs/claims/h100-flops-x1000.yaml --devices 1 --batch 16 \
  --input-len 2048 --output-len 1
check x1000-train train 'step time' \
  train --model llama-2-7b --hw docs/claims/h100-flops-x1000.yaml --nodes 1 --tp 1 --zero 1 \
  --global-batch 64 --seq-len 4096 --micro-batch 1
check x1000-sensitivity sensitivity '^memory_bandwidth +-7\.' \
  sensitivity infer --model llama-2-7b --hw h100-sxm --batch 1 --input-len 128 --output-len 512
check wave-derive chip 'bf16 dense TFLOP/s' chip derive data/chips/wave-dataflow.yaml

[ -n "$skipped" ] && echo "skipped (subcommand not in this build, pending the chips branch):$skipped"
echo "$ran commands run, $failed failed"
[ $failed -eq 0 ] && [ $ran -gt 0 ]
