#!/bin/sh
# Redis replication + Sentinel for sessionlab on Kubernetes
# (k8s/components/redis-sentinel), run from the redis image:
#   redis-sentinel.sh init-redis      init container of redis-N: write /conf/redis.conf
#   redis-sentinel.sh init-sentinel   init container of sentinel-N: write /conf/sentinel.conf
#   redis-sentinel.sh redis-ready     readiness of redis-N: PONG, and a replica's link is up
#   redis-sentinel.sh redis-prestop   preStop of redis-N: if master, fail over first
# The current master is the one the other sentinels name; when none answers,
# a Redis pod that is master with replicas attached; else redis-0.
# Environment (defaults for the manifests): POD_NAME, CONF_SRC (this
# ConfigMap), CONF_DIR (writable), REDIS_SERVICE, SENTINEL_SERVICE, REPLICAS,
# LOCAL_ADDR (this pod's Redis, for the probe and the preStop).
set -eu

src=${CONF_SRC:-/etc/redis-sentinel}
dir=${CONF_DIR:-/conf}
pod=${POD_NAME:-$(hostname)}
redis_svc=${REDIS_SERVICE:-redis-headless}
sentinel_svc=${SENTINEL_SERVICE:-sentinel-headless}
n=${REPLICAS:-3}
local_addr=${LOCAL_ADDR:-127.0.0.1}
master_name=$(awk '$1 == "sentinel" && $2 == "monitor" { print $3; exit }' "$src/sentinel.conf")

log() { echo "redis-sentinel.sh: $*" >&2; }
cli() { timeout 3 redis-cli --raw "$@" 2>/dev/null | tr -d '\r'; }

# Prints the master host the first answering sentinel names.
ask_sentinels() {
    i=0
    while [ "$i" -lt "$n" ]; do
        h=sentinel-$i.$sentinel_svc
        i=$((i + 1))
        [ "$h" = "${me:-}" ] && continue
        # shellcheck disable=SC2046
        set -- $(cli -h "$h" -p 26379 SENTINEL get-master-addr-by-name "$master_name" || true)
        if [ $# -eq 2 ]; then log "sentinel $h names master $1"; echo "$1"; return 0; fi
    done
    return 1
}

# Prints the host of a Redis pod that is master with replicas attached.
ask_redis() {
    i=0
    while [ "$i" -lt "$n" ]; do
        h=redis-$i.$redis_svc
        i=$((i + 1))
        [ "$h" = "${me:-}" ] && continue
        info=$(cli -h "$h" -p 6379 INFO replication || true)
        if echo "$info" | grep -qx 'role:master' && ! echo "$info" | grep -qx 'connected_slaves:0'; then
            log "$h is master with replicas"; echo "$h"; return 0
        fi
    done
    return 1
}

find_master() {
    ask_sentinels || ask_redis || { log "no sentinel or master answered: redis-0"; echo "redis-0.$redis_svc"; }
}

case ${1:-} in
init-redis)
    me=$pod.$redis_svc
    master=$(find_master)
    {
        cat "$src/redis.conf"
        echo "replica-announce-ip $me"
        [ "$master" = "$me" ] || echo "replicaof $master 6379"
    } >"$dir/redis.conf.tmp"
    mv "$dir/redis.conf.tmp" "$dir/redis.conf"
    if [ "$master" = "$me" ]; then log "$me starts as master"; else log "$me starts as replica of $master"; fi
    ;;
init-sentinel)
    me=$pod.$sentinel_svc
    # Sentinel refuses to start when the monitored name does not resolve:
    # wait for the pod's DNS record (the headless Service publishes it before
    # the pod is ready), asking again each time.
    tries=0
    while :; do
        master=$(find_master)
        getent hosts "$master" >/dev/null && break
        tries=$((tries + 1))
        [ "$tries" -lt 60 ] || { log "$master does not resolve"; exit 1; }
        sleep 2
    done
    sed -e "s/@ANNOUNCE_HOST@/$me/g" -e "s/@MASTER_HOST@/$master/g" "$src/sentinel.conf" >"$dir/sentinel.conf.tmp"
    mv "$dir/sentinel.conf.tmp" "$dir/sentinel.conf"
    log "$me monitors $master_name at $master"
    ;;
redis-ready)
    [ "$(cli -h "$local_addr" -p 6379 PING)" = PONG ] || exit 1
    info=$(cli -h "$local_addr" -p 6379 INFO replication)
    if echo "$info" | grep -qx 'role:slave'; then echo "$info" | grep -qx 'master_link_status:up'; fi
    ;;
redis-prestop)
    # A planned stop of the master (rollout, drain) hands the role over
    # instead of waiting down-after-milliseconds for the sentinels to notice.
    [ "$(cli -h "$local_addr" -p 6379 ROLE | head -n 1)" = master ] || exit 0
    me=$pod.$redis_svc
    i=0
    while [ "$i" -lt "$n" ]; do
        if [ "$(cli -h "sentinel-$i.$sentinel_svc" -p 26379 SENTINEL FAILOVER "$master_name")" = OK ]; then
            log "failover of $master_name started by sentinel-$i"
            break
        fi
        i=$((i + 1))
    done
    [ "$i" -lt "$n" ] || { log "no sentinel started a failover"; exit 0; }
    t=0
    while [ "$t" -lt 40 ] && [ "$(cli -h "$local_addr" -p 6379 ROLE | head -n 1)" = master ]; do sleep 0.5; t=$((t + 1)); done
    log "role now $(cli -h "$local_addr" -p 6379 ROLE | head -n 1)"
    ;;
*)
    echo "usage: $0 init-redis|init-sentinel|redis-ready|redis-prestop" >&2
    exit 2
    ;;
esac
