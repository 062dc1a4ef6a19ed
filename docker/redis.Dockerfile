# sessionlab-redis: Debian's redis-server, for compose on machines without an
# image registry (anywhere else the official redis image works the same way:
# set SESSIONLAB_REDIS_IMAGE). Build from the repository root:
#   docker build -f docker/redis.Dockerfile -t sessionlab-redis:0.1.0 .

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
# mode (only the compose network reaches it), no snapshots. The same command
# line works with the official image (compose.yaml gives it explicitly).
CMD ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no", \
     "--maxmemory", "128mb", "--maxmemory-policy", "volatile-lru"]
