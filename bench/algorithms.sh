#!/usr/bin/env bash
# Benchmark of Surprise's eleven algorithms, side by side in one run with scikit-surprise
# 1.1.5 on the same data: MovieLens-100k and the seed-scale synthetic data, 80/20 split
# (fit and test timed apart, medians of RUNS runs), then MovieLens-100k in 5-fold
# cross-validation as Surprise's own benchmark table. Defaults everywhere; the k-NN family is
# item-based on the synthetic data (13,373 users). One thread on our side, as Surprise (the fit
# also on two). Each algorithm runs on our side then on Surprise's, before the next one.
# Prints a Markdown table per part. Usage: bench/algorithms.sh [RUNS] (default 3).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-3}
source "$root/scripts/tools.sh"
ensure_venv "$root/.venv-bench" "$root/bench/requirements.txt" >&2
ml100k=$(ensure_ml100k "$root")
cargo build --release --locked --manifest-path "$root/Cargo.toml" -p movierec-core --example algorithms_bench >&2
target=${CARGO_TARGET_DIR:-$root/target}
[[ $target == /* ]] || target=$root/$target
bench=$target/release/examples/algorithms_bench
python=$root/.venv-bench/bin/python

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The algorithms, in Surprise's side's order.
names=$(cd "$root/bench" && "$python" -c 'from surprise_algorithms import NAMES; print(*NAMES)')
side_by_side() { # DATA MODE LOW HIGH ITEM_BASED
    local data=$1 mode=$2 low=$3 high=$4 item_based=$5 name
    # The ratings for the Python side (no algorithm runs), then each algorithm on our side and
    # on Surprise's one after the other, so both sides of a row are measured within seconds of
    # each other (this machine's speed drifts over minutes).
    "$bench" "$data" "$mode" 1 none --tsv "$work/ratings.tsv"
    : >"$work/ours.jsonl"
    : >"$work/theirs.jsonl"
    for name in $names; do
        "$bench" "$data" "$mode" "$runs" "$name" >>"$work/ours.jsonl"
        "$python" "$root/bench/surprise_algorithms.py" "$work/ratings.tsv" "$low" "$high" "$mode" "$runs" \
            "$item_based" "$name" >>"$work/theirs.jsonl"
    done
    python3 - "$work/ours.jsonl" "$work/theirs.jsonl" <<'PY'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
theirs = {d["algorithm"]: d["theirs"] for d in map(json.loads, open(sys.argv[2]))}
first = ours[0]
print(f"\n{first['data']}, {first['mode']}\n")
if first["mode"] == "split":
    print("| algorithm | Surprise fit + test (s) | movierec fit + test (s) | speed-up | fit speed-up | fit speed-up, 2 threads | Surprise RMSE | movierec RMSE |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for o in ours:
        a, t, m = o["algorithm"], theirs[o["algorithm"]], o["ours"]
        ts, ms = t["fit_seconds"] + t["test_seconds"], m["fit_seconds"] + m["test_seconds"]
        print(f"| {a} | {ts:.3f} | {ms:.4f} | {ts / ms:.1f}x | {t['fit_seconds'] / m['fit_seconds']:.1f}x"
              f" | {t['fit_seconds'] / m['fit_seconds_2_threads']:.1f}x | {t['rmse']:.6f} | {m['rmse']:.6f} |")
else:
    print("| algorithm | Surprise RMSE | movierec RMSE | Surprise MAE | movierec MAE | Surprise time (s) | movierec time (s) | speed-up |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for o in ours:
        a, t, m = o["algorithm"], theirs[o["algorithm"]], o["ours"]
        print(f"| {a} | {t['rmse']:.4f} | {m['rmse']:.4f} | {t['mae']:.4f} | {m['mae']:.4f}"
              f" | {t['seconds']:.2f} | {m['seconds']:.3f} | {t['seconds'] / m['seconds']:.1f}x |")
PY
}
side_by_side "$ml100k" split 1 5 false
side_by_side synthetic split 0 100 true
side_by_side "$ml100k" cv 1 5 false
