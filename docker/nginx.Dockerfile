# sessionlab-nginx: Debian's nginx with the configs of nginx-conf/, HTTP :8080.
# Build from the repository root:
#   docker build -f docker/nginx.Dockerfile -t sessionlab-nginx:0.2.0 .
# nginx-conf/ is copied at build time (the one source); the main config is
# rendered at start by scripts/lib/render-nginx-conf (the same renderer the
# local stack uses), in the role given by the environment:
#   SESSIONLAB_NGINX_ROLE=pod  nginx-conf/nginx.conf as is: FastCGI to
#                              127.0.0.1:9000 (the app in the same pod)
#   SESSIONLAB_NGINX_ROLE=lb   load balancer + FastCGI front for the servers in
#                              SESSIONLAB_UPSTREAMS ("app:9000" = every replica
#                              of a compose service), affinity from
#                              SESSIONLAB_AFFINITY (none, client-ip, cookie)
# Either role can also carry the app's Redis connection over TLS (nginx's
# stream module, libnginx-mod-stream): SESSIONLAB_REDIS_TLS=HOST:PORT, the CA
# (and an optional client certificate) in SESSIONLAB_REDIS_TLS_DIR; see
# docker/nginx-entrypoint and docs/containers.md, "TLS to managed Redis".

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx libnginx-mod-stream \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
        /etc/nginx/sites-enabled/* /var/log/nginx/* \
 && groupadd --system --gid 10001 sessionlab \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin sessionlab \
 && install -d -o 10001 -g 10001 -m 0755 /run/sessionlab-nginx
COPY nginx-conf/ /etc/sessionlab/nginx-conf/
COPY scripts/lib/render-nginx-conf /usr/local/lib/sessionlab/render-nginx-conf
COPY docker/nginx-entrypoint /usr/local/bin/sessionlab-nginx-entrypoint
COPY docker/nginx-healthcheck /usr/local/bin/sessionlab-nginx-healthcheck
ENV SESSIONLAB_NGINX_CONF_DIR=/etc/sessionlab/nginx-conf \
    SESSIONLAB_NGINX_PREFIX=/run/sessionlab-nginx \
    SESSIONLAB_NGINX_ROLE=pod
EXPOSE 8080
# nginx runs unprivileged (port 8080, temp paths and pid under the prefix);
# Kubernetes mounts an emptyDir on the prefix for a read-only root filesystem.
USER 10001:10001
# nginx's own health (/nginx-healthz, answered by nginx): an app that is down
# makes the app's container unhealthy, not nginx's.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/sessionlab-nginx-healthcheck"]
# SIGQUIT: graceful shutdown (SIGTERM would be nginx's fast shutdown).
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/sessionlab-nginx-entrypoint"]
