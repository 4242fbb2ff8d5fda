#!/usr/bin/env bash
# The web page in a real browser: Debian's Chromium and ChromeDriver (installed if missing)
# driven by Selenium (pinned, requirements/web-tests.txt, in .venv-web), against `serve` on
# 127.0.0.1 over a seed-scale model (the default synthetic data, loaded and trained by the
# stage binaries). tests/web_check.py opens every page at 1280×800 and at phone width, finds
# a user by name, checks the 10 recommendations shown against the API's, opens a movie, rates
# three movies as a new visitor, refreshes the model with the token and is refused without
# it, switches to French, and runs axe-core (pinned, requirements/axe.txt, from PyPI) in
# every page: no serious or critical violation. Screenshots go to $MOVIEREC_TEST_OUTPUT/web
# (default: test-output/web in the clone; not committed). Needs the release binaries.
# Usage: tests/web.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tests/lib.sh"
ensure_apt chromium chromium
ensure_apt chromedriver chromium-driver
ensure_venv "$root/.venv-web" "$root/requirements/web-tests.txt" >&2
axe=$(ensure_axe "$root")
shots=${MOVIEREC_TEST_OUTPUT:-$root/test-output}/web

cd "$work"
"$bin/load" -q --params "$root/params.yaml" --ratings ratings.parquet --users users.parquet --movies movies.parquet \
    --report load.json
"$bin/train" -q --params "$root/params.yaml" --train ratings.parquet --model model.bin --report train.json --loss loss.csv
port=$(free_port)
token=web-test-token-$RANDOM$RANDOM$RANDOM
MOVIEREC_API_TOKEN=$token "$bin/serve" --addr "127.0.0.1:$port" --model model.bin --ratings ratings.parquet \
    --users users.parquet --movies movies.parquet --log warn 2>serve.log &
stop_pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/ready" && break; sleep 0.1; done
ok "serve answers on 127.0.0.1 over a seed-scale model"

# The page's weight: what a first load transfers, compressed as a server or proxy would.
python3 - "http://127.0.0.1:$port" <<'PY'
import gzip, sys, urllib.request
base = sys.argv[1]
def get(path, accept):
    return urllib.request.urlopen(urllib.request.Request(base + path, headers={"Accept": accept})).read()
page = get("/", "text/html,application/xhtml+xml,*/*;q=0.8")
assert b'<script src="/assets/app.js"' in page, page[:200]
root = get("/", "application/json")
assert root.startswith(b"{") and b'"service":"movierec"' in root, root[:200]
total = len(gzip.compress(page)) + sum(len(gzip.compress(get(p, "*/*"))) for p in ("/assets/app.js", "/assets/app.css"))
assert total < 100_000, total
print(f"first load: {total} bytes compressed")
PY
ok "a browser gets the page at /, an API client the JSON; the first load is under 100 KB compressed"

"$root/.venv-web/bin/python" "$root/tests/web_check.py" "http://127.0.0.1:$port" "$token" "$axe" "$shots"
ok "screenshots in $shots"
echo "web: $passed passed, 0 failed"
