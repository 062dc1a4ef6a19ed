# shellcheck shell=bash
# The lab's "netns" target: a one-machine Kubernetes node made of network
# namespaces (root only), running what the manifests say. Source after
# common.sh and lab-common.sh.
#
#   client namespaces  slN-cl1..4  198.18.1.11-14/24, default via the node
#           |  veth, bridge clbr0 198.18.1.1 in the node namespace
#   node namespace     slN-node    kube-proxy-style nat rules for the Service
#                                  (ClusterIP 198.18.2.10, the manifest's port
#                                  and NodePort), redis-server on
#                                  198.18.0.1 (the `redis` Service's name
#                                  resolves there), ip_forward on
#           |  veth, bridge cbr0 198.18.0.1 (the pod network)
#   pod namespaces     slN-pod1..5 198.18.0.11-15: the Deployment's containers
#                                  (nginx with the rendered ConfigMap, the app
#                                  on 127.0.0.1:9000); 4 and 5 hold the pods a
#                                  rolling update surges while old ones drain
#   ingress namespace  slN-ingress 198.18.0.20: an ingress-nginx stand-in
#                                  for cookie affinity, proxying to the pod
#                                  endpoints directly as ingress-nginx does
#
# The manifests: each row runs the rendered overlay of its step
# (kubectl kustomize $LAB_K8S_DIR/overlays/<overlay>, LAB_K8S_DIR defaults
# to k8s/), read by scripts/lib/k8s-pods.py; that file's header is the one
# list of the fields honoured and ignored. Rows map to overlays by their
# setup: memory x1 -> step1-memory, memory x3 -> step2-memory-x3, memory x3
# client-ip -> step3-memory-x3-clientip (rows 3 client-ip, 6 memory),
# memory x3 cookie -> ingress-cookie, redis x1 -> step4-redis (4, 4 restart),
# redis x3 -> step5-redis-x3 (5, 6 redis). The Secret redis-auth (key
# password), which the user creates, is created here with a random value.
#
# A pod starts as the kubelet starts it
# (https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/):
# init containers in order, a native sidecar (restartPolicy: Always) started
# and its startupProbe passed before the next one, then the regular
# containers; it joins the Service when its readiness probes passed. The
# first readiness probe runs when the container listens (the kubelet probes
# a container once it has started, then every periodSeconds).
# A pod stops as the kubelet stops it (_netns_pod_terminate,
# https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination):
# endpoint removal and the preStop hooks start together, each regular
# container gets its image's STOPSIGNAL after its own hook, sidecars are
# stopped after every regular container exited, in reverse order, and
# whatever is left gets SIGKILL when terminationGracePeriodSeconds is up.
# Every address is in 198.18.0.0/16 (docs/architecture.md, "Test networks"); nothing is
# created in the caller's namespace, so deleting the namespaces removes every
# veth, bridge, route and rule (and /etc/netns/<name>/hosts goes with them).
# Processes run inside the namespaces and are stopped by pid (ip netns pids)
# before the namespaces are deleted.
#
# The Service rules follow kube-proxy's iptables mode, as written by
# syncProxyRules and writeServiceToEndpointRules in
# kubernetes/kubernetes pkg/proxy/iptables/proxier.go:
#   KUBE-SERVICES: -d CLUSTER_IP/32 -p tcp --dport PORT -j KUBE-SVC-<hash>
#     and, type NodePort, last: -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS;
#   KUBE-NODEPORTS: -p tcp --dport NODE_PORT -j KUBE-EXT-<hash>, which marks
#     for masquerade and jumps to KUBE-SVC-<hash>;
#   KUBE-SVC-<hash>: with sessionAffinity ClientIP first, per endpoint,
#       -m recent --name KUBE-SEP-<hash> --rcheck --seconds TIMEOUT --reap
#       -j KUBE-SEP-<hash>
#     then per endpoint i of n: -m statistic --mode random --probability
#       1/(n-i) (printed "%0.10f": 0.3333333333, 0.5000000000), the last
#       one unconditional;
#   KUBE-SEP-<hash>: -s POD_IP/32 -j KUBE-MARK-MASQ (hairpin), then
#       [-m recent --name KUBE-SEP-<hash> --set] -m tcp -p tcp
#       -j DNAT --to-destination POD_IP:PORT;
#   chain names: "KUBE-SVC-"/"KUBE-SEP-"/"KUBE-EXT-" + the first 16
#   characters of base32(sha256(service port name + protocol [+ endpoint])).
# A removed or added endpoint is a resync of the Service chain
# (iptables-restore --noflush: the chain re-declared, a stale KUBE-SEP chain
# flushed and deleted), which leaves the other endpoints' affinity entries
# alone.

LAB_NETNS_TAG="" LAB_NETNS_RUN=""
LAB_NETNS_ALL=()         # every namespace created, in creation order
LAB_NETNS_NODE="" LAB_NETNS_INGRESS=""
LAB_NETNS_PODS=() LAB_NETNS_CLIENTS=()
LAB_NETNS_POD_IP=(198.18.0.11 198.18.0.12 198.18.0.13 198.18.0.14 198.18.0.15)
LAB_NETNS_SLOTS=${#LAB_NETNS_POD_IP[@]}
# Pods start in about a second (startup and readiness probes): users must
# outlast a scale event or a rollout (lab-common.sh lab_row); a row of 8
# users at 2400 reads once finished during a scale-up; and however many
# reads, a fast run ends first (a rollout takes about 16-19 s of pod starts
# and stops here): the users are paced to last 45 s (lab-common.sh).
LAB_SLOW_EVENTS_FACTOR=2 LAB_SLOW_EVENTS_MIN_READS=60000 LAB_EVENT_MIN_SECONDS=45
LAB_NETNS_CLIENT_IP=(198.18.1.11 198.18.1.12 198.18.1.13 198.18.1.14)
LAB_NETNS_POD_GW=198.18.0.1 LAB_NETNS_CLIENT_GW=198.18.1.1
LAB_NETNS_INGRESS_IP=198.18.0.20 LAB_NETNS_INGRESS_PORT=80
LAB_NETNS_CLUSTER_IP=198.18.2.10
LAB_K8S_DIR=${LAB_K8S_DIR:-$SL_ROOT/k8s}
LAB_NETNS_PODS_PY=$SL_ROOT/scripts/lib/k8s-pods.py
# Debian's python3, where the python3-yaml package the lab installs lands
# (a python3 earlier on PATH, e.g. pyenv's, may have no yaml module).
LAB_NETNS_PYTHON=python3
[[ -x /usr/bin/python3 ]] && LAB_NETNS_PYTHON=/usr/bin/python3
# Set from the row's plan (lab_netns_start):
LAB_NETNS_PLAN=""
export LAB_NETNS_OVERLAY=""   # the overlay the current row runs
LAB_NETNS_SVC_PORT=0 LAB_NETNS_POD_PORT=0 LAB_NETNS_NODE_PORT=""
LAB_NETNS_SVC_NAME=""    # namespace/name:port, as kube-proxy names it
LAB_NETNS_STICKY_SECONDS=10800 LAB_NETNS_AFFINITY=""
LAB_NETNS_REPLICAS=0
LAB_NETNS_LIVE=()        # pod slots (1-based) that are Service endpoints
LAB_NETNS_REDIS_ARGV=""  # the argv redis-server runs with now

_netns() { ip netns exec "$@"; }

# _netns_chain PREFIX TEXT: PREFIX-<first 16 of base32(sha256(TEXT))>.
_netns_chain() {
    local hex
    hex=$(printf '%s' "$2" | sha256sum | cut -c1-64)
    # shellcheck disable=SC2059  # the format is the \xHH escapes
    printf '%s-%s' "$1" "$(printf "$(sed 's/../\\x&/g' <<<"$hex")" | base32 -w0 | cut -c1-16)"
}

_netns_svc_chain() { _netns_chain KUBE-SVC "${LAB_NETNS_SVC_NAME}tcp"; }
_netns_ext_chain() { _netns_chain KUBE-EXT "${LAB_NETNS_SVC_NAME}tcp"; }
_netns_sep_chain() { _netns_chain KUBE-SEP "${LAB_NETNS_SVC_NAME}tcp$1:$LAB_NETNS_POD_PORT"; }

_netns_add() { # NAME: creates a namespace with loopback up, remembers it
    # Remembered first: a signal right after `ip netns add` must not leak it.
    LAB_NETNS_ALL+=("$1")
    ip netns add "$1"
    ip -n "$1" link set lo up
}

# _netns_wire NS IFACE_IN_NODE BRIDGE ADDR/24 GW: a veth from the node's
# bridge to NS (eth0 there), with its address and default route.
_netns_wire() {
    local ns=$1 port=$2 br=$3 addr=$4 gw=$5
    ip -n "$LAB_NETNS_NODE" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "$LAB_NETNS_NODE" link set "$port" master "$br" up
    ip -n "$ns" addr add "$addr" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$gw"
}

lab_netns_setup() {
    [[ $(id -u) -eq 0 ]] || sl_die "--target netns needs root (network namespaces and iptables)"
    command -v kubectl >/dev/null || sl_die "--target netns renders the manifests with kubectl kustomize: install kubectl"
    local i node
    LAB_NETNS_TAG=sl${LAB_RUN_ID:-$$}
    LAB_NETNS_RUN=$(mktemp -d "${TMPDIR:-/tmp}/sessionlab-lab.XXXXXX")
    chmod 0755 "$LAB_NETNS_RUN"
    lab_say "netns: namespaces $LAB_NETNS_TAG-*, Service $LAB_NETNS_CLUSTER_IP, manifests $LAB_K8S_DIR"

    node=$LAB_NETNS_TAG-node
    LAB_NETNS_NODE=$node
    _netns_add "$node"
    ip -n "$node" link add cbr0 type bridge
    ip -n "$node" addr add "$LAB_NETNS_POD_GW/24" dev cbr0
    ip -n "$node" link set cbr0 up
    ip -n "$node" link add clbr0 type bridge
    ip -n "$node" addr add "$LAB_NETNS_CLIENT_GW/24" dev clbr0
    ip -n "$node" link set clbr0 up
    _netns "$node" sysctl -qw net.ipv4.ip_forward=1
    # The probes open a connection per request, hundreds a second from one
    # client address, and reuse TIME_WAIT ports (tcp_tw_reuse below), so
    # a client's ports come round again within seconds to minutes.
    # The node's conntrack keeps a closed connection's entry, NAT binding
    # included, for 120 s (TIME_WAIT): a SYN from a reused port re-opens it
    # and goes to the pod that answered the first time; after a rollout that
    # pod is gone and its slot refuses (one netns run: 2 requests failed
    # after 3 s of retries). Real clients, on machines of their own, come
    # round to the same port far less often; here conntrack forgets first.
    _netns "$node" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=5

    LAB_NETNS_PODS=() LAB_NETNS_CLIENTS=()
    for (( i = 1; i <= LAB_NETNS_SLOTS; i++ )); do
        LAB_NETNS_PODS+=("$LAB_NETNS_TAG-pod$i")
        _netns_add "$LAB_NETNS_TAG-pod$i"
        _netns_wire "$LAB_NETNS_TAG-pod$i" "vpod$i" cbr0 "${LAB_NETNS_POD_IP[i-1]}/24" "$LAB_NETNS_POD_GW"
        mkdir -p "$LAB_NETNS_RUN/pod$i"
    done
    LAB_NETNS_INGRESS=$LAB_NETNS_TAG-ingress
    _netns_add "$LAB_NETNS_INGRESS"
    _netns_wire "$LAB_NETNS_INGRESS" ving cbr0 "$LAB_NETNS_INGRESS_IP/24" "$LAB_NETNS_POD_GW"
    # The ingress prefix: the same nginx-conf/ pieces, its own main file.
    "$SL_ROOT/scripts/lib/render-nginx-conf" "$LAB_NETNS_RUN/ingress" --role pod
    for (( i = 1; i <= LAB_SOURCES; i++ )); do
        LAB_NETNS_CLIENTS+=("$LAB_NETNS_TAG-cl$i")
        _netns_add "$LAB_NETNS_TAG-cl$i"
        _netns_wire "$LAB_NETNS_TAG-cl$i" "vcl$i" clbr0 "${LAB_NETNS_CLIENT_IP[i-1]}/24" "$LAB_NETNS_CLIENT_GW"
        # A probe closes its connection after each request (FORBID_REUSE),
        # so each one leaves the client a TIME_WAIT of 60 s: a few hundred
        # a second from one address filled the 28,000 ephemeral ports (CI:
        # 21,000 TIME_WAITs per client, then "Failed to connect ... after
        # 0 ms", no port to bind). Real clients are many machines; this one
        # reuses a TIME_WAIT port for a new connection (timestamps keep it
        # safe) and has the wider range.
        _netns "$LAB_NETNS_TAG-cl$i" sysctl -qw net.ipv4.tcp_tw_reuse=1 \
            net.ipv4.ip_local_port_range="1024 65000"
    done
    # The Secret the user creates (kubectl create secret generic redis-auth
    # --from-literal=password=...): hex, as the docs suggest.
    printf '{"redis-auth": {"password": "%s"}}\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
        >"$LAB_NETNS_RUN/secrets.json"
}

# lab_netns_overlay STORE REPLICAS AFFINITY: the overlay a row's setup runs.
lab_netns_overlay() {
    case $1/$2/$3 in
        memory/1/none) echo step1-memory ;;
        memory/3/none) echo step2-memory-x3 ;;
        memory/3/client-ip) echo step3-memory-x3-clientip ;;
        memory/3/cookie) echo ingress-cookie ;;
        redis/1/none) echo step4-redis ;;
        redis/3/none) echo step5-redis-x3 ;;
        *) return 1 ;;
    esac
}

# lab_netns_cannot EVENT AFFINITY: why a row cannot run here (no overlay
# for its setup); empty when it can.
lab_netns_cannot() {
    case $2 in
        cookie-persistent) echo "no overlay runs nginx-conf's cookie-persistent affinity (ingress-cookie is ingress-nginx's cookie)" ;;
    esac
}

# _netns_plan OVERLAY: renders it once per run; prints the plan's path.
_netns_plan() {
    local o=$1 f key
    key=$(printf '%s' "$LAB_K8S_DIR" | cksum | cut -d' ' -f1)   # one cache per manifest tree
    f=$LAB_NETNS_RUN/plan-$key-$1.json
    if [[ ! -s $f ]]; then
        [[ -d $LAB_K8S_DIR/overlays/$o ]] || sl_die "no overlay $LAB_K8S_DIR/overlays/$o"
        kubectl kustomize "$LAB_K8S_DIR/overlays/$o" >"$LAB_NETNS_RUN/rendered-$key-$o.yaml" \
            || sl_die "kubectl kustomize $LAB_K8S_DIR/overlays/$o failed"
        "$LAB_NETNS_PYTHON" "$LAB_NETNS_PODS_PY" plan "$LAB_NETNS_RUN/rendered-$key-$o.yaml" >"$f.tmp" \
            || sl_die "cannot run overlay $o on the netns target (see above)"
        mv "$f.tmp" "$f"
    fi
    echo "$f"
}

_plan() { jq -r "$1" "$LAB_NETNS_PLAN"; }

# Stops every process in namespace NS by pid: TERM, then KILL after 5 s.
_netns_stop_ns() {
    local ns=$1 pids i
    pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
    [[ -z $pids ]] && return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do
        [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && return 0
        sleep 0.1
    done
    pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
    # shellcheck disable=SC2086
    [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
    sleep 0.1
}

_netns_reap() { # reaps our finished background children quietly
    local pid
    for pid in $(jobs -p); do
        kill -0 "$pid" 2>/dev/null || wait "$pid" 2>/dev/null || true
    done
}

# Stops this shell's own background subshells (pod starts, container
# stops, a rollout) before the namespaces' processes: one still running
# would start a container after that sweep (CI once saw an nginx outlive
# the lab when an app could not start).
_netns_stop_helpers() {
    local pid i
    for pid in $(jobs -p); do
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == bash ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
        for (( i = 0; i < 50; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        wait "$pid" 2>/dev/null || true
    done
}

lab_netns_teardown() {
    local i ns
    _netns_stop_helpers
    for (( i = ${#LAB_NETNS_ALL[@]} - 1; i >= 0; i-- )); do
        _netns_stop_ns "${LAB_NETNS_ALL[i]}"
    done
    _netns_reap
    for (( i = ${#LAB_NETNS_ALL[@]} - 1; i >= 0; i-- )); do
        ns=${LAB_NETNS_ALL[i]}
        ip netns del "$ns" 2>/dev/null || [[ ! -e /run/netns/$ns ]] || echo "could not delete namespace $ns" >&2
        [[ -n $ns && -d /etc/netns/$ns ]] && rm -rf "/etc/netns/$ns"
    done
    LAB_NETNS_ALL=()
    [[ -n $LAB_NETNS_RUN && -d $LAB_NETNS_RUN ]] && rm -rf "$LAB_NETNS_RUN"
    LAB_NETNS_RUN=""
}

lab_netns_describe() {
    local o plan how
    o=$(lab_netns_overlay "$@") || { echo "$1 x$2, $3 (no overlay)"; return 0; }
    plan=$(_netns_plan "$o")
    how=$(jq -r '.service | "Service \(.type) \(.port)"
        + (if .sessionAffinity == "ClientIP" then ", sessionAffinity ClientIP \(.timeoutSeconds)s" else ", statistic random" end)' "$plan")
    [[ $(jq -r '.ingress.affinity // ""' "$plan") == cookie ]] && how="ingress cookie affinity ($(jq -r .ingress.cookieName "$plan"))"
    jq -r --arg o "$o" --arg how "$how" '"\($o): \(.deployment) x\(.replicas) pods ("
        + ([.containers[] | .name + (if .kind == "sidecar" then " sidecar" else "" end)] | join(", "))
        + "), \($how)"' "$plan"
}

# --- the node's Redis ------------------------------------------------------

# Runs the redis Deployment's container as the node's redis-server: its args
# ($(VAR) from its env, so --requirepass from the Secret), then the lab's
# own address, port and directory. Restarted only when the args change.
_netns_redis_ensure() {
    local argv=() a i port svcport
    [[ $(_plan '.redis != null') == true ]] || return 0
    port=$(_plan .redis.port) svcport=$(_plan .redis.servicePort)
    [[ $port == "$svcport" ]] || sl_die "redis Service port $svcport != containerPort $port: not supported here"
    mapfile -d '' -t argv < <("$LAB_NETNS_PYTHON" "$LAB_NETNS_PODS_PY" argv "$LAB_NETNS_PLAN" "$(_plan .redis.container.name)" \
        redis-0 "$LAB_NETNS_POD_GW" "$LAB_NETNS_RUN/secrets.json")
    [[ ${#argv[@]} -eq 0 || ${argv[0]} != redis-server ]] && argv=(redis-server "${argv[@]}")
    argv+=(--bind "$LAB_NETNS_POD_GW" --port "$port" --dir "$LAB_NETNS_RUN" --daemonize no)
    a=${argv[*]}
    [[ $a == "$LAB_NETNS_REDIS_ARGV" ]] && return 0
    if [[ -s $LAB_NETNS_RUN/redis.pid ]]; then
        kill -TERM "$(cat "$LAB_NETNS_RUN/redis.pid")" 2>/dev/null || true
        for (( i = 0; i < 100; i++ )); do
            if ! _netns_alive "$(cat "$LAB_NETNS_RUN/redis.pid")" &&
                ! _netns "$LAB_NETNS_NODE" bash -c "exec 3<>/dev/tcp/$LAB_NETNS_POD_GW/$port" 2>/dev/null; then
                break
            fi
            sleep 0.1
        done
        _netns_alive "$(cat "$LAB_NETNS_RUN/redis.pid")" && sl_die "the old redis-server does not stop"
        wait "$(cat "$LAB_NETNS_RUN/redis.pid")" 2>/dev/null || true
    fi
    lab_say "netns: redis-server on $LAB_NETNS_POD_GW:$port in the node namespace (the Service $(_plan .redis.service))"
    # ip itself, not the _netns function: $! is then the process (a function
    # in the background is a subshell with the process as its child).
    ip netns exec "$LAB_NETNS_NODE" "${argv[@]}" >>"$LAB_NETNS_RUN/redis.log" 2>&1 &
    echo $! >"$LAB_NETNS_RUN/redis.pid"
    LAB_NETNS_REDIS_ARGV=$a
    for (( i = 0; i < 100; i++ )); do
        _netns_alive "$(cat "$LAB_NETNS_RUN/redis.pid")" || break
        _netns "$LAB_NETNS_NODE" bash -c "exec 3<>/dev/tcp/$LAB_NETNS_POD_GW/$port" 2>/dev/null && return 0
        sleep 0.1
    done
    sl_die "redis-server did not start in $LAB_NETNS_NODE (see $LAB_NETNS_RUN/redis.log)"
}

# --- pods, as the kubelet runs them ----------------------------------------

_netns_now() { date +%s.%N; }
_netns_alive() { # PID: running (a zombie counts as exited)
    local st
    [[ -r /proc/$1/stat ]] || return 1
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z ]]
}
_netns_cpid() { cat "$LAB_NETNS_RUN/pod$1/c.$2.pid" 2>/dev/null; } # SLOT CONTAINER
_netns_pod_name() { cat "$LAB_NETNS_RUN/pod$1/name" 2>/dev/null; }
_netns_slot_of() { # POD_NAME -> its slot
    local i
    for (( i = 1; i <= LAB_NETNS_SLOTS; i++ )); do
        [[ $(_netns_pod_name "$i") == "$1" ]] && { echo "$i"; return 0; }
    done
    sl_die "no pod named $1"
}

# _netns_container_start SLOT INDEX: starts container INDEX of the plan in
# pod SLOT with the environment the kubelet would give it.
_netns_container_start() {
    local slot=$1 k=$2 dir=$LAB_NETNS_RUN/pod$1 ns=${LAB_NETNS_PODS[$1 - 1]}
    local name ip cname kind env=() argv=() bin prefix log
    name=$(_netns_pod_name "$slot") ip=${LAB_NETNS_POD_IP[slot-1]}
    cname=$(_plan ".containers[$k].name") kind=$(_plan ".containers[$k].imageKind")
    mapfile -d '' -t env < <("$LAB_NETNS_PYTHON" "$LAB_NETNS_PODS_PY" env "$LAB_NETNS_PLAN" "$cname" "$name" "$ip" "$LAB_NETNS_RUN/secrets.json") \
        || sl_die "$name: no environment for container $cname"
    mapfile -d '' -t argv < <("$LAB_NETNS_PYTHON" "$LAB_NETNS_PODS_PY" argv "$LAB_NETNS_PLAN" "$cname" "$name" "$ip" "$LAB_NETNS_RUN/secrets.json")
    printf '%s\0' "${env[@]}" >"$dir/env.$cname"
    case $kind in
        app)
            bin=${SESSIONLAB_APP:-$SL_ROOT/build/fcgi-app/sessionlab-app}
            if [[ $(_plan ".containers[$k].command == null") == true ]]; then
                argv=("$bin" "${argv[@]}")          # the image's ENTRYPOINT + args
            elif [[ ${argv[0]} == /usr/local/bin/sessionlab-app ]]; then
                argv[0]=$bin
            fi ;;
        nginx)
            [[ $(_plan ".containers[$k].command == null and .containers[$k].args == null") == true ]] \
                || sl_die "$cname: command/args on the nginx image are not supported here"
            # docker/nginx-entrypoint, role pod: the ConfigMap's files as the
            # config, nginx's fastcgi_params, listen-ipv6.conf where the
            # kernel has IPv6; the prefix is the pod's emptyDir.
            prefix=$dir/nginx
            rm -rf "$prefix"
            mkdir -p "$prefix/conf"
            chmod 0755 "$prefix"
            "$LAB_NETNS_PYTHON" "$LAB_NETNS_PODS_PY" configmap "$LAB_NETNS_PLAN" "$prefix/conf"
            cp /etc/nginx/fastcgi_params "$prefix/conf/fastcgi_params"
            if [[ -e /proc/net/if_inet6 && $(printf '%s\n' "${env[@]}" | sed -n 's/^SESSIONLAB_NGINX_IPV6=//p') != off ]]; then
                echo "listen [::]:8080;" >"$prefix/conf/listen-ipv6.conf"
            fi
            argv=(nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" -e stderr -g 'daemon off;') ;;
        *) sl_die "$cname: image $(_plan ".containers[$k].image") has no local stand-in" ;;
    esac
    log=$LAB_ROW_DIR/pod-$slot.$cname.log
    echo "$(date +%T.%N) $name: start $cname: ${argv[*]}" >>"$log"
    ip netns exec "$ns" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOSTNAME="$name" "${env[@]}" "${argv[@]}" >>"$log" 2>&1 &
    echo $! >"$dir/c.$cname.pid"
}

# _netns_probe SLOT INDEX WHICH: one probe (readiness|startup) of container
# INDEX; the kubelet probes HTTP and TCP from the node, exec in the container.
_netns_probe() {
    local slot=$1 k=$2 p=".containers[$2].$3" type port tmo cmd=() env=()
    type=$(_plan "$p.type") tmo=$(_plan "$p.timeoutSeconds")
    case $type in
        http)
            port=$(_plan "$p.port")
            _netns "$LAB_NETNS_NODE" curl -fsS -o /dev/null --max-time "$tmo" \
                "http://${LAB_NETNS_POD_IP[slot-1]}:$port$(_plan "$p.path")" 2>/dev/null ;;
        tcp)
            port=$(_plan "$p.port")
            _netns "$LAB_NETNS_NODE" timeout "$tmo" bash -c "exec 3<>/dev/tcp/${LAB_NETNS_POD_IP[slot-1]}/$port" 2>/dev/null ;;
        exec)
            mapfile -t cmd < <(_plan "$p.command[]")
            [[ ${cmd[0]} == /usr/local/bin/sessionlab-healthcheck ]] && cmd[0]=$SL_ROOT/docker/app-healthcheck
            mapfile -d '' -t env <"$LAB_NETNS_RUN/pod$slot/env.$(_plan ".containers[$k].name")"
            _netns "${LAB_NETNS_PODS[slot-1]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${env[@]}" \
                timeout "$tmo" "${cmd[@]}" >/dev/null 2>&1 ;;
    esac
}

# _netns_pod_check SLOT: dies when a started container has exited (the
# kubelet would restart it: CrashLoopBackOff; the lab stops instead).
_netns_pod_check() {
    local slot=$1 f c
    for f in "$LAB_NETNS_RUN/pod$slot"/c.*.pid; do
        [[ -e $f ]] || continue
        c=${f##*/c.} c=${c%.pid}
        _netns_alive "$(cat "$f")" || sl_die "pod-$slot ($(_netns_pod_name "$slot")): the $c exited (see $LAB_ROW_DIR/pod-$slot.$c.log)"
    done
}

# _netns_probe_until SLOT INDEX WHICH: probes every periodSeconds until
# successThreshold passes in a row; startup fails after failureThreshold,
# readiness keeps trying (60 s at most here).
_netns_probe_until() {
    local slot=$1 k=$2 w=$3 p=".containers[$2].$3" ok=0 bad=0 period need limit start port i
    period=$(_plan "$p.periodSeconds") need=$(_plan "$p.successThreshold") limit=$(_plan "$p.failureThreshold")
    start=$SECONDS
    sleep "$(_plan "$p.initialDelaySeconds")"
    # The first probe once the container runs: for a port, once it listens.
    sleep 0.1
    if [[ $(_plan "$p.type") != exec ]]; then
        port=$(_plan "$p.port")
        for (( i = 0; i < 40; i++ )); do
            _netns "$LAB_NETNS_NODE" bash -c "exec 3<>/dev/tcp/${LAB_NETNS_POD_IP[slot-1]}/$port" 2>/dev/null && break
            _netns_pod_check "$slot"
            sleep 0.05
        done
    fi
    while :; do
        _netns_pod_check "$slot"
        if _netns_probe "$slot" "$k" "$w"; then
            ok=$(( ok + 1 ))
            (( ok >= need )) && return 0
        else
            ok=0 bad=$(( bad + 1 ))
            [[ $w == startup ]] && (( bad >= limit )) && sl_die "pod-$slot: startupProbe of $(_plan ".containers[$k].name") failed $bad times"
            (( SECONDS - start > 60 )) && sl_die "pod-$slot ($(_netns_pod_name "$slot")) did not become ready (see $LAB_ROW_DIR/pod-$slot.*.log)"
        fi
        sleep "$period"
    done
}

# _netns_pod_run SLOT: creates a pod of the plan's Deployment in SLOT and
# starts it as the kubelet does; touches pod SLOT's `ready` when every
# readiness probe passed. May run in the background.
_netns_pod_run() {
    local slot=$1 dir=$LAB_NETNS_RUN/pod$1 n k kind pid rand
    n=$(_plan '.containers | length')
    rm -rf "$dir"
    mkdir -p "$dir"
    local abc=bcdfghjklmnpqrstvwxz2456789 j   # the alphabet of k8s.io/apimachinery's rand.String
    rand=""
    for (( j = 0; j < 5; j++ )); do rand+=${abc:RANDOM % ${#abc}:1}; done
    echo "$(_plan .deployment)-$(_plan .podTemplateHash)-$rand" >"$dir/name"
    for (( k = 0; k < n; k++ )); do
        kind=$(_plan ".containers[$k].kind")
        _netns_container_start "$slot" "$k"
        case $kind in
            init) # runs to completion before the next one starts
                pid=$(_netns_cpid "$slot" "$(_plan ".containers[$k].name")")
                wait "$pid" || sl_die "pod-$slot: init container $(_plan ".containers[$k].name") failed"
                rm -f "$dir/c.$(_plan ".containers[$k].name").pid" ;;
            sidecar) # the next container starts once its startupProbe passed
                [[ $(_plan ".containers[$k].startup != null") == true ]] && _netns_probe_until "$slot" "$k" startup ;;
        esac
    done
    for (( k = 0; k < n; k++ )); do
        [[ $(_plan ".containers[$k].readiness != null") == true ]] && _netns_probe_until "$slot" "$k" readiness
    done
    touch "$dir/ready"
}

# _netns_pods_start SLOT...: runs those pods at once, waits until all are ready.
_netns_pods_start() {
    local slot pids=() i=0 rc
    for slot in "$@"; do
        _netns_pod_run "$slot" &
        pids+=("$!")
    done
    for slot in "$@"; do
        # Polled, then reaped: a signal that interrupts `wait` runs the
        # caller's trap in the middle of bash's parse of this function
        # (bash 5.2: "unexpected EOF while looking for matching `)'").
        while kill -0 "${pids[i]}" 2>/dev/null; do sleep 0.05; done
        set +e
        wait "${pids[i]}"
        rc=$?
        set -e
        i=$(( i + 1 ))
        [[ $rc -eq 0 ]] || sl_die "pod-$slot did not start (see above)"
    done
}

_netns_signal_tree() { # SIGNAL PID: the process and its children
    local kids
    kids=$(ps -o pid= --ppid "$2" 2>/dev/null | tr -d ' ' | paste -sd' ') || true
    # shellcheck disable=SC2086
    kill "-$1" "$2" $kids 2>/dev/null || true
}

_netns_tlog() { # the termination timeline: +SECONDS since the deletion
    awk -v a="$1" -v b="$(_netns_now)" -v m="$2" 'BEGIN { printf "+%.3f %s\n", b - a, m }' >>"$3"
}

# _netns_container_stop SLOT NAME T0 DEADLINE LOG: the kubelet's killContainer:
# the preStop hook, then the image's STOPSIGNAL; SIGKILL at the deadline,
# and never less than 2 s after the signal (minimumGracePeriodInSeconds in
# pkg/kubelet/kuberuntime/kuberuntime_container.go).
_netns_container_stop() {
    local slot=$1 c=$2 t0=$3 deadline=$4 log=$5 k pid sig left env=() hook=() until
    k=$(jq -r --arg c "$c" '.containers | map(.name) | index($c)' "$LAB_NETNS_PLAN")
    pid=$(_netns_cpid "$slot" "$c")
    if [[ -z $pid ]] || ! _netns_alive "$pid"; then
        _netns_tlog "$t0" "$c: not running" "$log"
        return 0
    fi
    sig=$(_plan ".containers[$k].stopSignal")
    if [[ $(_plan ".containers[$k].preStop != null") == true ]]; then
        mapfile -t hook < <(_plan ".containers[$k].preStop.exec[]")
        mapfile -d '' -t env <"$LAB_NETNS_RUN/pod$slot/env.$c"
        left=$(awk -v d="$deadline" -v n="$(_netns_now)" 'BEGIN { l = d - n; printf "%.3f", (l > 0 ? l : 0.001) }')
        _netns_tlog "$t0" "$c: preStop ${hook[*]}" "$log"
        _netns "${LAB_NETNS_PODS[slot-1]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${env[@]}" \
            timeout "$left" "${hook[@]}" >/dev/null 2>&1 || true
    fi
    _netns_tlog "$t0" "$c: SIG$sig" "$log"
    kill "-$sig" "$pid" 2>/dev/null || true   # to the container's process 1, as the runtime does
    until=$(awk -v d="$deadline" -v n="$(_netns_now)" 'BEGIN { printf "%.3f", (d - n < 2 ? n + 2 : d) }')
    while _netns_alive "$pid"; do
        if awk -v u="$until" -v n="$(_netns_now)" 'BEGIN { exit !(n >= u) }'; then
            _netns_tlog "$t0" "$c: SIGKILL (grace period over)" "$log"
            _netns_signal_tree KILL "$pid"
            break
        fi
        sleep 0.02
    done
    _netns_tlog "$t0" "$c: exited" "$log"
}

# _netns_kubelet_stop SLOT T0: the kubelet's side of a pod deletion at T0.
#  - https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination:
#    "If one of the Pod's containers has defined a preStop hook ... the
#    kubelet runs that hook inside of the container"; then "the kubelet
#    triggers the container runtime to send a TERM signal to process 1
#    inside each container" (the image's STOPSIGNAL when it has one); the
#    regular containers are stopped in parallel, each after its own hook;
#    "When the grace period expires, the kubelet triggers forcible shutdown
#    ... sends SIGKILL to any processes still running in any container".
#  - https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/:
#    "the kubelet postpones terminating sidecar containers until the main
#    application container has fully stopped. The sidecar containers are
#    then shut down in the opposite order of their appearance in the Pod
#    specification."
_netns_kubelet_stop() {
    local slot=$1 t0=$2 grace deadline log pids=() c
    grace=$(_plan .grace)
    deadline=$(awk -v a="$t0" -v g="$grace" 'BEGIN { printf "%.3f", a + g }')
    log=$LAB_ROW_DIR/terminate-pod-$slot.log
    _netns_tlog "$t0" "$(_netns_pod_name "$slot"): deleted (grace ${grace}s): endpoint removal and preStop hooks start together" "$log"
    for c in $(jq -r '.containers[] | select(.kind == "regular") | .name' "$LAB_NETNS_PLAN"); do
        _netns_container_stop "$slot" "$c" "$t0" "$deadline" "$log" &
        pids+=("$!")
    done
    for c in "${pids[@]}"; do wait "$c" || true; done
    for c in $(jq -r '[.containers[] | select(.kind == "sidecar") | .name] | reverse | .[]' "$LAB_NETNS_PLAN"); do
        _netns_container_stop "$slot" "$c" "$t0" "$deadline" "$log"
    done
    _netns_tlog "$t0" "pod gone" "$log"
    touch "$LAB_NETNS_RUN/pod$slot/gone"
}

# _netns_pod_terminate SLOT: deletes pod SLOT. Both reactions to the
# deletion start together, as in a cluster: the kubelet's stop sequence (in
# the background; pod SLOT's `gone` appears at its end) and the endpoint's
# removal from the Service (the EndpointSlice marks it terminating, and
# kube-proxy drops it from the rules).
_netns_pod_terminate() {
    local slot=$1 t0
    t0=$(_netns_now)
    rm -f "$LAB_NETNS_RUN/pod$slot/gone" "$LAB_NETNS_RUN/pod$slot/ready"
    _netns_kubelet_stop "$slot" "$t0" &
    _netns_endpoint_remove "$slot"
    _netns_tlog "$t0" "endpoint removed from the Service" "$LAB_ROW_DIR/terminate-pod-$slot.log"
}

_netns_pod_wait_gone() { # SLOT [SECONDS]
    local i
    for (( i = 0; i < ${2:-120} * 10; i++ )); do
        [[ -e $LAB_NETNS_RUN/pod$1/gone ]] && return 0
        sleep 0.1
    done
    return 1
}

# --- the Service (kube-proxy) ------------------------------------------------

# Prints the body of the Service chain for the live endpoints.
_netns_svc_rules() {
    local svc ep sep i n=${#LAB_NETNS_LIVE[@]} prob
    svc=$(_netns_svc_chain)
    if [[ $LAB_NETNS_AFFINITY == client-ip ]]; then
        for ep in "${LAB_NETNS_LIVE[@]}"; do
            sep=$(_netns_sep_chain "${LAB_NETNS_POD_IP[ep-1]}")
            echo "-A $svc -m comment --comment \"$LAB_NETNS_SVC_NAME -> ${LAB_NETNS_POD_IP[ep-1]}:$LAB_NETNS_POD_PORT\" -m recent --name $sep --rcheck --seconds $LAB_NETNS_STICKY_SECONDS --reap -j $sep"
        done
    fi
    for (( i = 0; i < n; i++ )); do
        ep=${LAB_NETNS_LIVE[i]}
        sep=$(_netns_sep_chain "${LAB_NETNS_POD_IP[ep-1]}")
        if (( i < n - 1 )); then
            prob=$(awk -v k=$(( n - i )) 'BEGIN { printf "%0.10f", 1 / k }')
            echo "-A $svc -m comment --comment \"$LAB_NETNS_SVC_NAME -> ${LAB_NETNS_POD_IP[ep-1]}:$LAB_NETNS_POD_PORT\" -m statistic --mode random --probability $prob -j $sep"
        else
            echo "-A $svc -m comment --comment \"$LAB_NETNS_SVC_NAME -> ${LAB_NETNS_POD_IP[ep-1]}:$LAB_NETNS_POD_PORT\" -j $sep"
        fi
    done
}

_netns_sep_rules() { # SLOT: the KUBE-SEP chain's rules of one endpoint
    local ip=${LAB_NETNS_POD_IP[$1 - 1]} sep recent=""
    sep=$(_netns_sep_chain "$ip")
    [[ $LAB_NETNS_AFFINITY == client-ip ]] && recent=1
    echo "-A $sep -m comment --comment $LAB_NETNS_SVC_NAME -s $ip/32 -j KUBE-MARK-MASQ"
    echo "-A $sep -m comment --comment $LAB_NETNS_SVC_NAME${recent:+ -m recent --name $sep --set} -m tcp -p tcp -j DNAT --to-destination $ip:$LAB_NETNS_POD_PORT"
}

# Writes the whole nat table of the node: kube-proxy's fixed chains, the
# Service (and its NodePort) and one KUBE-SEP chain per live endpoint.
_netns_service_write() {
    local svc ext ep
    svc=$(_netns_svc_chain) ext=$(_netns_ext_chain)
    {
        echo "*nat"
        echo ":PREROUTING ACCEPT [0:0]"
        echo ":INPUT ACCEPT [0:0]"
        echo ":OUTPUT ACCEPT [0:0]"
        echo ":POSTROUTING ACCEPT [0:0]"
        echo ":KUBE-SERVICES - [0:0]"
        echo ":KUBE-NODEPORTS - [0:0]"
        echo ":KUBE-POSTROUTING - [0:0]"
        echo ":KUBE-MARK-MASQ - [0:0]"
        echo ":$svc - [0:0]"
        [[ -n $LAB_NETNS_NODE_PORT ]] && echo ":$ext - [0:0]"
        for ep in "${LAB_NETNS_LIVE[@]}"; do
            echo ":$(_netns_sep_chain "${LAB_NETNS_POD_IP[ep-1]}") - [0:0]"
        done
        echo "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
        echo "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
        echo "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
        echo "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000"
        echo "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
        echo "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000"
        echo "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE"
        echo "-A KUBE-SERVICES -m comment --comment \"$LAB_NETNS_SVC_NAME cluster IP\" -m tcp -p tcp -d $LAB_NETNS_CLUSTER_IP/32 --dport $LAB_NETNS_SVC_PORT -j $svc"
        if [[ -n $LAB_NETNS_NODE_PORT ]]; then
            echo "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
            echo "-A KUBE-NODEPORTS -m comment --comment $LAB_NETNS_SVC_NAME -m tcp -p tcp --dport $LAB_NETNS_NODE_PORT -j $ext"
            echo "-A $ext -m comment --comment \"masquerade traffic for $LAB_NETNS_SVC_NAME external destinations\" -j KUBE-MARK-MASQ"
            echo "-A $ext -j $svc"
        fi
        _netns_svc_rules
        for ep in "${LAB_NETNS_LIVE[@]}"; do
            _netns_sep_rules "$ep"
        done
        echo "COMMIT"
    } >"$LAB_ROW_DIR/nat-rules.txt"
    _netns "$LAB_NETNS_NODE" iptables-restore <"$LAB_ROW_DIR/nat-rules.txt"
}

# The ingress follows the endpoints (ingress-nginx updates its upstream
# list from the EndpointSlices): a new config and a reload (SIGHUP).
_netns_ingress_sync() {
    [[ -s $LAB_NETNS_RUN/ingress.pid ]] || return 0
    _netns_ingress_start
    kill -HUP "$(cat "$LAB_NETNS_RUN/ingress.pid")"
}

# _netns_resync SLOT add|remove: a kube-proxy resync after SLOT's endpoint
# came or went: the Service chain re-declared with the live endpoints, SLOT's
# endpoint chain written (add) or flushed and deleted (remove); the other
# endpoints' chains, and their ClientIP `recent` entries, stay.
_netns_resync() {
    local i=$1 how=$2 svc sep
    svc=$(_netns_svc_chain)
    sep=$(_netns_sep_chain "${LAB_NETNS_POD_IP[i-1]}")
    {
        echo "*nat"
        echo ":$svc - [0:0]"
        echo ":$sep - [0:0]"
        _netns_svc_rules
        if [[ $how == add ]]; then _netns_sep_rules "$i"; else echo "-X $sep"; fi
        echo "COMMIT"
    } >"$LAB_ROW_DIR/nat-resync.txt"
    _netns "$LAB_NETNS_NODE" iptables-restore --noflush <"$LAB_ROW_DIR/nat-resync.txt"
    _netns_ingress_sync
}

# Drops endpoint I from the Service the way a kube-proxy resync does.
_netns_endpoint_remove() {
    local i=$1 ep live=()
    for ep in "${LAB_NETNS_LIVE[@]}"; do
        [[ $ep -eq $i ]] || live+=("$ep")
    done
    LAB_NETNS_LIVE=("${live[@]}")
    _netns_resync "$i" remove
}

# Adds endpoint I (a pod that became ready) the same way.
_netns_endpoint_add() {
    LAB_NETNS_LIVE+=("$1")
    _netns_resync "$1" add
}

# The ingress-nginx stand-in: nginx-conf's main, http, affinity and upstream
# pieces around an HTTP proxy to the pods' nginx (nginx-conf has no proxy
# role; sessionlab-server.conf speaks FastCGI). The Ingress's affinity
# annotation picks cookie affinity (nginx-conf's SLROUTE cookie) or none.
_netns_ingress_start() {
    local dir=$LAB_NETNS_RUN/ingress i aff cookie
    aff=$(_plan '.ingress.affinity // "none"') cookie=$(_plan .ingress.cookieName)
    [[ $aff == cookie && $cookie != SLROUTE ]] && sl_die "ingress session-cookie-name $cookie: the stand-in implements SLROUTE only"
    [[ $aff == cookie ]] || aff=none
    {
        echo "# Generated by scripts/lib/lab-netns.sh: the lab's ingress (affinity $aff)."
        echo "include sessionlab-main.conf;"
        echo "http {"
        echo "    include sessionlab-http.conf;"
        echo "    upstream sessionlab_app {"
        echo "        include affinity-$aff.conf;"
        for i in "${LAB_NETNS_LIVE[@]}"; do
            echo "        server ${LAB_NETNS_POD_IP[i-1]}:$LAB_NETNS_POD_PORT;"
        done
        echo "        include sessionlab-upstream.conf;"
        echo "    }"
        echo "    server {"
        echo "        listen $LAB_NETNS_INGRESS_PORT;"
        [[ $aff == cookie ]] && echo "        include affinity-cookie-server.conf;"
        echo "        location / {"
        echo "            proxy_pass http://sessionlab_app;"
        echo "            proxy_http_version 1.1;"
        echo "            proxy_set_header Connection \"\";"
        echo "            proxy_set_header Host \$http_host;"
        echo "            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;"
        echo "            proxy_next_upstream error timeout;"
        echo "        }"
        echo "    }"
        echo "}"
    } >"$dir/conf/ingress.conf"
    [[ -s $LAB_NETNS_RUN/ingress.pid ]] && return 0   # running: the new config was written
    ip netns exec "$LAB_NETNS_INGRESS" nginx -p "$dir/" -c "$dir/conf/ingress.conf" -e stderr -g 'daemon off;' \
        >>"$LAB_ROW_DIR/ingress.nginx.log" 2>&1 &
    echo $! >"$LAB_NETNS_RUN/ingress.pid"
    for (( i = 0; i < 100; i++ )); do
        _netns "$LAB_NETNS_NODE" curl -fsS -o /dev/null --max-time 1 \
            "http://$LAB_NETNS_INGRESS_IP:$LAB_NETNS_INGRESS_PORT/healthz" 2>/dev/null && return 0
        sleep 0.1
    done
    sl_die "the ingress nginx did not answer (see $LAB_ROW_DIR/ingress.nginx.log)"
}

# One first connection per client address, alone. kube-proxy's `recent`
# check and `--set` are not one atomic step: two SYNs from one address
# handled at once on two CPUs can both miss the check and land on different
# endpoints, and from then on the first endpoint whose list holds the address
# wins, so one of the two users moves. The lab's users of one address start
# in the same microsecond; real ones rarely do. (A row would then fail one
# run in many, for a reason the row is not about.)
_netns_pin_sources() {
    local s
    for (( s = 0; s < LAB_SOURCES; s++ )); do
        _netns "${LAB_NETNS_CLIENTS[s]}" curl -fsS -o /dev/null --max-time 2 \
            "http://$LAB_NETNS_CLUSTER_IP:$LAB_NETNS_SVC_PORT/healthz" \
            || sl_die "client ${LAB_NETNS_CLIENTS[s]} could not reach the Service"
    done
}

# lab_netns_plan_load OVERLAY: makes OVERLAY's plan the current one.
lab_netns_plan_load() {
    LAB_NETNS_OVERLAY=$1
    LAB_NETNS_PLAN=$(_netns_plan "$1")
    LAB_NETNS_REPLICAS=$(_plan .replicas)
    (( LAB_NETNS_REPLICAS >= 1 && LAB_NETNS_REPLICAS <= LAB_NETNS_SLOTS )) \
        || sl_die "$1: $LAB_NETNS_REPLICAS replicas; the netns target has $LAB_NETNS_SLOTS pod slots"
    LAB_NETNS_SVC_PORT=$(_plan .service.port) LAB_NETNS_POD_PORT=$(_plan .service.targetPort)
    LAB_NETNS_SVC_NAME=$(_plan '"\(.service.namespace)/\(.service.name):\(.service.portName)"')
    LAB_NETNS_NODE_PORT=""
    [[ $(_plan .service.type) == NodePort ]] && LAB_NETNS_NODE_PORT=$(_plan '.service.nodePort // empty')
    [[ $(_plan .service.type) == NodePort && -z $LAB_NETNS_NODE_PORT ]] && LAB_NETNS_NODE_PORT=30000
    LAB_NETNS_AFFINITY=none
    [[ $(_plan .service.sessionAffinity) == ClientIP ]] && LAB_NETNS_AFFINITY=client-ip
    LAB_NETNS_STICKY_SECONDS=$(_plan .service.timeoutSeconds)
    local i
    for (( i = 1; i <= LAB_NETNS_SLOTS; i++ )); do
        # The Service names the pods resolve (cluster DNS): ip netns exec
        # bind-mounts /etc/netns/NS/hosts over /etc/hosts.
        mkdir -p "/etc/netns/${LAB_NETNS_PODS[i-1]}"
        {
            echo "127.0.0.1 localhost"
            [[ $(_plan '.redis != null') == true ]] &&
                echo "$LAB_NETNS_POD_GW $(_plan .redis.service) $(_plan '"\(.redis.service).\(.service.namespace).svc.cluster.local"')"
        } >"/etc/netns/${LAB_NETNS_PODS[i-1]}/hosts"
    done
    return 0
}

lab_netns_start() {
    local i slots=()
    local o=${LAB_NETNS_OVERLAY_FORCE:-}
    [[ -n $o ]] || o=$(lab_netns_overlay "$@") || sl_die "no overlay for a row with store $1, $2 replicas, affinity $3"
    lab_netns_plan_load "$o"
    _netns_redis_ensure
    LAB_NETNS_LIVE=()
    for (( i = 1; i <= LAB_NETNS_REPLICAS; i++ )); do slots+=("$i"); done
    _netns_pods_start "${slots[@]}"
    LAB_NETNS_LIVE=("${slots[@]}")
    _netns_service_write
    if [[ -n $LAB_NETNS_NODE_PORT ]]; then
        _netns "${LAB_NETNS_CLIENTS[0]}" curl -fsS -o /dev/null --max-time 2 \
            "http://$LAB_NETNS_CLIENT_GW:$LAB_NETNS_NODE_PORT/healthz" \
            || sl_die "the NodePort $LAB_NETNS_NODE_PORT does not answer"
    fi
    [[ $LAB_NETNS_AFFINITY == client-ip ]] && _netns_pin_sources
    if [[ $(_plan '.ingress != null') == true ]]; then
        _netns_ingress_start
        LAB_URL=http://$LAB_NETNS_INGRESS_IP:$LAB_NETNS_INGRESS_PORT/
    else
        LAB_URL=http://$LAB_NETNS_CLUSTER_IP:$LAB_NETNS_SVC_PORT/
    fi
}

lab_netns_stop() {
    local i
    _netns_stop_ns "$LAB_NETNS_INGRESS"
    rm -f "$LAB_NETNS_RUN/ingress.pid"
    for (( i = 1; i <= LAB_NETNS_SLOTS; i++ )); do
        _netns_stop_ns "${LAB_NETNS_PODS[i-1]}"
    done
    _netns_reap
    # Flush separately so the recent (ClientIP) tables go with their rules.
    _netns "$LAB_NETNS_NODE" iptables-save -t nat >"$LAB_ROW_DIR/nat-final.txt" 2>/dev/null || true
    _netns "$LAB_NETNS_NODE" iptables -t nat -F
    _netns "$LAB_NETNS_NODE" iptables -t nat -X
}

lab_netns_probe() {
    local source=$1
    shift
    _netns "${LAB_NETNS_CLIENTS[source]}" "${LAB_PROBE_CMD[@]}" "$LAB_URL" "$@"
}

_netns_pod_reads() { # SLOT: reads pod SLOT served in this row
    lab_served_in "$LAB_ROW_DIR/pod-$1.nginx.log"
}

lab_netns_served() {
    local i sum=0
    for (( i = 1; i <= LAB_NETNS_SLOTS; i++ )); do
        [[ -e $LAB_ROW_DIR/pod-$i.nginx.log ]] || continue
        sum=$(( sum + $(_netns_pod_reads "$i") ))
    done
    echo "$sum"
}

# The live pod with the most reads still to come: for each client address
# in its access log, the reads that source makes in all less those served.
# (Picking the busiest pod of the moment could pick one whose client-IP
# pinned clients were about to finish, and then nothing would be lost.)
# Prints the pod's name (what /api/session shows: metadata.name).
lab_netns_pick_victim() {
    local i best=${LAB_NETNS_LIVE[0]} most=-1 left
    local per=$(( LAB_CLIENTS_PER_SOURCE * LAB_ROW_N ))
    for i in "${LAB_NETNS_LIVE[@]}"; do
        left=$(awk -v per="$per" '/"GET \/api\/session HTTP\/1.1" 200 / { n[$1]++ }
            END { s = 0; for (ip in n) if (per > n[ip]) s += per - n[ip]; print s }' \
            "$LAB_ROW_DIR/pod-$i.nginx.log" 2>/dev/null || echo 0)
        (( left > most )) && { most=$left; best=$i; }
    done
    _netns_pod_name "$best"
}

# The pod dies (its node crashed): the endpoint leaves the Service
# (kube-proxy resync), then every process of the pod is killed.
lab_netns_kill() {
    local i pids
    i=$(_netns_slot_of "$1")
    _netns_endpoint_remove "$i"
    pids=$(ip netns pids "${LAB_NETNS_PODS[i-1]}")
    # shellcheck disable=SC2086
    [[ -n $pids ]] && kill -KILL $pids
    _netns_reap
}

# The app container of the pod restarts (the pod, its nginx and its
# endpoint stay): its stop signal, then the kubelet starts it again with
# the same environment (restartPolicy Always) and it serves again.
lab_netns_restart() {
    local i k pid n
    i=$(_netns_slot_of "$1")
    k=$(jq -r '.containers | map(.imageKind) | index("app")' "$LAB_NETNS_PLAN")
    pid=$(_netns_cpid "$i" "$(_plan ".containers[$k].name")")
    kill "-$(_plan ".containers[$k].stopSignal")" "$pid"
    for (( n = 0; n < 400 && $(_netns_alive "$pid" && echo 1 || echo 0); n++ )); do sleep 0.05; done
    _netns_alive "$pid" && sl_die "pod-$i: the app did not stop within 20 s"
    wait "$pid" 2>/dev/null || true
    _netns_container_start "$i" "$k"
    for (( n = 0; n < 100; n++ )); do
        _netns "$LAB_NETNS_NODE" curl -fsS -o /dev/null --max-time 1 \
            "http://${LAB_NETNS_POD_IP[i-1]}:$LAB_NETNS_POD_PORT/readyz" 2>/dev/null && return 0
        _netns_pod_check "$i"
        sleep 0.1
    done
    sl_die "pod-$i did not become ready after the restart (see $LAB_ROW_DIR/pod-$i.*.log)"
}

# lab_netns_rollout: a rolling update of the current plan's Deployment, as
# the Deployment controller runs it (pkg/controller/deployment/rolling.go):
# new pods while the pods that are not terminating stay within replicas +
# maxSurge; an old pod deleted while the ready ones stay at or above
# replicas - maxUnavailable; a new pod joins the Service when its readiness
# probes passed. Old pods are deleted with the kubelet's stop sequence
# (_netns_pod_terminate) and their slots reused once gone. Prints one line
# per step to stderr and the timeline to LAB_ROW_DIR/rollout.log.
lab_netns_rollout() {
    local r s u old=() new=() ready=() t0 slot i busy victim
    r=$LAB_NETNS_REPLICAS s=$(_plan .strategy.maxSurge) u=$(_plan .strategy.maxUnavailable)
    (( s + u > 0 )) || sl_die "maxSurge and maxUnavailable are both 0"
    old=("${LAB_NETNS_LIVE[@]}")
    declare -A starting=() terminating=()
    t0=$(_netns_now)
    _netns_tlog "$t0" "rollout of $r replicas, maxSurge $s, maxUnavailable $u" "$LAB_ROW_DIR/rollout.log"
    while (( ${#old[@]} > 0 || ${#ready[@]} < r )); do
        # New pods up to replicas + maxSurge not terminating.
        while (( ${#old[@]} + ${#new[@]} < r + s && ${#new[@]} < r )); do
            slot=""
            for (( i = 1; i <= LAB_NETNS_SLOTS; i++ )); do
                busy=0
                [[ " ${old[*]} ${new[*]} ${!terminating[*]} " == *" $i "* ]] && busy=1
                [[ $busy -eq 0 ]] && { slot=$i; break; }
            done
            [[ -n $slot ]] || break
            _netns_pod_run "$slot" >>"$LAB_ROW_DIR/rollout.log" 2>&1 &
            starting[$slot]=$!
            new+=("$slot")
            _netns_tlog "$t0" "pod-$slot: created (new)" "$LAB_ROW_DIR/rollout.log"
        done
        # Ready new pods join the Service.
        for slot in "${!starting[@]}"; do
            if [[ -e $LAB_NETNS_RUN/pod$slot/ready ]]; then
                wait "${starting[$slot]}" || true
                unset "starting[$slot]"
                _netns_endpoint_add "$slot"
                ready+=("$slot")
                _netns_tlog "$t0" "pod-$slot ($(_netns_pod_name "$slot")): ready, endpoint added" "$LAB_ROW_DIR/rollout.log"
                lab_event_mark "$(_netns_pod_name "$slot") added"
                lab_say "rollout: pod-$slot ready and in the Service"
            elif ! kill -0 "${starting[$slot]}" 2>/dev/null; then
                sl_die "rollout: pod-$slot did not start (see $LAB_ROW_DIR/rollout.log)"
            fi
        done
        # Old pods deleted while enough pods stay available.
        while (( ${#old[@]} > 0 && ${#old[@]} + ${#ready[@]} > r - u )); do
            victim=${old[0]}
            old=("${old[@]:1}")
            terminating[$victim]=1
            _netns_tlog "$t0" "pod-$victim ($(_netns_pod_name "$victim")): deleted (old)" "$LAB_ROW_DIR/rollout.log"
            lab_say "rollout: deleting pod-$victim"
            lab_event_mark "$(_netns_pod_name "$victim") removed"
            _netns_pod_terminate "$victim"
        done
        for slot in "${!terminating[@]}"; do
            [[ -e $LAB_NETNS_RUN/pod$slot/gone ]] && unset "terminating[$slot]"
        done
        sleep 0.1
    done
    for slot in "${!terminating[@]}"; do
        _netns_pod_wait_gone "$slot" || sl_die "rollout: pod-$slot never went away"
    done
    _netns_reap
    _netns_tlog "$t0" "rollout done: pods ${ready[*]}" "$LAB_ROW_DIR/rollout.log"
}

# lab_netns_scale N [NAME...]: the Deployment scaled to N under load. Up:
# new pods in free slots, each joining the Service once ready. Down: the
# named pods (then the newest) deleted with the kubelet's stop sequence
# (the ReplicaSet picks which; the lab names the one whose users it
# watches); returns at once, the pods stop in the background.
lab_netns_scale() {
    local want=$1 name slot i busy
    shift
    while (( ${#LAB_NETNS_LIVE[@]} < want )); do
        slot=""
        for (( i = 1; i <= LAB_NETNS_SLOTS; i++ )); do
            busy=0
            [[ " ${LAB_NETNS_LIVE[*]} " == *" $i "* ]] && busy=1
            [[ -e $LAB_NETNS_RUN/pod$i/name && ! -e $LAB_NETNS_RUN/pod$i/gone && $busy -eq 0 ]] &&
                _netns_alive "$(cat "$LAB_NETNS_RUN/pod$i"/c.*.pid 2>/dev/null | head -1)" && busy=1
            [[ $busy -eq 0 ]] && { slot=$i; break; }
        done
        [[ -n $slot ]] || sl_die "scale: no free pod slot (the netns target has $LAB_NETNS_SLOTS)"
        _netns_pods_start "$slot"
        _netns_endpoint_add "$slot"
        lab_event_mark "$(_netns_pod_name "$slot") added"
    done
    for name in "$@"; do
        (( ${#LAB_NETNS_LIVE[@]} > want )) || break
        slot=$(_netns_slot_of "$name")
        lab_event_mark "$name removed"
        _netns_pod_terminate "$slot"
    done
    while (( ${#LAB_NETNS_LIVE[@]} > want )); do
        slot=${LAB_NETNS_LIVE[-1]}
        lab_event_mark "$(_netns_pod_name "$slot") removed"
        _netns_pod_terminate "$slot"
    done
    # As `kubectl scale` returns: the deleted pods finish their stop
    # sequence in the background (their slots stay taken until gone).
    _netns_reap
}
