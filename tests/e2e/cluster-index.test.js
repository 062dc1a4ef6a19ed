'use strict';
// The per-user index in a Redis Cluster (fcgi-app/src/store/redis/
// store_redis_index.c), where it lives in another slot than the sessions it
// lists and the store keeps it with commands of its own. Each test plays a
// case a hostile review found broken in the first cluster version:
//   race     logins racing log-out-everywhere on another replica: a quiet
//            log-out-everywhere afterwards must end every session of the user
//            (a pass used to forget an id whose session was about to exist)
//   cap      a login past the 100-session cap that fails (the session's node
//            pauses writes) must not hide a live session from the index
//   dead ids a cap counted in ended sessions must not end the user's live one
// One 6-node cluster (lib/cluster.js), two app replicas straight over FastCGI.
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startApp, makeLogDir, lowFreePort, sleep } = require('./lib/stack');
const { startCluster, hashSlot, ownsSlot } = require('./lib/cluster');
const { FORM, cookieOf, redisKey, direct, directView, directLogin } = require('./lib/shop');

const PASSWORD = crypto.randomBytes(12).toString('hex');
const PREFIX = `e2e:${crypto.randomBytes(4).toString('hex')}:`;
const USER_SESSIONS_MAX = 100;

/** POST /logout all=1 on one replica with session id; returns the status. */
async function logoutAll(app, id) {
  const r = await direct(app, { method: 'POST', uri: '/logout', contentType: FORM, body: 'all=1', cookie: cookieOf(id) });
  return r.status;
}

/** The user a session id views as on app ('' logged out or gone), without creating one. */
async function userOf(app, id) {
  const r = await direct(app, { cookie: cookieOf(id) });
  assert.equal(r.status, 200, r.body);
  const j = JSON.parse(r.body);
  return j.session_id === id ? (j.user || '') : '';
}

describe('the per-user index in a Redis Cluster', () => {
  let cluster;
  let a;
  let b;
  let shortTtl;

  before(async () => {
    const logDir = makeLogDir('cluster-index');
    cluster = await startCluster({ logDir, password: PASSWORD });
    const env = { SESSIONLAB_REDIS_URL: cluster.url(), SESSIONLAB_REDIS_PREFIX: PREFIX };
    [a, b, shortTtl] = await Promise.all([
      startApp({ port: await lowFreePort(), store: 'redis', instance: 'app-a', env, logDir }),
      startApp({ port: await lowFreePort(), store: 'redis', instance: 'app-b', env, logDir }),
      startApp({ port: await lowFreePort(), store: 'redis', instance: 'app-ttl', logDir,
        env: { ...env, SESSIONLAB_TTL: '3' } }),
    ]);
  });
  after(async () => {
    await Promise.all([a, b, shortTtl].filter(Boolean).map((p) => p.stop()));
    if (cluster) await cluster.stop();
  });

  test('logins racing log out everywhere: a quiet log out everywhere afterwards ends them all', async (t) => {
    const user = `racer${crypto.randomBytes(3).toString('hex')}`;
    const made = [];
    let stop = false;
    const loop = async () => {
      while (!stop) made.push(await directLogin(a, user));
    };
    const loops = Array.from({ length: 6 }, loop);
    for (let i = 0; i < 15; i++) {
      const mine = await directLogin(b, user);
      made.push(mine);
      assert.equal(await logoutAll(b, mine), 303);
    }
    stop = true;
    await Promise.all(loops);
    const last = await directLogin(b, user);
    assert.equal(await logoutAll(b, last), 303);
    const alive = [];
    for (const id of made) if ((await userOf(a, id)) === user) alive.push(id);
    t.diagnostic(`${made.length} logins raced 15 log-outs-everywhere; alive after a quiet one: ${alive.length}`);
    assert.deepEqual(alive, [], 'every session of the user ended');
  });

  test('a login past the cap that fails hides no live session from the index', async () => {
    const user = `capped${crypto.randomBytes(3).toString('hex')}`;
    const ids = [];
    for (let i = 0; i < USER_SESSIONS_MAX; i++) ids.push(await directLogin(a, user));
    // An anonymous session on a primary that is not the index's, then a
    // login with it while that primary refuses writes for a moment.
    const prims = await cluster.primaries();
    const owner = (key) => prims.find((p) => ownsSlot(p, hashSlot(key)));
    const indexOwner = owner(`${PREFIX}user:${user}`);
    let anon;
    for (let i = 0; i < 200 && !anon; i++) {
      const r = await direct(a, {});
      const id = r.cookies.find((c) => c.name === 'SESSION').value;
      if (owner(redisKey(PREFIX, id)) !== indexOwner) anon = id;
    }
    assert.ok(anon, 'a session on another primary than the index');
    await cluster.cli(owner(redisKey(PREFIX, anon)).proc, 'CLIENT', 'PAUSE', '1500', 'WRITE');
    const r = await direct(a, { method: 'POST', uri: '/login', contentType: FORM, body: `user=${user}`, cookie: cookieOf(anon) });
    assert.equal(r.status, 503, `the login with a paused node: ${r.status}`);
    await sleep(1600);
    assert.equal(await userOf(a, ids[0]), user, 'the oldest session still lives');
    assert.equal(await logoutAll(b, ids[ids.length - 1]), 303);
    for (const id of ids) assert.equal(await userOf(a, id), '', `${id} ended by log out everywhere`);
  });

  test('ended sessions in the index do not count against the cap', async () => {
    const user = `keeper${crypto.randomBytes(3).toString('hex')}`;
    const kept = await directLogin(shortTtl, user);
    for (let i = 0; i < USER_SESSIONS_MAX - 1; i++) await directLogin(shortTtl, user);
    // The 99 others expire (TTL 3 s); kept stays alive by its views.
    for (let i = 0; i < 10; i++) {
      assert.equal((await directView(shortTtl, kept)).user, user);
      await sleep(500);
    }
    await directLogin(shortTtl, user);
    const j = await directView(shortTtl, kept);
    assert.equal(j.session_id, kept, 'the live session was not ended by the cap');
    assert.equal(j.user, user);
  });
});
