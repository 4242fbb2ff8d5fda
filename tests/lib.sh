# Sourced by the test scripts that start servers, after setting `root`: the release binaries'
# folder ($bin), a work folder ($work) and the servers started in the background, all cleaned
# up on exit (a PID added to `stop_pids` is killed, one added to `stop_groups` has its whole
# process group killed, a command added to `stop_commands` is run, as a compose stack's `down`;
# `stop_servers` does it earlier), `ok` lines with their count ($passed), and `small_project`.
source "$root/scripts/tools.sh"
bin=$(release_dir "$root")
work=$(mktemp -d)
stop_pids=()
stop_groups=()
stop_commands=()
# stop_servers: stops every server started so far (cleanup does it too, on exit): SIGTERM,
# then SIGKILL for what is still there 10 s later, so that a server stuck in its shutdown
# cannot hold the test (and CI) forever.
stop_servers() {
    local p i c
    for p in "${stop_groups[@]}"; do kill -- "-$p" 2>/dev/null || true; done
    for p in "${stop_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${stop_groups[@]}" "${stop_pids[@]}"; do
        for i in $(seq 100); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
    done
    for p in "${stop_groups[@]}"; do kill -9 -- "-$p" 2>/dev/null || true; done
    for p in "${stop_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${stop_groups[@]}" "${stop_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    stop_groups=()
    stop_pids=()
    for c in "${stop_commands[@]}"; do "$c" || true; done
    stop_commands=()
}
cleanup() {
    stop_servers
    rm -rf "$work"
}
trap cleanup EXIT
passed=0
ok() {
    echo "ok: $1"
    passed=$((passed + 1))
}

# small_project DIR: a fresh copy of the project's tracked files in DIR, a git repository of
# its own, with params.yaml shrunk so that the whole pipeline runs in seconds: 2% of the
# synthetic data and a grid of two candidates.
small_project() {
    local dir=$1
    mkdir -p "$dir"
    git -C "$root" ls-files -z | tar -C "$root" --null -T - -cf - | tar -C "$dir" -xf -
    python3 - "$dir/params.yaml" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
for pattern, replacement in [
    (r"(?m)^(    scale: )1\.0\b", r"\g<1>0.02"),
    (r"(?m)^    n_factors: \[50, 100, 175\]$", "    n_factors: [5, 10]"),
    (r"(?m)^    n_epochs: \[20, 30, 40\]$", "    n_epochs: [5]"),
    (r"(?m)^    lr_all: \[0.03, 0.05\].*$", "    lr_all: [0.05]"),
    (r"(?m)^    reg_all: \[0.02, 0.05, 0.1\].*$", "    reg_all: [0.02]"),
]:
    text, n = re.subn(pattern, replacement, text, count=1)
    assert n == 1, f"params.yaml no longer has {pattern}: update small_project in tests/lib.sh"
open(path, "w").write(text)
PY
    git -C "$dir" init -q
    git -C "$dir" add -A
    git -C "$dir" -c user.name=test -c user.email=test@localhost commit -qm "a small copy"
}
