# shellcheck shell=bash
# The lab's "netns" target: a one-machine Kubernetes node made of network
# namespaces (root only). Source after common.sh and lab-common.sh.
#
#   client namespaces  slN-cl1..4  198.18.1.11-14/24, default via the node
#           |  veth, bridge clbr0 198.18.1.1 in the node namespace
#   node namespace     slN-node    kube-proxy-style nat rules for the Service
#                                  ClusterIP 198.18.2.10:80, redis-server on
#                                  198.18.0.1:6379, ip_forward on
#           |  veth, bridge cbr0 198.18.0.1 (the pod network)
#   pod namespaces     slN-pod1..3 198.18.0.11-13: nginx :8080 (nginx-conf/
#                                  nginx.conf as is) + sessionlab-app on
#                                  127.0.0.1:9000
#   ingress namespace  slN-ingress 198.18.0.20:80: an ingress-nginx stand-in
#                                  for cookie affinity, proxying to the pod
#                                  endpoints directly as ingress-nginx does
# Every address is in 198.18.0.0/16 (DESIGN.md, "Test networks"); nothing is
# created in the caller's namespace, so deleting the namespaces removes every
# veth, bridge, route and rule. Processes run inside the namespaces and are
# stopped by pid (ip netns pids) before the namespaces are deleted.
#
# The Service rules follow kube-proxy's iptables mode, as written by
# syncProxyRules and writeServiceToEndpointRules in
# kubernetes/kubernetes pkg/proxy/iptables/proxier.go:
#   KUBE-SERVICES: -d CLUSTER_IP/32 -p tcp --dport PORT -j KUBE-SVC-<hash>
#   KUBE-SVC-<hash>: with sessionAffinity ClientIP first, per endpoint,
#       -m recent --name KUBE-SEP-<hash> --rcheck --seconds 10800 --reap
#       -j KUBE-SEP-<hash>
#     then per endpoint i of n: -m statistic --mode random --probability
#       1/(n-i) (printed "%0.10f": 0.3333333333, 0.5000000000), the last
#       one unconditional;
#   KUBE-SEP-<hash>: -s POD_IP/32 -j KUBE-MARK-MASQ (hairpin), then
#       [-m recent --name KUBE-SEP-<hash> --set] -m tcp -p tcp
#       -j DNAT --to-destination POD_IP:PORT;
#   chain names: "KUBE-SVC-"/"KUBE-SEP-" + the first 16 characters of
#   base32(sha256(service port name + protocol [+ endpoint])).
# A removed endpoint is a resync of the Service chain (iptables-restore
# --noflush: the chain re-declared, the stale KUBE-SEP chain flushed and
# deleted), which leaves the other endpoints' affinity entries alone.

LAB_NETNS_TAG="" LAB_NETNS_RUN=""
LAB_NETNS_ALL=()         # every namespace created, in creation order
LAB_NETNS_NODE="" LAB_NETNS_INGRESS=""
LAB_NETNS_PODS=() LAB_NETNS_CLIENTS=()
LAB_NETNS_POD_IP=(198.18.0.11 198.18.0.12 198.18.0.13)
LAB_NETNS_CLIENT_IP=(198.18.1.11 198.18.1.12 198.18.1.13 198.18.1.14)
LAB_NETNS_POD_GW=198.18.0.1 LAB_NETNS_CLIENT_GW=198.18.1.1
LAB_NETNS_INGRESS_IP=198.18.0.20
LAB_NETNS_CLUSTER_IP=198.18.2.10 LAB_NETNS_SVC_PORT=80 LAB_NETNS_POD_PORT=8080
LAB_NETNS_SVC_NAME=sessionlab/sessionlab:http   # namespace/name:port, as kube-proxy names it
LAB_NETNS_STICKY_SECONDS=10800                  # sessionAffinityConfig.clientIP.timeoutSeconds default
LAB_NETNS_STORE="" LAB_NETNS_REPLICAS=0 LAB_NETNS_AFFINITY=""
LAB_NETNS_LIVE=()        # pod numbers (1-based) that are Service endpoints
LAB_NETNS_APP_PID=()     # by pod number

_netns() { ip netns exec "$@"; }

# _netns_chain PREFIX TEXT: PREFIX-<first 16 of base32(sha256(TEXT))>.
_netns_chain() {
    local hex
    hex=$(printf '%s' "$2" | sha256sum | cut -c1-64)
    # shellcheck disable=SC2059  # the format is the \xHH escapes
    printf '%s-%s' "$1" "$(printf "$(sed 's/../\\x&/g' <<<"$hex")" | base32 -w0 | cut -c1-16)"
}

_netns_svc_chain() { _netns_chain KUBE-SVC "${LAB_NETNS_SVC_NAME}tcp"; }
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
    local i node
    LAB_NETNS_TAG=sl$$
    LAB_NETNS_RUN=$(mktemp -d "${TMPDIR:-/tmp}/sessionlab-lab.XXXXXX")
    chmod 0755 "$LAB_NETNS_RUN"
    lab_say "netns: namespaces $LAB_NETNS_TAG-*, Service $LAB_NETNS_CLUSTER_IP:$LAB_NETNS_SVC_PORT"

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

    LAB_NETNS_PODS=() LAB_NETNS_CLIENTS=()
    for (( i = 1; i <= 3; i++ )); do
        LAB_NETNS_PODS+=("$LAB_NETNS_TAG-pod$i")
        _netns_add "$LAB_NETNS_TAG-pod$i"
        _netns_wire "$LAB_NETNS_TAG-pod$i" "vpod$i" cbr0 "${LAB_NETNS_POD_IP[i-1]}/24" "$LAB_NETNS_POD_GW"
        mkdir -p "$LAB_NETNS_RUN/pod$i"
        "$SL_ROOT/scripts/lib/render-nginx-conf" "$LAB_NETNS_RUN/pod$i/nginx" --role pod
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
    done

    lab_say "netns: redis-server on $LAB_NETNS_POD_GW:6379 in the node namespace"
    _netns "$node" redis-server --bind "$LAB_NETNS_POD_GW" --port 6379 --protected-mode no \
        --save '' --appendonly no --dir "$LAB_NETNS_RUN" --daemonize no \
        >>"$LAB_NETNS_RUN/redis.log" 2>&1 &
    for (( i = 0; i < 100; i++ )); do
        _netns "$node" bash -c "exec 3<>/dev/tcp/$LAB_NETNS_POD_GW/6379" 2>/dev/null && return 0
        sleep 0.1
    done
    sl_die "redis-server did not start in $node (see $LAB_NETNS_RUN/redis.log)"
}

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

lab_netns_teardown() {
    local i ns
    for (( i = ${#LAB_NETNS_ALL[@]} - 1; i >= 0; i-- )); do
        _netns_stop_ns "${LAB_NETNS_ALL[i]}"
    done
    _netns_reap
    for (( i = ${#LAB_NETNS_ALL[@]} - 1; i >= 0; i-- )); do
        ns=${LAB_NETNS_ALL[i]}
        ip netns del "$ns" 2>/dev/null || [[ ! -e /run/netns/$ns ]] || echo "could not delete namespace $ns" >&2
    done
    LAB_NETNS_ALL=()
    [[ -n $LAB_NETNS_RUN && -d $LAB_NETNS_RUN ]] && rm -rf "$LAB_NETNS_RUN"
    LAB_NETNS_RUN=""
}

lab_netns_describe() {
    local store=$1 replicas=$2 affinity=$3 how
    case $affinity in
        none) how="Service, statistic random" ;;
        client-ip) how="Service, sessionAffinity ClientIP (recent)" ;;
        cookie) how="ingress nginx cookie affinity (SLROUTE)" ;;
    esac
    echo "$store x$replicas pods, $how"
}

# Starts the app of pod I (1-based) in its namespace.
_netns_app_start() {
    local i=$1 ns=${LAB_NETNS_PODS[$1 - 1]}
    local app=${SESSIONLAB_APP:-$SL_ROOT/build/fcgi-app/sessionlab-app}
    _netns "$ns" env SESSIONLAB_LISTEN=127.0.0.1:9000 SESSIONLAB_STORE="$LAB_NETNS_STORE" \
        SESSIONLAB_REDIS_URL="redis://$LAB_NETNS_POD_GW:6379/0" SESSIONLAB_INSTANCE="pod-$i" \
        "$app" >>"$LAB_ROW_DIR/pod-$i.app.log" 2>&1 &
    LAB_NETNS_APP_PID[i]=$!
}

# Waits until pod I answers /readyz through its nginx (the kubelet's
# readiness probe, before the endpoint goes into the Service).
_netns_pod_wait() {
    local i=$1 n
    for (( n = 0; n < 100; n++ )); do
        _netns "$LAB_NETNS_NODE" curl -fsS -o /dev/null --max-time 1 \
            "http://${LAB_NETNS_POD_IP[i-1]}:$LAB_NETNS_POD_PORT/readyz" 2>/dev/null && return 0
        kill -0 "${LAB_NETNS_APP_PID[i]}" 2>/dev/null || sl_die "pod-$i: the app exited (see $LAB_ROW_DIR/pod-$i.app.log)"
        sleep 0.1
    done
    sl_die "pod-$i did not become ready (see $LAB_ROW_DIR/pod-$i.*.log)"
}

_netns_pod_start() {
    local i=$1 ns=${LAB_NETNS_PODS[$1 - 1]} dir=$LAB_NETNS_RUN/pod$1/nginx
    _netns_app_start "$i"
    _netns "$ns" nginx -p "$dir/" -c "$dir/conf/nginx.conf" -e stderr -g 'daemon off;' \
        >>"$LAB_ROW_DIR/pod-$i.nginx.log" 2>&1 &
}

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

# Writes the whole nat table of the node: kube-proxy's fixed chains, the
# Service and one KUBE-SEP chain per live endpoint.
_netns_service_write() {
    local svc ep sep ip recent=""
    svc=$(_netns_svc_chain)
    [[ $LAB_NETNS_AFFINITY == client-ip ]] && recent=1
    {
        echo "*nat"
        echo ":PREROUTING ACCEPT [0:0]"
        echo ":INPUT ACCEPT [0:0]"
        echo ":OUTPUT ACCEPT [0:0]"
        echo ":POSTROUTING ACCEPT [0:0]"
        echo ":KUBE-SERVICES - [0:0]"
        echo ":KUBE-POSTROUTING - [0:0]"
        echo ":KUBE-MARK-MASQ - [0:0]"
        echo ":$svc - [0:0]"
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
        _netns_svc_rules
        for ep in "${LAB_NETNS_LIVE[@]}"; do
            ip=${LAB_NETNS_POD_IP[ep-1]}
            sep=$(_netns_sep_chain "$ip")
            echo "-A $sep -m comment --comment $LAB_NETNS_SVC_NAME -s $ip/32 -j KUBE-MARK-MASQ"
            echo "-A $sep -m comment --comment $LAB_NETNS_SVC_NAME${recent:+ -m recent --name $sep --set} -m tcp -p tcp -j DNAT --to-destination $ip:$LAB_NETNS_POD_PORT"
        done
        echo "COMMIT"
    } >"$LAB_ROW_DIR/nat-rules.txt"
    _netns "$LAB_NETNS_NODE" iptables-restore <"$LAB_ROW_DIR/nat-rules.txt"
}

# Drops endpoint I from the Service the way a kube-proxy resync does.
_netns_endpoint_remove() {
    local i=$1 ep live=() svc sep
    for ep in "${LAB_NETNS_LIVE[@]}"; do
        [[ $ep -eq $i ]] || live+=("$ep")
    done
    LAB_NETNS_LIVE=("${live[@]}")
    svc=$(_netns_svc_chain)
    sep=$(_netns_sep_chain "${LAB_NETNS_POD_IP[i-1]}")
    {
        echo "*nat"
        echo ":$svc - [0:0]"
        echo ":$sep - [0:0]"
        _netns_svc_rules
        echo "-X $sep"
        echo "COMMIT"
    } >"$LAB_ROW_DIR/nat-resync.txt"
    _netns "$LAB_NETNS_NODE" iptables-restore --noflush <"$LAB_ROW_DIR/nat-resync.txt"
}

# The ingress-nginx stand-in: nginx-conf's main, http, affinity and upstream
# pieces around an HTTP proxy to the pods' nginx (nginx-conf has no proxy
# role; sessionlab-server.conf speaks FastCGI).
_netns_ingress_start() {
    local dir=$LAB_NETNS_RUN/ingress i
    {
        echo "# Generated by scripts/lib/lab-netns.sh: the lab's ingress (cookie affinity)."
        echo "include sessionlab-main.conf;"
        echo "http {"
        echo "    include sessionlab-http.conf;"
        echo "    upstream sessionlab_app {"
        echo "        include affinity-cookie.conf;"
        for i in "${LAB_NETNS_LIVE[@]}"; do
            echo "        server ${LAB_NETNS_POD_IP[i-1]}:$LAB_NETNS_POD_PORT;"
        done
        echo "        include sessionlab-upstream.conf;"
        echo "    }"
        echo "    server {"
        echo "        listen $LAB_NETNS_SVC_PORT;"
        echo "        include affinity-cookie-server.conf;"
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
    _netns "$LAB_NETNS_INGRESS" nginx -p "$dir/" -c "$dir/conf/ingress.conf" -e stderr -g 'daemon off;' \
        >>"$LAB_ROW_DIR/ingress.nginx.log" 2>&1 &
    for (( i = 0; i < 100; i++ )); do
        _netns "$LAB_NETNS_NODE" curl -fsS -o /dev/null --max-time 1 \
            "http://$LAB_NETNS_INGRESS_IP:$LAB_NETNS_SVC_PORT/healthz" 2>/dev/null && return 0
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

lab_netns_start() {
    local i
    LAB_NETNS_STORE=$1 LAB_NETNS_REPLICAS=$2 LAB_NETNS_AFFINITY=$3
    LAB_NETNS_LIVE=()
    for (( i = 1; i <= LAB_NETNS_REPLICAS; i++ )); do
        _netns_pod_start "$i"
        LAB_NETNS_LIVE+=("$i")
    done
    for (( i = 1; i <= LAB_NETNS_REPLICAS; i++ )); do
        _netns_pod_wait "$i"
    done
    _netns_service_write
    [[ $LAB_NETNS_AFFINITY == client-ip ]] && _netns_pin_sources
    if [[ $LAB_NETNS_AFFINITY == cookie ]]; then
        _netns_ingress_start
        LAB_URL=http://$LAB_NETNS_INGRESS_IP:$LAB_NETNS_SVC_PORT/
    else
        LAB_URL=http://$LAB_NETNS_CLUSTER_IP:$LAB_NETNS_SVC_PORT/
    fi
}

lab_netns_stop() {
    local i
    _netns_stop_ns "$LAB_NETNS_INGRESS"
    for (( i = 1; i <= 3; i++ )); do
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

_netns_pod_reads() { # I: reads pod I served in this row
    lab_served_in "$LAB_ROW_DIR/pod-$1.nginx.log"
}

lab_netns_served() {
    local i sum=0
    for (( i = 1; i <= LAB_NETNS_REPLICAS; i++ )); do
        sum=$(( sum + $(_netns_pod_reads "$i") ))
    done
    echo "$sum"
}

# The live pod with the most reads still to come: for each client address
# in its access log, the reads that source makes in all less those served.
# (Picking the busiest pod of the moment could pick one whose client-IP
# pinned clients were about to finish, and then nothing would be lost.)
lab_netns_pick_victim() {
    local i best=${LAB_NETNS_LIVE[0]} most=-1 left
    local per=$(( LAB_CLIENTS_PER_SOURCE * LAB_ROW_N ))
    for i in "${LAB_NETNS_LIVE[@]}"; do
        left=$(awk -v per="$per" '/"GET \/api\/session HTTP\/1.1" 200 / { n[$1]++ }
            END { s = 0; for (ip in n) if (per > n[ip]) s += per - n[ip]; print s }' \
            "$LAB_ROW_DIR/pod-$i.nginx.log" 2>/dev/null || echo 0)
        (( left > most )) && { most=$left; best=$i; }
    done
    echo "pod-$best"
}

# The pod dies: the endpoint leaves the Service (kube-proxy resync), then
# every process of the pod is killed.
lab_netns_kill() {
    local i=${1#pod-} pids
    _netns_endpoint_remove "$i"
    pids=$(ip netns pids "${LAB_NETNS_PODS[i-1]}")
    # shellcheck disable=SC2086
    [[ -n $pids ]] && kill -KILL $pids
    _netns_reap
}

# The app container of the pod restarts (the pod, its nginx and its
# endpoint stay).
lab_netns_restart() {
    local i=${1#pod-} pid
    pid=${LAB_NETNS_APP_PID[i]}
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    _netns_app_start "$i"
    _netns_pod_wait "$i"
}
