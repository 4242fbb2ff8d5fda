#!/usr/bin/env bash
# Sets up the DVC remote that `dvc push` and `dvc pull` use: an S3 bucket behind any
# S3-compatible endpoint (DagsHub's storage, SeaweedFS, MinIO, AWS itself).
#
# Usage: scripts/remote.sh ENDPOINT_URL s3://BUCKET[/PATH] [NAME]
#   ENDPOINT_URL  the S3 server, e.g. https://dagshub.com/USER/REPO.s3
#   NAME          the remote's name (default: store); it becomes DVC's default remote
# The key pair comes from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment
# (asked for when unset and a terminal is attached). The URL and endpoint go to .dvc/config,
# which is committed so that every clone knows the remote; the key pair goes to
# .dvc/config.local, which DVC keeps out of git. With MOVIEREC_KEYS_IN_ENV=1 the keys are not
# written anywhere: every `dvc push` and `dvc pull` then reads them from the environment.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
[[ $# -ge 2 && $# -le 3 ]] || usage
endpoint=$1 url=$2 name=${3:-store}
[[ $endpoint =~ ^https?://[^/]+ ]] || { echo "error: endpoint '$endpoint': expected an http:// or https:// URL" >&2; exit 2; }
[[ $url =~ ^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$ ]] \
    || { echo "error: remote '$url': expected s3://BUCKET[/PATH] (a bucket name of 3 to 63 lowercase letters, digits, dots or dashes)" >&2; exit 2; }
[[ $name =~ ^[A-Za-z0-9_-]+$ ]] || { echo "error: remote name '$name': expected letters, digits, '_' or '-'" >&2; exit 2; }

command -v dvc >/dev/null || { source scripts/tools.sh; ensure_tools "$root"; }

# The key pair first, so that nothing is written unless everything can be.
if [[ ${MOVIEREC_KEYS_IN_ENV:-0} != 1 ]]; then
    key=${AWS_ACCESS_KEY_ID:-} secret=${AWS_SECRET_ACCESS_KEY:-}
    if [[ -z $key || -z $secret ]] && [[ -t 0 ]]; then
        [[ -n $key ]] || read -rp "access key id: " key
        [[ -n $secret ]] || { read -rsp "secret access key: " secret; echo; }
    fi
    [[ -n $key && -n $secret ]] || { echo "error: no key pair: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or MOVIEREC_KEYS_IN_ENV=1)" >&2; exit 2; }
fi

dvc remote add --quiet --force --default "$name" "$url"
dvc remote modify "$name" endpointurl "$endpoint"
if [[ ${MOVIEREC_KEYS_IN_ENV:-0} == 1 ]]; then
    if [[ -f .dvc/config.local ]]; then
        dvc remote modify --local --unset "$name" access_key_id 2>/dev/null || true
        dvc remote modify --local --unset "$name" secret_access_key 2>/dev/null || true
    fi
    echo "remote '$name' (the default): $url at $endpoint; keys read from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY at every push and pull" >&2
else
    dvc remote modify --local "$name" access_key_id "$key"
    dvc remote modify --local "$name" secret_access_key "$secret"
    echo "remote '$name' (the default): $url at $endpoint; key pair in .dvc/config.local (not committed)" >&2
fi
echo "next: git add .dvc/config && git commit -m 'DVC remote', then dvc push" >&2
