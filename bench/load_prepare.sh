#!/usr/bin/env bash
# Benchmark of `load` + `prepare`, release build. Prints two Markdown tables:
# 1. the synthetic source at several scales: median wall time of each stage over the runs,
#    and the peak resident memory of each;
# 2. side by side in one run, at the seed's scale: our `load` (csv source) + `prepare` on the
#    seed-schema CSV, and the original system's pandas `read_csv` + Surprise
#    `train_test_split` on the same file (bench/python_baseline.py, pinned in
#    bench/requirements.txt, installed in .venv-bench).
# Usage: bench/load_prepare.sh [SCALE:RUNS ...]  (default 1:7 10:3 60:3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/tools.sh"
ensure_venv "$root/.venv-bench" "$root/bench/requirements.txt" >&2
cargo build --release --locked --manifest-path "$root/Cargo.toml" >&2
target=${CARGO_TARGET_DIR:-$root/target}
[[ $target == /* ]] || target=$root/$target
bin=$target/release
[[ -x /usr/bin/time ]] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
max() { sort -g | tail -1; }

echo "| scale | ratings | load (s) | prepare (s) | together (s) | load peak (MB) | prepare peak (MB) | runs |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for spec in "${@:-1:7 10:3 60:3}"; do
    for s in $spec; do
        scale=${s%%:*} runs=${s##*:}
        printf 'load:\n  synthetic: {seed: 42, scale: %s}\n' "$scale" >params.yaml
        : >load.t; : >prepare.t; : >both.t
        for ((i = 0; i < runs; i++)); do
            /usr/bin/time -f '%e %M' -o l.t "$bin/load" -q --ratings r.parquet --users u.parquet --movies m.parquet --report l.json
            /usr/bin/time -f '%e %M' -o p.t "$bin/prepare" -q --ratings r.parquet --train tr.parquet --test te.parquet --report p.json
            cat l.t >>load.t; cat p.t >>prepare.t
            echo "$(cut -d' ' -f1 l.t) $(cut -d' ' -f1 p.t)" | awk '{print $1 + $2}' >>both.t
        done
        ratings=$(python3 -c 'import json; print(json.load(open("l.json"))["stats"]["ratings"])')
        printf '| %s | %s | %.2f | %.2f | %.2f | %.0f | %.0f | %s |\n' "$scale" "$ratings" \
            "$(cut -d' ' -f1 load.t | median)" "$(cut -d' ' -f1 prepare.t | median)" "$(median <both.t)" \
            "$(cut -d' ' -f2 load.t | max | awk '{print $1 / 1024}')" "$(cut -d' ' -f2 prepare.t | max | awk '{print $1 / 1024}')" "$runs"
    done
done

runs=5
printf 'load:\n  synthetic: {seed: 42, scale: 1}\n' >params.yaml
"$bin/load" -q --ratings r.parquet --users u.parquet --movies m.parquet --report l.json --export-csv ratings.csv
printf 'load:\n  source: csv\n  csv: {path: ratings.csv}\n' >params.yaml
: >both.t
for ((i = 0; i < runs; i++)); do
    start=$(date +%s.%N)
    "$bin/load" -q --ratings r.parquet --users u.parquet --movies m.parquet --report l.json
    "$bin/prepare" -q --ratings r.parquet --train tr.parquet --test te.parquet --report p.json
    echo "$(date +%s.%N) $start" | awk '{print $1 - $2}' >>both.t
done
ours=$(median <both.t)
python=$("$root/.venv-bench/bin/python" "$root/bench/python_baseline.py" ratings.csv "$runs")
echo
echo "| seed-schema CSV, $(du -m ratings.csv | cut -f1) MB, $runs runs | median wall (s) |"
echo "|---|---:|"
printf '| movierec `load` (csv) + `prepare`, Parquet written | %.2f |\n' "$ours"
printf '| pandas `read_csv` + Surprise `load_from_df` + `train_test_split` | %.2f |\n' "$python"
printf '| ratio | %.1fx |\n' "$(echo "$python $ours" | awk '{print $1 / $2}')"
