#!/usr/bin/env bash
# CI step for the Python package and the Spark job (called by .ci/run after `cargo test
# --release`, whose target/release/sgsim the tests compare against; they build it if missing): a fresh virtual environment,
# the wheel built from this checkout, pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
cargo fmt --manifest-path bindings/python/Cargo.toml -- --check
venv="${TMPDIR:-/tmp}/sgsim-ci-venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check maturin pyarrow pytest pyspark "pandas<3"
# Spark needs a Java runtime (17 or later); install the OS's when there is none.
if ! command -v java >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
fi
PYO3_PYTHON="$venv/bin/python" cargo clippy --manifest-path bindings/python/Cargo.toml --all-targets -- -D warnings
# The README's install line: builds the abi3 wheel with maturin (release) and installs it.
"$venv/bin/pip" install -q --disable-pip-version-check ./bindings/python
echo "python step: set up in $((SECONDS - start)) s"
"$venv/bin/python" -m pytest -q -p no:cacheprovider bindings/python/tests
echo "python step: $((SECONDS - start)) s in all"
