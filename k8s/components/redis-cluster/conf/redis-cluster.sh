#!/bin/sh
# Bootstrap of the sessionlab Redis Cluster (k8s/components/redis-cluster),
# run by the Job redis-cluster-create from the redis image:
#   redis-cluster.sh create
# 1. waits until every pod answers PING (up to WAIT_S seconds);
# 2. already created (a node knows all the pods and all 16384 slots are
#    assigned): introduces every pod again by its current address (CLUSTER
#    MEET: a no-op for a node already known there, and it heals a cluster
#    whose pods all came back with new IPs), waits for cluster_state:ok, exits 0;
# 3. half made (some node has slots or knows other nodes, but not the whole
#    set): exits 1 with what it saw, for a human (redis-cli --cluster check/fix);
# 4. else: redis-cli --cluster create ADDR... --cluster-replicas R --cluster-yes,
#    then waits for cluster_state:ok on every pod.
# Environment: REDISCLI_AUTH (the password), CLUSTER_PODS (6), CLUSTER_REPLICAS
# (1), CLUSTER_SERVICE (redis-cluster-headless), CLUSTER_STS (redis-cluster),
# CLUSTER_PORT (6379), WAIT_S (600), and CLUSTER_HOSTS ("host:port ..."
# instead of the StatefulSet's pod names, for a test outside Kubernetes).
set -eu

pods=${CLUSTER_PODS:-6}
replicas=${CLUSTER_REPLICAS:-1}
svc=${CLUSTER_SERVICE:-redis-cluster-headless}
sts=${CLUSTER_STS:-redis-cluster}
port=${CLUSTER_PORT:-6379}
wait_s=${WAIT_S:-600}

log() { echo "redis-cluster.sh: $*" >&2; }
cli() { # HOST:PORT ARGS...
    a=$1; shift
    timeout 5 redis-cli --raw -h "${a%:*}" -p "${a##*:}" "$@" 2>/dev/null | tr -d '\r'
}
field() { # NAME: the value of NAME:VALUE on stdin
    sed -n "s/^$1:\\(.*\\)$/\\1/p"
}

if [ -n "${CLUSTER_HOSTS:-}" ]; then
    hosts=$CLUSTER_HOSTS
else
    hosts=
    i=0
    while [ "$i" -lt "$pods" ]; do hosts="$hosts $sts-$i.$svc:$port"; i=$((i + 1)); done
fi

# Every pod's address as an IP (CLUSTER MEET and --cluster create want IPs).
addr_of() { # HOST:PORT -> IP:PORT, or nothing while the name does not resolve
    h=${1%:*}
    case $h in
    *[!0-9.]*) ip=$(getent hosts "$h" | awk '{ print $1; exit }') ;;
    *) ip=$h ;;
    esac
    [ -n "$ip" ] && echo "$ip:${1##*:}"
}

[ "${1:-}" = create ] || { log "usage: redis-cluster.sh create"; exit 2; }

deadline=$(($(date +%s) + wait_s))
while :; do
    addrs='' missing=''
    for h in $hosts; do
        a=$(addr_of "$h" || true)
        if [ -n "$a" ] && [ "$(cli "$a" PING)" = PONG ]; then addrs="$addrs $a"; else missing="$missing $h"; fi
    done
    [ -z "$missing" ] && break
    [ "$(date +%s)" -lt "$deadline" ] || { log "gave up after ${wait_s}s: no PONG from$missing"; exit 1; }
    log "waiting for$missing"
    sleep 2
done
n=$(echo "$addrs" | wc -w)
log "all $n pods answer:$addrs"

# What the nodes already know.
full=0 partial=0
for a in $addrs; do
    info=$(cli "$a" CLUSTER INFO)
    known=$(echo "$info" | field cluster_known_nodes)
    assigned=$(echo "$info" | field cluster_slots_assigned)
    if [ "${known:-0}" -ge "$n" ] && [ "${assigned:-0}" -eq 16384 ]; then full=$((full + 1))
    elif [ "${known:-1}" -gt 1 ] || [ "${assigned:-0}" -gt 0 ]; then partial=$((partial + 1)); log "$a: $known nodes known, $assigned slots assigned"
    fi
done

if [ "$full" -gt 0 ]; then
    log "already created ($full of $n nodes see the whole cluster): introducing the pods again"
    first=${addrs# }; first=${first%% *}
    for a in $addrs; do
        [ "$a" = "$first" ] || cli "$first" CLUSTER MEET "${a%:*}" "${a##*:}" >/dev/null || log "CLUSTER MEET $a failed"
    done
elif [ "$partial" -gt 0 ]; then
    log "a half-made cluster ($partial nodes have slots or peers, none the whole set): not touching it."
    log "inspect: redis-cli --cluster check ${addrs# }; repair: redis-cli --cluster fix ..."
    exit 1
else
    log "creating: $n nodes, $replicas replica(s) per primary"
    # shellcheck disable=SC2086
    redis-cli --cluster create $addrs --cluster-replicas "$replicas" --cluster-yes
fi

while :; do
    bad=
    for a in $addrs; do
        [ "$(cli "$a" CLUSTER INFO | field cluster_state)" = ok ] || bad="$bad $a"
    done
    [ -z "$bad" ] && break
    [ "$(date +%s)" -lt "$deadline" ] || { log "cluster_state not ok on$bad"; exit 1; }
    sleep 1
done
log "cluster_state:ok on all $n pods"
