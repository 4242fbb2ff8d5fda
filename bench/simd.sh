#!/usr/bin/env bash
# What the portable arithmetic costs against the native one (`simd: portable | native`),
# side by side in one run, release build: the `fast` SVD's fit on one thread (seed-scale
# synthetic data, 80/20 split, default parameters: 100 factors, 20 epochs; fit_bench) and
# implicit ALS's fit on one thread (the same data; the pipeline's 16 factors and 64; 15
# iterations; ials_bench), each pair run in turn RUNS times (default 7), on the CPU's best
# instructions and again with MOVIEREC_SIMD=avx2 (the path of CPUs without AVX-512) where the
# CPU has AVX2. Prints one JSON line per fit, then per case the medians and the ratio.
# Usage: bench/simd.sh [RUNS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-7}
source "$root/scripts/tools.sh"
cargo build --release --locked --manifest-path "$root/Cargo.toml" -p movierec-core --example fit_bench \
    --example ials_bench >&2
examples=$(release_dir "$root")/examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

isas=("")
grep -qw avx2 /proc/cpuinfo && grep -qw avx512f /proc/cpuinfo && isas+=(avx2)
for isa in "${isas[@]}"; do
    for ((i = 0; i < runs; i++)); do
        MOVIEREC_SIMD=$isa "$examples/fit_bench" 1 fast1 native1 |
            sed "s/^{/{\"isa\": \"${isa:-best}\", \"fit\": \"svd\", /"
        for factors in 16 64; do
            for simd in portable native; do
                MOVIEREC_SIMD=$isa "$examples/ials_bench" simd=$simd threads=1 factors=$factors iterations=15 2>/dev/null |
                    sed "s/^{/{\"isa\": \"${isa:-best}\", \"fit\": \"ials$factors\", /"
            done
        done
    done
done | tee "$work/fits.jsonl"
python3 - "$work/fits.jsonl" <<'PY'
import collections, json, statistics, sys
times = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    simd = r.get("simd") or ("native" if r["mode"].startswith("native") else "portable")
    times[(r["isa"], r["fit"], simd)].append(r.get("seconds", r.get("fit_seconds")))
for isa, fit in sorted({(k[0], k[1]) for k in times}):
    p, n = (statistics.median(times[(isa, fit, s)]) for s in ("portable", "native"))
    print(json.dumps({"isa": isa, "fit": fit, "runs": len(times[(isa, fit, "portable")]),
                      "portable_median_s": round(p, 4), "native_median_s": round(n, 4),
                      "portable_best_s": min(times[(isa, fit, "portable")]), "native_best_s": min(times[(isa, fit, "native")]),
                      "portable_over_native": round(p / n, 3)}))
PY
