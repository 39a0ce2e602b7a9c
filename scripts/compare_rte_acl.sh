#!/usr/bin/env bash
# Side-by-side throughput of DPDK rte_acl and `sgsim bench` on the same ClassBench data.
#
#   scripts/compare_rte_acl.sh [SET[:TRACE] ...]
#
# Default sets: acl1_1k fw1_1k ipc1_1k acl1_10k fw1_10k ipc1_10k. The 100K sets
# (acl1_100k fw1_100k ipc1_100k, gzipped, ClassBench traces with strong locality) need about
# 4 GB of RAM for rte_acl and minutes of build time; name them to include them. A TRACE after a
# colon overrides the trace file (relative to DATA).
#
# For each set: shared/baselines/classbench_to_sg.py converts the rules with the security-group
# mapping (priority 1 + floor(100 i / N), every 4th rule drops) and writes them in SG order
# (sg_order.rules), so rte_acl's first match is the SG deciding rule. rte_acl (acl_bench, method
# ALG, batches of 64) runs that file on 1 and 2 lcores; `sgsim bench --classbench RULES TRACE
# --json --threads 1,2` runs the original file with the same mapping. Both check their answers
# before timing (rte_acl against a brute-force scan, sgsim against its reference evaluator), and
# rte_acl's no-match count must equal sgsim's drop_default count. scripts/core_scaling.c runs
# before and after: how much faster a register-only loop is on 2 threads than on 1 right now,
# the machine's own ceiling for the thr/1thr columns (below 2 on a VM whose cores are shared).
#
# Needs: python3, gcc, pkg-config and Debian's libdpdk-dev
#   (apt-get install -y --no-install-recommends libdpdk-dev pkg-config).
# Environment (all optional):
#   SHARED     the shared/ folder (default: ../shared beside the repository, else /work/shared)
#   DATA       ClassBench folder (default: $SHARED/classbench)
#   CONVERTER  classbench_to_sg.py (default: $SHARED/baselines/classbench_to_sg.py)
#   ACL_BENCH  a built acl_bench (default: build $SHARED/baselines/rte_acl/acl_bench.c in WORK)
#   SGSIM      the sgsim binary (default: cargo build --release, target/release/sgsim)
#   WORK       scratch folder (default: a new temporary folder)
#   OUT        where raw outputs and the table go (default: $WORK/results)
#   ALG        rte_acl classify method (default: avx512x32; see acl_bench "all")
#   SECS       rte_acl seconds per timed run, median of 3 (default: 1)
#   MIN_TIME   sgsim seconds per measurement (default: 1)
#   THREADS    thread counts (default: "1 2")
#   REPEAT     run both tools this many times, alternating, and report medians (default: 1);
#              use 3 or more on a shared, noisy machine
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z "${SHARED:-}" ]]; then
  if [[ -d "$repo/../shared/classbench" ]]; then SHARED="$repo/../shared"; else SHARED=/work/shared; fi
fi
DATA=${DATA:-$SHARED/classbench}
CONVERTER=${CONVERTER:-$SHARED/baselines/classbench_to_sg.py}
WORK=${WORK:-$(mktemp -d /tmp/compare_rte_acl.XXXXXX)}
OUT=${OUT:-$WORK/results}
ALG=${ALG:-avx512x32}
SECS=${SECS:-1}
MIN_TIME=${MIN_TIME:-1}
THREADS=${THREADS:-1 2}
REPEAT=${REPEAT:-1}
mkdir -p "$WORK" "$OUT"

for tool in python3 gcc pkg-config; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 1; }
done
[[ -d "$DATA" ]] || { echo "error: DATA=$DATA: no such folder (set SHARED or DATA)" >&2; exit 1; }
[[ -f "$CONVERTER" ]] || { echo "error: CONVERTER=$CONVERTER: not found" >&2; exit 1; }

if [[ -z "${ACL_BENCH:-}" ]]; then
  pkg-config --exists libdpdk || {
    echo "error: libdpdk not found: apt-get install -y --no-install-recommends libdpdk-dev pkg-config" >&2
    exit 1
  }
  src="$SHARED/baselines/rte_acl/acl_bench.c"
  [[ -f "$src" ]] || { echo "error: $src not found (set ACL_BENCH to a built acl_bench)" >&2; exit 1; }
  ACL_BENCH="$WORK/acl_bench"
  echo "building $ACL_BENCH from $src" >&2
  # shellcheck disable=SC2046
  gcc -O2 -march=native -Wall -o "$ACL_BENCH" "$src" $(pkg-config --cflags --libs libdpdk)
fi
# The machine's own 2-thread ceiling for cache-resident, high-IPC work (see core_scaling.c).
CORE_SCALING="$WORK/core_scaling"
gcc -O2 -Wall -pthread -o "$CORE_SCALING" "$repo/scripts/core_scaling.c"
if [[ -z "${SGSIM:-}" ]]; then
  (cd "$repo" && cargo build --release --quiet)
  SGSIM="$repo/target/release/sgsim"
fi

default_trace() {
  case "$1" in
    acl1_10k) echo acl1_10k_trace_synth ;;
    *_100k) echo "$1_trace.gz" ;;
    *) echo "$1_trace" ;;
  esac
}

# A plain copy of a possibly gzipped file, in WORK.
plain() {
  local src="$DATA/$1" dst="$WORK/plain/${1%.gz}"
  mkdir -p "$WORK/plain"
  if [[ ! -f "$dst" ]]; then
    if [[ "$1" == *.gz ]]; then gzip -dc "$src" > "$dst"; else cp "$src" "$dst"; fi
  fi
  echo "$dst"
}

sets=("$@")
[[ ${#sets[@]} -gt 0 ]] || sets=(acl1_1k fw1_1k ipc1_1k acl1_10k fw1_10k ipc1_10k)

{
  echo "# compare_rte_acl.sh $(date -u +%Y-%m-%dT%H:%MZ)"
  # The processor (/proc/cpuinfo "model name", family, model, stepping; `sgsim bench` names it
  # the same way with every figure below) and its vector extensions: margins over rte_acl depend
  # on them (issue 21), and a VM's model name alone can hide the generation.
  cpu_field() { sed -n "s/^$1[[:space:]]*: *//p" /proc/cpuinfo 2>/dev/null | head -1; }
  vector=$(grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | sort -u | paste -sd ' ' -)
  echo "# processor: $(cpu_field 'model name' | grep . || echo unknown) (family $(cpu_field 'cpu family') model $(cpu_field model) stepping $(cpu_field stepping)), $(nproc) CPUs, vector: ${vector:-none} (lscpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1))"
  echo "# sgsim: $("$SGSIM" --version) ($(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "# rte_acl: $(pkg-config --modversion libdpdk 2>/dev/null || echo '?'), method $ALG, batch 64, median of 3 x ${SECS}s"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') (other processes on a shared machine skew absolute figures)"
  echo "# at start, a register-only loop on 2 threads / 1: $("$CORE_SCALING")"
} > "$OUT/meta.txt"

for spec in "${sets[@]}"; do
  set_name=${spec%%:*}
  trace_name=$(default_trace "$set_name")
  [[ "$spec" == *:* ]] && trace_name=${spec#*:}
  rules_file=$set_name
  [[ -f "$DATA/$rules_file" ]] || rules_file="$set_name.gz"
  [[ -f "$DATA/$rules_file" ]] || { echo "error: $DATA/$set_name(.gz) not found" >&2; exit 1; }
  [[ -f "$DATA/$trace_name" ]] || { echo "error: $DATA/$trace_name not found" >&2; exit 1; }
  rules=$(plain "$rules_file")
  trace=$(plain "$trace_name")
  conv="$WORK/conv/$set_name"
  echo "== $set_name ($(grep -c '^@' "$rules") rules, $(wc -l < "$trace") headers from $trace_name)" >&2
  if [[ ! -f "$conv/sg_order.rules" ]]; then
    python3 "$CONVERTER" "$rules" "$trace" "$conv"
  fi
  mem=2048
  [[ "$set_name" == *_100k ]] && mem=16384
  for r in $(seq 1 "$REPEAT"); do
    for t in $THREADS; do
      lcores=0
      [[ "$t" -gt 1 ]] && lcores="0-$((t - 1))"
      echo "   run $r/$REPEAT: rte_acl, $t lcore(s)" >&2
      "$ACL_BENCH" --no-huge --no-pci -l "$lcores" -m "$mem" \
        --log-level=lib.eal:error --log-level=lib.acl:debug -- \
        "$conv/sg_order.rules" "$trace" 64 "$SECS" "$ALG" \
        > "$OUT/$set_name.rte_acl.$t.$r.txt" 2>&1 || {
          echo "error: acl_bench failed on $set_name, see $OUT/$set_name.rte_acl.$t.$r.txt" >&2
          exit 1
        }
    done
    echo "   run $r/$REPEAT: sgsim" >&2
    "$SGSIM" bench --classbench "$rules" "$trace" --json \
      --threads "$(echo "$THREADS" | tr ' ' ',')" --min-time "$MIN_TIME" \
      > "$OUT/$set_name.sgsim.$r.json" 2> "$OUT/$set_name.sgsim.$r.log" || {
        cat "$OUT/$set_name.sgsim.$r.log" >&2
        echo "error: sgsim bench failed on $set_name" >&2
        exit 1
      }
  done
done

{
  echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
  echo "# at end, a register-only loop on 2 threads / 1: $("$CORE_SCALING")"
} >> "$OUT/meta.txt"

python3 - "$OUT" "$REPEAT" "${sets[@]%%:*}" <<'PY' | tee "$OUT/table.txt"
import json, re, sys, os, statistics
out, repeat, sets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(open(os.path.join(out, "meta.txt")).read().rstrip())
head = ("set", "rules", "flows", "thr", "rte_acl M/s", "sgsim M/s", "sgsim/rte",
        "thr/1thr rte", "thr/1thr sgsim", "rte build s", "sgsim build ms", "rte mem MB",
        "sgsim mem MB", "check")
rows, problems = [], []

def rte_run(path):
    text = open(path).read()
    res = re.search(r"^RESULT .*$", text, re.M)
    if not res:
        problems.append(f"no RESULT line in {path}")
        return None
    kv = dict(x.split("=", 1) for x in res.group(0).split()[1:] if "=" in x)
    totals = re.findall(r"^total: (\d+) bytes", text, re.M)
    kv["memory"] = int(totals[-1]) if totals else 0
    return kv

def spread(ratios):
    """The median of per-run ratios, and their range when there are several."""
    text = f"{statistics.median(ratios):.2f}x"
    if len(ratios) > 1:
        text += f" ({min(ratios):.2f}-{max(ratios):.2f})"
    return text

def rte_runs(s, t):
    """rte_acl's runs on t lcores, or None per run without a RESULT."""
    return [rte_run(os.path.join(out, f"{s}.rte_acl.{t}.{r}.txt")) for r in range(1, repeat + 1)]

processors = set()
for s in sets:
    runs = [[json.loads(l) for l in open(os.path.join(out, f"{s}.sgsim.{r}.json")) if l.strip()]
            for r in range(1, repeat + 1)]
    processors.update(m.get("processor", "unknown (sgsim before issue 21)") for run in runs for m in run)
    single = next((k for k, m in enumerate(runs[0]) if m["threads"] == 1), None)
    rte_single = rte_runs(s, 1)
    for k, m in enumerate(runs[0]):
        t = m["threads"]
        sg = [run[k] for run in runs]
        rte = rte_runs(s, t)
        # Scaling: each run's t-thread rate over the same run's 1-thread rate (sgsim times its
        # thread counts in turns within one process; rte_acl's lcore counts are separate runs).
        rte_scaling = [float(x["Mlookups_per_s_median"]) / float(y["Mlookups_per_s_median"])
                       for x, y in zip(rte, rte_single) if x and y]
        sg_scaling = [] if single is None else [run[k]["flows_per_sec"] / run[single]["flows_per_sec"]
                                                for run in runs]
        rte = [x for x in rte if x]
        if not rte:
            continue
        rte_mps = statistics.median(float(x["Mlookups_per_s_median"]) for x in rte)
        sg_mps = statistics.median(x["flows_per_sec"] for x in sg) / 1e6
        ratios = [x["flows_per_sec"] / 1e6 / float(y["Mlookups_per_s_median"]) for x, y in zip(sg, rte)]
        checks = []
        for x, y in zip(sg, rte):
            if int(y["nomatch"]) != x["drop_default"] or int(y["verify_mismatch"]) != 0:
                checks.append(f"rte nomatch={y['nomatch']} verify_mismatch={y['verify_mismatch']}"
                              f" vs sgsim drop_default={x['drop_default']}")
        check = "ok" if not checks else "MISMATCH " + checks[0]
        if checks:
            problems.append(f"{s}: {check}")
        scaling = lambda r: "" if t == 1 or not r else spread(r)
        rows.append((s, m["rules"], m["flows"], t, f"{rte_mps:.2f}", f"{sg_mps:.2f}", spread(ratios),
                     scaling(rte_scaling), scaling(sg_scaling),
                     f"{statistics.median(float(x['build_s']) for x in rte):.3f}",
                     f"{statistics.median(x['build_ms'] for x in sg):.1f}",
                     f"{rte[0]['memory'] / 1e6:.2f}", f"{m['memory_bytes'] / 1e6:.2f}", check))
widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
fmt = "  ".join("{:>%d}" % w for w in widths)
print("# processor, as sgsim bench reported it with its figures: " + "; ".join(sorted(processors)))
print(fmt.format(*head))
for r in rows:
    print(fmt.format(*r))
print(f"(M/s = million lookups (rte_acl) or flows (sgsim) per second, all threads together; medians"
      f" of {repeat} alternating run(s), each rte_acl run itself a median of 3; sgsim/rte = median"
      f" of the per-run ratios (min-max); thr/1thr = median of each run's rate on thr threads over"
      f" its rate on 1 (sgsim times its thread counts in turns of 1/10 of the time, in one"
      f" process); check: rte_acl verified every key against its brute-force"
      f" scan and its unmatched keys == sgsim's drop_default; sgsim verified against its reference"
      f" evaluator before timing)")
for p in problems:
    print("PROBLEM:", p)
sys.exit(1 if problems else 0)
PY
echo "raw outputs: $OUT" >&2
