# Sourced by the scripts: installs what the pipeline and the tests drive, pinned, into the
# project's own virtual environment `.venv` (DVC, numpy and scikit-surprise, from
# requirements/tools.txt), with uv. Nothing outside the clone is changed.

# The pinned uv that installs everything else.
UV_VERSION=0.13.8

ensure_tools() {
    local root=$1 venv=$1/.venv
    if [[ ! -x $venv/bin/python ]]; then
        echo "setting up $venv" >&2
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/uv" --version 2>/dev/null | grep -q "^uv $UV_VERSION\b"; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
    fi
    # A quick no-op when the environment already matches the lock file.
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" "$root/requirements/tools.txt"
    export PATH=$venv/bin:$PATH
    export DVC_NO_ANALYTICS=1 SHELL=/bin/bash
}
