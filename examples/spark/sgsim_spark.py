"""Evaluate flow records with sgsim on a Spark cluster.

Reads flow records (Parquet, or CSV with a header) that have the columns of the `sgsim eval`
CSV — nic_id, direction, protocol, src_ip, src_port, dst_ip, dst_port; other columns are kept —
from any URI Spark reads, evaluates them against one snapshot with `mapInArrow` on every
executor, and writes the input columns plus verdict, reason, security_group_id, rule_id and
error as Parquet. Prints the number of flows per verdict and reason.

The snapshot is shipped once per executor with SparkFiles; each Python worker loads it once.

    spark-submit --master local[2] examples/spark/sgsim_spark.py \\
        --snapshot examples/vpc-web.json --input flows.parquet --output verdicts.parquet
"""

import argparse
import os
from typing import Iterator, List, Optional, Tuple

import pyarrow as pa
from pyspark import SparkFiles
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

FLOW_COLUMNS = ["nic_id", "direction", "protocol", "src_ip", "src_port", "dst_ip", "dst_port"]
VERDICT_COLUMNS = ["verdict", "reason", "security_group_id", "rule_id", "error"]

# One engine per Python worker process and snapshot (workers are reused across tasks).
_ENGINES = {}


def _engine(snapshot_name: str, platform_rules: bool, internet: bool):
    import sgsim  # on the executors: the wheel shipped with the job

    key = (snapshot_name, platform_rules, internet)
    if key not in _ENGINES:
        _ENGINES[key] = sgsim.Engine.load(
            SparkFiles.get(snapshot_name), platform_rules=platform_rules, internet=internet
        )
    return _ENGINES[key]


def evaluate_partition(
    snapshot_name: str, platform_rules: bool = True, internet: bool = False, threads: int = 1
):
    """The mapInArrow function: each input batch comes back with the verdict columns added."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        engine = _engine(snapshot_name, platform_rules, internet)
        for batch in batches:
            verdicts = engine.evaluate(batch, threads=threads)
            columns = list(batch.columns)
            for name in VERDICT_COLUMNS:
                column = verdicts.column(name).combine_chunks()
                # Spark may hand strings over as large_string; answer in the same layout.
                columns.append(column.cast(batch.schema.field("nic_id").type)
                               if pa.types.is_large_string(batch.schema.field("nic_id").type) else column)
            yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names + VERDICT_COLUMNS)

    return run


def read_flows(spark: SparkSession, uri: str, input_format: str) -> DataFrame:
    """Parquet as stored; CSV with every column as text (empty fields are nulls), so that ports
    such as "0022" reach sgsim as written."""
    if input_format == "parquet":
        flows = spark.read.parquet(uri)
    elif input_format == "csv":
        flows = spark.read.option("header", True).option("inferSchema", False).csv(uri)
    else:
        raise ValueError(f"--format {input_format!r}: expected parquet or csv")
    missing = [c for c in FLOW_COLUMNS if c not in flows.columns]
    if missing:
        raise ValueError(
            f"{uri}: missing column(s) {', '.join(missing)}: expected {', '.join(FLOW_COLUMNS)} (found {', '.join(flows.columns)})"
        )
    return flows


def evaluate_flows(
    spark: SparkSession,
    flows: DataFrame,
    snapshot_path: str,
    platform_rules: bool = True,
    internet: bool = False,
) -> DataFrame:
    """`flows` plus the verdict columns, evaluated on the executors."""
    spark.sparkContext.addFile(snapshot_path)
    if __name__ != "__main__":
        # Imported (as the tests do): the executors import this module to unpickle the function.
        spark.sparkContext.addPyFile(os.path.abspath(__file__))
    schema = StructType(
        flows.schema.fields + [StructField(name, StringType(), name != "verdict") for name in VERDICT_COLUMNS]
    )
    function = evaluate_partition(os.path.basename(snapshot_path), platform_rules, internet)
    return flows.mapInArrow(function, schema)


def run_job(
    spark: SparkSession,
    snapshot_path: str,
    input_uri: str,
    output_uri: str,
    input_format: str = "parquet",
    platform_rules: bool = True,
    internet: bool = False,
) -> List[Tuple[str, Optional[str], int]]:
    """Reads, evaluates and writes; returns (verdict, reason, flows) sorted, as printed."""
    flows = read_flows(spark, input_uri, input_format)
    evaluate_flows(spark, flows, snapshot_path, platform_rules, internet).write.mode("overwrite").parquet(output_uri)
    counts = (
        spark.read.parquet(output_uri)
        .groupBy("verdict", "reason")
        .agg(F.count(F.lit(1)).alias("flows"))
        .orderBy("verdict", "reason")
        .collect()
    )
    return [(row["verdict"], row["reason"], row["flows"]) for row in counts]


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshot", required=True, help="snapshot JSON (a local path or any URI addFile takes)")
    parser.add_argument("--input", required=True, help="flow records: a file or directory URI")
    parser.add_argument("--output", required=True, help="where the Parquet output goes (overwritten)")
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"], help="input format")
    parser.add_argument("--no-platform-rules", action="store_true", help="turn off the TCP 25 block (S13)")
    parser.add_argument("--internet", action="store_true", help="classic network: the internet side (S9)")
    args = parser.parse_args(argv)
    spark = SparkSession.builder.appName("sgsim-evaluate").getOrCreate()
    try:
        counts = run_job(spark, args.snapshot, args.input, args.output, args.format,
                         not args.no_platform_rules, args.internet)
    finally:
        spark.stop()
    print(f"{'verdict':<8} {'reason':<13} flows")
    for verdict, reason, flows in counts:
        print(f"{verdict:<8} {reason or '':<13} {flows}")


if __name__ == "__main__":
    main()
