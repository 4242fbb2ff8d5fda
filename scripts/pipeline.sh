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
  data/loaded/    ratings, users and movies tables (Parquet)
  data/prepared/  training and test sets (Parquet)
  metrics/        load.json and prepare.json
DONE
dvc metrics show
