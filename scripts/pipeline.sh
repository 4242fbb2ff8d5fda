#!/usr/bin/env bash
# Command one: installs what is missing (a pinned DVC in .venv, with uv), builds the stages
# in release mode, and runs the whole pipeline with `dvc repro` on the embedded default data.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
source scripts/tools.sh
ensure_tools "$root"

cargo build --release --locked
dvc repro

cat <<'DONE'

The pipeline ran. Its outputs:
  data/loaded/                          ratings, users and movies tables (Parquet)
  data/prepared/                        training and test sets (Parquet)
  models/model.bin                      the model `train` fitted and `evaluate` measured
  models/serve.bin                      the model to serve: `optimize`'s best, fitted on all ratings
  data/predictions/recommendations.csv  every user's top movies among those not yet rated
  metrics/                              every stage's report, and the plots' data (`dvc plots show`)
Serve them over HTTP: cargo run --release --bin serve   (then open http://127.0.0.1:8000/docs/)
DONE
dvc metrics show
