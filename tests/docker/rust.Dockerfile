# A stand-in for the official Rust image, for a builder that cannot pull one (tests/docker.sh):
# the local Debian base, a C compiler for the crates that build C, and the Rust toolchain
# copied from the machine that runs the test (the context holds it under toolchain/).
ARG BASE
FROM ${BASE}
# Where cargo keeps its registry: the test gives the path of the machine's own, whose crates
# it mounts there (the same path, so that cargo finds the same sources).
ARG CARGO_HOME=/usr/local/cargo
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY toolchain /usr/local/rust
ENV PATH=/usr/local/rust/bin:$PATH CARGO_HOME=${CARGO_HOME}
RUN rustc --version && cargo --version
