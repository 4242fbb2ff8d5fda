#!/usr/bin/env bash
# Benchmark of the rankings, side by side in one run, on MovieLens-100k (fetched from the
# pinned recbole wheel into a cache, never committed) and on the default synthetic data:
# each split 80/20 as `prepare` does (seed 42), every ranking measured on the held-out ratings
# with the definitions `evaluate` uses (K = 10; relevant: a score of at least 4 on MovieLens,
# 60 on the synthetic data): SVD's predicted relevance, the most-rated and damped-mean lists,
# EASE (λ 500), implicit ALS (the kind's defaults), and each top-N model's best 20 or 50
# re-ordered by predicted relevance. Then the fit time of EASE at the seed's 385 movies, the
# median of RUNS fits. Prints tab-separated tables. Usage: bench/ranking.sh [RUNS] (default 5).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-5}
source "$root/scripts/tools.sh"
ml100k=$(ensure_ml100k "$root")
cargo build --release --locked --manifest-path "$root/Cargo.toml" -p movierec-core --example ranking_bench >&2
bench=$(release_dir "$root")/examples/ranking_bench

echo "# MovieLens-100k"
"$bench" "$ml100k"
echo "# synthetic (seed-scale default data)"
"$bench" synthetic
echo "# EASE fit seconds at 385 movies, $runs runs"
for ((i = 0; i < runs; i++)); do
    "$bench" synthetic only=ease 2>/dev/null | awk -F'\t' '$1 == "ease" { print $9 }'
done | sort -n | awk '{ v[NR] = $1 } END { print "median", v[int((NR + 1) / 2)] }'
