#!/usr/bin/env bash
# What the default pipeline serves on MovieLens-100k, on five random 80/20 splits
# (`prepare.seed` 1 to 5): for each split, `load`, `prepare`, `train`, `evaluate` and
# `optimize` run with the repository's params.yaml, changed only where the data asks
# (`load.source: movielens`, the scale 1 to 5, relevance at a score of 4). It prints, per
# split and on average, the served order `optimize` chose, its NDCG@10 and predicted dislikes
# on the test set, and the ratio to EASE at λ 500 (`evaluate`'s `ease` row, measured on the
# same test set with the same definitions). MovieLens-100k comes from the pinned recbole wheel
# into a cache, never committed. Usage: bench/served_splits.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/tools.sh"
ensure_tools "$root"
ml100k=$(ensure_ml100k "$root")
cargo build --release --locked --manifest-path "$root/Cargo.toml" >&2
bin=$(release_dir "$root")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for seed in 1 2 3 4 5; do
    dir=$work/$seed
    mkdir -p "$dir"
    python - "$root/params.yaml" "$dir/params.yaml" "$ml100k" "$seed" <<'PY'
import sys, yaml
src, out, ml100k, seed = sys.argv[1:]
p = yaml.safe_load(open(src))
p["load"].update(source="movielens", rating_scale={"min": 1, "max": 5}, movielens={"path": ml100k})
p["prepare"]["seed"] = int(seed)
p["evaluate"]["relevance_threshold"] = 4
p["optimize"]["relevance_threshold"] = 4
yaml.safe_dump(p, open(out, "w"))
PY
    (
        cd "$dir"
        "$bin/load" -q --params params.yaml --ratings ratings.parquet --users users.parquet --movies movies.parquet \
            --report load.json
        "$bin/prepare" -q --params params.yaml --ratings ratings.parquet --train train.parquet --test test.parquet \
            --report prepare.json
        "$bin/train" -q --params params.yaml --train train.parquet --model model.bin --report train.json --loss loss.csv
        "$bin/evaluate" -q --params params.yaml --model model.bin --train train.parquet --test test.parquet \
            --report evaluate.json --errors errors.csv --ranking pr.csv --ndcg ndcg.csv
        "$bin/optimize" -q --params params.yaml --train train.parquet --test test.parquet --ratings ratings.parquet \
            --model serve.bin --report optimize.json --candidates candidates.csv
    ) >&2
done
python - "$work" <<'PY'
import json, pathlib, statistics, sys
work = pathlib.Path(sys.argv[1])
rows = []
# The parameters shown of each kind (an ensemble's members: those its default space searches).
SHOWN = {"ease": ["lambda", "dropout", "liking"], "ials": ["factors", "alpha", "preference"], "rp3beta": ["alpha", "beta"]}
def describe(kind, params):
    if kind == "ensemble":
        first, second = params["members"]
        def member(m):
            shown = ", ".join(f"{k} {params[m][k]:g}" for k in SHOWN.get(m, []))
            return f"{m} ({shown})" if shown else m
        return f"ensemble: {member(first)} + {params['weight']:g} × {member(second)}"
    own = {k: v for k, v in params.items() if k != "max_items"}
    return kind + " " + ", ".join(f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in own.items())
print("| split | served order | NDCG@10 | predicted dislikes | EASE-λ500 | ratio | search seconds |")
print("|---:|---|---:|---:|---:|---:|---:|")
for seed in range(1, 6):
    o = json.loads((work / str(seed) / "optimize.json").read_text())
    e = json.loads((work / str(seed) / "evaluate.json").read_text())
    best, anchor = o["best_ranking"], e["rankings"]["ease"]["ndcg"]
    p = best["params"]
    order = describe(best["kind"], p.get("params") or {})
    if p.get("rerank"):
        order += f"; best {p['rerank']}" + (f" blended {p['blend']:g}" if p.get("blend") is not None else " by relevance")
        order += ", dislikes last" if p.get("demote_dislikes") else ""
    ratio = best["test_score"] / anchor
    rows.append((best["test_score"], best.get("test_dislikes") or 0.0, anchor, ratio, o["search_seconds"]))
    print(f"| {seed} | {order} | {best['test_score']:.4f} | {rows[-1][1]:.1%} | {anchor:.4f} | {ratio:.3f} | {o['search_seconds']:.0f} |")
cols = list(zip(*rows))
ahead = sum(r > 1 for r in cols[3])
print(f"| mean | | {statistics.mean(cols[0]):.4f} | {statistics.mean(cols[1]):.1%} | {statistics.mean(cols[2]):.4f}"
      f" | {statistics.mean(cols[3]):.3f} ({ahead}/5 ahead) | {statistics.mean(cols[4]):.0f} |")
PY
