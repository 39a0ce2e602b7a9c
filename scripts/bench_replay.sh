#!/usr/bin/env bash
# Times `sgsim replay` on generated flow logs (SLS JSON lines and Parquet), with peak memory,
# at two sizes so that flat memory shows. Not a test: run it by hand.
#
#   scripts/bench_replay.sh [RECORDS...]      # default: 1000000 10000000
#   BEFORE=/path/to/older/sgsim scripts/bench_replay.sh   # the same runs, side by side
#
# Writes the logs under ${BENCH_DIR:-target/bench-replay}/N/ (10 M records take ~4.5 GB of
# JSON and ~0.2 GB of Parquet), then runs each replay RUNS times (default 3), alternating the
# binaries, and prints wall seconds, CPU seconds, records/s and peak RSS per run, with the load
# before each size (the machine may be shared: compare figures of one run of this script).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
SGSIM=target/release/sgsim
DIR=${BENCH_DIR:-target/bench-replay}
RUNS=${RUNS:-3}
BINARIES=("$SGSIM")
[ -z "${BEFORE:-}" ] || BINARIES=("$BEFORE" "$SGSIM")
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000 10000000)
# The processor as `sgsim bench` names it: model name, family, model, stepping (a VM's model name
# alone can hide the generation).
cpu_field() { sed -n "s/^$1[[:space:]]*: *//p" /proc/cpuinfo 2>/dev/null | head -1; }
echo "processor: $(cpu_field 'model name' | grep . || echo unknown) (family $(cpu_field 'cpu family') model $(cpu_field model) stepping $(cpu_field stepping))"
nproc
for n in "${SIZES[@]}"; do
  if [ ! -s "$DIR/$n/flowlogs.parquet" ]; then
    "$SGSIM" bench --flowlogs "$DIR/$n" --records "$n" >/dev/null
  fi
  echo "load before $n records: $(uptime)"
  for file in flowlogs.jsonl flowlogs.parquet; do
    for run in $(seq "$RUNS"); do
      for bin in "${BINARIES[@]}"; do
        /usr/bin/time -f "%e %U %S %M" -o "$DIR/time.txt" \
          "$bin" replay "$DIR/$n/snapshot.json" "$DIR/$n/$file" --json >"$DIR/out.json" 2>/dev/null
        read -r secs user sys kb <"$DIR/time.txt"
        awk -v n="$n" -v f="$file" -v s="$secs" -v u="$user" -v y="$sys" -v kb="$kb" -v r="$run" \
          -v b="$bin" 'BEGIN {
          printf "%-26s %-17s %9d records  run %d  %6.2f s wall  %6.2f s CPU  %5.2f M records/s  %5.2f M per CPU-s  peak RSS %4.0f MiB\n",
            b, f, n, r, s, u + y, n / s / 1e6, n / (u + y) / 1e6, kb / 1024 }'
      done
    done
  done
done
