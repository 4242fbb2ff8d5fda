#!/usr/bin/env bash
# MLflow tracking of the stages, against a real MLflow server (pinned, requirements/mlflow.txt,
# in .venv-mlflow) started on 127.0.0.1 with a sqlite store and served artifacts, and stopped
# by its process group. In a temporary project on small generated data, it runs load,
# prepare, train, evaluate and optimize with MLFLOW_TRACKING_URI set, then reads back over
# REST (tests/tracking_check.py): the three experiments, their runs, params, metrics, the
# training loss history, tags, the nested candidate runs, the registered model and its alias,
# and the model artifacts byte-identical to the files. Then: a failing stage leaves a FAILED
# run; with the server answering 500 or nothing from the middle of train, evaluate or optimize
# (a fault-injecting proxy in front of it, tests/fault_proxy.py), the stage completes untracked
# with an untracked run's outputs (tracking.required false) or fails changing no output (true);
# with the server stopped, a stage completes with a warning (false) or fails with a clear
# message (true); and the outputs are the same with tracking as without.
# Last, a second server with MLflow's basic-auth app: the stages log with MLflow's own
# credential variables, and a wrong password is refused with a clear message.
# Needs the release binaries. Usage: tests/tracking.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tests/lib.sh"
ensure_venv "$root/.venv-mlflow" "$root/requirements/mlflow.txt" >&2

port=$(free_port)
uri=http://127.0.0.1:$port
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$root/.venv-mlflow/bin/mlflow" server --host 127.0.0.1 \
    --port "$port" --workers 1 --backend-store-uri "sqlite:///$work/mlflow.db" \
    --artifacts-destination "$work/artifacts" --serve-artifacts >"$work/mlflow.log" 2>&1 </dev/null &
pid=$!
stop_groups+=("$pid")
for _ in $(seq 480); do
    curl -sf -o /dev/null "$uri/health" && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/mlflow.log" >&2; exit 1; }
    sleep 0.5
done
curl -sf -o /dev/null "$uri/health" || { echo "MLflow did not start in 240 s" >&2; exit 1; }

mkdir "$work/project" && cd "$work/project"
git init -q && git -c user.name=t -c user.email=t@localhost commit -q --allow-empty -m init
cat >params.yaml <<'YAML'
load:
  synthetic: {seed: 5, scale: 0.03}
train:
  svd: {n_factors: 10, n_epochs: 6}
optimize:
  cv: 2
  space: {n_factors: [5, 10], n_epochs: [4], lr_all: [0.003, 0.005]}
  ranking: {spaces: {ease: {lambda: [100, 500]}}}
tracking:
  registry: {name: movierec-test, alias: champion}
YAML
stages() {
    "$bin/load" --ratings r.parquet --users u.parquet --movies m.parquet --report load.json
    "$bin/prepare" --ratings r.parquet --train train.parquet --test test.parquet --report prepare.json
    "$bin/train" --train train.parquet --model model.bin --report train.json --loss loss.csv
    "$bin/evaluate" --model model.bin --train train.parquet --test test.parquet --report evaluate.json \
        --errors errors.csv --ranking ranking.csv --ndcg ndcg.csv
    "$bin/optimize" --train train.parquet --test test.parquet --ratings r.parquet --model serve.bin \
        --report optimize.json --candidates candidates.csv
}

# Without tracking: one line says so, and these outputs are the reference.
stages 2>untracked.log
grep -q "MLflow tracking is off" untracked.log || { cat untracked.log; exit 1; }
mkdir untracked && cp evaluate.json optimize.json candidates.csv untracked/
ok "with no tracking URI, each stage says tracking is off"

MLFLOW_TRACKING_URI=$uri stages
"$root/.venv/bin/python" "$root/tests/tracking_check.py" "$uri" "$PWD"
ok "the three experiments, runs, params, metrics, loss history, tags, nested runs, registry and artifacts read back"

python3 - untracked <<'PY'
import json, sys
for name in ("evaluate.json", "optimize.json"):
    a, b = json.load(open(f"{sys.argv[1]}/{name}")), json.load(open(name))
    drop = lambda d: {k: v for k, v in d.items() if "time" not in k and "seconds" not in k}
    if name == "optimize.json":
        a["cv_results"] = [drop(c) for c in a["cv_results"]]
        b["cv_results"] = [drop(c) for c in b["cv_results"]]
        a.pop("serve_model"); b.pop("serve_model")
    assert drop(a) == drop(b), name
PY
ok "the outputs are the same with tracking as without (timings aside)"

# A failing stage ends its run FAILED.
sed -i 's/n_epochs: 6}/n_epochs: 6, lr_all: 5.0}/' params.yaml
if MLFLOW_TRACKING_URI=$uri "$bin/train" -q --train train.parquet --model model2.bin --report t2.json --loss l2.csv; then
    echo "train with lr_all 5 should diverge" >&2
    exit 1
fi
"$root/.venv/bin/python" - "$uri" <<'PY'
import json, sys, urllib.request
uri = sys.argv[1]
def post(path, body):
    req = urllib.request.Request(uri + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
exp = json.load(urllib.request.urlopen(uri + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=train"))
runs = post("/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment"]["experiment_id"]], "order_by": ["attributes.start_time DESC"]})["runs"]
latest = runs[0]
assert latest["info"]["status"] == "FAILED", latest["info"]
tags = {t["key"]: t["value"] for t in latest["data"]["tags"]}
assert "diverged" in tags["error"], tags
PY
ok "a failing stage leaves a FAILED run with the error"
sed -i 's/n_epochs: 6, lr_all: 5.0}/n_epochs: 6}/' params.yaml

# Faults in the middle of a stage: a proxy in front of the real server (tests/fault_proxy.py)
# forwards the stage's first half of its calls, then answers every call 500, or stops
# answering. With tracking.required false the stage completes with the outputs of an untracked
# run; with true it fails, saying so, and every output it had before stays as it was.
proxy_port=$(free_port)
proxy=http://127.0.0.1:$proxy_port
echo pass >"$work/fault"
setsid python3 "$root/tests/fault_proxy.py" "$proxy_port" "$uri" "$work/fault" >"$work/proxy.log" 2>&1 </dev/null &
stop_groups+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "$proxy/health" && break; sleep 0.1; done
cp params.yaml "$work/params.before"
sed -i 's/^  registry: {name: movierec-test, alias: champion}/  registry: {name: movierec-test, alias: champion}\n  retries: 2\n  timeout_seconds: 2/' params.yaml
# run_stage NAME DIR: the stage, its outputs in DIR (evaluate measures model.bin).
run_stage() {
    mkdir -p "$2"
    case $1 in
    train) "$bin/train" --train train.parquet --model "$2/model.bin" --report "$2/train.json" --loss "$2/loss.csv" ;;
    evaluate) "$bin/evaluate" --model model.bin --train train.parquet --test test.parquet --report "$2/evaluate.json" \
        --errors "$2/errors.csv" --ranking "$2/ranking.csv" --ndcg "$2/ndcg.csv" ;;
    optimize) "$bin/optimize" --train train.parquet --test test.parquet --ratings r.parquet --model "$2/serve.bin" \
        --report "$2/optimize.json" --candidates "$2/candidates.csv" ;;
    esac
}
declare -A stage_outputs=([train]="model.bin train.json loss.csv" [evaluate]="evaluate.json errors.csv ranking.csv ndcg.csv"
    [optimize]="serve.bin optimize.json candidates.csv")
for stage in train evaluate optimize; do
    run_stage "$stage" "$work/ref-$stage" 2>/dev/null
    before=$(wc -l <"$work/proxy.log")
    MLFLOW_TRACKING_URI=$proxy run_stage "$stage" "$work/counted-$stage" 2>/dev/null
    calls=$(($(wc -l <"$work/proxy.log") - before))
    for fault in error hang; do
        for required in false true; do
            dir=$work/fault-$stage-$fault-$required
            mkdir -p "$dir"
            for o in ${stage_outputs[$stage]}; do cp "$work/ref-$stage/$o" "$dir/$o"; done
            (cd "$dir" && sha256sum ${stage_outputs[$stage]}) >"$work/before.sum"
            sed -i "s/^  required: .*/  required: $required/" params.yaml
            grep -q "^  required: $required" params.yaml || sed -i "s/^  retries: 2$/  retries: 2\n  required: $required/" params.yaml
            echo "$fault $((calls / 2))" >"$work/fault"
            if MLFLOW_TRACKING_URI=$proxy run_stage "$stage" "$dir" 2>"$work/fault.log"; then
                [[ $required == false ]] || { cat "$work/fault.log"; echo "$stage completed though tracking is required"; exit 1; }
                grep -q "goes on untracked" "$work/fault.log" || { cat "$work/fault.log"; exit 1; }
                outs=(${stage_outputs[$stage]})
                python3 "$root/tests/same_outputs.py" "$work/ref-$stage" "$dir" "${outs[@]}" >/dev/null ||
                    { echo "$stage's outputs differ from an untracked run's after a fault"; exit 1; }
            else
                [[ $required == true ]] || { cat "$work/fault.log"; echo "$stage failed though tracking is not required"; exit 1; }
                grep -q "tracking.required is true" "$work/fault.log" || { cat "$work/fault.log"; exit 1; }
                (cd "$dir" && sha256sum --quiet --check "$work/before.sum") ||
                    { echo "$stage changed an output though it failed"; exit 1; }
                [[ -z $(find "$dir" -name '.*.tmp') ]] || { echo "temporary files left"; exit 1; }
            fi
            echo pass >"$work/fault"
        done
    done
    ok "$stage, MLflow answering 500 or nothing after $((calls / 2)) of its $calls calls: not required, it completes untracked with an untracked run's outputs; required, it fails and changes no output"
done
cp "$work/params.before" params.yaml

# The server stopped.
kill -- "-$pid"
wait "$pid" 2>/dev/null || true
sed -i 's/^  registry: {name: movierec-test, alias: champion}/  registry: {name: movierec-test, alias: champion}\n  retries: 2/' params.yaml
MLFLOW_TRACKING_URI=$uri "$bin/train" --train train.parquet --model model3.bin --report t3.json --loss l3.csv \
    2>down.log || { cat down.log; echo "train failed with tracking not required" >&2; exit 1; }
grep -q "goes on untracked" down.log || { cat down.log; exit 1; }
[[ -s model3.bin ]]
ok "with the server down and tracking not required, the stage warns and completes"
sed -i 's/^  retries: 2/  retries: 2\n  required: true/' params.yaml
if MLFLOW_TRACKING_URI=$uri "$bin/train" --train train.parquet --model model4.bin --report t4.json --loss l4.csv \
    2>required.log; then
    echo "train should fail when tracking is required and the server is down" >&2
    exit 1
fi
grep -q "tracking.required is true" required.log && grep -q "could not be reached" required.log \
    || { cat required.log; exit 1; }
[[ ! -e model4.bin ]]
ok "with the server down and tracking required, the stage fails with a clear message and writes nothing"

# A server that asks who is calling (MLflow's basic-auth app, as DagsHub's does): MLflow's own
# variables authenticate the stages; a wrong password is refused with a clear message.
auth_port=$(free_port)
auth_uri=http://127.0.0.1:$auth_port
admin_password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
cat >"$work/auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$work/auth.db
admin_username = admin
admin_password = $admin_password
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
MLFLOW_AUTH_CONFIG_PATH=$work/auth.ini MLFLOW_FLASK_SERVER_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))') \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$root/.venv-mlflow/bin/mlflow" \
    server --app-name basic-auth --host 127.0.0.1 --port "$auth_port" --workers 1 \
    --backend-store-uri "sqlite:///$work/mlflow-auth.db" --artifacts-destination "$work/artifacts-auth" \
    --serve-artifacts >"$work/mlflow-auth.log" 2>&1 </dev/null &
auth_pid=$!
stop_groups+=("$auth_pid")
for _ in $(seq 480); do
    curl -sf -o /dev/null -u "admin:$admin_password" "$auth_uri/health" && break
    kill -0 "$auth_pid" 2>/dev/null || { cat "$work/mlflow-auth.log" >&2; exit 1; }
    sleep 0.5
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$auth_uri/api/2.0/mlflow/experiments/search?max_results=1") == 401 ]]
MLFLOW_TRACKING_URI=$auth_uri MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=$admin_password \
    "$bin/train" -q --train train.parquet --model model5.bin --report t5.json --loss l5.csv
"$root/.venv/bin/python" - "$auth_uri" "$admin_password" <<'PY'
import base64, json, sys, urllib.request
uri, password = sys.argv[1:]
auth = {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode(), "Content-Type": "application/json"}
def call(path, body=None):
    req = urllib.request.Request(uri + path, None if body is None else json.dumps(body).encode(), auth)
    return json.load(urllib.request.urlopen(req))
exp = call("/api/2.0/mlflow/experiments/get-by-name?experiment_name=train")["experiment"]
runs = call("/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]]})["runs"]
assert [r["info"]["status"] for r in runs] == ["FINISHED"], runs
assert any(m["key"] == "rmse" or m["key"] == "final_train_rmse" for m in runs[0]["data"]["metrics"]), runs[0]["data"]["metrics"]
PY
ok "against a server with basic auth, MLFLOW_TRACKING_USERNAME and _PASSWORD log the stage's run"
if MLFLOW_TRACKING_URI=$auth_uri MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=not-the-password \
    "$bin/train" --train train.parquet --model model6.bin --report t6.json --loss l6.csv 2>wrong.log; then
    echo "train should fail with a wrong password when tracking is required" >&2
    exit 1
fi
grep -q "answered 401" wrong.log || { cat wrong.log; exit 1; }
[[ ! -e model6.bin ]]
if MLFLOW_TRACKING_URI=$auth_uri MLFLOW_TRACKING_USERNAME=admin \
    "$bin/train" --train train.parquet --model model7.bin --report t7.json --loss l7.csv 2>half.log; then
    echo "train should refuse a user name without a password" >&2
    exit 1
fi
grep -q "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD go together" half.log || { cat half.log; exit 1; }
ok "a wrong password is refused (MLflow's 401, named), a user name without a password is an error"

echo "tracking: $passed passed, 0 failed"
