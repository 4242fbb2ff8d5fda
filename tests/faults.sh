#!/usr/bin/env bash
# Faults a pipeline meets, each made to happen for real, in a fresh copy of the project at the
# seed's default size (the same data and parameters as command one):
#   - kill -9 of every stage at a random moment, three times each: the previous outputs stay
#     whole (the old ones, or the new ones complete when the kill comes after the stage put
#     them in place), and the stage's next run removes the temporary files the killed one left;
#   - kill -9 of every stage's process while `dvc repro` runs it (DVC removes a stage's outputs
#     before it runs it): dvc.lock is unchanged, no output is half-written, the previous
#     outputs come back byte for byte (data from DVC's cache with dvc checkout, metrics from
#     git), and the next `dvc repro` completes with an undisturbed run's outputs and a clean
#     `dvc status`; the temporary files a kill leaves are ignored by git;
#   - the disk fills while each stage writes (a 64 MB tmpfs, filled to its last 8 KB): the stage
#     fails with a message naming the file and the cause, its previous outputs intact, no
#     temporary file left.
# The kills' moments are drawn from a seed printed first (MOVIEREC_FAULT_SEED replays a run).
# Needs the release binaries, .venv/bin (DVC) on PATH, and root for the tmpfs (mount);
# scripts/test.sh provides the first two. Usage: tests/faults.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/tests/lib.sh"
trap 'echo "FAILED: tests/faults.sh line $LINENO" >&2' ERR
ensure_tools "$root"
export MOVIEREC_BIN_DIR=$bin DVC_SITE_CACHE_DIR=$work/dvc-site
seed=${MOVIEREC_FAULT_SEED:-$(date +%s)}
RANDOM=$seed
echo "the kills' moments: seed $seed (MOVIEREC_FAULT_SEED=$seed replays them)"

repo=$work/repo
mkdir -p "$repo"
git -C "$root" ls-files -z | tar -C "$root" --null -T - -cf - | tar -C "$repo" -xf -
cd "$repo"
git init -q && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm snapshot

# Each stage's command and outputs, as dvc.yaml names them.
stage_info() {
    python3 - "$1" "$2" <<'PY'
import sys, yaml
stage = yaml.safe_load(open("dvc.yaml"))["stages"][sys.argv[1]]
if sys.argv[2] == "cmd":
    print(" ".join(stage["cmd"].split()))
else:
    for kind in ("outs", "metrics", "plots"):
        for o in stage.get(kind, []):
            print(o if isinstance(o, str) else next(iter(o)))
PY
}
stages=(load prepare train evaluate optimize predict)
declare -A cmd seconds
all_outputs=()
for s in "${stages[@]}"; do
    cmd[$s]=$(stage_info "$s" cmd)
    mapfile -t outs < <(stage_info "$s" outs)
    all_outputs+=("${outs[@]}")
done
outputs_of() { stage_info "$1" outs; }

dvc repro >"$work/repro.log" 2>&1 || { tail -n 30 "$work/repro.log"; exit 1; }
# As a user would: the run's dvc.lock and metrics committed, its data in DVC's cache.
git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm "a run"
reference=$work/reference
for o in "${all_outputs[@]}"; do mkdir -p "$reference/$(dirname "$o")" && cp "$o" "$reference/$o"; done
# Each stage's time alone, for the kills' moments.
for s in "${stages[@]}"; do
    start=$(date +%s%N)
    bash -c "${cmd[$s]}" >/dev/null 2>&1
    seconds[$s]=$(python3 -c "print(($(date +%s%N) - $start) / 1e9)")
done
python3 "$root/tests/same_outputs.py" "$reference" . "${all_outputs[@]}" >/dev/null
ok "the pipeline ran, and each stage alone: $(for s in "${stages[@]}"; do printf '%s %.1f s, ' "$s" "${seconds[$s]}"; done | sed 's/, $//')"

# A moment in the stage's run: 0 to 110% of its time, in milliseconds.
moment() { python3 -c "print(int($1 * 1100 * $2 / 32767))"; }
# Temporary files next to a stage's outputs.
leftovers() {
    local o
    for o in $(outputs_of "$1"); do
        find "$(dirname "$o")" -maxdepth 1 -name ".$(basename "$o").*.tmp"
    done
}
# Whether every output of the stage is whole: the previous one or a complete new one.
whole() { python3 "$root/tests/same_outputs.py" "$reference" . $(outputs_of "$1") >"$work/whole" 2>&1; }

# ---- kill -9 of each stage run alone ----
for s in "${stages[@]}"; do
    kept=0 replaced=0 left=0 moments=()
    for _ in 1 2 3; do
        ms=$(moment "${seconds[$s]}" "$RANDOM")
        moments+=("$ms")
        mapfile -t before < <(sha256sum $(outputs_of "$s"))
        bash -c "exec ${cmd[$s]}" >/dev/null 2>&1 &
        pid=$!
        sleep "$(python3 -c "print($ms / 1000)")"
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        whole "$s" || { echo "after a kill at $ms ms, an output of $s is not whole:"; cat "$work/whole"; exit 1; }
        if [[ $(sha256sum $(outputs_of "$s")) == "$(printf '%s\n' "${before[@]}")" ]]; then
            kept=$((kept + 1))
        else
            replaced=$((replaced + 1))
        fi
        left=$((left + $(leftovers "$s" | wc -l)))
    done
    bash -c "${cmd[$s]}" >/dev/null 2>"$work/rerun.log" || { cat "$work/rerun.log"; exit 1; }
    [[ -z $(leftovers "$s") ]] || { echo "temporary files left after $s ran again:"; leftovers "$s"; exit 1; }
    whole "$s" || { cat "$work/whole"; exit 1; }
    ok "kill -9 of $s alone at ${moments[*]} ms: every output whole ($kept kept, $replaced replaced whole); $left temporary files left, removed by the next run"
done
# The stages ran outside DVC: put back the outputs dvc.lock records (those of the first run).
for o in "${all_outputs[@]}"; do cp "$reference/$o" "$o"; done
[[ $(dvc status --json) == "{}" ]] || { dvc status; exit 1; }

# ---- kill -9 of each stage's process while dvc repro runs it ----
# A moment within 90% of the stage's time alone, counted from when its process appears; when
# the stage still ends first (DVC's own start varies, and a stage of a tenth of a second may
# be seen late), another moment within half the range before, up to six: the last at once.
for s in "${stages[@]}"; do
    cp dvc.lock "$work/dvc.lock.before"
    mapfile -t outs < <(outputs_of "$s")
    mapfile -t before < <(sha256sum "${outs[@]}")
    killed=0 late=()
    for try in 0 1 2 3 4 5; do
        dvc repro --single-item --force "$s" >"$work/killed.log" 2>&1 &
        dvc_pid=$!
        pid=
        for _ in $(seq 600); do
            pid=$(pgrep -f "^$bin/$s " | head -n 1 || true)
            [[ -n $pid ]] && break
            sleep 0.02
        done
        [[ -n $pid ]] || { cat "$work/killed.log"; echo "dvc never started $s"; exit 1; }
        ms=$(($(moment "${seconds[$s]}" "$RANDOM") * 9 / 11 / (1 << try)))
        ((try < 5)) || ms=0
        sleep "$(python3 -c "print($ms / 1000)")"
        kill -9 "$pid" 2>/dev/null || true
        if ! wait "$dvc_pid"; then
            killed=1
            break
        fi
        # Too late: the stage ended first; its outputs must be whole all the same.
        whole "$s" || { cat "$work/whole"; exit 1; }
        late+=("$ms")
        cp dvc.lock "$work/dvc.lock.before"
        git add -A && { git -c user.name=ci -c user.email=ci@localhost commit -qm "a run of $s" >/dev/null || true; }
        mapfile -t before < <(sha256sum "${outs[@]}")
    done
    ((killed)) || { echo "every kill of $s came after it ended (${late[*]} ms)"; exit 1; }
    cmp -s dvc.lock "$work/dvc.lock.before" || { echo "dvc.lock changed by a killed $s"; exit 1; }
    for o in "${outs[@]}"; do
        [[ ! -e $o ]] || grep -qxF "$(sha256sum "$o")" <(printf '%s\n' "${before[@]}") ||
            { echo "a killed $s left $o neither as it was nor absent"; exit 1; }
    done
    # The previous outputs: data from DVC's cache, metrics from git.
    git checkout -q -- metrics
    dvc checkout --force "$s" >/dev/null 2>&1
    [[ $(sha256sum "${outs[@]}") == "$(printf '%s\n' "${before[@]}")" ]] || { echo "$s's previous outputs are lost"; exit 1; }
    dvc repro >"$work/repro.log" 2>&1 || { tail -n 30 "$work/repro.log"; exit 1; }
    [[ $(dvc status --json) == "{}" ]] || { dvc status; exit 1; }
    python3 "$root/tests/same_outputs.py" "$reference" . "${all_outputs[@]}" >/dev/null
    left=$(for x in "${stages[@]}"; do leftovers "$x"; done | wc -l)
    # (A repro that ran stages again changed dvc.lock and metrics; what a kill leaves must be
    # invisible to git.)
    untracked=$(git status --porcelain --untracked-files=all | grep '^??' || true)
    [[ -z $untracked ]] || { echo "$untracked"; echo "the killed $s left files git sees"; exit 1; }
    git add -A && { git -c user.name=ci -c user.email=ci@localhost commit -qm "after the kill of $s" >/dev/null || true; }
    ok "kill -9 of $s at $ms ms under dvc repro${late[*]:+ (too late first at ${late[*]} ms)}: dvc.lock unchanged, no half-written output, the previous ones back from the cache and git, the next dvc repro completes; the $left temporary files the kills left are ignored by git"
done

# ---- the disk fills while each stage writes ----
full=$work/full
mkdir -p "$full"
mount -t tmpfs -o size=64m movierec-full "$full"
stop_full() { umount "$full" 2>/dev/null || true; }
trap 'stop_full; cleanup' EXIT
for s in "${stages[@]}"; do
    mapfile -t outs < <(outputs_of "$s")
    rm -rf "${full:?}"/*
    args=${cmd[$s]}
    for o in "${outs[@]}"; do
        mkdir -p "$full/$(dirname "$o")" && cp "$o" "$full/$o"
        args=${args// $o/ $full/$o}
    done
    (cd "$full" && sha256sum "${outs[@]}") >"$work/before.sum"
    # Fill the disk to its last 8 KB: the stage starts writing, then runs out of room.
    dd if=/dev/zero of="$full/filler" bs=64k status=none 2>/dev/null || true
    truncate -s "-8K" "$full/filler"
    if bash -c "$args" >/dev/null 2>"$work/full.log"; then
        echo "$s succeeded on a full disk"
        exit 1
    fi
    grep -q "No space left on device" "$work/full.log" && grep -q "failed to write $full/" "$work/full.log" ||
        { cat "$work/full.log"; exit 1; }
    (cd "$full" && sha256sum --quiet --check "$work/before.sum") || { echo "$s changed an output on a full disk"; exit 1; }
    [[ -z $(find "$full" -name '.*.tmp') ]] || { echo "temporary files left on the full disk"; exit 1; }
    ok "$s on a full disk: $(grep -o "failed to write $full/[^ :]*" "$work/full.log" | head -n 1 | sed "s|$full/||"), no space left; the previous outputs intact, nothing left behind"
done
stop_full

echo "faults: $passed passed, 0 failed"
