#!/usr/bin/env bash
# Times `sgsim replay` on generated flow logs (SLS JSON lines and Parquet), with peak memory,
# at two sizes so that flat memory shows. Not a test: run it by hand on an idle machine.
#
#   scripts/bench_replay.sh [RECORDS...]      # default: 1000000 10000000
#
# Writes the logs under ${BENCH_DIR:-target/bench-replay}/N/ (10 M records take ~4.5 GB of
# JSON and ~0.4 GB of Parquet), then runs each replay RUNS times (default 3) and prints
# wall seconds, records/s and peak RSS per run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
SGSIM=target/release/sgsim
DIR=${BENCH_DIR:-target/bench-replay}
RUNS=${RUNS:-3}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000 10000000)
for n in "${SIZES[@]}"; do
  if [ ! -s "$DIR/$n/flowlogs.parquet" ]; then
    "$SGSIM" bench --flowlogs "$DIR/$n" --records "$n" >/dev/null
  fi
  for file in flowlogs.jsonl flowlogs.parquet; do
    for run in $(seq "$RUNS"); do
      /usr/bin/time -f "%e %M" -o "$DIR/time.txt" \
        "$SGSIM" replay "$DIR/$n/snapshot.json" "$DIR/$n/$file" --json >/dev/null
      read -r secs kb <"$DIR/time.txt"
      awk -v n="$n" -v f="$file" -v s="$secs" -v kb="$kb" -v r="$run" 'BEGIN {
        printf "%-18s %9d records  run %d  %6.2f s  %6.2f M records/s  peak RSS %5.0f MiB\n",
          f, n, r, s, n / s / 1e6, kb / 1024 }'
    done
  done
done
