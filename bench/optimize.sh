#!/usr/bin/env bash
# Benchmark of `optimize` and `predict`, release build, seed-scale synthetic data:
# 1. a subset grid (4 SVD candidates, and the top-N kinds' 17, x 3 folds), side by side in one run: our `optimize`, and
#    scikit-surprise's GridSearchCV with one job and with all cores (bench/grid_baseline.py);
# 2. the default grid (SVD's 81 candidates and the top-N kinds' 17 x 3 folds), then its 81
#    SVD candidates alone, ours only;
# 3. `predict` for every user, top 10 (median of 5 runs).
# Prints JSON lines. Usage: bench/optimize.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/tools.sh"
ensure_venv "$root/.venv-bench" "$root/bench/requirements.txt" >&2
cargo build --release --locked --manifest-path "$root/Cargo.toml" >&2
cargo build --release --locked --manifest-path "$root/Cargo.toml" -p movierec-core --example fit_bench >&2
target=${CARGO_TARGET_DIR:-$root/target}
[[ $target == /* ]] || target=$root/$target
bin=$target/release

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$bin/examples/fit_bench" 1 --tsv ratings.tsv >/dev/null
printf 'load:\n  synthetic: {seed: 42, scale: 1}\nprepare: {seed: 42}\n' >params.yaml
"$bin/load" -q --ratings r.parquet --users u.parquet --movies m.parquet --report l.json
"$bin/prepare" -q --ratings r.parquet --train train.parquet --test test.parquet --report p.json

optimize() {
    local start end
    start=$(date +%s.%N)
    "$bin/optimize" -q --train train.parquet --test test.parquet --ratings r.parquet \
        --model serve.bin --report o.json --candidates c.csv
    end=$(date +%s.%N)
    python3 -c "import json,sys; r=json.load(open('o.json')); print(json.dumps({'tool': 'movierec optimize, ' + sys.argv[3], 'candidates': r['candidates'], 'folds': r['cv'], 'seconds': round(float(sys.argv[2]) - float(sys.argv[1]), 2), 'search_seconds': round(r['search_seconds'], 2), 'best_params': {k: r['best_params'][k] for k in ('n_factors', 'n_epochs', 'lr_all', 'reg_all')}, 'best_rmse': round(r['best_score']['rmse'], 4)}))" "$start" "$end" "$1"
}

cat >>params.yaml <<'YAML'
optimize:
  seed: 42
  space: {n_factors: [50, 100], n_epochs: [20], lr_all: [0.003, 0.005], reg_all: [0.05]}
YAML
optimize "subset grid, 2 threads"
"$root/.venv-bench/bin/python" "$root/bench/grid_baseline.py" ratings.tsv 1
"$root/.venv-bench/bin/python" "$root/bench/grid_baseline.py" ratings.tsv -1

printf 'load:\n  synthetic: {seed: 42, scale: 1}\nprepare: {seed: 42}\n' >params.yaml
optimize "default grid, 2 threads"
# The default grid's SVD part alone (issue 16's "81 candidates x 3 folds"): measured by RMSE,
# the search leaves the top-N kinds aside.
printf 'optimize: {measure: rmse}\n' >>params.yaml
optimize "default SVD grid (measure rmse), 2 threads"

: >predict.t
for _ in 1 2 3 4 5; do
    /usr/bin/time -f '%e %M' -a -o predict.t "$bin/predict" -q --model serve.bin --ratings r.parquet --users u.parquet \
        --movies m.parquet --out rec.csv --report pr.json
done
sort -n predict.t | awk '{a[NR]=$1; m[NR]=$2} END {printf "{\"tool\": \"movierec predict, every user, top 10\", \"median_seconds\": %s, \"peak_mb\": %d}\n", a[3], m[NR] / 1024}'
