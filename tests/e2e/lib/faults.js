'use strict';
// Helpers for the hostile-input, fault, Sentinel and soak suites: extra Redis
// processes (AOF, replicas, sentinels), redis-cli, RSS readings, raw sockets
// and a closed-loop load generator. Everything is on 127.0.0.1 and every
// process is a stack.Proc, stopped by pid.

const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Proc, freePort, sleep } = require('./stack');
const { request } = require('./http');

/** redis-cli against 127.0.0.1:port; resolves to trimmed stdout. */
function redisCli(port, ...args) {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args.map(String)],
      { timeout: 15000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`redis-cli ${args.join(' ')}: ${err.message} ${stderr}`));
        else resolve(stdout.trim());
      });
  });
}

/**
 * A redis-server with the given extra arguments (e.g. ['--appendonly', 'yes']
 * or ['--replicaof', '127.0.0.1', P]). `dir` is kept when given (so a restart
 * finds its AOF); otherwise a temp dir is made and removed on stop().
 */
async function startRedisWith({ port, logDir, name = 'redis', dir, args = [] }) {
  port = port || await freePort();
  const own = !dir;
  dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), 'sl-redis-'));
  const p = new Proc(name, 'redis-server', [
    '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes', ...args,
  ], { logDir });
  p.port = port;
  p.dir = dir;
  const origStop = p.stop.bind(p);
  p.stop = async () => { await origStop(); if (own) fs.rmSync(dir, { recursive: true, force: true }); };
  p.kill9 = async () => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } await p.exited; };
  await p.started(port);
  return p;
}

/**
 * A redis-sentinel watching master `masterName` at 127.0.0.1:masterPort with
 * quorum 2 and short timings (ms). Its config file lives in a temp dir (the
 * sentinel rewrites it).
 */
async function startSentinel({ port, logDir, name = 'sentinel', masterName, masterPort,
  quorum = 2, downAfterMs = 1000, failoverTimeoutMs = 3000 }) {
  port = port || await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-sentinel-'));
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(conf, [
    'bind 127.0.0.1', `port ${port}`, 'daemonize no', `dir ${dir}`, 'protected-mode no',
    `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${quorum}`,
    `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
    `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
    `sentinel parallel-syncs ${masterName} 1`,
    '',
  ].join('\n'));
  const p = new Proc(name, 'redis-sentinel', [conf], { logDir });
  p.port = port;
  const origStop = p.stop.bind(p);
  p.stop = async () => { await origStop(); fs.rmSync(dir, { recursive: true, force: true }); };
  await p.started(port);
  return p;
}

/** Resident set size of pid in KiB (from /proc), or NaN when gone. */
function rssKb(pid) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) : NaN;
  } catch { return NaN; }
}

/**
 * Sends raw bytes on a fresh connection to 127.0.0.1:port and resolves with
 * everything the server sent until it closed (or until `ms`). The write side
 * stays open: nginx takes a half-close as the client going away (499), so
 * send `Connection: close` to have the server end the exchange.
 */
function rawRequest(port, bytes, ms = 10000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunks = [];
    const t = setTimeout(() => { sock.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); }, ms);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (e) => { clearTimeout(t); if (chunks.length) resolve(Buffer.concat(chunks).toString('latin1')); else reject(e); });
    sock.on('close', () => { clearTimeout(t); resolve(Buffer.concat(chunks).toString('latin1')); });
    sock.on('connect', () => sock.write(bytes));
  });
}

/** Status code of the first HTTP response in raw text, or 0. */
function rawStatus(text) {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * Closed-loop load: `clients` workers, each with its own keep-alive agent,
 * call `step(i, agent)` (which returns {status, ...} or throws) until
 * `until()` is true or `count` steps were made per client. Returns
 * {sent, statuses: Map, errors: [messages], results: [...]} where results
 * holds what step returned (kept only when keep is true).
 */
async function runLoad({ clients, step, until, count = Infinity, keep = false, pauseMs = 0 }) {
  const out = { sent: 0, statuses: new Map(), errors: [], results: [] };
  const worker = async (c) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < count && !(until && until()); i++) {
        out.sent++;
        try {
          const r = await step(c, i, agent);
          out.statuses.set(r.status, (out.statuses.get(r.status) || 0) + 1);
          if (keep) out.results.push(r);
        } catch (e) {
          out.errors.push(e.message);
        }
        if (pauseMs) await sleep(pauseMs);
      }
    } finally { agent.destroy(); }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => worker(c)));
  return out;
}

/** Polls fn() (async, truthy = done) every `every` ms for at most `ms`. */
async function waitFor(fn, { ms = 10000, every = 50, what = 'condition' } = {}) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms (last: ${last && last.message ? last.message : last})`);
    await sleep(every);
  }
}

/** GET /api/session with a cookie header; resolves to the parsed JSON response. */
async function apiView(port, cookie, opts = {}) {
  const r = await request(port, 'GET', '/api/session', { ...opts, headers: { ...(opts.headers || {}), Cookie: cookie } });
  if (r.status === 200) r.json = JSON.parse(r.body);
  return r;
}

/** sessionlab_store_up in a /metrics body: true, false, or null when absent. */
function parseStoreUp(body) {
  const m = /^sessionlab_store_up\{[^}]*\} ([01])$/m.exec(body);
  return m ? m[1] === '1' : null;
}

/** sessionlab_store_up from GET /metrics (through nginx). */
async function storeUp(port) {
  return parseStoreUp((await request(port, 'GET', '/metrics')).body);
}

/** Log text of every app/nginx Proc in a stack's logDir matching re. */
function grepLogs(logDir, re) {
  const hits = [];
  for (const f of fs.readdirSync(logDir)) {
    const text = fs.readFileSync(path.join(logDir, f), 'utf8');
    for (const line of text.split('\n')) if (re.test(line)) hits.push(`${f}: ${line}`);
  }
  return hits;
}

module.exports = {
  redisCli, startRedisWith, startSentinel, rssKb, rawRequest, rawStatus, runLoad, waitFor,
  apiView, parseStoreUp, storeUp, grepLogs,
};
