'use strict';
// POST /logout and "log out everywhere" (all=1) through real nginx +
// sessionlab-app [+ redis-server]. With Redis x3 every session of the user
// ends, whichever replica made it, and other users keep theirs; with the
// memory store x3 (round robin, no affinity) only the sessions of the
// replica that served the request end: the documented limit, asserted
// exactly. Replicas are told apart by sending to one app straight over
// FastCGI (lib/fcgi.js): a 303 through nginx does not say who served it.
// Issue 15.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startStack, sleep } = require('./lib/stack');
const { Jar, form } = require('./lib/http');
const { redisCli } = require('./lib/faults');
const {
  FORM, MEMORY_NOTE, post, view, page, login, cart, logout, cartMap, assertFresh, sessionCookie, cookieOf,
  shopMetrics, userKey, direct, directView, directLogin,
} = require('./lib/shop');

const EXPIRED = 'SESSION=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax';
const USER_SESSIONS_MAX = 100;

/** Live on that replica, logged in as user: a touch answers the same id. */
async function assertLiveOn(app, id, user) {
  const j = await directView(app, id);
  assert.equal(j.session_id, id, `${id.slice(0, 8)}… (${user}) still live on ${app.name}`);
  assert.equal(j.user, user);
  return j;
}
async function assertEndedOn(app, id, what) {
  assertFresh(await directView(app, id), id, `${what} on ${app.name}`);
}

/** The 303 of a logout: to /, the cookie expired. */
function assertLoggedOut(r) {
  assert.equal(r.status, 303, `POST /logout: ${r.status} ${r.body.slice(0, 200)}`);
  assert.equal(r.headers.location, '/');
  const c = sessionCookie(r);
  assert.ok(c, 'the cookie is expired');
  assert.equal(c.raw, EXPIRED);
}

/** USER_SESSIONS_MAX: the next login of a user at the cap ends its oldest session. */
async function capTest(s, user) {
  const first = (await login(s, user)).id;
  await sleep(1100); // the oldest by login time, whatever the clock's resolution
  const ids = [];
  for (let i = 0; i < USER_SESSIONS_MAX - 1; i++) ids.push((await login(s, user)).id);
  assert.equal((await view(s, { cookie: cookieOf(first) })).session_id, first, `${USER_SESSIONS_MAX} sessions: all live`);
  ids.push((await login(s, user)).id);
  assertFresh(await view(s, { cookie: cookieOf(first) }), first, `the oldest of ${USER_SESSIONS_MAX + 1}`);
  for (const id of [ids[0], ids[ids.length - 1]]) assert.equal((await view(s, { cookie: cookieOf(id) })).user, user);
  return ids;
}

describe('logout, memory x1', () => {
  let s;
  before(async () => { s = await startStack({ label: 'logout-memory' }); });
  after(async () => { if (s) await s.stop(); });

  test('POST /logout (empty body, no Content-Type): 303, cookie expired, session gone with its cart; login form back', async () => {
    const jar = new Jar();
    const { id } = await login(s, 'judy', { jar });
    await cart(s, 'apple', 'add', { jar });
    assert.equal((await post(s, '/setSession', form({ value: 'v' }), { jar })).status, 303);
    const r = await logout(s, { jar });
    assertLoggedOut(r);
    assert.equal(jar.get('SESSION'), undefined);
    assertFresh(await view(s, { cookie: cookieOf(id) }), id, 'the logged-out id');
    const html = await page(s, { jar });
    assert.match(html, /id="login-form"/);
    assert.ok(!html.includes('Logged in as'));
    assert.deepEqual((await view(s, { jar })).cart, [], 'cart empty');
  });

  test('a form body (all=0, other fields, charset) is a plain logout too', async () => {
    for (const [body, ct] of [['all=0', FORM], ['x=1', FORM], ['all=0', `${FORM}; charset=UTF-8`], ['', FORM]]) {
      const { id } = await login(s, 'ken');
      const keep = (await login(s, 'ken')).id;
      assertLoggedOut(await post(s, '/logout', body, { cookie: cookieOf(id), contentType: ct }));
      assertFresh(await view(s, { cookie: cookieOf(id) }), id, `logout ${body}`);
      assert.equal((await view(s, { cookie: cookieOf(keep) })).user, 'ken', `${body}: a plain logout leaves the user's other session`);
    }
  });

  test('without a session: 303 and the cookie expired all the same', async () => {
    assertLoggedOut(await logout(s, {}));
    assertLoggedOut(await logout(s, { cookie: cookieOf('d'.repeat(32)) }));
    assertLoggedOut(await logout(s, { all: true, cookie: 'SESSION=../x' }));
  });

  test('a session that never logged in: logout (and log out everywhere) ends just it', async () => {
    const { id } = await login(s, 'leo');
    const jar = new Jar();
    await view(s, { jar });
    const anon = jar.get('SESSION');
    assertLoggedOut(await logout(s, { all: true, jar }));
    assertFresh(await view(s, { cookie: cookieOf(anon) }), anon, 'the anonymous session');
    assert.equal((await view(s, { cookie: cookieOf(id) })).user, 'leo', 'nobody else');
  });

  test('bad bodies: all other than 0 or 1 is 400, a non-form body is 415, malformed is 400, 413 over 16 KiB; nothing ended', async () => {
    const jar = new Jar();
    const { id } = await login(s, 'mike', { jar });
    for (const body of ['all=2', 'all=', 'all=yes', 'all=true', 'all=1x', 'all=%31%31', 'all=-1', 'all=%00']) {
      const r = await post(s, '/logout', body, { jar });
      assert.equal(r.status, 400, body);
      assert.equal(sessionCookie(r), undefined, `${body}: the cookie is kept`);
    }
    for (const body of ['all=%zz', 'all=%', 'all=%4']) assert.equal((await post(s, '/logout', body, { jar })).status, 400, body);
    for (const ct of ['text/plain', 'application/json', null]) {
      assert.equal((await post(s, '/logout', 'all=1', { jar, contentType: ct })).status, 415, `non-empty body as ${ct}`);
    }
    assert.equal((await post(s, '/logout', `all=1&pad=${'p'.repeat(17000)}`, { jar })).status, 413);
    const j = await view(s, { jar });
    assert.equal(j.session_id, id);
    assert.equal(j.user, 'mike');
  });

  test('log out everywhere on one replica: every session of the user ends, other users\' stay', async () => {
    const jar = new Jar();
    await login(s, 'nina', { jar });
    const mine = [];
    for (let i = 0; i < 4; i++) mine.push((await login(s, 'nina')).id);
    const others = [(await login(s, 'nina2')).id, (await login(s, 'Nina')).id, (await login(s, 'nin')).id];
    assertLoggedOut(await logout(s, { all: true, jar }));
    for (const id of mine) assertFresh(await view(s, { cookie: cookieOf(id) }), id, 'nina\'s other session');
    for (const id of others) assert.notEqual((await view(s, { cookie: cookieOf(id) })).user, null, 'a similar name keeps its session');
  });

  test(`a user at ${USER_SESSIONS_MAX} sessions: the next login ends the oldest`, async () => {
    await capTest(s, 'olga');
  });
});

describe('log out everywhere, memory x1 at a small cap: evicted sessions leave the index', () => {
  let s;
  before(async () => { s = await startStack({ label: 'logout-memory-cap', appEnv: { SESSIONLAB_MAX_SESSIONS: '40' } }); });
  after(async () => { if (s) await s.stop(); });

  test('logins and anonymous views past the cap evict the user\'s sessions; log out everywhere then ends the rest, the app serves on', async () => {
    const ids = [];
    for (let i = 0; i < 60; i++) {
      ids.push((await login(s, 'victor')).id);
      if (i % 3 === 0) await view(s, {}); // anonymous sessions push the LRU too
    }
    const jar = new Jar();
    const { id: mine } = await login(s, 'victor', { jar }); // the newest: not evicted
    const m0 = await shopMetrics(s);
    assertLoggedOut(await logout(s, { all: true, jar }));
    const m = await shopMetrics(s);
    assert.equal(m.logouts - m0.logouts, 1, 'the requester\'s session was live');
    const revoked = m.sessions_revoked - m0.sessions_revoked;
    assert.ok(revoked > 0 && revoked < 40, `revoked ${revoked}: the cap (40) had evicted the rest`);
    for (const id of [...ids, mine]) {
      const j = await view(s, { cookie: cookieOf(id) });
      assert.notEqual(j.user, 'victor', `no session of victor is left (${id.slice(0, 8)}…)`);
    }
    assert.ok(s.apps[0].alive, 'the app is alive');
    assert.equal((await s.request('GET', '/healthz')).status, 200);
  });
});

describe('log out everywhere, redis x3 round robin: every replica, every session of the user', () => {
  const prefix = `e2e:${crypto.randomBytes(4).toString('hex')}:`;
  let s;
  before(async () => { s = await startStack({ label: 'logout-redis-x3', store: 'redis', replicas: 3, appEnv: { SESSIONLAB_REDIS_PREFIX: prefix } }); });
  after(async () => { if (s) await s.stop(); });
  const members = async (user) => (await redisCli(s.redis.port, 'ZRANGE', userKey(prefix, user), '0', '-1')).split('\n').filter(Boolean).sort();

  test('sessions made on app-1, app-2, app-3 and through nginx all end; bob\'s and an anonymous cart stay', async () => {
    const alice = []; // {id, app}
    const bob = [];
    for (const app of s.apps) {
      for (let i = 0; i < 2; i++) alice.push({ id: await directLogin(app, 'alice'), app });
      bob.push({ id: await directLogin(app, 'bob'), app });
    }
    const jar = new Jar();
    await login(s, 'alice', { jar });
    await cart(s, 'milk', 'add', { jar });
    const anon = new Jar();
    await cart(s, 'bread', 'add', { jar: anon });
    assert.deepEqual(await members('alice'), [...alice.map((x) => x.id), jar.get('SESSION')].sort(), 'the user index holds all 7');
    assert.equal((await members('bob')).length, 3);
    // alice's sessions are shared: each works on every replica
    for (const { id } of alice) for (const app of s.apps) await assertLiveOn(app, id, 'alice');
    assert.ok(!(await page(s, { jar })).includes(MEMORY_NOTE), 'no memory-store note with Redis');

    assertLoggedOut(await logout(s, { all: true, jar }));

    for (const { id, app: made } of alice) {
      for (const app of s.apps) await assertEndedOn(app, id, `alice's session made on ${made.name}`);
    }
    for (const { id } of bob) for (const app of s.apps) await assertLiveOn(app, id, 'bob');
    assert.deepEqual(cartMap(await view(s, { jar: anon })), { bread: 1 }, 'the anonymous session keeps its cart');
    assert.deepEqual(await members('alice'), [], 'alice\'s index is empty');
    assert.deepEqual(await members('bob'), bob.map((x) => x.id).sort());
  });

  test('log out everywhere sent to one replica, from a session made on another', async () => {
    const a = await directLogin(s.apps[0], 'peggy');
    const b = await directLogin(s.apps[1], 'peggy');
    const c = await directLogin(s.apps[2], 'peggy');
    const r = await direct(s.apps[2], { method: 'POST', uri: '/logout', contentType: FORM, body: 'all=1', cookie: cookieOf(a) });
    assert.equal(r.status, 303);
    for (const id of [a, b, c]) await assertEndedOn(s.apps[0], id, 'peggy');
  });

  test('a plain logout ends only its own session', async () => {
    const jar = new Jar();
    await login(s, 'quinn', { jar });
    const other = await directLogin(s.apps[1], 'quinn');
    assertLoggedOut(await logout(s, { jar }));
    for (const app of s.apps) await assertLiveOn(app, other, 'quinn');
    assert.deepEqual(await members('quinn'), [other]);
  });

  test(`a user at ${USER_SESSIONS_MAX} sessions: the next login ends the oldest (the index stays at ${USER_SESSIONS_MAX})`, async () => {
    const ids = await capTest(s, 'rita');
    assert.deepEqual(await members('rita'), [...ids].sort());
  });

  test('a destroyed (/clearSession) or expired session leaves the user index', async () => {
    const jar = new Jar();
    const { id } = await login(s, 'sam', { jar });
    const keep = (await login(s, 'sam')).id;
    assert.equal((await s.request('GET', '/clearSession', { jar })).status, 303);
    assert.deepEqual(await members('sam'), [keep], '/clearSession removed it from the index');
    assertFresh(await view(s, { cookie: cookieOf(id) }), id, 'cleared');
    // an expired member is pruned by the next login of that user
    assert.equal(await redisCli(s.redis.port, 'DEL', `${prefix}{${keep.slice(0, 4)}}${keep}`), '1');
    const next = (await login(s, 'sam')).id;
    assert.deepEqual(await members('sam'), [next], 'the login pruned the member whose key is gone');
  });
});

describe('log out everywhere, memory x3 round robin: only the serving replica\'s sessions end (the documented limit)', () => {
  let s;
  before(async () => { s = await startStack({ label: 'logout-memory-x3', store: 'memory', replicas: 3 }); });
  after(async () => { if (s) await s.stop(); });

  /** alice: 2 sessions on each replica; bob: 1 on each. */
  async function populate(user = 'alice') {
    const mine = s.apps.map(() => []);
    const bob = [];
    for (const [k, app] of s.apps.entries()) {
      for (let i = 0; i < 2; i++) mine[k].push(await directLogin(app, user));
      bob.push(await directLogin(app, `${user}-bob`));
    }
    return { mine, bob };
  }

  test('sent to app-2: app-2\'s sessions of the user end; those on app-1 and app-3, and other users\', stay', async () => {
    const { mine, bob } = await populate('alice');
    const r = await direct(s.apps[1], { method: 'POST', uri: '/logout', contentType: FORM, body: 'all=1', cookie: cookieOf(mine[1][0]) });
    assert.equal(r.status, 303);
    for (const id of mine[1]) await assertEndedOn(s.apps[1], id, 'alice on app-2');
    for (const k of [0, 2]) for (const id of mine[k]) await assertLiveOn(s.apps[k], id, 'alice');
    for (const [k, id] of bob.entries()) await assertLiveOn(s.apps[k], id, 'alice-bob');
  });

  test('through nginx: each try either reaches the replica holding the cookie\'s session (its user\'s sessions there end) or changes nothing', async () => {
    const { mine, bob } = await populate('trent');
    const holder = 0; // the cookie's session lives on app-1
    let reached = false;
    let tries = 0;
    while (!reached && tries < 30) {
      tries++;
      assertLoggedOut(await logout(s, { all: true, cookie: cookieOf(mine[holder][0]) }));
      const alive = await Promise.all(mine[holder].map(async (id) => (await directView(s.apps[holder], id)).session_id === id));
      if (alive.every((x) => !x)) reached = true;
      else assert.deepEqual(alive, [true, true], 'another replica does not know the cookie: nothing ended anywhere');
      for (const k of [1, 2]) for (const id of mine[k]) await assertLiveOn(s.apps[k], id, 'trent');
    }
    assert.ok(reached, `round robin reached app-1 within ${tries} tries`);
    for (const [k, id] of bob.entries()) await assertLiveOn(s.apps[k], id, 'trent-bob');
    console.log(`# memory x3: log out everywhere reached app-1 on try ${tries}; app-2's and app-3's sessions of the user stayed`);
  });

  test('the page says so: the logout-everywhere note of the memory store', async () => {
    const id = await directLogin(s.apps[0], 'uma');
    const r = await direct(s.apps[0], { uri: '/', cookie: cookieOf(id) });
    assert.equal(r.status, 200);
    assert.ok(r.body.includes(MEMORY_NOTE), 'the note');
    assert.match(r.body, /Log out everywhere/);
  });
});
