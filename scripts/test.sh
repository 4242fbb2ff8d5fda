#!/usr/bin/env bash
# Command two: runs every test. Installs what the tests drive (DVC, numpy, scikit-surprise,
# pinned, in .venv; MovieLens-100k, from the pinned recbole wheel into a cache), checks
# formatting, builds once in release mode (the profile the pipeline runs, so the tests and
# the pipeline share one build), lints, runs the Rust tests,
# then the API's property-based test (schemathesis, in .venv-api), the web page in a real
# browser (Debian's Chromium, Selenium in .venv-web, axe-core from PyPI), `serve` under more
# load than it can answer (Debian's wrk), the MLflow tracking tests (a real MLflow server, in
# .venv-mlflow, and faults injected in front of it), the monitoring tests (a real Prometheus,
# Debian's package), the Airflow DAG tests (a real Airflow, in .venv-airflow), the container
# checks (hadolint and Docker Compose in .venv-docker; Debian's buildah builds and runs the
# images), the DVC remote tests (a real S3 server, SeaweedFS, in .venv-s3, stopped mid-transfer
# too), the DVC pipeline tests (on every instruction set the CPU runs), and the faults (stages
# killed, a full disk).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
source scripts/tools.sh
ensure_tools "$root"
export MOVIEREC_PYTHON=$root/.venv/bin/python
# MovieLens-100k for the ranking tests, fetched into the user's cache (never committed).
export MOVIEREC_ML100K=$(ensure_ml100k "$root")
# The MLflow server the tracking tests start.
ensure_venv "$root/.venv-mlflow" "$root/requirements/mlflow.txt"
export MOVIEREC_MLFLOW=$root/.venv-mlflow/bin/mlflow

cargo fmt --all --check
cargo build --release --locked --workspace
cargo clippy --release --locked --workspace --all-targets --quiet -- -D warnings
cargo test --release --locked --workspace
# run_test SCRIPT: runs one test script with a bound (30 minutes; the longest, pipeline.sh, takes
# about 4 warm), so that a hung server fails its test by name instead of stalling CI, and
# says how long it took.
run_test() {
    local start=$SECONDS status=0
    timeout --kill-after=30 1800 "$1" || status=$?
    ((status != 124 && status != 137)) || echo "$1: stopped after 30 minutes" >&2
    echo "$1: $((SECONDS - start)) s" >&2
    return "$status"
}
for t in api_schema web overload tracking monitoring airflow docker remote pipeline faults; do
    run_test "tests/$t.sh"
done
