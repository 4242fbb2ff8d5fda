# Prometheus from Debian's package, standing in for the upstream image that compose.yaml names
# (no registry can be pulled from where the tests run): tests/docker.sh starts the stack with
# it (tests/docker/stack.compose.yaml). compose.yaml's flags work with either.
ARG BASE
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends prometheus wget \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10004 --user-group --no-create-home metrics \
    && install -d -o 10004 -g 10004 /prometheus
USER 10004:10004
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
