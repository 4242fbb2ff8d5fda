#!/usr/bin/env bash
# Every ranking on five random 80/20 splits (`prepare.seed` 1 to 5) of MovieLens-100k (from
# the pinned recbole wheel, into a cache, never committed) and of the default synthetic data,
# so that a gain of a few percent can be told from the noise of one split (about 0.01 NDCG on
# MovieLens-100k). For each ranking: the mean and standard deviation over the splits of
# NDCG@10, precision@10, recall@10, coverage, popularity bias and predicted dislikes, and the
# paired comparison with EASE at λ 500 (the mean of the per-split NDCG ratios, and on how
# many splits it is ahead). Extra arguments go to every run of the example (e.g.
# ease.liking=0.5,1). Usage: bench/ranking_splits.sh [key=value ...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/tools.sh"
ml100k=$(ensure_ml100k "$root")
cargo build --release --locked --manifest-path "$root/Cargo.toml" -p movierec-core --example ranking_bench >&2
bench=$(release_dir "$root")/examples/ranking_bench
for data in "$ml100k" synthetic; do
    name=$([[ $data == synthetic ]] && echo "synthetic (relevance 60)" || echo "MovieLens-100k (relevance 4)")
    for seed in 1 2 3 4 5; do
        "$bench" "$data" "seed=$seed" "$@" 2>/dev/null | awk -v seed="$seed" 'NR > 1 { print seed "\t" $0 }'
    done | python3 -c '
import collections, statistics, sys
name = sys.argv[1]
rows = collections.defaultdict(dict)
for line in sys.stdin:
    seed, ranking, ndcg, precision, recall, hit_rate, coverage, bias, dislikes, seconds = line.rstrip("\n").split("\t")
    rows[ranking][int(seed)] = [float(v) for v in (ndcg, precision, recall, coverage, bias, dislikes)]
anchor = rows["ease"]
print(f"# {name}, five splits: mean (sd)")
print()
print("| ranking | NDCG@10 | precision@10 | recall@10 | coverage | popularity bias | predicted dislikes | vs EASE-λ500 | splits ahead |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for ranking, by_seed in rows.items():
    cols = list(zip(*by_seed.values()))
    cells = [f"{statistics.mean(c):.4f} ({statistics.stdev(c):.4f})" for c in cols[:3]]
    cells += [f"{statistics.mean(c):.3f}" for c in cols[3:5]]
    cells.append(f"{statistics.mean(cols[5]):.1%}")
    ratios = [by_seed[s][0] / anchor[s][0] for s in by_seed]
    ahead = sum(r > 1 for r in ratios)
    print(f"| {ranking} | " + " | ".join(cells) + f" | {statistics.mean(ratios):.3f} | {ahead}/{len(ratios)} |")
print()
' "$name"
done
