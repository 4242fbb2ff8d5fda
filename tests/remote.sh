#!/usr/bin/env bash
# The DVC remote, end to end, against a real S3 server: SeaweedFS (pinned,
# requirements/seaweedfs.txt, in .venv-s3) on 127.0.0.1 with authentication on. In a fresh
# copy of the project on small data, whose input is a CSV versioned by DVC:
#   - scripts/remote.sh configures the remote: URL and endpoint committed, keys kept out of git;
#   - `dvc repro` then `dvc push` sends every output and the input; a second push sends nothing;
#   - the end of command one (scripts/finish.sh) prints the summary and says it pushed;
#   - a fresh clone's `dvc pull` (keys from the environment) brings them back, `dvc status` is
#     clean, and `serve` answers from the pulled artifacts with no stage run;
#   - a wrong key is refused with a clear message, and changes nothing locally;
#   - no tracked file holds the secret;
#   - the server killed in the middle of a push, then of a pull: the command fails, the
#     workspace and the cache stay intact, the same command completes once the server is back,
#     the remote holds no corrupt object and a fresh clone's pull is byte-identical.
# Needs the release binaries and .venv (scripts/test.sh). Usage: tests/remote.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tests/lib.sh"
trap 'echo "FAILED: tests/remote.sh line $LINENO" >&2' ERR
ensure_tools "$root"
ensure_venv "$root/.venv-s3" "$root/requirements/seaweedfs.txt" >&2
export MOVIEREC_BIN_DIR=$bin
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
export AWS_CONFIG_FILE=$work/no-aws-config AWS_SHARED_CREDENTIALS_FILE=$work/no-aws-credentials

# ---- the S3 server: every port free on 127.0.0.1, one identity ----
ports=()
while [[ ${#ports[@]} -lt 4 ]]; do
    p=$(free_port)
    # SeaweedFS also listens on each HTTP port + 10000 (gRPC).
    ((p + 10000 < 65536)) && python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' \
        $((p + 10000)) 2>/dev/null && ports+=("$p")
done
s3_port=${ports[0]}
endpoint=http://127.0.0.1:$s3_port
key=movierec-ci
secret=$(python3 -c 'import secrets; print(secrets.token_hex(20))')
cat >"$work/s3.json" <<EOF
{"identities": [{"name": "ci", "credentials": [{"accessKey": "$key", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
mkdir -p "$work/weed"
# start_weed: the server on its folder (kept from one start to the next), once it answers.
# Volumes of 64 MB, at most 32 of them (2 GB): SeaweedFS's default of 8 holds 512 MB, less than
# the large input below, the part of it a cut push left, and the outputs, and a full server
# answers every upload with InternalError.
start_weed() {
    setsid "$root/.venv-s3/bin/weed" server -dir="$work/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="${ports[1]}" -volume.port="${ports[2]}" -filer.port="${ports[3]}" \
        -s3 -s3.port="$s3_port" -s3.config="$work/s3.json" -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.volumeSizeLimitMB=64 -volume.max=32 >>"$work/weed.log" 2>&1 &
    weed_pid=$!
    stop_groups+=("$weed_pid")
    for _ in $(seq 120); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$endpoint/" || true) =~ ^[234] ]] && return 0
        kill -0 "$weed_pid" 2>/dev/null || { tail -n 30 "$work/weed.log"; exit 1; }
        sleep 0.5
    done
    echo "SeaweedFS did not answer in 60 s" >&2
    exit 1
}
# stop_weed: the server gone at once, as a crash or a cut network leaves it (SIGKILL).
stop_weed() {
    kill -9 -- "-$weed_pid" 2>/dev/null || true
    wait "$weed_pid" 2>/dev/null || true
}
# weed_writable: waits (60 s at most) until the server takes a multipart upload, as DVC sends
# large files, into the bucket (made here by a signed request the first time; anonymous ones
# are refused). Answering HTTP is not enough: after a restart, the S3 gateway answers before
# its volume server has registered again, and DVC's few quick retries of an upload then fail.
weed_writable() {
    "$root/.venv/bin/python" - "$endpoint" "$key" "$secret" <<'PY'
import sys, time
import botocore.session
endpoint, key, secret = sys.argv[1:]
s3 = botocore.session.get_session().create_client(
    "s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1")
for attempt in range(120):
    try:
        if "movierec" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket="movierec")
        upload = s3.create_multipart_upload(Bucket="movierec", Key="probe/ready")["UploadId"]
        parts = []
        for number, size in [(1, 5 << 20), (2, 1 << 10)]:
            etag = s3.upload_part(Bucket="movierec", Key="probe/ready", UploadId=upload,
                                  PartNumber=number, Body=b"\0" * size)["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
        s3.complete_multipart_upload(Bucket="movierec", Key="probe/ready", UploadId=upload,
                                     MultipartUpload={"Parts": parts})
        s3.delete_object(Bucket="movierec", Key="probe/ready")
        break
    except Exception as e:  # the filer or the volume server may not be up yet
        if attempt == 119:
            sys.exit(f"SeaweedFS takes no upload 60 s after its start: {e}")
        time.sleep(0.5)
PY
}
start_weed
weed_writable
ok "SeaweedFS serves S3 on 127.0.0.1 with authentication on ($("$root/.venv-s3/bin/weed" version 2>/dev/null | grep -o 'version [^ ]* [0-9.]*' | head -1))"

# ---- a project whose input is a CSV versioned by DVC ----
project=$work/project
small_project "$project"
cd "$project"
"$bin/load" --params params.yaml --ratings "$work/r.parquet" --users "$work/u.parquet" --movies "$work/m.parquet" \
    --report "$work/load.json" --export-csv data/raw/ratings.csv --quiet
sed -i 's/^  source: synthetic$/  source: csv/' params.yaml
grep -q '^  source: csv$' params.yaml
dvc add data/raw/ratings.csv >"$work/add.log" 2>&1 || { cat "$work/add.log"; exit 1; }
git add data/raw/ratings.csv.dvc data/raw/.gitignore params.yaml
[[ -z $(git ls-files data/raw/ratings.csv) ]]
git -c user.name=test -c user.email=test@localhost commit -qm "ratings.csv, versioned by DVC"
ok "dvc add versions the input CSV: its hash in git, the file itself out of it"

AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret scripts/remote.sh "$endpoint" s3://movierec/cache \
    2>"$work/remote.log" || { cat "$work/remote.log"; exit 1; }
[[ $(dvc remote default) == store ]]
grep -q "endpointurl = $endpoint" .dvc/config
! grep -q "$secret" .dvc/config
grep -q "$secret" .dvc/config.local
git check-ignore -q .dvc/config.local
[[ $(git status --porcelain) == " M .dvc/config" ]] || { git status --porcelain; exit 1; }
git add .dvc/config
git -c user.name=test -c user.email=test@localhost commit -qm "the DVC remote"
ok "scripts/remote.sh: URL and endpoint in .dvc/config (committed), the key pair in .dvc/config.local (ignored)"

dvc repro >"$work/repro.log" 2>&1 || { tail -n 30 "$work/repro.log"; exit 1; }
git add dvc.lock metrics
git -c user.name=test -c user.email=test@localhost commit -qm "a run" >/dev/null
scripts/finish.sh >"$work/finish.log" 2>&1 || { cat "$work/finish.log"; exit 1; }
grep -q "^Remote     pushed to 'store'" "$work/finish.log" || { cat "$work/finish.log"; exit 1; }
grep -q "^Ranking " "$work/finish.log" && grep -q "^Accuracy " "$work/finish.log"
longest=$(awk '{ if (length > n) n = length } END { print n }' "$work/finish.log")
((longest <= 100)) || { echo "a line of $longest characters" >&2; cat "$work/finish.log"; exit 1; }
ok "the end of command one: the key numbers in lines of $longest characters or fewer, then the push"

dvc push >"$work/push2.log" 2>&1 || { cat "$work/push2.log"; exit 1; }
grep -q "Everything is up to date" "$work/push2.log" || { cat "$work/push2.log"; exit 1; }
ok "a second push of unchanged outputs sends nothing"

# No tracked file holds the secret (the key id is not a secret; DVC's own config.local is ignored).
if git grep -q -F "$secret" HEAD -- . ; then
    echo "the secret is in a tracked file" >&2
    exit 1
fi
ok "the secret is in no tracked file"

# ---- a fresh clone pulls and serves, with no stage run ----
clone=$work/clone
git clone -q "$project" "$clone"
cd "$clone"
[[ ! -e models/serve.bin && ! -e data/raw/ratings.csv ]]
# The remote comes with the clone; keys from the environment only, as on a CI runner.
MOVIEREC_KEYS_IN_ENV=1 scripts/remote.sh "$endpoint" s3://movierec/cache 2>"$work/remote-env.log"
[[ ! -e .dvc/config.local && -z $(git status --porcelain) ]] || { git status --porcelain; exit 1; }
AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret dvc pull >"$work/pull.log" 2>&1 || { cat "$work/pull.log"; exit 1; }
cmp data/raw/ratings.csv "$project/data/raw/ratings.csv"
for f in data/loaded/ratings.parquet data/prepared/train.parquet models/model.bin models/serve.bin \
    data/predictions/recommendations.csv; do
    cmp "$f" "$project/$f"
done
dvc status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s == {}, s'
ok "a fresh clone's dvc pull (remote.sh with keys in the environment only) brings the input and every output; dvc status is clean"

port=$(free_port)
"$bin/serve" --addr "127.0.0.1:$port" --log warn 2>"$work/serve.log" &
stop_pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.1; done
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready") == 200 ]] || { cat "$work/serve.log"; exit 1; }
user=$(sed -n '2s/,.*//p' data/predictions/recommendations.csv)
curl -sf "http://127.0.0.1:$port/users/$user/recommendations?n=5" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["recommendations"]; assert len(r) == 5, r'
[[ -z $(git status --porcelain) ]]
ok "serve answers from the pulled artifacts; nothing ran, nothing changed"

# ---- a wrong key: refused, clearly, and nothing changes locally ----
wrong=$work/wrong
git clone -q "$project" "$wrong"
cd "$wrong"
if AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=not-the-secret dvc pull >"$work/wrong.log" 2>&1; then
    echo "dvc pull succeeded with a wrong key" >&2
    exit 1
fi
# DVC says: failed to connect to s3 (movierec/cache/...) - Forbidden: An error occurred (403) ...,
# or, when it lists the remote first: ... (SignatureDoesNotMatch) ... Check your key ...
grep -Eq "failed to connect to s3 \(movierec/cache.*\(403\)|SignatureDoesNotMatch.*Check your key" "$work/wrong.log" ||
    { cat "$work/wrong.log"; exit 1; }
[[ ! -e models/serve.bin && ! -e data/raw/ratings.csv && -z $(git status --porcelain) ]]
[[ -z $(find .dvc/cache -type f 2>/dev/null) ]]
ok "a pull with a wrong key is refused (S3's answer, quoted by DVC) and writes nothing"

cd "$project"
dvc remote modify --local store secret_access_key not-the-secret
if dvc push >"$work/wrong-push.log" 2>&1; then
    echo "dvc push succeeded with a wrong key" >&2
    exit 1
fi
dvc remote modify --local store secret_access_key "$secret"
grep -Eq "failed to connect to s3 \(movierec/cache.*\(403\)|SignatureDoesNotMatch.*Check your key" "$work/wrong-push.log" ||
    { cat "$work/wrong-push.log"; exit 1; }
[[ -z $(git status --porcelain) ]]
dvc push >"$work/push3.log" 2>&1 || { cat "$work/push3.log"; exit 1; }
grep -q "Everything is up to date" "$work/push3.log" || { cat "$work/push3.log"; exit 1; }
ok "a push with a wrong key is refused; the remote still holds exactly what the right key pushed"

# ---- the server goes away in the middle of a push, then of a pull ----
# A large input (incompressible, 384 MB), so that a transfer takes long enough to be cut: the
# server is killed once it has received (or sent) 48 MB of it. Each time: the command fails
# saying so, the workspace and the cache are intact (every cached object's content matches its
# hash), and once the server is back the same command completes; the remote then holds no
# object whose content does not match its hash, and a fresh clone pulls every byte back.
cd "$project"
mkdir -p data/archive && head -c 384M /dev/urandom >data/archive/big.bin
dvc add data/archive/big.bin >"$work/add-big.log" 2>&1 || { cat "$work/add-big.log"; exit 1; }
git add data/archive/big.bin.dvc data/archive/.gitignore
git -c user.name=test -c user.email=test@localhost commit -qm "a large input"
# cache_intact DIR: every object in DIR's DVC cache has the content its name says.
cache_intact() {
    python3 - "$1/.dvc/cache/files/md5" <<'PY'
import hashlib, pathlib, sys
bad = []
for f in pathlib.Path(sys.argv[1]).glob("*/*"):
    if f.name.endswith(".dir"):
        continue
    h = hashlib.md5()
    with open(f, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != f.parent.name + f.name:
        bad.append(str(f))
assert not bad, f"corrupt cache objects: {bad}"
PY
}
# cut_when_grown DIR MB COMMAND...: runs COMMAND in the background and kills the server once
# DIR has grown by MB megabytes; then waits for COMMAND (10 minutes at most), whose status it
# returns.
cut_when_grown() {
    local dir=$1 mb=$2 start pid
    shift 2
    start=$(du -sm "$dir" | cut -f1)
    timeout 600 "$@" >"$work/cut.log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        (($(du -sm "$dir" | cut -f1) - start >= mb)) && break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; echo "the transfer ended before the cut" >&2; return 0; }
    stop_weed
    wait "$pid"
}
if cut_when_grown "$work/weed" 48 dvc push; then
    cat "$work/cut.log"
    echo "dvc push succeeded though the server went away" >&2
    exit 1
fi
grep -Eiq "failed to (push|upload)|error" "$work/cut.log" || { cat "$work/cut.log"; exit 1; }
cache_intact "$project"
[[ $(dvc status --json) == "{}" && -z $(git status --porcelain) ]] || { dvc status; git status --porcelain; exit 1; }
start_weed
weed_writable
timeout 600 dvc push >"$work/push-again.log" 2>&1 || { cat "$work/push-again.log"; exit 1; }
"$root/.venv/bin/python" - "$endpoint" "$key" "$secret" <<'PY'
import hashlib, sys
import botocore.session
endpoint, key, secret = sys.argv[1:]
s3 = botocore.session.get_session().create_client(
    "s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1")
bad, n = [], 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="movierec", Prefix="cache/files/md5/"):
    for o in page.get("Contents", []):
        if o["Key"].endswith(".dir"):
            continue
        n += 1
        h = hashlib.md5()
        for block in s3.get_object(Bucket="movierec", Key=o["Key"])["Body"].iter_chunks(1 << 20):
            h.update(block)
        parts = o["Key"].split("/")
        if h.hexdigest() != parts[-2] + parts[-1]:
            bad.append(o["Key"])
assert n > 0 and not bad, (n, bad)
print(f"{n} objects on the remote, each with the content its name says")
PY
said=$(grep -Eim1 "failed to (push|upload)|error" "$work/cut.log" | cut -c1-120)
ok "the server killed in the middle of dvc push: the push fails (\"$said\"), workspace and cache intact; once it is back the push completes and the remote holds no corrupt object"

puller=$work/puller
git clone -q "$project" "$puller"
cd "$puller"
MOVIEREC_KEYS_IN_ENV=1 scripts/remote.sh "$endpoint" s3://movierec/cache 2>/dev/null
mkdir -p .dvc/cache
if AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret cut_when_grown "$puller" 48 dvc pull; then
    cat "$work/cut.log"
    echo "dvc pull succeeded though the server went away" >&2
    exit 1
fi
grep -Eiq "failed to (pull|download|fetch)|error" "$work/cut.log" || { cat "$work/cut.log"; exit 1; }
said=$(grep -Eim1 "failed to (pull|download|fetch)|error" "$work/cut.log" | cut -c1-120)
cache_intact "$puller"
# No file in the workspace is half-pulled: each one DVC tracks is absent, or whole (the hash
# dvc.lock or its .dvc file records).
python3 - <<'PY'
import glob, hashlib, os, yaml
recorded = {}
for stage in yaml.safe_load(open("dvc.lock"))["stages"].values():
    recorded.update({o["path"]: o["md5"] for o in stage.get("outs", [])})
for f in glob.glob("**/*.dvc", recursive=True):
    for o in yaml.safe_load(open(f))["outs"]:
        recorded[os.path.join(os.path.dirname(f), o["path"])] = o["md5"]
present = 0
for path, md5 in recorded.items():
    if os.path.isfile(path):
        present += 1
        h = hashlib.md5()
        with open(path, "rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                h.update(block)
        assert h.hexdigest() == md5, f"{path} is half-pulled"
print(f"{present} of {len(recorded)} tracked files pulled before the cut, each whole")
PY
start_weed
weed_writable
AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret timeout 600 dvc pull >"$work/pull-again.log" 2>&1 ||
    { cat "$work/pull-again.log"; exit 1; }
for f in data/archive/big.bin data/raw/ratings.csv models/serve.bin data/predictions/recommendations.csv; do
    cmp "$f" "$project/$f"
done
[[ $(dvc status --json) == "{}" ]] || { dvc status; exit 1; }
cache_intact "$puller"
ok "the server killed in the middle of dvc pull: the pull fails (\"$said\"), no half-pulled file, the cache intact; once it is back the pull completes, byte for byte"

stop_servers
echo "remote: $passed passed, 0 failed"
