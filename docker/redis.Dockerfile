# sessionlab-redis: Debian's redis-server (bookworm: 7.0.15 with Debian's
# security patches, whatever bookworm-security has when the image is built),
# for compose on machines without an image registry, as tests/containers/run
# uses it. Elsewhere compose's default is the official redis:8.6.3, the tag
# of the Kubernetes overlays (docker/compose.redis.yaml says why). Build from
# the repository root and select it:
#   docker build -f docker/redis.Dockerfile -t sessionlab-redis:0.2.0 .
#   export SESSIONLAB_REDIS_IMAGE=sessionlab-redis:0.2.0

FROM debian:bookworm-slim
# The redis user gets uid/gid 999 first, as in the official image, so the same
# numeric user works for volume ownership either way.
RUN groupadd --system --gid 999 redis \
 && useradd --system --uid 999 --gid 999 --home-dir /var/lib/redis --shell /usr/sbin/nologin redis \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
 && install -d -o redis -g redis -m 0750 /data
WORKDIR /data
EXPOSE 6379
USER 999:999
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["redis-cli", "ping"]
# No config file: listen on every interface of the container, no protected
# mode, no snapshots. compose (docker/compose.redis.yaml) gives its own
# command line, with --requirepass; the same one works with the official image.
CMD ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no", \
     "--maxmemory", "128mb", "--maxmemory-policy", "volatile-lru"]
