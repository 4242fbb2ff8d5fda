#!/usr/bin/env bash
# Property-based test of the HTTP API: schemathesis (pinned, requirements/api-tests.txt, in
# .venv-api) reads the OpenAPI description of a running `serve` and sends it generated
# requests, valid and invalid, to every route but POST /gridsearch (whose jobs would only
# slow the run; its errors are covered by the Rust tests). Every answer must be no server
# error, a documented status, the documented content type, and match the documented schema.
# The server runs on 127.0.0.1 on small generated data and is stopped by its PID.
# Needs the release binaries (`cargo build --release`). Usage: tests/api_schema.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tests/lib.sh"
ensure_venv "$root/.venv-api" "$root/requirements/api-tests.txt" >&2
cd "$work"
printf 'load:\n  synthetic: {seed: 7, scale: 0.02}\ntrain:\n  svd: {n_factors: 10, n_epochs: 5}\n' >params.yaml
"$bin/load" -q --ratings ratings.parquet --users users.parquet --movies movies.parquet --report load.json
"$bin/train" -q --train ratings.parquet --model serve.bin --report train.json --loss loss.csv
port=$(free_port)
token=schema-test-token-$RANDOM$RANDOM$RANDOM
MOVIEREC_API_TOKEN=$token "$bin/serve" --addr "127.0.0.1:$port" --model serve.bin --ratings ratings.parquet \
    --users users.parquet --movies movies.parquet --log warn 2>serve.log &
pid=$!
stop_pids+=("$pid")
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/ready" && break
    sleep 0.05
done

status=0
"$root/.venv-api/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --header "Authorization: Bearer $token" --exclude-path /gridsearch \
    --max-examples "${MAX_EXAMPLES:-40}" --seed 42 --no-color >schemathesis.log 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
    cat schemathesis.log
    echo "api schema: FAILED (server log follows)" >&2
    cat serve.log >&2
    exit 1
fi
grep -E "generated|mismatch" schemathesis.log | tail -n 4
kill -0 "$pid" || { echo "api schema: the server died" >&2; exit 1; }
echo "api schema: ok"
