#!/usr/bin/env bash
# Seeds the fuzz corpus with the small real fixtures (gunzipped), then runs the fuzzer.
# usage: fuzz/seed.sh [SECONDS]   (default 1800; uses both cores; crashes land in fuzz/artifacts)
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/read
for f in ../fixtures/*.db; do
  [ "$(stat -c %s "$f")" -le 400000 ] && cp "$f" corpus/read/
done
# libFuzzer needs nightly flags: the stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
RUSTC_BOOTSTRAP=1 cargo fuzz run read --release -- \
  -max_total_time="${1:-1800}" -max_len=400000 -rss_limit_mb=1024 -timeout=10 -jobs=2 -workers=2 \
  -print_final_stats=1
