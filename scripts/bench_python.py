#!/usr/bin/env python3
"""Benchmark of the Python package: `engine.evaluate` on string columns against `sgsim eval` on
the same rows as CSV, on 1 and 2 threads in turns in the same run; then the Spark job's rows
per second in local[2].

    python scripts/bench_python.py [--rows 1000000] [--repeat 5] [--spark-rows 1000000] [--no-spark]

Needs the package installed (`pip install ./bindings/python`), pyarrow, pyspark and pandas for
the Spark part, and a release build of the command (`cargo build --release`). Both sides are
checked to give the same verdicts before anything is timed. Not a test: the figures depend on
the machine.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def processor():
    """The processor as `sgsim bench` names it: model name, family, model and stepping (a VM's
    model name alone can hide the generation)."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown"
    name = fields.get("model name") or "unknown"
    if all(fields.get(k) for k in ("cpu family", "model", "stepping")):
        name += f" (family {fields['cpu family']} model {fields['model']} stepping {fields['stepping']})"
    return name
sys.path.insert(0, str(REPO / "bindings" / "python" / "tests"))
sys.path.insert(0, str(REPO / "examples" / "spark"))

import flowgen  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pcsv  # noqa: E402

import sgsim  # noqa: E402


def read_as_strings(path: Path) -> pa.Table:
    """The CSV as a Table of string columns, as flow logs have them (empty fields null)."""
    options = pcsv.ConvertOptions(column_types={c: pa.string() for c in flowgen.COLUMNS}, strings_can_be_null=True)
    return pcsv.read_csv(path, convert_options=options).combine_chunks()


def time_cli(binary: Path, snapshot: Path, flows: Path, threads: int) -> float:
    start = time.perf_counter()
    subprocess.run([str(binary), "eval", str(snapshot), str(flows), "--threads", str(threads)],
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def time_evaluate(engine, table: pa.Table, threads: int) -> float:
    start = time.perf_counter()
    engine.evaluate(table, threads=threads)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed turns per side and thread count")
    parser.add_argument("--spark-rows", type=int, default=1_000_000)
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--snapshot", type=Path, default=REPO / "examples" / "vpc-web.json")
    parser.add_argument("--sgsim", type=Path, default=REPO / "target" / "release" / "sgsim")
    args = parser.parse_args()
    if not args.sgsim.exists():
        sys.exit(f"{args.sgsim}: no such file; run `cargo build --release` first")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        flows = tmp / "flows.csv"
        flowgen.write_csv(flowgen.generate(args.snapshot, args.rows, seed=1, bad=0), flows)
        table = read_as_strings(flows)
        engine = sgsim.Engine.load(args.snapshot)

        # Same verdicts first.
        cli = subprocess.run([str(args.sgsim), "eval", str(args.snapshot), str(flows)],
                             capture_output=True, text=True, check=True).stdout.splitlines()[1:]
        result = engine.evaluate(table)
        columns = [result.column(c).to_pylist() for c in ("verdict", "reason", "security_group_id", "rule_id")]
        ours = [",".join(v or "" for v in row) for row in zip(*columns)]
        assert ours == [",".join(line.split(",")[7:]) for line in cli], "evaluate and sgsim eval disagree"

        times = {(side, t): [] for side in ("evaluate", "sgsim eval") for t in (1, 2)}
        for _ in range(args.repeat):  # in turns, so that both sides see the same machine
            for threads in (1, 2):
                times[("evaluate", threads)].append(time_evaluate(engine, table, threads))
                times[("sgsim eval", threads)].append(time_cli(args.sgsim, args.snapshot, flows, threads))
        print(f"processor: {processor()}")
        print(f"{args.rows} rows, {args.snapshot.name}, {args.repeat} turns each "
              f"(sgsim eval: process start, load and CSV in and out included)")
        print(f"{'':<12} {'threads':>7} {'median s':>9} {'min s':>7} {'M rows/s (median)':>18}")
        for (side, threads), runs in sorted(times.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            median = statistics.median(runs)
            print(f"{side:<12} {threads:>7} {median:>9.3f} {min(runs):>7.3f} {args.rows / median / 1e6:>18.2f}")
        for threads in (1, 2):
            ratio = statistics.median(times[("sgsim eval", threads)]) / statistics.median(times[("evaluate", threads)])
            print(f"evaluate is {ratio:.2f}x sgsim eval's speed on {threads} thread(s)")

        if not args.no_spark:
            spark_rows_per_second(args.snapshot, args.spark_rows, tmp)


def spark_rows_per_second(snapshot: Path, rows: int, tmp: Path) -> None:
    import os

    import pyarrow.parquet as pq
    from pyspark.sql import SparkSession

    import sgsim_spark

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    table = flowgen.to_table(flowgen.generate(snapshot, rows, seed=2, bad=0))
    input_dir = tmp / "flows.parquet"
    input_dir.mkdir()
    parts = 8
    for part in range(parts):
        pq.write_table(table.slice(part * rows // parts, rows // parts), input_dir / f"part-{part}.parquet")
    spark = (SparkSession.builder.master("local[2]").appName("sgsim-bench")
             .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
    try:
        # A first run warms the JVM and the Python workers up; the second is timed.
        sgsim_spark.run_job(spark, str(snapshot), str(input_dir), str(tmp / "warm.parquet"))
        start = time.perf_counter()
        counts = sgsim_spark.run_job(spark, str(snapshot), str(input_dir), str(tmp / "out.parquet"))
        seconds = time.perf_counter() - start
    finally:
        spark.stop()
    assert sum(n for _, _, n in counts) == rows // parts * parts
    print(f"Spark job, local[2], {rows // parts * parts} rows in {parts} Parquet files: {seconds:.2f} s, "
          f"{rows / seconds / 1e6:.2f} M rows/s (read, evaluate, write Parquet, count per verdict and reason)")


if __name__ == "__main__":
    main()
