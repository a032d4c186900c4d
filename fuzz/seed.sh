#!/usr/bin/env bash
# Seeds the fuzz corpus, then runs the fuzzer on both cores (crashes land in fuzz/artifacts).
# usage: fuzz/seed.sh [SECONDS] [TARGET]   (default 1800 s, target `read`)
#   read: any bytes as every kind of input; seeded with the small real fixtures.
#   text: any bytes as a stored value judged for a Secret (YAML/JSON/protobuf); seeded with the
#         text of the Secret tests, the YAML dictionary in text.dict, and any files in corpus/text.
set -euo pipefail
cd "$(dirname "$0")"
target="${2:-read}"
# libFuzzer needs nightly flags: the stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
case "$target" in
read)
  mkdir -p corpus/read
  for f in ../fixtures/*.db; do
    [ "$(stat -c %s "$f")" -le 400000 ] && cp "$f" corpus/read/
  done
  RUSTC_BOOTSTRAP=1 cargo fuzz run read --release -- \
    -max_total_time="${1:-1800}" -max_len=400000 -rss_limit_mb=1024 -timeout=10 -jobs=2 -workers=2 \
    -print_final_stats=1
  ;;
text)
  mkdir -p corpus/text
  # Each string literal of the Secret tests that spans a line or names a Secret, as one seed.
  python3 - ../src/k8s/*tests*.rs ../tests/secret*.rs <<'PY'
import hashlib, re, sys
ESC = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
def unescape(s):
    def one(m):
        e = m.group(1)
        if e.startswith("u{"):
            return chr(int(e[2:-1], 16))
        if e.startswith("x"):
            return chr(int(e[1:], 16))
        return ESC.get(e, e)
    s = re.sub(r"\\\n\s*", "", s)  # a line continued: its leading blanks go too
    return re.sub(r"\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)", one, s, flags=re.S)
for path in sys.argv[1:]:
    src = open(path, encoding="utf-8").read()
    for m in re.finditer(r'b?r(#*)"(.*?)"\1|b?"((?:[^"\\]|\\.)*)"', src, re.S):
        text = m.group(2) if m.group(2) is not None else unescape(m.group(3))
        if "\n" in text or "Secret" in text:
            data = b"\x00" + text.encode("utf-8", "replace")
            open("corpus/text/" + hashlib.sha1(data).hexdigest(), "wb").write(data)
PY
  # No address sanitizer: the code judged is safe Rust, and without it a run is many times
  # faster. The worst input known (an alias bomb that spends a value's whole parse budget) takes
  # 0.2 s in a release build and about 2 s in this one: the timeout is 10 s.
  RUSTC_BOOTSTRAP=1 cargo fuzz run text --release --sanitizer none -- \
    -max_total_time="${1:-1800}" -max_len=70000 -rss_limit_mb=512 -timeout=10 -jobs=2 -workers=2 \
    -dict=text.dict -print_final_stats=1
  ;;
*) echo "usage: $0 [SECONDS] [read|text]" >&2; exit 2 ;;
esac
