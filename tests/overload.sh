#!/usr/bin/env bash
# `serve` under more load than it can answer, for real: the binary on 127.0.0.1 over a
# seed-scale model, limited to 1 request worked on at once and 2 waiting (--max-in-flight,
# --max-queue), and wrk (Debian's package, installed if missing) sending the recommendations of
# random users over 64 connections for 6 seconds (bench/serve.lua). Meanwhile:
#   - requests beyond the places are refused at once: 503, `Retry-After: 1`, a JSON error with
#     code `overloaded`; no connection fails or times out;
#   - /health and /metrics answer 200 every 0.2 s all along, /metrics counting the refusals;
# and when the load stops, the service answers recommendations again by itself, with no
# request in flight or waiting. Needs the release binaries. Usage: tests/overload.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tests/lib.sh"
trap 'echo "FAILED: tests/overload.sh line $LINENO" >&2' ERR
ensure_apt wrk wrk

cd "$work"
"$bin/load" -q --params "$root/params.yaml" --ratings ratings.parquet --users users.parquet --movies movies.parquet \
    --report load.json
"$bin/train" -q --params "$root/params.yaml" --train ratings.parquet --model model.bin --report train.json --loss loss.csv
port=$(free_port)
url=http://127.0.0.1:$port
"$bin/serve" --addr "127.0.0.1:$port" --model model.bin --ratings ratings.parquet --users users.parquet \
    --movies movies.parquet --workers 2 --max-in-flight 1 --max-queue 2 --log warn 2>serve.log &
stop_pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "$url/ready" && break; sleep 0.1; done
python3 - "$url" >users.txt <<'PY'
import json, sys, urllib.request
page = json.load(urllib.request.urlopen(f"{sys.argv[1]}/users?limit=1000"))
print("\n".join(u["id"] for u in page["users"] if u["known_to_model"]))
PY
user=$(head -n 1 users.txt)
[[ $(curl -s -o /dev/null -w '%{http_code}' "$url/users/$user/recommendations") == 200 ]]
ok "serve answers on 127.0.0.1, at most 1 request at once and 2 waiting"

# The probes, every 0.2 s while the load runs: status and seconds of each.
probe() {
    while [[ ! -e probes.stop ]]; do
        for path in /health /metrics; do
            curl -s -o /dev/null --max-time 5 -w "$path %{http_code} %{time_total}\n" "$url$path" >>probes.txt || echo "$path failed" >>probes.txt
        done
        sleep 0.2
    done
}
# Single requests among the load: their headers and bodies.
sample() {
    local i=0
    while [[ ! -e probes.stop ]]; do
        i=$((i + 1))
        curl -s -D "sample-$i.head" -o "sample-$i.body" --max-time 5 "$url/users/$user/recommendations?n=10" || true
        sleep 0.05
    done
}
probe &
prober=$!
sample &
sampler=$!
MOVIEREC_BENCH_USERS=$work/users.txt wrk -t2 -c64 -d6s -s "$root/bench/serve.lua" "$url" >wrk.txt
touch probes.stop
wait "$prober" "$sampler"
summary=$(tail -n 1 wrk.txt)
python3 - "$summary" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
assert s["socket_errors"] == 0, f"connections failed or timed out: {s}"
assert s["non_2xx"] > 0, f"no request was refused: {s}"
assert s["requests"] > s["non_2xx"], f"nothing was answered: {s}"
PY
python3 - <<'PY'
import glob, json
refused = 0
for head in glob.glob("sample-*.head"):
    lines = open(head).read().splitlines()
    if not lines or " 503" not in lines[0]:
        continue
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    assert headers.get("retry-after") == "1", headers
    body = json.load(open(head.replace(".head", ".body")))
    assert body["error"]["code"] == "overloaded", body
    refused += 1
assert refused > 0, "no sampled request was refused"
PY
read -r requests refused p99 < <(python3 -c "import json,sys; s=json.loads(sys.argv[1]); print(s['requests'], s['non_2xx'], s['p99_ms'])" "$summary")
ok "64 connections against 3 places: $refused of $requests requests refused with 503, Retry-After and a JSON error; no connection failed; p99 $p99 ms"

python3 - <<'PY'
probes = [l.split() for l in open("probes.txt")]
assert probes and all(len(p) == 3 and p[1] == "200" for p in probes), [p for p in probes if len(p) != 3 or p[1] != "200"]
print(f"{len(probes)} probes, the slowest {max(float(p[2]) for p in probes):.3f} s")
PY
metrics=$(curl -sf "$url/metrics")
refused_total=$(awk '/^movierec_http_requests_refused_total / {print $2}' <<<"$metrics")
((refused_total > 0))
ok "/health and /metrics answered 200 all along; /metrics counted $refused_total refusals"

sleep 1
[[ $(curl -s -o /dev/null -w '%{http_code}' "$url/users/$user/recommendations") == 200 ]]
metrics=$(curl -sf "$url/metrics")
grep -q "^movierec_http_requests_in_flight 0$" <<<"$metrics" && grep -q "^movierec_http_requests_queued 0$" <<<"$metrics"
ok "once the load stops, the service answers again by itself, nothing in flight or waiting"

echo "overload: $passed passed, 0 failed"
