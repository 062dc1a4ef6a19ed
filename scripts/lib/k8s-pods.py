#!/usr/bin/env python3
"""Reads a rendered kustomize overlay the way the netns lab target needs it.

  k8s-pods.py plan RENDERED.yaml|-        -> JSON plan on stdout (below)
  k8s-pods.py env PLAN.json CONTAINER POD_NAME POD_IP SECRETS.json
                                           -> the container's environment,
                                              NUL-separated NAME=VALUE
  k8s-pods.py argv PLAN.json CONTAINER POD_NAME POD_IP SECRETS.json
                                           -> command + args after $(VAR)
                                              expansion, NUL-separated
  k8s-pods.py configmap PLAN.json DIR      -> the nginx ConfigMap's files in DIR

This is the one place that says what the netns target takes from the
manifests (scripts/lib/lab-netns.sh runs what the plan says):

HONOURED
  Deployment (the one whose pod template runs a sessionlab-nginx and a
  sessionlab-app image): metadata.name, spec.replicas,
  spec.strategy.rollingUpdate.maxSurge/maxUnavailable (ints or percentages,
  rounded as the Deployment controller does: surge up, unavailable down),
  template labels (for the Service selector);
  pod spec: initContainers (run to completion in order) and native sidecars
  (initContainers with restartPolicy: Always: started in order, each after
  the previous one's startupProbe passed, stopped after every regular
  container exited, in reverse order), containers (started in list order),
  terminationGracePeriodSeconds (default 30);
  per container: name, image (mapped to the local build, below), command,
  args, env (value with kubelet $(VAR) expansion from the entries above it,
  $$ escapes; valueFrom.fieldRef metadata.name / metadata.namespace /
  metadata.uid / status.podIP / status.hostIP / spec.nodeName /
  metadata.labels['k']; valueFrom.secretKeyRef and configMapKeyRef with
  optional), envFrom (configMapRef, secretRef, prefix), ports (names for
  probes and targetPort), lifecycle.preStop (exec, or sleep.seconds),
  readinessProbe and startupProbe (httpGet path/port, tcpSocket, exec;
  initialDelaySeconds, periodSeconds, timeoutSeconds, failureThreshold,
  successThreshold), volumeMounts of a ConfigMap volume at the nginx image's
  config directory (/etc/sessionlab/nginx-conf).
  How they act: a startupProbe gates the next container's start; readiness
  probes gate the pod's endpoint (the first probe once the port listens,
  then every periodSeconds until successThreshold; later failures of a
  running pod are not probed); an exited container stops the lab (the
  kubelet would restart it) except the app restart the lab row asks for.
  The stop signal of a container is its image's STOPSIGNAL, read from
  docker/<app|nginx>.Dockerfile (what the runtime sends; SIGTERM without one).
  Service selecting that Deployment's pods (type NodePort: the
  KUBE-NODEPORTS rules are written and checked once; the lab's clients use
  the ClusterIP, whose source addresses ClientIP affinity keys on): name,
  type, ports[0] port,
  targetPort (number or container port name), nodePort, protocol,
  sessionAffinity, sessionAffinityConfig.clientIP.timeoutSeconds (default
  10800).
  Deployment running a redis image (the session store): its container's
  args with $(VAR) expansion (so --requirepass $(REDIS_PASSWORD) from the
  Secret), containerPort; the Service selecting it (its name is the host in
  the app's SESSIONLAB_REDIS_URL, resolved to the node's redis-server).
  ConfigMap mounted by the nginx container: data (the files nginx runs with).
  Ingress (ingress-cookie): the nginx.ingress.kubernetes.io/affinity and
  session-cookie-name annotations (the stand-in implements cookie affinity
  with nginx-conf's SLROUTE cookie; other values are refused).
IGNORED (reported under "ignored" in the plan when present)
  resources (no cgroups), securityContext and pod securityContext,
  livenessProbe (nothing restarts a container but the lab's own events),
  imagePullPolicy, image tags, automountServiceAccountToken, ports after
  the Service's first, terminating endpoints' serving condition (a deleted
  pod's endpoint is removed at once, as kube-proxy does for terminating
  endpoints while ready ones exist),
  enableServiceLinks (no service-link env either way), emptyDir volumes
  (a fresh directory per pod), revisionHistoryLimit, minReadySeconds and
  progressDeadlineSeconds (0 / none), NetworkPolicy (no policy engine: only
  the Redis password holds), PodDisruptionBudget, HTTPRoute/Gateway, any
  other kind; the redis Deployment's probes, securityContext and volumes
  (redis-server runs in the node namespace); the ingress's other
  annotations (cookie path, samesite, change-on-failure).
Image mapping (what an image's entrypoint means here)
  sessionlab-app*   build/fcgi-app/sessionlab-app ($SESSIONLAB_APP), its
                    /usr/local/bin/sessionlab-healthcheck = docker/app-healthcheck
  sessionlab-nginx* docker/nginx-entrypoint's pod role: nginx -p PREFIX with
                    the ConfigMap's files (role lb is refused)
  redis*            the node's redis-server
"""
import hashlib
import json
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NGINX_CONF_MOUNT = "/etc/sessionlab/nginx-conf"


def die(msg):
    print("k8s-pods: " + msg, file=sys.stderr)
    sys.exit(2)


# --- kubelet $(VAR) expansion --------------------------------------------
# third_party/forked/golang/expansion/expand.go in kubernetes/kubernetes:
# "$$" is an escaped "$"; "$(NAME)" is replaced when NAME is in the mapping,
# otherwise left as written; a "$" before anything else stays.
def expand(s, mapping):
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c == "$" and i + 1 < n:
            nxt = s[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                j = s.find(")", i + 2)
                if j < 0:
                    out.append(s[i:])
                    break
                name = s[i + 2:j]
                out.append(mapping[name] if name in mapping else s[i:j + 1])
                i = j + 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def image_kind(image):
    base = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    if base.startswith("sessionlab-app"):
        return "app"
    if base.startswith("sessionlab-nginx"):
        return "nginx"
    if base.startswith("redis"):
        return "redis"
    return "other"


def stop_signal(kind):
    f = {"app": "app.Dockerfile", "nginx": "nginx.Dockerfile"}.get(kind)
    if f:
        try:
            with open(os.path.join(ROOT, "docker", f)) as fh:
                for line in fh:
                    m = re.match(r"\s*STOPSIGNAL\s+(\S+)", line)
                    if m:
                        sig = m.group(1)
                        return sig[3:] if sig.startswith("SIG") else sig
        except OSError:
            pass
    return "TERM"


def probe(p, ports):
    if not p:
        return None
    out = {
        "initialDelaySeconds": p.get("initialDelaySeconds", 0),
        "periodSeconds": p.get("periodSeconds", 10),
        "timeoutSeconds": p.get("timeoutSeconds", 1),
        "failureThreshold": p.get("failureThreshold", 3),
        "successThreshold": p.get("successThreshold", 1),
    }
    for kind in ("httpGet", "tcpSocket"):
        if kind in p:
            port = p[kind].get("port")
            if isinstance(port, str):
                if port not in ports:
                    die("probe port %r is no container port name" % port)
                port = ports[port]
            out["type"] = "http" if kind == "httpGet" else "tcp"
            out["port"] = port
            out["path"] = p[kind].get("path", "/")
            return out
    if "exec" in p:
        out["type"] = "exec"
        out["command"] = p["exec"]["command"]
        return out
    die("unsupported probe %r" % sorted(p))


def container(c, kind, ignored, where):
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
    pre = (c.get("lifecycle") or {}).get("preStop")
    prestop = None
    if pre:
        if "exec" in pre:
            prestop = {"exec": pre["exec"]["command"]}
        elif "sleep" in pre:
            prestop = {"exec": ["sleep", str(pre["sleep"]["seconds"])]}
        else:
            die("%s: unsupported preStop %r" % (where, sorted(pre)))
    for k in ("resources", "securityContext", "livenessProbe", "imagePullPolicy"):
        if k in c:
            ignored.add("%s.%s" % (where, k))
    ik = image_kind(c.get("image", ""))
    return {
        "name": c["name"], "kind": kind, "image": c.get("image", ""), "imageKind": ik,
        "command": c.get("command"), "args": c.get("args"),
        "env": c.get("env", []), "envFrom": c.get("envFrom", []),
        "ports": ports, "preStop": prestop, "stopSignal": stop_signal(ik),
        "readiness": probe(c.get("readinessProbe"), ports),
        "startup": probe(c.get("startupProbe"), ports),
        "volumeMounts": c.get("volumeMounts", []),
    }


def round_pct(v, total, up):
    if isinstance(v, int):
        return v
    m = re.fullmatch(r"(\d+)%", str(v))
    if not m:
        return int(v)
    x = int(m.group(1)) * total / 100.0
    return int(-(-x // 1)) if up else int(x // 1)


def plan(docs):
    ignored = set()
    by_kind = {}
    for d in docs:
        if d:
            by_kind.setdefault(d.get("kind"), []).append(d)
    known = {"Deployment", "Service", "ConfigMap", "Ingress", "NetworkPolicy"}
    for k in by_kind:
        if k not in known:
            ignored.add("kind " + k)

    def pod_spec(d):
        return d["spec"]["template"]["spec"]

    def images(d):
        s = pod_spec(d)
        return [image_kind(c.get("image", "")) for c in s.get("initContainers", []) + s.get("containers", [])]

    web = [d for d in by_kind.get("Deployment", []) if "app" in images(d) and "nginx" in images(d)]
    if len(web) != 1:
        die("want one Deployment with a sessionlab-nginx and a sessionlab-app container, found %d" % len(web))
    web = web[0]
    redis = [d for d in by_kind.get("Deployment", []) if images(d) == ["redis"]]
    services = by_kind.get("Service", [])
    configmaps = {c["metadata"]["name"]: c.get("data", {}) for c in by_kind.get("ConfigMap", [])}

    name = web["metadata"]["name"]
    spec = web["spec"]
    ps = pod_spec(web)
    replicas = spec.get("replicas", 1)
    strat = spec.get("strategy", {}) or {}
    ru = strat.get("rollingUpdate", {}) or {}
    for k in ("revisionHistoryLimit", "minReadySeconds", "progressDeadlineSeconds"):
        if k in spec:
            ignored.add("Deployment/%s.spec.%s" % (name, k))
    for k in ("securityContext", "automountServiceAccountToken", "enableServiceLinks"):
        if k in ps:
            ignored.add("Deployment/%s pod %s" % (name, k))
    where = "Deployment/%s" % name
    conts = []
    for c in ps.get("initContainers", []):
        kind = "sidecar" if c.get("restartPolicy") == "Always" else "init"
        conts.append(container(c, kind, ignored, "%s initContainers[%s]" % (where, c["name"])))
    for c in ps.get("containers", []):
        conts.append(container(c, "regular", ignored, "%s containers[%s]" % (where, c["name"])))
    volumes = {v["name"]: v for v in ps.get("volumes", [])}
    for c in conts:
        if c["imageKind"] == "nginx":
            role = next((e.get("value") for e in c["env"] if e["name"] == "SESSIONLAB_NGINX_ROLE"), "pod")
            if role != "pod":
                die("%s: nginx role %r: the netns target runs role pod only" % (where, role))
            cm = None
            for m in c["volumeMounts"]:
                v = volumes.get(m["name"], {})
                if m.get("mountPath") == NGINX_CONF_MOUNT and "configMap" in v:
                    cm = v["configMap"]["name"]
            if cm is None:
                die("%s: nginx mounts no ConfigMap at %s" % (where, NGINX_CONF_MOUNT))
            if cm not in configmaps:
                die("%s: ConfigMap %s is not in the rendered overlay" % (where, cm))
            c["configMap"] = cm
    labels = web["spec"]["template"]["metadata"].get("labels", {})
    svc = [s for s in services if labels_match(s["spec"].get("selector"), labels)]
    if len(svc) != 1:
        die("want one Service selecting Deployment %s's pods, found %d" % (name, len(svc)))
    svc = svc[0]
    sp = svc["spec"]["ports"][0]
    target = sp.get("targetPort", sp["port"])
    if isinstance(target, str):
        named = [c["ports"][target] for c in conts if target in c["ports"]]
        if not named:
            die("Service %s: targetPort %r names no container port" % (svc["metadata"]["name"], target))
        target = named[0]
    sac = ((svc["spec"].get("sessionAffinityConfig") or {}).get("clientIP") or {})
    template_hash = hashlib.sha256(json.dumps(web["spec"]["template"], sort_keys=True).encode()).hexdigest()
    out = {
        "deployment": name,
        "replicas": replicas,
        "strategy": {
            "type": strat.get("type", "RollingUpdate"),
            "maxSurge": round_pct(ru.get("maxSurge", "25%"), replicas, True),
            "maxUnavailable": round_pct(ru.get("maxUnavailable", "25%"), replicas, False),
        },
        "podTemplateHash": template_hash[:10],
        "labels": labels,
        "grace": ps.get("terminationGracePeriodSeconds", 30),
        "containers": conts,
        "service": {
            "name": svc["metadata"]["name"],
            "namespace": svc["metadata"].get("namespace", "default"),
            "type": svc["spec"].get("type", "ClusterIP"),
            "portName": sp.get("name", ""),
            "port": sp["port"], "targetPort": target, "nodePort": sp.get("nodePort"),
            "protocol": sp.get("protocol", "TCP"),
            "sessionAffinity": svc["spec"].get("sessionAffinity", "None"),
            "timeoutSeconds": sac.get("timeoutSeconds", 10800),
        },
        "configMaps": configmaps,
        "redis": None,
        "ingress": None,
    }
    if len(redis) > 1:
        die("more than one redis Deployment")
    if redis:
        r = redis[0]
        rc = container(pod_spec(r)["containers"][0], "regular", set(), "Deployment/redis")
        ignored.add("Deployment/%s probes, securityContext, volumes" % r["metadata"]["name"])
        rl = r["spec"]["template"]["metadata"].get("labels", {})
        rsvc = [s for s in services if labels_match(s["spec"].get("selector"), rl)]
        if len(rsvc) != 1:
            die("want one Service selecting the redis pods, found %d" % len(rsvc))
        rp = rsvc[0]["spec"]["ports"][0]
        out["redis"] = {"container": rc, "service": rsvc[0]["metadata"]["name"],
                        "servicePort": rp["port"],
                        "port": (list(rc["ports"].values()) or [6379])[0]}
    ings = by_kind.get("Ingress", [])
    if ings:
        a = ings[0]["metadata"].get("annotations", {}) or {}
        pre = "nginx.ingress.kubernetes.io/"
        out["ingress"] = {"affinity": a.get(pre + "affinity"),
                          "cookieName": a.get(pre + "session-cookie-name", "INGRESSCOOKIE")}
        ignored.add("Ingress annotations other than affinity and session-cookie-name")
    if by_kind.get("NetworkPolicy"):
        ignored.add("NetworkPolicy (only the Redis password holds)")
    out["ignored"] = sorted(ignored)
    return out


def field_ref(path, pod):
    simple = {"metadata.name": pod["name"], "metadata.namespace": pod["namespace"],
              "metadata.uid": pod["uid"], "status.podIP": pod["ip"], "status.podIPs": pod["ip"],
              "status.hostIP": pod["hostIP"], "spec.nodeName": pod["node"],
              "spec.serviceAccountName": "default"}
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.labels\['([^']+)'\]", path)
    if m:
        return pod["labels"].get(m.group(1), "")
    die("unsupported fieldRef %s" % path)


def key_ref(ref, store, what, cname):
    obj = store.get(ref["name"])
    if obj is None or ref["key"] not in obj:
        if ref.get("optional"):
            return None
        # The kubelet: CreateContainerConfigError, the container never starts.
        die("container %s: %s %s key %s not found (CreateContainerConfigError)" % (cname, what, ref["name"], ref["key"]))
    return obj[ref["key"]]


def container_env(p, cname, pod_name, pod_ip, secrets):
    c = next((c for c in p["containers"] if c["name"] == cname), None)
    if c is None and p.get("redis") and p["redis"]["container"]["name"] == cname:
        c = p["redis"]["container"]
    if c is None:
        die("no container %s" % cname)
    pod = {"name": pod_name, "namespace": p["service"]["namespace"], "ip": pod_ip,
           "uid": hashlib.md5(pod_name.encode()).hexdigest(), "hostIP": os.environ.get("K8S_HOST_IP", ""),
           "node": os.environ.get("K8S_NODE_NAME", "netns-node"), "labels": p["labels"]}
    cms = p["configMaps"]
    env = {}
    order = []

    def put(k, v):
        if k not in env:
            order.append(k)
        env[k] = v

    # envFrom first, then env (env wins on a clash), as the kubelet does.
    for ef in c.get("envFrom", []):
        prefix = ef.get("prefix", "")
        for kind, store in (("configMapRef", cms), ("secretRef", secrets)):
            if kind in ef:
                obj = store.get(ef[kind]["name"])
                if obj is None:
                    if ef[kind].get("optional"):
                        continue
                    die("container %s: envFrom %s not found" % (cname, ef[kind]["name"]))
                for k, v in obj.items():
                    put(prefix + k, v)
    for e in c.get("env", []):
        if "valueFrom" in e:
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                v = field_ref(vf["fieldRef"]["fieldPath"], pod)
            elif "secretKeyRef" in vf:
                v = key_ref(vf["secretKeyRef"], secrets, "Secret", cname)
            elif "configMapKeyRef" in vf:
                v = key_ref(vf["configMapKeyRef"], cms, "ConfigMap", cname)
            else:
                die("container %s: unsupported valueFrom %r" % (cname, sorted(vf)))
            if v is None:
                continue
        else:
            v = expand(e.get("value", ""), env)
        put(e["name"], v)
    return c, [(k, env[k]) for k in order], env


def main():
    if len(sys.argv) < 3:
        die(__doc__.split("\n\n")[0])
    cmd = sys.argv[1]
    if cmd == "plan":
        import yaml
        src = sys.stdin if sys.argv[2] == "-" else open(sys.argv[2])
        json.dump(plan(list(yaml.safe_load_all(src))), sys.stdout, indent=1)
        print()
    elif cmd in ("env", "argv"):
        if len(sys.argv) != 7:
            die("usage: %s PLAN CONTAINER POD_NAME POD_IP SECRETS" % cmd)
        with open(sys.argv[2]) as f:
            p = json.load(f)
        with open(sys.argv[6]) as f:
            secrets = json.load(f)
        c, pairs, env = container_env(p, sys.argv[3], sys.argv[4], sys.argv[5], secrets)
        if cmd == "env":
            items = ["%s=%s" % kv for kv in pairs]
        else:
            # command/args: $(VAR) from the container's env (kubelet's
            # ExpandContainerCommandAndArgs); no command = the image's.
            items = [expand(a, env) for a in (c.get("command") or []) + (c.get("args") or [])]
        sys.stdout.write("".join(i + "\0" for i in items))
    elif cmd == "configmap":
        with open(sys.argv[2]) as f:
            p = json.load(f)
        names = [c["configMap"] for c in p["containers"] if c.get("configMap")]
        os.makedirs(sys.argv[3], exist_ok=True)
        for fname, text in p["configMaps"][names[0]].items():
            with open(os.path.join(sys.argv[3], fname), "w") as f:
                f.write(text)
    else:
        die("unknown command %s" % cmd)


if __name__ == "__main__":
    main()
