'use strict';
// Faults injected under load: Redis killed and restarted, Redis stalled by
// DEBUG SLEEP, Redis restarted with AOF, an app replica kill -9'd behind
// nginx, an upstream that drops requests (GET retried, POST not), and
// SIGTERM during load. Figures are printed as "# ..." lines.
//
// Timing bounds are the issue's own (recovery < 1 s after Redis returns,
// requests end by SESSIONLAB_REDIS_TIMEOUT_MS, and at once while the
// client's breaker is open): the expected values are a
// few ms and ~1 timeout, so the limits below leave >10x headroom for a busy
// 2-core machine without letting a pile-up (seconds) pass.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { startApp, startNginx, makeLogDir, sleep } = require('./lib/stack');
const { request, form } = require('./lib/http');
const { FcgiConn } = require('./lib/fcgi');
const { redisCli, startRedisWith, runLoad, waitFor, apiView, parseStoreUp, storeUp } = require('./lib/faults');

const FORM = 'application/x-www-form-urlencoded';
const RECOVERY_LIMIT_MS = 1000; // issue: automatic recovery < 1 s after Redis returns
const TIMEOUT_MS = 300; // SESSIONLAB_REDIS_TIMEOUT_MS for the slow-Redis test
const TIMEOUT_SLACK_MS = 1200; // scheduling slack on top of one timeout

/** Redis (optional extra args) + N apps + nginx; everything stopped by stop(). */
async function rig(label, { replicas = 1, redisArgs = [], appEnv = {}, redisDir } = {}) {
  const logDir = makeLogDir(label);
  const r = { logDir, apps: [], procs: [] };
  r.redis = await startRedisWith({ logDir, args: redisArgs, dir: redisDir });
  r.prefix = `e2e:${crypto.randomBytes(4).toString('hex')}:`;
  for (let i = 1; i <= replicas; i++) {
    r.apps.push(await startApp({ store: 'redis', redisPort: r.redis.port, logDir, instance: `app-${i}`,
      name: `app-${i}`, env: { SESSIONLAB_REDIS_PREFIX: r.prefix, ...appEnv } }));
  }
  r.nginx = await startNginx({ servers: r.apps.map((a) => `127.0.0.1:${a.port}`), logDir });
  r.port = r.nginx.port;
  r.origin = `http://127.0.0.1:${r.port}`;
  r.stop = async () => Promise.all([r.nginx, ...r.apps, r.redis, ...r.procs].filter(Boolean).map((p) => p.stop()));
  await waitFor(async () => (await storeUp(r.port)) === true, { what: 'sessionlab_store_up 1' });
  return r;
}

/** Ms from `since` until the app itself (FastCGI, no nginx) reports sessionlab_store_up 1. */
async function firstStoreUp(port, since, limitMs = 10000) {
  for (;;) {
    const conn = await FcgiConn.connect(port);
    try {
      const r = await conn.request({ method: 'GET', uri: '/metrics' });
      if (parseStoreUp(r.body) === true) return Date.now() - since;
    } finally { conn.close(); }
    if (Date.now() - since > limitMs) return Infinity;
    await sleep(20);
  }
}

async function sessions(port, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await apiView(port, '');
    assert.equal(r.status, 200, r.body);
    out.push(`SESSION=${r.json.session_id}`);
  }
  return out;
}

describe('redis killed mid-load', () => {
  let r;
  before(async () => { r = await rig('fault-redis-kill', { replicas: 2 }); });
  after(async () => { if (r) await r.stop(); });

  test('503 while down, no crash, served again < 1 s after redis returns', async () => {
    const cookies = await sessions(r.port, 8);
    const pids = r.apps.map((a) => a.pid);
    let stop = false;
    const log = []; // [end time, status]
    const load = runLoad({
      clients: 8, until: () => stop, pauseMs: 5,
      step: async (c, i, agent) => {
        const v = await apiView(r.port, cookies[c], { agent });
        log.push([Date.now(), v.status]);
        return v;
      },
    });
    await sleep(400);
    const port = r.redis.port;
    const tKill = Date.now();
    await r.redis.kill9();
    await sleep(1500);
    const tRestart = Date.now();
    r.redis = await startRedisWith({ port, logDir: r.logDir, name: 'redis-2' });
    const tBack = Date.now(); // accepting connections by now (polled every 50 ms)
    // Each replica's breaker has its own back-off window (capped at 400 ms):
    // every replica, not just the first, must reach Redis again within the bound.
    const readyAfter = await Promise.all(r.apps.map((a) => firstStoreUp(a.port, tBack)));
    await waitFor(() => log.some(([t, st]) => t > tRestart && st === 200), { ms: 10000, what: 'a 200 after redis returned' })
      .catch(() => {});
    await sleep(200);
    stop = true;
    const res = await load;

    const firstOk = log.filter(([t, st]) => t > tRestart && st === 200).map(([t]) => t)[0];
    const recovery = Math.max(0, firstOk - tBack);
    const down = log.filter(([t]) => t > tKill + 50 && t < tRestart);
    console.log(`# redis kill -9: ${res.sent} requests, statuses ${JSON.stringify([...res.statuses])}, `
      + `${down.length} answered while down; first 200 ${firstOk - tRestart} ms after redis-server was started, `
      + `${recovery} ms after it was seen accepting; replicas up after ${JSON.stringify(readyAfter)} ms`);
    assert.deepEqual(res.errors, [], 'every request got an HTTP answer');
    for (const st of res.statuses.keys()) assert.ok(st === 200 || st === 503, `status ${st}`);
    assert.ok(down.length > 0 && down.every(([, st]) => st === 503), 'while down: 503');
    assert.ok(recovery >= 0 && recovery < RECOVERY_LIMIT_MS, `recovery ${recovery} ms < ${RECOVERY_LIMIT_MS} ms`);
    for (const ms of readyAfter) assert.ok(ms < RECOVERY_LIMIT_MS, `replica reached redis ${ms} ms after it returned`);
    assert.deepEqual(r.apps.map((a) => a.pid), pids);
    assert.ok(r.apps.every((a) => a.alive), 'no app crashed');
    assert.equal((await request(r.port, 'GET', '/readyz')).status, 200);
    assert.equal(await storeUp(r.port), true);
  });
});

describe('redis slow (DEBUG SLEEP)', () => {
  let r;
  before(async () => {
    r = await rig('fault-redis-slow', { redisArgs: ['--enable-debug-command', 'local'],
      appEnv: { SESSIONLAB_REDIS_TIMEOUT_MS: String(TIMEOUT_MS) } });
  });
  after(async () => { if (r) await r.stop(); });

  test(`requests end by the ${TIMEOUT_MS} ms timeout with 503, then fail at once while the breaker is open`, async () => {
    const cookies = await sessions(r.port, 16);
    const SLEEP_S = 3;
    const sleeping = redisCli(r.redis.port, 'DEBUG', 'SLEEP', String(SLEEP_S));
    await sleep(100);
    const tStart = Date.now();
    const lat = [];
    const res = await runLoad({
      clients: 16, until: () => Date.now() - tStart > (SLEEP_S - 1) * 1000,
      step: async (c, i, agent) => {
        const t0 = Date.now();
        const v = await apiView(r.port, cookies[c], { agent });
        lat.push([Date.now() - t0, v.status, t0 - tStart]);
        return v;
      },
    });
    await sleeping;
    const during = lat.filter(([, , t]) => t < (SLEEP_S - 1) * 1000 - 2 * TIMEOUT_MS);
    const max = Math.max(...during.map(([ms]) => ms));
    const min = Math.min(...during.map(([ms]) => ms));
    console.log(`# redis DEBUG SLEEP ${SLEEP_S}s, timeout ${TIMEOUT_MS} ms: ${during.length} requests during the stall, `
      + `latency ${min}-${max} ms, statuses ${JSON.stringify([...res.statuses])}`);
    assert.deepEqual(res.errors, []);
    assert.ok(during.length >= 16, 'each client was answered at least once during the stall');
    assert.ok(during.every(([, st]) => st === 503), 'all 503 while Redis stalls');
    // The batch in flight when Redis stalled waits one timeout; the breaker
    // then fails requests at once, and every probe after a back-off window
    // waits one timeout again.
    const slow = during.filter(([ms]) => ms >= TIMEOUT_MS * 0.9).length;
    const fast = during.filter(([ms]) => ms <= 50).length;
    console.log(`# ... ${slow} answers took about a timeout (the batch in flight, the probes), ${fast} took <= 50 ms`);
    assert.ok(slow >= 1, 'the batch in flight waited for the timeout');
    assert.ok(fast >= during.length * 0.9, `most answers fail at once (${fast} of ${during.length} <= 50 ms)`);
    assert.ok(max <= TIMEOUT_MS + TIMEOUT_SLACK_MS, `every answer by the timeout + slack (${max} ms)`);
    await waitFor(async () => (await apiView(r.port, cookies[0])).status === 200, { ms: 5000, what: 'served after the stall' });
  });
});

describe('redis restarted with AOF', () => {
  let r;
  let dir;
  before(async () => {
    dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sl-aof-'));
    // appendfsync always: every write waits for its fsync, which on a busy
    // CI disk can pass the app's 200 ms default (the ASan run once got a 503
    // for the first view after the SIGKILL restart). This suite is about what
    // survives the restart, so the app waits longer.
    r = await rig('fault-redis-aof', { redisDir: dir, redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'],
      appEnv: { SESSIONLAB_REDIS_TIMEOUT_MS: '2000' } });
  });
  after(async () => { if (r) await r.stop(); fs.rmSync(dir, { recursive: true, force: true }); });

  for (const how of ['SIGTERM', 'SIGKILL']) {
    test(`sessions, counts and values survive a ${how} restart`, async () => {
      const cookies = await sessions(r.port, 10);
      const counts = [];
      for (let i = 0; i < cookies.length; i++) {
        for (let k = 0; k < i; k++) await apiView(r.port, cookies[i]);
        const p = await request(r.port, 'POST', '/setSession', {
          body: form({ value: `v${i}` }), headers: { Cookie: cookies[i], 'Content-Type': FORM, Origin: r.origin },
        });
        assert.equal(p.status, 303);
        counts.push(i + 1);
      }
      const port = r.redis.port;
      if (how === 'SIGKILL') await r.redis.kill9(); else await r.redis.stop();
      assert.equal((await apiView(r.port, cookies[0])).status, 503);
      r.redis = await startRedisWith({ port, dir, logDir: r.logDir, name: `redis-${how}`,
        args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
      await waitFor(async () => (await storeUp(r.port)) === true, { what: 'sessionlab_store_up 1' });
      for (let i = 0; i < cookies.length; i++) {
        const v = await apiView(r.port, cookies[i]);
        assert.equal(v.status, 200);
        assert.equal(v.json.new, false, `session ${i} kept`);
        assert.equal(v.json.access_count, counts[i] + 1, `session ${i} count`);
        assert.equal(v.json.value, `v${i}`);
      }
      console.log(`# redis AOF ${how} restart: ${cookies.length} sessions kept with exact counts and values`);
    });
  }
});

describe('session flood against Redis with maxmemory and volatile-lru (as shipped)', () => {
  // Every cookieless view creates a session that lives SESSIONLAB_TTL. The
  // shipped Redis configurations cap memory and evict the least recently
  // used sessions (all carry a TTL), so a flood costs idle sessions, not the
  // service: with noeviction every view (each one a write) would get 503.
  const MAXMEMORY = 4 * 1024 * 1024;
  let r;
  before(async () => {
    r = await rig('fault-redis-flood', {
      redisArgs: ['--maxmemory', String(MAXMEMORY), '--maxmemory-policy', 'volatile-lru'],
    });
  });
  after(async () => { if (r) await r.stop(); });

  const info = async (section, field) => {
    const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(await redisCli(r.redis.port, 'INFO', section));
    return m ? Number(m[1]) : NaN;
  };

  test('cookieless flood: every view served, memory within maxmemory, active sessions kept', async () => {
    const users = await sessions(r.port, 4);
    const counts = users.map(() => 1);
    const ROUNDS = 24;
    const PER_ROUND = 1000; // cookieless views (new sessions) per round
    let flood = 0;
    let peak = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const l = await runLoad({ clients: 8, count: PER_ROUND / 8, step: (c, i, agent) => apiView(r.port, '', { agent }) });
      assert.deepEqual(l.errors, []);
      assert.deepEqual([...l.statuses.keys()], [200], `round ${round}: every flood view answered 200`);
      flood += l.sent;
      for (let k = 0; k < users.length; k++) {
        const v = await apiView(r.port, users[k]);
        assert.equal(v.status, 200);
        assert.equal(v.json.new, false, `active session ${k} kept through round ${round}`);
        counts[k]++;
        assert.equal(v.json.access_count, counts[k]);
      }
      peak = Math.max(peak, await info('memory', 'used_memory'));
    }
    const evicted = await info('stats', 'evicted_keys');
    const keys = Number(await redisCli(r.redis.port, 'DBSIZE'));
    console.log(`# flood: ${flood} new sessions, ${keys} kept, ${evicted} evicted; used_memory peak `
      + `${(peak / 1048576).toFixed(2)} MiB of maxmemory ${(MAXMEMORY / 1048576).toFixed(2)} MiB`);
    assert.ok(evicted > 0, 'the flood outgrew maxmemory, so Redis evicted');
    assert.ok(keys < flood, 'Redis holds fewer sessions than were created');
    // Redis evicts before each write, so used memory ends each command near
    // the limit; the slack covers one write's worth and the allocator.
    assert.ok(peak <= MAXMEMORY * 1.1, `used_memory ${peak} stays near maxmemory ${MAXMEMORY}`);
  });
});

describe('app replica kill -9 under load (3 replicas + redis)', () => {
  let r;
  before(async () => { r = await rig('fault-app-kill', { replicas: 3 }); });
  after(async () => { if (r) await r.stop(); });

  test('no session lost, no failed GET; POSTs answered or 502, never run twice', async () => {
    const N = 12;
    const cookies = await sessions(r.port, N);
    const ok = new Array(N).fill(1); // 200s per session (the creating view included)
    const postOk = new Array(N).fill(0);
    const postVals = new Map(); // value -> status
    let stop = false;
    let seq = 0;
    const gets = runLoad({
      clients: N, until: () => stop,
      step: async (c, i, agent) => {
        const v = await apiView(r.port, cookies[c], { agent, timeout: 20000 });
        if (v.status === 200) { ok[c]++; assert.equal(v.json.new, false, 'session lost'); }
        return v;
      },
    });
    const posts = runLoad({
      clients: 4, until: () => stop, pauseMs: 10,
      step: async (c, i, agent) => {
        const value = `p${seq++}`;
        const p = await request(r.port, 'POST', '/setSession', {
          agent, timeout: 20000, body: form({ value }),
          headers: { Cookie: cookies[c], 'Content-Type': FORM, Origin: r.origin },
        });
        postVals.set(value, p.status);
        if (p.status === 303) postOk[c]++;
        return p;
      },
    });
    await sleep(700);
    const victim = r.apps[1];
    process.kill(victim.pid, 'SIGKILL');
    await victim.exited;
    await sleep(1500);
    stop = true;
    const [g, p] = await Promise.all([gets, posts]);
    console.log(`# app kill -9: GETs ${JSON.stringify([...g.statuses])} errors ${g.errors.length}; `
      + `POSTs ${JSON.stringify([...p.statuses])} errors ${p.errors.length}`);
    assert.deepEqual(g.errors, []);
    assert.deepEqual([...g.statuses.keys()], [200], 'every GET answered 200');
    assert.deepEqual(p.errors, []);
    for (const st of p.statuses.keys()) assert.ok(st === 303 || st === 502, `POST status ${st}`);

    // nginx's log: a POST went to a second replica only when no byte of it
    // reached the first (connect refused: the dead replica's port is closed),
    // so no POST ran twice. A POST sent to the dying replica is not retried.
    const access = fs.readFileSync(path.join(r.logDir, 'nginx.log'), 'utf8').split('\n');
    const retried = (m) => access.filter((l) => l.includes(`"${m} `) && /upstream=[^ ]+, /.test(l));
    const sentBeforeRetry = (l) => {
      const m = / ubs=([0-9, ]+)$/.exec(l);
      assert.ok(m, `upstream_bytes_sent logged: ${l}`);
      return m[1].split(', ').slice(0, -1).map(Number).reduce((a, b) => a + b, 0);
    };
    const posts2 = retried('POST');
    console.log(`# nginx retried ${retried('GET').length} GETs on the next replica, ${posts2.length} POSTs `
      + '(each after a refused connect)');
    for (const l of posts2) assert.equal(sentBeforeRetry(l), 0, `POST retried after reaching a replica: ${l}`);

    for (let c = 0; c < N; c++) {
      const v = await apiView(r.port, cookies[c]);
      assert.equal(v.status, 200);
      assert.equal(v.json.new, false, `session ${c} survived`);
      // Every 200 counted; a GET retried after the dead replica had already
      // counted it may count once more.
      assert.ok(v.json.access_count >= ok[c] + 1, `session ${c}: count ${v.json.access_count} >= views ${ok[c] + 1}`);
      assert.ok(v.json.access_count <= ok[c] + 1 + retried('GET').length, `session ${c}: no phantom views`);
    }
  });
});

describe('nginx retries GET on the next upstream, never POST', () => {
  // A FastCGI "upstream" that reads the request and resets the connection:
  // deterministic "the replica died mid-request".
  let r;
  let dropper;
  let dropped;
  let nginx;
  before(async () => {
    r = await rig('fault-retry');
    dropped = [];
    dropper = net.createServer((sock) => {
      sock.once('data', (d) => { dropped.push(d.toString('latin1')); sock.resetAndDestroy(); });
      sock.on('error', () => {});
    });
    await new Promise((res) => dropper.listen(0, '127.0.0.1', res));
  });
  after(async () => {
    if (nginx) await nginx.stop();
    if (dropper) dropper.close();
    if (r) await r.stop();
  });

  async function nginxDropperFirst() {
    if (nginx) await nginx.stop();
    nginx = await startNginx({ servers: [`127.0.0.1:${dropper.address().port}`, `127.0.0.1:${r.apps[0].port}`], logDir: r.logDir });
    dropped.length = 0;
    return nginx.port;
  }

  test('a GET that hits a dying upstream is answered by the next one', async () => {
    for (let k = 0; k < 3; k++) {
      const port = await nginxDropperFirst();
      for (let i = 0; i < 4; i++) {
        const v = await apiView(port, '');
        assert.equal(v.status, 200);
      }
      if (dropped.length) return;
    }
    assert.fail('the dropping upstream never got a GET');
  });

  test('a POST that hits a dying upstream is 502, not sent again', async () => {
    const [cookie] = await sessions(r.port, 1);
    for (let k = 0; k < 3; k++) {
      const port = await nginxDropperFirst();
      const st = [];
      for (let i = 0; i < 4; i++) {
        const p = await request(port, 'POST', '/setSession', {
          body: form({ value: `try${k}-${i}` }),
          headers: { Cookie: cookie, 'Content-Type': FORM, Origin: `http://127.0.0.1:${port}` },
        });
        st.push(p.status);
        if (p.status === 502) {
          const v = await apiView(r.port, cookie);
          assert.notEqual(v.json.value, `try${k}-${i}`, 'the failed POST did not reach the app');
          assert.equal(dropped.length, 1, 'the dropping upstream got it once');
          return;
        }
      }
    }
    assert.fail('the dropping upstream never got a POST');
  });
});

describe('SIGTERM during load', () => {
  test('an in-flight request finishes; the app exits 0', async () => {
    const r = await rig('fault-sigterm-inflight', {
      redisArgs: ['--enable-debug-command', 'local'], appEnv: { SESSIONLAB_REDIS_TIMEOUT_MS: '5000' } });
    try {
      const [cookie] = await sessions(r.port, 1);
      const sleeping = redisCli(r.redis.port, 'DEBUG', 'SLEEP', '1');
      await sleep(100);
      const inflight = apiView(r.port, cookie, { timeout: 15000 });
      await sleep(300);
      const app = r.apps[0];
      process.kill(app.pid, 'SIGTERM');
      const v = await inflight;
      await sleeping;
      const { code, signal } = await app.exited;
      console.log(`# SIGTERM with a request in flight: answered ${v.status}, app exit ${code}/${signal}`);
      assert.equal(v.status, 200, 'the in-flight request was answered');
      assert.equal(v.json.access_count, 2);
      assert.equal(code, 0, 'exit status 0');
      assert.match(app.log(), /SIGTERM received/);
      assert.match(app.log(), /stopped/);
    } finally { await r.stop(); }
  });

  test('SIGTERM one of 3 replicas under load: no request fails', async () => {
    const r = await rig('fault-sigterm-load', { replicas: 3 });
    try {
      const N = 12;
      const cookies = await sessions(r.port, N);
      const ok = new Array(N).fill(1);
      let stop = false;
      const gets = runLoad({
        clients: N, until: () => stop,
        step: async (c, i, agent) => {
          const v = await apiView(r.port, cookies[c], { agent });
          if (v.status === 200) ok[c]++;
          return v;
        },
      });
      const posts = runLoad({
        clients: 4, until: () => stop, pauseMs: 5,
        step: (c, i, agent) => request(r.port, 'POST', '/setSession', {
          agent, body: form({ value: `v${i}` }), headers: { Cookie: cookies[c], 'Content-Type': FORM, Origin: r.origin },
        }),
      });
      await sleep(700);
      const victim = r.apps[0];
      process.kill(victim.pid, 'SIGTERM');
      const { code } = await victim.exited;
      await sleep(700);
      stop = true;
      const [g, p] = await Promise.all([gets, posts]);
      console.log(`# SIGTERM under load: app exit ${code}; GETs ${JSON.stringify([...g.statuses])}, `
        + `POSTs ${JSON.stringify([...p.statuses])}, errors ${g.errors.length + p.errors.length}`);
      assert.equal(code, 0);
      assert.deepEqual(g.errors, []);
      assert.deepEqual(p.errors, []);
      assert.deepEqual([...g.statuses.keys()], [200], 'every GET answered 200');
      assert.deepEqual([...p.statuses.keys()], [303], 'every POST answered 303');
      for (let c = 0; c < N; c++) {
        const v = await apiView(r.port, cookies[c]);
        assert.equal(v.json.access_count, ok[c] + 1, `session ${c}: every view counted once`);
      }
    } finally { await r.stop(); }
  });
});
