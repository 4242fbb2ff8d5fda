#!/usr/bin/env bash
# The whole default pipeline at MovieLens-32M's shape, release build: in a fresh copy of the
# project whose params.yaml differs from the committed one only by the synthetic source's shape
# (scale 14.955, 87,000 movies, 160 ratings a user: 200,000 users, 32 million ratings), each
# stage run as `dvc repro` runs it (scripts/stage, dvc.yaml's arguments), one after the other,
# with its wall time and peak resident memory (GNU time); then `serve` on the model to serve:
# its start-up to ready, and the p50 of a known user's recommendations over 200 requests on
# one connection. Prints a Markdown table and one JSON line. Takes about half an hour.
# Usage: bench/catalogue.sh [SCALE MOVIES RATINGS_PER_USER] (default 14.955 87000 160)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/tools.sh"
[[ -x /usr/bin/time ]] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
scale=${1:-14.955} movies=${2:-87000} per_user=${3:-160}
cargo build --release --locked --manifest-path "$root/Cargo.toml" >&2
export MOVIEREC_BIN_DIR=$(release_dir "$root")

work=$(mktemp -d)
serve_pid=
cleanup() {
    [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
git -C "$root" ls-files -z | tar -C "$root" --null -T - -cf - | tar -C "$work" -xf -
cd "$work"
python3 - "$scale" "$movies" "$per_user" <<'PY'
import re, sys
scale, movies, per_user = sys.argv[1:]
text = open("params.yaml").read()
for key, value in (("scale", scale), ("movies", movies), ("ratings_per_user", per_user)):
    text, n = re.subn(rf"(?m)^(    {key}: )\S+", rf"\g<1>{value}", text, count=1)
    assert n == 1, key
open("params.yaml", "w").write(text)
PY

echo "| stage | wall (s) | peak memory (GB) |"
echo "|---|---:|---:|"
total=0
for stage in load prepare train evaluate optimize predict; do
    cmd=$(python3 -c "import sys, yaml; print(' '.join(yaml.safe_load(open('dvc.yaml'))['stages'][sys.argv[1]]['cmd'].split()))" "$stage")
    if ! /usr/bin/time -f '%e %M' -o "$stage.time" bash -c "$cmd -q" 2>"$stage.log"; then
        echo "$stage failed:" >&2
        tail -n 20 "$stage.log" "$stage.time" >&2
        exit 1
    fi
    read -r wall kb < <(tail -n 1 "$stage.time")
    total=$(python3 -c "print($total + $wall)")
    printf '| `%s` | %.1f | %.2f |\n' "$stage" "$wall" "$(python3 -c "print($kb / 1048576)")"
done
printf '| the pipeline | %.1f | |\n' "$total"

port=$(free_port)
start=$(date +%s%N)
"$MOVIEREC_BIN_DIR/serve" --addr "127.0.0.1:$port" --log warn 2>serve.log &
serve_pid=$!
until curl -sf -o /dev/null "http://127.0.0.1:$port/ready"; do
    kill -0 "$serve_pid" 2>/dev/null || { cat serve.log >&2; exit 1; }
    sleep 0.01
done
ready_ms=$((($(date +%s%N) - start) / 1000000))
user=$(sed -n '2s/,.*//p' data/predictions/recommendations.csv)
for _ in $(seq 200); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/users/$user/recommendations?n=10"
done | sort -g | awk -v ready="$ready_ms" '{t[NR] = $1} END {printf "{\"serve_ready_ms\": %d, \"recommendation_p50_ms\": %.2f}\n", ready, t[int(NR / 2)] * 1000}'
python3 - <<'PY'
import json
e = json.load(open("metrics/evaluate.json"))
o = json.load(open("metrics/optimize.json"))
best = o["best_params"]
print(json.dumps({"test_rmse": e["rmse"], "baseline_only_rmse": e["baselines"]["baseline_only"]["rmse"],
                  "ranking": e["ranking"]["kind"], "ndcg@10": e["ranking"]["ndcg"],
                  "searched_on": o["searched_on"], "search_seconds": round(o["search_seconds"], 1),
                  "served_rating_model": {k: best.get(k) for k in ("n_factors", "n_epochs", "lr_all", "reg_all")},
                  "served_rating_model_test_rmse": o["test_score"]["rmse"],
                  "served_ranking": o["best_ranking"]["params"], "served_ranking_test_ndcg@10": o["best_ranking"]["test_score"]}))
PY
