// Offline checks of rendered Kubernetes manifests (tests/containers/manifests).
//
//   node validate-k8s.mjs MODULES NGINX_CONF_DIR OUT_DIR NAME=RENDERED.yaml...
//
// MODULES is a node_modules directory holding kubernetes-models,
// @kubernetes-models/gateway-api (HTTPRoute) and yaml.
// For each overlay NAME it prints one line per check, "ok   ..." or "FAIL ...":
//   schema  every object validates against the Kubernetes schema
//           (kubernetes-models: types, required fields, enums, formats)
//   strict  no unknown fields anywhere (walks the models' type declarations:
//           the validators themselves let unknown fields through)
//   policy  the shape the lab relies on (see policy() and EXPECT below)
// and writes the nginx ConfigMap's files to OUT_DIR/NAME/ for `nginx -t`,
// and the nginx container's SESSIONLAB_* settings to OUT_DIR/NAME.nginx-env
// (NAME=VALUE lines, ConfigMap references resolved) for the overlays whose
// nginx gets the redis-tls piece, so `nginx -t` renders what the pod runs.
// Exit status 1 when any check failed.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modules, nginxConfDir, outDir, ...overlayArgs] = process.argv.slice(2);
if (!modules || !nginxConfDir || !outDir || overlayArgs.length === 0) {
  console.error("usage: node validate-k8s.mjs MODULES NGINX_CONF_DIR OUT_DIR NAME=FILE...");
  process.exit(2);
}
const modelsDir = path.join(modules, "kubernetes-models");
const gatewayDir = path.join(modules, "@kubernetes-models/gateway-api");
const YAML = await import(pathToFileURL(path.join(modules, "yaml/dist/index.js")).href);

// What each lab step must look like. app: the name of the Deployment, the
// Service, the label `app` and the ConfigMap prefix (the lab's names).
// nodePort null: no NodePort Service.
const EXPECT = {
  "step1-memory":             { app: "inmemory", replicas: 1, store: "memory", type: "NodePort",  nodePort: 30001, affinity: "None" },
  "step2-memory-x3":          { app: "inmemory", replicas: 3, store: "memory", type: "NodePort",  nodePort: 30001, affinity: "None" },
  "step3-memory-x3-clientip": { app: "inmemory", replicas: 3, store: "memory", type: "NodePort",  nodePort: 30001, affinity: "ClientIP" },
  "step4-redis":              { app: "redisapp", replicas: 1, store: "redis",  type: "NodePort",  nodePort: 30002, affinity: "None" },
  "step5-redis-x3":           { app: "redisapp", replicas: 3, store: "redis",  type: "NodePort",  nodePort: 30002, affinity: "None" },
  "ingress-cookie":           { app: "inmemory", replicas: 3, store: "memory", type: "ClusterIP", nodePort: null,  affinity: "None", ingressCookie: true },
  "gateway-cookie":           { app: "inmemory", replicas: 3, store: "memory", type: "ClusterIP", nodePort: null,  affinity: "None", gatewayCookie: true },
  "production":               { app: "redisapp", replicas: 3, store: "redis",  type: "ClusterIP", nodePort: null,  affinity: "None", production: true,
                                sentinels: 3, redisPods: 3 },
  "redis-cluster":            { app: "redisapp", replicas: 3, store: "redis",  type: "NodePort",  nodePort: 30002, affinity: "None",
                                cluster: { pods: 6, replicasPerPrimary: 1 } },
  "redis-tls":                { app: "redisapp", replicas: 3, store: "redis",  type: "ClusterIP", nodePort: null,  affinity: "None", redisTls: true },
};
const SERVICE_PORT = 8080;
// The one Redis image (k8s/components/redis-image; docker/compose.yaml's
// default names it too). See docs/containers.md for why this version.
const REDIS_IMAGE = "redis:8.6.3";
// The app's drain bound after SIGTERM: unfinished requests are cut at 30 s
// (fcgi-app, "signals" in the README). The grace period must cover nginx's
// preStop + nginx's drain (its FastCGI timeouts) + this.
const APP_DRAIN_S = 30;
// The app's default sliding session TTL (SESSIONLAB_TTL, fcgi-app/src/server/config.c).
const APP_TTL_DEFAULT_S = 1800;
// Probe paths of the app pods: none of them may depend on the session store
// (/readyz is pod-local, /healthz and /nginx-healthz never touch it).
const STORE_FREE_PATHS = new Set(["/readyz", "/healthz", "/nginx-healthz"]);
const objsByOverlay = new Map();
// Production runs Redis under Sentinel: StatefulSets `redis` and `sentinel`
// (see sentinelChecks). Every overlay's Redis image, to compare them.
const redisImages = new Map(); // overlay -> Set of images

// ---- type index from the models' .d.ts files (for unknown-field checks) ----
const types = new Map(); // global interface name -> Map(prop -> type string)
const extendsOf = new Map(); // global interface name -> [base interface names]
function indexDir(dir) {
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) { if (ent.name !== "_schemas" && ent.name !== "node_modules") indexDir(p); continue; }
    if (!ent.name.endsWith(".d.ts")) continue;
    const src = fs.readFileSync(p, "utf8");
    const alias = new Map();
    for (const m of src.matchAll(/export type \{([^}]*)\}/g))
      for (const part of m[1].split(",")) {
        const am = part.trim().match(/^(\w+) as (\w+)$/);
        if (am && am[1].startsWith("I")) alias.set(am[1], am[2]);
      }
    for (const m of src.matchAll(/export interface (\w+)(?: extends ([^{]+))? \{\n([\s\S]*?)\n\}/g)) {
      // One property per line at 4 spaces ("name"?: TYPE;), or a TYPE that
      // spans lines until the next line at 4 spaces (maps, inline objects).
      const props = new Map();
      const lines = m[3].split("\n");
      for (let i = 0; i < lines.length; i++) {
        const pm = lines[i].match(/^ {4}"([^"]+)"\??: (.*)$/);
        if (!pm) continue;
        let t = pm[2];
        while (!/;$/.test(t) || /^ {5}/.test(lines[i + 1] ?? "")) {
          if (++i >= lines.length) break;
          t += " " + lines[i].replace(/\/\*\*.*|^\s*\*.*$/g, "").trim();
        }
        props.set(pm[1], t.replace(/\s+/g, " ").replace(/;$/, ""));
      }
      // Inherited properties (Gateway API: HTTPRouteSpec extends
      // CommonRouteSpec...), merged in at the end when all are indexed.
      const bases = (m[2] ?? "").split(",").map((x) => x.trim()).filter((x) => /^IIoK8s\w+$/.test(x));
      if (bases.length) extendsOf.set(alias.get(m[1]) ?? m[1], bases);
      types.set(alias.get(m[1]) ?? m[1], props);
    }
  }
}
indexDir(modelsDir);
indexDir(path.join(modules, "@kubernetes-models/apimachinery"));
indexDir(gatewayDir);
function inherit(t, seen = new Set()) {
  if (seen.has(t)) return;
  seen.add(t);
  for (const b of extendsOf.get(t) ?? []) {
    inherit(b, seen);
    for (const [k, v] of types.get(b) ?? []) if (!types.get(t).has(k)) types.get(t).set(k, v);
  }
}
for (const t of extendsOf.keys()) inherit(t);
for (const t of ["IIoK8sApiAppsV1Deployment", "IIoK8sApiCoreV1Container", "IIoK8sApimachineryPkgApisMetaV1ObjectMeta",
                 "IIoK8sSigsGatewayApiApisV1HTTPRoute", "IIoK8sSigsGatewayApiApisV1SessionPersistence"])
  if (!types.get(t)?.size) throw new Error(`type index incomplete: no ${t} (kubernetes-models layout changed?)`);

function resolveType(t) {
  let m;
  if ((m = t.match(/^Array<(.+)>$/))) return { array: resolveType(m[1]) };
  if ((m = t.match(/^\{ ?\[key: string\]: ([^{};]+);? ?\}$/))) return { map: resolveType(m[1]) };
  if (types.has(t)) return { ref: t };
  return null; // scalar, literal union, IntOrString, Quantity...
}
function walkStrict(value, typeName, where, errors) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return;
  const props = types.get(typeName);
  for (const [k, v] of Object.entries(value)) {
    if (!props.has(k)) { errors.push(`${where}.${k}: unknown field (${typeName.replace(/^IIoK8s/, "")})`); continue; }
    walkValue(v, resolveType(props.get(k)), `${where}.${k}`, errors);
  }
}
function walkValue(v, rt, where, errors) {
  if (!rt || v === null || v === undefined) return;
  if (rt.ref) return walkStrict(v, rt.ref, where, errors);
  if (rt.array && Array.isArray(v)) return v.forEach((x, i) => walkValue(x, rt.array, `${where}[${i}]`, errors));
  if (rt.map && typeof v === "object") for (const [k, x] of Object.entries(v)) walkValue(x, rt.map, `${where}[${k}]`, errors);
}

// ---- schema validation through the models ----
async function modelFor(obj) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
  const base = group?.startsWith("gateway.networking.") ? gatewayDir : modelsDir;
  const dir = group ? path.join(base, group, version) : path.join(base, version);
  const js = path.join(dir, `${obj.kind}.js`);
  if (!fs.existsSync(js)) return null;
  const mod = await import(pathToFileURL(js).href);
  const dts = fs.readFileSync(path.join(dir, `${obj.kind}.d.ts`), "utf8");
  const g = dts.match(new RegExp(`I${obj.kind} as (\\w+)`));
  return { Cls: mod[obj.kind], typeName: g ? g[1] : `I${obj.kind}` };
}

// ---- policy ----
const imageOk = (img) => /^[^:@\s]+(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/.test(img)
  && (/:[\w][\w.-]*$/.test(img.split("/").pop()) || img.includes("@sha256:"))
  && !/:latest$/.test(img);

function podChecks(d, errs) {
  const spec = d.spec.template.spec;
  const where = `${d.kind}/${d.metadata.name}`;
  const inits = new Set((spec.initContainers ?? []).filter((c) => c.restartPolicy !== "Always"));
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const cw = `${where} container ${c.name}`;
    if (!imageOk(c.image)) errs.push(`${cw}: image "${c.image}" must have a version tag, not latest`);
    const r = c.resources ?? {};
    for (const kind of ["requests", "limits"]) for (const res of ["cpu", "memory"])
      if (!r[kind]?.[res]) errs.push(`${cw}: no resources.${kind}.${res}`);
    const nonRoot = c.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot;
    if (nonRoot !== true) errs.push(`${cw}: runAsNonRoot is not true`);
    const uid = c.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
    if (uid === 0) errs.push(`${cw}: runAsUser 0`);
    if (c.securityContext?.allowPrivilegeEscalation !== false) errs.push(`${cw}: allowPrivilegeEscalation is not false`);
    if (c.securityContext?.readOnlyRootFilesystem !== true) errs.push(`${cw}: readOnlyRootFilesystem is not true`);
    // Init containers run to completion: the API refuses probes on them.
    if (!inits.has(c) && !c.livenessProbe) errs.push(`${cw}: no livenessProbe`);
    if (!inits.has(c) && d.kind === "StatefulSet" && !c.readinessProbe) errs.push(`${cw}: no readinessProbe`);
  }
}

const confLines = (text) => (text ?? "").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
const labelsMatch = (sel, labels) => Object.keys(sel ?? {}).length > 0
  && Object.entries(sel).every(([k, v]) => labels?.[k] === v);

// Production's Redis: replication + Sentinel, the app on redis-sentinel://.
function sentinelChecks(exp, objs, find, appEnv, errs) {
  const redis = find("StatefulSet", "redis"), sen = find("StatefulSet", "sentinel");
  if (!redis || !sen) return errs.push("no StatefulSets redis and sentinel (Redis under Sentinel)");
  if (find("Deployment", "redis")) errs.push("a Deployment redis next to the Sentinel-managed StatefulSet");
  if (redis.spec.replicas !== exp.redisPods) errs.push(`StatefulSet redis has ${redis.spec.replicas} pods, want ${exp.redisPods}`);
  if (sen.spec.replicas !== exp.sentinels) errs.push(`StatefulSet sentinel has ${sen.spec.replicas} pods, want ${exp.sentinels}`);
  const pdbs = objs.filter((o) => o.kind === "PodDisruptionBudget");
  for (const s of [redis, sen]) {
    const w = `StatefulSet ${s.metadata.name}`, podLabels = s.spec.template.metadata.labels;
    const svc = find("Service", s.spec.serviceName);
    if (!svc || svc.spec.clusterIP !== "None") errs.push(`${w}: serviceName ${s.spec.serviceName} is not a headless Service in the output`);
    else {
      if (!labelsMatch(svc.spec.selector, podLabels)) errs.push(`Service ${svc.metadata.name} does not select the ${s.metadata.name} pods`);
      if (svc.spec.publishNotReadyAddresses !== true) errs.push(`Service ${svc.metadata.name}: publishNotReadyAddresses is not true (pods must find each other before ready)`);
    }
    const pdb = pdbs.find((p) => labelsMatch(p.spec.selector?.matchLabels, podLabels));
    if (!pdb) errs.push(`${w}: no PodDisruptionBudget`);
    else if (!(pdb.spec.minAvailable >= Math.floor(s.spec.replicas / 2) + 1 || pdb.spec.maxUnavailable === 1))
      errs.push(`${w}: PodDisruptionBudget lets a drain take the majority`);
    if (!(s.spec.template.spec.topologySpreadConstraints ?? []).some((t) => t.topologyKey === "kubernetes.io/hostname"
        && labelsMatch(t.labelSelector?.matchLabels, podLabels))) errs.push(`${w}: no topology spread across nodes`);
  }
  // The configuration both StatefulSets mount (generated: hash suffix).
  const cmOf = (s) => {
    const v = (s.spec.template.spec.volumes ?? []).find((x) => x.configMap);
    return v && find("ConfigMap", v.configMap.name);
  };
  const cm = cmOf(redis);
  if (!cm || cmOf(sen) !== cm) return errs.push("StatefulSets redis and sentinel do not mount one ConfigMap present in the output");
  if (!/-[a-z0-9]{10}$/.test(cm.metadata.name)) errs.push(`ConfigMap ${cm.metadata.name} is not generated (no content hash suffix)`);
  const rconf = confLines(cm.data?.["redis.conf"]), sconf = confLines(cm.data?.["sentinel.conf"]);
  // Redis: AOF into the directory a volumeClaimTemplates PVC is mounted on.
  if (!rconf.includes("appendonly yes")) errs.push("redis.conf: no appendonly yes");
  const rc = redis.spec.template.spec.containers.find((c) => c.name === "redis");
  const vct = (redis.spec.volumeClaimTemplates ?? []).map((t) => t.metadata?.name);
  const mount = rc?.volumeMounts?.find((m) => vct.includes(m.name));
  if (!mount) errs.push("Redis data is not on a PersistentVolumeClaim (volumeClaimTemplates)");
  const dir = rconf.find((l) => l.startsWith("dir "))?.split(/\s+/)[1];
  if (mount && dir !== mount.mountPath) errs.push(`redis.conf dir ${dir} is not the PVC's mount path ${mount.mountPath}`);
  // Sentinel: hostnames (pod IPs change), then the monitor line with a majority quorum.
  const mon = sconf.findIndex((l) => l.startsWith("sentinel monitor "));
  const [, , master, , mport, quorum] = mon >= 0 ? sconf[mon].split(/\s+/) : [];
  if (mon < 0) errs.push("sentinel.conf: no sentinel monitor");
  else {
    for (const l of ["sentinel resolve-hostnames yes", "sentinel announce-hostnames yes"]) {
      const i = sconf.indexOf(l);
      if (i < 0 || i > mon) errs.push(`sentinel.conf: no "${l}" before sentinel monitor`);
    }
    if (Number(quorum) !== Math.floor(exp.sentinels / 2) + 1) errs.push(`sentinel quorum ${quorum}, want ${Math.floor(exp.sentinels / 2) + 1} of ${exp.sentinels}`);
    if (mport !== "6379") errs.push(`sentinel monitors port ${mport}, Redis listens on 6379`);
    for (const k of ["down-after-milliseconds", "failover-timeout"])
      if (!sconf.some((l) => l.startsWith(`sentinel ${k} ${master} `))) errs.push(`sentinel.conf: no ${k} for ${master}`);
  }
  // The app asks exactly these sentinels for that master.
  const url = appEnv.SESSIONLAB_REDIS_URL ?? "";
  const um = url.match(/^redis-sentinel:\/\/([^/@]+)\/([^/]+)(\/\d+)?$/);
  const want = Array.from({ length: sen.spec.replicas }, (_, i) => `sentinel-${i}.${sen.spec.serviceName}:26379`);
  if (!um) errs.push(`app SESSIONLAB_REDIS_URL "${url}" is not redis-sentinel://`);
  else {
    if (um[1].split(",").sort().join(",") !== want.join(",")) errs.push(`app SESSIONLAB_REDIS_URL names ${um[1]}, want ${want.join(",")}`);
    if (master && um[2] !== master) errs.push(`app asks for master ${um[2]}, the sentinels monitor ${master}`);
  }
  const sc = sen.spec.template.spec.containers.find((c) => c.name === "sentinel");
  if (!sc?.ports?.some((p) => p.containerPort === 26379)) errs.push("sentinel container does not listen on 26379");
}

// A Redis Cluster (k8s/components/redis-cluster): StatefulSet
// `redis-cluster` of cluster-enabled nodes on 6379 + bus 16379, a headless
// Service, the bootstrap Job, the app on redis-cluster:// seeds.
function clusterChecks(exp, objs, find, app, errs) {
  const want = exp.cluster;
  const sts = find("StatefulSet", "redis-cluster");
  if (!sts) return errs.push("no StatefulSet redis-cluster (the Redis Cluster)");
  if (find("Deployment", "redis") || find("StatefulSet", "redis")) errs.push("a single Redis next to the Redis Cluster");
  if (sts.spec.replicas !== want.pods) errs.push(`StatefulSet redis-cluster has ${sts.spec.replicas} pods, want ${want.pods}`);
  const podLabels = sts.spec.template.metadata.labels;
  const hl = find("Service", sts.spec.serviceName);
  if (!hl || hl.spec.clusterIP !== "None") errs.push(`serviceName ${sts.spec.serviceName} is not a headless Service in the output`);
  else {
    if (!labelsMatch(hl.spec.selector, podLabels)) errs.push(`Service ${hl.metadata.name} does not select the cluster pods`);
    if (hl.spec.publishNotReadyAddresses !== true) errs.push(`Service ${hl.metadata.name}: publishNotReadyAddresses is not true (the nodes and the Job must reach pods before ready)`);
  }
  const rc = sts.spec.template.spec.containers.find((c) => c.name === "redis");
  if (!rc) return errs.push("StatefulSet redis-cluster has no container redis");
  const ports = new Set((rc.ports ?? []).map((p) => p.containerPort));
  for (const p of [6379, 16379]) if (!ports.has(p)) errs.push(`container redis does not declare port ${p}${p === 16379 ? " (cluster bus)" : ""}`);
  const args = [...(rc.command ?? []), ...(rc.args ?? [])].map(String);
  const arg = (k) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
  if (arg("--cluster-enabled") !== "yes") errs.push("redis-server without --cluster-enabled yes");
  if (arg("--port") !== undefined && arg("--port") !== "6379") errs.push(`redis-server --port ${arg("--port")}, want 6379 (bus 16379)`);
  if (arg("--cluster-port") !== undefined && arg("--cluster-port") !== "16379") errs.push(`--cluster-port ${arg("--cluster-port")}, want 16379`);
  // nodes.conf (the node's identity) and the data on a PersistentVolumeClaim.
  const vct = (sts.spec.volumeClaimTemplates ?? []).map((t) => t.metadata?.name);
  const mount = (rc.volumeMounts ?? []).find((m) => vct.includes(m.name));
  const cfile = arg("--cluster-config-file") ?? "nodes.conf";
  const dir = arg("--dir") ?? "/data";
  const cpath = cfile.startsWith("/") ? cfile : `${dir}/${cfile}`;
  if (!mount) errs.push("cluster node data is not on a PersistentVolumeClaim (volumeClaimTemplates)");
  else if (!cpath.startsWith(`${mount.mountPath}/`)) errs.push(`nodes.conf at ${cpath}, not on the PVC at ${mount.mountPath}`);
  // The password from the Secret, for clients and for replicas.
  const list = envOf(rc);
  for (const k of ["--requirepass", "--masterauth"]) {
    const vm = String(arg(k) ?? "").match(/^\$\((\w+)\)$/);
    if (!vm) { errs.push(`redis-server has no ${k} $(VAR)`); continue; }
    const e = list.find((x) => x.name === vm[1]);
    if (!isRedisAuth(e)) errs.push(`redis-server ${k} $(${vm[1]}): ${vm[1]} is not secretKeyRef redis-auth/password`);
  }
  if (/redis-cli/.test(rc.readinessProbe?.exec?.command?.join(" ") ?? "") && !isRedisAuth(list.find((e) => e.name === "REDISCLI_AUTH")))
    errs.push("redis-cluster readiness redis-cli without REDISCLI_AUTH from redis-auth/password");
  // Nodes announce names that outlive a pod IP: <pod>.<headless service>.
  const ah = arg("--cluster-announce-hostname");
  if (ah !== `$(POD_NAME).${sts.spec.serviceName}`) errs.push(`--cluster-announce-hostname ${ah}, want $(POD_NAME).${sts.spec.serviceName}`);
  else if (list.find((e) => e.name === "POD_NAME")?.valueFrom?.fieldRef?.fieldPath !== "metadata.name") errs.push("POD_NAME is not the fieldRef metadata.name");
  if (arg("--cluster-preferred-endpoint-type") !== "hostname") errs.push("--cluster-preferred-endpoint-type is not hostname (MOVED would name pod IPs)");
  const pdb = objs.find((o) => o.kind === "PodDisruptionBudget" && labelsMatch(o.spec.selector?.matchLabels, podLabels));
  if (!pdb) errs.push("StatefulSet redis-cluster: no PodDisruptionBudget");
  else if (!(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable >= want.pods - 1)) errs.push("redis-cluster PodDisruptionBudget lets a drain take more than one node");
  if (!(sts.spec.template.spec.topologySpreadConstraints ?? []).some((t) => t.topologyKey === "kubernetes.io/hostname"
      && labelsMatch(t.labelSelector?.matchLabels, podLabels))) errs.push("StatefulSet redis-cluster: no topology spread across nodes");

  // The bootstrap Job: waits for the pods and runs redis-cli --cluster create (script in a ConfigMap).
  const jobs = objs.filter((o) => o.kind === "Job");
  const job = jobs.find((j) => j.metadata.name === "redis-cluster-create");
  if (!job) errs.push("no bootstrap Job redis-cluster-create");
  else {
    const js = job.spec.template.spec;
    if (!["OnFailure", "Never"].includes(js.restartPolicy)) errs.push(`Job restartPolicy ${js.restartPolicy}`);
    const jc = js.containers[0];
    const jenv = Object.fromEntries(envOf(jc).map((e) => [e.name, e.value]));
    if (Number(jenv.CLUSTER_PODS) !== want.pods) errs.push(`Job CLUSTER_PODS ${jenv.CLUSTER_PODS}, want ${want.pods}`);
    if (Number(jenv.CLUSTER_REPLICAS) !== want.replicasPerPrimary) errs.push(`Job CLUSTER_REPLICAS ${jenv.CLUSTER_REPLICAS}, want ${want.replicasPerPrimary}`);
    if (!isRedisAuth(envOf(jc).find((e) => e.name === "REDISCLI_AUTH"))) errs.push("Job: REDISCLI_AUTH is not secretKeyRef redis-auth/password");
    if (jc.image !== REDIS_IMAGE) errs.push(`Job image ${jc.image}, want ${REDIS_IMAGE}`);
    if (jc.securityContext?.allowPrivilegeEscalation !== false || jc.securityContext?.readOnlyRootFilesystem !== true
        || (jc.securityContext?.runAsNonRoot ?? js.securityContext?.runAsNonRoot) !== true) errs.push("Job container is not non-root, read-only, without privilege escalation");
    for (const kind of ["requests", "limits"]) for (const res of ["cpu", "memory"])
      if (!jc.resources?.[kind]?.[res]) errs.push(`Job: no resources.${kind}.${res}`);
    const vol = (js.volumes ?? []).find((v) => v.configMap);
    const cm = vol && find("ConfigMap", vol.configMap.name);
    const script = cm ? Object.values(cm.data ?? {}).join("\n") : "";
    const cmd = [...(jc.command ?? []), ...(jc.args ?? [])].join(" ");
    if (!cm) errs.push("Job mounts no ConfigMap present in the output");
    else {
      if (!/-[a-z0-9]{10}$/.test(cm.metadata.name)) errs.push(`ConfigMap ${cm.metadata.name} is not generated (no content hash suffix)`);
      if (!Object.keys(cm.data ?? {}).some((f) => cmd.includes(f))) errs.push(`Job command "${cmd}" runs no script of ConfigMap ${cm.metadata.name}`);
      if (!/redis-cli --cluster create\b/.test(script) || !/--cluster-replicas\b/.test(script) || !/--cluster-yes\b/.test(script))
        errs.push("the bootstrap script does not run redis-cli --cluster create ... --cluster-replicas N --cluster-yes");
      if (!/cluster_slots_assigned/.test(script)) errs.push("the bootstrap script does not check whether the cluster exists (not idempotent)");
    }
  }

  // The app: redis-cluster:// with the password from the Secret, every pod as a seed.
  const al = envOf(app);
  const pi = al.findIndex((e) => e.name === "SESSIONLAB_REDIS_PASSWORD");
  const ui = al.findIndex((e) => e.name === "SESSIONLAB_REDIS_URL");
  if (pi < 0 || !isRedisAuth(al[pi])) errs.push("app SESSIONLAB_REDIS_PASSWORD is not secretKeyRef redis-auth/password");
  if (pi >= 0 && ui >= 0 && pi > ui) errs.push("app env: SESSIONLAB_REDIS_PASSWORD comes after SESSIONLAB_REDIS_URL (the kubelet expands $(VAR) only from earlier entries)");
  const url = al[ui]?.value ?? "";
  const um = url.match(/^redis-cluster:\/\/:\$\(SESSIONLAB_REDIS_PASSWORD\)@([^/@]+)$/);
  const seeds = Array.from({ length: want.pods }, (_, i) => `${sts.metadata.name}-${i}.${sts.spec.serviceName}:6379`);
  if (!um) errs.push(`app SESSIONLAB_REDIS_URL "${url}" is not redis-cluster://:$(SESSIONLAB_REDIS_PASSWORD)@host:port,...`);
  else if (um[1].split(",").sort().join(",") !== seeds.join(",")) errs.push(`app seeds ${um[1]}, want ${seeds.join(",")}`);

  // Only the app and the Job on 6379; the cluster's own pods on 6379 + 16379.
  const nps = objs.filter((o) => o.kind === "NetworkPolicy" && labelsMatch(o.spec.podSelector?.matchLabels, podLabels));
  if (!nps.length) errs.push("no NetworkPolicy selecting the cluster pods");
  const jobLabels = job?.spec.template.metadata.labels ?? {};
  const opened = new Map(); // "who" -> Set(ports)
  for (const np of nps) {
    const w = `NetworkPolicy ${np.metadata.name}`;
    if (!(np.spec.policyTypes ?? ["Ingress"]).includes("Ingress")) errs.push(`${w}: not an Ingress policy`);
    for (const r of np.spec.ingress ?? []) {
      const from = r.from ?? [];
      const ports = (r.ports ?? []).map((p) => ((p.protocol ?? "TCP") === "TCP" && !p.endPort ? p.port : `bad ${JSON.stringify(p)}`));
      if (!from.length || !ports.length) { errs.push(`${w}: a rule admits everyone or every port`); continue; }
      for (const f of from) {
        const sel = f.podSelector?.matchLabels;
        const who = f.ipBlock || f.namespaceSelector || !sel ? "other"
          : JSON.stringify(sel) === JSON.stringify({ app: exp.app }) ? "app"
          : labelsMatch(sel, jobLabels) ? "job" : labelsMatch(sel, podLabels) ? "cluster" : "other";
        if (!opened.has(who)) opened.set(who, new Set());
        for (const p of ports) opened.get(who).add(p);
      }
    }
  }
  const is = (who, list) => JSON.stringify([...(opened.get(who) ?? [])].sort()) === JSON.stringify(list);
  if (opened.has("other")) errs.push("a NetworkPolicy rule admits pods other than the app, the Job and the cluster's own");
  if (!is("app", [6379])) errs.push(`the app pods may reach ports [${[...(opened.get("app") ?? [])]}], want [6379]`);
  if (job && !is("job", [6379])) errs.push(`the bootstrap Job may reach ports [${[...(opened.get("job") ?? [])]}], want [6379]`);
  if (!is("cluster", [16379, 6379])) errs.push(`the cluster pods may reach each other on [${[...(opened.get("cluster") ?? [])]}], want [6379, 16379]`);
}
const envOf = (c) => (c?.env ?? []);
const secretRef = (e) => e?.valueFrom?.secretKeyRef;
const isRedisAuth = (e) => secretRef(e)?.name === "redis-auth" && secretRef(e)?.key === "password";
// "30s", "1m", 30 -> seconds (nginx and Gateway API durations).
function seconds(v) {
  if (typeof v === "number") return v;
  let total = 0, m, any = false;
  const re = /(\d+)(ms|h|m|s)?/g;
  while ((m = re.exec(String(v).trim()))) {
    any = true;
    const n = Number(m[1]);
    total += m[2] === "h" ? n * 3600 : m[2] === "m" ? n * 60 : m[2] === "ms" ? n / 1000 : n;
  }
  return any ? total : NaN;
}
// `location = PATH { ... return ...; }` blocks of an nginx file: nginx alone answers PATH.
function nginxOnlyLocations(conf) {
  const out = new Set();
  for (const m of (conf ?? "").matchAll(/location\s*=\s*(\S+)\s*\{([^}]*)\}/g))
    if (/\breturn\s+200\b/.test(m[2]) && !/_pass\b/.test(m[2])) out.add(m[1]);
  return out;
}

// The redis-tls component: the pod's nginx carries the app's plain Redis
// connection over TLS to a Redis outside the cluster (nginx-conf/redis-tls-*.conf).
const REDIS_TLS_DIR_DEFAULT = "/etc/sessionlab/redis-tls";
const REDIS_TLS_LISTEN_DEFAULT = "127.0.0.1:6379";
// An env entry's value: literal, or a configMapKeyRef into an object of the
// output. undefined when unset or unresolvable (errs says why).
function envValue(c, n, find, errs) {
  const e = envOf(c).find((x) => x.name === n);
  if (!e) return undefined;
  if (e.value !== undefined) return e.value;
  const ref = e.valueFrom?.configMapKeyRef;
  if (!ref) { errs.push(`container ${c.name} env ${n}: neither a value nor a configMapKeyRef`); return undefined; }
  const cm = find("ConfigMap", ref.name);
  if (!cm) { errs.push(`container ${c.name} env ${n}: ConfigMap ${ref.name} is not in the output`); return undefined; }
  const v = cm.data?.[ref.key];
  if (v === undefined && !ref.optional) errs.push(`container ${c.name} env ${n}: ConfigMap ${ref.name} has no key ${ref.key}`);
  return v;
}
function redisTlsChecks(name, objs, find, spec, nginx, app, errs) {
  const v = (n) => envValue(nginx, n, find, errs);
  const upstream = v("SESSIONLAB_REDIS_TLS");
  const tlsName = v("SESSIONLAB_REDIS_TLS_NAME");
  const listen = v("SESSIONLAB_REDIS_TLS_LISTEN") ?? REDIS_TLS_LISTEN_DEFAULT;
  const dir = v("SESSIONLAB_REDIS_TLS_DIR") ?? REDIS_TLS_DIR_DEFAULT;
  const hm = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d+)$/.exec(upstream ?? "");
  if (!hm) errs.push(`nginx SESSIONLAB_REDIS_TLS "${upstream}" is not HOST:PORT (the TLS endpoint)`);
  else if (/^[0-9.]+$|^\[/.test(hm[1]) && !tlsName)
    errs.push(`nginx SESSIONLAB_REDIS_TLS ${upstream} is an address and no SESSIONLAB_REDIS_TLS_NAME (nginx matches no IP address in a certificate)`);
  else if (!/^[0-9.]+$|^\[/.test(hm[1]) && !hm[1].includes("."))
    errs.push(`nginx SESSIONLAB_REDIS_TLS host ${hm[1]} is not a full DNS name (nginx's resolver uses no search list)`);
  // The proxy listens on the pod's loopback only, and the app talks to it.
  const lm = /^127\.0\.0\.1:(\d+)$/.exec(listen);
  if (!lm) errs.push(`nginx SESSIONLAB_REDIS_TLS_LISTEN ${listen} is not 127.0.0.1:PORT (plain RESP must stay in the pod)`);
  const list = envOf(app);
  const pi = list.findIndex((e) => e.name === "SESSIONLAB_REDIS_PASSWORD");
  const ui = list.findIndex((e) => e.name === "SESSIONLAB_REDIS_URL");
  const url = list[ui]?.value ?? "";
  const um = /^redis:\/\/(?:[^@/]*@)?127\.0\.0\.1:(\d+)(\/\d+)?$/.exec(url);
  if (!um) errs.push(`app SESSIONLAB_REDIS_URL "${url}" is not redis://[...@]127.0.0.1:PORT[/db] (the pod's nginx)`);
  else if (lm && um[1] !== lm[1]) errs.push(`app SESSIONLAB_REDIS_URL port ${um[1]} is not nginx's SESSIONLAB_REDIS_TLS_LISTEN port ${lm[1]}`);
  if (/\$\(SESSIONLAB_REDIS_PASSWORD\)/.test(url)) {
    if (pi < 0 || !isRedisAuth(list[pi])) errs.push("app SESSIONLAB_REDIS_PASSWORD is not secretKeyRef redis-auth/password");
    if (pi > ui) errs.push("app env: SESSIONLAB_REDIS_PASSWORD comes after SESSIONLAB_REDIS_URL (the kubelet expands $(VAR) only from earlier entries)");
  }
  // The CA (and client certificate) from a Secret, mounted read-only where the entrypoint looks.
  const mount = (nginx.volumeMounts ?? []).find((m) => m.mountPath === dir);
  const vol = mount && (spec.volumes ?? []).find((x) => x.name === mount.name);
  if (!mount) errs.push(`nginx mounts nothing at SESSIONLAB_REDIS_TLS_DIR ${dir} (ca.crt, tls.crt, tls.key)`);
  else if (!vol?.secret) errs.push(`nginx's ${dir} is not a Secret volume`);
  else {
    if (mount.readOnly !== true) errs.push(`nginx's ${dir} mount is not readOnly`);
    if (vol.secret.optional) errs.push(`Secret volume ${vol.secret.secretName} is optional: nginx would start without its CA`);
    const mode = vol.secret.defaultMode ?? 0o644;
    if (mode & 0o007) errs.push(`Secret volume ${vol.secret.secretName}: defaultMode 0${mode.toString(8)} lets every user read the client key`);
  }
  // No Redis of the cluster, and no Sentinel or Cluster URL: one endpoint.
  for (const k of ["Deployment", "StatefulSet", "Service"])
    if (find(k, "redis")) errs.push(`${k} redis in an overlay whose Redis is outside the cluster (redis-tls)`);
  // The piece itself, as the ConfigMap carries it: TLS, verified, SNI.
  const vol2 = (spec.volumes ?? []).find((x) => x.configMap && (nginx.volumeMounts ?? []).some((m) => m.name === x.name));
  const cm = vol2 && find("ConfigMap", vol2.configMap.name);
  const srv = confLines(cm?.data?.["redis-tls-server.conf"]);
  for (const l of ["proxy_ssl on;", "proxy_ssl_verify on;", "proxy_ssl_server_name on;"])
    if (!srv.includes(l)) errs.push(`redis-tls-server.conf has no "${l}"`);
  for (const l of srv) if (/^proxy_ssl(_verify|_server_name)?\s+off;/.test(l)) errs.push(`redis-tls-server.conf: "${l}"`);
  if (!confLines(cm?.data?.["redis-tls-stream.conf"]).length) errs.push("the ConfigMap has no redis-tls-stream.conf");
  // For nginx -t in tests/containers/manifests: what the entrypoint will see.
  const lines = [];
  for (const e of envOf(nginx)) {
    if (!e.name.startsWith("SESSIONLAB_")) continue;
    const val = envValue(nginx, e.name, find, []);
    if (val !== undefined) lines.push(`${e.name}=${val}`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, `${name}.nginx-env`), lines.join("\n") + "\n");
}

function policy(name, objs) {
  const errs = [];
  const exp = EXPECT[name];
  if (!exp) return [`no expectations for overlay ${name} (add it to EXPECT)`];
  objsByOverlay.set(name, objs);
  const find = (kind, n) => objs.find((o) => o.kind === kind && o.metadata?.name === n);
  const seen = new Set();
  for (const o of objs) {
    const id = `${o.kind}/${o.metadata?.name}`;
    if (seen.has(id)) errs.push(`${id} appears twice`);
    seen.add(id);
  }
  const workloads = objs.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
  for (const d of workloads) podChecks(d, errs);
  const imgs = new Set();
  for (const d of workloads)
    for (const c of [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers])
      if (/^(docker\.io\/(library\/)?)?redis([:@]|$)/.test(c.image)) {
        imgs.add(c.image);
        if (c.image !== REDIS_IMAGE) errs.push(`${d.kind}/${d.metadata.name} container ${c.name}: image ${c.image}, want ${REDIS_IMAGE}`);
      }
  redisImages.set(name, imgs);

  const appName = exp.app;
  const dep = find("Deployment", appName);
  if (!dep) return [...errs, `no Deployment ${appName} (the lab's name for this step)`];
  const spec = dep.spec.template.spec;
  if (dep.spec.replicas !== exp.replicas) errs.push(`replicas ${dep.spec.replicas}, want ${exp.replicas}`);
  if (dep.metadata.labels?.app !== appName) errs.push(`Deployment ${appName}: label app is ${dep.metadata.labels?.app}, want ${appName}`);
  if (dep.spec.selector?.matchLabels?.app !== appName) errs.push(`Deployment ${appName}: selector has no app=${appName}`);
  if (dep.spec.template.metadata?.labels?.app !== appName) errs.push(`Deployment ${appName}: pod label app is not ${appName}`);
  // The app: a native sidecar (init container, restartPolicy Always); nginx the only regular container.
  const names = spec.containers.map((c) => c.name).join(",");
  if (names !== "nginx") errs.push(`app pod containers are [${names}], want [nginx] (the app is a sidecar)`);
  const nginx = spec.containers.find((c) => c.name === "nginx");
  const sidecar = (spec.initContainers ?? []).find((c) => c.name === "app");
  // A regular container app (the old shape) still gets the checks below.
  const app = sidecar ?? spec.containers.find((c) => c.name === "app");
  if (!sidecar) errs.push("no init container app (native sidecar)");
  else if (app.restartPolicy !== "Always") errs.push(`init container app: restartPolicy ${app.restartPolicy}, want Always (native sidecar: starts first, stops last)`);
  if (app && !app.startupProbe && !app.readinessProbe) errs.push("app sidecar has neither startupProbe nor readinessProbe (nginx would start before it serves)");
  if (nginx && app) {
    const port = (p) => (p === "http" || p === 8080);
    if (nginx.readinessProbe?.httpGet?.path !== "/readyz" || !port(nginx.readinessProbe.httpGet.port))
      errs.push("nginx readinessProbe is not GET /readyz on 8080");
    if (!/healthcheck$/.test(app.livenessProbe?.exec?.command?.[0] ?? "") || app.livenessProbe.exec.command[1] !== "/healthz")
      errs.push("app livenessProbe is not the FastCGI health check of /healthz");
    // preStop only on nginx (sleep N: endpoint removal), none on the app.
    for (const c of [...(spec.initContainers ?? []), ...spec.containers])
      if (c !== nginx && c.lifecycle?.preStop) errs.push(`container ${c.name}: preStop (only nginx waits; the sidecar stops after it)`);
    const sleep = nginx.lifecycle?.preStop?.exec?.command;
    const preStopS = sleep?.[0] === "sleep" ? Number(sleep[1]) : NaN;
    if (!(preStopS > 0)) errs.push("nginx has no preStop sleep N");
    // No probe of the app pod may depend on the session store.
    for (const c of [...(spec.initContainers ?? []), ...spec.containers])
      for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"]) {
        const pr = c[kind];
        if (!pr) continue;
        if (pr.httpGet && !STORE_FREE_PATHS.has(pr.httpGet.path)) errs.push(`container ${c.name} ${kind}: path ${pr.httpGet.path} is not a store-free path`);
        if (pr.exec && /redis/.test(pr.exec.command.join(" "))) errs.push(`container ${c.name} ${kind}: touches Redis`);
        if (pr.exec && pr.exec.command.some((a) => a.startsWith("/") && !STORE_FREE_PATHS.has(a) && !/^\/usr\//.test(a)))
          errs.push(`container ${c.name} ${kind}: ${pr.exec.command.join(" ")} is not a store-free path`);
      }
    const env = Object.fromEntries(envOf(app).map((e) => [e.name, e.value]));
    if (!/^(127\.0\.0\.1:\d+|unix:\/.+)$/.test(env.SESSIONLAB_LISTEN ?? ""))
      errs.push(`app SESSIONLAB_LISTEN "${env.SESSIONLAB_LISTEN}" is not loopback or a unix socket`);
    if ((env.SESSIONLAB_STORE ?? "memory") !== exp.store) errs.push(`app store ${env.SESSIONLAB_STORE}, want ${exp.store}`);
    if (exp.redisTls) redisTlsChecks(name, objs, find, spec, nginx, app, errs);
    else if (envOf(nginx).some((e) => e.name.startsWith("SESSIONLAB_REDIS_TLS")))
      errs.push("nginx has SESSIONLAB_REDIS_TLS* settings outside a redis-tls overlay");
    if (exp.redisTls) { /* above */ }
    else if (exp.sentinels) sentinelChecks(exp, objs, find, env, errs);
    else if (exp.cluster) clusterChecks(exp, objs, find, app, errs);
    else if (exp.store === "redis") {
      // Password from the Secret, declared before the URL that expands it.
      const list = envOf(app);
      const pi = list.findIndex((e) => e.name === "SESSIONLAB_REDIS_PASSWORD");
      const ui = list.findIndex((e) => e.name === "SESSIONLAB_REDIS_URL");
      if (pi < 0 || !isRedisAuth(list[pi])) errs.push("app SESSIONLAB_REDIS_PASSWORD is not secretKeyRef redis-auth/password");
      if (!/^redis:\/\/:\$\(SESSIONLAB_REDIS_PASSWORD\)@redis:6379\//.test(env.SESSIONLAB_REDIS_URL ?? ""))
        errs.push(`app SESSIONLAB_REDIS_URL "${env.SESSIONLAB_REDIS_URL}" is not redis://:$(SESSIONLAB_REDIS_PASSWORD)@redis:6379/...`);
      if (pi >= 0 && ui >= 0 && pi > ui) errs.push("app env: SESSIONLAB_REDIS_PASSWORD comes after SESSIONLAB_REDIS_URL (the kubelet expands $(VAR) only from earlier entries)");
    }
    for (const k of Object.keys(env)) if (k.startsWith("REDIS_")) errs.push(`app env ${k}: settings are SESSIONLAB_*`);
    // The nginx ConfigMap: mounted, generated, and equal to nginx-conf/.
    const vol = (spec.volumes ?? []).find((v) => v.configMap && (nginx.volumeMounts ?? []).some((m) => m.name === v.name));
    const cm = vol && find("ConfigMap", vol.configMap.name);
    if (!cm) errs.push("nginx has no ConfigMap volume present in the output");
    else {
      if (!new RegExp(`^${appName}-nginx-conf-[a-z0-9]{10}$`).test(cm.metadata.name))
        errs.push(`ConfigMap ${cm.metadata.name} is not ${appName}-nginx-conf-<hash> (generated, named after the app)`);
      const want = fs.readdirSync(nginxConfDir).filter((f) => f.endsWith(".conf")).sort();
      const have = Object.keys(cm.data ?? {}).sort();
      if (want.join(" ") !== have.join(" ")) errs.push(`ConfigMap files [${have}] differ from nginx-conf/ [${want}]`);
      for (const f of want) if (cm.data?.[f] !== undefined && cm.data[f] !== fs.readFileSync(path.join(nginxConfDir, f), "utf8"))
        errs.push(`ConfigMap ${f} differs from nginx-conf/${f}: run k8s/sync-nginx-conf`);
      fs.mkdirSync(path.join(outDir, name), { recursive: true });
      for (const [f, text] of Object.entries(cm.data ?? {})) fs.writeFileSync(path.join(outDir, name, f), text);
      // nginx's liveness: a location nginx answers itself, not the app's.
      const srv = cm.data?.["sessionlab-server.conf"] ?? "";
      const lp = nginx.livenessProbe?.httpGet;
      if (!lp || !port(lp.port)) errs.push("nginx livenessProbe is not an httpGet on 8080");
      else if (!nginxOnlyLocations(srv).has(lp.path))
        errs.push(`nginx livenessProbe path ${lp.path} is not an nginx-only location (location = PATH { return 200 }) of sessionlab-server.conf: it reaches the app`);
      // Grace period >= preStop + nginx's drain (its longest FastCGI timeout) + the app's drain.
      const t = (k) => seconds(srv.match(new RegExp(`^\\s*${k}\\s+(\\S+);`, "m"))?.[1] ?? "60s");
      const nginxDrain = Math.max(t("fastcgi_read_timeout"), t("fastcgi_send_timeout"));
      const grace = spec.terminationGracePeriodSeconds ?? 30;
      const need = preStopS + nginxDrain + APP_DRAIN_S;
      if (!(grace >= need)) errs.push(`terminationGracePeriodSeconds ${grace} < preStop ${preStopS} + nginx drain ${nginxDrain} + app drain ${APP_DRAIN_S} = ${need}`);
    }
  }
  const svc = find("Service", appName);
  if (!svc) errs.push(`no Service ${appName}`);
  else {
    const labels = dep.spec.template.metadata.labels;
    if (svc.spec.selector?.app !== appName) errs.push(`Service ${appName}: selector has no app=${appName}`);
    for (const [k, v] of Object.entries(svc.spec.selector ?? {})) if (labels[k] !== v) errs.push(`Service selector ${k}=${v} does not match the pods`);
    if ((svc.spec.type ?? "ClusterIP") !== exp.type) errs.push(`Service type ${svc.spec.type}, want ${exp.type}`);
    const np = svc.spec.ports?.[0]?.nodePort ?? null;
    if (np !== exp.nodePort) errs.push(`Service nodePort ${np}, want ${exp.nodePort}`);
    if (svc.spec.ports?.[0]?.port !== SERVICE_PORT) errs.push(`Service port ${svc.spec.ports?.[0]?.port}, want ${SERVICE_PORT}`);
    if ((svc.spec.sessionAffinity ?? "None") !== exp.affinity) errs.push(`Service sessionAffinity ${svc.spec.sessionAffinity}, want ${exp.affinity}`);
    if (exp.affinity === "ClientIP" && !svc.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds)
      errs.push("ClientIP affinity without a timeout");
    if (svc.spec.ports?.[0]?.targetPort !== "http") errs.push("Service targetPort is not the nginx port http");
  }
  const redisDep = find("Deployment", "redis"), redisSvc = find("Service", "redis");
  if (exp.sentinels || exp.redisTls || exp.cluster) {
    // checked in sentinelChecks, redisTlsChecks, clusterChecks
  } else if (exp.store === "redis") {
    if (!redisDep || !redisSvc) errs.push("store redis but no Deployment and Service named redis");
    else {
      if (redisSvc.spec.ports?.[0]?.port !== 6379) errs.push("Service redis is not on 6379");
      if (redisSvc.spec.selector?.app !== "redis" || redisDep.spec.template.metadata.labels?.app !== "redis"
          || redisDep.spec.selector?.matchLabels?.app !== "redis") errs.push("Redis pods, selector and Service are not app=redis");
      const rc = redisDep.spec.template.spec.containers.find((c) => c.name === "redis");
      const args = [...(rc?.command ?? []), ...(rc?.args ?? [])];
      const ri = args.indexOf("--requirepass");
      const vm = ri >= 0 ? String(args[ri + 1]).match(/^\$\((\w+)\)$/) : null;
      if (!vm) errs.push("Redis has no --requirepass $(VAR)");
      else {
        const list = envOf(rc), vi = list.findIndex((e) => e.name === vm[1]);
        if (vi < 0 || !isRedisAuth(list[vi])) errs.push(`Redis --requirepass $(${vm[1]}): ${vm[1]} is not secretKeyRef redis-auth/password`);
      }
      const auth = envOf(rc).find((e) => e.name === "REDISCLI_AUTH");
      if (/redis-cli/.test(rc?.readinessProbe?.exec?.command?.join(" ") ?? "") && !isRedisAuth(auth))
        errs.push("Redis readiness redis-cli without REDISCLI_AUTH from redis-auth/password");
    }
    // Only the app pods may reach Redis, on TCP 6379.
    const nps = objs.filter((o) => o.kind === "NetworkPolicy" && o.spec.podSelector?.matchLabels?.app === "redis");
    if (!nps.length) errs.push("no NetworkPolicy selecting app=redis");
    for (const np of nps) {
      const w = `NetworkPolicy ${np.metadata.name}`;
      if (!(np.spec.policyTypes ?? ["Ingress"]).includes("Ingress")) errs.push(`${w}: not an Ingress policy`);
      const rules = np.spec.ingress ?? [];
      if (!rules.length) errs.push(`${w}: no ingress rule (would deny the app too)`);
      for (const r of rules) {
        const from = r.from ?? [];
        if (!from.length || from.some((f) => f.ipBlock || f.namespaceSelector || !f.podSelector
            || JSON.stringify(f.podSelector) !== JSON.stringify({ matchLabels: { app: appName } })))
          errs.push(`${w}: a rule admits more than pods app=${appName}`);
        const ports = r.ports ?? [];
        if (ports.length !== 1 || ports[0].port !== 6379 || (ports[0].protocol ?? "TCP") !== "TCP" || ports[0].endPort)
          errs.push(`${w}: a rule opens more than TCP 6379`);
      }
    }
  } else if (redisDep || redisSvc) errs.push("memory store but a redis object is present");

  const ing = objs.filter((o) => o.kind === "Ingress");
  if (exp.ingressCookie) {
    const a = ing[0]?.metadata?.annotations ?? {};
    const P = "nginx.ingress.kubernetes.io/";
    if (a[`${P}affinity`] !== "cookie") errs.push(`Ingress annotation ${P}affinity is "${a[`${P}affinity`]}", want "cookie"`);
    for (const k of ["session-cookie-name", "session-cookie-samesite", "session-cookie-path"])
      if (!a[`${P}${k}`]) errs.push(`Ingress has no ${P}${k}`);
    // A session cookie: ingress-nginx never refreshes its cookie, so a max-age
    // would re-route an active user when it runs out.
    for (const k of ["session-cookie-max-age", "session-cookie-expires"])
      if (a[`${P}${k}`] !== undefined) errs.push(`Ingress sets ${P}${k}: the affinity cookie expires under an active user (use a session cookie)`);
    if (!["true", "false"].includes(a[`${P}session-cookie-change-on-failure`])) errs.push(`Ingress does not set ${P}session-cookie-change-on-failure`);
    if (ing[0]?.spec?.ingressClassName !== "nginx") errs.push("Ingress class is not nginx");
    const be = ing[0]?.spec?.rules?.[0]?.http?.paths?.[0]?.backend?.service;
    if (be?.name !== appName) errs.push(`Ingress backend is not Service ${appName}`);
  } else if (ing.length) errs.push("unexpected Ingress");

  const routes = objs.filter((o) => o.kind === "HTTPRoute");
  if (exp.gatewayCookie) {
    const r = routes[0];
    if (!r) errs.push("no HTTPRoute");
    else {
      if (r.apiVersion !== "gateway.networking.k8s.io/v1") errs.push(`HTTPRoute apiVersion ${r.apiVersion}, want gateway.networking.k8s.io/v1`);
      if (!(r.spec.parentRefs ?? []).length) errs.push("HTTPRoute has no parentRefs (the Gateway)");
      const ttl = Number(Object.fromEntries(envOf(app).map((e) => [e.name, e.value])).SESSIONLAB_TTL ?? APP_TTL_DEFAULT_S);
      for (const [i, rule] of (r.spec.rules ?? []).entries()) {
        const sp = rule.sessionPersistence, w = `HTTPRoute rule ${i}`;
        if (!sp) { errs.push(`${w}: no sessionPersistence`); continue; }
        if ((sp.type ?? "Cookie") !== "Cookie" || sp.type !== "Cookie") errs.push(`${w}: sessionPersistence type ${sp.type}, want Cookie`);
        if (sp.cookieConfig?.lifetimeType !== "Session") errs.push(`${w}: cookie lifetimeType ${sp.cookieConfig?.lifetimeType}, want Session`);
        if (seconds(sp.idleTimeout) !== ttl) errs.push(`${w}: idleTimeout ${sp.idleTimeout}, want the app's TTL ${ttl} s`);
        for (const b of rule.backendRefs ?? [])
          if (b.name !== appName || b.port !== SERVICE_PORT) errs.push(`${w}: backend ${b.name}:${b.port}, want ${appName}:${SERVICE_PORT}`);
      }
    }
  } else if (routes.length) errs.push("unexpected HTTPRoute");

  if (exp.production) {
    const pdb = objs.find((o) => o.kind === "PodDisruptionBudget" && labelsMatch(o.spec.selector?.matchLabels, dep.spec.template.metadata.labels));
    if (!pdb) errs.push("no PodDisruptionBudget selecting the app pods");
    const tsc = spec.topologySpreadConstraints ?? [];
    if (!tsc.some((t) => t.topologyKey === "kubernetes.io/hostname" && labelsMatch(t.labelSelector?.matchLabels, dep.spec.template.metadata.labels)))
      errs.push("no topology spread of the app pods across nodes");
  }
  return errs;
}

// Across overlays: steps 1-3 and 4-5 coexist in one namespace (no shared
// object, distinct selectors); step 5 applies over step 4 (the same objects,
// Redis unchanged).
function crossChecks() {
  const ids = (n) => new Set((objsByOverlay.get(n) ?? []).map((o) => `${o.kind}/${o.metadata?.name}`));
  const mem = ["step1-memory", "step2-memory-x3", "step3-memory-x3-clientip"], red = ["step4-redis", "step5-redis-x3"];
  if (![...mem, ...red].every((n) => objsByOverlay.has(n))) return;
  const errs = [];
  for (const m of mem) for (const r of red) {
    const shared = [...ids(m)].filter((x) => ids(r).has(x));
    if (shared.length) errs.push(`${m} and ${r} share ${shared.join(", ")} (cannot coexist in one namespace)`);
  }
  report(errs.length === 0, "policy steps 1-3 and 4-5 coexist in one namespace", errs);
  const e2 = [];
  const a = ids("step4-redis"), b = ids("step5-redis-x3");
  const diff = [...a].filter((x) => !b.has(x)).concat([...b].filter((x) => !a.has(x)));
  if (diff.length) e2.push(`objects in only one of step 4 and 5: ${diff.join(", ")} (apply over would leave or miss them)`);
  const r4 = objsByOverlay.get("step4-redis").find((o) => o.kind === "Deployment" && o.metadata.name === "redis");
  const r5 = objsByOverlay.get("step5-redis-x3").find((o) => o.kind === "Deployment" && o.metadata.name === "redis");
  if (JSON.stringify(r4) !== JSON.stringify(r5)) e2.push("Deployment redis differs between step 4 and 5 (applying step 5 would restart Redis)");
  report(e2.length === 0, "policy step 5 applies over step 4 (same objects, Redis untouched)", e2);
}

// docker/compose*.yaml name the same Redis image (the default of
// SESSIONLAB_REDIS_IMAGE, and any redis:TAG they mention).
function composeCheck() {
  const dir = path.join(nginxConfDir, "..", "docker");
  if (!fs.existsSync(dir)) return;
  const files = fs.readdirSync(dir).filter((f) => /^compose.*\.ya?ml$/.test(f)).sort();
  if (!files.length) return;
  const errs = [];
  let named = false;
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    for (const m of text.matchAll(/\$\{SESSIONLAB_REDIS_IMAGE:-([^}]+)\}/g))
      if (/^(docker\.io\/(library\/)?)?redis[:@]/.test(m[1]) && m[1] !== REDIS_IMAGE) errs.push(`docker/${f}: default SESSIONLAB_REDIS_IMAGE ${m[1]}, want ${REDIS_IMAGE}`);
    // An image reference redis:X.Y...: not sessionlab-redis:..., not the host:port redis:6379.
    for (const m of text.matchAll(/(?<![\w.@:-])(?:docker\.io\/(?:library\/)?)?(?<![\w.@:/-])redis:(\d+\.\d+[\w.-]*)/g))
      if (`redis:${m[1]}` !== REDIS_IMAGE) errs.push(`docker/${f}: names redis:${m[1]}, want ${REDIS_IMAGE}`);
    if (text.includes(REDIS_IMAGE)) named = true;
  }
  if (!named) errs.push(`no docker/compose*.yaml names ${REDIS_IMAGE}`);
  report(errs.length === 0, `policy docker/${files.join(", docker/")} name Redis ${REDIS_IMAGE}`, errs);
}

// ---- main ----
let failed = 0;
const report = (ok, what, errs = []) => {
  if (ok) console.log(`ok   ${what}`);
  else { failed++; console.log(`FAIL ${what}`); for (const e of errs.slice(0, 20)) console.log(`     ${e}`); }
};
for (const arg of overlayArgs) {
  const [name, file] = arg.split("=");
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  const objs = docs.map((d) => d.toJS()).filter(Boolean);
  const schemaErrs = [], strictErrs = [];
  for (const o of objs) {
    const id = `${o.kind}/${o.metadata?.name}`;
    const m = await modelFor(o);
    if (!m) { schemaErrs.push(`${id}: no model for ${o.apiVersion} ${o.kind}`); continue; }
    try { new m.Cls(o).validate(); } catch (e) { schemaErrs.push(`${id}: ${e.message}`); }
    walkStrict(o, m.typeName, id, strictErrs);
  }
  report(schemaErrs.length === 0, `schema ${name} (${objs.length} objects)`, schemaErrs);
  report(strictErrs.length === 0, `strict ${name} (no unknown fields)`, strictErrs);
  const perrs = policy(name, objs);
  report(perrs.length === 0, `policy ${name}`, perrs);
}
// One Redis image (name and tag) for every overlay.
const allRedis = new Set([...redisImages.values()].flatMap((s) => [...s]));
if (redisImages.size > 1) report(allRedis.size <= 1, `policy every overlay runs the same Redis image (${[...allRedis].join(", ")})`,
  [...redisImages].filter(([, s]) => s.size).map(([n, s]) => `${n}: ${[...s].join(", ")}`));
crossChecks();
composeCheck();
process.exit(failed ? 1 : 0);
