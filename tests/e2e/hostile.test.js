'use strict';
// Hostile input through nginx, against one app with the Redis store (so we
// can watch what reaches Redis with MONITOR). After every test the app must
// still serve a normal session view, and its memory must stay bounded.
//
// RSS checks are skipped when SESSIONLAB_E2E_NO_RSS=1 (the ASan and valgrind
// runners set it: their allocators keep freed memory on purpose, and they
// check leaks themselves).

const { test, describe, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startStack, Proc, sleep } = require('./lib/stack');
const { Jar, form } = require('./lib/http');
const { rssKb, rawRequest, rawStatus, runLoad, redisCli, waitFor } = require('./lib/faults');
const net = require('node:net');

const SID = /^[0-9a-f]{32}$/;
const FORM = 'application/x-www-form-urlencoded';
const CHECK_RSS = process.env.SESSIONLAB_E2E_NO_RSS !== '1';
// Memory bounds (KiB): hostile input may cost transient buffers, not growth.
const RSS_SLACK_KB = 32 * 1024; // whole suite vs. the warmed-up baseline
const RSS_REPEAT_SLACK_KB = 4 * 1024; // one more round of every hostile request

let s;
let monitor;
let prefix;
let baseRss;
const MARK = 'hostileMARK'; // in every hostile id, so we can look for it in Redis

before(async () => {
  s = await startStack({ label: 'hostile', store: 'redis', replicas: 1, instance: 'solo' });
  prefix = (s.apps[0].log().match(/prefix=(\S+)/) || [])[1];
  assert.match(prefix || '', /^e2e:[0-9a-f]{8}:$/, 'key prefix from the app log');
  monitor = new Proc('redis-monitor', 'redis-cli', ['-h', '127.0.0.1', '-p', String(s.redis.port), 'MONITOR'], { logDir: s.logDir });
  await waitFor(() => /OK/.test(monitor.log()), { ms: 5000, what: 'MONITOR attached' });
  // Warm up: every worker thread touched, buffers grown, before the baseline.
  await runLoad({ clients: 16, count: 20, step: (c, i, agent) => s.request('GET', '/api/session', { agent }) });
  baseRss = rssKb(s.apps[0].pid);
});
after(async () => {
  if (monitor) await monitor.stop();
  if (s) await s.stop();
});

/** The app serves a normal session (with a fresh jar) and is alive. */
async function assertServes() {
  const jar = new Jar();
  const a = await s.request('GET', '/api/session', { jar });
  assert.equal(a.status, 200, `app serves after hostile input: ${a.body}`);
  const b = await s.request('GET', '/api/session', { jar });
  assert.equal(JSON.parse(b.body).access_count, 2);
  assert.ok(s.apps[0].alive, 'app process alive');
}
afterEach(assertServes);

const get = (path, opts) => s.request('GET', path, opts);
const post = (body, headers = {}) => s.request('POST', '/setSession', {
  body, headers: { 'Content-Type': FORM, Origin: s.origin, ...headers },
});
async function newSession() {
  const jar = new Jar();
  const r = await get('/api/session', { jar });
  assert.equal(r.status, 200);
  return { jar, id: jar.get('SESSION') };
}
const api = async (cookie) => {
  const r = await get('/api/session', { headers: { Cookie: cookie } });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body);
};

/** The whole hostile corpus as raw requests, for the memory-growth round. */
function hostileRaw(port) {
  const host = `Host: 127.0.0.1:${port}\r\n`;
  const big = 'x'.repeat(9000);
  const many = Array.from({ length: 1500 }, (_, i) => `c${i}=v`).join('; ');
  const list = [
    `GET /api/session HTTP/1.1\r\n${host}Cookie: junk=${big}; SESSION=${MARK}\r\nConnection: close\r\n\r\n`,
    `GET /api/session HTTP/1.1\r\n${host}Cookie: ${many}\r\nConnection: close\r\n\r\n`,
    `GET /api/session HTTP/1.1\r\n${host}Cookie: SESSION=*; SESSION=..; SESSION=a b; SESSION=[a-z]?\r\nConnection: close\r\n\r\n`,
    `GET /%zz%4 HTTP/1.1\r\n${host}Connection: close\r\n\r\n`,
    `POST /setSession HTTP/1.1\r\n${host}Origin: http://127.0.0.1:${port}\r\nContent-Type: ${FORM}\r\nContent-Length: 8\r\nConnection: close\r\n\r\nvalue=%z`,
    `POST /setSession HTTP/1.1\r\n${host}Origin: http://127.0.0.1:${port}\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\nvalue=x`,
    `POST /setSession HTTP/1.1\r\n${host}Origin: http://127.0.0.1:${port}\r\nContent-Type: ${FORM}\r\nContent-Length: 21\r\nConnection: close\r\n\r\nvalue=%ff%fe%00%0d%0a`,
  ];
  return list;
}

describe('oversized and numerous cookies', () => {
  test('an 8 KiB+ junk cookie next to SESSION: the session is kept', async () => {
    const { id } = await newSession();
    const j = await api(`junk=${'x'.repeat(9000)}; SESSION=${id}; more=${'y'.repeat(3000)}`);
    assert.equal(j.session_id, id);
    assert.equal(j.access_count, 2);
  });

  test('an 8 KiB+ SESSION value is ignored: a fresh session, nothing adopted', async () => {
    const r = await get('/api/session', { headers: { Cookie: `SESSION=${MARK}${'a'.repeat(9000)}` } });
    assert.equal(r.status, 200);
    const j = JSON.parse(r.body);
    assert.equal(j.new, true);
    assert.match(j.session_id, SID);
  });

  test('a Cookie header beyond nginx\'s 16 KiB buffer is refused with 400, not passed on', async () => {
    const r = await get('/api/session', { headers: { Cookie: `SESSION=${'b'.repeat(20000)}` } });
    assert.equal(r.status, 400);
  });

  test('thousands of cookies: SESSION found after 1500 others', async () => {
    const { id } = await newSession();
    const many = Array.from({ length: 1500 }, (_, i) => `c${i}=v`).join('; ');
    const j = await api(`${many}; SESSION=${id}`);
    assert.equal(j.session_id, id);
    assert.equal(j.access_count, 2);
    const r = await get('/api/session', { headers: { Cookie: Array.from({ length: 3000 }, (_, i) => `c${i}=v`).join('; ') } });
    assert.ok(r.status === 400 || r.status === 200, `3000 cookies: 400 (too large) or 200, got ${r.status}`);
  });

  test('thousands of SESSION cookies, all malformed: a fresh session', async () => {
    const cookie = Array.from({ length: 500 }, (_, i) => `SESSION=${MARK}${i}`).join('; ');
    const j = await api(cookie);
    assert.equal(j.new, true);
  });
});

describe('duplicate SESSION cookies', () => {
  test('a malformed one first, the valid one second: the valid one is used', async () => {
    const { id } = await newSession();
    const j = await api(`SESSION=${MARK}; SESSION=${id}`);
    assert.equal(j.session_id, id);
    assert.equal(j.access_count, 2);
  });

  test('an unknown well-formed id first: never adopted', async () => {
    const { id } = await newSession();
    const unknown = 'f'.repeat(32);
    const r = await get('/api/session', { headers: { Cookie: `SESSION=${unknown}; SESSION=${id}` } });
    assert.equal(r.status, 200);
    const j = JSON.parse(r.body);
    assert.notEqual(j.session_id, unknown, 'the unknown id is not adopted');
    assert.equal(await redisCli(s.redis.port, 'EXISTS', `${prefix}{${unknown.slice(0, 4)}}${unknown}`), '0', 'nothing stored under it');
  });

  test('two live sessions in one header: only one of them counts the view', async () => {
    const a = await newSession();
    const b = await newSession();
    const j = await api(`SESSION=${a.id}; SESSION=${b.id}`);
    assert.ok(j.session_id === a.id || j.session_id === b.id);
    const ca = (await api(`SESSION=${a.id}`)).access_count;
    const cb = (await api(`SESSION=${b.id}`)).access_count;
    assert.equal(ca + cb, 2 + 2 + 1, 'exactly one extra view between the two sessions');
  });
});

describe('malformed percent escapes, NUL, CR/LF, invalid UTF-8', () => {
  test('malformed escapes in the form: 400', async () => {
    for (const body of ['value=%', 'value=%4', 'value=%zz', 'value=ab%g1', 'value=%%41']) {
      const r = await post(body);
      assert.equal(r.status, 400, body);
    }
  });

  test('malformed escapes in the path: no 5xx', async () => {
    for (const p of ['/%zz', '/api%2', '/%', '/%00', '/api/session%00', '/..%2f..%2fetc/passwd', '/%2e%2e/%2e%2e/']) {
      const r = await get(p);
      assert.ok(r.status >= 400 && r.status < 500, `${p}: ${r.status}`);
    }
  });

  test('CR/LF and NUL in a stored value never become response headers', async () => {
    const jar = new Jar();
    const evil = 'a\r\nSet-Cookie: injected=1\r\nX-Injected: yes\r\n\r\n<script>alert(1)</script>\u0000z';
    const r = await s.request('POST', '/setSession', {
      jar, body: form({ value: evil }), headers: { 'Content-Type': FORM, Origin: s.origin },
    });
    assert.ok(r.status === 303 || r.status === 400, `stored (303) or refused (400): ${r.status}`);
    for (const p of ['/', '/api/session']) {
      const v = await get(p, { jar });
      assert.equal(v.status, 200);
      assert.equal(v.headers['x-injected'], undefined, `${p}: no injected header`);
      assert.ok(!v.cookies.some((c) => c.name === 'injected'), `${p}: no injected cookie`);
      if (p === '/') assert.ok(!v.body.includes('<script>alert(1)'), 'the HTML page escapes the value');
      else assert.equal(v.headers['x-content-type-options'], 'nosniff', 'JSON is never sniffed as HTML');
      assert.ok(!v.raw.includes(0), `${p}: no raw NUL byte in the body`);
    }
    if (r.status === 303) {
      const j = JSON.parse((await get('/api/session', { jar })).body);
      // NUL is shown as U+FFFD (the renderers never emit a raw NUL); the rest is exact.
      assert.ok(j.value === evil || j.value === evil.replace('\u0000', '\ufffd'), JSON.stringify(j.value));
    }
  });

  test('raw CR, LF or NUL inside request headers: refused by nginx or harmless', async () => {
    const host = `Host: 127.0.0.1:${s.port}\r\n`;
    for (const bad of [`Cookie: SESSION=a\rX-Injected: 1\r\n`, `Cookie: SESSION=a\u0000b\r\n`, `X-Foo: a\nSet-Cookie: injected=1\r\n`]) {
      const text = await rawRequest(s.port, Buffer.from(`GET /api/session HTTP/1.1\r\n${host}${bad}Connection: close\r\n\r\n`, 'latin1'));
      const st = rawStatus(text);
      assert.ok(st === 200 || st === 400, `status ${st} for ${JSON.stringify(bad)}: ${JSON.stringify(text.slice(0, 300))}`);
      const head = text.split('\r\n\r\n')[0];
      assert.ok(!/^x-injected:/im.test(head) && !/^set-cookie: injected/im.test(head), 'no injected response header');
    }
  });

  test('invalid UTF-8 in a value: stored, and the JSON and HTML out are valid UTF-8', async () => {
    const jar = new Jar();
    const r = await s.request('POST', '/setSession', {
      jar, body: 'value=%ff%fe%c3%28%ed%a0%80%f4%90%80%80ok', headers: { 'Content-Type': FORM, Origin: s.origin },
    });
    assert.equal(r.status, 303);
    const strict = new TextDecoder('utf-8', { fatal: true });
    for (const p of ['/', '/api/session']) {
      const v = await get(p, { jar });
      assert.equal(v.status, 200);
      assert.doesNotThrow(() => strict.decode(v.raw), `${p} is valid UTF-8`);
    }
    const j = JSON.parse((await get('/api/session', { jar })).body);
    assert.match(j.value, /ok$/);
  });
});

describe('bodies and content types', () => {
  test('a 1 MiB body is refused with 413 (Content-Length and chunked)', async () => {
    const body = Buffer.alloc(1024 * 1024, 'a');
    const head = `POST /setSession HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nOrigin: ${s.origin}\r\nContent-Type: ${FORM}\r\n`;
    let text = await rawRequest(s.port, Buffer.concat([Buffer.from(`${head}Content-Length: ${body.length}\r\nConnection: close\r\n\r\nvalue=`), body]));
    assert.equal(rawStatus(text), 413, text.slice(0, 200));
    const chunk = Buffer.concat([Buffer.from(`${(body.length).toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    text = await rawRequest(s.port, Buffer.concat([Buffer.from(`${head}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n`), chunk]));
    assert.equal(rawStatus(text), 413, text.slice(0, 200));
  });

  test('a value over 4096 bytes in a small body: 413 from the app', async () => {
    const r = await post(`value=${'v'.repeat(5000)}`);
    assert.equal(r.status, 413);
  });

  test('wrong content types: 415', async () => {
    for (const ct of ['text/plain', 'application/json', 'multipart/form-data; boundary=x',
      'application/x-www-form-urlencodedX', 'application/x-www-form', '']) {
      const headers = ct ? { 'Content-Type': ct } : { 'Content-Type': '' };
      const r = await post('value=x', headers);
      assert.equal(r.status, 415, `Content-Type '${ct}'`);
    }
  });

  test('a body that lies about its length: no 5xx, no hang', async () => {
    const text = await rawRequest(s.port, Buffer.from(`POST /setSession HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n`
      + `Origin: ${s.origin}\r\nContent-Type: ${FORM}\r\nContent-Length: 100\r\n\r\nvalue=short`), 3000);
    const st = rawStatus(text);
    assert.ok(st === 0 || (st >= 400 && st < 500), `status ${st}`);
  });
});

describe('ids that must never reach Redis', () => {
  const hostile = [
    '*', '..', '../../etc/passwd', 'a b', ' ', '[a-f]*', '?', `${MARK}*`, '\\*',
    '0123456789abcdef0123456789abcde*', '0123456789abcdef0123456789abcde?',
    '0123456789abcdef0123456789abc[a]', '0123456789ABCDEF0123456789ABCDEF',
    '0123456789abcdef0123456789abcdef0', '0123456789abcdef 0123456789abcde',
    '0123456789abcdef0123456789abcd..', '"0123456789abcdef0123456789abcd*"',
  ];

  test('each is ignored: a fresh session, the id not adopted', async () => {
    for (const id of hostile) {
      const r = await get('/api/session', { headers: { Cookie: `SESSION=${id}` } });
      assert.equal(r.status, 200, id);
      const j = JSON.parse(r.body);
      assert.equal(j.new, true, `${JSON.stringify(id)}: a new session`);
      assert.notEqual(j.session_id, id);
      const c = await s.request('GET', '/clearSession', { headers: { Cookie: `SESSION=${id}` } });
      assert.equal(c.status, 303);
      const p = await post('value=x', { Cookie: `SESSION=${id}` });
      assert.equal(p.status, 303);
    }
  });

  test('MONITOR: every key Redis saw is prefix + {tag} + 32 hex digits (or a user index, or the 0.1 key of a valid id)', async () => {
    // MONITOR output is asynchronous: wait until a marker sent last shows up,
    // and look only at complete lines.
    const marker = `end-of-hostile-${Date.now()}`;
    await redisCli(s.redis.port, 'ECHO', marker);
    await waitFor(() => monitor.log().includes(marker), { ms: 10000, what: 'MONITOR caught up' });
    const text = monitor.log();
    const lines = text.slice(0, text.lastIndexOf('\n')).split('\n').filter((l) => /^\d+\.\d+ \[/.test(l));
    assert.ok(lines.length > 20, `MONITOR saw the traffic (${lines.length} lines)`);
    // A session hash: prefix + "{" + id[0..4) + "}" + id (the hash tag is the
    // id's first 4 digits); a user index: prefix + "user:" + a valid name;
    // and the 0.1 layout prefix + id, which the scripts look up to adopt.
    const keyRe = new RegExp(`^${prefix}(\\{([0-9a-f]{4})\\}\\2[0-9a-f]{28}|[0-9a-f]{32}|user:[A-Za-z0-9._-]{1,32})$`);
    let keys = 0;
    for (const l of lines) {
      const args = [...l.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
      const cmd = (args[0] || '').toUpperCase();
      let key = null;
      if (cmd === 'EVALSHA' || cmd === 'EVAL') key = args[3];
      else if (['DEL', 'EXISTS', 'HGETALL', 'EXPIRE', 'HSET', 'HINCRBY', 'HMGET', 'HSETNX', 'TTL'].includes(cmd)) key = args[1];
      else if (['KEYS', 'SCAN', 'FLUSHALL', 'FLUSHDB', 'CONFIG'].includes(cmd)) {
        if (!l.includes('lua]') && !/"CONFIG" "GET" "dir"/.test(l)) assert.fail(`unexpected command reached Redis: ${l}`);
      }
      if (key !== null) {
        keys++;
        assert.match(key, keyRe, `key in: ${l}`);
      }
      assert.ok(!l.includes(MARK), `a hostile id reached Redis: ${l}`);
    }
    assert.ok(keys > 20, `keys checked: ${keys}`);
    assert.equal(await redisCli(s.redis.port, 'KEYS', '*hostileMARK*'), '');
  });
});

describe('slowloris', () => {
  test('200 connections trickling headers or bodies do not stop the app serving', async () => {
    const socks = [];
    const open = (text) => new Promise((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port: s.port }, () => { sock.write(text); resolve(); });
      sock.on('error', () => resolve());
      socks.push(sock);
    });
    const host = `Host: 127.0.0.1:${s.port}\r\n`;
    for (let i = 0; i < 100; i++) await open(`GET /api/session HTTP/1.1\r\n${host}X-Slow-${i}: `);
    for (let i = 0; i < 100; i++) {
      await open(`POST /setSession HTTP/1.1\r\n${host}Origin: ${s.origin}\r\nContent-Type: ${FORM}\r\nContent-Length: 4000\r\n\r\nvalue=`);
    }
    let drip = true;
    const dripper = (async () => {
      while (drip) {
        for (const k of socks) if (!k.destroyed) k.write('a');
        await sleep(300);
      }
    })();
    try {
      // Normal traffic meanwhile: every request served.
      const res = await runLoad({ clients: 8, count: 25, step: (c, i, agent) => get('/api/session', { agent }) });
      assert.deepEqual([...res.statuses], [[200, 200]], `statuses ${JSON.stringify([...res.statuses])} errors ${res.errors}`);
    } finally {
      drip = false;
      await dripper;
      for (const k of socks) k.destroy();
    }
  });
});

describe('memory', () => {
  test('another round of every hostile request does not grow the app', { skip: !CHECK_RSS && 'SESSIONLAB_E2E_NO_RSS=1' }, async () => {
    const round = async () => {
      for (let k = 0; k < 20; k++) {
        await Promise.all(hostileRaw(s.port).map((t) => rawRequest(s.port, Buffer.from(t, 'latin1'))));
      }
    };
    await round();
    const mid = rssKb(s.apps[0].pid);
    await round();
    await round();
    const end = rssKb(s.apps[0].pid);
    console.log(`# hostile RSS KiB: baseline ${baseRss}, after rounds ${mid} -> ${end}`);
    assert.ok(end - mid <= RSS_REPEAT_SLACK_KB, `RSS grew ${end - mid} KiB over two more rounds`);
    assert.ok(end - baseRss <= RSS_SLACK_KB, `RSS ${end} KiB vs baseline ${baseRss} KiB`);
  });
});

describe('session flooding, memory store', () => {
  let m;
  before(async () => { m = await startStack({ label: 'hostile-flood', instance: 'flood', appEnv: { SESSIONLAB_MAX_SESSIONS: '500' } }); });
  after(async () => { if (m) await m.stop(); });

  test('5000 cookieless requests: all served, live sessions capped, memory bounded', async () => {
    await runLoad({ clients: 8, count: 100, step: (c, i, agent) => m.request('GET', '/api/session', { agent }) });
    const before = rssKb(m.apps[0].pid);
    const res = await runLoad({ clients: 16, count: 300, step: (c, i, agent) => m.request('GET', '/api/session', { agent }) });
    assert.deepEqual([...res.statuses], [[200, 4800]]);
    const metrics = (await m.request('GET', '/metrics')).body;
    const live = Number((metrics.match(/^sessionlab_sessions_live (\d+)/m) || [])[1]);
    assert.ok(live <= 500, `live sessions ${live} <= cap 500`);
    const created = Number((metrics.match(/^sessionlab_sessions_created_total (\d+)/m) || [])[1]);
    assert.ok(created >= 5000, `created ${created}`);
    const after = rssKb(m.apps[0].pid);
    console.log(`# flood: created ${created}, live ${live}, RSS KiB ${before} -> ${after}`);
    if (CHECK_RSS) assert.ok(after - before <= 8 * 1024, `RSS grew ${after - before} KiB`);
    assert.equal((await m.request('GET', '/healthz')).status, 200);
  });
});

