#!/usr/bin/env bash
# The end of command one (scripts/pipeline.sh), after `dvc repro`: the run's key numbers
# (scripts/summary.py; `dvc metrics show` has them all) and, when a default DVC remote is
# configured (scripts/remote.sh), a `dvc push` of the input and every output, saying whether
# it worked. Exits non-zero if the push fails. Needs DVC and Python on PATH (ensure_tools).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

echo
echo "The pipeline ran."
python3 scripts/summary.py "$root"

if remote=$(dvc remote default 2>/dev/null) && [[ -n $remote ]]; then
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    if dvc push >"$log" 2>&1; then
        echo "Remote     pushed to '$remote': $(tail -n 1 "$log" | cut -c 1-80)"
    else
        echo "Remote     NOT pushed to '$remote' (the outputs stay here); dvc push said:"
        tail -n 5 "$log" | cut -c 1-300 | sed 's/^/           /'
        exit 1
    fi
else
    echo "Remote     none configured, nothing pushed (scripts/remote.sh sets one up)"
fi
