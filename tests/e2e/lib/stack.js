'use strict';
// Real processes for the e2e tests: redis-server, sessionlab-app and nginx on
// free loopback ports. nginx's config is rendered from nginx-conf/ by
// scripts/lib/render-nginx-conf (the same renderer scripts/run uses), never a
// copy. Everything started here is stopped by pid: call stack.stop() in an
// `after` hook; a process 'exit' handler SIGKILLs leftovers if a run aborts.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { request } = require('./http');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const APP = process.env.SESSIONLAB_APP || path.join(ROOT, 'build', 'fcgi-app', 'sessionlab-app');
const RENDER = path.join(ROOT, 'scripts', 'lib', 'render-nginx-conf');
// Logs go under tests/out/e2e unless SESSIONLAB_E2E_OUT names another
// directory (the tests/full runners keep theirs apart to scan them).
const LOG_ROOT = process.env.SESSIONLAB_E2E_OUT ? path.resolve(process.env.SESSIONLAB_E2E_OUT)
  : path.join(ROOT, 'tests', 'out', 'e2e');
// How long stop() waits after SIGTERM before SIGKILL (valgrind needs longer
// to write its leak report): SESSIONLAB_E2E_STOP_MS, default 5000.
const STOP_MS = Number(process.env.SESSIONLAB_E2E_STOP_MS || 5000);

const live = new Set(); // every child still running, for the exit handler
process.on('exit', () => {
  for (const child of live) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port nobody listens on right now (127.0.0.1). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/*
 * A free 127.0.0.1 port BELOW the ephemeral range (32768-60999 here), for
 * servers started while wrk runs: wrk's many outgoing connections take
 * ephemeral ports, so a server binding one of those then can fail. Ports
 * already handed out by this process are never handed out again.
 */
const LOW_PORT_MIN = 20000;
const LOW_PORT_MAX = 32767;
const lowPortsGiven = new Set();
function canBind(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
async function lowFreePort() {
  for (let i = 0; i < 500; i++) {
    const port = LOW_PORT_MIN + crypto.randomInt(LOW_PORT_MAX - LOW_PORT_MIN + 1);
    if (lowPortsGiven.has(port)) continue;
    if (await canBind(port)) { lowPortsGiven.add(port); return port; }
  }
  throw new Error(`no free port in ${LOW_PORT_MIN}-${LOW_PORT_MAX}`);
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

/** One child process with its log file; stop() is SIGTERM, then SIGKILL. */
class Proc {
  constructor(name, cmd, args, { env, logDir }) {
    this.name = name;
    this.logFile = path.join(logDir, `${name}.log`);
    const fd = fs.openSync(this.logFile, 'a');
    this.child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    this.pid = this.child.pid;
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.exitCode = code;
        this.signal = signal;
        resolve({ code, signal });
      });
      this.child.once('error', (err) => {
        live.delete(this.child);
        this.exitCode = -1;
        this.error = err;
        resolve({ code: -1, signal: null });
      });
    });
    live.add(this.child);
  }

  get alive() { return this.exitCode === undefined; }

  log() {
    try { return fs.readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }

  async waitPort(port, ms = 30000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (!this.alive) throw new Error(`${this.name} exited (${this.exitCode}/${this.signal}) before listening on ${port}:\n${this.log().slice(-2000)}`);
      if (await canConnect(port)) return;
      await sleep(50);
    }
    throw new Error(`${this.name} did not listen on 127.0.0.1:${port} within ${ms} ms:\n${this.log().slice(-2000)}`);
  }

  /** waitPort, but a process that never listens is stopped before the error is thrown. */
  async started(port) {
    try {
      await this.waitPort(port);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(ms = STOP_MS) {
    if (!this.alive) return;
    try { process.kill(this.pid, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
    await this.exited;
    clearTimeout(t);
  }
}

function makeLogDir(label) {
  const dir = path.join(LOG_ROOT, `${label}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

async function startRedis({ port, logDir, name = 'redis' }) {
  port = port || await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-redis-'));
  const p = new Proc(name, 'redis-server', [
    '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes',
  ], { logDir });
  p.port = port;
  const origStop = p.stop.bind(p);
  p.stop = async () => { await origStop(); fs.rmSync(dir, { recursive: true, force: true }); };
  await p.started(port);
  return p;
}

/** Starts one sessionlab-app with extra env; resolves once it accepts. */
async function startApp({ port, store = 'memory', redisPort, instance, env = {}, logDir, name }) {
  port = port || await freePort();
  const e = { SESSIONLAB_LISTEN: `127.0.0.1:${port}`, SESSIONLAB_STORE: store, ...env };
  if (redisPort) e.SESSIONLAB_REDIS_URL = `redis://127.0.0.1:${redisPort}/0`;
  if (instance) e.SESSIONLAB_INSTANCE = instance;
  if (!fs.existsSync(APP)) throw new Error(`app binary not found: ${APP} (build it, or set SESSIONLAB_APP)`);
  const p = new Proc(name || instance || `app-${port}`, APP, [], { env: e, logDir });
  p.port = port;
  await p.started(port);
  return p;
}

/**
 * nginx as the local load balancer in front of `servers`; `extraArgs` go to
 * render-nginx-conf as they are (e.g. the --redis-tls options).
 */
async function startNginx({ port, servers, affinity = 'none', logDir, extraArgs = [] }) {
  port = port || await freePort();
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-nginx-'));
  const args = [prefix, '--role', 'lb', '--port', String(port), '--affinity', affinity];
  for (const s of servers) args.push('--server', s);
  args.push(...extraArgs);
  execFileSync(RENDER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const p = new Proc('nginx', 'nginx', ['-p', `${prefix}/`, '-c', `${prefix}/conf/nginx.conf`,
    '-e', 'stderr', '-g', 'daemon off;'], { logDir });
  p.port = port;
  p.prefix = prefix;
  const origStop = p.stop.bind(p);
  p.stop = async () => { await origStop(); fs.rmSync(prefix, { recursive: true, force: true }); };
  await p.started(port);
  return p;
}

/**
 * A whole stack: [redis] + `replicas` apps + nginx with `affinity`.
 * Returns { url, port, apps, redis, nginx, request(), stop(), logDir }.
 * Apps are named app-1..app-N when replicas > 1 (like scripts/run); with one
 * replica no instance is set unless `instance` is given. With store 'redis'
 * and a `redisUrl` (e.g. a Redis Cluster's seeds, lib/cluster.js), no
 * redis-server is started: the apps use that URL, and the caller owns the
 * Redis behind it. `logDir` puts the stack's logs in a directory made before.
 */
async function startStack({ label = 'stack', store = 'memory', replicas = 1, affinity = 'none',
  instance, appEnv = {}, lowPorts = false, redisUrl, logDir: givenLogDir } = {}) {
  const logDir = givenLogDir || makeLogDir(label);
  // lowPorts: every process on a port below the ephemeral range (lowFreePort).
  const pickPort = async () => (lowPorts ? lowFreePort() : undefined);
  const stack = { logDir, apps: [], redis: null, nginx: null };
  stack.stop = async () => {
    const procs = [stack.nginx, ...stack.apps, stack.redis].filter(Boolean);
    await Promise.all(procs.map((p) => p.stop()));
  };
  try {
    if (store === 'redis') {
      if (redisUrl) appEnv = { SESSIONLAB_REDIS_URL: redisUrl, ...appEnv };
      else stack.redis = await startRedis({ logDir, port: await pickPort() });
      // A distinct key prefix per stack, so stacks never share sessions.
      appEnv = { SESSIONLAB_REDIS_PREFIX: `e2e:${crypto.randomBytes(4).toString('hex')}:`, ...appEnv };
    }
    const starts = [];
    for (let i = 1; i <= replicas; i++) {
      starts.push(startApp({
        port: await pickPort(), store, redisPort: stack.redis && stack.redis.port, logDir, env: appEnv,
        instance: replicas > 1 ? `app-${i}` : instance, name: `app-${i}`,
      }));
    }
    const settled = await Promise.allSettled(starts);
    for (const s of settled) if (s.status === 'fulfilled') stack.apps.push(s.value);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    stack.nginx = await startNginx({
      port: await pickPort(), servers: stack.apps.map((a) => `127.0.0.1:${a.port}`), affinity, logDir,
    });
    stack.port = stack.nginx.port;
    stack.url = `http://127.0.0.1:${stack.port}`;
    stack.origin = stack.url;
    stack.request = (method, p, opts = {}) => request(stack.port, method, p, opts);
    // nginx accepts before the workers are ready on a busy machine; wait for /healthz.
    const end = Date.now() + 10000;
    for (;;) {
      try {
        const r = await stack.request('GET', '/healthz');
        if (r.status === 200) break;
      } catch { /* not yet */ }
      if (Date.now() > end) throw new Error(`${stack.url}/healthz never answered 200; logs in ${logDir}`);
      await sleep(50);
    }
    return stack;
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

module.exports = { ROOT, APP, freePort, lowFreePort, canConnect, startRedis, startApp, startNginx, startStack, makeLogDir, sleep, Proc };
