#!/usr/bin/env bash
# sessionlab-probe against a real local stack (stack.sh): exit statuses 0, 1
# and 2, the JSON report's fields, cookie-jar handling behind cookie affinity,
# --login and --cart (kept on one replica and across Redis replicas, lost in
# round robin over memory replicas).
#   tests/lab/probe-test.sh [PROBE]   (default build/tools/sessionlab-probe;
#                                      the app: SESSIONLAB_APP, default build/)
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
expect "usage: bad --login name" 2 "$(run http://127.0.0.1:1/ --login 'a b')"
expect "usage: --login NAME-k over 32 bytes" 2 "$(run http://127.0.0.1:1/ --login "$(printf 'u%.0s' {1..29})" --clients 100)"
expect "usage: --cart 0" 2 "$(run http://127.0.0.1:1/ --cart 0)"
expect "usage: --cart over 495" 2 "$(run http://127.0.0.1:1/ --cart 496)"
expect "usage: --rate 0" 2 "$(run http://127.0.0.1:1/ --rate 0)"
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
expect "json: no login, no cart unless asked" "null null null null" \
    "$(jq -r '"\(.per_client[0].stayed_logged_in) \(.per_client[0].cart_intact) \(.total.logged_in_clients) \(.total.cart_intact_clients)"' "$out")"
# Log in as NAME-k, 7 adds (cycling: apple and bread twice), then the reads.
expect "login + cart, memory x1: continuous" 0 \
    "$(run "$STACK_URL" -n 6 --clients 3 --login pt --cart 7 --set-value v --json)"
expect "json: users pt-1..pt-3" '["pt-1","pt-2","pt-3"]' "$(jq -c '[.per_client[].user]' "$out")"
expect "json: every user stayed logged in, cart intact" "3 3 true" \
    "$(jq -r '"\(.total.logged_in_clients) \(.total.cart_intact_clients) \([.per_client[] | .stayed_logged_in and .cart_intact and .logged_out_reads == 0 and .cart_wrong_reads == 0] | all)"' "$out")"
expect "json: the cart the adds made" '[{"item":"apple","qty":2},{"item":"bread","qty":2},{"item":"milk","qty":1},{"item":"eggs","qty":1},{"item":"cheese","qty":1}]' \
    "$(jq -c '.per_client[0].cart' "$out")"
expect "json: login, cart, count 1..6, value" true \
    "$(jq '.login == "pt" and .cart_items == 7 and ([.per_client[] | .count_ok and .value_kept] | all)' "$out")"
expect "login + cart: text report" 0 "$(run "$STACK_URL" -n 2 --clients 2 --login pt --cart 1)"
grep -q "2 of 2 logged in throughout, 2 of 2 carts intact throughout" "$out" && ok "text: login/cart total" || fail "text: login/cart total"
expect "trace" 0 "$(run "$STACK_URL" -n 5 --clients 2 --json --trace)"
expect "trace: one point per answer, counts 1..5" '[1,2,3,4,5]' "$(jq -c '.per_client[1].trace | map(.[1])' "$out")"
expect "trace: request numbers, host index 0, wall-clock ms" true \
    "$(jq --argjson now "$(date +%s%3N)" '([.per_client[].trace[] | .[2] == 0 and (.[3] - $now | fabs) < 60000] | all) and (.per_client[0].trace | map(.[0]) == [1,2,3,4,5])' "$out")"
# --rate paces each user: 21 reads at 20 a second cannot take less than 1 s
# (a lower bound: a slow machine only makes it longer).
t0=$(date +%s%N)
expect "rate: 2 users x 21 reads at --rate 20" 0 "$(run "$STACK_URL" -n 21 --clients 2 --rate 20)"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
(( ms >= 1000 )) && ok "rate: paced ($ms ms for 21 reads at 20/s)" || fail "rate: not paced ($ms ms for 21 reads at 20/s)"
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
# The session is in one replica's memory: the log-in and the cart with it.
expect "memory x3 round robin: login lost" 1 "$(run "$STACK_URL" -n 9 --clients 2 --login rr --cart 3 --json)"
expect "json: logged out 2/2, cart lost 2/2" "0 0 false false" \
    "$(jq -r '"\(.total.logged_in_clients) \(.total.cart_intact_clients) \(.per_client[0].stayed_logged_in) \(.per_client[1].cart_intact)"' "$out")"
expect "json: reads saw it lost" true "$(jq '[.per_client[] | .logged_out_reads > 0 and .cart_wrong_reads > 0] | all' "$out")"
stop_stack 2>/dev/null

# A shared store: log-in and cart follow the session over every replica.
start_stack redis 3 none "$port" 2>/dev/null
expect "redis x3 round robin: login and cart kept" 0 "$(run "$STACK_URL" -n 9 --clients 3 --login rd --cart 3 --json)"
expect "json: 3 of 3 logged in and intact, over 3 hosts" "3 3 3" \
    "$(jq -r '"\(.total.logged_in_clients) \(.total.cart_intact_clients) \(.total.hosts | length)"' "$out")"
stop_stack 2>/dev/null

# Cookie affinity needs the jar to keep SLROUTE as well as SESSION.
start_stack memory 3 cookie "$port" 2>/dev/null
expect "memory x3 cookie affinity continuous" 0 "$(run "$STACK_URL" -n 12 --clients 4)"
# The log-in is the first request: its answer sets SLROUTE and the rotated SESSION.
expect "memory x3 cookie affinity: login and cart kept" 0 "$(run "$STACK_URL" -n 6 --clients 4 --login ck --cart 2)"
stop_stack 2>/dev/null

checks_summary
