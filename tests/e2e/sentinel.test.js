'use strict';
// Redis Sentinel: SESSIONLAB_REDIS_URL=redis-sentinel://… on loopback with a
// master, one replica and three sentinels (quorum 2, down-after 1 s,
// failover-timeout 3 s). The master is SIGKILLed under load: sessions
// survive on the promoted replica and the app follows the failover without
// a restart, because every reconnect asks the sentinels again.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { startApp, startNginx, makeLogDir, freePort, sleep } = require('./lib/stack');
const { request } = require('./lib/http');
const { redisCli, startRedisWith, startSentinel, runLoad, waitFor, apiView, storeUp } = require('./lib/faults');

const MASTER = 'slmaster';
const DOWN_AFTER_MS = 1000;
const FAILOVER_TIMEOUT_MS = 3000;
// Kill → first 200 again: detection (down-after) + election and promotion
// (typically < 1 s) + the app's reconnect. Generous slack for a busy 2-core
// machine; measured values are printed.
const OUTAGE_LIMIT_MS = DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS + 6000;
// Sentinels announce the new master → the app answers 200 again.
const FOLLOW_LIMIT_MS = 3000;

describe('redis sentinel failover', () => {
  const procs = [];
  let master, replica, sentinels, nginx, logDir;

  before(async () => {
    try { execFileSync('redis-sentinel', ['--version'], { stdio: 'ignore' }); } catch {
      throw new Error('redis-sentinel is not installed: apt-get install redis-sentinel');
    }
    logDir = makeLogDir('sentinel');
    master = await startRedisWith({ logDir, name: 'master' });
    procs.push(master);
    replica = await startRedisWith({ logDir, name: 'replica', args: ['--replicaof', '127.0.0.1', String(master.port)] });
    procs.push(replica);
    await waitFor(async () => /master_link_status:up/.test(await redisCli(replica.port, 'INFO', 'replication')),
      { ms: 20000, what: 'replica linked to master' });
    sentinels = [];
    for (let i = 1; i <= 3; i++) {
      const s = await startSentinel({ logDir, name: `sentinel-${i}`, masterName: MASTER, masterPort: master.port,
        downAfterMs: DOWN_AFTER_MS, failoverTimeoutMs: FAILOVER_TIMEOUT_MS });
      procs.push(s);
      sentinels.push(s);
    }
    // Each sentinel must know the replica and the two other sentinels before
    // a failover can be agreed (hello messages go out every 2 s).
    for (const s of sentinels) {
      await waitFor(async () => {
        const m = await redisCli(s.port, 'SENTINEL', 'master', MASTER);
        const num = (k) => Number((m.split('\n').findIndex((l) => l === k) >= 0
          ? m.split('\n')[m.split('\n').findIndex((l) => l === k) + 1] : 'NaN'));
        return num('num-slaves') >= 1 && num('num-other-sentinels') >= 2;
      }, { ms: 30000, every: 200, what: `sentinel ${s.port} sees the replica and its peers` });
    }
    const url = `redis-sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER}`;
    const env = { SESSIONLAB_REDIS_URL: url, SESSIONLAB_REDIS_PREFIX: `e2e:${crypto.randomBytes(4).toString('hex')}:` };
    const apps = [];
    for (let i = 1; i <= 2; i++) {
      const a = await startApp({ store: 'redis', env, instance: `app-${i}`, name: `app-${i}`, logDir });
      procs.push(a);
      apps.push(a);
    }
    nginx = await startNginx({ servers: apps.map((a) => `127.0.0.1:${a.port}`), logDir });
    procs.push(nginx);
    await waitFor(async () => (await storeUp(nginx.port)) === true,
      { ms: 10000, what: 'sessionlab_store_up 1 through sentinel' });
  });
  after(async () => { await Promise.all(procs.map((p) => p.stop())); });

  test('the app finds the master through the sentinels', async () => {
    const r = await apiView(nginx.port, '');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.store, 'redis');
    const keys = await redisCli(master.port, 'DBSIZE');
    assert.ok(Number(keys) >= 1, 'the session was written to the master');
  });

  test('kill -9 the master under load: sessions survive, service resumes within the failover time', async () => {
    // 16 sessions with a few views each, replicated before the kill.
    const SESSIONS = 16;
    const cookies = [];
    const before = [];
    for (let i = 0; i < SESSIONS; i++) {
      let r = await apiView(nginx.port, '');
      assert.equal(r.status, 200);
      const cookie = `SESSION=${r.json.session_id}`;
      for (let k = 0; k < 3; k++) r = await apiView(nginx.port, cookie);
      cookies.push(cookie);
      before.push(r.json.access_count);
    }
    const acked = await redisCli(master.port, 'WAIT', '1', '5000');
    assert.equal(acked, '1', 'the replica acknowledged the writes');

    let stop = false;
    const timeline = []; // [ms since kill (negative before), status or 'err']
    let tKill = 0;
    const load = runLoad({
      clients: 8,
      until: () => stop,
      pauseMs: 20,
      step: async (c, i, agent) => {
        const r = await apiView(nginx.port, cookies[(c + i) % SESSIONS], { agent, timeout: 20000 });
        timeline.push([tKill ? Date.now() - tKill : -1, r.status]);
        return r;
      },
    });
    await sleep(500);
    tKill = Date.now();
    await master.kill9();
    // The sentinels' view: when did they name the replica as master?
    const promoted = await waitFor(async () => {
      const a = await redisCli(sentinels[0].port, 'SENTINEL', 'get-master-addr-by-name', MASTER);
      return a.split('\n')[1] === String(replica.port) ? Date.now() : 0;
    }, { ms: OUTAGE_LIMIT_MS, every: 50, what: 'sentinels promote the replica' });
    // Service back: a 200 answered after the promotion.
    await waitFor(() => timeline.some(([t, st]) => st === 200 && t > promoted - tKill),
      { ms: FOLLOW_LIMIT_MS + 5000, every: 50, what: 'a 200 after the promotion' }).catch(() => {});
    await sleep(1500); // keep loading on the new master for a while
    stop = true;
    const res = await load;

    const failoverMs = promoted - tKill;
    const bad = timeline.filter(([t, st]) => t >= 0 && st !== 200);
    const firstBad = bad.length ? Math.min(...bad.map(([t]) => t)) : null;
    const lastBad = bad.length ? Math.max(...bad.map(([t]) => t)) : null;
    console.log(`# sentinel: promoted after ${failoverMs} ms; non-200 from ${firstBad} to ${lastBad} ms after the kill `
      + `(${bad.length} of ${res.sent}); statuses ${JSON.stringify([...res.statuses])}; errors ${res.errors.length}`);
    assert.deepEqual(res.errors, [], 'no request failed at the HTTP level');
    for (const st of res.statuses.keys()) assert.ok(st === 200 || st === 503, `only 200 or 503, got ${st}`);
    assert.ok(lastBad === null || lastBad <= failoverMs + FOLLOW_LIMIT_MS,
      `served again within ${FOLLOW_LIMIT_MS} ms of the promotion (last failure ${lastBad} ms, promotion ${failoverMs} ms)`);
    assert.ok(lastBad === null || lastBad <= OUTAGE_LIMIT_MS, `outage ${lastBad} ms <= ${OUTAGE_LIMIT_MS} ms`);
    assert.ok(timeline.some(([t, st]) => st === 200 && t > lastBad), 'served after the last failure');

    // Every session is still there, with at least its replicated count.
    for (let i = 0; i < SESSIONS; i++) {
      const r = await apiView(nginx.port, cookies[i]);
      assert.equal(r.status, 200);
      assert.equal(r.json.new, false, `session ${i} survived`);
      assert.equal(`SESSION=${r.json.session_id}`, cookies[i]);
      assert.ok(r.json.access_count > before[i], `session ${i}: count ${r.json.access_count} > ${before[i]}`);
    }
    const role = await redisCli(replica.port, 'ROLE');
    assert.match(role, /^master/, 'the replica is the master now');
    assert.equal(await storeUp(nginx.port), true, 'sessionlab_store_up 1 after the failover');
  });
});

describe('redis sentinel unreachable', () => {
  let app, nginx;
  after(async () => { for (const p of [nginx, app]) if (p) await p.stop(); });

  test('no sentinel answers: 503, the app keeps serving and says why', async () => {
    const logDir = makeLogDir('sentinel-down');
    const ports = [await freePort(), await freePort()];
    const url = `redis-sentinel://${ports.map((p) => `127.0.0.1:${p}`).join(',')}/${MASTER}`;
    app = await startApp({ store: 'redis', env: { SESSIONLAB_REDIS_URL: url }, instance: 'lonely', name: 'app', logDir });
    nginx = await startNginx({ servers: [`127.0.0.1:${app.port}`], logDir });
    const r = await apiView(nginx.port, '');
    assert.equal(r.status, 503);
    assert.equal((await request(nginx.port, 'GET', '/readyz')).status, 200, 'readiness is the pod\'s own');
    assert.equal(await storeUp(nginx.port), false, 'sessionlab_store_up 0');
    assert.equal((await request(nginx.port, 'GET', '/healthz')).status, 200);
    assert.ok(app.alive);
    await waitFor(() => /no sentinel named a master 'slmaster'/.test(app.log()), { ms: 5000, what: 'the reason in the log' });
  });
});
