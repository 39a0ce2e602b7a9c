"""Shared fixtures: the repository's examples and the `sgsim` command, whose answers the
package must equal."""

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
VPC_WEB = EXAMPLES / "vpc-web.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def sgsim_binary() -> Path:
    """$SGSIM_BIN, else the repository's release build (built here if missing)."""
    if os.environ.get("SGSIM_BIN"):
        return Path(os.environ["SGSIM_BIN"])
    binary = REPO / "target" / "release" / "sgsim"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "sgsim"], cwd=REPO, check=True)
    return binary


@pytest.fixture(scope="session")
def sgsim_bin() -> Path:
    return sgsim_binary()


def run_sgsim(binary: Path, *args, ok_codes=(0,)) -> subprocess.CompletedProcess:
    result = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True)
    assert result.returncode in ok_codes, f"sgsim {args}: exit {result.returncode}\n{result.stderr}"
    return result


def sgsim_eval(binary: Path, snapshot: Path, flows_csv: Path, threads: int = 2):
    """`sgsim eval`'s answer per row: (verdict, reason, security_group_id, rule_id) with ""
    for empty fields, and {row index: message} for the bad rows it reports."""
    result = run_sgsim(binary, "eval", snapshot, flows_csv, "--threads", threads, ok_codes=(0, 1))
    reader = csv.reader(io.StringIO(result.stdout))
    next(reader)
    answers = [tuple(row[7:11]) for row in reader]
    errors = {}
    row_error = re.compile(re.escape(f"{flows_csv}:") + r"(\d+): (.*)")
    for line in result.stderr.splitlines():
        match = row_error.fullmatch(line)
        if match:
            errors[int(match.group(1)) - 2] = match.group(2)
    return answers, errors


def answers_of(table):
    """The same tuples from `Engine.evaluate`'s output, and {row index: error message}."""
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    answers = [
        tuple(v if v is not None else "" for v in row)
        for row in zip(columns["verdict"], columns["reason"], columns["security_group_id"], columns["rule_id"])
    ]
    errors = {i: message for i, message in enumerate(columns["error"]) if message is not None}
    return answers, errors
