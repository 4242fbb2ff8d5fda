"""The movierec pipeline as an Airflow DAG: load -> prepare -> train -> evaluate, and
prepare -> optimize -> predict, as in dvc.yaml, then a push of the outputs to the DVC remote
and a refresh of the API.

Each task runs its stage through DVC (`dvc repro --single-item STAGE`), so a stage whose
inputs, code and params have not changed is skipped and dvc.lock stays true; DVC, not
Airflow, decides what to rebuild. The stages' binaries must be built (`cargo build --release`).
When every stage has succeeded, the push task runs `dvc push` if the clone has a default DVC
remote (scripts/remote.sh), and is skipped with a log line saying so if it has none.

Settings, read when a task runs, each from an Airflow Variable or else the environment
variable of the same name:
- MOVIEREC_PROJECT: the clone to run in (required);
- MOVIEREC_DVC: the dvc command (default: the clone's .venv/bin/dvc, else `dvc`);
- MOVIEREC_API_URL and MOVIEREC_API_TOKEN: the API to refresh when the pipeline is done
  (without a URL the refresh task is skipped).
From the environment of Airflow's DAG processor: MOVIEREC_SCHEDULE sets the schedule (a cron
expression or preset; default @weekly), MOVIEREC_RETRIES and MOVIEREC_RETRY_DELAY_MINUTES a
failed task's retries (default 2, 5 minutes apart).

One task runs at a time (`max_active_tasks=1`): DVC takes a lock on the project, so two
stages cannot be reproduced at once.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

DAG_ID = "movierec_pipeline"


def from_settings(name: str) -> str:
    """Bash that sets $NAME from the Airflow Variable NAME, else keeps the environment's."""
    return f'{name}="{{{{ var.value.get("{name}", "") }}}}"; {name}="${{{name}:-${{{name}_ENV:-}}}}"'


# The stages and `dvc dag`'s edges: one per stage that reads another's output (tests/airflow.sh
# checks that they are the same).
STAGES = ["load", "prepare", "train", "evaluate", "optimize", "predict"]
EDGES = [
    ("load", "prepare"),
    ("load", "optimize"),
    ("load", "predict"),
    ("prepare", "train"),
    ("prepare", "evaluate"),
    ("prepare", "optimize"),
    ("train", "evaluate"),
    ("optimize", "predict"),
]

SETTINGS = "\n".join(
    f"{name}_ENV=\"${{{name}:-}}\"; " + from_settings(name)
    for name in ("MOVIEREC_PROJECT", "MOVIEREC_DVC", "MOVIEREC_API_URL", "MOVIEREC_API_TOKEN")
)

# Into the clone, with its DVC as $dvc.
IN_PROJECT = SETTINGS + """
set -euo pipefail
project="${MOVIEREC_PROJECT:?set the Airflow Variable or environment variable MOVIEREC_PROJECT to the clone}"
cd "$project"
dvc="${MOVIEREC_DVC:-}"
if [[ -z $dvc ]]; then
    if [[ -x .venv/bin/dvc ]]; then dvc=.venv/bin/dvc; else dvc=dvc; fi
fi
export DVC_NO_ANALYTICS=1
"""

STAGE_COMMAND = IN_PROJECT + """
"$dvc" repro --single-item {{ params.stage }}
"""

PUSH_COMMAND = IN_PROJECT + """
if ! remote=$("$dvc" remote default 2>/dev/null) || [[ -z $remote ]]; then
    echo "no default DVC remote in $project: nothing pushed (scripts/remote.sh sets one up)"
    exit 99
fi
echo "pushing the outputs to the DVC remote '$remote'"
"$dvc" push
"""

REFRESH_COMMAND = SETTINGS + """
set -euo pipefail
if [[ -z "${MOVIEREC_API_URL:-}" ]]; then
    echo "no MOVIEREC_API_URL: no API to refresh"
    exit 99
fi
curl --fail-with-body -sS --retry 3 -X POST -H "Authorization: Bearer ${MOVIEREC_API_TOKEN:-}" \
    "${MOVIEREC_API_URL%/}/refresh"
echo
"""


with DAG(
    dag_id=DAG_ID,
    description="movierec: load, prepare, train, evaluate, optimize, predict through DVC, then push and refresh the API",
    start_date=datetime(2026, 1, 1),
    schedule=os.environ.get("MOVIEREC_SCHEDULE") or "@weekly",
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    default_args={
        "retries": int(os.environ.get("MOVIEREC_RETRIES") or 2),
        "retry_delay": timedelta(minutes=float(os.environ.get("MOVIEREC_RETRY_DELAY_MINUTES") or 5)),
    },
    tags=["movierec"],
) as dag:
    tasks = {
        stage: BashOperator(
            task_id=stage,
            bash_command=STAGE_COMMAND,
            params={"stage": stage},
        )
        for stage in STAGES
    }
    for upstream, downstream in EDGES:
        tasks[upstream] >> tasks[downstream]
    push = BashOperator(
        task_id="push",
        bash_command=PUSH_COMMAND,
        skip_on_exit_code=99,
    )
    [tasks["evaluate"], tasks["predict"]] >> push
    refresh = BashOperator(
        task_id="refresh",
        bash_command=REFRESH_COMMAND,
        skip_on_exit_code=99,
    )
    [tasks["evaluate"], tasks["predict"]] >> refresh
