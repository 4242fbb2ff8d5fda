"""Starts a run of an Airflow DAG through Airflow's REST API and follows it to its end.

Usage: airflow_run.py URL PASSWORD DAG [--fault kill|disconnect] [--network NETWORK]
                      [--require TASK,...] [--times FILE]
PASSWORD is the admin's password, or @FILE for the simple auth manager's generated passwords
file (waited for). The DAG is unpaused, a run started, and followed. With --fault, the worker
running the first rating shard seen running is hit: `kill` (docker kill) or `disconnect` (docker
network disconnect from NETWORK); the run must still succeed, and the shard hit must have needed
another try. --require: these tasks must have succeeded. --times: the run's id and every task
instance's state, try, host, start and end, as JSON. Prints the tasks' states; exits 1 on a failed run, a missing
required task or a fault that hit nothing.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("base")
parser.add_argument("password")
parser.add_argument("dag")
parser.add_argument("--fault", choices=("kill", "disconnect"))
parser.add_argument("--network")
parser.add_argument("--require", default="")
parser.add_argument("--times")
parser.add_argument("--timeout", type=float, default=1500)
args = parser.parse_args()


def call(method, path, body=None, token=None, tries=6):
    """One request; an answer of 5xx or no answer is tried again, up to `tries` times: Airflow's
    API server answers 500 while its database is locked by the scheduler (SQLite, standalone)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(1, tries + 1):
        request = urllib.request.Request(args.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == tries:
                raise
            print(f"{method} {path}: {error.code}, trying again", file=sys.stderr, flush=True)
        except (urllib.error.URLError, TimeoutError) as error:
            if attempt == tries:
                raise
            print(f"{method} {path}: {error}, trying again", file=sys.stderr, flush=True)
        time.sleep(2 * attempt)


password = args.password
if password.startswith("@"):
    passwords = pathlib.Path(password[1:])
    for _ in range(120):
        if passwords.exists():
            break
        time.sleep(1)
    password = json.loads(passwords.read_text())["admin"]
token = call("POST", "/auth/token", {"username": "admin", "password": password})["access_token"]
dag = f"/api/v2/dags/{args.dag}"
for _ in range(120):
    try:
        call("GET", dag, token=token)
        break
    except urllib.error.HTTPError:
        time.sleep(2)
call("PATCH", dag, {"is_paused": False}, token)
# The run's id is chosen here, so that a POST tried again cannot start a second run.
run = f"manual__test_{time.time_ns()}"
try:
    call("POST", f"{dag}/dagRuns", {"dag_run_id": run, "logical_date": None}, token)
except urllib.error.HTTPError as error:
    if error.code != 409:  # 409: an earlier try made the run, though its answer was lost
        raise


def task_instances():
    return call("GET", f"{dag}/dagRuns/{run}/taskInstances?limit=100", token=token)["task_instances"]


hit = None
deadline = time.time() + args.timeout
state = None
while time.time() < deadline:
    state = call("GET", f"{dag}/dagRuns/{run}", token=token)["state"]
    if state in ("success", "failed"):
        break
    if args.fault and hit is None:
        running = [t for t in task_instances() if t["task_id"] == "rating_shard" and t["state"] == "running" and t.get("hostname")]
        if running:
            hit = running[0]
            worker = hit["hostname"]
            if args.fault == "kill":
                subprocess.run(["docker", "kill", worker], check=True, capture_output=True)
            else:
                subprocess.run(["docker", "network", "disconnect", args.network, worker], check=True, capture_output=True)
            print(f"{args.fault}: worker {worker} while it ran rating shard {hit['map_index'] + 1}", flush=True)
    time.sleep(0.5)
tasks = task_instances()
if args.times:
    keys = ("task_id", "map_index", "state", "try_number", "hostname", "start_date", "end_date", "duration")
    timed = [{k: t.get(k) for k in keys} for t in tasks]
    pathlib.Path(args.times).write_text(json.dumps({"run": run, "tasks": timed}, indent=1))
states = {(t["task_id"], t["map_index"]): (t["state"], t["try_number"], t.get("hostname")) for t in tasks}
print(json.dumps({f"{k[0]}[{k[1]}]" if k[1] >= 0 else k[0]: v for k, v in sorted(states.items())}, indent=1))
if state != "success":
    sys.exit(f"run {run} of {args.dag} ended {state}")
for name in filter(None, args.require.split(",")):
    if states.get((name, -1), ("missing",))[0] != "success":
        sys.exit(f"task {name} of run {run}: {states.get((name, -1))}")
if args.fault:
    if hit is None:
        sys.exit(f"the {args.fault} hit no running shard")
    tried = states[("rating_shard", hit["map_index"])]
    if tried[1] < 2:
        sys.exit(f"rating shard {hit['map_index'] + 1} was not tried again after the {args.fault}: {tried}")
    print(f"rating shard {hit['map_index'] + 1}: try {tried[1]} on {tried[2]} after the {args.fault}")
print(f"run {run} of {args.dag}: success")
