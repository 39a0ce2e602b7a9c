"""The Spark job (examples/spark/sgsim_spark.py) in local[2] mode: on 100 000 generated flows
in several partitions, its verdicts are `sgsim eval`'s, row for row."""

import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flowgen
from conftest import REPO, VPC_WEB, answers_of, sgsim_eval

sys.path.insert(0, str(REPO / "examples" / "spark"))
import sgsim_spark  # noqa: E402

ROWS = 100_000


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    # The workers must import the sgsim this interpreter has.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    # Local mode talks to itself only: keep Spark on the loopback interface.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("sgsim-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        # Small splits and Arrow batches: several partitions, several batches in each.
        .config("spark.sql.files.maxPartitionBytes", "262144")
        .config("spark.sql.files.openCostInBytes", "65536")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "4096")
        .getOrCreate()
    )
    yield session
    session.stop()


def expected_rows(sgsim_bin, rows, tmp_path):
    path = tmp_path / "flows.csv"
    flowgen.write_csv(rows, path)
    answers, errors = sgsim_eval(sgsim_bin, VPC_WEB, path)
    assert len(answers) == len(rows)
    return answers, errors, path


def test_parquet_job_equals_sgsim_eval_row_for_row(spark, sgsim_bin, tmp_path):
    rows = flowgen.generate(VPC_WEB, ROWS, seed=2026, bad=0.01)
    answers, errors, _ = expected_rows(sgsim_bin, rows, tmp_path)
    table = flowgen.to_table(rows).append_column("row", pa.array(range(ROWS), pa.int64()))
    input_dir = tmp_path / "flows.parquet"
    input_dir.mkdir()
    quarter = ROWS // 4
    for part in range(4):
        pq.write_table(table.slice(part * quarter, quarter), input_dir / f"part-{part}.parquet")

    partitions = sgsim_spark.read_flows(spark, str(input_dir), "parquet").rdd.getNumPartitions()
    assert partitions >= 4
    output = tmp_path / "verdicts.parquet"
    counts = sgsim_spark.run_job(spark, str(VPC_WEB), str(input_dir), str(output))

    result = pq.read_table(output).sort_by("row")
    assert result.column("row").to_pylist() == list(range(ROWS))
    # The input columns come back as they went in.
    for column in flowgen.COLUMNS:
        assert result.column(column).to_pylist() == table.column(column).to_pylist()
    got_answers, got_errors = answers_of(result)
    assert got_answers == answers
    for row, message in errors.items():
        assert got_errors[row] == message
    # The counts the job prints are those of the rows.
    tally = {}
    for verdict, reason, *_ in answers:
        tally[(verdict, reason or None)] = tally.get((verdict, reason or None), 0) + 1
    assert {(v, r): n for v, r, n in counts} == tally
    assert {v for v, _, _ in counts} == {"accept", "drop", "error"}


def test_csv_job_equals_sgsim_eval(spark, sgsim_bin, tmp_path):
    rows = flowgen.generate(VPC_WEB, 3_000, seed=5, bad=0.03)
    answers, _, csv_path = expected_rows(sgsim_bin, rows, tmp_path)
    output = tmp_path / "verdicts.parquet"
    sgsim_spark.run_job(spark, str(VPC_WEB), str(csv_path), str(output), input_format="csv")
    # Rows of a single small CSV keep their order through one partition.
    result = pq.read_table(output)
    assert result.num_rows == len(rows)
    keyed = {}
    for i, row in enumerate(zip(*(result.column(c).to_pylist() for c in flowgen.COLUMNS))):
        keyed.setdefault(tuple(v or "" for v in row), set()).add(answers_of(result)[0][i])
    for row, answer in zip(rows, answers):
        assert keyed[tuple(row)] == {answer}


def test_missing_columns_are_refused(spark, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("nic_id,direction\neni-web1,ingress\n")
    with pytest.raises(ValueError, match="missing column"):
        sgsim_spark.read_flows(spark, str(path), "csv")
