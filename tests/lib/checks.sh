# shellcheck shell=bash
# Pass/fail bookkeeping for the bash test scripts (sourced). Each check
# prints one "ok   NAME" or "FAIL NAME ..." line; checks_summary prints the
# totals and returns non-zero when any check failed.
passed=0 failed=0

ok()   { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# check NAME CMD...: runs CMD; ok, or FAIL with its last output lines indented.
check() {
    local name=$1 out; shift
    if out=$("$@" 2>&1); then ok "$name"; else fail "$name"; printf '%s\n' "$out" | tail -n 20 | sed 's/^/     /'; fi
}

# expect NAME WANT GOT: ok when GOT is WANT.
expect() {
    if [[ $2 == "$3" ]]; then ok "$1"; else fail "$1: want '$2', got '$3'"; fi
}

checks_summary() {
    echo "$passed passed, $failed failed"
    [[ $failed -eq 0 ]]
}
