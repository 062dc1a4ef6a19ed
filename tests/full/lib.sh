# Shared by tests/full/run-asan and tests/full/run-valgrind. Source it.
full_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
full_say() { printf '==> %s\n' "$*" >&2; }

# full_e2e OUTDIR FILE...: runs node --test on the given e2e files (all of
# tests/e2e/ when none) with logs under OUTDIR; returns node's status.
full_e2e() {
    local out=$1; shift
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    (( major >= 18 )) || { echo "node >= 18 needed, found $(node -v)" >&2; return 1; }
    rm -rf "$out"
    mkdir -p "$out"
    # The runners check memory with their own tools; RSS under a sanitizer
    # or valgrind says nothing about the app, and latency bounds are widened
    # (SESSIONLAB_E2E_INSTRUMENTED: redis-client.test.js).
    SESSIONLAB_E2E_OUT=$out SESSIONLAB_E2E_NO_RSS=1 SESSIONLAB_E2E_INSTRUMENTED=1 \
        node --test --test-concurrency=1 --test-timeout=600000 "${@:-$full_root/tests/e2e/}"
}
