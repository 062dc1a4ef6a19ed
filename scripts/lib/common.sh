# Shared helpers for scripts/run, scripts/test and scripts/lab. Source it.
# Needs: bash, set -euo pipefail in the caller.

SL_ROOT=${SL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

# The Debian packages every entry point needs (build, run, test).
# libnginx-mod-stream: nginx's stream module, for the TLS-to-Redis piece
# (nginx-conf/redis-tls-stream.conf); openssl makes its test certificates.
SL_PACKAGES=(nginx libnginx-mod-stream openssl redis-server meson ninja-build pkg-config gcc libfcgi-dev
             libhiredis-dev libcriterion-dev libcurl4-openssl-dev libjson-c-dev
             curl jq iproute2 iptables redis-sentinel valgrind)

sl_say() { printf '==> %s\n' "$*" >&2; }
sl_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# sl_missing_packages PKG... -> prints the ones not installed, one per line.
sl_missing_packages() {
    local p
    for p in "$@"; do
        if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
            echo "$p"
        fi
    done
}

# sl_ensure_packages PKG...: installs the missing ones when root (apt-get
# update once per process); otherwise prints the apt-get line and exits 1.
SL_APT_UPDATED=${SL_APT_UPDATED:-0}
sl_ensure_packages() {
    local missing
    mapfile -t missing < <(sl_missing_packages "$@")
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing Debian packages: ${missing[*]}" >&2
        echo "run as root:  apt-get update && apt-get install -y --no-install-recommends $*" >&2
        exit 1
    fi
    sl_say "installing ${missing[*]}"
    if [[ $SL_APT_UPDATED -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        SL_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# sl_build [BUILDDIR]: meson setup (once, or reconfigure when it is stale), compile.
sl_build() {
    local dir=${1:-$SL_ROOT/build}
    if [[ ! -f $dir/build.ninja ]]; then
        sl_say "meson setup $dir"
        meson setup "$dir" "$SL_ROOT"
    fi
    sl_say "meson compile -C $dir"
    meson compile -C "$dir"
}

# sl_port_busy PORT: true when something accepts on 127.0.0.1:PORT.
sl_port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# sl_free_port FROM [TO]: prints the first port in FROM..TO nobody listens on.
sl_free_port() {
    local p from=$1 to=${2:-$(( $1 + 100 ))}
    for (( p = from; p <= to; p++ )); do
        if ! sl_port_busy "$p"; then echo "$p"; return 0; fi
    done
    return 1
}

# sl_wait_port PORT PID [SECONDS]: waits until 127.0.0.1:PORT accepts, failing
# early when PID dies.
sl_wait_port() {
    local port=$1 pid=$2 secs=${3:-10} i
    for (( i = 0; i < secs * 10; i++ )); do
        sl_port_busy "$port" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
