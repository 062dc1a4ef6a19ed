# Start and stop a local sessionlab stack: [redis-server, or a Redis Cluster
# of 6] + N sessionlab-app processes + one nginx (FastCGI front and load
# balancer), all on 127.0.0.1. Source it after common.sh. Used by
# scripts/run and scripts/lab.
#
#   start_stack STORE REPLICAS AFFINITY PORT
#       STORE: memory, redis or redis-cluster (3 primaries + 3 replicas,
#       made with redis-cli --cluster create; the apps get a
#       redis-cluster:// URL of the primaries as seeds)
#       sets STACK_RUNDIR, STACK_URL, STACK_PIDS (name=pid ...),
#       STACK_REDIS_PORT, STACK_CLUSTER_PORTS
#   stop_stack      stops what start_stack started, by pid; removes STACK_RUNDIR
#   stack_app_start I   starts app-I (port STACK_APP_BASE_PORT + I - 1) with
#                       the stack's store; waits until it listens
#   stack_app_stop I [SIGNAL]   stops app-I (TERM: its drain; KILL: a crash)
#   stack_nginx_servers I...    points nginx at app-I... (re-rendered, then
#                       SIGHUP: new workers take new connections, old ones
#                       finish theirs, as `nginx -s reload`); waits for the
#                       new workers
#
# Knobs: SESSIONLAB_APP (binary), STACK_APP_BASE_PORT (9001), STACK_LOGS
# (inherit | file: logs under STACK_RUNDIR/*.log).

STACK_RUNDIR="" STACK_URL="" STACK_REDIS_PORT=""
STACK_CLUSTER_PORTS=()
STACK_PIDS=()
STACK_STORE="" STACK_AFFINITY="" STACK_PORT="" STACK_NAMED=0

_stack_spawn() { # NAME CMD...: starts CMD in the background, records its pid
    local name=$1; shift
    if [[ ${STACK_LOGS:-inherit} == file ]]; then
        "$@" >"$STACK_RUNDIR/$name.log" 2>&1 &
    elif [[ -S /dev/stdout ]]; then
        # nginx open()s /dev/stdout for its access log, which fails (ENXIO)
        # when stdout is a socket (a supervisor's or node's pipe): hand it
        # a real pipe, copied to ours.
        "$@" > >(cat) &
    else
        "$@" &
    fi
    STACK_PIDS+=("$name=$!")
}

_stack_pid() { # NAME -> pid
    local e
    for e in "${STACK_PIDS[@]}"; do
        [[ ${e%%=*} == "$1" ]] && { echo "${e#*=}"; return 0; }
    done
    return 1
}

start_stack() {
    local store=$1 replicas=$2 affinity=$3 port=$4
    local app=${SESSIONLAB_APP:-$SL_ROOT/build/fcgi-app/sessionlab-app}
    local base=${STACK_APP_BASE_PORT:-9001} i servers=()

    [[ -x $app ]] || sl_die "app binary not found: $app (build first)"
    sl_port_busy "$port" && sl_die "port $port is already in use (try --port)"
    for (( i = 0; i < replicas; i++ )); do
        sl_port_busy $(( base + i )) && sl_die "app port $(( base + i )) is already in use (set STACK_APP_BASE_PORT)"
    done

    STACK_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/sessionlab.XXXXXX")
    sl_say "runtime dir $STACK_RUNDIR"

    if [[ $store == redis ]]; then
        STACK_REDIS_PORT=$(sl_free_port 6380 6480) || sl_die "no free port for redis in 6380..6480"
        sl_say "starting redis-server on 127.0.0.1:$STACK_REDIS_PORT"
        _stack_spawn redis redis-server --bind 127.0.0.1 --port "$STACK_REDIS_PORT" \
            --save '' --appendonly no --dir "$STACK_RUNDIR" --daemonize no
        sl_wait_port "$STACK_REDIS_PORT" "$(_stack_pid redis)" 10 || sl_die "redis-server did not start"
    fi
    [[ $store == redis-cluster ]] && _stack_cluster_start

    STACK_STORE=$store STACK_AFFINITY=$affinity STACK_PORT=$port STACK_NAMED=0
    (( replicas > 1 )) && STACK_NAMED=1
    for (( i = 1; i <= replicas; i++ )); do
        _stack_app_spawn "$i"
    done
    for (( i = 1; i <= replicas; i++ )); do
        _stack_app_wait "$i"
        servers+=("$i")
    done

    _stack_nginx_render "${servers[@]}"
    sl_say "starting nginx on 127.0.0.1:$port (affinity $affinity)"
    _stack_spawn nginx nginx -p "$STACK_RUNDIR/nginx/" -c "$STACK_RUNDIR/nginx/conf/nginx.conf" \
        -e stderr -g 'daemon off;'

    STACK_URL=http://127.0.0.1:$port/
    local ok=0
    for (( i = 0; i < 100; i++ )); do
        if curl -fsS -o /dev/null --max-time 1 "${STACK_URL}healthz" 2>/dev/null; then ok=1; break; fi
        kill -0 "$(_stack_pid nginx)" 2>/dev/null || break
        sleep 0.1
    done
    [[ $ok -eq 1 ]] || sl_die "${STACK_URL}healthz did not answer 200"
}

# A port P for a cluster node: P and its bus port P + 10000 free.
_stack_cluster_port() {
    local p
    for (( p = $1; p < 7200; p++ )); do
        sl_port_busy "$p" || sl_port_busy $(( p + 10000 )) || { echo "$p"; return 0; }
    done
    return 1
}

# Six redis-server nodes with cluster-enabled, then one cluster of them:
# 3 primaries, each with one replica; waits until every node says ok.
_stack_cluster_start() {
    local i p=7001 pid addrs=()
    STACK_CLUSTER_PORTS=()
    for (( i = 1; i <= 6; i++ )); do
        p=$(_stack_cluster_port "$p") || sl_die "no free port pair for a cluster node in 7001..7199"
        mkdir -p "$STACK_RUNDIR/cluster-$i"
        sl_say "starting redis-server cluster node $i on 127.0.0.1:$p"
        _stack_spawn "redis-$i" redis-server --bind 127.0.0.1 --port "$p" --cluster-enabled yes \
            --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
            --cluster-require-full-coverage no --save '' \
            --appendonly no --dir "$STACK_RUNDIR/cluster-$i" --daemonize no
        STACK_CLUSTER_PORTS+=("$p")
        addrs+=("127.0.0.1:$p")
        p=$(( p + 1 ))
    done
    for (( i = 1; i <= 6; i++ )); do
        pid=$(_stack_pid "redis-$i")
        sl_wait_port "${STACK_CLUSTER_PORTS[i-1]}" "$pid" 10 || sl_die "cluster node $i did not start"
    done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
        >"$STACK_RUNDIR/cluster-create.log" 2>&1 ||
        sl_die "redis-cli --cluster create failed: $(tail -3 "$STACK_RUNDIR/cluster-create.log")"
    for (( i = 0; i < 100; i++ )); do
        _stack_cluster_ok && return 0
        sleep 0.1
    done
    sl_die "the Redis Cluster did not reach cluster_state:ok within 10 s"
}

_stack_cluster_ok() {
    local p
    for p in "${STACK_CLUSTER_PORTS[@]}"; do
        redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    done
}

# redis-cluster://127.0.0.1:P1,...: every node as a seed.
_stack_cluster_url() {
    local p url=""
    for p in "${STACK_CLUSTER_PORTS[@]}"; do url+="${url:+,}127.0.0.1:$p"; done
    echo "redis-cluster://$url"
}

_stack_app_port() { echo $(( ${STACK_APP_BASE_PORT:-9001} + $1 - 1 )); }

# app-I in the background, with the stack's store (names only with several).
_stack_app_spawn() {
    local i=$1 p name=app-$1 app=${SESSIONLAB_APP:-$SL_ROOT/build/fcgi-app/sessionlab-app}
    p=$(_stack_app_port "$i")
    sl_say "starting $name ($STACK_STORE store) on 127.0.0.1:$p"
    local env=(SESSIONLAB_LISTEN="127.0.0.1:$p" SESSIONLAB_STORE="${STACK_STORE%-cluster}")
    [[ $STACK_STORE == redis ]] && env+=(SESSIONLAB_REDIS_URL="redis://127.0.0.1:$STACK_REDIS_PORT/0")
    [[ $STACK_STORE == redis-cluster ]] && env+=(SESSIONLAB_REDIS_URL="$(_stack_cluster_url)")
    (( STACK_NAMED )) && env+=(SESSIONLAB_INSTANCE="$name")
    _stack_spawn "$name" env "${env[@]}" "$app"
}

_stack_app_wait() {
    local p
    p=$(_stack_app_port "$1")
    sl_wait_port "$p" "$(_stack_pid "app-$1")" 10 || sl_die "app-$1 did not start listening on 127.0.0.1:$p"
}

stack_app_start() {
    _stack_app_spawn "$1"
    _stack_app_wait "$1"
}

stack_app_stop() {
    local i=$1 sig=${2:-TERM} pid e kept=()
    pid=$(_stack_pid "app-$i") || sl_die "no app-$i in the stack"
    kill "-$sig" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for e in "${STACK_PIDS[@]}"; do
        [[ ${e%%=*} == "app-$i" ]] || kept+=("$e")
    done
    STACK_PIDS=("${kept[@]}")
}

# Renders nginx's prefix for app-I... (the main file only changes).
_stack_nginx_render() {
    local i servers=()
    for i in "$@"; do servers+=(--server "127.0.0.1:$(_stack_app_port "$i")"); done
    "$SL_ROOT/scripts/lib/render-nginx-conf" "$STACK_RUNDIR/nginx" --role lb \
        --port "$STACK_PORT" --affinity "$STACK_AFFINITY" "${servers[@]}"
}

stack_nginx_servers() {
    local master old new i
    master=$(_stack_pid nginx) || sl_die "no nginx in the stack"
    old=$(pgrep -P "$master" | sort)
    _stack_nginx_render "$@"
    kill -HUP "$master"
    for (( i = 0; i < 100; i++ )); do
        new=$(pgrep -P "$master" | sort | comm -13 <(echo "$old") -)
        [[ -n $new ]] && return 0
        sleep 0.05
    done
    sl_die "nginx did not start new workers after SIGHUP"
}

stop_stack() {
    local i e pid
    # Reverse order: nginx first, then apps, then redis (or the cluster's nodes).
    for (( i = ${#STACK_PIDS[@]} - 1; i >= 0; i-- )); do
        e=${STACK_PIDS[i]} pid=${e#*=}
        kill -TERM "$pid" 2>/dev/null || true
    done
    for e in "${STACK_PIDS[@]}"; do
        pid=${e#*=}
        for (( i = 0; i < 50; i++ )); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            sl_say "${e%%=*} (pid $pid) did not stop; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    STACK_PIDS=()
    if [[ -n $STACK_RUNDIR && -d $STACK_RUNDIR ]]; then
        rm -rf "$STACK_RUNDIR"
    fi
    STACK_RUNDIR=""
}
