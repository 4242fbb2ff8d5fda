#!/usr/bin/env bash
# Benchmark of `serve`, release build, seed-scale synthetic data (13,373 users, 385 movies,
# a 175-factor model fitted on all ratings), the server and wrk (Debian's package, installed
# if missing) sharing the machine's cores on 127.0.0.1. Random known users, n = 10
# (bench/serve.lua). Each measure runs RUNS times (default 3) for SECONDS seconds (default 10):
# 1. start-up: from exec to the first 200 of /ready;
# 2. 32 connections: requests per second and p99 latency;
# 3. 1 connection: p50 latency;
# 4. 32 connections while POST /refresh runs every second: failed requests;
# 5. resident memory after all of it (VmRSS) and its peak (VmHWM).
# Prints one JSON line per run, then the medians. Usage: bench/serve.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${RUNS:-3}
seconds=${SECONDS_PER_RUN:-10}
source "$root/scripts/tools.sh"
ensure_apt wrk wrk
cargo build --release --locked --manifest-path "$root/Cargo.toml" -p movierec-load -p movierec-train -p movierec-serve >&2
bin=$(release_dir "$root")

work=$(mktemp -d)
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
cat >params.yaml <<'YAML'
load:
  synthetic: {seed: 42, scale: 1}
train:
  svd: {n_factors: 175, lr_all: 0.003, seed: 42}
YAML
"$bin/load" -q --ratings ratings.parquet --users users.parquet --movies movies.parquet --report load.json
"$bin/train" -q --train ratings.parquet --model serve.bin --report train.json --loss loss.csv
port=$(free_port)
url=http://127.0.0.1:$port
token=bench-token-$RANDOM$RANDOM$RANDOM

start=$(date +%s%N)
MOVIEREC_API_TOKEN=$token "$bin/serve" --addr "127.0.0.1:$port" --model serve.bin --ratings ratings.parquet \
    --users users.parquet --movies movies.parquet --log warn 2>serve.log &
pid=$!
until curl -sf -o /dev/null "$url/ready"; do
    kill -0 "$pid" 2>/dev/null || { cat serve.log >&2; exit 1; }
    sleep 0.005
done
startup_ms=$((($(date +%s%N) - start) / 1000000))

python3 - "$url" >users.txt <<'PY'
import json, sys, urllib.request
url, offset = sys.argv[1], 0
while True:
    page = json.load(urllib.request.urlopen(f"{url}/users?offset={offset}&limit=1000"))
    for u in page["users"]:
        if u["known_to_model"]:
            print(u["id"])
    offset += 1000
    if offset >= page["total"]:
        break
PY
export MOVIEREC_BENCH_USERS=$work/users.txt
load() { wrk -t1 -c"$1" -d"${seconds}s" -s "$root/bench/serve.lua" "$url" | tail -n 1; }

: >results.jsonl
for run in $(seq "$runs"); do
    c32=$(load 32)
    c1=$(load 1)
    (while kill -0 "$pid" 2>/dev/null; do
        curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $token" "$url/refresh" >>refresh.codes
        sleep 1
    done) &
    refresher=$!
    refreshed=$(load 32)
    kill "$refresher" 2>/dev/null
    wait "$refresher" 2>/dev/null || true
    echo "{\"run\": $run, \"connections_32\": $c32, \"connections_1\": $c1, \"connections_32_refreshing\": $refreshed}" \
        | tee -a results.jsonl
done
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
python3 - "$startup_ms" "$rss_kb" "$hwm_kb" refresh.codes results.jsonl <<'PY'
import json, statistics, sys
startup_ms, rss_kb, hwm_kb, codes, results = sys.argv[1:]
runs = [json.loads(l) for l in open(results)]
codes = open(codes).read().split()
med = lambda key, field: statistics.median(r[key][field] for r in runs)
print(json.dumps({
    "median_of_runs": len(runs),
    "startup_to_ready_ms": int(startup_ms),
    "rps_32_connections": round(med("connections_32", "rps")),
    "p99_ms_32_connections": med("connections_32", "p99_ms"),
    "p50_ms_1_connection": med("connections_1", "p50_ms"),
    "rps_32_connections_refreshing": round(med("connections_32_refreshing", "rps")),
    "failed_requests_while_refreshing": sum(r["connections_32_refreshing"]["non_2xx"] + r["connections_32_refreshing"]["socket_errors"] for r in runs),
    "refreshes": len(codes),
    "refreshes_ok": codes.count("200"),
    "rss_mb": round(int(rss_kb) / 1024, 1),
    "peak_rss_mb": round(int(hwm_kb) / 1024, 1),
}))
PY
