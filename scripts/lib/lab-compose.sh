# shellcheck shell=bash
# The lab's "compose" target: a hook, not an implementation. The container
# suite owns the compose stack; it provides the target by defining the
# lab_compose_* functions of the interface in lab-common.sh (setup, teardown,
# start, stop, describe, probe, served, pick_victim, kill, restart) in
#   tests/containers/lib/lab-compose.sh
# which this file sources. Until that file exists, --target compose stops
# with a clear message.

LAB_COMPOSE_HELPER=${LAB_COMPOSE_HELPER:-$SL_ROOT/tests/containers/lib/lab-compose.sh}

if [[ -f $LAB_COMPOSE_HELPER ]]; then
    # shellcheck source=/dev/null
    . "$LAB_COMPOSE_HELPER"
fi

lab_compose_check() {
    local f missing=()
    [[ -f $LAB_COMPOSE_HELPER ]] ||
        sl_die "--target compose needs the container suite's compose helpers: $LAB_COMPOSE_HELPER does not exist yet (run --target local or --target netns)"
    for f in setup teardown start stop describe probe served pick_victim kill restart; do
        declare -F "lab_compose_$f" >/dev/null || missing+=("lab_compose_$f")
    done
    [[ ${#missing[@]} -eq 0 ]] ||
        sl_die "$LAB_COMPOSE_HELPER does not define ${missing[*]} (see the interface in scripts/lib/lab-common.sh)"
}
