"""Starts a run of the movierec_sharded DAG through Airflow's REST API and follows it to its end.

Usage: celery_run.py AIRFLOW_URL PASSWORD FAULT [NETWORK]
FAULT is `none`, `kill` (docker kill the worker running the first rating shard seen running)
or `disconnect` (docker network disconnect that worker from NETWORK). With a fault, the run must
still succeed, and the shard hit must have needed another try. Prints the tasks' states; exits
1 on a failed run or a fault that hit nothing.
"""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

base, password, fault = sys.argv[1], sys.argv[2], sys.argv[3]
network = sys.argv[4] if len(sys.argv) > 4 else None
DAG = "movierec_sharded"


def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


token = call("POST", "/auth/token", {"username": "admin", "password": password})["access_token"]
for _ in range(120):
    try:
        call("GET", f"/api/v2/dags/{DAG}", token=token)
        break
    except urllib.error.HTTPError:
        time.sleep(2)
# The DAGs start paused on this deployment: this one is unpaused, the other stays paused.
call("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": False}, token)
run = call("POST", f"/api/v2/dags/{DAG}/dagRuns", {"logical_date": None}, token)["dag_run_id"]
hit = None
deadline = time.time() + 1500
state = None
while time.time() < deadline:
    state = call("GET", f"/api/v2/dags/{DAG}/dagRuns/{run}", token=token)["state"]
    if state in ("success", "failed"):
        break
    if fault != "none" and hit is None:
        tasks = call("GET", f"/api/v2/dags/{DAG}/dagRuns/{run}/taskInstances?limit=100", token=token)["task_instances"]
        running = [t for t in tasks if t["task_id"] == "rating_shard" and t["state"] == "running" and t.get("hostname")]
        if running:
            hit = running[0]
            worker = hit["hostname"]
            if fault == "kill":
                subprocess.run(["docker", "kill", worker], check=True, capture_output=True)
            else:
                subprocess.run(["docker", "network", "disconnect", network, worker], check=True, capture_output=True)
            print(f"{fault}: worker {worker} while it ran rating shard {hit['map_index'] + 1}", flush=True)
    time.sleep(0.5)
tasks = call("GET", f"/api/v2/dags/{DAG}/dagRuns/{run}/taskInstances?limit=100", token=token)["task_instances"]
states = {(t["task_id"], t["map_index"]): (t["state"], t["try_number"], t.get("hostname")) for t in tasks}
print(json.dumps({f"{k[0]}[{k[1]}]" if k[1] >= 0 else k[0]: v for k, v in sorted(states.items())}, indent=1))
if state != "success":
    sys.exit(f"run {run} ended {state}")
if fault != "none":
    if hit is None:
        sys.exit(f"the {fault} hit no running shard")
    tried = states[("rating_shard", hit["map_index"])]
    if tried[1] < 2:
        sys.exit(f"rating shard {hit['map_index'] + 1} was not tried again after the {fault}: {tried}")
    print(f"rating shard {hit['map_index'] + 1}: try {tried[1]} on {tried[2]} after the {fault}")
