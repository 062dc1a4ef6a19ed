# shellcheck shell=bash
# The lab's "local" target: processes on loopback behind one nginx in the
# load-balancer role, started and stopped by stack.sh (start_stack /
# stop_stack). Client sources are loopback addresses 127.0.0.11, .12, ...
# (the probe binds them with --interface), so nginx's client-ip affinity
# (hash $remote_addr) sees distinct clients. Source after common.sh,
# stack.sh and lab-common.sh.

LAB_LOCAL_PORT="" LAB_LOCAL_BASE="" LAB_LOCAL_STORE="" LAB_LOCAL_REPLICAS=0
LAB_LOCAL_LIVE=()   # app numbers nginx balances over, in order
LAB_LOCAL_NEXT=1    # the number the next new replica gets
LAB_LOCAL_PORTS=7   # app ports a row may use: 3 replicas, a rollout's 3 new ones, a scale-up's 4th

# _lab_local_free_base: first BASE in 19001, 19011, ... with LAB_LOCAL_PORTS free.
_lab_local_free_base() {
    local b i busy
    for (( b = 19001; b < 19500; b += 10 )); do
        busy=0
        for (( i = 0; i < LAB_LOCAL_PORTS; i++ )); do
            sl_port_busy $(( b + i )) && { busy=1; break; }
        done
        [[ $busy -eq 0 ]] && { echo "$b"; return 0; }
    done
    return 1
}

lab_local_setup() {
    LAB_LOCAL_PORT=$(sl_free_port 18080 18179) || sl_die "no free port in 18080..18179 for nginx"
    LAB_LOCAL_BASE=$(_lab_local_free_base) || sl_die "no $LAB_LOCAL_PORTS free app ports in 19001..19500"
    STACK_LOGS=file STACK_APP_BASE_PORT=$LAB_LOCAL_BASE
    lab_say "local: nginx on 127.0.0.1:$LAB_LOCAL_PORT, apps from 127.0.0.1:$LAB_LOCAL_BASE"
}

lab_local_teardown() {
    stop_stack
}

lab_local_describe() {
    if [[ $1 == redis-cluster ]]; then
        echo "redis x$2 on a Redis Cluster (3 primaries + 3 replicas), $(lab_nginx_how "$2" "$3")"
    else
        echo "$1 x$2, $(lab_nginx_how "$2" "$3")"
    fi
}

lab_local_start() {
    local i
    LAB_LOCAL_STORE=$1 LAB_LOCAL_REPLICAS=$2
    start_stack "$1" "$2" "$3" "$LAB_LOCAL_PORT" 2>>"$LAB_LOG"
    LAB_URL=$STACK_URL
    LAB_LOCAL_LIVE=()
    for (( i = 1; i <= $2; i++ )); do LAB_LOCAL_LIVE+=("$i"); done
    LAB_LOCAL_NEXT=$(( $2 + 1 ))
}

lab_local_stop() {
    # Keep the row's logs for a look afterwards.
    [[ -n $STACK_RUNDIR ]] && cp "$STACK_RUNDIR"/*.log "$LAB_ROW_DIR/" 2>/dev/null || true
    stop_stack 2>>"$LAB_LOG"
}

lab_local_probe() {
    local source=$1
    shift
    "${LAB_PROBE_CMD[@]}" "$LAB_URL" --interface "127.0.0.$(( 11 + source ))" "$@"
}

lab_local_served() {
    lab_served_in "$STACK_RUNDIR/nginx.log"
}

# The replica with the most reads still to come (see lab_upstream_most_left).
lab_local_pick_victim() {
    local addr
    addr=$(lab_upstream_most_left "$STACK_RUNDIR/nginx.log")
    [[ -n $addr ]] || { echo "app-1"; return; }
    _lab_local_name $(( ${addr##*:} - LAB_LOCAL_BASE + 1 ))
}

# The name /api/session shows for app I (stack.sh names replicas only when
# there are several; one replica shows the machine's hostname).
_lab_local_name() {
    if (( LAB_LOCAL_REPLICAS > 1 )); then echo "app-$1"; else hostname; fi
}

# _lab_local_index NAME -> I of app-I
_lab_local_index() {
    if [[ $1 =~ ^app-([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; else echo 1; fi
}

lab_local_kill() {
    local i pid
    i=$(_lab_local_index "$1")
    pid=$(_stack_pid "app-$i") || sl_die "no app-$i in the stack"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
}

# Stops app I gracefully and starts it again with the environment stack.sh
# gave it (same port, store, instance name).
lab_local_restart() {
    local i
    i=$(_lab_local_index "$1")
    stack_app_stop "$i" TERM
    stack_app_start "$i" 2>>"$LAB_LOG"
}

# A new replica joins: started, listening, then added to nginx (a reload).
_lab_local_add() {
    local i=$LAB_LOCAL_NEXT
    (( i <= LAB_LOCAL_PORTS )) || sl_die "local: no app port left for a new replica (LAB_LOCAL_PORTS=$LAB_LOCAL_PORTS)"
    LAB_LOCAL_NEXT=$(( i + 1 ))
    stack_app_start "$i" 2>>"$LAB_LOG"
    LAB_LOCAL_LIVE+=("$i")
    stack_nginx_servers "${LAB_LOCAL_LIVE[@]}"
    lab_event_mark "app-$i added"
}

# Replica I leaves: out of nginx first (a reload; old workers finish their
# requests), then SIGTERM (the app's drain).
_lab_local_remove() {
    local i=$1 e live=()
    for e in "${LAB_LOCAL_LIVE[@]}"; do [[ $e -eq $i ]] || live+=("$e"); done
    LAB_LOCAL_LIVE=("${live[@]}")
    stack_nginx_servers "${LAB_LOCAL_LIVE[@]}"
    lab_event_mark "app-$i removed"
    stack_app_stop "$i" TERM
}

# Scale to N replicas: new ones join, or the named ones (then the last
# ones) leave.
lab_local_scale() {
    local want=$1 name
    shift
    while (( ${#LAB_LOCAL_LIVE[@]} < want )); do _lab_local_add; done
    for name in "$@"; do
        (( ${#LAB_LOCAL_LIVE[@]} > want )) && _lab_local_remove "$(_lab_local_index "$name")"
    done
    while (( ${#LAB_LOCAL_LIVE[@]} > want )); do _lab_local_remove "${LAB_LOCAL_LIVE[-1]}"; done
}

# A Deployment's rolling update with maxSurge 1, maxUnavailable 0: per old
# replica, a new one joins (ready: listening) before the old one leaves.
lab_local_rollout() {
    local old=("${LAB_LOCAL_LIVE[@]}") i
    for i in "${old[@]}"; do
        _lab_local_add
        _lab_local_remove "$i"
    done
}
