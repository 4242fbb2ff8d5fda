#!/usr/bin/env bash
# Remakes docs/screenshot-user.png, the README's picture of the web page: a user's page at
# 1280×800 in Debian's Chromium (installed if missing; Selenium in .venv-web), served by
# `serve` over the default pipeline's outputs: the model `optimize` chose to serve
# (models/serve.bin) and the loaded tables (run scripts/pipeline.sh first). Builds the
# release binaries first. Usage: scripts/screenshot.sh [USER_ID]   (default: the first user
# with a name and ten or more ratings)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/tools.sh"
for f in models/serve.bin data/loaded/ratings.parquet data/loaded/users.parquet data/loaded/movies.parquet; do
    [[ -s $root/$f ]] || { echo "$f is missing: run scripts/pipeline.sh first" >&2; exit 1; }
done
ensure_apt chromium chromium
ensure_apt chromedriver chromium-driver
ensure_venv "$root/.venv-web" "$root/requirements/web-tests.txt" >&2
cargo build --release --locked --manifest-path "$root/Cargo.toml" --bin serve >&2
bin=$(release_dir "$root")
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null' EXIT
port=$(free_port)
"$bin/serve" --addr "127.0.0.1:$port" --model "$root/models/serve.bin" --ratings "$root/data/loaded/ratings.parquet" \
    --users "$root/data/loaded/users.parquet" --movies "$root/data/loaded/movies.parquet" --log warn &
pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/ready" && break; sleep 0.1; done
"$root/.venv-web/bin/python" - "http://127.0.0.1:$port" "$root/docs/screenshot-user.png" "${1:-}" <<'PY'
import json, sys, urllib.parse, urllib.request
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
base, out, user = sys.argv[1], sys.argv[2], sys.argv[3]
if not user:
    users = json.load(urllib.request.urlopen(base + "/users?limit=1000"))["users"]
    user = next(u["id"] for u in users if u.get("name") and u["known_to_model"] and u["n_ratings"] >= 10)
o = Options()
o.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--lang=en-US"):
    o.add_argument(flag)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
try:
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    d.get(f"{base}/#/users/{urllib.parse.quote(user)}?n=10")
    WebDriverWait(d, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#recs-h ~ .table-wrap tbody tr")))
    d.execute_script("document.activeElement.blur()")
    d.save_screenshot(out)
finally:
    d.quit()
print(out)
PY
