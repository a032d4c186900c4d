#!/usr/bin/env bash
# Makes the benchmark snapshot with real etcd (never committed): OUTDIR/many-2.snap.db (about
# 1.5 GB, about a million revisions, with the sha256 trailer) and OUTDIR/many-2.member.db (the raw
# backend file). Needs the reference tools: ../shared/oracle/install.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../target/bench-data}
oracle=${ORACLE:-$here/../../shared/oracle}
mkdir -p "$out"
[ -s "$out/many-2.snap.db" ] || bash "$oracle/make-corpus.sh" "$out" many:2

# What real etcd makes of it when compacted at its current revision and defragmented (about a
# minute): many-2.snap.db.compact-defrag.json, for the prediction check in benches/inspect.rs.
[ -s "$out/many-2.snap.db.compact-defrag.json" ] || OUTDIR="$out" bash "$here/../fixtures/make-compaction-answers.sh" "$out/many-2.snap.db" || true
