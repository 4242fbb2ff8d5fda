#!/usr/bin/env bash
# Where one machine ends: `optimize` at MovieLens-32M's shape in one process on two threads,
# against the movierec_sharded DAG's search on two Celery workers of one core each (compose.yaml's
# `celery` profile on the Docker engine, as tests/docker.sh runs it, with bench/workers.compose.yaml),
# side by side: RUNS runs of each (default 2), alternating, on the same data and params. Each
# sharded run must write the one-process outputs (tests/same_outputs.py).
#
# The project is a fresh copy whose params.yaml differs from the committed one only by the
# synthetic source's shape (scale 14.955, 87,000 movies, 160 ratings a user: 200,000 users, 32
# million ratings). load, prepare, train and evaluate run first, in the airflow image, so that
# the DAG's runs find them done and run the search alone (then predict, which waits for it).
# Times come from Airflow's task instances and the shard files; peak memory from each
# container's memory cgroup (v1). Prints a table of the runs and one JSON line with what
# bench/workers_report.py projects from; the runs' records stay in test-output/bench-workers/
# (MOVIEREC_BENCH_RESULTS). Needs root (or sudo) and the Docker engine; builds the
# images as tests/docker.sh does (kept in $MOVIEREC_CONTAINERS). About 45 minutes.
# Usage: bench/workers.sh [RUNS [SCALE MOVIES RATINGS_PER_USER]]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-2} scale=${2:-14.955} movies=${3:-87000} per_user=${4:-160}
source "$root/scripts/tools.sh"
cargo build --release --locked --manifest-path "$root/Cargo.toml" >&2
source "$root/tests/lib.sh"
docker info >/dev/null 2>&1 || { echo "no Docker engine answers (docker info)" >&2; exit 1; }
ensure_venv "$root/.venv-docker" "$root/requirements/docker-tests.txt" >&2
compose_bin=$("$root/.venv-docker/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')
image_targets="build airflow postgres redis"
source "$root/tests/images.sh"
tag=${MOVIEREC_BENCH_TAG:-bench}
to_engine "$tag" airflow postgres redis seaweedfs
echo "the images are in the Docker engine as movierec-*:$tag" >&2

# ---- the project, its data prepared ----
project=$work/project
mkdir -p "$project"
git -C "$root" ls-files -z | tar -C "$root" --null -T - -cf - | tar -C "$project" -xf -
python3 - "$project/params.yaml" "$scale" "$movies" "$per_user" <<'PY'
import re, sys
path, scale, movies, per_user = sys.argv[1:]
text = open(path).read()
for key, value in (("scale", scale), ("movies", movies), ("ratings_per_user", per_user)):
    text, n = re.subn(rf"(?m)^(    {key}: )\S+", rf"\g<1>{value}", text, count=1)
    assert n == 1, key
open(path, "w").write(text)
PY
git -C "$project" init -q
git -C "$project" add -A
git -C "$project" -c user.name=bench -c user.email=bench@localhost commit -qm "the benchmark's copy"
$as_root chown -R 10001:10001 "$project"
started=$SECONDS
in_image "$airflow_image" -v "$project:/opt/movierec" -- dvc repro evaluate >"$work/repro.log" 2>&1 \
    || { tail -n 30 "$work/repro.log"; exit 1; }
echo "load, prepare, train and evaluate in $((SECONDS - started)) s" >&2
in_image "$airflow_image" -v "$project:/opt/movierec" -- sh -c \
    'dvc remote add -q -d store s3://movierec/dvc && dvc remote modify store endpointurl http://seaweedfs:8333'

# ---- the celery profile ----
s3_identity "$work/s3.json"
export MOVIEREC_TAG=$tag MOVIEREC_S3_CONFIG=$work/s3.json MOVIEREC_S3_PORT=$(free_port) \
    MOVIEREC_REMOTE_URL=s3://movierec/dvc MOVIEREC_REMOTE_ENDPOINT=http://seaweedfs:8333 \
    MOVIEREC_DB_PASSWORD=db$RANDOM$RANDOM MOVIEREC_AIRFLOW_SECRET=jwt$RANDOM$RANDOM$RANDOM$RANDOM \
    MOVIEREC_CELERY_AIRFLOW_PORT=$(free_port) MOVIEREC_SHARDS=2 MOVIEREC_WORKERS=2 \
    MOVIEREC_UID=10001 MOVIEREC_GID=10001 MOVIEREC_API_TOKEN=bench-token-$RANDOM$RANDOM$RANDOM \
    GRAFANA_ADMIN_PASSWORD=bench-password-$RANDOM$RANDOM
cel() {
    "$compose_bin" --project-directory "$project" -p "movierec-bench-$$" -f "$project/compose.yaml" \
        -f "$root/tests/docker/replicas.compose.yaml" -f "$root/bench/workers.compose.yaml" --profile celery "$@"
}
cel_down() { cel down --volumes --timeout 10 >/dev/null 2>&1 || true; }
stop_commands+=(cel_down)
cel up --detach --no-build seaweedfs >"$work/celery.log" 2>&1 || { cat "$work/celery.log"; exit 1; }
make_bucket "http://127.0.0.1:$MOVIEREC_S3_PORT" || { cel logs seaweedfs | tail -n 30; exit 1; }
cel up --detach --no-build postgres redis airflow-init airflow-apiserver airflow-scheduler airflow-dag-processor \
    airflow-project airflow-worker >>"$work/celery.log" 2>&1 || { cat "$work/celery.log"; exit 1; }
apiserver=$(cel ps --quiet airflow-apiserver)
for _ in $(seq 180); do
    [[ $(docker inspect --format '{{.State.Health.Status}}' "$apiserver") == healthy ]] && break
    sleep 1
done
password=$(docker exec "$apiserver" python3 -c 'import json; print(json.load(open("/tmp/airflow/simple_auth_manager_passwords.json.generated"))["admin"])')
mapfile -t workers < <(cel ps --quiet airflow-worker)
echo "the celery profile is up: ${#workers[@]} shard workers" >&2

# memory_file CONTAINER: its memory cgroup's peak usage file (v1, cgroupfs), if there is one.
memory_file() {
    local id
    id=$(docker inspect --format '{{.Id}}' "$1")
    for f in "/sys/fs/cgroup/memory/docker/$id/memory.max_usage_in_bytes" \
        "/sys/fs/cgroup/memory/system.slice/docker-$id.scope/memory.max_usage_in_bytes"; do
        [[ -f $f ]] && { echo "$f"; return; }
    done
}
# remote_in_image COMMAND...: COMMAND in the airflow image with the remote's settings (from the host).
remote_in_image() {
    in_image "$airflow_image" -v "$work:/bench" --env "MOVIEREC_REMOTE_URL=$MOVIEREC_REMOTE_URL" \
        --env "MOVIEREC_REMOTE_ENDPOINT=http://127.0.0.1:$MOVIEREC_S3_PORT" \
        --env "AWS_ACCESS_KEY_ID=$s3_key" --env "AWS_SECRET_ACCESS_KEY=$s3_secret" -- "$@"
}
$as_root chown 10001:10001 "$work"

for i in $(seq "$runs"); do
    # The search on the workers: a run of movierec_sharded (each shard fetches the search set
    # from the remote).
    for w in "${workers[@]}"; do
        f=$(memory_file "$w")
        [[ -z $f ]] || echo 0 | $as_root tee "$f" >/dev/null
    done
    python3 "$root/tests/airflow_run.py" "http://127.0.0.1:$MOVIEREC_CELERY_AIRFLOW_PORT" "$password" \
        movierec_sharded --require merge --times "$work/sharded-$i.json" --timeout 7200 >"$work/run-$i.log" 2>&1 \
        || { cat "$work/run-$i.log"; cel logs --tail 40 airflow-scheduler airflow-project airflow-worker; exit 1; }
    for w in "${workers[@]}"; do
        f=$(memory_file "$w")
        echo "$w $( [[ -z $f ]] || cat "$f")"
    done >"$work/sharded-$i.memory"
    release=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["run"]; print("run-" + r.lower().replace(":", "-").replace("+", "-"))' "$work/sharded-$i.json")
    mkdir -p "$work/shards-$i"
    $as_root chown 10001:10001 "$work/shards-$i"
    remote_in_image sh -c "for k in \$(movierec-remote list runs/$release/shards/); do movierec-remote get \$k /bench/shards-$i/\${k##*/}; done"
    for f in models/serve.bin metrics/optimize.json metrics/optimize_candidates.csv; do
        mkdir -p "$work/sharded-$i-out/$(dirname "$f")"
        cp "$project/$f" "$work/sharded-$i-out/$f"
    done
    echo "run $i: the sharded search done" >&2

    # The same search in one process, in a container of the same image.
    ref=$work/one-$i
    mkdir -p "$ref/models" "$ref/metrics"
    $as_root chown -R 10001:10001 "$ref"
    container=$(docker create --user 10001:10001 -w /opt/movierec -v "$project:/opt/movierec:ro" -v "$ref:/reference" \
        "movierec-airflow:$tag" optimize --params params.yaml --train data/prepared/train.parquet \
        --test data/prepared/test.parquet --ratings data/loaded/ratings.parquet --model /reference/models/serve.bin \
        --report /reference/metrics/optimize.json --candidates /reference/metrics/optimize_candidates.csv)
    docker start "$container" >/dev/null
    f=$(memory_file "$container")
    peak=
    while [[ $(docker inspect --format '{{.State.Running}}' "$container") == true ]]; do
        [[ -z $f ]] || peak=$(cat "$f" 2>/dev/null || echo "$peak")
        sleep 0.5
    done
    docker logs "$container" >"$ref/optimize.log" 2>&1
    [[ $(docker inspect --format '{{.State.ExitCode}}' "$container") == 0 ]] || { tail -n 30 "$ref/optimize.log"; exit 1; }
    docker inspect --format '{{.State.StartedAt}} {{.State.FinishedAt}}' "$container" >"$ref/wall"
    echo "$peak" >"$ref/memory"
    docker rm "$container" >/dev/null
    python3 "$root/tests/same_outputs.py" "$ref" "$work/sharded-$i-out" \
        models/serve.bin metrics/optimize.json metrics/optimize_candidates.csv >&2
    echo "run $i: one process done, the same outputs" >&2
done

# The runs' records, kept for the report to be run again (bench/workers_report.py DIR RUNS).
results=${MOVIEREC_BENCH_RESULTS:-$root/test-output/bench-workers}
rm -rf "$results"
mkdir -p "$results"
for i in $(seq "$runs"); do
    cp -r "$work/sharded-$i.json" "$work/sharded-$i.memory" "$work/shards-$i" "$results/"
    mkdir -p "$results/one-$i/metrics"
    cp "$work/one-$i/wall" "$work/one-$i/memory" "$results/one-$i/"
    cp "$work/one-$i/metrics/optimize.json" "$results/one-$i/metrics/"
done
echo "the runs' records are in $results" >&2
python3 "$root/bench/workers_report.py" "$results" "$runs"
