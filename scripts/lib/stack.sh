# Start and stop a local sessionlab stack: [redis-server] + N sessionlab-app
# processes + one nginx (FastCGI front and load balancer), all on 127.0.0.1.
# Source it after common.sh. Used by scripts/run and scripts/lab.
#
#   start_stack STORE REPLICAS AFFINITY PORT
#       sets STACK_RUNDIR, STACK_URL, STACK_PIDS (name=pid ...), STACK_REDIS_PORT
#   stop_stack      stops what start_stack started, by pid; removes STACK_RUNDIR
#
# Knobs: SESSIONLAB_APP (binary), STACK_APP_BASE_PORT (9001), STACK_LOGS
# (inherit | file: logs under STACK_RUNDIR/*.log).

STACK_RUNDIR="" STACK_URL="" STACK_REDIS_PORT=""
STACK_PIDS=()

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
    local base=${STACK_APP_BASE_PORT:-9001} i p name servers=()

    [[ -x $app ]] || sl_die "app binary not found: $app (build first)"
    sl_port_busy "$port" && sl_die "port $port is already in use (try --port)"
    for (( i = 0; i < replicas; i++ )); do
        sl_port_busy $(( base + i )) && sl_die "app port $(( base + i )) is already in use (set STACK_APP_BASE_PORT)"
    done

    STACK_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/sessionlab.XXXXXX")
    sl_say "runtime dir $STACK_RUNDIR"

    local redis_url=""
    if [[ $store == redis ]]; then
        STACK_REDIS_PORT=$(sl_free_port 6380 6480) || sl_die "no free port for redis in 6380..6480"
        sl_say "starting redis-server on 127.0.0.1:$STACK_REDIS_PORT"
        _stack_spawn redis redis-server --bind 127.0.0.1 --port "$STACK_REDIS_PORT" \
            --save '' --appendonly no --dir "$STACK_RUNDIR" --daemonize no
        sl_wait_port "$STACK_REDIS_PORT" "$(_stack_pid redis)" 10 || sl_die "redis-server did not start"
        redis_url=redis://127.0.0.1:$STACK_REDIS_PORT/0
    fi

    for (( i = 0; i < replicas; i++ )); do
        p=$(( base + i )) name=app-$(( i + 1 ))
        sl_say "starting $name ($store store) on 127.0.0.1:$p"
        local env=(SESSIONLAB_LISTEN="127.0.0.1:$p" SESSIONLAB_STORE="$store")
        [[ -n $redis_url ]] && env+=(SESSIONLAB_REDIS_URL="$redis_url")
        (( replicas > 1 )) && env+=(SESSIONLAB_INSTANCE="$name")
        _stack_spawn "$name" env "${env[@]}" "$app"
        servers+=(--server "127.0.0.1:$p")
    done
    for (( i = 0; i < replicas; i++ )); do
        name=app-$(( i + 1 ))
        sl_wait_port $(( base + i )) "$(_stack_pid "$name")" 10 || sl_die "$name did not start listening on 127.0.0.1:$(( base + i ))"
    done

    "$SL_ROOT/scripts/lib/render-nginx-conf" "$STACK_RUNDIR/nginx" --role lb \
        --port "$port" --affinity "$affinity" "${servers[@]}"
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

stop_stack() {
    local i e pid
    # Reverse order: nginx first, then apps, then redis.
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
