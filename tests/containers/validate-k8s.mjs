// Offline checks of rendered Kubernetes manifests (tests/containers/manifests).
//
//   node validate-k8s.mjs MODULES NGINX_CONF_DIR OUT_DIR NAME=RENDERED.yaml...
//
// MODULES is a node_modules directory holding kubernetes-models and yaml.
// For each overlay NAME it prints one line per check, "ok   ..." or "FAIL ...":
//   schema  every object validates against the Kubernetes schema
//           (kubernetes-models: types, required fields, enums, formats)
//   strict  no unknown fields anywhere (walks the models' type declarations:
//           the validators themselves let unknown fields through)
//   policy  the shape the lab relies on (see policy() and EXPECT below)
// and writes the nginx ConfigMap's files to OUT_DIR/NAME/ for `nginx -t`.
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
const YAML = await import(pathToFileURL(path.join(modules, "yaml/dist/index.js")).href);

// What each lab step must look like. nodePort null: no NodePort Service.
const EXPECT = {
  "step1-memory":             { replicas: 1, store: "memory", type: "NodePort",  nodePort: 30001, affinity: "None" },
  "step2-memory-x3":          { replicas: 3, store: "memory", type: "NodePort",  nodePort: 30001, affinity: "None" },
  "step3-memory-x3-clientip": { replicas: 3, store: "memory", type: "NodePort",  nodePort: 30001, affinity: "ClientIP" },
  "step4-redis":              { replicas: 1, store: "redis",  type: "NodePort",  nodePort: 30002, affinity: "None" },
  "step5-redis-x3":           { replicas: 3, store: "redis",  type: "NodePort",  nodePort: 30002, affinity: "None" },
  "ingress-cookie":           { replicas: 3, store: "memory", type: "ClusterIP", nodePort: null,  affinity: "None", ingressCookie: true },
  "production":               { replicas: 3, store: "redis",  type: "ClusterIP", nodePort: null,  affinity: "None", production: true,
                                sentinels: 3, redisPods: 3 },
};
// Production runs Redis under Sentinel: StatefulSets `redis` and `sentinel`
// (see sentinelChecks). Every overlay's Redis image, to compare them.
const redisImages = new Map(); // overlay -> Set of images

// ---- type index from the models' .d.ts files (for unknown-field checks) ----
const types = new Map(); // global interface name -> Map(prop -> type string)
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
    for (const m of src.matchAll(/export interface (\w+)(?: extends [^{]+)? \{\n([\s\S]*?)\n\}/g)) {
      // One property per line at 4 spaces ("name"?: TYPE;), or a TYPE that
      // spans lines until the next line at 4 spaces (maps, inline objects).
      const props = new Map();
      const lines = m[2].split("\n");
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
      types.set(alias.get(m[1]) ?? m[1], props);
    }
  }
}
indexDir(modelsDir);
indexDir(path.join(modules, "@kubernetes-models/apimachinery"));
for (const t of ["IIoK8sApiAppsV1Deployment", "IIoK8sApiCoreV1Container", "IIoK8sApimachineryPkgApisMetaV1ObjectMeta"])
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
  const dir = group ? path.join(modelsDir, group, version) : path.join(modelsDir, version);
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

function policy(name, objs) {
  const errs = [];
  const exp = EXPECT[name];
  if (!exp) return [`no expectations for overlay ${name} (add it to EXPECT)`];
  const find = (kind, n) => objs.find((o) => o.kind === kind && o.metadata?.name === n);
  const seen = new Set();
  for (const o of objs) {
    const id = `${o.kind}/${o.metadata?.name}`;
    if (seen.has(id)) errs.push(`${id} appears twice`);
    seen.add(id);
  }
  for (const d of objs.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")) podChecks(d, errs);
  const imgs = new Set();
  for (const d of objs.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet"))
    for (const c of [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers])
      if (/^(docker\.io\/(library\/)?)?redis[:@]/.test(c.image)) imgs.add(c.image);
  redisImages.set(name, imgs);

  const dep = find("Deployment", "sessionlab");
  if (!dep) return [...errs, "no Deployment sessionlab"];
  const spec = dep.spec.template.spec;
  if (dep.spec.replicas !== exp.replicas) errs.push(`replicas ${dep.spec.replicas}, want ${exp.replicas}`);
  const names = spec.containers.map((c) => c.name).sort().join(",");
  if (names !== "app,nginx") errs.push(`app pod containers are [${names}], want [app,nginx]`);
  const nginx = spec.containers.find((c) => c.name === "nginx");
  const app = spec.containers.find((c) => c.name === "app");
  if (nginx && app) {
    const port = (p) => (p === "http" || p === 8080);
    if (nginx.livenessProbe?.httpGet?.path !== "/healthz" || !port(nginx.livenessProbe.httpGet.port))
      errs.push("nginx livenessProbe is not GET /healthz on 8080");
    if (nginx.readinessProbe?.httpGet?.path !== "/readyz" || !port(nginx.readinessProbe.httpGet.port))
      errs.push("nginx readinessProbe is not GET /readyz on 8080");
    for (const c of [nginx, app]) if (!c.lifecycle?.preStop) errs.push(`container ${c.name}: no preStop delay`);
    const env = Object.fromEntries((app.env ?? []).map((e) => [e.name, e.value]));
    if (!/^(127\.0\.0\.1:\d+|unix:\/.+)$/.test(env.SESSIONLAB_LISTEN ?? ""))
      errs.push(`app SESSIONLAB_LISTEN "${env.SESSIONLAB_LISTEN}" is not loopback or a unix socket`);
    if ((env.SESSIONLAB_STORE ?? "memory") !== exp.store) errs.push(`app store ${env.SESSIONLAB_STORE}, want ${exp.store}`);
    if (exp.sentinels) sentinelChecks(exp, objs, find, env, errs);
    else if (exp.store === "redis" && !/^redis:\/\/redis:6379\//.test(env.SESSIONLAB_REDIS_URL ?? ""))
      errs.push(`app SESSIONLAB_REDIS_URL "${env.SESSIONLAB_REDIS_URL}" does not name Service redis`);
    for (const k of Object.keys(env)) if (k.startsWith("REDIS_")) errs.push(`app env ${k}: settings are SESSIONLAB_*`);
    // The nginx ConfigMap: mounted, generated, and equal to nginx-conf/.
    const vol = (spec.volumes ?? []).find((v) => v.configMap && (nginx.volumeMounts ?? []).some((m) => m.name === v.name));
    const cm = vol && find("ConfigMap", vol.configMap.name);
    if (!cm) errs.push("nginx has no ConfigMap volume present in the output");
    else {
      if (!/^sessionlab-nginx-conf-[a-z0-9]{10}$/.test(cm.metadata.name))
        errs.push(`ConfigMap ${cm.metadata.name} is not generated (no content hash suffix)`);
      const want = fs.readdirSync(nginxConfDir).filter((f) => f.endsWith(".conf")).sort();
      const have = Object.keys(cm.data ?? {}).sort();
      if (want.join(" ") !== have.join(" ")) errs.push(`ConfigMap files [${have}] differ from nginx-conf/ [${want}]`);
      for (const f of want) if (cm.data?.[f] !== undefined && cm.data[f] !== fs.readFileSync(path.join(nginxConfDir, f), "utf8"))
        errs.push(`ConfigMap ${f} differs from nginx-conf/${f}: run k8s/sync-nginx-conf`);
      fs.mkdirSync(path.join(outDir, name), { recursive: true });
      for (const [f, text] of Object.entries(cm.data ?? {})) fs.writeFileSync(path.join(outDir, name, f), text);
    }
  }
  const svc = find("Service", "sessionlab");
  if (!svc) errs.push("no Service sessionlab");
  else {
    const labels = dep.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(svc.spec.selector ?? {})) if (labels[k] !== v) errs.push(`Service selector ${k}=${v} does not match the pods`);
    if ((svc.spec.type ?? "ClusterIP") !== exp.type) errs.push(`Service type ${svc.spec.type}, want ${exp.type}`);
    const np = svc.spec.ports?.[0]?.nodePort ?? null;
    if (np !== exp.nodePort) errs.push(`Service nodePort ${np}, want ${exp.nodePort}`);
    if ((svc.spec.sessionAffinity ?? "None") !== exp.affinity) errs.push(`Service sessionAffinity ${svc.spec.sessionAffinity}, want ${exp.affinity}`);
    if (exp.affinity === "ClientIP" && !svc.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds)
      errs.push("ClientIP affinity without a timeout");
    if (svc.spec.ports?.[0]?.targetPort !== "http") errs.push("Service targetPort is not the nginx port http");
  }
  const redisDep = find("Deployment", "redis"), redisSvc = find("Service", "redis");
  if (exp.sentinels) {
    // checked in sentinelChecks
  } else if (exp.store === "redis") {
    if (!redisDep || !redisSvc) errs.push("store redis but no Deployment and Service named redis");
    else if (redisSvc.spec.ports?.[0]?.port !== 6379) errs.push("Service redis is not on 6379");
  } else if (redisDep || redisSvc) errs.push("memory store but a redis object is present");

  const ing = objs.filter((o) => o.kind === "Ingress");
  if (exp.ingressCookie) {
    const a = ing[0]?.metadata?.annotations ?? {};
    const need = { "nginx.ingress.kubernetes.io/affinity": "cookie" };
    for (const [k, v] of Object.entries(need)) if (a[k] !== v) errs.push(`Ingress annotation ${k} is "${a[k]}", want "${v}"`);
    for (const k of ["session-cookie-name", "session-cookie-max-age", "session-cookie-samesite", "session-cookie-path"])
      if (!a[`nginx.ingress.kubernetes.io/${k}`]) errs.push(`Ingress has no nginx.ingress.kubernetes.io/${k}`);
    if (ing[0]?.spec?.ingressClassName !== "nginx") errs.push("Ingress class is not nginx");
    const be = ing[0]?.spec?.rules?.[0]?.http?.paths?.[0]?.backend?.service;
    if (be?.name !== "sessionlab") errs.push("Ingress backend is not Service sessionlab");
  } else if (ing.length) errs.push("unexpected Ingress");

  if (exp.production) {
    const pdb = objs.find((o) => o.kind === "PodDisruptionBudget" && labelsMatch(o.spec.selector?.matchLabels, dep.spec.template.metadata.labels));
    if (!pdb) errs.push("no PodDisruptionBudget selecting the app pods");
    const tsc = spec.topologySpreadConstraints ?? [];
    if (!tsc.some((t) => t.topologyKey === "kubernetes.io/hostname")) errs.push("no topology spread across nodes");
  }
  if (exp.production && !exp.sentinels) {
    const args = redisDep?.spec.template.spec.containers[0]?.args?.join(" ") ?? "";
    if (!/--appendonly yes/.test(args)) errs.push("production Redis without --appendonly yes");
    const pvcVol = (redisDep?.spec.template.spec.volumes ?? []).find((v) => v.persistentVolumeClaim);
    if (!pvcVol || !find("PersistentVolumeClaim", pvcVol.persistentVolumeClaim.claimName)) errs.push("production Redis data is not on a PersistentVolumeClaim in the output");
    const dataMount = redisDep?.spec.template.spec.containers[0]?.volumeMounts?.find((m) => m.name === pvcVol?.name);
    if (!dataMount || !args.includes(`--dir ${dataMount.mountPath}`)) errs.push("production Redis --dir is not the volume's mount path");
  }
  return errs;
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
process.exit(failed ? 1 : 0);
