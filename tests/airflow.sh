#!/usr/bin/env bash
# The Airflow DAG (airflow/dags/movierec_pipeline.py) with a real Airflow 3 (pinned,
# requirements/airflow.txt, in .venv-airflow): it imports with no error, its task graph is
# DVC's stage graph plus the push and refresh tasks, and `airflow dags test` runs the whole
# pipeline through DVC in a fresh copy of the project on small synthetic data, to success,
# skipping the push (no remote) with a log line and ending with the refresh of a running
# `serve`, which becomes ready. A second run, with a DVC remote, finds every stage unchanged
# and pushes the outputs. Needs the release binaries and .venv (scripts/test.sh).
# Usage: tests/airflow.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tests/lib.sh"
ensure_tools "$root"
ensure_venv "$root/.venv-airflow" "$root/requirements/airflow.txt" >&2

export AIRFLOW_HOME=$work/airflow AIRFLOW__CORE__DAGS_FOLDER=$root/airflow/dags AIRFLOW__CORE__LOAD_EXAMPLES=False
airflow=$root/.venv-airflow/bin/airflow
py=$root/.venv-airflow/bin/python

# A fresh copy of the project, on small data.
project=$work/project
small_project "$project"
cd "$project"
ln -s "$root/.venv" .venv
export MOVIEREC_BIN_DIR=$bin

"$py" - "$root/airflow/dags" "$project" <<'PY'
import subprocess, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag = bag.dags["movierec_pipeline"]
edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
# DVC's graph, from `dvc dag --dot` in the project.
dot = subprocess.run([".venv/bin/dvc", "dag", "--dot"], cwd=sys.argv[2], check=True, capture_output=True, text=True).stdout
dvc_edges = set()
for line in dot.splitlines():
    if "->" in line:
        a, b = (part.strip().strip(";").strip().strip('"') for part in line.split("->"))
        dvc_edges.add((a, b))
stage_edges = {e for e in edges if "refresh" not in e and "push" not in e}
assert dvc_edges, dot
assert stage_edges == dvc_edges, (stage_edges, dvc_edges)
assert {e for e in edges if e[1] == "refresh"} == {("evaluate", "refresh"), ("predict", "refresh")}, edges
assert {e for e in edges if "push" in e} == {("evaluate", "push"), ("predict", "push")}, edges
assert dag.catchup is False and dag.max_active_runs == 1 and dag.max_active_tasks == 1
assert all(t.retries == 2 for t in dag.tasks), [t.retries for t in dag.tasks]
print(f"{len(dag.tasks)} tasks; edges {sorted(edges)}")
# movierec_sharded: the shards on any worker's queue, everything else on the clone's.
sharded = bag.dags["movierec_sharded"]
queues = {t.task_id: t.queue for t in sharded.tasks}
assert queues.pop("rating_shard") == queues.pop("ranking_shard") == "default", queues
assert set(queues.values()) == {"project"}, queues
upstream = {t.task_id: set(t.upstream_task_ids) for t in sharded.tasks}
assert upstream["merge"] == {"ranking_shard"} and upstream["predict"] == {"merge"}, upstream
PY
ok "the DAGs import with no error; movierec_pipeline's task graph is DVC's stage graph, then push and refresh; movierec_sharded's shards go to any worker, the rest to the clone's"

"$airflow" db migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log"; exit 1; }

# An API waiting for the pipeline's artifacts.
api_port=$(free_port)
token=airflow-test-token-$RANDOM$RANDOM$RANDOM
MOVIEREC_API_TOKEN=$token "$bin/serve" --addr "127.0.0.1:$api_port" --allow-missing-model --log warn \
    2>"$work/serve.log" &
stop_pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$api_port/health" && break; sleep 0.05; done
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/ready") == 503 ]]

export MOVIEREC_PROJECT=$project MOVIEREC_API_URL=http://127.0.0.1:$api_port MOVIEREC_API_TOKEN=$token
export MOVIEREC_RETRIES=0   # a failure shows at once instead of after two 5-minute waits
"$airflow" dags test movierec_pipeline >"$work/dags-test.log" 2>&1 || { tail -n 80 "$work/dags-test.log"; exit 1; }
[[ -s data/predictions/recommendations.csv && -s models/serve.bin ]] || { tail -n 60 "$work/dags-test.log"; exit 1; }
.venv/bin/dvc status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s == {}, s'
grep -q "no default DVC remote in $project: nothing pushed" "$work/dags-test.log" || { tail -n 80 "$work/dags-test.log"; exit 1; }
ok "airflow dags test runs the whole pipeline through DVC to success, and dvc.lock is true; no remote, no push"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/ready") == 200 ]]
ok "the refresh task made the API serve the new model"

# A DVC remote (a folder: the S3 protocol is tests/remote.sh's) for the second run to push to.
.venv/bin/dvc remote add -q -d store "$work/dvc-remote"
before=$(stat -c %Y models/serve.bin models/model.bin data/loaded/ratings.parquet data/predictions/recommendations.csv)
"$airflow" dags test movierec_pipeline >"$work/dags-test2.log" 2>&1 || { tail -n 80 "$work/dags-test2.log"; exit 1; }
[[ $(stat -c %Y models/serve.bin models/model.bin data/loaded/ratings.parquet data/predictions/recommendations.csv) == "$before" ]]
[[ $(grep -c "didn't change, skipping" "$work/dags-test2.log") -ge 6 ]] || { tail -n 80 "$work/dags-test2.log"; exit 1; }
grep -q "pushing the outputs to the DVC remote 'store'" "$work/dags-test2.log" || { tail -n 80 "$work/dags-test2.log"; exit 1; }
.venv/bin/dvc status --cloud --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s == {}, s'
[[ -n $(find "$work/dvc-remote" -type f) ]]
ok "a second run skips every unchanged stage, then pushes every output to the remote"
echo "airflow: $passed passed, 0 failed"
