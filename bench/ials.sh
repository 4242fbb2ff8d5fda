#!/usr/bin/env bash
# Benchmark of implicit ALS at MovieLens-32M's shape, side by side in one run with the
# `implicit` library (CPU, conjugate gradient; pinned in bench/requirements.txt): the synthetic
# data with 200,000 users, 87,000 movies and 32 million ratings, split 80/20 (seed 42), 64
# factors, 15 iterations, 3 CG steps, regularization 0.05, the same confidences, 2 threads.
# Prints one JSON line per library (fit seconds, updates per second, NDCG@10 and precision@10
# on the held-out ratings of every 200th user, measured by the same code) and the process's
# peak memory. Usage: bench/ials.sh [key=value ...] (passed on to the ials_bench example;
# `scale=1` for the seed's shape).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/tools.sh"
ensure_venv "$root/.venv-bench" "$root/bench/requirements.txt" >&2
cargo build --release --locked --manifest-path "$root/Cargo.toml" -p movierec-core --example ials_bench >&2
# implicit asks for single-threaded BLAS; its own threads are num_threads.
export OPENBLAS_NUM_THREADS=1
/usr/bin/time -f '{"peak resident memory (KB), the larger of ours and the Python child'"'"'s": %M}' \
    "$(release_dir "$root")/examples/ials_bench" scale=14.955 movies=87000 ratings_per_user=160 \
    factors=64 iterations=15 threads=2 sample=200 python="$root/.venv-bench/bin/python" "$@"
