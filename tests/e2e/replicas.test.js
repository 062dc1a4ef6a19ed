'use strict';
// Three app processes behind one nginx: the lab's steps. Memory sessions
// survive only with affinity; Redis sessions survive round robin.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');
const { Jar } = require('./lib/http');

const SID = /^[0-9a-f]{32}$/;

async function views(s, n, { jar = new Jar(), localAddress } = {}) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await s.request('GET', '/api/session', { jar, localAddress });
    assert.equal(r.status, 200, r.body);
    out.push({ ...JSON.parse(r.body), setCookies: r.cookies });
  }
  return out;
}

describe('redis x3, round robin', () => {
  let s;
  before(async () => { s = await startStack({ label: 'redis-x3', store: 'redis', replicas: 3 }); });
  after(async () => { if (s) await s.stop(); });

  test('one session, exact count, hosts change', async () => {
    const v = await views(s, 12);
    assert.equal(new Set(v.map((x) => x.session_id)).size, 1, 'one session id');
    assert.deepEqual(v.map((x) => x.access_count), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.ok(v.every((x) => x.store === 'redis'));
    const hosts = new Set(v.map((x) => x.hostname));
    assert.ok(hosts.size >= 2, `hosts seen: ${[...hosts]}`);
    for (const h of hosts) assert.match(h, /^app-[123]$/);
    // served_by is the hostnames of the last views, newest first, at most 10
    const last = v[v.length - 1];
    assert.deepEqual(last.served_by, v.slice(-10).map((x) => x.hostname).reverse());
  });

  test('the page says Redis', async () => {
    const r = await s.request('GET', '/');
    assert.equal(r.status, 200);
    assert.match(r.body, /<title>Session Sample - Redis<\/title>/);
  });

  test('/hello names each instance', async () => {
    const seen = new Set();
    for (let i = 0; i < 9; i++) {
      const r = await s.request('GET', '/hello');
      seen.add(r.body.trim());
    }
    assert.ok(seen.size >= 2, [...seen].join(','));
    for (const h of seen) assert.match(h, /^Hello from app-[123]$/);
  });
});

describe('memory x3, round robin', () => {
  let s;
  before(async () => { s = await startStack({ label: 'memory-x3', store: 'memory', replicas: 3 }); });
  after(async () => { if (s) await s.stop(); });

  test('loses the session: the id changes or the count resets', async () => {
    const v = await views(s, 9);
    const ids = new Set(v.map((x) => x.session_id));
    const counts = v.map((x) => x.access_count);
    assert.ok(ids.size > 1, 'the session id changed at least once');
    assert.notDeepEqual(counts, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(v.slice(1).some((x) => x.new), 'a later request created a new session');
  });
});

describe('memory x3, cookie affinity', () => {
  let s;
  before(async () => { s = await startStack({ label: 'memory-x3-cookie', store: 'memory', replicas: 3, affinity: 'cookie' }); });
  after(async () => { if (s) await s.stop(); });

  test('keeps the session; SLROUTE set once, with the right attributes', async () => {
    const jar = new Jar();
    const v = await views(s, 10, { jar });
    assert.equal(new Set(v.map((x) => x.session_id)).size, 1);
    assert.deepEqual(v.map((x) => x.access_count), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(new Set(v.map((x) => x.hostname)).size, 1, 'one host');
    const route = v[0].setCookies.find((c) => c.name === 'SLROUTE');
    assert.ok(route, 'first response sets SLROUTE');
    assert.match(route.value, /^[0-9a-f]{32}$/);
    assert.equal(route.raw, `SLROUTE=${route.value}; Path=/; HttpOnly; SameSite=Lax`);
    assert.ok(v[0].setCookies.some((c) => c.name === 'SESSION'), 'and SESSION');
    for (const x of v.slice(1)) {
      assert.equal(x.setCookies.length, 0, 'no Set-Cookie once both cookies are kept');
    }
    assert.equal(jar.get('SLROUTE'), route.value);
    assert.match(jar.get('SESSION'), SID);
  });

  test('an invalid SLROUTE is replaced', async () => {
    const jar = new Jar();
    jar.set('SLROUTE', '../../etc');
    const r = await s.request('GET', '/api/session', { jar });
    const c = r.cookies.find((x) => x.name === 'SLROUTE');
    assert.ok(c, 'new SLROUTE');
    assert.match(c.value, /^[0-9a-f]{32}$/);
  });

  test('different clients spread over the replicas', async () => {
    const hosts = new Set();
    for (let i = 0; i < 15; i++) {
      const [x] = await views(s, 1);
      hosts.add(x.hostname);
    }
    assert.ok(hosts.size >= 2, `15 new clients all went to ${[...hosts]}`);
  });

  test('the error pages and other routes carry SLROUTE too', async () => {
    const r = await s.request('GET', '/nope');
    assert.equal(r.status, 404);
    assert.ok(r.cookies.some((c) => c.name === 'SLROUTE'), 'add_header ... always');
  });
});

describe('memory x3, client-ip affinity', () => {
  let s;
  before(async () => { s = await startStack({ label: 'memory-x3-clientip', store: 'memory', replicas: 3, affinity: 'client-ip' }); });
  after(async () => { if (s) await s.stop(); });

  test('keeps the session for 127.0.0.1', async () => {
    const v = await views(s, 10);
    assert.equal(new Set(v.map((x) => x.session_id)).size, 1);
    assert.deepEqual(v.map((x) => x.access_count), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(new Set(v.map((x) => x.hostname)).size, 1);
    assert.ok(v.every((x) => !x.setCookies.some((c) => c.name === 'SLROUTE')), 'no route cookie');
  });

  test('different client addresses spread (hash, not ip_hash)', async () => {
    const hosts = new Set();
    for (let i = 2; i < 22; i++) {
      const [x] = await views(s, 1, { localAddress: `127.0.0.${i}` });
      hosts.add(x.hostname);
    }
    assert.ok(hosts.size >= 2, `20 client addresses all went to ${[...hosts]}`);
  });
});
