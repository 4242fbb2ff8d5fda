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
failed task's retries (default 2, 5 minutes apart), MOVIEREC_QUEUE the Celery queue of its
tasks (default: Airflow's default queue).

One task runs at a time (`max_active_tasks=1`): DVC takes a lock on the project, so two
stages cannot be reproduced at once.

The second DAG, movierec_sharded, is the pipeline with `optimize`'s search cut into shards
that run on Airflow's Celery workers (docs/scaling.md, "The search on Celery workers").

Tasks on the `project` queue run in the clone, on the one worker that has it: load and
prepare (through DVC), then the search set: the ratings the search's folds are cut from (at
most optimize.search_ratings of them, a sample of the training set's users) with the plan's
identity (`optimize --write-search-set`), put with params.yaml on the DVC remote under
`movierec/runs/<release>/input/` (<release> is `run-<DAG run id>`); train and evaluate go on
beside the search. The shards run on the `default` queue, on any worker: each gets the search
set and params.yaml from the remote, runs its part of a round of the search
(`optimize --shard K/N --search-set`), and puts its shard file on the remote under
`movierec/runs/<release>/shards/`. The rating round's shards go first; each ranking shard
fetches their files (`--after`). Then, in the clone: the merge writes the optimize stage's
outputs (`optimize --merge`), `dvc commit` records them as the stage's (so `dvc status` is
clean and a later `dvc repro` runs nothing), predict runs, the outputs are pushed and published
as the release `serving` (which `serve` replicas follow), and the API is refreshed.

A shard that fails, or whose worker dies or is cut off, is run again by Airflow (MOVIEREC_RETRIES
times, 10 s apart); the shard files of a retry are the same but for the times, and the merge
takes them once. Settings, beside movierec_pipeline's: MOVIEREC_SHARDS (default 2) shards per
round, also a parameter of a run (`shards`); the workers need `optimize`, movierec-remote and
the remote's settings (MOVIEREC_REMOTE_URL, MOVIEREC_REMOTE_ENDPOINT, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param, task

DAG_ID = "movierec_pipeline"
# The Celery queue of the tasks that work in the clone: on the Celery deployment
# (compose.yaml's `celery` profile) MOVIEREC_QUEUE is `project`, the queue of the worker that
# has the clone; elsewhere Airflow's default queue.
QUEUE = os.environ.get("MOVIEREC_QUEUE") or "default"


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
            queue=QUEUE,
        )
        for stage in STAGES
    }
    for upstream, downstream in EDGES:
        tasks[upstream] >> tasks[downstream]
    push = BashOperator(
        task_id="push",
        bash_command=PUSH_COMMAND,
        skip_on_exit_code=99,
        queue=QUEUE,
    )
    [tasks["evaluate"], tasks["predict"]] >> push
    refresh = BashOperator(
        task_id="refresh",
        bash_command=REFRESH_COMMAND,
        skip_on_exit_code=99,
        queue=QUEUE,
    )
    [tasks["evaluate"], tasks["predict"]] >> refresh


# ---- movierec_sharded (module docs) ----

SHARDED_DAG_ID = "movierec_sharded"
# The run's release: its id, as a release name may spell it.
RELEASE = "run-{{ run_id | lower | replace(':', '-') | replace('+', '-') }}"

STAGE_COMMAND = IN_PROJECT + """
"$dvc" repro --single-item {{ params.stage }}
"""

# In the clone: the search set (the ratings the search's folds are cut from, a sample of the
# training set's users, with the plan's identity) and params.yaml, put on the remote under
# movierec/runs/<release>/input/ for the shards.
SEARCH_SET = IN_PROJECT + f"""
release={RELEASE}
input=$(mktemp -d)
trap 'rm -rf "$input"' EXIT
scripts/stage optimize --params params.yaml --train data/prepared/train.parquet \\
    --ratings data/loaded/ratings.parquet --write-search-set "$input/search-set.parquet"
movierec-remote put "$input/search-set.parquet" "runs/$release/input/search-set.parquet"
movierec-remote put params.yaml "runs/$release/input/params.yaml"
"""

# On any worker: the run's search set and params from the remote into a folder of its own, one
# shard, its file back to the remote. ROUND is rating or ranking; MOVIEREC_SHARD is K/N.
SHARD = f"""
set -euo pipefail
release={RELEASE}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
movierec-remote get "runs/$release/input/search-set.parquet" search-set.parquet
movierec-remote get "runs/$release/input/params.yaml" params.yaml
k=${{MOVIEREC_SHARD%/*}} n=${{MOVIEREC_SHARD#*/}}
after=()
if [[ $ROUND == ranking ]]; then
    for i in $(seq "$n"); do
        movierec-remote get "runs/$release/shards/rating-$i.json" "rating-$i.json"
        after+=("rating-$i.json")
    done
    after=(--after "${{after[@]}}")
fi
optimize --params params.yaml --search-set search-set.parquet \\
    --shard "$MOVIEREC_SHARD" --shard-file shard.json "${{after[@]}}"
movierec-remote put shard.json "runs/$release/shards/$ROUND-$k.json"
echo "shard $MOVIEREC_SHARD of the $ROUND round of $release on $(hostname)"
"""

# In the clone: every shard file, the merge into the optimize stage's outputs, and DVC told.
MERGE = IN_PROJECT + f"""
release={RELEASE}
shards=$(mktemp -d)
trap 'rm -rf "$shards"' EXIT
files=()
for name in $(movierec-remote list "runs/$release/shards/"); do
    movierec-remote get "$name" "$shards/${{name##*/}}"
    files+=("$shards/${{name##*/}}")
done
scripts/stage optimize --params params.yaml --train data/prepared/train.parquet \\
    --test data/prepared/test.parquet --ratings data/loaded/ratings.parquet --model models/serve.bin \\
    --report metrics/optimize.json --candidates metrics/optimize_candidates.csv --merge "${{files[@]}}"
"$dvc" commit --force --quiet optimize
"""

PUBLISH = IN_PROJECT + """
"$dvc" push
movierec-remote publish --project "$project" serving
"""

with DAG(
    dag_id=SHARDED_DAG_ID,
    description="movierec with optimize's search sharded across Celery workers",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    max_active_runs=1,
    params={"shards": Param(int(os.environ.get("MOVIEREC_SHARDS") or 2), type="integer", minimum=1)},
    default_args={
        "retries": int(os.environ.get("MOVIEREC_RETRIES") or 3),
        "retry_delay": timedelta(seconds=float(os.environ.get("MOVIEREC_RETRY_DELAY_SECONDS") or 10)),
    },
    tags=["movierec"],
) as sharded:

    def in_project(task_id: str, command: str, **kwargs) -> BashOperator:
        return BashOperator(task_id=task_id, bash_command=command, queue="project", **kwargs)

    stages = {
        s: in_project(s, STAGE_COMMAND, params={"stage": s}) for s in ("load", "prepare", "train", "evaluate", "predict")
    }
    search_set = in_project("search_set", SEARCH_SET)

    @task(queue="project")
    def shards(round_: str, params=None) -> list[dict[str, str]]:
        """Each shard's environment: its round and its K/N."""
        n = int(params["shards"])
        return [{"ROUND": round_, "MOVIEREC_SHARD": f"{k}/{n}"} for k in range(1, n + 1)]

    rounds = {}
    for r in ("rating", "ranking"):
        envs = shards.override(task_id=f"{r}_shards")(r)
        rounds[r] = (
            envs,
            BashOperator.partial(task_id=f"{r}_shard", bash_command=SHARD, queue="default", append_env=True).expand(
                env=envs
            ),
        )
    merge = in_project("merge", MERGE)
    publish = in_project("publish", PUBLISH)
    refresh = BashOperator(task_id="refresh", bash_command=REFRESH_COMMAND, skip_on_exit_code=99, queue="project")

    stages["load"] >> stages["prepare"] >> search_set >> rounds["rating"][0]
    rounds["rating"][1] >> rounds["ranking"][0]
    rounds["ranking"][1] >> merge >> stages["predict"]
    stages["prepare"] >> stages["train"] >> stages["evaluate"]
    [stages["evaluate"], stages["predict"]] >> publish >> refresh
