"""Reads back, over MLflow's REST API, what train, evaluate and optimize logged, and checks it
against the files the stages wrote. Used by tests/tracking.sh.

Usage: tracking_check.py URI PROJECT_DIR
"""

import json
import sys
import urllib.parse
import urllib.request

uri, project = sys.argv[1], sys.argv[2]


def get(path, **query):
    url = f"{uri}{path}?{urllib.parse.urlencode(query)}" if query else uri + path
    return json.load(urllib.request.urlopen(url))


def post(path, body):
    request = urllib.request.Request(uri + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))


def runs_of(experiment):
    exp = get("/api/2.0/mlflow/experiments/get-by-name", experiment_name=experiment)["experiment"]
    return post("/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]], "max_results": 1000})["runs"]


def params(run):
    return {p["key"]: p["value"] for p in run["data"].get("params", [])}


def metrics(run):
    return {m["key"]: m["value"] for m in run["data"].get("metrics", [])}


def tags(run):
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def artifact(run, path):
    root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    return urllib.request.urlopen(f"{uri}/api/2.0/mlflow-artifacts/artifacts/{root}/{path}").read()


def read(name):
    with open(f"{project}/{name}", "rb") as f:
        return f.read()


def report(name):
    return json.loads(read(name))


def check_common(run, stage):
    assert run["info"]["status"] == "FINISHED", (stage, run["info"])
    t = tags(run)
    assert t["stage"] == stage and t["dvc_stage"] == stage, t
    assert t["model_format_version"] == "3", t
    assert len(t["git_commit"]) == 40, t


# train: params, the loss history by epoch, the report's numbers, the model file.
(train,) = runs_of("train")
check_common(train, "train")
p = params(train)
assert p["svd.n_factors"] == "10" and p["svd.n_epochs"] == "6" and p["mode"] == "fast", p
assert p["data_fingerprint"] == report("train.json")["data_fingerprint"], p
m = metrics(train)
for key in ("training_time", "n_users", "n_movies", "mean_score", "final_train_rmse"):
    assert abs(m[key] - report("train.json")[key]) <= 1e-9 * max(1, abs(m[key])), (key, m[key])
history = get("/api/2.0/mlflow/metrics/get-history", run_id=train["info"]["run_id"], metric_key="train_rmse")["metrics"]
assert sorted(h["step"] for h in history) == list(range(1, 7)), history
assert artifact(train, "model/model.bin") == read("model.bin")
assert json.loads(artifact(train, "metrics/train.json")) == report("train.json")
assert artifact(train, "plots/train_loss.csv") == read("loss.csv")

# evaluate: the original's metrics and the ranking metrics.
(evaluate,) = runs_of("evaluate")
check_common(evaluate, "evaluate")
m, r = metrics(evaluate), report("evaluate.json")
for key in ("rmse", "mae", "training_time", "nombre_utilisateurs", "nombre_films", "score_pertinence_moyen"):
    assert abs(m[key] - r[key]) <= 1e-9 * max(1, abs(r[key])), (key, m[key], r[key])
assert abs(m["ranking.precision"] - r["ranking"]["precision"]) < 1e-12
assert abs(m["rankings.most_rated.ndcg"] - r["rankings"]["most_rated"]["ndcg"]) < 1e-12
assert params(evaluate)["k"] == "10"
assert artifact(evaluate, "metrics/evaluate.json") == read("evaluate.json")

# optimize: a parent with the best, a child per candidate, the registered model.
runs = runs_of("optimize")
parents = [x for x in runs if "mlflow.parentRunId" not in tags(x)]
assert len(parents) == 1, [tags(x) for x in runs]
parent = parents[0]
check_common(parent, "optimize")
children = [x for x in runs if tags(x).get("mlflow.parentRunId") == parent["info"]["run_id"]]
o = report("optimize.json")
assert len(children) == o["candidates"] == 6, len(children)
kinds = sorted(params(c)["kind"] for c in children)
assert kinds == ["ease", "ease", "relevance", "relevance", "relevance", "relevance"], kinds
best = [c for c in children if tags(c)["best"] == "true"]
assert len(best) == 1 and tags(parent)["best_run_id"] == best[0]["info"]["run_id"]
assert int(tags(best[0])["candidate"]) == o["best_index"] + 1
assert abs(metrics(best[0])["mean_test_rmse"] - o["best_score"]["rmse"]) < 1e-12
assert params(parent)["best.n_factors"] == str(o["best_params"]["n_factors"])
assert params(parent)["best_ranking.kind"] == o["best_ranking"]["kind"], params(parent)
assert abs(metrics(parent)["test_score.rmse"] - o["test_score"]["rmse"]) < 1e-12
assert artifact(parent, "model/serve.bin") == read("serve.bin")
alias = get("/api/2.0/mlflow/registered-models/alias", name="movierec-test", alias="champion")["model_version"]
assert alias["run_id"] == parent["info"]["run_id"], alias
print("tracking_check: every run, param, metric, tag, artifact and the registry read back")
