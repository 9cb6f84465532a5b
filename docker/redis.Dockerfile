# Redis for docker/compose.yaml, from the same base image as mockcloud, with Debian's
# redis-server (apt reaches a Debian mirror; no image registry is needed). Where a
# registry is reachable, the official image does as well: MOCKCLOUD_REDIS_IMAGE=redis:7.
#
#   docker build -f docker/redis.Dockerfile --build-arg BASE=python:3.11-slim -t mockcloud-redis docker
#
# Append-only file on (appendfsync everysec): the state survives a restart of Redis too.
ARG BASE=python:3.11-slim
FROM ${BASE}
# Debian's version of the base's release; a pin would break on the next point release
# The user redis made first, with a number of ours (the package keeps an existing one).
# hadolint ignore=DL3008
RUN groupadd --system --gid 999 redis \
    && useradd --system --no-log-init --uid 999 --gid 999 --home-dir /var/lib/redis redis \
    && apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir /data && chown 999:999 /data
USER 999:999
WORKDIR /data
VOLUME /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["redis-cli", "ping"]
# on the compose network only (compose.yaml publishes no port of it)
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data", \
     "--appendonly", "yes", "--appendfsync", "everysec"]
