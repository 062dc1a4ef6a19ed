'use strict';
// The persistent cookie affinity (nginx-conf/affinity-cookie-persistent*.conf):
// SLROUTE names the replica that answered, and a user stays on it whatever
// replicas are added or removed; balanced cookie affinity (consistent hash)
// moves about 1/(n+1) of the users when a replica is added, and with the
// memory store they lose their session (ingress-nginx #4475). Real nginx and
// apps; scaling is what an operator does: the config re-rendered with one
// more (or one fewer) server, then SIGHUP to nginx's master.
//
// SESSIONLAB_E2E_PERSISTENT_AFFINITY=cookie runs the persistent checks
// against balanced cookie affinity instead, to see them fail.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, startStack, startApp, startNginx, makeLogDir, sleep } = require('./lib/stack');
const { Jar } = require('./lib/http');

const AFF = process.env.SESSIONLAB_E2E_PERSISTENT_AFFINITY || 'cookie-persistent';
const RENDER = path.join(ROOT, 'scripts', 'lib', 'render-nginx-conf');
const USERS = 60;
const ROUTE = /^[0-9a-f]{16}$/;

/** A replica's SLROUTE name: the first 16 hex digits of the sha256 of its address. */
const routeOf = (addr) => crypto.createHash('sha256').update(addr).digest('hex').slice(0, 16);
const addrOf = (app) => `127.0.0.1:${app.port}`;

function workersOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

/**
 * Re-render nginx's config for `apps` with `affinity` into the running
 * nginx's prefix and SIGHUP its master; resolves once every old worker has
 * exited and new ones run (so every new connection sees the new config).
 */
async function reload(nginx, apps, affinity) {
  const args = [nginx.prefix, '--role', 'lb', '--port', String(nginx.port), '--affinity', affinity];
  for (const a of apps) args.push('--server', addrOf(a));
  execFileSync(RENDER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const old = workersOf(nginx.pid);
  assert.ok(old.length > 0, 'nginx has workers');
  process.kill(nginx.pid, 'SIGHUP');
  const end = Date.now() + 15000;
  for (;;) {
    const now = workersOf(nginx.pid);
    if (now.length > 0 && now.every((w) => !old.includes(w))) return;
    assert.ok(nginx.alive, `nginx exited on reload:\n${nginx.log().slice(-2000)}`);
    assert.ok(Date.now() < end, `nginx did not replace its workers after SIGHUP:\n${nginx.log().slice(-2000)}`);
    await sleep(50);
  }
}

/** One GET /api/session with the user's jar: the JSON plus the SLROUTE it set, if any. */
async function view(s, jar, headers) {
  const r = await s.request('GET', '/api/session', { jar, headers });
  assert.equal(r.status, 200, r.body);
  const route = r.cookies.find((c) => c.name === 'SLROUTE');
  return { ...JSON.parse(r.body), route };
}

/** Every user makes n requests in a row (users in parallel); returns each user's views. */
async function round(s, users, n) {
  return Promise.all(users.map(async (u) => {
    const v = [];
    for (let i = 0; i < n; i++) v.push(await view(s, u.jar));
    return v;
  }));
}

/** A user's views stay on one replica with one continuing session. */
function continuous(v, from) {
  return new Set(v.map((x) => x.hostname)).size === 1
    && new Set(v.map((x) => x.session_id)).size === 1
    && v.every((x, i) => x.access_count === from + i);
}

/** 3 replicas, 60 users, then a 4th replica (reload); returns the figures. */
async function scaleUp(affinity) {
  const s = await startStack({ label: `scale-${affinity}`, store: 'memory', replicas: 3, affinity });
  try {
    const users = Array.from({ length: USERS }, () => ({ jar: new Jar() }));
    const first = await round(s, users, 3);
    first.forEach((v, i) => {
      assert.ok(continuous(v, 1), `user ${i}: one replica, one session, 1..3: ${JSON.stringify(v.map((x) => [x.hostname, x.access_count]))}`);
      users[i].host = v[0].hostname;
      assert.ok(v[0].route, `user ${i}: the first answer sets SLROUTE`);
      assert.ok(v.slice(1).every((x) => !x.route), `user ${i}: SLROUTE set once`);
    });
    const spread = new Set(users.map((u) => u.host));
    assert.equal(spread.size, 3, `60 users on ${[...spread]}`);

    const app4 = await startApp({ store: 'memory', instance: 'app-4', name: 'app-4', logDir: s.logDir });
    s.apps.push(app4);
    await reload(s.nginx, s.apps, affinity);

    const second = await round(s, users, 2);
    let moved = 0;
    let lost = 0;
    second.forEach((v, i) => {
      if (v.some((x) => x.hostname !== users[i].host)) moved++;
      if (!(continuous(v, 4) && v[0].session_id === first[i][0].session_id)) lost++;
    });
    // New users after the scale-up reach the new replica too.
    const fresh = await round(s, Array.from({ length: 40 }, () => ({ jar: new Jar() })), 1);
    const onNew = fresh.filter((v) => v[0].hostname === 'app-4').length;
    const out = { s, users, first, moved, lost, onNew };
    return out;
  } catch (err) {
    await s.stop();
    throw err;
  }
}

describe(`memory x3 -> x4, ${AFF} affinity`, () => {
  let r;
  before(async () => { r = await scaleUp(AFF); });
  after(async () => { if (r) await r.s.stop(); });

  test('SLROUTE names the replica that answered', () => {
    const byHost = new Map(r.s.apps.map((a) => [a.name, a]));
    r.first.forEach((v, i) => {
      const c = v[0].route;
      assert.match(c.value, ROUTE, `user ${i}`);
      assert.equal(c.value, routeOf(addrOf(byHost.get(v[0].hostname))), `user ${i} on ${v[0].hostname}`);
      assert.equal(c.raw, `SLROUTE=${c.value}; Path=/; HttpOnly; SameSite=Lax`);
    });
  });

  test('adding a replica moves nobody and loses no session', () => {
    console.log(`# ${AFF} 3 -> 4 replicas (reload): ${r.moved}/${USERS} users moved, ${r.lost}/${USERS} sessions lost; `
      + `${r.onNew}/40 new users on the new replica`);
    assert.equal(r.moved, 0, 'users moved');
    assert.equal(r.lost, 0, 'sessions lost');
    assert.ok(r.onNew > 0, 'new users reach app-4');
  });

  test('removing a replica from the config: only its users are re-picked', async () => {
    const { s, users } = r;
    const gone = s.apps[0]; // app-1, still running, no longer configured
    await reload(s.nginx, s.apps.slice(1), AFF);
    const v = await round(s, users, 2);
    let repicked = 0;
    v.forEach((x, i) => {
      if (users[i].host === gone.name) {
        repicked++;
        assert.notEqual(x[0].hostname, gone.name, `user ${i} still on the removed replica`);
        assert.ok(x[0].route, `user ${i}: SLROUTE replaced`);
        assert.equal(x[0].route.value, routeOf(addrOf(s.apps.find((a) => a.name === x[0].hostname))));
        assert.ok(x[0].new, `user ${i}: a new session on ${x[0].hostname} (memory store)`);
        assert.ok(continuous(x, 1), `user ${i} then stays: ${JSON.stringify(x.map((y) => [y.hostname, y.access_count]))}`);
      } else {
        assert.ok(continuous(x, 6) && x[0].hostname === users[i].host, `user ${i} moved off ${users[i].host}`);
        assert.ok(x.every((y) => !y.route), `user ${i}: no new SLROUTE`);
      }
    });
    console.log(`# ${AFF} 4 -> 3 replicas (app-1 out of the config): ${repicked}/${USERS} users re-picked, the others stayed`);
    assert.ok(repicked > 0, 'some users were on app-1');
  });
});

describe('memory x3 -> x4, balanced cookie affinity (for comparison)', () => {
  let r;
  before(async () => { r = await scaleUp('cookie'); });
  after(async () => { if (r) await r.s.stop(); });

  test('adding a replica moves about a quarter of the users, and loses their sessions', () => {
    console.log(`# cookie (balanced) 3 -> 4 replicas (reload): ${r.moved}/${USERS} users moved `
      + `(about ${USERS / 4} expected), ${r.lost}/${USERS} sessions lost`);
    assert.ok(r.moved > 0, 'someone moved');
    assert.equal(r.lost, r.moved, 'every user who moved lost the session (memory store)');
  });
});

/**
 * Access-log lines of nginx (log_format sessionlab) for a request line, not
 * the error log's; waits until there are at least n (nginx logs a request
 * after its response has gone out).
 */
async function accessLines(nginx, reqLine, n) {
  const end = Date.now() + 3000;
  for (;;) {
    const lines = nginx.log().split('\n').filter((l) => l.startsWith('127.0.0.1 - [') && l.includes(`"${reqLine} HTTP/1.1"`));
    if (lines.length >= n || Date.now() > end) return lines;
    await sleep(20);
  }
}

describe(`memory x3, ${AFF}: the named replica dies`, () => {
  let s;
  before(async () => { s = await startStack({ label: 'persistent-kill', store: 'memory', replicas: 3, affinity: AFF }); });
  after(async () => { if (s) await s.stop(); });

  test('the next request is answered by another replica, and SLROUTE names it', async () => {
    const [, victim] = s.apps; // app-2
    const pinned = (n) => Array.from({ length: n }, () => {
      const jar = new Jar();
      jar.set('SLROUTE', routeOf(addrOf(victim)));
      return { jar };
    });
    const getters = pinned(6);
    const posters = pinned(3);
    for (const u of [...getters, ...posters]) {
      const x = await view(s, u.jar);
      assert.equal(x.hostname, 'app-2', 'a cookie naming app-2 goes to app-2');
      assert.ok(!x.route, 'no new SLROUTE while app-2 answers');
    }
    // Users on the other replicas, to see they are not disturbed.
    const others = [];
    while (others.length < 4) {
      const jar = new Jar();
      const x = await view(s, jar);
      if (x.hostname !== 'app-2') others.push({ jar, host: x.hostname });
    }

    victim.child.kill('SIGKILL');
    await victim.exited;

    for (const [i, u] of getters.entries()) {
      const x = await view(s, u.jar); // asserts 200
      assert.notEqual(x.hostname, 'app-2', `getter ${i}`);
      assert.ok(x.route, `getter ${i}: SLROUTE set`);
      assert.equal(x.route.value, routeOf(addrOf(s.apps.find((a) => a.name === x.hostname))), `getter ${i}: names ${x.hostname}`);
      assert.ok(x.new && x.access_count === 1, `getter ${i}: a new session (memory store)`);
      const y = await view(s, u.jar);
      assert.equal(y.hostname, x.hostname, `getter ${i} stays on ${x.hostname}`);
      assert.equal(y.access_count, 2);
      assert.ok(!y.route, `getter ${i}: SLROUTE set once`);
    }
    for (const [i, u] of posters.entries()) {
      // A POST to the dead replica never reached an app: re-picked, applied once.
      const r = await s.request('POST', '/setSession', {
        jar: u.jar, body: `value=v${i}`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: s.origin },
      });
      assert.equal(r.status, 303, `poster ${i}: ${r.status} ${r.body}`);
      const c = r.cookies.find((x) => x.name === 'SLROUTE');
      assert.ok(c && ROUTE.test(c.value), `poster ${i}: SLROUTE set`);
      const x = await view(s, u.jar);
      assert.equal(x.value, `v${i}`, `poster ${i}: the value is on the replica the cookie now names`);
      assert.equal(routeOf(addrOf(s.apps.find((a) => a.name === x.hostname))), c.value);
    }
    for (const u of others) {
      const x = await view(s, u.jar);
      assert.equal(x.hostname, u.host, 'users of the live replicas stay');
      assert.equal(x.access_count, 2);
    }
    // What nginx did for each POST: one failed try at app-2 that sent it
    // nothing (a refused connect), then the balanced group (whose hash may
    // pick app-2 again: another refused connect, then the next server), one
    // answer. No try that sent bytes failed.
    const dead = addrOf(victim).replace(/\./g, '\\.');
    const lines = await accessLines(s.nginx, 'POST /setSession', posters.length);
    assert.equal(lines.length, posters.length, lines.join('\n'));
    for (const l of lines) {
      assert.match(l, new RegExp(`upstream=${dead} : (${dead}, )*127\\.0\\.0\\.1:\\d+ rt=`), l);
      assert.match(l, / us=502 : (502, )*303 ubs=0 : (0, )*[1-9]\d*$/, l);
    }
    console.log(`# ${AFF}: app-2 killed: ${getters.length} GET and ${posters.length} POST users re-picked, 0 5xx; a POST's log: ${lines[0].replace(/^.*"POST/, '"POST')}`);
  });
});

/*
 * A FastCGI "replica" that reads a request and closes the connection
 * without answering: an app that crashed with the request in hand.
 */
async function cuttingServer() {
  const seen = [];
  const srv = net.createServer((sock) => {
    let got = Buffer.alloc(0);
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      // FCGI_STDIN (type 5) with content length 0 ends the request.
      for (let o = 0; o + 8 <= got.length;) {
        const type = got[o + 1];
        const len = got.readUInt16BE(o + 4);
        const pad = got[o + 6];
        if (o + 8 + len + pad > got.length) break;
        if (type === 5 && len === 0) {
          seen.push(got.toString('latin1'));
          sock.destroy();
          return;
        }
        o += 8 + len + pad;
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { srv, port: srv.address().port, seen };
}

describe(`${AFF}: a request that reached an app is never sent twice`, () => {
  let apps = [];
  let nginx;
  let cut;
  let port;
  before(async () => {
    const logDir = makeLogDir('persistent-cut');
    cut = await cuttingServer();
    apps = [
      await startApp({ store: 'memory', instance: 'app-1', name: 'app-1', logDir }),
      await startApp({ store: 'memory', instance: 'app-2', name: 'app-2', logDir }),
    ];
    nginx = await startNginx({ servers: [...apps.map(addrOf), `127.0.0.1:${cut.port}`], affinity: AFF, logDir });
    port = nginx.port;
  });
  after(async () => {
    if (nginx) await nginx.stop();
    await Promise.all(apps.map((a) => a.stop()));
    if (cut) cut.srv.close();
  });

  for (const method of ['POST', 'GET']) {
    test(`a ${method} cut mid-way by the named replica: 502, not re-sent`, async () => {
      const { request } = require('./lib/http');
      const before = cut.seen.length;
      const p = method === 'POST' ? '/setSession' : '/api/session';
      const logged = (await accessLines(nginx, `${method} ${p}`, 0)).length;
      const jar = new Jar();
      jar.set('SLROUTE', routeOf(`127.0.0.1:${cut.port}`));
      const opts = method === 'POST'
        ? { jar, body: 'value=once', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: `http://127.0.0.1:${port}` } }
        : { jar };
      const r = await request(port, method, p, opts);
      assert.equal(r.status, 502, `${method}: ${r.status} ${r.body}`);
      assert.equal(cut.seen.length, before + 1, 'the replica got it once');
      assert.ok(!r.cookies.some((c) => c.name === 'SLROUTE'), 'no replica answered: no SLROUTE');
      const lines = await accessLines(nginx, `${method} ${p}`, logged + 1);
      assert.equal(lines.length, logged + 1, 'one access-log line');
      const l = lines[lines.length - 1];
      // One try only, at the cutting replica, with bytes sent: no other app saw it.
      assert.match(l, new RegExp(`upstream=127\\.0\\.0\\.1:${cut.port} rt=`), l);
      assert.match(l, / us=502 ubs=[1-9]\d*$/, l);
      console.log(`# ${AFF}: ${method} cut by its replica: ${l.replace(/^.*upstream=/, 'upstream=')}`);
    });
  }
});

/** GET /api/session over a raw socket with these Cookie header bytes. */
function rawGet(port, cookie) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunks = [];
    sock.on('connect', () => {
      sock.write(Buffer.concat([
        Buffer.from('GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: '),
        cookie, Buffer.from('\r\n\r\n'),
      ]));
    });
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.split('\r\n\r\n')[0].split('\r\n');
      const status = Number(head[0].split(' ')[1]);
      const routes = head.filter((h) => /^set-cookie: SLROUTE=/i.test(h)).map((h) => h.replace(/^set-cookie: SLROUTE=([^;]*).*$/i, '$1'));
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      resolve({ status, routes, body });
    });
  });
}

describe(`memory x3, ${AFF}: cookies that name no replica`, () => {
  let s;
  let names;
  before(async () => {
    s = await startStack({ label: 'persistent-cookies', store: 'memory', replicas: 3, affinity: AFF });
    names = new Map(s.apps.map((a) => [a.name, routeOf(addrOf(a))]));
  });
  after(async () => { if (s) await s.stop(); });

  test('garbage, a balanced-mode id, an unknown replica: balanced choice, cookie replaced', async () => {
    const values = ['garbage', crypto.randomBytes(16).toString('hex'), routeOf('127.0.0.1:1'),
      routeOf('127.0.0.1:1').toUpperCase().slice(0, 15), 'sessionlab_app', 'sessionlab_route_x'];
    const hosts = new Set();
    for (const v of values) {
      for (let i = 0; i < 4; i++) {
        const jar = new Jar();
        jar.set('SLROUTE', v);
        const x = await view(s, jar);
        assert.ok(x.route, `SLROUTE=${v}: replaced`);
        assert.equal(x.route.value, names.get(x.hostname), `SLROUTE=${v}: names ${x.hostname}`);
        hosts.add(x.hostname);
        const y = await view(s, jar);
        assert.equal(y.hostname, x.hostname, 'then stays');
        assert.ok(!y.route);
      }
    }
    assert.ok(hosts.size >= 2, `24 re-picks all went to ${[...hosts]}`);
  });

  test('hostile values (long, odd bytes, look-alikes): no error, cookie replaced', async () => {
    const name = [...names.values()][0];
    const values = [
      Buffer.from('x'.repeat(15000)),
      Buffer.from(`${name}/${name}`),
      Buffer.from(`${name}:${name}`),
      Buffer.from(`${name}x`),
      Buffer.from('/'),
      Buffer.from(''),
      Buffer.from('"\\;{}$(){}*^|[]%00%0d%0a'),
      Buffer.from([0x01, 0x02, 0x1b, 0x7f, 0x80, 0xfe, 0xff, 0x2f, 0x5c]),
      Buffer.concat([Buffer.from(name), Buffer.from([0xff])]),
    ];
    for (const v of values) {
      const label = v.length > 40 ? `${v.length} bytes` : JSON.stringify(v.toString('latin1'));
      const r = await rawGet(s.port, Buffer.concat([Buffer.from('SLROUTE='), v]));
      assert.equal(r.status, 200, `${label}: ${r.status} ${r.body.slice(0, 200)}`);
      const host = JSON.parse(r.body).hostname;
      assert.deepEqual(r.routes, [names.get(host)], `${label}: SLROUTE names ${host}`);
    }
    // A cookie naming a replica exactly (nginx drops a header's trailing
    // blanks): no Set-Cookie, that replica.
    for (const v of [name, `${name} `, `${name}   `]) {
      const r = await rawGet(s.port, Buffer.from(`SLROUTE=${v}`));
      assert.equal(r.status, 200);
      assert.deepEqual(r.routes, [], JSON.stringify(v));
      assert.equal(names.get(JSON.parse(r.body).hostname), name);
    }
    assert.doesNotMatch(s.nginx.log(), /\[(crit|alert|emerg)\]/);
  });

  test('/nginx-healthz stays nginx\'s own; the error pages carry SLROUTE', async () => {
    const h = await s.request('GET', '/nginx-healthz');
    assert.equal(h.status, 200);
    assert.equal(h.body, 'ok\n');
    assert.ok(!h.cookies.some((c) => c.name === 'SLROUTE'), 'no replica answered /nginx-healthz');
    const r = await s.request('GET', '/nope');
    assert.equal(r.status, 404);
    const c = r.cookies.find((x) => x.name === 'SLROUTE');
    assert.ok(c && [...names.values()].includes(c.value), 'add_header ... always');
  });
});
