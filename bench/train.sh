#!/usr/bin/env bash
# Benchmark of SVD training, side by side in one run: scikit-surprise's SVD().fit, and our
# `surprise` mode and `fast` mode on 1 and 2 threads, on the same seed-scale synthetic data
# and 80/20 split (seed 42), default parameters (100 factors, 20 epochs), release build.
# The fast mode also with AdaGrad's step (the rates of BENCHMARKS.md), and LibMF side by side
# (bench/libmf, a workspace of its own; LibMF's C++ built with its Makefile's flags: AVX where
# the CPU has it) at a few learning rates on 1 thread and at its best on 2. Then two one-thread
# fits at once in two processes (the machine's ceiling for two threads), and the fast mode at
# scale 60 (about 24 million ratings) on 2 threads, with its peak memory.
# Prints JSON lines. Usage: bench/train.sh [RUNS] (default 3; medians for the Python side).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-3}
source "$root/scripts/tools.sh"
ensure_venv "$root/.venv-bench" "$root/bench/requirements.txt" >&2
cargo build --release --locked --manifest-path "$root/Cargo.toml" -p movierec-core --example fit_bench >&2
target=${CARGO_TARGET_DIR:-$root/target}
[[ $target == /* ]] || target=$root/$target
bench=$target/release/examples/fit_bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((i = 0; i < runs; i++)); do
    args=(1 surprise fast1 fast2 adagrad:0.05:0.02:0.2)
    ((i == 0)) && args+=(--tsv "$work/ratings.tsv")
    "$bench" "${args[@]}"
done
flags="-O3 -march=native -DUSESSE"
grep -qw avx /proc/cpuinfo && flags="-O3 -march=native -DUSEAVX -mavx"
CXXFLAGS="$flags" cargo build --release --locked --manifest-path "$root/bench/libmf/Cargo.toml" --target-dir "$target" >&2
for ((i = 0; i < runs; i++)); do
    "$target/release/libmf-bench" "$work/ratings.tsv" 0 100 1 0.02 0.05 0.1
    "$target/release/libmf-bench" "$work/ratings.tsv" 0 100 2 0.05
done
# The machine's own ceiling for two threads: two one-thread fits at once, in two processes
# that share nothing but the hardware (on a machine whose cores share caches or memory
# bandwidth, each runs slower than alone, and no schedule of one fit can beat that).
for ((i = 0; i < runs; i++)); do
    "$bench" 1 fast1 >"$work/a" &
    "$bench" 1 fast1 >"$work/b"
    wait
    cat "$work/a" "$work/b" | sed 's/"mode": "fast1"/"mode": "fast1, two processes at once"/'
done
"$root/.venv-bench/bin/python" "$root/bench/svd_baseline.py" "$work/ratings.tsv" "$runs"
/usr/bin/time -f '{"scale 60 peak memory (MB)": %M}' -o "$work/mem" "$bench" 60 fast2
awk '{ sub(/%M/, ""); print }' "$work/mem" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({k: round(v / 1024) for k, v in d.items()}))'
