#!/usr/bin/env bash
# The DVC pipeline, end to end, in a fresh copy of the working tree (a new git repository,
# source mtimes kept): `dvc repro` runs every stage and reproduces the committed results
# (load's and prepare's dvc.lock entries, the evaluation, the search), and so does every
# instruction set the CPU runs (MOVIEREC_SIMD: avx512, avx2, baseline); a second run skips; a
# parameter change reruns exactly the stages that depend on it; the surprise training mode
# gives scikit-surprise's numbers; missing or stale binaries are clear errors.
#
# Needs the release binaries built and .venv/bin (DVC, PyYAML, scikit-surprise) first on PATH;
# scripts/test.sh does both.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/tools.sh"
export MOVIEREC_BIN_DIR=${MOVIEREC_BIN_DIR:-$(release_dir "$root")}
export DVC_NO_ANALYTICS=1 SHELL=/bin/bash

work=$(mktemp -d)
export work
trap 'rm -rf "$work"' EXIT
export DVC_SITE_CACHE_DIR=$work/dvc-site
repo=$work/repo
mkdir -p "$repo"
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
    while IFS= read -r -d '' f; do [[ -e $root/$f ]] && printf '%s\0' "$f"; done |
    tar -C "$root" --null -T - -cf - | tar -C "$repo" -xf -
cd "$repo"
git init -q && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm snapshot

passed=0
failed=0
check() {
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok: $name"
    else
        failed=$((failed + 1))
        echo "FAILED: $name"
        [[ -f $work/out ]] && sed 's/^/    /' "$work/out" | tail -20
    fi
}
repro() { dvc repro "$@" >"$work/out" 2>&1; }
ran() { grep -q "Running stage '$1'" "$work/out"; }
skipped() { grep -q "Stage '$1' didn't change, skipping" "$work/out"; }
unchanged() { git diff --quiet -- "$@"; }

check "a fresh copy's dvc repro runs every stage" \
    bash -c "$(declare -f repro ran); repro && ran load && ran prepare && ran train && ran evaluate && ran optimize && ran predict"
check "outputs exist" test -s data/loaded/ratings.parquet -a -s data/loaded/users.parquet \
    -a -s data/loaded/movies.parquet -a -s data/prepared/train.parquet -a -s data/prepared/test.parquet \
    -a -s models/model.bin -a -s metrics/evaluate.json -a -s models/serve.bin -a -s data/predictions/recommendations.csv
check "load and prepare reproduce the committed dvc.lock entries and reports" \
    bash -c "unchanged() { git diff --quiet -- \"\$@\"; }; unchanged metrics/load.json metrics/prepare.json && git show HEAD:dvc.lock | python3 -c '
import sys, yaml
old = yaml.safe_load(sys.stdin)[\"stages\"]
new = yaml.safe_load(open(\"dvc.lock\"))[\"stages\"]
for stage in (\"load\", \"prepare\"):
    assert old[stage] == new[stage], stage
'"
check "training reproduces the committed evaluation (the model's fit is deterministic)" python3 - <<'PY'
import json, subprocess
old = json.loads(subprocess.run(["git", "show", "HEAD:metrics/evaluate.json"], capture_output=True, check=True).stdout)
new = json.load(open("metrics/evaluate.json"))
for key in ("rmse", "mae", "nombre_utilisateurs", "nombre_films", "score_pertinence_moyen", "baselines", "ranking", "test"):
    assert old[key] == new[key], (key, old[key], new[key])
PY
check "the search reproduces the committed results (fit times aside)" python3 - <<'PY'
import json, subprocess
old = json.loads(subprocess.run(["git", "show", "HEAD:metrics/optimize.json"], capture_output=True, check=True).stdout)
new = json.load(open("metrics/optimize.json"))
for key in ("best_index", "best_params", "best_score", "test_score", "candidates", "failed"):
    assert old[key] == new[key], (key, old[key], new[key])
strip = lambda rs: [{k: v for k, v in r.items() if "fit_time" not in k} for r in rs]
assert strip(old["cv_results"]) == strip(new["cv_results"])
PY
# The same outputs on every instruction set this CPU runs: train, evaluate, optimize and predict
# run again under each path MOVIEREC_SIMD forces give the bytes of the run above but for what
# records a time (tests/same_outputs.py), and dvc.lock changes only for the outputs that do.
stages_outputs() {
    python3 - <<'PY'
import yaml
stages = yaml.safe_load(open("dvc.yaml"))["stages"]
for s in ("train", "evaluate", "optimize", "predict"):
    for kind in ("outs", "metrics", "plots"):
        for o in stages[s].get(kind, []):
            print(o if isinstance(o, str) else next(iter(o)))
PY
}
mapfile -t outputs < <(stages_outputs)
reference=$work/reference
for o in "${outputs[@]}" dvc.lock; do
    mkdir -p "$reference/$(dirname "$o")" && cp "$o" "$reference/$o"
done
ran_on=$(python3 -c 'import json; print(json.load(open("metrics/train.json"))["instructions"])')
for isa in avx512 avx2 baseline; do
    [[ ${ran_on%+fma} == "$isa" ]] && continue
    # Whether this CPU runs it, asked of the binary outside DVC (which would remove the
    # stage's outputs before the binary refuses).
    if ! MOVIEREC_SIMD=$isa scripts/stage train --train data/prepared/train.parquet --model "$work/probe.bin" \
        --report "$work/probe.json" --loss "$work/probe.csv" >"$work/out" 2>&1; then
        grep -q "this CPU has no" "$work/out" && { echo "skipped: MOVIEREC_SIMD=$isa (this CPU cannot run it)"; continue; }
    fi
    forced() {
        local s
        for s in train evaluate optimize predict; do
            MOVIEREC_SIMD=$isa dvc repro --single-item --force "$s" >"$work/out" 2>&1 || return 1
        done
    }
    check "MOVIEREC_SIMD=$isa: dvc repro runs train, evaluate, optimize and predict again" forced
    check "MOVIEREC_SIMD=$isa: train, evaluate, optimize and predict write the same outputs (times aside)" \
        python3 tests/same_outputs.py "$reference" . "${outputs[@]}"
    check "MOVIEREC_SIMD=$isa: dvc.lock changes only for the files that record a time" python3 - "$reference/dvc.lock" <<'PY'
import sys, yaml
timed = {"models/model.bin", "metrics/train.json", "metrics/evaluate.json", "models/serve.bin",
         "metrics/optimize.json", "metrics/optimize_candidates.csv"}
old, new = (yaml.safe_load(open(p))["stages"] for p in (sys.argv[1], "dvc.lock"))
assert old.keys() == new.keys()
for stage in old:
    assert old[stage].get("params") == new[stage].get("params"), stage
    for kind in ("deps", "outs"):
        changed = {o["path"] for o, n in zip(old[stage][kind], new[stage][kind]) if o != n}
        assert changed <= timed, (stage, kind, changed - timed)
PY
    check "MOVIEREC_SIMD=$isa ran its instructions" grep -q "\"instructions\": \"${isa}" metrics/train.json
done

check "predict ranks up to n movies for every user" python3 - <<'PY'
import collections, csv, json
report = json.load(open("metrics/predict.json"))
rows = list(csv.DictReader(open("data/predictions/recommendations.csv", newline="")))
assert list(rows[0]) == ["user_id", "user_name", "rank", "movie_id", "title", "score"]
assert report["users"] == 13373 and report["rows"] == len(rows), report
ranks = collections.defaultdict(list)
for r in rows:
    ranks[r["user_id"]].append(int(r["rank"]))
    assert 0 <= float(r["score"]) <= 100, r
# Fewer than n (or none) only for the few users who rated all but a few of the 385 movies.
assert all(v == list(range(1, len(v) + 1)) and len(v) <= 10 for v in ranks.values())
assert sum(len(v) == 10 for v in ranks.values()) > 0.99 * 13373
PY
check "load.json has the seed's statistics" python3 - <<'PY'
import json
s = json.load(open("metrics/load.json"))["stats"]
assert (s["ratings"], s["users"], s["movies"], s["min"], s["max"]) == (407610, 13373, 385, 0, 100), s
for key, target in (("mean", 48.50), ("median", 47.15), ("sd", 21.46)):
    assert abs(s[key] - target) <= 0.5, (key, s[key])
PY
check "a second dvc repro skips every stage" \
    bash -c "$(declare -f repro skipped); repro && skipped load && skipped prepare && skipped train && skipped evaluate && skipped optimize && skipped predict && grep -q 'Data and pipelines are up to date' '$work/out'"
check "dvc status is clean" bash -c "dvc status --json | python3 -c 'import json,sys; assert json.load(sys.stdin) == {}'"
check "dvc dag is load -> prepare -> train -> evaluate, prepare -> optimize -> predict" python3 - <<'PY'
import subprocess
dot = subprocess.run(["dvc", "dag", "--dot"], capture_output=True, text=True, check=True).stdout
edges = [("load", "prepare"), ("prepare", "train"), ("train", "evaluate"), ("prepare", "evaluate"),
         ("prepare", "optimize"), ("optimize", "predict"), ("load", "predict")]
for a, b in edges:
    assert f'"{a}" -> "{b}"' in dot, (a, b, dot)
PY
check "dvc plots show renders the six plots" bash -c "dvc plots show --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert not d.get(\"errors\"), d.get(\"errors\")
assert set(d[\"data\"]) == {\"Training RMSE by epoch\", \"Test errors (actual minus predicted)\", \"Precision and recall at K\", \"NDCG at K of every ranking (test set)\", \"Cross-validated RMSE of every SVD candidate\", \"Cross-validated ranking measure of every candidate\"}, list(d[\"data\"])
'"

sed -i 's/^  test_size: 0.2$/  test_size: 0.25/' params.yaml
check "changing a prepare parameter reruns prepare and what follows it" \
    bash -c "$(declare -f repro ran skipped); repro && skipped load && ran prepare && ran train && ran evaluate && ran optimize && ran predict && ! ran load"
check "the new split is in the metrics" python3 -c '
import json; r = json.load(open("metrics/prepare.json")); assert r["test_size"] == 0.25 and r["test"]["ratings"] == 101903, r'
check "dvc params diff shows the change" bash -c "dvc params diff | grep -q 'prepare.test_size'"

git checkout -q -- params.yaml
repro
sed -i 's/^  n: 10  /  n: 5  /' params.yaml
check "changing predict.n reruns predict alone" \
    bash -c "$(declare -f repro ran skipped); repro && ran predict && ! ran optimize && ! ran train && ! ran evaluate && ! ran prepare && ! ran load"
git checkout -q -- params.yaml
repro
sed -i 's/^  relevance_threshold: 60 /  relevance_threshold: 70 /' params.yaml
check "changing an evaluate parameter reruns evaluate only" \
    bash -c "$(declare -f repro ran skipped); repro && ran evaluate && ! ran train && ! ran prepare && ! ran load"
git checkout -q -- params.yaml
sed -i '0,/^    seed: 42$/s//    seed: 7/' params.yaml
check "changing a load parameter reruns every stage" \
    bash -c "$(declare -f repro ran); repro && ran load && ran prepare && ran train && ran evaluate && ran optimize && ran predict"
git checkout -q -- params.yaml

# train (surprise mode) then evaluate, on prepare's split, give scikit-surprise's numbers.
# (Surprise's step: the constant rate, lr_all 0.005, no rate of the biases' own.)
sed -i 's/^  mode: fast$/  mode: surprise/; s/^    n_factors: 100$/    n_factors: 20/; s/^    n_epochs: 20$/    n_epochs: 5/
    /^  svd:/,/^  ranking:/ { s/^    adagrad: true$/    adagrad: false/; s/^    lr_all: 0.05 /    lr_all: 0.005 /; /^    lr_b[ui]: /d }' params.yaml
check "train in surprise mode + evaluate give scikit-surprise's rmse and mae" bash -c "
    repro() { dvc repro >'$work/out' 2>&1; }
    repro && scripts/stage load --params params.yaml --ratings '$work/r.parquet' --users '$work/u.parquet' \
        --movies '$work/m.parquet' --report '$work/l.json' --export-csv '$work/ratings.csv' 2>/dev/null && python3 - '$work/ratings.csv' <<'PY'
import csv, json, sys, tempfile
from surprise import SVD, Dataset, Reader, accuracy
from surprise.model_selection import train_test_split
with open(sys.argv[1], newline='') as f, tempfile.NamedTemporaryFile('w', suffix='.tsv', delete=False) as out:
    for row in csv.DictReader(f):
        out.write(f\"{row['id_utilisateur']}\t{row['id_film']}\t{row['score_pertinence']}\n\")
data = Dataset.load_from_file(out.name, Reader(line_format='user item rating', sep='\t', rating_scale=(0, 100)))
trainset, testset = train_test_split(data, test_size=0.2, random_state=42)
algo = SVD(n_factors=20, n_epochs=5, random_state=42)
algo.fit(trainset)
predictions = algo.test(testset)
ours = json.load(open('metrics/evaluate.json'))
for name, theirs in (('rmse', accuracy.rmse(predictions, verbose=False)), ('mae', accuracy.mae(predictions, verbose=False))):
    assert abs(ours[name] - theirs) <= 1e-12, (name, ours[name], theirs)
print('rmse', ours['rmse'], 'mae', ours['mae'], 'as scikit-surprise')
PY"
git checkout -q -- params.yaml

# Another of Surprise's algorithms as the rating model, through the whole pipeline: train then
# evaluate give scikit-surprise's numbers; optimize searches one more algorithm beside SVD.
sed -i 's/^  algorithm: svd$/  algorithm: knn_baseline/' params.yaml
sed -i '0,/^  algorithms: {}$/s//  algorithms: {knn_baseline: {k: 40, sim_options: {name: pearson_baseline, user_based: false}}}/' params.yaml
sed -i 's/^  algorithms: {}$/  algorithms: {slope_one: {}}/' params.yaml
check "train with knn_baseline + evaluate give scikit-surprise's rmse and mae; optimize searches slope_one" bash -c "
    repro() { dvc repro >'$work/out' 2>&1; }
    repro && python3 - '$work/ratings.csv' <<'PY'
import csv, json, sys, tempfile
from surprise import KNNBaseline, Dataset, Reader, accuracy
from surprise.model_selection import train_test_split
with open(sys.argv[1], newline='') as f, tempfile.NamedTemporaryFile('w', suffix='.tsv', delete=False) as out:
    for row in csv.DictReader(f):
        out.write(f\"{row['id_utilisateur']}\t{row['id_film']}\t{row['score_pertinence']}\n\")
data = Dataset.load_from_file(out.name, Reader(line_format='user item rating', sep='\t', rating_scale=(0, 100)))
trainset, testset = train_test_split(data, test_size=0.2, random_state=42)
algo = KNNBaseline(k=40, sim_options={'name': 'pearson_baseline', 'user_based': False}, verbose=False)
algo.fit(trainset)
predictions = algo.test(testset)
ours = json.load(open('metrics/evaluate.json'))
assert ours['algorithm'] == 'knn_baseline', ours['algorithm']
for name, theirs in (('rmse', accuracy.rmse(predictions, verbose=False)), ('mae', accuracy.mae(predictions, verbose=False))):
    assert abs(ours[name] - theirs) <= 1e-12, (name, ours[name], theirs)
train = json.load(open('metrics/train.json'))
assert train['algorithm'] == 'knn_baseline' and train['params']['k'] == 40, train
opt = json.load(open('metrics/optimize.json'))
searched = [c for c in opt['cv_results'] if c.get('algorithm') == 'slope_one']
assert len(searched) == 1 and searched[0]['status'] == 'ok', searched
rows = sum(1 for _ in open('data/predictions/recommendations.csv'))
assert rows > 1, rows
print('rmse', ours['rmse'], 'mae', ours['mae'], 'as scikit-surprise; slope_one cv rmse', searched[0]['mean_test_rmse'])
PY"
git checkout -q -- params.yaml

check "a missing binary is a clear error" bash -c \
    "! MOVIEREC_BIN_DIR=$work/no-bin scripts/stage load --help 2>'$work/out' && grep -q 'load stage binary is missing' '$work/out'"
check "dvc repro fails when the binaries are missing" bash -c \
    "! MOVIEREC_BIN_DIR=$work/no-bin dvc repro -f load >'$work/out' 2>&1 && grep -q 'binary is missing' '$work/out'"
touch crates/core/src/data/split.rs
check "a binary older than its sources is a clear error" bash -c \
    "! scripts/stage prepare --help 2>'$work/out' && grep -q 'older than crates/core/src/data/split.rs' '$work/out'"

echo "pipeline: $passed passed, $failed failed"
((failed == 0))
