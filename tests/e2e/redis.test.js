'use strict';
// Redis as a dependency: outage and recovery without restarting the app, and
// atomic counting under concurrency across replicas.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startStack, startRedis, sleep } = require('./lib/stack');
const { Jar } = require('./lib/http');
const { storeUp } = require('./lib/faults');

describe('redis outage', () => {
  let s;
  before(async () => { s = await startStack({ label: 'redis-outage', store: 'redis', replicas: 1, instance: 'solo' }); });
  after(async () => { if (s) await s.stop(); });

  test('503 while redis is down, served again after it returns, no app restart', async () => {
    const jar = new Jar();
    let r = await s.request('GET', '/api/session', { jar });
    assert.equal(r.status, 200);
    assert.equal((await s.request('GET', '/readyz')).status, 200);

    const port = s.redis.port;
    await s.redis.stop();
    s.redis = null;

    r = await s.request('GET', '/api/session', { jar });
    assert.equal(r.status, 503, r.body);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(typeof JSON.parse(r.body).error, 'string');
    assert.equal(r.headers['retry-after'], '1');

    r = await s.request('GET', '/', { jar });
    assert.equal(r.status, 503);
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.equal(r.headers['retry-after'], '1');

    r = await s.request('POST', '/setSession', {
      jar, body: 'value=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: s.origin },
    });
    assert.equal(r.status, 503, 'setSession');

    // Readiness is the pod's own: a Redis every replica shares must not
    // take them all out of the Service; the store's state is a metric.
    r = await s.request('GET', '/readyz');
    assert.equal(r.status, 200, `readyz while redis is down: ${r.status} ${r.body}`);
    assert.equal(await storeUp(s.port), false, 'sessionlab_store_up 0 while redis is down');
    r = await s.request('GET', '/healthz');
    assert.equal(r.status, 200, 'liveness does not depend on redis');
    assert.ok(s.apps[0].alive, 'app process still running');

    s.redis = await startRedis({ port, logDir: s.logDir, name: 'redis-2' });
    const pidBefore = s.apps[0].pid;
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) {
      r = await s.request('GET', '/api/session', { jar });
      ok = r.status === 200;
      if (!ok) await sleep(100);
    }
    assert.ok(ok, `served again within ~2 s (last status ${r.status})`);
    assert.equal((await s.request('GET', '/readyz')).status, 200);
    assert.equal(await storeUp(s.port), true, 'sessionlab_store_up 1 again');
    assert.ok(s.apps[0].alive);
    assert.equal(s.apps[0].pid, pidBefore);
  });
});

describe('concurrency over redis x3', () => {
  let s;
  before(async () => { s = await startStack({ label: 'redis-concurrent', store: 'redis', replicas: 3 }); });
  after(async () => { if (s) await s.stop(); });

  test('32 clients x 25 requests sharing one cookie: exact, unique counts', async () => {
    const jar = new Jar();
    const first = await s.request('GET', '/api/session', { jar });
    assert.equal(first.status, 200);
    assert.equal(JSON.parse(first.body).access_count, 1);
    const cookie = jar.header();

    const CLIENTS = 32;
    const PER = 25;
    const counts = [];
    const statuses = new Map();
    const hosts = new Set();
    const client = async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < PER; i++) {
          const r = await s.request('GET', '/api/session', { agent, headers: { Cookie: cookie } });
          statuses.set(r.status, (statuses.get(r.status) || 0) + 1);
          if (r.status === 200) {
            const j = JSON.parse(r.body);
            counts.push(j.access_count);
            hosts.add(j.hostname);
          }
        }
      } finally {
        agent.destroy();
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    assert.deepEqual([...statuses], [[200, CLIENTS * PER]], 'every request answered 200');
    counts.sort((a, b) => a - b);
    const expected = Array.from({ length: CLIENTS * PER }, (_, i) => i + 2);
    assert.deepEqual(counts, expected, 'each request saw its own count: increments are atomic');
    assert.equal(hosts.size, 3, 'all replicas served');

    const last = JSON.parse((await s.request('GET', '/api/session', { headers: { Cookie: cookie } })).body);
    assert.equal(last.access_count, CLIENTS * PER + 2, 'final count = requests + the first (+ this one)');
    assert.ok(last.served_by.length <= 10);
  });
});
