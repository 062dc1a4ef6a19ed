# shellcheck shell=bash
# The lab's rows, independent of where they run. Source after common.sh and
# one target file (lab-local.sh, lab-netns.sh, lab-compose.sh).
#
# A target T provides (all run in the lab's shell, set -e friendly):
#   lab_T_setup                     once: networks, daemons shared by all rows
#   lab_T_teardown                  idempotent; stops and removes everything
#   lab_T_start STORE REPLICAS AFFINITY
#                                   deploys one row; sets LAB_URL
#   lab_T_stop                      undeploys the row (lab_T_start may follow)
#   lab_T_describe STORE REPLICAS AFFINITY
#                                   prints the row's setup in a few words
#   lab_T_probe SOURCE ARGS...      runs "${LAB_PROBE_CMD[@]}" URL ARGS... as
#                                   client source SOURCE (0..LAB_SOURCES-1),
#                                   each source with its own client IP
#   lab_T_served                    prints how many GET /api/session got a 200
#                                   in this row so far
#   lab_T_pick_victim               prints the name (as /api/session shows it)
#                                   of a replica that has served this row
#   lab_T_kill NAME                 the replica dies (crash) mid-run
#   lab_T_restart NAME              the replica's app process restarts
#   lab_T_scale N [NAME...]         to N replicas under load: a new one is
#                                   ready before it takes traffic; one that
#                                   goes (NAME first) leaves the balancer,
#                                   then drains
#   lab_T_rollout                   a rolling update (maxSurge 1,
#                                   maxUnavailable 0): per old replica, a new
#                                   one ready first, then the old one leaves
# Targets call lab_event_mark TEXT at each step of an event (the report's
# dashed lines; the verdict's "before" and "after").
# Logs a target wants kept go under LAB_ROW_DIR (tests/out/lab/TARGET/ROW/).

LAB_SOURCES=${LAB_SOURCES:-4}          # client IPs
LAB_CLIENTS_PER_SOURCE=${LAB_CLIENTS_PER_SOURCE:-2}
LAB_EVENT_FACTOR=${LAB_EVENT_FACTOR:-40} # event rows run this many times -n
LAB_CART=${LAB_CART:-3}                # items each user puts in its cart first
LAB_ROWS_JSON=()                       # one JSON object per finished row
LAB_PROBE_PIDS=()
LAB_ROW_DIR=""
LAB_URL=""

lab_say() { printf '==> %s\n' "$*" >&2; }

# lab_event_mark TEXT: "UNIX_MS TEXT" into the row's events.txt.
lab_event_mark() {
    echo "$(date +%s%3N) $*" >>"$LAB_ROW_DIR/events.txt"
}

# lab_call FUNC ARGS...: calls lab_<target>_FUNC.
lab_call() {
    local f=lab_${LAB_TARGET}_$1
    shift
    "$f" "$@"
}

# Starts one probe per client source in the background, JSON into
# LAB_ROW_DIR/probe-SOURCE.json. Args: requests per client, value. Every
# user first logs in (user k of source s as lab-sS-k: one name per user of
# the row) and puts LAB_CART items in its cart; every read then checks both.
lab_probes_start() {
    local n=$1 value=$2 s
    LAB_PROBE_PIDS=()
    for (( s = 0; s < LAB_SOURCES; s++ )); do
        lab_call probe "$s" -n "$n" --clients "$LAB_CLIENTS_PER_SOURCE" \
            --set-value "$value" --login "lab-s$s" --cart "$LAB_CART" --json --trace \
            ${LAB_PROBE_RATE:+--rate "$LAB_PROBE_RATE"} \
            >"$LAB_ROW_DIR/probe-$s.json" 2>"$LAB_ROW_DIR/probe-$s.err" &
        LAB_PROBE_PIDS+=("$!")
    done
}

# Waits for the probes; their exit status is not the verdict (the row's
# expectation is), but a probe that printed no report is a lab failure: then
# LAB_PROBLEM says so and it returns 1.
lab_probes_wait() {
    local pid s
    for pid in "${LAB_PROBE_PIDS[@]}"; do
        wait "$pid" || true
    done
    LAB_PROBE_PIDS=()
    for (( s = 0; s < LAB_SOURCES; s++ )); do
        if ! jq -e '.per_client' "$LAB_ROW_DIR/probe-$s.json" >/dev/null 2>&1; then
            LAB_PROBLEM="probe for client source $s printed no report: $(head -c 300 "$LAB_ROW_DIR/probe-$s.err")"
            return 1
        fi
    done
}

lab_probes_running() {
    local pid
    for pid in "${LAB_PROBE_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && return 0
    done
    return 1
}

lab_probes_kill() {
    local pid
    for pid in "${LAB_PROBE_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    LAB_PROBE_PIDS=()
}

# lab_nginx_how REPLICAS AFFINITY: how a load-balancer nginx spreads the row.
lab_nginx_how() {
    if (( $1 == 1 )); then echo "nginx"; return; fi
    case $2 in
        none) echo "nginx round robin" ;;
        client-ip) echo "nginx client-ip affinity (hash \$remote_addr)" ;;
        cookie) echo "nginx cookie affinity (SLROUTE)" ;;
        cookie-persistent) echo "nginx persistent cookie affinity (SLROUTE names the replica)" ;;
    esac
}

# lab_served_in LOG: the reads (GET /api/session answered 200) in an nginx
# access log.
lab_served_in() {
    grep -c '"GET /api/session HTTP/1.1" 200 ' "$1" 2>/dev/null || true
}

# lab_upstream_most_left LOG: the upstream address (HOST:PORT) of a
# load-balancer nginx's access log with the most reads still to come: per
# (upstream, client address), the reads that source makes in all less those
# served, summed per upstream. A read's upstream is the last address of
# upstream= (earlier ones failed over). (The upstream of the latest read
# could be one whose pinned clients are about to finish, and then a kill
# would lose nothing.) Prints nothing when the log has no read.
lab_upstream_most_left() {
    awk -v per="$(( LAB_CLIENTS_PER_SOURCE * LAB_ROW_N ))" '
        /"GET \/api\/session HTTP\/1.1" 200 / && match($0, /upstream=[^ ]+(, [^ ]+)* rt=/) {
            s = substr($0, RSTART + 9, RLENGTH - 13); k = split(s, a, ", "); u = a[k]
            n[u " " $1]++; ups[u] = 1 }
        END { for (k in n) { split(k, a, " "); if (per > n[k]) left[a[1]] += per - n[k] }
              most = -1; for (u in ups) if (left[u] + 0 > most) { most = left[u] + 0; best = u }
              print best }' "$1"
}

# Waits until the row has served at least $1 reads; false when the probes
# finished (or 60 s passed) first.
lab_wait_served() {
    local want=$1 i
    for (( i = 0; i < 1200; i++ )); do
        [[ -n ${LAB_DEBUG:-} ]] && echo "$(date +%T.%N) served $(lab_call served) want $want" >&2
        (( $(lab_call served) >= want )) && return 0
        lab_probes_running || return 1
        sleep 0.05
    done
    return 1
}

# The verdict: reads the probes' reports and prints the row as one JSON
# object with the observed facts, the expectation and pass/fail reasons.
# Args: step, kind, setup, event, victim, requests per client, seconds.
LAB_JQ_VERDICT='
  [ to_entries[] | .key as $s | .value.per_client[] | . + {source: $s} ] as $c
  | ($c | length) as $nc
  | ($c | map(select(.id_changes > 0 or .count_resets > 0))) as $lost
  | ($c | map(select(.hosts[0] == $victim))) as $onvictim
  # The event: from its first mark ($t0) to "done" ($t1), from events.txt.
  | ($marks | map(select(.[1] != "done")) | (.[0][0] // 0)) as $t0
  | ($marks | map(select(.[1] == "done")) | (.[0][0] // 0)) as $t1
  | ($c | map(. as $u | (.trace // []) as $tr
      | ($tr | map(select(.[3] < $t0)) | last) as $before
      | ($tr | map(select(.[3] > $t0))) as $after
      | {at_event: ($t0 > 0 and $before != null and ($after | length) > 0),
         moved: ($t0 > 0 and $before != null and ($after | any(.[2] != $before[2]))),
         after_done: ($t1 > 0 and ($tr | any(.[3] > $t1))),
         lost: ($u.id_changes > 0 or $u.count_resets > 0),
         # A session kept keeps its log-in and cart; a session lost loses
         # both (the replica that answers has a new, empty session).
         login_odd: (($u.stayed_logged_in == true) == ($u.id_changes > 0 or $u.count_resets > 0)),
         cart_odd: (($u.cart_intact == true) == ($u.id_changes > 0 or $u.count_resets > 0))})) as $ev
  | {
      clients: $nc,
      requests: ($c | map(.requests) | add),
      ok: ($c | map(.ok) | add),
      errors: ($c | map(.errors) | add),
      transport_errors: ($c | map(.transport_errors) | add),
      retries: ($c | map(.retries) | add),
      hosts: ($c | map(.hosts[]) | unique),
      hosts_per_client_min: ($c | map(.hosts | length) | min),
      hosts_per_client_max: ($c | map(.hosts | length) | max),
      id_changes: ($c | map(.id_changes) | add),
      clients_with_id_change: ($c | map(select(.id_changes > 0)) | length),
      clients_count_1_to_n: ($c | map(select(.count_ok)) | length),
      clients_with_count_reset: ($c | map(select(.count_resets > 0)) | length),
      final_count_min: ($c | map(.final_count) | min),
      final_count_max: ($c | map(.final_count) | max),
      clients_value_kept: ($c | map(select(.value_kept == true)) | length),
      clients_logged_in: ($c | map(select(.stayed_logged_in == true)) | length),
      clients_cart_intact: ($c | map(select(.cart_intact == true)) | length),
      login_not_as_session: ($ev | map(select(.login_odd)) | length),
      cart_not_as_session: ($ev | map(select(.cart_odd)) | length),
      clients_continuous: ($c | map(select(.continuous)) | length),
      clients_session_lost: ($lost | length),
      clients_on_victim: ($onvictim | length),
      lost_not_on_victim: ($lost | map(select(.hosts[0] != $victim)) | length),
      first_errors: ($c | map(.first_error // empty) | unique | .[0:3]),
      clients_at_event: ($ev | map(select(.at_event)) | length),
      clients_moved: ($ev | map(select(.moved)) | length),
      moved_lost: ($ev | map(select(.moved and .lost)) | length),
      unmoved_lost: ($ev | map(select(.moved | not) | select(.lost)) | length),
      clients_after_event: ($ev | map(select(.after_done)) | length),
      after_event_kept: ($ev | map(select(.after_done and (.lost | not))) | length),
      first_try_5xx: ($c | map(.first_try_5xx // 0) | add),
      first_try_transport: ($c | map(.first_try_transport // 0) | add),
      requests_by_host: ($c | map(.requests_by_host // {} | to_entries[]) | group_by(.key)
                         | map({key: .[0].key, value: (map(.value) | add)}) | from_entries)
    } as $f
  | ($f.requests_by_host | [.[]]) as $shares
  | ($f + {spread_max_over_mean: (if ($shares | length) == 0 then null
          else (($shares | max) / (($shares | add) / ($shares | length)) * 100 | round / 100) end)}) as $f
  | ($f + {moved_share: (if $f.clients_at_event == 0 then null
          else ($f.clients_moved / $f.clients_at_event * 100 | round / 100) end)}) as $f
  | ($f.clients_moved == $f.moved_lost) as $moved_all_lost
  | (if $kind == "single" or $kind == "sticky" then
      [ if $f.hosts_per_client_max != 1 then "a client saw more than one host" else empty end,
        if $f.clients_continuous != $nc then "\($nc - $f.clients_continuous) of \($nc) sessions broke" else empty end ]
    elif $kind == "spread_lost" then
      [ if $f.hosts_per_client_min < 2 then "a client saw a single host" else empty end,
        if $f.clients_with_id_change != $nc then "a client kept its session id" else empty end,
        if $f.clients_count_1_to_n != 0 then "a client count ran 1..N" else empty end ]
    elif $kind == "spread_kept" then
      [ if $f.hosts_per_client_min < 2 then "a client saw a single host" else empty end,
        if $f.clients_continuous != $nc then "\($nc - $f.clients_continuous) of \($nc) sessions broke" else empty end ]
    elif $kind == "restart" then
      [ if $f.hosts_per_client_max != 1 then "a client saw more than one host" else empty end,
        if $f.clients_session_lost != 0 then "\($f.clients_session_lost) sessions lost across the restart" else empty end,
        if $f.clients_value_kept != $nc then "a value was lost" else empty end ]
    elif $kind == "kill_memory" then
      # Clients that finished before the kill keep their session, so: some
      # lost, and only on the killed replica.
      [ if $f.clients_session_lost == 0 then "no session was lost" else empty end,
        if $f.lost_not_on_victim != 0 then "\($f.lost_not_on_victim) sessions lost that were not on the killed replica" else empty end ]
    elif $kind == "kill_redis" then
      [ if ($f.hosts | index($victim)) == null then "the killed replica served nobody" else empty end,
        if $f.clients_session_lost != 0 then "\($f.clients_session_lost) sessions lost" else empty end,
        if $f.clients_value_kept != $nc then "a value was lost" else empty end,
        if $f.first_try_5xx != 0 then "\($f.first_try_5xx) first-try 5xx" else empty end ]
    elif $kind == "snat_one_host" then
      [ if ($f.hosts | length) != 1 then "users behind one address reached \($f.hosts | length) replicas" else empty end,
        if $f.clients_continuous != $nc then "\($nc - $f.clients_continuous) of \($nc) sessions broke" else empty end ]
    elif $kind == "snat_spread" then
      [ if ($f.hosts | length) < 2 then "a single replica served everyone" else empty end,
        if ($f.spread_max_over_mean // 9) > 1.15 then "load spread max/mean \($f.spread_max_over_mean) > 1.15" else empty end,
        if $f.clients_continuous != $nc then "\($nc - $f.clients_continuous) of \($nc) sessions broke" else empty end ]
    elif $kind == "snat_cookie" then
      [ if ($f.hosts | length) < 2 then "a single replica served everyone" else empty end,
        if $f.hosts_per_client_max != 1 then "a user saw more than one replica" else empty end,
        if $f.clients_continuous != $nc then "\($nc - $f.clients_continuous) of \($nc) sessions broke" else empty end ]
    elif $kind == "rollout_lost" then
      [ if $f.clients_after_event == 0 then "no user ran past the rollout; raise -n" else empty end,
        if $f.after_event_kept != 0 then "\($f.after_event_kept) users running after the rollout kept their session" else empty end,
        if ($moved_all_lost | not) then "\($f.clients_moved - $f.moved_lost) users moved without losing their session" else empty end ]
    elif $kind == "rollout_kept" or $kind == "scale_kept" then
      [ if $f.clients_session_lost != 0 then "\($f.clients_session_lost) sessions lost" else empty end,
        if $f.clients_value_kept != $nc then "a value was lost" else empty end,
        if $f.first_try_5xx != 0 then "\($f.first_try_5xx) first-try 5xx" else empty end,
        if $kind == "rollout_kept" and $f.clients_moved == 0 then "nobody moved: was anything replaced?" else empty end ]
    elif $kind == "scale_moves" then
      [ if ($f.moved_share // 0) < 0.05 or ($f.moved_share // 0) > 0.5 then "moved share \($f.moved_share), expected about 1/4" else empty end,
        if ($moved_all_lost | not) then "\($f.clients_moved - $f.moved_lost) moved users kept their session" else empty end,
        if $f.unmoved_lost != 0 then "\($f.unmoved_lost) users lost their session without moving" else empty end ]
    elif $kind == "scale_moved_lost" then
      [ if ($moved_all_lost | not) then "\($f.clients_moved - $f.moved_lost) moved users kept their session" else empty end,
        if $f.unmoved_lost != 0 then "\($f.unmoved_lost) users lost their session without moving" else empty end ]
    elif $kind == "scale_stays" then
      [ if $f.clients_moved != 0 then "\($f.clients_moved) of \($f.clients_at_event) users moved" else empty end,
        if $f.clients_session_lost != 0 then "\($f.clients_session_lost) sessions lost" else empty end ]
    elif $kind == "scale_down_lost" then
      [ if $f.clients_moved == 0 then "nobody was on the removed replica" else empty end,
        if ($moved_all_lost | not) then "\($f.clients_moved - $f.moved_lost) moved users kept their session" else empty end,
        if $f.unmoved_lost != 0 then "\($f.unmoved_lost) users lost their session without moving" else empty end ]
    else [ "unknown row kind \($kind)" ] end) as $bad
  # The log-in and the cart: kept by everyone where sessions are kept, by
  # nobody in round robin over memory, and in every row exactly by the users
  # who kept their session.
  | (["single", "sticky", "restart", "spread_kept", "kill_redis", "snat_one_host", "snat_spread",
      "snat_cookie", "rollout_kept", "scale_kept", "scale_stays"] | any(. == $kind)) as $keeps
  | ($bad
     + (if $keeps then
          [ if $f.clients_logged_in != $nc then "\($nc - $f.clients_logged_in) of \($nc) users logged out" else empty end,
            if $f.clients_cart_intact != $nc then "\($nc - $f.clients_cart_intact) of \($nc) carts lost" else empty end ]
        elif $kind == "spread_lost" then
          [ if $f.clients_logged_in != 0 then "\($f.clients_logged_in) of \($nc) users stayed logged in" else empty end,
            if $f.clients_cart_intact != 0 then "\($f.clients_cart_intact) of \($nc) carts intact" else empty end ]
        else [] end)
     + [ if $f.login_not_as_session != 0 then "\($f.login_not_as_session) of \($nc) users logged in or out unlike their session" else empty end,
         if $f.cart_not_as_session != 0 then "\($f.cart_not_as_session) of \($nc) carts kept or lost unlike their session" else empty end ]) as $bad
  | ($bad + (if $f.errors != 0 then ["\($f.errors) requests failed after retries"] else [] end)) as $bad
  # A row with no fault must need no retry either: a retry would hide a 502
  # from the server itself (nothing restarts, nothing is killed).
  | ($bad + (if $event == "" and $f.retries != 0 then ["\($f.retries) retries with no fault injected"] else [] end)) as $bad
  # The two columns as the lab words them: "8/8" kept, "logged out 8/8",
  # "cart lost 8/8", or both counts when some kept and some lost.
  | def kept_text($kept; $lost_word):
      ($nc - $kept) as $l
      | if $l == 0 then "\($kept)/\($nc)" elif $kept == 0 then "\($lost_word) \($l)/\($nc)"
        else "\($kept)/\($nc), \($lost_word) \($l)/\($nc)" end;
    {
      step: $step, kind: $kind, setup: $setup, event: (if $event == "" then null else $event end),
      victim: (if $victim == "" then null else $victim end),
      requests_per_client: ($n | tonumber), seconds: ($secs | tonumber),
      logged_in: kept_text($f.clients_logged_in; "logged out"),
      cart: kept_text($f.clients_cart_intact; "cart lost"),
      expected: $expected, facts: $f, pass: ($bad | length == 0), mismatches: $bad
    }'

# The row's event marks as JSON [[unix_ms, text], ...].
_lab_marks_json() {
    if [[ -s $LAB_ROW_DIR/events.txt ]]; then
        jq -Rn '[inputs | capture("^(?<t>[0-9]+) (?<l>.*)$") | [(.t | tonumber), .l]]' "$LAB_ROW_DIR/events.txt"
    else
        echo '[]'
    fi
}

lab_expected_text() {
    case $1 in
        single)      echo "same id, same host, count 1..N, value, log-in and cart kept" ;;
        spread_lost) echo "hosts change, id changes, count resets, logged out, cart lost" ;;
        sticky)      echo "one host per client, session, log-in and cart kept" ;;
        restart)     echo "same id and host across the app restart, count never resets, value, log-in and cart kept" ;;
        spread_kept) echo "hosts change, session, count, value, log-in and cart kept" ;;
        kill_memory) echo "sessions on the killed replica lost (those still running) with log-in and cart, all others kept" ;;
        kill_redis)  echo "no session, log-in or cart lost, 0 first-try 5xx" ;;
        snat_one_host) echo "every user on one replica (share 100 %), sessions, log-ins and carts kept" ;;
        snat_spread) echo "shares within a few points of 1/n (max/mean <= 1.15), sessions, log-ins and carts kept" ;;
        snat_cookie) echo "users spread by cookie, one replica each, sessions, log-ins and carts kept" ;;
        rollout_lost) echo "every user that moved lost the session, log-in and cart; by the end, all of them" ;;
        rollout_kept) echo "everyone moved, 0 sessions, log-ins or carts lost, 0 failed requests, 0 first-try 5xx" ;;
        scale_moves) echo "about 1/4 of users move to the new replica and lose their session, log-in and cart" ;;
        scale_stays) echo "no user moves, no session, log-in or cart lost" ;;
        scale_moved_lost) echo "users the hash moves to the new replica lose their session, log-in and cart, the others keep them" ;;
        scale_kept)  echo "0 sessions, log-ins or carts lost, 0 failed requests, 0 first-try 5xx" ;;
        scale_down_lost) echo "users of the removed replica move and lose their session, log-in and cart; others kept" ;;
    esac
}

# lab_row STEP KIND STORE REPLICAS AFFINITY [EVENT [SOURCES USERS]]:
# deploys, probes, and once a quarter of the reads are served (so every
# client is still running) makes the event happen: kill or restart a
# replica, rollout, or scale-N; then judges. SOURCES client addresses with
# USERS users each (default LAB_SOURCES x LAB_CLIENTS_PER_SOURCE; 1 x 24 is
# many users behind one NAT address).
lab_row() {
    if [[ -n ${LAB_ONLY:-} && ",$LAB_ONLY," != *",$1,"* ]]; then return 0; fi
    local step=$1 kind=$2 store=$3 replicas=$4 affinity=$5 event=${6:-}
    local LAB_SOURCES=${7:-$LAB_SOURCES} LAB_CLIENTS_PER_SOURCE=${8:-$LAB_CLIENTS_PER_SOURCE}
    local n=$LAB_N setup victim="" event_text="" start end problem="" total at
    setup=$(lab_call describe "$store" "$replicas" "$affinity")
    (( LAB_SOURCES == 1 )) && setup+=", $LAB_CLIENTS_PER_SOURCE users from one address"
    LAB_ROW_DIR=$LAB_OUT/row-${step// /-}
    rm -rf "$LAB_ROW_DIR"
    mkdir -p "$LAB_ROW_DIR"
    local cannot
    cannot=$(_lab_cannot "$event" "$affinity" "$store")
    if [[ -n $cannot ]]; then
        lab_say "step $step: skipped on $LAB_TARGET: $cannot"
        _lab_row_done "$(jq -cn --arg step "$step" --arg kind "$kind" --arg setup "$setup" \
            --arg expected "$(lab_expected_text "$kind")" --arg why "$cannot" \
            '{step: $step, kind: $kind, setup: $setup, expected: $expected, facts: null,
              skipped: $why, pass: true, mismatches: []}')"
        return 0
    fi
    [[ -n $event ]] && n=$(( LAB_N * LAB_EVENT_FACTOR ))
    # Shares are judged to a few points: kube-proxy picks at random per
    # connection, so enough requests that chance stays well inside (at 10 x N
    # x 24 users, 3 sigma is about 5 % of a third).
    [[ $kind == snat_* ]] && n=$(( n * 10 ))
    # A rollout replaces every replica in turn: users must outlast it; a
    # target whose replicas start slowly (pods) stretches rollouts and
    # scaling by LAB_SLOW_EVENTS_FACTOR.
    [[ $event == rollout ]] && n=$(( n * 3 ))
    LAB_PROBE_RATE=""
    if [[ $event == rollout || $event == scale-* ]]; then
        n=$(( n * ${LAB_SLOW_EVENTS_FACTOR:-1} ))
        # A row of few users runs through its reads fastest: at least
        # LAB_SLOW_EVENTS_MIN_READS reads in all, so the run outlasts the event.
        local users=$(( LAB_SOURCES * LAB_CLIENTS_PER_SOURCE )) least=${LAB_SLOW_EVENTS_MIN_READS:-0}
        (( n * users < least )) && n=$(( (least + users - 1) / users ))
        # A read count alone lasts as long as the machine is slow: a target
        # whose events take seconds paces every user (probe --rate) so the
        # run lasts LAB_EVENT_MIN_SECONDS however fast the answers come.
        local secs=${LAB_EVENT_MIN_SECONDS:-0}
        (( secs > 0 )) && LAB_PROBE_RATE=$(( (n + secs - 1) / secs ))
    fi
    LAB_ROW_N=$n
    lab_say "step $step: $setup${event:+, $event mid-run}"
    start=$(date +%s.%N)
    lab_call start "$store" "$replicas" "$affinity"
    lab_probes_start "$n" "lab-step-${step// /-}"
    if [[ -n $event ]]; then
        total=$(( LAB_SOURCES * LAB_CLIENTS_PER_SOURCE * n ))
        if ! lab_wait_served $(( total / 4 )); then
            problem="the run ended before a quarter of its reads; raise -n"
        else
            at=$(lab_call served)
            case $event in
                kill|restart)
                    victim=$(lab_call pick_victim)
                    lab_event_mark "$event $victim"
                    lab_call "$event" "$victim"
                    event_text="$event $victim after $at of $total reads" ;;
                rollout)
                    lab_event_mark "rollout"
                    lab_call rollout
                    event_text="rolling update of the $replicas replicas after $at of $total reads" ;;
                scale-*)
                    # Scaling down removes the replica with the most reads to
                    # come (as a kill does): the row is about its users.
                    (( ${event#scale-} < replicas )) && victim=$(lab_call pick_victim)
                    lab_event_mark "scale to ${event#scale-}"
                    lab_call scale "${event#scale-}" $victim
                    event_text="scale $replicas to ${event#scale-}${victim:+ (removing $victim)} after $at of $total reads" ;;
                *) sl_die "lab_row: unknown event '$event'" ;;
            esac
            lab_event_mark "done"
            lab_say "$event_text"
            lab_probes_running || problem="the probes finished during the $event; raise -n"
        fi
    fi
    if [[ -z $problem ]]; then
        LAB_PROBLEM=""
        lab_probes_wait || problem=$LAB_PROBLEM
    fi
    if [[ -z $problem && -n $event ]] && (( $(lab_call served) <= at )); then
        problem="no read was served after the $event; raise -n"
    fi
    lab_probes_kill
    lab_call stop
    end=$(date +%s.%N)
    local secs row
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    if [[ -n $problem ]]; then
        row=$(jq -cn --arg step "$step" --arg kind "$kind" --arg setup "$setup" \
            --arg expected "$(lab_expected_text "$kind")" --arg p "$problem" --argjson secs "$secs" \
            '{step: $step, kind: $kind, setup: $setup, expected: $expected, seconds: $secs,
              facts: null, pass: false, mismatches: [$p]}')
    else
        row=$(jq -cs --arg step "$step" --arg kind "$kind" --arg setup "$setup" \
            --arg event "$event_text" --arg victim "$victim" --arg n "$n" --arg secs "$secs" \
            --arg expected "$(lab_expected_text "$kind")" --argjson marks "$(_lab_marks_json)" \
            "$LAB_JQ_VERDICT" "$LAB_ROW_DIR"/probe-*.json)
    fi
    _lab_row_done "$row"
    if [[ $(jq -r .pass <<<"$row") == true ]]; then
        lab_say "step $step: as expected (${secs}s)"
    else
        lab_say "step $step: MISMATCH: $(jq -r '.mismatches | join("; ")' <<<"$row")"
    fi
}

_lab_row_done() {
    echo "$1" >"$LAB_ROW_DIR/row.json"
    LAB_ROWS_JSON+=("$1")
}

# Why this target cannot run a row with EVENT and AFFINITY (empty: it can):
# the target's own lab_T_cannot, or a missing lab_T_rollout / lab_T_scale.
_lab_cannot() {
    local event=$1 affinity=$2 store=${3:-} fn why=""
    declare -F "lab_${LAB_TARGET}_cannot" >/dev/null && why=$(lab_call cannot "$event" "$affinity")
    # A Redis Cluster of 6 nodes runs on the local target (stack.sh); the
    # pod targets model one Redis pod.
    [[ $store == redis-cluster && $LAB_TARGET != local ]] &&
        why=${why:-"the $LAB_TARGET target runs one Redis pod, no Redis Cluster (the local target runs one)"}
    case $event in
        rollout|scale-*)
            fn=${event%%-*}
            declare -F "lab_${LAB_TARGET}_$fn" >/dev/null ||
                why=${why:-"the $LAB_TARGET target has no $fn (lab_${LAB_TARGET}_$fn)"} ;;
    esac
    echo "$why"
}

# Prints every row as a Markdown table.
lab_print_markdown() {
    printf '%s\n' "${LAB_ROWS_JSON[@]}" | jq -rs --arg target "$LAB_TARGET" '
      def hosts: if .hosts_per_client_min == .hosts_per_client_max
                 then "\(.hosts_per_client_min) per client" else "\(.hosts_per_client_min)-\(.hosts_per_client_max) per client" end
                 + " (" + (.hosts | join(", ")) + ")";
      def ids: if .id_changes == 0 then "none"
               else "\(.clients_with_id_change)/\(.clients) clients, \(.id_changes) in all" end;
      def counts: "\(.clients_count_1_to_n)/\(.clients) ran 1..N"
                  + (if .clients_count_1_to_n == .clients then ""
                     elif .final_count_min == .final_count_max then "; last count \(.final_count_min)"
                     else "; last counts \(.final_count_min)-\(.final_count_max)" end);
      def errors: (if .errors == 0 then "0" else "\(.errors) of \(.requests)" end)
                  + (if .retries > 0 then " (\(.retries) retries)" else "" end)
                  + "; first tries: \(.first_try_5xx // 0) 5xx"
                  + (if (.first_try_transport // 0) > 0 then ", \(.first_try_transport) unanswered" else "" end);
      def spread: (.requests_by_host // {}) as $h | ([$h[]] | add) as $all
                  | if ($h | length) == 0 then "-"
                    else ([$h | to_entries[] | "\(.key) \(.value * 100 / $all | round) %"] | join(", "))
                         + (if ($h | length) > 1 then "; max/mean \(.spread_max_over_mean)" else "" end) end;
      "| step | setup | N | hosts seen | id changes | count vs requests | value kept | logged in | cart | errors | load spread | event | expected | result |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
      (.[] | . as $r | (.facts // {}) as $f |
        "| \(.step) | \(.setup) | \(.requests_per_client // "-") | "
        + (if .facts then
             "\($f | hosts) | \($f | ids) | \($f | counts) | \($f.clients_value_kept)/\($f.clients) | \(.logged_in // "-") | \(.cart // "-") | \($f | errors) | \($f | spread) | "
           else "- | - | - | - | - | - | - | - | " end)
        + "\(.event // "-")"
        + (if .kind == "kill_memory" and .facts then "; sessions lost \($f.clients_session_lost), \($f.clients_on_victim) clients were on it" else "" end)
        + " | \(.expected) | "
        + (if .skipped then "skipped: " + .skipped elif .pass then "ok" else "**MISMATCH**: " + (.mismatches | join("; ")) end) + " |")'
}

lab_print_json() {
    printf '%s\n' "${LAB_ROWS_JSON[@]}" | jq -s --arg target "$LAB_TARGET" \
        '{target: $target, pass: all(.[]; .pass), rows: .}'
}

lab_all_passed() {
    printf '%s\n' "${LAB_ROWS_JSON[@]}" | jq -se 'all(.[]; .pass)' >/dev/null
}
