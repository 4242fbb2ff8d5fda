#!/usr/bin/env bash
# Command one: installs what is missing (a pinned DVC in .venv, with uv), builds the stages
# in release mode, runs the whole pipeline with `dvc repro` on the embedded default data, and
# ends with the run's key numbers and, when a DVC remote is configured, a push of the outputs
# (scripts/finish.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
source scripts/tools.sh
ensure_tools "$root"

cargo build --release --locked
dvc repro

scripts/finish.sh
