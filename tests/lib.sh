# Sourced by the test scripts that start servers, after setting `root`: the release binaries'
# folder ($bin), a work folder ($work) and the servers started in the background, all cleaned
# up on exit (a PID added to `stop_pids` is killed, one added to `stop_groups` has its whole
# process group killed), and `ok` lines with their count ($passed).
source "$root/scripts/tools.sh"
bin=$(release_dir "$root")
work=$(mktemp -d)
stop_pids=()
stop_groups=()
cleanup() {
    local p
    for p in "${stop_groups[@]}"; do
        kill -- "-$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    for p in "${stop_pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
passed=0
ok() {
    echo "ok: $1"
    passed=$((passed + 1))
}
