#!/usr/bin/env bash
# The monitoring files against a real Prometheus (Debian's package, installed if missing):
# promtool checks deploy/prometheus/prometheus.yml and alerts.yml and runs the alerts' unit
# tests (alerts_test.yml); then a Prometheus on 127.0.0.1, configured from prometheus.yml
# with the target replaced by a local `serve`, scrapes it every second under a little load;
# the request counter and latency histogram are read back through Prometheus' query API, the
# API's /metrics passes `promtool check metrics`, and every query of the Grafana dashboard
# (deploy/grafana/dashboards/movierec.json) returns data. Grafana itself cannot be installed
# here: its provisioning files are checked to parse. Both servers are stopped by PID.
# Needs the release binaries. Usage: tests/monitoring.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tests/lib.sh"
ensure_apt prometheus prometheus

promtool check config "$root/deploy/prometheus/prometheus.yml" >/dev/null
promtool check rules "$root/deploy/prometheus/alerts.yml" >/dev/null
ok "promtool: the configuration and the alert rules are valid"
(cd "$root/deploy/prometheus" && promtool test rules alerts_test.yml >/dev/null)
ok "promtool: every alert's unit tests pass"
python3 - "$root/deploy/grafana" <<'PY'
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
for f in root.rglob("*.yml"):
    text = f.read_text()
    assert text.startswith("#") and "apiVersion: 1" in text, f
dash = json.loads((root / "dashboards/movierec.json").read_text())
ids = [p["id"] for p in dash["panels"]]
assert len(ids) == len(set(ids)) and all(p["targets"] for p in dash["panels"]), "panel ids unique, each with queries"
PY
ok "the Grafana provisioning files and the dashboard parse"

cd "$work"
printf 'load:\n  synthetic: {seed: 7, scale: 0.02}\ntrain:\n  svd: {n_factors: 10, n_epochs: 5}\n' >params.yaml
"$bin/load" -q --ratings ratings.parquet --users users.parquet --movies movies.parquet --report load.json
"$bin/train" -q --train ratings.parquet --model serve.bin --report train.json --loss loss.csv
api_port=$(free_port)
token=monitoring-token-$RANDOM$RANDOM$RANDOM
MOVIEREC_API_TOKEN=$token "$bin/serve" --addr "127.0.0.1:$api_port" --model serve.bin --ratings ratings.parquet \
    --users users.parquet --movies movies.parquet --log warn 2>serve.log &
stop_pids+=($!)
api=http://127.0.0.1:$api_port
for _ in $(seq 100); do curl -sf -o /dev/null "$api/ready" && break; sleep 0.05; done

# The shipped configuration, scraping the local API every second.
mkdir prom
cp "$root/deploy/prometheus/alerts.yml" prom/
sed -e "s/\"api:8000\"/\"127.0.0.1:$api_port\"/" -e 's/scrape_interval: 15s/scrape_interval: 1s/' \
    -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' "$root/deploy/prometheus/prometheus.yml" >prom/prometheus.yml
grep -q "127.0.0.1:$api_port" prom/prometheus.yml
prom_port=$(free_port)
prometheus --config.file=prom/prometheus.yml --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >prom.log 2>&1 &
stop_pids+=($!)
prom=http://127.0.0.1:$prom_port
for _ in $(seq 100); do curl -sf -o /dev/null "$prom/-/ready" && break; sleep 0.1; done

# A little load: recommendations, an unknown user, a refresh, for a few seconds.
users=$(curl -s "$api/users?limit=50" | python3 -c 'import json,sys; print(" ".join(u["id"] for u in json.load(sys.stdin)["users"]))')
end=$((SECONDS + 8))
while ((SECONDS < end)); do
    for u in $users; do curl -s -o /dev/null "$api/users/$u/recommendations?n=5"; done
    curl -s -o /dev/null "$api/users/nobody/recommendations"
    curl -s -o /dev/null -X POST -H "Authorization: Bearer $token" "$api/refresh"
    sleep 0.5
done
curl -s "$api/metrics" | promtool check metrics
ok "the API's /metrics passes promtool check metrics"

python3 - "$prom" "$root/deploy/grafana/dashboards/movierec.json" <<'PY'
import json, sys, time, urllib.parse, urllib.request
prom, dashboard = sys.argv[1], sys.argv[2]

def query(expr):
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = json.load(urllib.request.urlopen(url))
    assert answer["status"] == "success", answer
    return answer["data"]["result"]

def wait_for(expr, check, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        result = query(expr)
        if result and check(result):
            return result
        time.sleep(0.5)
    raise SystemExit(f"{what}: {expr} gave {query(expr)}")

ok = 'job="movierec-api", route="/users/{id}/recommendations", method="GET", status="200"'
wait_for(f"movierec_http_requests_total{{{ok}}}", lambda r: float(r[0]["value"][1]) >= 100, "request counter")
wait_for(f'movierec_http_requests_total{{job="movierec-api", status="404"}}', lambda r: float(r[0]["value"][1]) >= 1, "404 counter")
wait_for(f"movierec_http_request_duration_seconds_count{{{ok}}}", lambda r: float(r[0]["value"][1]) >= 100, "histogram count")
buckets = query(f"movierec_http_request_duration_seconds_bucket{{{ok}}}")
assert len(buckets) == 15, len(buckets)
p99 = wait_for(f"histogram_quantile(0.99, sum by (le) (rate(movierec_http_request_duration_seconds_bucket{{{ok}}}[1m])))",
               lambda r: 0 < float(r[0]["value"][1]) < 1, "p99")
print(f"ok: Prometheus scraped the request counter and the latency histogram (p99 {float(p99[0]['value'][1]) * 1000:.2f} ms)")
wait_for('up{job="movierec-api"}', lambda r: r[0]["value"][1] == "1", "up")

panels = json.load(open(dashboard))["panels"]
count = 0
for p in panels:
    for t in p["targets"]:
        expr = t["expr"].replace("$__rate_interval", "1m")
        wait_for(expr, lambda r: True, f"panel {p['title']!r}")
        count += 1
print(f"ok: every query of the dashboard returns data ({count} queries in {len(panels)} panels)")
PY
passed=$((passed + 2))
echo "monitoring: $passed passed, 0 failed"
