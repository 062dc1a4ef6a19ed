# shellcheck shell=bash
# The lab's "compose" target (scripts/lab --target compose): each row is
# docker/compose.yaml brought up with the docker/env file of its lab step on
# the container suite's private engine (lib.sh), probed, and taken down.
# Sourced by scripts/lib/lab-compose.sh after lib.sh; implements the
# lab_compose_* interface of scripts/lib/lab-common.sh.
#
# Engine: when CT_DOCKER_HOST names an engine that answers (tests/containers/run
# passes its own, with the images built), the rows run there and the engine is
# left alone. Otherwise setup starts one like the suite does (ct_engine_start,
# under the suite's lock), builds the images (cached layers when nothing
# changed), and teardown stops it.
#
# Client addresses: the probes do not go through the published
# 127.0.0.1:PORT. With Docker's default userland proxy every connection there
# reaches the load balancer from the bridge gateway (docker-proxy connects
# anew), and with --userland-proxy=false Docker DNATs it but also adds
# `-m addrtype --src-type LOCAL -o BRIDGE -j MASQUERADE`, with the same effect:
# one client address, so client-ip affinity would pin every user to one
# replica. Instead, each client source s gets an address of its own on the
# project's bridge (198.19.X.240+s/32, added on the host; Docker's IPAM hands
# out addresses from the bottom of the /24) and the probe binds it
# (--interface) and talks to the lb container's address on that bridge:
# host to container on one bridge, no NAT, so nginx's $remote_addr is the
# client's own address, as with the local target's 127.0.0.11.. sources.
# The addresses go with the bridge at `down`; stop removes them first anyway.
#
# Names: the page shows the container's hostname, its short id; pick_victim
# prints that, kill is `docker kill` (SIGKILL; restart: unless-stopped does not
# bring a killed container back), restart is `docker restart` (SIGTERM, the
# same container, address and hostname again).

LAB_COMPOSE_PROJECT=${LAB_COMPOSE_PROJECT:-sessionlablab}
# The compose files of a row: the ones its docker/env file names in
# COMPOSE_FILE (docker/compose.yaml, plus docker/compose.redis.yaml in the
# Redis steps), as a user runs them.
LAB_COMPOSE_OWN_ENGINE=0     # 1: setup started dockerd, teardown stops it
LAB_COMPOSE_PORT=""          # published port on 127.0.0.1 (readiness check only)
LAB_COMPOSE_ENV=""           # docker/env file of the row
LAB_COMPOSE_UP=0             # a row is deployed (or half deployed)
LAB_COMPOSE_LB="" LAB_COMPOSE_LB_IP="" LAB_COMPOSE_BRIDGE=""
LAB_COMPOSE_SOURCES=()       # client source addresses on the bridge
LAB_COMPOSE_LOGPID=""        # `docker logs -f` of the lb into LAB_ROW_DIR/lb.log

_lab_compose() {
    local files
    mapfile -t files < <(ct_compose_files "$LAB_COMPOSE_ENV")
    SESSIONLAB_PORT=$LAB_COMPOSE_PORT SESSIONLAB_VERSION=$CT_VERSION \
        ct_compose -p "$LAB_COMPOSE_PROJECT" "${files[@]}" --env-file "$LAB_COMPOSE_ENV" "$@"
}

# _lab_compose_ids SERVICE: full ids of the project's running SERVICE containers.
_lab_compose_ids() {
    ct_docker ps -q --no-trunc --filter "label=com.docker.compose.project=$LAB_COMPOSE_PROJECT" \
        --filter "label=com.docker.compose.service=$1"
}

_lab_compose_leftovers() {
    ct_docker ps -aq --filter "label=com.docker.compose.project=$LAB_COMPOSE_PROJECT"
    ct_docker network ls -q --filter "label=com.docker.compose.project=$LAB_COMPOSE_PROJECT"
    ct_docker volume ls -q --filter "label=com.docker.compose.project=$LAB_COMPOSE_PROJECT"
}

lab_compose_setup() {
    local cache img
    if [[ -n ${CT_DOCKER_HOST:-} ]] && ct_docker version >/dev/null 2>&1; then
        lab_say "compose: the engine at $CT_DOCKER_HOST (left running)"
    else
        [[ $(id -u) -eq 0 ]] || sl_die "--target compose starts dockerd: run as root"
        ct_ensure_packages >>"$LAB_LOG" 2>&1 || sl_die "could not install ${CT_PACKAGES[*]}; see $LAB_LOG"
        cache=$(ct_cache_dir)
        # The suite's lock: one private engine at a time (fd 8; the suite uses 9).
        exec 8>"$cache/containers.lock"
        flock -w 900 8 || sl_die "another container suite holds $cache/containers.lock"
        LAB_COMPOSE_OWN_ENGINE=1
        ct_engine_start "$cache" 2>>"$LAB_LOG" || sl_die "dockerd did not start; see $LAB_LOG"
        lab_say "compose: dockerd started (pid $CT_DOCKERD_PID, bridge 198.19.0.1/24)"
    fi
    # Built every run: an image of an older tree would run old code (its tag
    # is the version, not the commit); with nothing changed, docker's layer
    # cache makes this a few seconds.
    lab_say "compose: building the images (debian:bookworm-slim by debootstrap when missing, then docker build)"
    ct_base_image "$(ct_cache_dir)" >>"$LAB_LOG" 2>&1 || sl_die "debian:bookworm-slim failed; see $LAB_LOG"
    ct_build_images >>"$LAB_LOG" 2>&1 || sl_die "docker build failed; see $LAB_LOG"
    # A project left by a killed run would hold the names and the port
    # (the Redis files name every service a row can have).
    if [[ -n $(_lab_compose_leftovers) ]]; then
        LAB_COMPOSE_ENV=$CT_ROOT/docker/env/step5-redis-x3.env LAB_COMPOSE_PORT=8080
        _lab_compose down -v --remove-orphans >>"$LAB_LOG" 2>&1 || true
    fi
    LAB_COMPOSE_PORT=$(sl_free_port 18280 18379) || sl_die "no free port in 18280..18379 for the load balancer"
    lab_say "compose: project $LAB_COMPOSE_PROJECT, lb published on 127.0.0.1:$LAB_COMPOSE_PORT, probes from the project's bridge"
}

lab_compose_teardown() {
    lab_compose_stop || true
    if [[ $LAB_COMPOSE_OWN_ENGINE -eq 1 ]]; then
        ct_engine_stop
        LAB_COMPOSE_OWN_ENGINE=0
    fi
}

lab_compose_describe() {
    echo "$1 x$2, compose $(basename "$(_lab_compose_env_file "$@")" .env), $(lab_nginx_how "$2" "$3")"
}

# _lab_compose_env_file STORE REPLICAS AFFINITY: the docker/env file of that
# lab step (the README's one-command steps).
_lab_compose_env_file() {
    local f
    case $1/$2/$3 in
        memory/1/none)      f=step1-memory ;;
        memory/3/none)      f=step2-memory-x3 ;;
        memory/3/client-ip) f=step3-memory-x3-clientip ;;
        memory/3/cookie)    f=cookie-memory-x3 ;;
        redis/1/none)       f=step4-redis ;;
        redis/3/none)       f=step5-redis-x3 ;;
        *) sl_die "compose: no docker/env file for $1 x$2, affinity $3" ;;
    esac
    echo "$CT_ROOT/docker/env/$f.env"
}

lab_compose_start() {
    local store=$1 replicas=$2 affinity=$3 net i ip gw prefix taken
    LAB_COMPOSE_ENV=$(_lab_compose_env_file "$store" "$replicas" "$affinity")
    LAB_COMPOSE_UP=1
    # up waits for the health checks (redis in the Redis steps, then app,
    # then lb: depends_on).
    _lab_compose up -d --no-build >"$LAB_ROW_DIR/compose-up.log" 2>&1 ||
        sl_die "compose up $(basename "$LAB_COMPOSE_ENV") failed; see $LAB_ROW_DIR/compose-up.log"
    LAB_COMPOSE_LB=$(_lab_compose_ids lb)
    [[ -n $LAB_COMPOSE_LB && $(_lab_compose_ids app | wc -l) -eq $replicas ]] ||
        sl_die "compose: want 1 lb and $replicas app containers running; see $LAB_ROW_DIR/compose-up.log"
    # shellcheck disable=SC2016  # a Go template
    net=$(ct_docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.NetworkID}} {{$v.IPAddress}} {{$v.Gateway}}{{end}}' "$LAB_COMPOSE_LB")
    read -r _ net ip gw <<<"$net"
    LAB_COMPOSE_LB_IP=$ip
    LAB_COMPOSE_BRIDGE=br-${net:0:12}
    [[ $gw =~ ^198\.19\.[0-9]+\.1$ ]] || sl_die "compose: the project network's gateway is $gw, not in 198.19.0.0/16"
    ip link show "$LAB_COMPOSE_BRIDGE" >/dev/null 2>&1 || sl_die "compose: no bridge $LAB_COMPOSE_BRIDGE for network $net"
    prefix=${gw%.1}
    taken=$(ct_docker network inspect -f '{{range .Containers}}{{.IPv4Address}} {{end}}' "$net")
    LAB_COMPOSE_SOURCES=()
    for (( i = 0; i < LAB_SOURCES; i++ )); do
        ip=$prefix.$(( 240 + i ))
        [[ " $taken " != *" $ip/"* ]] || sl_die "compose: $ip is a container's address"
        ip addr add "$ip/32" dev "$LAB_COMPOSE_BRIDGE"
        LAB_COMPOSE_SOURCES+=("$ip")
    done
    : >"$LAB_ROW_DIR/lb.log"
    ct_docker logs -f "$LAB_COMPOSE_LB" >"$LAB_ROW_DIR/lb.log" 2>"$LAB_ROW_DIR/lb.err" &
    LAB_COMPOSE_LOGPID=$!
    LAB_URL=http://$LAB_COMPOSE_LB_IP:8080
    # Ready both ways in (the lb starts after the apps are healthy, and up
    # does not wait for it): the published port and the bridge address.
    for (( i = 0; i < 100; i++ )); do
        curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$LAB_COMPOSE_PORT/readyz" 2>/dev/null &&
            curl -fsS --max-time 2 -o /dev/null --interface "${LAB_COMPOSE_SOURCES[0]}" "$LAB_URL/readyz" 2>/dev/null &&
            return 0
        sleep 0.2
    done
    sl_die "compose: /readyz does not answer on 127.0.0.1:$LAB_COMPOSE_PORT or $LAB_URL (from ${LAB_COMPOSE_SOURCES[0]})"
}

lab_compose_stop() {
    local ip left
    if [[ -n $LAB_COMPOSE_LOGPID ]]; then
        kill -TERM "$LAB_COMPOSE_LOGPID" 2>/dev/null || true
        wait "$LAB_COMPOSE_LOGPID" 2>/dev/null || true
        LAB_COMPOSE_LOGPID=""
    fi
    for ip in "${LAB_COMPOSE_SOURCES[@]}"; do
        ip addr del "$ip/32" dev "$LAB_COMPOSE_BRIDGE" 2>/dev/null || true
    done
    LAB_COMPOSE_SOURCES=()
    [[ $LAB_COMPOSE_UP -eq 1 ]] || return 0
    if [[ -n $LAB_ROW_DIR && -d $LAB_ROW_DIR ]]; then
        local svcs=(app)
        [[ -z $(_lab_compose_ids redis) ]] || svcs+=(redis)
        _lab_compose logs --no-color "${svcs[@]}" >"$LAB_ROW_DIR/compose-logs.log" 2>&1 || true
    fi
    _lab_compose down -v --remove-orphans >>"$LAB_LOG" 2>&1 || true
    LAB_COMPOSE_UP=0
    left=$(_lab_compose_leftovers | paste -sd' ')
    [[ -z $left ]] || { echo "error: compose down left behind: $left" >&2; return 1; }
}

lab_compose_probe() {
    local source=$1
    shift
    "${LAB_PROBE_CMD[@]}" "$LAB_URL" --interface "${LAB_COMPOSE_SOURCES[source]}" "$@"
}

lab_compose_served() {
    lab_served_in "$LAB_ROW_DIR/lb.log"
}

# _lab_compose_names: "IP HOSTNAME" of every app container of the row.
_lab_compose_names() {
    local id
    for id in $(ct_docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$LAB_COMPOSE_PROJECT" \
                    --filter label=com.docker.compose.service=app); do
        ct_docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}} {{.Config.Hostname}}' "$id"
    done
}

# The replica with the most reads still to come (see lab_upstream_most_left
# in scripts/lib/lab-common.sh), by the hostname its page shows.
lab_compose_pick_victim() {
    local addr ip name
    addr=$(lab_upstream_most_left "$LAB_ROW_DIR/lb.log")
    ip=${addr%:*}
    name=$(_lab_compose_names | awk -v ip="$ip" '$1 == ip { print $2 }')
    [[ -n $name ]] || name=$(_lab_compose_names | awk 'NR == 1 { print $2 }')
    echo "$name"
}

# _lab_compose_container NAME: the app container whose hostname is NAME.
_lab_compose_container() {
    local id
    for id in $(_lab_compose_ids app); do
        [[ $(ct_docker inspect -f '{{.Config.Hostname}}' "$id") == "$1" ]] && { echo "$id"; return 0; }
    done
    sl_die "compose: no running app container with hostname $1"
}

lab_compose_kill() {
    local id
    id=$(_lab_compose_container "$1")
    ct_docker kill "$id" >/dev/null
}

# docker restart: SIGTERM (the app finishes what is in flight; 40 s, the
# compose stop_grace_period), then the
# same container starts again. The lb resolved `app` to addresses when it
# started, so the container must come back on its address.
lab_compose_restart() {
    local id before after
    id=$(_lab_compose_container "$1")
    before=$(ct_docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id")
    ct_docker restart -t 40 "$id" >/dev/null
    after=$(ct_docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id")
    [[ $after == "$before" ]] || sl_die "compose: $1 came back on $after, not $before; the lb still sends to $before"
}

# Rows compose cannot express: the lb resolves `app` to the replicas'
# addresses once, when it starts, and docker-compose has no rolling update
# (`up --scale` recreates or adds containers the lb would not see without a
# restart, which drops its connections): so no rollout and no scaling under
# load. Every other row runs.
lab_compose_cannot() {
    case $1 in
        rollout) echo "compose has no rolling update, and its lb resolves the app replicas only at start" ;;
        scale-*) echo "the lb resolves the app replicas only at start: a scaled replica would need an lb restart" ;;
    esac
}
