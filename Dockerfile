# movierec's container images, built from one clone of the repository:
#
#   docker build -t movierec .                            # the API and the stage binaries (target runtime)
#   docker build --target airflow -t movierec-airflow .   # Airflow and DVC, to run the pipeline on a schedule
#   docker build --target mlflow -t movierec-mlflow .     # the MLflow tracking server
#   docker build --target replica -t movierec-replica .   # serve following a release of the DVC remote
#   docker build --target balancer -t movierec-balancer . # HAProxy in front of the replicas
#
# compose.yaml builds them and runs the whole stack (the last two with `--profile replicas`).
# Two build arguments name the images the others start from, so a builder with no registry
# can give local ones:
#   RUST_IMAGE  the Rust toolchain the binaries are compiled with (Rust 1.95, Debian bookworm);
#   BASE        the Debian bookworm system the images run on (glibc matches the builder's).
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG BASE=debian:bookworm-slim

# ---- manifests: the workspace's Cargo.toml files and Cargo.lock alone ----
# Its output changes only when one of them does, so the dependency layer below stays cached
# when only sources change.
FROM ${BASE} AS manifests
COPY Cargo.toml Cargo.lock /workspace/
COPY crates /workspace/crates
RUN find /workspace/crates -type f ! -name Cargo.toml -delete

# ---- build: the release binaries ----
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY --from=manifests /workspace ./
# Dependencies first, in their own layer, rebuilt only when a manifest or Cargo.lock changes:
# each crate gets an empty library and main so that the workspace resolves and every
# dependency compiles; the stubs are removed in the same layer. The release profile is the
# repository's own, so a cargo cache from a build outside the image serves this one too.
RUN for crate in crates/*/; do \
        mkdir -p "${crate}src" && echo 'fn main() {}' > "${crate}src/main.rs" && touch "${crate}src/lib.rs"; \
    done \
    && cargo build --release --locked --bins \
    && rm -rf crates/*/src
# Then the sources. Their copies may carry times older than the stubs' build, so they are
# touched: cargo then rebuilds the workspace's own crates instead of keeping the stubs. The
# binaries are stripped (the symbols are most of their size).
# Beside the binaries goes the checksum of every source they were built from: scripts/stage
# refuses to run them in a clone whose sources differ, so dvc.lock cannot record outputs of
# other code than the code it hashes.
COPY crates crates
RUN find crates -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --bins \
    && mkdir -p /out/bin /out/share/movierec \
    && cp target/release/load target/release/prepare target/release/train target/release/evaluate \
        target/release/optimize target/release/predict target/release/serve /out/bin/ \
    && strip /out/bin/* \
    && find Cargo.toml Cargo.lock crates -type f \( -name Cargo.toml -o -name Cargo.lock -o -path '*/src/*' \) \
        -exec sha256sum {} + > /out/share/movierec/sources.sha256

# ---- python: a base with Python 3.11 and a pinned uv, for the Airflow and MLflow images ----
FROM ${BASE} AS python
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group movierec
COPY requirements/uv.txt /tmp/uv.txt
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check --requirement /tmp/uv.txt \
    && ln -s /opt/uv/bin/uv /usr/local/bin/uv
# uv checks TLS against the system's certificates, as pip and apt do.
ENV UV_SYSTEM_CERTS=1 UV_NO_CACHE=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

# ---- mlflow: the tracking server (sqlite store, served artifacts) ----
FROM python AS mlflow
COPY requirements/mlflow.txt /tmp/mlflow.txt
RUN uv venv --python /usr/bin/python3 /opt/mlflow \
    && uv pip install --python /opt/mlflow/bin/python --requirement /tmp/mlflow.txt \
    && install -d -o movierec -g movierec /mlflow
ENV PATH=/opt/mlflow/bin:$PATH
USER 10001:10001
WORKDIR /mlflow
EXPOSE 5000
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000", \
     "--backend-store-uri", "sqlite:////mlflow/mlflow.db", "--artifacts-destination", "/mlflow/artifacts", \
     "--serve-artifacts"]

# ---- airflow: Airflow, DVC and the stage binaries, to run dvc.yaml's stages as the DAG's tasks ----
FROM python AS airflow
# curl: the DAG's refresh task; git: DVC's view of the clone.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl git \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/airflow.txt requirements/dvc.txt /tmp/
# Two environments: Airflow's and DVC's pins are resolved apart.
RUN uv venv --python /usr/bin/python3 /opt/airflow-venv \
    && uv pip install --python /opt/airflow-venv/bin/python --requirement /tmp/airflow.txt \
    && uv venv --python /usr/bin/python3 /opt/dvc \
    && uv pip install --python /opt/dvc/bin/python --requirement /tmp/dvc.txt \
    && ln -s /opt/dvc/bin/dvc /usr/local/bin/dvc
COPY --from=build /out/ /usr/local/
# movierec-remote, with DVC's Python: the sharded search's workers fetch their inputs and put
# their shard files with it (no clone on a worker).
COPY deploy/remote/movierec-remote /usr/local/bin/
RUN sed -i '1s|.*|#!/opt/dvc/bin/python|' /usr/local/bin/movierec-remote
# The project (a clone, mounted here) is where the DAG runs `dvc repro`; the stages find their
# binaries in MOVIEREC_BIN_DIR instead of the clone's target folder.
ENV PATH=/opt/airflow-venv/bin:$PATH \
    AIRFLOW_HOME=/opt/movierec/.airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/movierec/airflow/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    MOVIEREC_PROJECT=/opt/movierec \
    MOVIEREC_BIN_DIR=/usr/local/bin \
    MOVIEREC_DVC=dvc
USER 10001:10001
WORKDIR /opt/movierec
EXPOSE 8080
CMD ["airflow", "standalone"]

# ---- replica: serve following a release of the DVC remote, one of a load balancer's pool ----
# movierec-replica checks the release out (DVC pulls the model and the data from the remote),
# starts serve on it and moves to each new version (deploy/remote, docs/scaling.md).
FROM python AS replica
COPY requirements/dvc.txt /tmp/
RUN uv venv --python /usr/bin/python3 /opt/dvc \
    && uv pip install --python /opt/dvc/bin/python --requirement /tmp/dvc.txt \
    && ln -s /opt/dvc/bin/dvc /usr/local/bin/dvc \
    && install -d -o movierec -g movierec /srv/movierec
COPY --from=build /out/ /usr/local/
# movierec-remote runs with DVC's Python, which has botocore.
COPY deploy/remote/movierec-remote deploy/remote/movierec-replica /usr/local/bin/
RUN sed -i '1s|.*|#!/opt/dvc/bin/python|' /usr/local/bin/movierec-remote
USER 10001:10001
WORKDIR /srv/movierec
ENV MOVIEREC_ADDR=0.0.0.0:8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["serve", "--health-check"]
CMD ["movierec-replica"]

# ---- balancer: HAProxy in front of the replicas (deploy/haproxy/haproxy.cfg) ----
FROM ${BASE} AS balancer
RUN apt-get update \
    && apt-get install -y --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10003 --user-group --no-create-home balancer
COPY deploy/haproxy/haproxy.cfg /etc/haproxy/haproxy.cfg
ENV MOVIEREC_REPLICAS=3
USER 10003:10003
EXPOSE 8000
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]

# ---- postgres and redis: Airflow's metadata database and Celery's broker (profile `celery`) ----
FROM ${BASE} AS postgres
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10005 --user-group --no-create-home metadata \
    && install -d -o 10005 -g 10005 /var/lib/movierec-postgres
COPY deploy/postgres/movierec-postgres /usr/local/bin/
USER 10005:10005
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=5s --retries=12 CMD ["pg_isready", "-h", "127.0.0.1", "-U", "airflow"]
CMD ["movierec-postgres"]

FROM ${BASE} AS redis
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10006 --user-group --no-create-home broker
USER 10006:10006
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=5s --retries=12 CMD ["redis-cli", "ping"]
# On the stack's private network only (no published port); nothing is kept on disk: a broker
# that restarts loses queued messages, and Airflow's scheduler sends them again.
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]

# ---- runtime (the default target): serve and the six stage binaries ----
FROM ${BASE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group movierec
COPY --from=build /out/ /usr/local/
USER 10001:10001
# serve's default paths (models/serve.bin, data/loaded/..., params.yaml) are relative to the
# project: mount the clone, or its data, models and metrics folders, here.
WORKDIR /opt/movierec
ENV MOVIEREC_ADDR=0.0.0.0:8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["serve", "--health-check"]
CMD ["serve"]
