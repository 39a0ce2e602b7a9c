"""Engine.evaluate: Arrow in and out, row for row what `sgsim eval` answers."""

import threading
import time

import pyarrow as pa
import pytest

import flowgen
import sgsim
from conftest import VPC_WEB, answers_of, sgsim_eval


@pytest.fixture(scope="module")
def engine():
    return sgsim.Engine.load(VPC_WEB)


@pytest.fixture(scope="module")
def flows(tmp_path_factory):
    """20 000 random flows (2 % bad rows) and `sgsim eval`'s answers for them."""
    rows = flowgen.generate(VPC_WEB, 20_000, seed=7, bad=0.02)
    path = tmp_path_factory.mktemp("flows") / "flows.csv"
    flowgen.write_csv(rows, path)
    return rows, path


@pytest.fixture(scope="module")
def expected(flows, sgsim_bin):
    rows, path = flows
    return sgsim_eval(sgsim_bin, VPC_WEB, path)


def test_string_columns_equal_sgsim_eval_row_for_row(engine, flows, expected):
    rows, _ = flows
    answers, errors = expected
    result = engine.evaluate(flowgen.to_table(rows))
    assert result.num_rows == len(rows)
    assert result.column_names == ["verdict", "reason", "security_group_id", "rule_id", "error"]
    got_answers, got_errors = answers_of(result)
    assert got_answers == answers
    # `sgsim eval` reports its first 1000 bad rows on stderr, each with the message evaluate gives.
    assert 0 < len(errors) <= len(got_errors)
    for row, message in errors.items():
        assert got_errors[row] == message
    assert set(got_errors) == {i for i, answer in enumerate(answers) if answer[0] == "error"}
    verdicts = set(result.column("verdict").to_pylist())
    reasons = set(result.column("reason").to_pylist())
    assert verdicts == {"accept", "drop", "error"}
    assert {"rule", "default", "inner_access", "platform"} <= reasons


def test_empty_strings_and_nulls_are_the_same_empty_field(engine, flows, expected):
    rows, _ = flows
    with_nulls = answers_of(engine.evaluate(flowgen.to_table(rows, empty_as_null=True)))
    with_empty = answers_of(engine.evaluate(flowgen.to_table(rows, empty_as_null=False)))
    assert with_nulls == with_empty
    assert with_nulls[0] == expected[0]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_and_record_batches_give_the_same_rows(engine, flows, expected, threads):
    rows, _ = flows
    table = flowgen.to_table(rows)
    batch = table.combine_chunks().to_batches()[0]
    assert answers_of(engine.evaluate(batch, threads=threads))[0] == expected[0]
    # Several input batches of uneven sizes come back in order.
    uneven = pa.Table.from_batches([batch.slice(0, 1), batch.slice(1, 9_000), batch.slice(9_001)])
    assert answers_of(engine.evaluate(uneven, threads=threads))[0] == expected[0]


def test_integer_large_string_view_and_dictionary_columns(engine, flows, expected):
    rows, _ = flows
    table = flowgen.to_table(rows)
    # Ports as integers: only rows whose ports are integers or empty.
    keep = [i for i, row in enumerate(rows) if all(p == "" or p.lstrip("-").isdigit() for p in (row[4], row[6]))]
    keep = [i for i in keep if all(p == "" or 0 <= int(p) < 2**31 for p in (rows[i][4], rows[i][6]))]
    subset = table.take(keep)
    as_int = subset.set_column(4, "src_port", subset.column("src_port").cast(pa.int32()))
    as_int = as_int.set_column(6, "dst_port", subset.column("dst_port").cast(pa.int64()))
    assert answers_of(engine.evaluate(as_int))[0] == [expected[0][i] for i in keep]
    large = pa.Table.from_arrays([c.cast(pa.large_string()) for c in table.columns], names=table.column_names)
    assert answers_of(engine.evaluate(large))[0] == expected[0]
    view = pa.Table.from_arrays([c.cast(pa.string_view()) for c in table.columns], names=table.column_names)
    assert answers_of(engine.evaluate(view))[0] == expected[0]
    encoded = pa.Table.from_arrays([c.dictionary_encode() for c in table.columns], names=table.column_names)
    assert answers_of(engine.evaluate(encoded))[0] == expected[0]
    # Columns in another order, and extra columns, change nothing.
    shuffled = table.select(list(reversed(table.column_names))).append_column("extra", pa.array(range(len(rows))))
    assert answers_of(engine.evaluate(shuffled))[0] == expected[0]


def test_protocol_numbers_as_integers(engine):
    table = pa.table({
        "nic_id": ["eni-web1", "eni-web1"], "direction": ["ingress", "ingress"], "protocol": pa.array([6, 1], pa.uint8()),
        "src_ip": ["203.0.113.9", "10.0.2.10"], "src_port": pa.array([None, None], pa.int32()),
        "dst_ip": ["10.0.1.10", "10.0.1.10"], "dst_port": pa.array([443, None], pa.int32()),
    })
    rows = engine.evaluate(table).to_pylist()
    assert rows[0]["verdict"] == "accept" and rows[0]["rule_id"] == "sgr-web-https"
    assert rows[1]["verdict"] == "accept" and rows[1]["reason"] == "rule"


def test_bad_rows_are_errors_not_exceptions(engine):
    table = pa.table({
        "nic_id": ["eni-web1", "eni-nope", "eni-web1"], "direction": ["ingress"] * 3, "protocol": ["tcp"] * 3,
        "src_ip": ["203.0.113.9"] * 3, "src_port": [None] * 3, "dst_ip": ["10.0.1.10"] * 3,
        "dst_port": ["443", "443", "99999"],
    }, schema=pa.schema([(c, pa.string()) for c in sgsim.INPUT_COLUMNS]))
    rows = engine.evaluate(table).to_pylist()
    assert rows[0] == {"verdict": "accept", "reason": "rule", "security_group_id": "sg-web",
                       "rule_id": "sgr-web-https", "error": None}
    assert rows[1]["verdict"] == "error" and rows[1]["error"].startswith('nic_id: no network interface "eni-nope"')
    assert rows[1]["reason"] is None and rows[1]["rule_id"] is None
    assert rows[2] == {"verdict": "error", "reason": None, "security_group_id": None, "rule_id": None,
                       "error": 'dst_port "99999": not a port number 0..65535'}


def test_missing_and_mistyped_columns_raise_flow_error(engine):
    table = flowgen.to_table([("eni-web1", "ingress", "tcp", "203.0.113.9", "", "10.0.1.10", "443")])
    with pytest.raises(sgsim.FlowError) as caught:
        engine.evaluate(table.drop_columns(["dst_port"]))
    assert caught.value.field == "dst_port"
    assert "missing" in str(caught.value) and "nic_id, direction" in str(caught.value)
    floats = table.set_column(6, "dst_port", pa.array([443.0]))
    with pytest.raises(sgsim.FlowError) as caught:
        engine.evaluate(floats)
    assert caught.value.field == "dst_port" and "Float64" in str(caught.value)
    with pytest.raises(ValueError):
        engine.evaluate(table, threads=0)
    with pytest.raises(TypeError):
        engine.evaluate([1, 2, 3])


def test_empty_input_gives_an_empty_table(engine):
    empty = flowgen.to_table([])
    result = engine.evaluate(empty)
    assert result.num_rows == 0
    assert result.column_names == ["verdict", "reason", "security_group_id", "rule_id", "error"]


def test_the_gil_is_released_while_evaluating(engine):
    """Another Python thread keeps running while evaluate works: the longest pause it sees is
    far shorter than the evaluation."""
    table = flowgen.to_table(flowgen.generate(VPC_WEB, 20_000, seed=3, bad=0))
    table = pa.concat_tables([table] * 100)  # 2 000 000 rows
    done = threading.Event()
    spans = {}

    def evaluate():
        start = time.perf_counter()
        engine.evaluate(table, threads=1)
        spans["evaluate"] = time.perf_counter() - start
        done.set()

    worker = threading.Thread(target=evaluate)
    last = time.perf_counter()
    longest = 0.0
    worker.start()
    while not done.is_set():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    worker.join()
    assert spans["evaluate"] > 0.05
    assert longest < spans["evaluate"] / 2, (longest, spans)
