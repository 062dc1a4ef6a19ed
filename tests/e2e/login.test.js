'use strict';
// POST /login (a demo: no password) and session id rotation, through real
// nginx + sessionlab-app [+ redis-server]: the new id in Set-Cookie, the
// session's count, value and cart carried over, the old id refused at once
// (memory x1, and on every replica with Redis x3), the page and the JSON,
// methods, CSRF, hostile names, and the metrics. Issue 15; the contract is
// README "HTTP interface" and docs/security.md "Session fixation".

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { startStack } = require('./lib/stack');
const { Jar, form } = require('./lib/http');
const { redisCli } = require('./lib/faults');
const {
  FORM, SID, USER_MAX, post, view, page, login, cart, logout, cartMap, assertCartShape, assertFresh,
  sessionCookie, cookieOf, shopMetrics, redisKey, userKey, direct, directView, viewOnEveryReplica,
} = require('./lib/shop');

const field = (html, id) => {
  const m = html.match(new RegExp(`id="${id}"[^>]*>([^<]*)<`));
  assert.ok(m, `element id=${id} in page`);
  return m[1].trim();
};

/** A session with count 3, a value and a cart of apple x2 + milk x1; returns {jar, id}. */
async function busySession(s, value = 'kept across login') {
  const jar = new Jar();
  for (let i = 0; i < 3; i++) await view(s, { jar });
  assert.equal((await post(s, '/setSession', form({ value }), { jar })).status, 303);
  for (const item of ['apple', 'milk', 'apple']) assert.equal((await cart(s, item, 'add', { jar })).status, 303);
  return { jar, id: jar.get('SESSION') };
}

/** The carried-over session after a login: checks count, value, cart, user. */
function assertCarried(j, { id, count, value, user }) {
  assert.equal(j.session_id, id, 'the new id is the session now');
  assert.equal(j.new, false, 'not a new session: the old one under a new id');
  assert.equal(j.access_count, count, 'the count carried over');
  assert.equal(j.value, value, 'the value carried over');
  assert.deepEqual(j.cart, [{ item: 'apple', qty: 2 }, { item: 'milk', qty: 1 }], 'the cart carried over');
  assert.equal(j.user, user);
}

/**
 * Views with the old cookie racing a login: every view answered under the old
 * id counted once and carried over, none sent after the login's 303 served the
 * old id (no moment where both ids work).
 */
async function rotationRace(s) {
  const { jar, id: old } = await busySession(s);
  const c0 = (await view(s, { cookie: cookieOf(old) })).access_count; // 4
  const served = []; // counts answered under the old id
  let loginDone = 0; // time the login's 303 arrived
  let stop = false;
  const late = [];
  const client = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (!stop) {
        const t0 = Date.now();
        const r = await s.request('GET', '/api/session', { agent, headers: { Cookie: cookieOf(old) } });
        assert.equal(r.status, 200);
        const j = JSON.parse(r.body);
        if (j.session_id === old) {
          served.push(j.access_count);
          if (loginDone && t0 > loginDone) late.push(j);
        } else {
          assertFresh(j, old, 'a view after the rotation');
        }
      }
    } finally { agent.destroy(); }
  };
  const clients = Array.from({ length: 6 }, client);
  let id;
  try {
    await new Promise((resolve) => setTimeout(resolve, 150));
    ({ id } = await login(s, 'racer', { jar }));
    loginDone = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 150));
  } finally {
    stop = true;
    await Promise.allSettled(clients);
  }
  await Promise.all(clients);
  assert.deepEqual(late, [], 'no view sent after the login\'s 303 was served the old id');
  served.sort((a, b) => a - b);
  assert.deepEqual(served, Array.from({ length: served.length }, (_, i) => c0 + 1 + i), 'the old id\'s counts are exact until the rotation');
  const j = await view(s, { jar });
  assert.equal(j.session_id, id);
  assert.equal(j.access_count, c0 + served.length + 1, 'every view of the old id before the rotation is in the new session\'s count');
  console.log(`# rotation race: ${served.length} views served the old id before the rotation`);
}

describe('login, memory x1', () => {
  let s;
  before(async () => { s = await startStack({ label: 'login-memory' }); });
  after(async () => { if (s) await s.stop(); });

  test('without a session: 303 to /, a new id, a fresh logged-in session (count 0 before this view)', async () => {
    const jar = new Jar();
    const { r, id } = await login(s, 'alice', { jar });
    const c = sessionCookie(r);
    assert.equal(c.raw, `SESSION=${id}; Path=/; HttpOnly; SameSite=Lax`);
    const j = await view(s, { jar });
    assert.equal(j.session_id, id);
    assert.equal(j.user, 'alice');
    assert.equal(j.access_count, 1, 'the login POST did not count a view');
    assert.deepEqual(j.cart, []);
    assert.equal(j.value, null);
  });

  test('rotation: a new id in Set-Cookie, count, value and cart carried over, the old id refused', async () => {
    const { jar, id: old } = await busySession(s);
    const { id } = await login(s, 'alice', { jar });
    assert.notEqual(id, old, 'login issues a NEW session id');
    assert.equal(id.slice(0, 4), old.slice(0, 4), 'the new id keeps the old one\'s first 4 hex digits (the Redis hash tag)');
    assertCarried(await view(s, { jar }), { id, count: 4, value: 'kept across login', user: 'alice' });
    assertFresh(await view(s, { cookie: cookieOf(old) }), old, 'the old cookie after login');
    // and the new session was not touched by that: count 5 on its next view
    assert.equal((await view(s, { jar })).access_count, 5);
  });

  test('views racing a login: no count lost, none counted twice, none served the old id after the 303', async () => {
    await rotationRace(s);
  });

  test('the old id is refused by every route: a cart add, a logout, a login with it leave the new session alone', async () => {
    const { jar, id: old } = await busySession(s);
    const { id } = await login(s, 'carol', { jar });
    let r = await cart(s, 'bread', 'add', { cookie: cookieOf(old) });
    assert.equal(r.status, 303);
    assert.notEqual(sessionCookie(r) && sessionCookie(r).value, old, 'a cart add with the old id makes a new session');
    r = await logout(s, { all: true, cookie: cookieOf(old) });
    assert.equal(r.status, 303);
    const { id: other } = await login(s, 'mallory', { cookie: cookieOf(old) });
    assert.notEqual(other, id);
    const j = await view(s, { jar });
    assert.equal(j.session_id, id);
    assert.equal(j.user, 'carol', 'still logged in: the old id ended nothing');
    assert.deepEqual(cartMap(j), { apple: 2, milk: 1 }, 'no bread: the old id reached nothing');
    const m = await view(s, { cookie: cookieOf(other) });
    assert.equal(m.user, 'mallory');
    assert.deepEqual(m.cart, [], 'a login with the old id got a fresh session, not the old data');
    assert.equal(m.value, null);
  });

  test('logging in again (same or another name) rotates again and keeps the data', async () => {
    const { jar } = await busySession(s);
    const ids = [jar.get('SESSION')];
    for (const user of ['dave', 'dave', 'erin']) {
      const { id } = await login(s, user, { jar });
      assert.ok(!ids.includes(id), `${user}: a new id each time`);
      ids.push(id);
      const j = await view(s, { jar });
      assert.equal(j.user, user);
      assert.equal(j.value, 'kept across login');
      assert.deepEqual(cartMap(j), { apple: 2, milk: 1 });
    }
    for (const old of ids.slice(0, -1)) assertFresh(await view(s, { cookie: cookieOf(old) }), old, 'an earlier id');
    assert.equal((await view(s, { jar })).access_count, 7, '3 views + 3 after the logins + this one');
  });

  test('an unknown well-formed cookie: login creates a fresh session, never adopts the id', async () => {
    const unknown = `${'ab'.repeat(8)}0123456789abcdef`;
    const { id } = await login(s, 'frank', { cookie: cookieOf(unknown) });
    assert.notEqual(id, unknown);
    const j = await view(s, { cookie: cookieOf(id) });
    assert.equal(j.user, 'frank');
    assert.equal(j.access_count, 1);
    assertFresh(await view(s, { cookie: cookieOf(unknown) }), unknown, 'the unknown id');
  });

  test('the page: a login form when logged out, "Logged in as NAME" and two logout buttons when logged in', async () => {
    const jar = new Jar();
    let html = await page(s, { jar });
    assert.equal(field(html, 'user'), '-');
    const lf = html.match(/<form[^>]*id="login-form"[^>]*>[\s\S]*?<\/form>/);
    assert.ok(lf, 'form#login-form');
    assert.match(lf[0], /method="post"/i);
    assert.match(lf[0], /action="\/login"/);
    assert.match(lf[0], /<input[^>]*name="user"/);
    assert.match(lf[0], /<button[^>]*>\s*Log in\s*<\/button>/);
    assert.ok(!/id="logout-form"/.test(html), 'no logout form while logged out');
    assert.ok(!html.includes('Logged in as'));

    await login(s, 'a.b_C-9', { jar });
    html = await page(s, { jar });
    assert.equal(field(html, 'user'), 'a.b_C-9');
    assert.match(html, /Logged in as (<[^>]+>)*a\.b_C-9/);
    assert.ok(!/id="login-form"/.test(html), 'no login form while logged in');
    const of = html.match(/<form[^>]*id="logout-form"[^>]*>[\s\S]*?<\/form>/);
    assert.ok(of, 'form#logout-form');
    assert.match(of[0], /action="\/logout"/);
    assert.match(of[0], /method="post"/i);
    assert.match(html, /<button[^>]*>\s*Log out\s*<\/button>/);
    assert.match(html, /<button[^>]*name="all"[^>]*value="1"[^>]*>\s*Log out everywhere\s*<\/button>|<button[^>]*value="1"[^>]*name="all"[^>]*>\s*Log out everywhere\s*<\/button>/,
      'a "Log out everywhere" button posting all=1');
    assert.ok(html.includes('With the memory store this ends only the sessions this replica holds.'),
      'the memory store says what log out everywhere cannot do');
  });

  test('the JSON: "user" (null, then the name) and "cart", after value/date, before store', async () => {
    const jar = new Jar();
    let j = await view(s, { jar });
    assert.equal(j.user, null);
    assert.deepEqual(j.cart, []);
    await login(s, 'json-user', { jar });
    const r = await s.request('GET', '/api/session', { jar });
    j = JSON.parse(r.body);
    assert.equal(j.user, 'json-user');
    const keys = Object.keys(j);
    for (const k of ['user', 'cart']) {
      assert.ok(keys.indexOf(k) > keys.indexOf('date'), `${k} after date: ${keys}`);
      assert.ok(keys.indexOf(k) < keys.indexOf('store'), `${k} before store: ${keys}`);
    }
    assert.ok(r.body.indexOf('"user":') < r.body.indexOf('"store":'));
    assertCartShape(j);
  });

  test('names: 1 to 32 of [A-Za-z0-9._-], percent escapes decoded first', async () => {
    for (const [body, user] of [
      ['user=x', 'x'], [`user=${'Z'.repeat(USER_MAX)}`, 'Z'.repeat(USER_MAX)],
      [`user=${'%41'.repeat(USER_MAX)}`, 'A'.repeat(USER_MAX)], ['user=%41lice', 'Alice'],
      ['user=..', '..'], ['user=-._', '-._'], ['other=1&user=bob&more=2', 'bob'],
    ]) {
      const jar = new Jar();
      const r = await post(s, '/login', body, { jar });
      assert.equal(r.status, 303, `${body}: ${r.status} ${r.body}`);
      assert.equal((await view(s, { jar })).user, user, body);
    }
  });

  test('hostile names: 400 with the contract\'s message, nothing changed, never on the page', async () => {
    const { jar, id } = await busySession(s);
    await login(s, 'victim', { jar });
    const cur = jar.get('SESSION');
    const bad = [
      'user=', `user=${'a'.repeat(USER_MAX + 1)}`, `user=${'%41'.repeat(USER_MAX + 1)}`, 'user=a+b', 'user=a%20b',
      'user=a%2Fb', 'user=%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'user=%22q%22', 'user=o%27neil', 'user=a%00b',
      'user=%00', 'user=a%0d%0aSet-Cookie:%20x=1', 'user=%C3%A4', 'user=a;b', 'user=a:b', 'user=a*', 'user=a%2Cb',
      'user=%E2%80%A8', 'user=%3Cb%3E',
    ];
    for (const body of bad) {
      const r = await post(s, '/login', body, { jar });
      assert.equal(r.status, 400, `${body}: ${r.status}`);
      assert.match(r.headers['content-type'], /^text\/html/);
      assert.ok(r.body.includes('A user name is 1 to 32 letters, digits, &#39;.&#39;, &#39;_&#39; or &#39;-&#39;.'),
        `${body}: the 400 page says what a name is: ${r.body.slice(0, 400)}`);
      assert.equal(sessionCookie(r), undefined, `${body}: no new cookie (no rotation)`);
      assert.ok(!/<script>alert|<b>|Set-Cookie: x/.test(r.body), `${body}: not echoed`);
    }
    for (const body of ['name=alice', '', 'user=%zz', 'user=%4', 'user=%']) {
      const r = await post(s, '/login', body, { jar });
      assert.equal(r.status, 400, `${body || '(empty)'}: ${r.status}`);
    }
    const j = await view(s, { jar });
    assert.equal(j.session_id, cur, 'the session id did not change');
    assert.equal(j.user, 'victim', 'still the same user');
    assert.deepEqual(cartMap(j), { apple: 2, milk: 1 });
    const html = await page(s, { jar });
    assert.ok(!html.includes('<script>alert') && !html.includes('&lt;script&gt;'), 'no rejected name on the page');
    assert.equal(field(html, 'user'), 'victim');
    assert.notEqual(cur, id);
  });

  test('bodies: 415 for other content types, 413 over 16 KiB, and the session unchanged', async () => {
    const jar = new Jar();
    await view(s, { jar });
    const id = jar.get('SESSION');
    for (const ct of ['text/plain', 'application/json', 'multipart/form-data; boundary=x', null]) {
      const r = await post(s, '/login', 'user=alice', { jar, contentType: ct });
      assert.equal(r.status, 415, `Content-Type ${ct}`);
    }
    let r = await post(s, '/login', `user=alice&pad=${'p'.repeat(17000)}`, { jar });
    assert.equal(r.status, 413, 'over 16 KiB');
    r = await post(s, '/login', `user=${'a'.repeat(5000)}`, { jar });
    assert.ok(r.status === 400 || r.status === 413, `a 5000-byte name: ${r.status}`);
    const j = await view(s, { jar });
    assert.equal(j.session_id, id);
    assert.equal(j.user, null);
  });

  test('methods: GET, HEAD, PUT, DELETE on /login, /logout, /cart are 405 with Allow: POST', async () => {
    for (const p of ['/login', '/logout', '/cart']) {
      for (const m of ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH']) {
        const r = await s.request(m, p, { body: m === 'GET' || m === 'HEAD' ? undefined : '', headers: { Origin: s.origin } });
        assert.equal(r.status, 405, `${m} ${p}`);
        assert.equal(r.headers.allow, 'POST', `${m} ${p} Allow`);
      }
      for (const q of [`${p}/`, `${p}/x`, `${p}x`]) {
        assert.equal((await s.request('POST', q, { body: 'user=a', headers: { 'Content-Type': FORM, Origin: s.origin } })).status, 404, `POST ${q}`);
      }
    }
  });

  test('CSRF: a cross-site Origin or Sec-Fetch-Site on /login, /logout, /cart is 403 and changes nothing', async () => {
    const { jar } = await busySession(s);
    await login(s, 'csrf-victim', { jar });
    const id = jar.get('SESSION');
    const hostile = [
      { Origin: 'http://evil.example' }, { Origin: 'null' }, { Origin: 'http://127.0.0.1.evil.example' },
      { Origin: `http://evil.example:${s.port}` }, { Origin: `https://evil.example:${s.port}` },
      { 'Sec-Fetch-Site': 'cross-site' }, { 'Sec-Fetch-Site': 'cross-site', Origin: s.origin },
    ];
    for (const headers of hostile) {
      const what = JSON.stringify(headers);
      let r = await post(s, '/login', 'user=attacker', { jar, headers });
      assert.equal(r.status, 403, `/login ${what}`);
      assert.equal(sessionCookie(r), undefined, `/login ${what}: no cookie (no fixation by a forged login)`);
      r = await cart(s, 'bread', 'add', { jar, headers });
      assert.equal(r.status, 403, `/cart ${what}`);
      r = await logout(s, { jar, headers });
      assert.equal(r.status, 403, `/logout ${what}`);
      r = await logout(s, { all: true, jar, headers });
      assert.equal(r.status, 403, `/logout all=1 ${what}`);
      assert.equal(sessionCookie(r), undefined, `/logout ${what}: the cookie is not expired`);
    }
    const j = await view(s, { jar });
    assert.equal(j.session_id, id);
    assert.equal(j.user, 'csrf-victim');
    assert.deepEqual(cartMap(j), { apple: 2, milk: 1 });
    // same-origin by Sec-Fetch-Site alone is fine (as for /setSession)
    const r = await s.request('POST', '/cart', { jar, body: 'item=bread&action=add', headers: { 'Content-Type': FORM, 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(r.status, 303);
  });

  test('metrics: logins, rotations, logouts and revocations move', async () => {
    const m0 = await shopMetrics(s);
    for (const [k, v] of Object.entries(m0)) assert.ok(Number.isFinite(v), `sessionlab_${k}_total in /metrics`);
    const body = (await s.request('GET', '/metrics')).body;
    for (const k of ['logins', 'logouts', 'sessions_revoked', 'session_id_rotations']) {
      assert.match(body, new RegExp(`^# TYPE sessionlab_${k}_total counter$`, 'm'));
    }
    const { jar } = await busySession(s); // a live session: this login rotates
    await login(s, 'metrics', { jar });
    let m = await shopMetrics(s);
    assert.equal(m.logins - m0.logins, 1, 'one login');
    assert.equal(m.session_id_rotations - m0.session_id_rotations, 1, 'one rotation');
    const others = [];
    for (let i = 0; i < 3; i++) others.push((await login(s, 'metrics')).id);
    await login(s, 'metrics-bystander');
    m = await shopMetrics(s);
    assert.equal(m.logins - m0.logins, 5);
    assert.equal(m.session_id_rotations - m0.session_id_rotations, 1, 'logins without a live session rotate nothing');
    assert.equal((await logout(s, { cookie: cookieOf(others[0]) })).status, 303);
    m = await shopMetrics(s);
    assert.equal(m.logouts - m0.logouts, 1, 'one logout');
    assert.equal(m.sessions_revoked - m0.sessions_revoked, 0, 'a plain logout revokes nothing besides its own');
    assert.equal((await logout(s, { all: true, jar })).status, 303);
    m = await shopMetrics(s);
    assert.equal(m.logouts - m0.logouts, 2, 'two logouts');
    assert.equal(m.sessions_revoked - m0.sessions_revoked, 2, 'log out everywhere ended the 2 other sessions of "metrics"');
    for (const id of others.slice(1)) assertFresh(await view(s, { cookie: cookieOf(id) }), id, 'a revoked session');
  });
});

describe('login, redis x1: key layout and metrics', () => {
  const prefix = `e2e:${crypto.randomBytes(4).toString('hex')}:`;
  let s;
  before(async () => { s = await startStack({ label: 'login-redis', store: 'redis', instance: 'solo', appEnv: { SESSIONLAB_REDIS_PREFIX: prefix } }); });
  after(async () => { if (s) await s.stop(); });
  const cli = (...a) => redisCli(s.redis.port, ...a);
  const hash = async (key) => {
    const lines = (await cli('HGETALL', key)).split('\n');
    const h = {};
    for (let i = 0; i + 1 < lines.length; i += 2) h[lines[i]] = lines[i + 1];
    return h;
  };

  test('the session hash is prefix{tag}id; RENAME keeps the tag, the old key is gone, the user index names the new id', async () => {
    const { jar, id: old } = await busySession(s);
    assert.equal(await cli('EXISTS', redisKey(prefix, old)), '1', `the session hash ${redisKey(prefix, old)}`);
    assert.equal(await cli('EXISTS', `${prefix}${old}`), '0', 'no key in the old layout');
    const { id } = await login(s, 'keys', { jar });
    assert.equal(await cli('EXISTS', redisKey(prefix, old)), '0', 'the old key is gone');
    assert.equal(await cli('EXISTS', redisKey(prefix, id)), '1', 'the new key exists');
    const h = await hash(redisKey(prefix, id));
    assert.equal(h.user, 'keys');
    assert.equal(h.cart, 'apple=2,milk=1');
    assert.equal(h.count, '3');
    assert.equal(h.value, 'kept across login');
    for (const f of ['vtime', 'served', 'born']) assert.ok(f in h, `field ${f}: ${JSON.stringify(h)}`);
    const ttl = Number(await cli('TTL', redisKey(prefix, id)));
    assert.ok(ttl > 0 && ttl <= 1800, `the new key keeps a TTL: ${ttl}`);
    assert.equal(await cli('TYPE', userKey(prefix, 'keys')), 'zset');
    assert.deepEqual((await cli('ZRANGE', userKey(prefix, 'keys'), '0', '-1')).split('\n'), [id]);
    const score = Number(await cli('ZSCORE', userKey(prefix, 'keys'), id));
    assert.ok(Math.abs(score / 1e6 - Date.now() / 1000) < 120, `score = login time in microseconds (Redis TIME): ${score}`);
    let zttl = Number(await cli('TTL', userKey(prefix, 'keys')));
    assert.ok(zttl > 0, `the user index has a TTL from the login on (EXPIRE ... GT never sets one on a key without): ${zttl}`);
    assertCarried(await view(s, { jar }), { id, count: 4, value: 'kept across login', user: 'keys' });
    zttl = Number(await cli('TTL', userKey(prefix, 'keys')));
    assert.ok(zttl > 0, `the user index's TTL after a view: ${zttl}`);
  });

  test('a second login as another user moves the id between the user indexes', async () => {
    const jar = new Jar();
    await login(s, 'first', { jar });
    const { id } = await login(s, 'second', { jar });
    assert.deepEqual((await cli('ZRANGE', userKey(prefix, 'second'), '0', '-1')).split('\n'), [id]);
    assert.equal(await cli('ZRANGE', userKey(prefix, 'first'), '0', '-1'), '', 'no longer in the first user\'s index');
  });

  test('rejected names never reach Redis', async () => {
    for (const body of ['user=a*', 'user=%3Cx%3E', 'user=a%20b', `user=${'q'.repeat(40)}`, 'user=a:b', 'user=%00']) {
      assert.equal((await post(s, '/login', body)).status, 400, body);
    }
    const users = (await cli('--scan', '--pattern', `${prefix}user:*`)).split('\n').filter(Boolean).map((k) => k.slice(prefix.length + 5));
    assert.ok(users.length > 0);
    for (const u of users) assert.match(u, /^[A-Za-z0-9._-]{1,32}$/, `user index key for ${JSON.stringify(u)}`);
  });

  test('metrics move with the Redis store too (revocations counted by the store)', async () => {
    const m0 = await shopMetrics(s);
    const { jar } = await busySession(s);
    await login(s, 'rmetrics', { jar });
    const a = (await login(s, 'rmetrics')).id;
    const b = (await login(s, 'rmetrics')).id;
    assert.equal((await logout(s, { all: true, jar })).status, 303);
    const m = await shopMetrics(s);
    assert.equal(m.logins - m0.logins, 3);
    assert.equal(m.session_id_rotations - m0.session_id_rotations, 1);
    assert.equal(m.logouts - m0.logouts, 1);
    assert.equal(m.sessions_revoked - m0.sessions_revoked, 2);
    for (const id of [a, b]) assertFresh(await view(s, { cookie: cookieOf(id) }), id, 'revoked');
    assert.equal(await cli('EXISTS', userKey(prefix, 'rmetrics')), '0', 'the user index is gone with its last session');
  });
});

describe('login, redis x3 round robin', () => {
  let s;
  before(async () => { s = await startStack({ label: 'login-redis-x3', store: 'redis', replicas: 3 }); });
  after(async () => { if (s) await s.stop(); });

  test('rotation: the old id is refused on EVERY replica (a fresh session, not the old data); the new one works on each', async () => {
    const { jar, id: old } = await busySession(s, 'redis x3');
    const { id } = await login(s, 'grace', { jar });
    assert.notEqual(id, old);
    for (const j of await viewOnEveryReplica(s, cookieOf(old), { each: 2 })) {
      assertFresh(j, old, `the old cookie on ${j.hostname}`);
    }
    const views = await viewOnEveryReplica(s, cookieOf(id));
    views.forEach((j, i) => {
      assert.equal(j.session_id, id, `new id on ${j.hostname}`);
      assert.equal(j.user, 'grace');
      assert.equal(j.value, 'redis x3');
      assert.deepEqual(cartMap(j), { apple: 2, milk: 1 });
      assert.equal(j.access_count, 4 + i, 'one count, carried over, rising on every replica');
    });
  });

  test('the same straight to each replica over FastCGI: the old id is unknown to all three', async () => {
    const { jar, id: old } = await busySession(s);
    const { id } = await login(s, 'heidi', { jar });
    for (const app of s.apps) {
      const j = await directView(app, old);
      assertFresh(j, old, `the old id on ${app.name}`);
      const r = await direct(app, { method: 'POST', uri: '/cart', contentType: FORM, body: 'item=coffee&action=add', cookie: cookieOf(old) });
      assert.equal(r.status, 303);
    }
    const j = await view(s, { jar });
    assert.equal(j.session_id, id);
    assert.deepEqual(cartMap(j), { apple: 2, milk: 1 }, 'no coffee reached the new session through the old id');
  });

  test('views racing a login over 3 replicas: no count lost, none counted twice, none served the old id after the 303', async () => {
    await rotationRace(s);
  });
});

describe('login, memory x3 round robin: rotation on the replica that holds the session', () => {
  let s;
  before(async () => { s = await startStack({ label: 'login-memory-x3', store: 'memory', replicas: 3 }); });
  after(async () => { if (s) await s.stop(); });

  test('straight to app-2: the new id works there, the old one is refused there (and was never anywhere else)', async () => {
    const app = s.apps[1];
    const r0 = await direct(app);
    const old = r0.cookies.find((c) => c.name === 'SESSION').value;
    assert.equal((await direct(app, { method: 'POST', uri: '/cart', contentType: FORM, body: 'item=eggs&action=add', cookie: cookieOf(old) })).status, 303);
    const r = await direct(app, { method: 'POST', uri: '/login', contentType: FORM, body: 'user=ivan', cookie: cookieOf(old) });
    assert.equal(r.status, 303);
    const id = r.cookies.find((c) => c.name === 'SESSION').value;
    assert.match(id, SID);
    assert.notEqual(id, old);
    const j = await directView(app, id);
    assert.equal(j.user, 'ivan');
    assert.equal(j.access_count, 2);
    assert.deepEqual(cartMap(j), { eggs: 1 });
    for (const a of s.apps) assertFresh(await directView(a, old), old, `the old id on ${a.name}`);
  });
});

describe('login, cart, logout with Redis down', () => {
  let s;
  before(async () => { s = await startStack({ label: 'login-redis-down', store: 'redis', instance: 'solo' }); });
  after(async () => { if (s) await s.stop(); });

  test('503 + Retry-After on /login, /cart and /logout, no cookie set or expired', async () => {
    const jar = new Jar();
    await login(s, 'outage', { jar });
    await s.redis.stop();
    s.redis = null;
    for (const [what, send] of [
      ['/login', () => post(s, '/login', 'user=outage2', { jar })],
      ['/cart', () => cart(s, 'apple', 'add', { jar })],
      ['/logout', () => logout(s, { jar })],
      ['/logout all=1', () => logout(s, { all: true, jar })],
    ]) {
      const r = await send();
      assert.equal(r.status, 503, `${what}: ${r.status}`);
      assert.equal(r.headers['retry-after'], '1', what);
      assert.equal(sessionCookie(r), undefined, `${what}: the cookie is left alone`);
    }
  });
});
