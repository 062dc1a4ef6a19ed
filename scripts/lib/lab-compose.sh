# shellcheck shell=bash
# The lab's "compose" target: a hook, not an implementation. The container
# suite owns the compose stack (docker/compose.yaml, tests/containers/lib.sh:
# ct_engine_start, ct_compose, ...). It provides this target by defining the
# lab_compose_* functions of the interface in lab-common.sh (setup, teardown,
# start, stop, describe, probe, served, pick_victim, kill, restart) in
#   tests/containers/lab-compose.sh
# which this file sources after tests/containers/lib.sh. Until those exist,
# --target compose stops with a clear message.

LAB_COMPOSE_LIB=${LAB_COMPOSE_LIB:-$SL_ROOT/tests/containers/lib.sh}
LAB_COMPOSE_HELPER=${LAB_COMPOSE_HELPER:-$SL_ROOT/tests/containers/lab-compose.sh}

if [[ -f $LAB_COMPOSE_LIB ]]; then
    # shellcheck source=/dev/null
    . "$LAB_COMPOSE_LIB"
fi
if [[ -f $LAB_COMPOSE_HELPER ]]; then
    # shellcheck source=/dev/null
    . "$LAB_COMPOSE_HELPER"
fi

lab_compose_check() {
    local f missing=()
    for f in setup teardown start stop describe probe served pick_victim kill restart; do
        declare -F "lab_compose_$f" >/dev/null || missing+=("lab_compose_$f")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ -f $LAB_COMPOSE_HELPER ]] ||
        sl_die "--target compose needs the container suite's lab helpers: $LAB_COMPOSE_HELPER does not exist yet (it defines lab_compose_{setup,teardown,start,stop,describe,probe,served,pick_victim,kill,restart}, see scripts/lib/lab-common.sh). Use --target local or --target netns meanwhile."
    sl_die "$LAB_COMPOSE_HELPER does not define ${missing[*]} (see the interface in scripts/lib/lab-common.sh)"
}
