#!/usr/bin/env bash
# shellcheck disable=SC2034  # LAB_* settings are read by the sourced lab libraries
# A pod stopped the way a kubelet stops it, and a rolling update, under
# steady load through the Service, on the netns target (root).
#   tests/lab/kubelet-stop-test.sh
# Scenarios, each on the rendered step-5 overlay (redisapp x3, Redis store):
#   stop      new manifests (LAB_K8S_DIR, default k8s/): one pod deleted;
#   rollout   new manifests: a rolling update of the 3 replicas
#             (maxSurge/maxUnavailable from the manifest, readiness-gated
#             endpoints, every old pod stopped with the same sequence);
#   stop-old  the manifests of KUBELET_OLD_REF (default 335ef3b, the last
#             commit before the app became a native sidecar: nginx and the
#             app both regular containers with the same 5 s preStop), or the
#             k8s/ tree in KUBELET_OLD_K8S_DIR: the same deletion must FAIL.
# The stop sequence (scripts/lib/lab-netns.sh, _netns_pod_terminate and
# _netns_kubelet_stop, with the Kubernetes docs it follows): the endpoint's
# removal and the preStop hooks start together; each regular container gets
# its image's STOPSIGNAL after its own hook; native sidecars are stopped
# after every regular container exited, in reverse order; SIGKILL at
# terminationGracePeriodSeconds. Container order, hooks and grace come from
# the rendered manifest.
# Load, from the four client namespaces through the Service's ClusterIP:
#   sessionlab-probe, 4 x KUBELET_CLIENTS users, each a session read
#     KUBELET_N times over a new connection per request (so kube-proxy
#     picks anew each time); every 502/503/504 or request without an answer
#     shows as a retry, and a lost session as an id change or count reset;
#   tests/lab/slow-posts.py, KUBELET_SLOW users posting /setSession with
#     the body trickled over KUBELET_SLOW_SECONDS (8 s: longer than the
#     preStop, so requests the pod accepted before its deletion are still
#     arriving when nginx gets SIGQUIT).
# Passes when: 0 failed requests (probe errors, retries and transport
# errors; slow POSTs not 2xx/3xx), 0 lost sessions (no client's id changed
# or count reset), the stopped pod answered slow POSTs after its deletion
# (the stop scenario: it was busy when stopped), nothing was SIGKILLed, and
# the stop-old scenario had failures.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
[[ $(id -u) -eq 0 ]] || sl_die "needs root (network namespaces)"
# shellcheck source=../lib/checks.sh
. "$root/tests/lib/checks.sh"
# shellcheck source=../../scripts/lib/lab-common.sh
. "$root/scripts/lib/lab-common.sh"
# shellcheck source=../../scripts/lib/lab-netns.sh
. "$root/scripts/lib/lab-netns.sh"

sl_ensure_packages "${SL_PACKAGES[@]}" python3-yaml libfcgi-bin jq
LAB_TARGET=netns
LAB_OUT=$root/tests/out/lab/kubelet
LAB_PROBE=$root/build/tools/sessionlab-probe
[[ -x $LAB_PROBE ]] || sl_die "no $LAB_PROBE (meson compile -C build)"
LAB_PROBE_CMD=(nice -n 10 "$LAB_PROBE")
LAB_CLIENTS_PER_SOURCE=${KUBELET_CLIENTS:-4}
KUBELET_N=${KUBELET_N:-4000}
# Paced (probe --rate) so a run lasts 45 s however fast the machine: the
# probes must still run when a rollout's last old pod is gone (about 30 s
# from the first deletion; an unpaced run once ended at 29 s).
LAB_PROBE_RATE=$(( (KUBELET_N + 44) / 45 ))
KUBELET_SLOW=${KUBELET_SLOW:-24}
KUBELET_SLOW_SECONDS=${KUBELET_SLOW_SECONDS:-8}
KUBELET_OLD_REF=${KUBELET_OLD_REF:-335ef3b}
NEW_K8S=$LAB_K8S_DIR
rm -rf "$LAB_OUT"
mkdir -p "$LAB_OUT"
tmp=$(mktemp -d)
slow_pids=()

cleanup() {
    local p
    touch "$tmp/stop-slow"
    for p in "${slow_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    lab_probes_kill
    lab_netns_teardown >>"$LAB_OUT/teardown.log" 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -n ${KUBELET_OLD_K8S_DIR:-} ]]; then
    OLD_K8S=$KUBELET_OLD_K8S_DIR
else
    git -C "$root" archive "$KUBELET_OLD_REF" k8s | tar -x -C "$tmp"
    OLD_K8S=$tmp/k8s
fi

lab_netns_setup

slow_start() { # spread over the client namespaces
    local s per=$(( (KUBELET_SLOW + LAB_SOURCES - 1) / LAB_SOURCES ))
    rm -f "$tmp/stop-slow"
    slow_pids=()
    for (( s = 0; s < LAB_SOURCES; s++ )); do
        _netns "${LAB_NETNS_CLIENTS[s]}" python3 "$root/tests/lab/slow-posts.py" \
            "$LAB_NETNS_CLUSTER_IP" "$LAB_NETNS_SVC_PORT" "$per" "$KUBELET_SLOW_SECONDS" \
            "$tmp/stop-slow" "$LAB_ROW_DIR/slow-$s.json" 2>"$LAB_ROW_DIR/slow-$s.err" &
        slow_pids+=("$!")
    done
}

slow_stop() {
    local p
    touch "$tmp/stop-slow"
    for p in "${slow_pids[@]}"; do wait "$p" || true; done
    slow_pids=()
}

# scenario NAME K8S_DIR EVENT: runs it; the facts as one JSON line in
# LAB_OUT/NAME/facts.json (and on stdout).
scenario() {
    local name=$1 k8s=$2 event=$3 victim="" vname="" t_del at_end
    LAB_K8S_DIR=$k8s
    LAB_ROW_DIR=$LAB_OUT/$name
    LAB_ROW_N=$KUBELET_N
    mkdir -p "$LAB_ROW_DIR"
    LAB_NETNS_OVERLAY_FORCE=step5-redis-x3
    lab_netns_start redis 3 none
    lab_say "$name: $(lab_netns_describe redis 3 none), grace $(_plan .grace)s, manifests $k8s"
    # Both loads run, the slow clients in one wave that the deletion catches
    # in flight, then the event.
    slow_start
    lab_probes_start "$KUBELET_N" "kubelet-$name"
    lab_wait_served 2000 || sl_die "$name: the probes ended early"
    sleep 1
    t_del=$(date +%s.%N)
    case $event in
        stop)
            victim=${LAB_NETNS_LIVE[0]} vname=$(_netns_pod_name "$victim")
            lab_say "$name: deleting $vname"
            _netns_pod_terminate "$victim"
            _netns_pod_wait_gone "$victim" "$(( $(_plan .grace) + 10 ))" || sl_die "$name: pod never went away"
            ;;
        rollout)
            lab_netns_rollout ;;
    esac
    at_end=$(lab_probes_running && echo yes || echo no)
    slow_stop
    LAB_PROBLEM=""
    lab_probes_wait || sl_die "$name: $LAB_PROBLEM"
    lab_netns_stop
    local secs after
    secs=$(awk -v a="$t_del" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    # Slow POSTs a deleted pod's nginx answered after its deletion (its
    # access log; time_local has seconds).
    after=0
    if [[ -n $victim ]]; then
        after=$(awk -v t="$(date -d "@${t_del%.*}" +%H:%M:%S)" '/"POST \/setSession/ {
            split($0, a, "["); split(a[2], b, ":"); hms = b[2] ":" b[3] ":" substr(b[4], 1, 2)
            if (hms >= t) n++ } END { print n + 0 }' "$LAB_ROW_DIR/pod-$victim.nginx.log")
    fi
    jq -cs --arg name "$name" --arg at_end "$at_end" --argjson after "$after" --arg secs "$secs" \
        --arg kills "$(cat "$LAB_ROW_DIR"/terminate-pod-*.log | grep -c SIGKILL || true)" \
        --slurpfile slow <(jq -s '{requests: (map(.requests) | add), ok: (map(.ok) | add),
              failed: (map(.failed) | add), statuses: (map(.statuses | to_entries[]) | group_by(.key)
              | map({(.[0].key): (map(.value) | add)}) | add), errors: (map(.errors[]) | .[0:5])}' \
              "$LAB_ROW_DIR"/slow-*.json) '
        [ .[] | .per_client[] ] as $c
        | { scenario: $name, seconds_from_deletion: ($secs | tonumber),
            probe_running_at_end: ($at_end == "yes"),
            sessions: ($c | length), requests: ($c | map(.requests) | add),
            ok: ($c | map(.ok) | add), errors: ($c | map(.errors) | add),
            transport_errors: ($c | map(.transport_errors) | add), retries: ($c | map(.retries) | add),
            lost_sessions: ($c | map(select(.id_changes > 0 or .count_resets > 0)) | length),
            values_kept: ($c | map(select(.value_kept == true)) | length),
            first_errors: ($c | map(.first_error // empty) | unique | .[0:3]),
            slow: $slow[0], slow_posts_after_deletion: $after, sigkills: ($kills | tonumber) }' \
        "$LAB_ROW_DIR"/probe-*.json >"$LAB_ROW_DIR/facts.json"
    cat "$LAB_ROW_DIR/facts.json"
}

judge_pass() { # NAME FACTS: everything clean
    local n=$1 f=$2
    expect "$n: probe still running when the pods were gone" true "$(jq .probe_running_at_end <<<"$f")"
    expect "$n: failed reads (errors)" 0 "$(jq .errors <<<"$f")"
    expect "$n: 502/503/504 or unanswered reads (retries)" 0 "$(jq .retries <<<"$f")"
    expect "$n: transport errors" 0 "$(jq .transport_errors <<<"$f")"
    expect "$n: lost sessions" 0 "$(jq .lost_sessions <<<"$f")"
    expect "$n: values kept" "$(jq .sessions <<<"$f")" "$(jq .values_kept <<<"$f")"
    expect "$n: failed slow POSTs" 0 "$(jq .slow.failed <<<"$f")"
    expect "$n: SIGKILLs" 0 "$(jq .sigkills <<<"$f")"
    [[ $n == rollout ]] && return 0   # three pods deleted: the per-pod count is the stop scenario's
    expect "$n: slow POSTs answered by the stopped pod after its deletion" yes \
        "$(jq -r 'if .slow_posts_after_deletion > 0 then "yes" else "no" end' <<<"$f")"
}

scenario stop "$NEW_K8S" stop
f=$(cat "$LAB_OUT/stop/facts.json")
judge_pass stop "$f"
echo "--- stop timeline (new manifests)"; cat "$LAB_OUT/stop/terminate-pod-1.log"

scenario rollout "$NEW_K8S" rollout
f=$(cat "$LAB_OUT/rollout/facts.json")
judge_pass rollout "$f"
echo "--- rollout"; cat "$LAB_OUT/rollout/rollout.log"

scenario stop-old "$OLD_K8S" stop
f=$(cat "$LAB_OUT/stop-old/facts.json")
echo "--- stop timeline (manifests of $KUBELET_OLD_REF)"; cat "$LAB_OUT/stop-old/terminate-pod-1.log"
expect "stop-old: the old manifests fail (failed requests > 0)" yes \
    "$(jq -r 'if (.errors + .retries + .transport_errors + .slow.failed) > 0 then "yes" else "no" end' <<<"$f")"

checks_summary
