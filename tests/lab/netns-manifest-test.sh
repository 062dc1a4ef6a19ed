#!/usr/bin/env bash
# The netns lab runs the manifests: a manifest change that breaks a lab step
# makes that row fail. On a copy of k8s/ (LAB_K8S_DIR points the lab at it):
#   unbroken copy                         rows "3 client-ip" and 5 pass;
#   step 3 without sessionAffinity        row "3 client-ip" fails (a kustomize
#     (a JSON patch in its overlay)       patch removes spec.sessionAffinity);
#   a wrong env name in step 5            row 5 fails (SESSIONLAB_STORE spelt
#     (SESSIONLAB_STOR)                   SESSIONLAB_STOR: the app keeps its
#                                         default memory store);
#   Service port 8080 -> 8081 in step 3   row "3 client-ip" still passes (the
#                                         port is read from the manifest).
# Needs root, like the netns target.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
[[ $(id -u) -eq 0 ]] || sl_die "needs root (network namespaces)"
# shellcheck source=../lib/checks.sh
. "$root/tests/lib/checks.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$root/tests/out/lab/netns-manifest
mkdir -p "$out"

fresh() { rm -rf "$tmp/k8s"; cp -r "$root/k8s" "$tmp/k8s"; }

# add_patch OVERLAY KIND[/NAME] JSONPATCH_YAML: appends a patch to the
# overlay's kustomization (kept valid YAML: one `patches:` list).
add_patch() {
    python3 - "$tmp/k8s/overlays/$1/kustomization.yaml" "$2" "$3" <<'PY'
import sys, yaml
path, kind, patch = sys.argv[1:]
k = yaml.safe_load(open(path))
kind, _, name = kind.partition("/")
target = {"kind": kind, **({"name": name} if name else {})}
k.setdefault("patches", []).append({"target": target, "patch": patch})
yaml.safe_dump(k, open(path, "w"), sort_keys=False)
PY
}

# lab NAME ROWS: runs those rows on the copy; sets rc, prints nothing.
lab() {
    set +e
    LAB_K8S_DIR=$tmp/k8s LAB_ONLY=$2 "$root/scripts/lab" --target netns --json >"$out/$1.json" 2>"$out/$1.log"
    rc=$?
    set -e
}
row_pass() { jq -r --arg s "$2" '.rows[] | select(.step == $s) | .pass' "$out/$1.json" 2>/dev/null; }
row_why() { jq -r --arg s "$2" '.rows[] | select(.step == $s) | .mismatches | join("; ")' "$out/$1.json" 2>/dev/null; }

fresh
lab unbroken "3 client-ip,5"
expect "unbroken copy: the lab passes" 0 "$rc"
expect "unbroken copy: row 3 client-ip passes" true "$(row_pass unbroken "3 client-ip")"
expect "unbroken copy: row 5 passes" true "$(row_pass unbroken 5)"

fresh
add_patch step3-memory-x3-clientip Service '[{"op": "remove", "path": "/spec/sessionAffinity"}, {"op": "remove", "path": "/spec/sessionAffinityConfig"}]'
expect "no-affinity copy: rendered without sessionAffinity" 0 \
    "$(kubectl kustomize "$tmp/k8s/overlays/step3-memory-x3-clientip" | grep -c '^  sessionAffinity' || true)"
lab no-affinity "3 client-ip"
expect "no-affinity copy: the lab fails" 1 "$rc"
expect "no-affinity copy: row 3 client-ip fails" false "$(row_pass no-affinity "3 client-ip")"
echo "     why: $(row_why no-affinity "3 client-ip")"

fresh
# The path of the app container's SESSIONLAB_STORE entry in the rendered
# Deployment, whichever list the app is in.
store_path=$(kubectl kustomize "$tmp/k8s/overlays/step5-redis-x3" | python3 -c '
import sys, yaml
for d in yaml.safe_load_all(sys.stdin):
    if d and d["kind"] == "Deployment":
        ps = d["spec"]["template"]["spec"]
        for lst in ("initContainers", "containers"):
            for i, c in enumerate(ps.get(lst, [])):
                for j, e in enumerate(c.get("env", [])):
                    if e["name"] == "SESSIONLAB_STORE":
                        print("%s %s /spec/template/spec/%s/%d/env/%d/name" % (d["metadata"]["name"], lst, lst, i, j))')
read -r store_deploy _ store_path <<<"$store_path"
add_patch step5-redis-x3 "Deployment/$store_deploy" "[{\"op\": \"replace\", \"path\": \"$store_path\", \"value\": \"SESSIONLAB_STOR\"}]"
echo "     patched Deployment $store_deploy: $store_path = SESSIONLAB_STOR"
expect "wrong-env copy: step 5 renders SESSIONLAB_STOR" 1 \
    "$(kubectl kustomize "$tmp/k8s/overlays/step5-redis-x3" | grep -c 'name: SESSIONLAB_STOR$' || true)"
lab wrong-env 5
expect "wrong-env copy: the lab fails" 1 "$rc"
expect "wrong-env copy: row 5 fails" false "$(row_pass wrong-env 5)"
echo "     why: $(row_why wrong-env 5)"

fresh
add_patch step3-memory-x3-clientip Service '[{"op": "replace", "path": "/spec/ports/0/port", "value": 8081}]'
lab port-8081 "3 client-ip"
expect "port-8081 copy: row 3 client-ip passes on the manifest's port" true "$(row_pass port-8081 "3 client-ip")"
grep -q 'Service NodePort 8081' "$out/port-8081.log" && ok "port-8081 copy: the lab says Service port 8081" \
    || fail "port-8081 copy: the lab did not use port 8081"

checks_summary
