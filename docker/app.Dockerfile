# sessionlab-app: the FastCGI responder on :9000.
# Build from the repository root, with BuildKit (DOCKER_BUILDKIT=1), which
# reads docker/app.Dockerfile.dockerignore (no build dirs, .git, node_modules):
#   DOCKER_BUILDKIT=1 docker build -f docker/app.Dockerfile -t sessionlab-app:0.2.0 .
# The whole source tree is copied so that the root meson.build configures as
# it does anywhere; only the app target is compiled.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        meson ninja-build gcc libc6-dev pkg-config libfcgi-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . ./
RUN meson setup /build -Dtests=disabled \
 && meson compile -C /build fcgi-app/sessionlab-app \
 && install -D -s -m 0755 /build/fcgi-app/sessionlab-app /out/sessionlab-app

FROM debian:bookworm-slim
# Runtime libraries only; libfcgi-bin brings cgi-fcgi for the health check
# (the app speaks FastCGI, not HTTP).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libfcgi0ldbl libhiredis0.14 libfcgi-bin \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
 && groupadd --system --gid 10001 sessionlab \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin sessionlab
COPY --from=build /out/sessionlab-app /usr/local/bin/sessionlab-app
COPY docker/app-healthcheck /usr/local/bin/sessionlab-healthcheck
# All interfaces: in compose the load balancer reaches the replicas over the
# network. Kubernetes sets 127.0.0.1:9000 (nginx is in the same pod).
ENV SESSIONLAB_LISTEN=0.0.0.0:9000
EXPOSE 9000
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/sessionlab-healthcheck", "/healthz"]
# The app is PID 1 and handles SIGTERM itself (finishes requests in flight, exits 0).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sessionlab-app"]
