# Helpers for tests/containers/run (and scripts/lab --target compose): a
# private Docker engine on 198.19.0.0/16, the debian:bookworm-slim base made
# with debootstrap, and the sessionlab images. Source it; needs bash with
# set -euo pipefail. Every function says what it starts; ct_engine_stop stops
# it by pid.

CT_ROOT=${CT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CT_VERSION=${SESSIONLAB_VERSION:-$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$CT_ROOT/meson.build" | head -n 1)}
CT_DOCKER=${CT_DOCKER:-/usr/bin/docker}   # Debian's client, matching its engine
CT_PACKAGES=(docker.io docker-compose debootstrap curl jq iptables)

ct_say() { printf '==> %s\n' "$*" >&2; }

# ct_cache_dir: prints the cache directory (created): SESSIONLAB_CACHE_DIR, else
# /var/cache/sessionlab for root, else ~/.cache/sessionlab.
ct_cache_dir() {
    local d=${SESSIONLAB_CACHE_DIR:-}
    if [[ -z $d ]]; then
        if [[ $(id -u) -eq 0 ]]; then d=/var/cache/sessionlab; else d=${XDG_CACHE_HOME:-$HOME/.cache}/sessionlab; fi
    fi
    mkdir -p "$d" && echo "$d"
}

# ct_ensure_packages: installs the missing ones of CT_PACKAGES (root only).
ct_ensure_packages() {
    local p missing=()
    for p in "${CT_PACKAGES[@]}"; do
        [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing Debian packages: ${missing[*]}; as root: apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    ct_say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        --no-install-recommends "${missing[@]}"
}

# ct_docker ARGS...: the Debian docker client against our engine.
ct_docker() { DOCKER_HOST=$CT_DOCKER_HOST "$CT_DOCKER" "$@"; }
# ct_compose ARGS...: docker-compose against our engine. The Redis steps use
# Debian's sessionlab-redis (no registry here; the documented default is the
# official redis image) and a password made once per run (CT_REDIS_PASSWORD).
CT_REDIS_PASSWORD=${CT_REDIS_PASSWORD:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
ct_compose() {
    DOCKER_HOST=$CT_DOCKER_HOST SESSIONLAB_REDIS_IMAGE=sessionlab-redis:$CT_VERSION \
        SESSIONLAB_REDIS_PASSWORD=$CT_REDIS_PASSWORD docker-compose "$@"
}

# ct_compose_files ENV: one -f argument per line for the compose files the
# docker/env file ENV names in COMPOSE_FILE (what docker-compose 1.29 reads
# from it when no -f is given), as paths under CT_ROOT.
ct_compose_files() {
    local line f fs
    line=$(sed -n 's/^COMPOSE_FILE=//p' "$1" | tail -n 1)
    [[ -n $line ]] || { echo "$1 has no COMPOSE_FILE line" >&2; return 1; }
    IFS=: read -ra fs <<<"$line"
    for f in "${fs[@]}"; do printf -- '-f\n%s\n' "$CT_ROOT/$f"; done
}

# ct_engine_start CACHE: starts dockerd (its own sockets and pid under a temp
# dir; images kept in CACHE/docker so later runs reuse them; bridge and
# address pools in 198.19.0.0/16). Sets CT_DOCKER_HOST, CT_DOCKERD_PID,
# CT_RUN_DIR. Fails when another engine owns docker0.
ct_engine_start() {
    local cache=$1 i
    CT_RUN_DIR=$(mktemp -d /tmp/sessionlab-docker.XXXXXX)
    CT_DOCKER_HOST=unix://$CT_RUN_DIR/docker.sock
    CT_DOCKER0_EXISTED=0
    if ip link show docker0 >/dev/null 2>&1; then
        if pgrep -x dockerd >/dev/null; then
            echo "another dockerd is running (it owns docker0): stop it first" >&2
            return 1
        fi
        CT_DOCKER0_EXISTED=1
        # A leftover bridge with another address would make --bip fail.
        ip -4 addr show docker0 | grep -q 'inet 198\.19\.0\.1/24' || ip link delete docker0
    fi
    ct_say "starting dockerd (data root $cache/docker, bridge 198.19.0.1/24)"
    dockerd --data-root "$cache/docker" --exec-root "$CT_RUN_DIR/exec" \
        --pidfile "$CT_RUN_DIR/dockerd.pid" -H "$CT_DOCKER_HOST" \
        --bip 198.19.0.1/24 --default-address-pool base=198.19.0.0/16,size=24 \
        >"$CT_RUN_DIR/dockerd.log" 2>&1 &
    CT_DOCKERD_PID=$!
    for (( i = 0; i < 300; i++ )); do
        ct_docker version >/dev/null 2>&1 && return 0
        if ! kill -0 "$CT_DOCKERD_PID" 2>/dev/null; then
            tail -n 20 "$CT_RUN_DIR/dockerd.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "dockerd did not answer in 30 s" >&2
    tail -n 20 "$CT_RUN_DIR/dockerd.log" >&2
    return 1
}

# ct_engine_stop: stops our dockerd by pid (SIGTERM, then SIGKILL after 30 s),
# removes the bridge and the iptables chains it made, and its temp dir.
ct_engine_stop() {
    local i
    [[ -n ${CT_DOCKERD_PID:-} ]] || return 0
    if kill -0 "$CT_DOCKERD_PID" 2>/dev/null; then
        ct_say "stopping dockerd (pid $CT_DOCKERD_PID)"
        kill -TERM "$CT_DOCKERD_PID" 2>/dev/null || true
        for (( i = 0; i < 300 && $(kill -0 "$CT_DOCKERD_PID" 2>/dev/null && echo 1 || echo 0); i++ )); do sleep 0.1; done
        kill -KILL "$CT_DOCKERD_PID" 2>/dev/null || true
        wait "$CT_DOCKERD_PID" 2>/dev/null || true
    fi
    CT_DOCKERD_PID=
    [[ ${CT_DOCKER0_EXISTED:-1} -eq 1 ]] || ip link delete docker0 2>/dev/null || true
    ct_iptables_clean
    rm -rf "${CT_RUN_DIR:?}"
}

# ct_iptables_clean: removes what dockerd added to iptables (jumps to its
# DOCKER* chains, the chains, rules on its bridges, its MASQUERADE rules for
# 198.19.0.0/16) and
# nothing else.
ct_iptables_clean() {
    local table rule chain
    command -v iptables-save >/dev/null || return 0
    for table in filter nat; do
        iptables-save -t "$table" | grep -E '^-A .*(-j DOCKER|-[io] (docker0|br-[0-9a-f]{12}) |198\.19\.[0-9]+\.[0-9]+/[0-9]+ .*MASQUERADE)' \
            | grep -Ev '^-A DOCKER' | while read -r rule; do
                # shellcheck disable=SC2086
                iptables -t "$table" ${rule/-A/-D} 2>/dev/null || true
            done
        for chain in $(iptables-save -t "$table" | sed -n 's/^:\(DOCKER[A-Z0-9-]*\) .*/\1/p'); do
            iptables -t "$table" -F "$chain" 2>/dev/null || true
        done
        for chain in $(iptables-save -t "$table" | sed -n 's/^:\(DOCKER[A-Z0-9-]*\) .*/\1/p'); do
            iptables -t "$table" -X "$chain" 2>/dev/null || true
        done
    done
}

# ct_base_image CACHE: makes debian:bookworm-slim in our engine when it lacks
# it: debootstrap --variant=minbase (tarball cached in CACHE) + docker import.
ct_base_image() {
    local cache=$1 tarball=$1/debian-bookworm-minbase.tar.gz tmp
    ct_docker image inspect debian:bookworm-slim >/dev/null 2>&1 && return 0
    if [[ ! -s $tarball ]]; then
        tmp=$(mktemp -d /tmp/sessionlab-rootfs.XXXXXX)
        ct_say "debootstrap --variant=minbase bookworm (no image registry here)"
        if ! debootstrap --variant=minbase bookworm "$tmp/rootfs" http://deb.debian.org/debian \
                >"$tmp/debootstrap.log" 2>&1; then
            tail -n 20 "$tmp/debootstrap.log" >&2
            rm -rf "$tmp"
            return 1
        fi
        # Like the official slim image: security updates on, no caches or docs.
        cat >"$tmp/rootfs/etc/apt/sources.list" <<'EOF'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
        rm -rf "$tmp"/rootfs/var/cache/apt/*.bin "$tmp"/rootfs/var/cache/apt/archives/*.deb "$tmp"/rootfs/var/lib/apt/lists/* \
               "$tmp"/rootfs/usr/share/doc/* "$tmp"/rootfs/usr/share/man/* "$tmp"/rootfs/usr/share/locale/*
        tar --numeric-owner -C "$tmp/rootfs" -czf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$tmp"
    fi
    ct_say "docker import debian:bookworm-slim"
    ct_docker import --change 'CMD ["bash"]' "$tarball" debian:bookworm-slim >/dev/null
}

# ct_build_images: builds sessionlab-app, sessionlab-nginx and sessionlab-redis
# (tag CT_VERSION) with BuildKit; the engine's build cache makes unchanged
# Dockerfiles and sources a no-op.
ct_build_images() {
    local img
    for img in app nginx redis; do
        ct_say "docker build sessionlab-$img:$CT_VERSION"
        DOCKER_BUILDKIT=1 ct_docker build -q -f "$CT_ROOT/docker/$img.Dockerfile" \
            -t "sessionlab-$img:$CT_VERSION" "$CT_ROOT" >/dev/null || return 1
    done
}
