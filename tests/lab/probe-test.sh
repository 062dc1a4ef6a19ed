#!/usr/bin/env bash
# sessionlab-probe against a real local stack (stack.sh): exit statuses 0, 1
# and 2, the JSON report's fields, cookie-jar handling behind cookie affinity.
#   tests/lab/probe-test.sh [PROBE]   (default build/tools/sessionlab-probe)
# Needs a build (meson compile -C build), nginx, redis-server, jq.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
# shellcheck source=../../scripts/lib/stack.sh
. "$root/scripts/lib/stack.sh"

probe=${1:-$root/build/tools/sessionlab-probe}
[[ -x $probe ]] || sl_die "no probe at $probe (meson compile -C build)"
port=$(sl_free_port 18280 18379) || sl_die "no free port"
STACK_LOGS=file
STACK_APP_BASE_PORT=19601
# shellcheck source=../lib/checks.sh
. "$root/tests/lib/checks.sh"
trap 'stop_stack 2>/dev/null' EXIT


run() { # runs the probe, prints its exit status; stdout to $out
    set +e
    "$probe" "$@" >"$out" 2>"$out.err"
    echo $?
    set -e
}
out=$(mktemp)
trap 'stop_stack 2>/dev/null; rm -f "$out" "$out.err"' EXIT

expect "usage: no URL" 2 "$(run)"
expect "usage: bad -n" 2 "$(run http://127.0.0.1:1/ -n x)"
expect "usage: bad --resolve" 2 "$(run http://127.0.0.1:1/ --resolve nope)"
expect "unreachable" 2 "$(run "http://127.0.0.1:$port/" -n 2)"
grep -q "got no HTTP answer" "$out.err" && ok "unreachable message" || fail "unreachable message"

start_stack memory 1 none "$port" 2>/dev/null
expect "memory x1 continuous" 0 "$(run "$STACK_URL" -n 15 --clients 3 --set-value 'x y&z' --json)"
expect "json: 3 clients" 3 "$(jq '.per_client | length' "$out")"
expect "json: counts 1..15" true "$(jq '[.per_client[] | .count_ok and .final_count == 15] | all' "$out")"
expect "json: value kept" true "$(jq '[.per_client[].value_kept] | all' "$out")"
expect "json: distinct ids" 3 "$(jq '[.per_client[].first_session_id] | unique | length' "$out")"
expect "json: no first-try 5xx" 0 "$(jq '.total.first_try_5xx + .total.first_try_transport' "$out")"
expect "json: no trace unless asked" null "$(jq '.per_client[0].trace' "$out")"
expect "trace" 0 "$(run "$STACK_URL" -n 5 --clients 2 --json --trace)"
expect "trace: one point per answer, counts 1..5" '[1,2,3,4,5]' "$(jq -c '.per_client[1].trace | map(.[1])' "$out")"
expect "trace: request numbers, host index 0, wall-clock ms" true \
    "$(jq --argjson now "$(date +%s%3N)" '([.per_client[].trace[] | .[2] == 0 and (.[3] - $now | fabs) < 60000] | all) and (.per_client[0].trace | map(.[0]) == [1,2,3,4,5])' "$out")"
expect "text report" 0 "$(run "$STACK_URL" -n 3)"
grep -q "1 of 1 session continuous" "$out" && ok "text total line" || fail "text total line"
grep -q "first tries: 0 5xx, 0 unanswered" "$out" && ok "text: first tries" || fail "text: first tries"
stop_stack 2>/dev/null

# Redis stopped: every try answers 503; the first try of each request counts.
start_stack redis 1 none "$port" 2>/dev/null
for e in "${STACK_PIDS[@]}"; do [[ ${e%%=*} == redis ]] && kill -TERM "${e#*=}"; done
sleep 0.3
expect "redis down: broken" 1 "$(run "$STACK_URL" -n 2 --json)"
expect "redis down: 2 first-try 5xx, 12 retries" "2 12" "$(jq -r '"\(.total.first_try_5xx) \(.total.retries)"' "$out")"
stop_stack 2>/dev/null

start_stack memory 3 none "$port" 2>/dev/null
expect "memory x3 round robin broken" 1 "$(run "$STACK_URL" -n 9 --json)"
expect "json: id changed" true "$(jq '.per_client[0].id_changes > 0' "$out")"
expect "json: 3 hosts" 3 "$(jq '.total.hosts | length' "$out")"
stop_stack 2>/dev/null

# Cookie affinity needs the jar to keep SLROUTE as well as SESSION.
start_stack memory 3 cookie "$port" 2>/dev/null
expect "memory x3 cookie affinity continuous" 0 "$(run "$STACK_URL" -n 12 --clients 4)"
stop_stack 2>/dev/null

checks_summary
