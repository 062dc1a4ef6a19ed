#!/usr/bin/env bash
# scripts/lab --target netns leaves nothing behind when it does not finish:
# interrupted by Ctrl-C (SIGINT) in the middle of a row, stopped (SIGTERM)
# while it sets up, and failing (an app that cannot start). After each, no
# namespace of that run exists (with them go their veths, addresses, nat
# rules and `recent` lists), no process of it is left, and its runtime
# directory is gone. Needs root, like the netns target itself.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
[[ $(id -u) -eq 0 ]] || sl_die "needs root (network namespaces)"

# shellcheck source=../lib/checks.sh
. "$root/tests/lib/checks.sh"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# interrupted CASE SIGNAL PATTERN [ENV...]: runs the lab (row "6 memory"
# only) with SIGINT reset to its default (a background job of a script
# starts with it ignored, and bash cannot trap what it inherits ignored), sends SIGNAL once PATTERN is in its output (no signal when
# PATTERN is empty), waits, and checks what is left. Prints nothing; sets rc.
interrupted() {
    local name=$1 sig=$2 pattern=$3 pid i left procs apps_before dirs_before
    shift 3
    apps_before=$(pgrep -x sessionlab-app | sort || true)
    dirs_before=$(_run_dirs)
    env --default-signal=INT "$@" LAB_ONLY="6 memory" "$root/scripts/lab" --target netns >"$out" 2>&1 &
    pid=$!
    if [[ -n $pattern ]]; then
        for (( i = 0; i < 600; i++ )); do
            grep -qE "$pattern" "$out" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        grep -qE "$pattern" "$out" || { fail "$name: never saw /$pattern/:"; tail -5 "$out"; }
        kill "-$sig" "$pid" 2>/dev/null || true
    fi
    set +e
    wait "$pid"
    rc=$?
    set -e
    left=$(ip netns list | awk -v t="sl$pid-" 'index($1, t) == 1 { print $1 }' | paste -sd' ')
    expect "$name: no namespace left" "" "$left"
    procs=$(pgrep -f "sessionlab-lab\\." | paste -sd' ' || true)
    expect "$name: no nginx or redis-server of it left" "" "$procs"
    # Apps that were not running before (others' apps, which may come and go
    # meanwhile, are not this run's).
    expect "$name: no sessionlab-app of it left" "" \
        "$(comm -13 <(echo "$apps_before") <(pgrep -x sessionlab-app | sort || true) | paste -sd' ')"
    expect "$name: its runtime directory removed" "$dirs_before" "$(_run_dirs)"
}

_run_dirs() { # the netns target's runtime directories (mktemp sessionlab-lab.*)
    find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'sessionlab-lab.*' | sort | paste -sd' '
}

interrupted "Ctrl-C mid-row" INT '^==> step 6 memory: .*kill mid-run'
expect "Ctrl-C mid-row: exit status 130" 130 "$rc"

interrupted "SIGTERM during setup" TERM '^==> netns: namespaces '
expect "SIGTERM during setup: exit status 143" 143 "$rc"

interrupted "an app that cannot start" "" "" SESSIONLAB_APP=/bin/false
expect "an app that cannot start: the lab fails" yes "$([[ $rc -ne 0 ]] && echo yes || echo no)"
grep -q "the app exited" "$out" && ok "an app that cannot start: says so" \
    || { fail "an app that cannot start: no clear message:"; tail -5 "$out"; }

checks_summary
