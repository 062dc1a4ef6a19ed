'use strict';
// The HTTP contract of one app (memory store) behind nginx: routes, statuses,
// cookies, strict mode, forms, escaping, served_by, metrics.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const os = require('node:os');
const { startStack } = require('./lib/stack');
const { Jar, form } = require('./lib/http');

const SID = /^[0-9a-f]{32}$/;
const FORM = 'application/x-www-form-urlencoded';

let s;
before(async () => { s = await startStack({ label: 'routes' }); });
after(async () => { if (s) await s.stop(); });

const get = (path, opts) => s.request('GET', path, opts);
const api = async (jar, headers) => {
  const r = await get('/api/session', { jar, headers });
  assert.equal(r.status, 200, r.body);
  return { r, j: JSON.parse(r.body) };
};
const post = (path, body, { jar, headers = {} } = {}) => s.request('POST', path, {
  jar, body, headers: { 'Content-Type': FORM, Origin: s.origin, ...headers },
});
const sessionCookie = (r) => r.cookies.find((c) => c.name === 'SESSION');
const field = (html, id) => {
  const m = html.match(new RegExp(`id="${id}"[^>]*>([^<]*)<`));
  assert.ok(m, `element id=${id} in page`);
  return m[1].trim();
};

describe('routes and statuses', () => {
  test('GET / is the HTML session page', async () => {
    const jar = new Jar();
    const r = await get('/', { jar });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.match(r.headers['cache-control'] || '', /no-store/);
    assert.match(r.body, /<title>Session Sample - in Memory<\/title>/);
    for (const id of ['session-id', 'hostname', 'access-count', 'value', 'date', 'store', 'user', 'cart', 'login-form']) {
      assert.match(r.body, new RegExp(`id="${id}"`), `id=${id}`);
    }
    assert.equal(field(r.body, 'session-id'), jar.get('SESSION'));
    assert.equal(field(r.body, 'access-count'), '1');
    assert.equal(field(r.body, 'hostname'), os.hostname());
    const ol = r.body.match(/<ol id="served-by"[^>]*>([\s\S]*?)<\/ol>/);
    assert.ok(ol, 'ol#served-by');
    assert.equal((ol[1].match(/<li[\s>]/g) || []).length, 1);
    const formTag = r.body.match(/<form[^>]*action="\/setSession"[^>]*>/i);
    assert.ok(formTag, 'the Set Session form');
    assert.match(formTag[0], /method="post"/i);
    assert.match(r.body, /<input[^>]*name="value"/);
    assert.match(r.body, /<button[^>]*>\s*Set Session\s*<\/button>/);
    assert.match(r.body, /<a[^>]*href="\/clearSession"[^>]*>\s*Clear Session\s*<\/a>/);
  });

  test('GET /api/session is JSON with every field', async () => {
    const jar = new Jar();
    const { r, j } = await api(jar);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.match(r.headers['cache-control'] || '', /no-store/);
    assert.deepEqual(Object.keys(j).sort(),
      ['access_count', 'cart', 'date', 'hostname', 'new', 'served_by', 'session_id', 'store', 'user', 'value']);
    assert.match(j.session_id, SID);
    assert.equal(j.session_id, jar.get('SESSION'));
    assert.equal(j.hostname, os.hostname());
    assert.equal(j.access_count, 1);
    assert.equal(j.value, null);
    assert.equal(j.date, null);
    assert.equal(j.user, null);
    assert.deepEqual(j.cart, []);
    assert.equal(j.store, 'memory');
    assert.equal(j.new, true);
    assert.deepEqual(j.served_by, [os.hostname()]);
    const second = await api(jar);
    assert.equal(second.j.new, false);
    assert.equal(second.j.session_id, j.session_id);
  });

  test('HEAD works on GET routes, without a body', async () => {
    for (const p of ['/', '/api/session', '/hello', '/healthz', '/readyz', '/metrics']) {
      const r = await s.request('HEAD', p);
      assert.equal(r.status, 200, `HEAD ${p}`);
      assert.equal(r.body, '', `HEAD ${p} body`);
      assert.ok(r.headers['content-type'], `HEAD ${p} content-type`);
    }
  });

  test('GET /hello, /healthz, /readyz', async () => {
    let r = await get('/hello');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/plain/);
    assert.equal(r.body.trim(), `Hello from ${os.hostname()}`);
    r = await get('/hello?x=1');
    assert.equal(r.status, 200, 'routing ignores the query string');
    r = await get('/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), 'ok');
    r = await get('/readyz');
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), 'ready');
  });

  test('unknown paths are 404', async () => {
    for (const p of ['/nope', '/api/session/x', '/api', '/index.html', '/setSession/', '/hello/x', '/login/', '/cart/x', '/logoutx']) {
      const r = await get(p);
      assert.equal(r.status, 404, `GET ${p}`);
    }
    const r = await s.request('POST', '/nope', { body: 'value=1', headers: { 'Content-Type': FORM, Origin: s.origin } });
    assert.equal(r.status, 404, 'POST /nope');
  });

  test('wrong methods are 405 with Allow', async () => {
    const cases = [
      ['POST', '/', 'GET, HEAD'], ['PUT', '/api/session', 'GET, HEAD'], ['DELETE', '/api/session', 'GET, HEAD'],
      ['POST', '/hello', 'GET, HEAD'], ['POST', '/healthz', 'GET, HEAD'], ['POST', '/readyz', 'GET, HEAD'],
      ['POST', '/metrics', 'GET, HEAD'], ['GET', '/setSession', 'POST'], ['PUT', '/setSession', 'POST'],
      ['PUT', '/clearSession', 'GET, HEAD, POST'], ['DELETE', '/clearSession', 'GET, HEAD, POST'],
      ['GET', '/login', 'POST'], ['PUT', '/login', 'POST'], ['GET', '/logout', 'POST'],
      ['DELETE', '/logout', 'POST'], ['GET', '/cart', 'POST'], ['PUT', '/cart', 'POST'],
    ];
    for (const [m, p, allow] of cases) {
      const r = await s.request(m, p, { body: m === 'GET' ? undefined : '', headers: { Origin: s.origin } });
      assert.equal(r.status, 405, `${m} ${p}`);
      assert.equal(r.headers.allow, allow, `${m} ${p} Allow`);
    }
  });
});

describe('session cookie', () => {
  test('counts 1, 2, 3 with one cookie; Set-Cookie only when new', async () => {
    const jar = new Jar();
    const counts = [];
    let first;
    for (let i = 0; i < 3; i++) {
      const { r, j } = await api(jar);
      counts.push(j.access_count);
      if (i === 0) first = j.session_id;
      else {
        assert.equal(j.session_id, first);
        assert.equal(sessionCookie(r), undefined, 'no Set-Cookie for a known session');
      }
    }
    assert.deepEqual(counts, [1, 2, 3]);
    const r = await get('/', { jar });
    assert.equal(r.status, 200);
    assert.equal(r.headers['set-cookie'], undefined, 'page: no Set-Cookie for a known session');
    assert.equal(field(r.body, 'access-count'), '4');
  });

  test('Set-Cookie is SESSION=<32 hex>; Path=/; HttpOnly; SameSite=Lax, no Max-Age, no Secure', async () => {
    const r = await get('/api/session');
    const c = sessionCookie(r);
    assert.ok(c, 'SESSION cookie set');
    assert.match(c.value, SID);
    assert.deepEqual(c.parts.slice().sort(), ['HttpOnly', 'Path=/', 'SameSite=Lax'], c.raw);
    assert.equal(c.raw, `SESSION=${c.value}; Path=/; HttpOnly; SameSite=Lax`);
  });

  test('Secure is added when X-Forwarded-Proto is https (cookie-secure auto)', async () => {
    const r = await get('/api/session', { headers: { 'X-Forwarded-Proto': 'https' } });
    const c = sessionCookie(r);
    assert.ok(c, 'SESSION cookie set');
    assert.deepEqual(c.parts.slice().sort(), ['HttpOnly', 'Path=/', 'SameSite=Lax', 'Secure'], c.raw);
  });

  test('strict mode: an unknown well-formed id is not adopted', async () => {
    const unknown = 'a'.repeat(16) + '0123456789abcdef';
    const jar = new Jar();
    jar.set('SESSION', unknown);
    const { r, j } = await api(jar);
    assert.notEqual(j.session_id, unknown);
    assert.match(j.session_id, SID);
    assert.equal(j.new, true);
    assert.equal(j.access_count, 1);
    assert.equal(sessionCookie(r).value, j.session_id);
  });

  test('strict mode: malformed ids get a new id and are never echoed', async () => {
    for (const bad of ['../x', '*', 'A'.repeat(32), `${'0'.repeat(31)}g`, 'x'.repeat(8192), '<script>']) {
      const r = await get('/api/session', { headers: { Cookie: `SESSION=${bad}` } });
      assert.equal(r.status, 200, `cookie ${bad.slice(0, 20)}`);
      const j = JSON.parse(r.body);
      assert.match(j.session_id, SID);
      assert.notEqual(j.session_id, bad);
      assert.equal(j.new, true);
      assert.ok(!r.body.includes(bad), 'not echoed in JSON');
      assert.ok(!(r.headers['set-cookie'] || []).join('\n').includes(bad), 'not echoed in Set-Cookie');
      const page = await get('/', { headers: { Cookie: `SESSION=${bad}` } });
      assert.equal(page.status, 200);
      assert.ok(!page.body.includes(bad), 'not echoed in the page');
    }
  });

  test('other cookies around SESSION do not confuse the parser', async () => {
    const jar = new Jar();
    const { j } = await api(jar);
    const r = await get('/api/session', { headers: { Cookie: `a=1; SESSION=${j.session_id}; b="x y"` } });
    const k = JSON.parse(r.body);
    assert.equal(k.session_id, j.session_id);
    assert.equal(k.access_count, 2);
  });
});

describe('setSession', () => {
  test('stores the value with a date; POST does not count as an access', async () => {
    const jar = new Jar();
    const { j } = await api(jar);
    assert.equal(j.access_count, 1);
    const r = await post('/setSession', form({ value: 'hello world' }), { jar });
    assert.equal(r.status, 303, r.body);
    assert.equal(r.headers.location, '/');
    const k = (await api(jar)).j;
    assert.equal(k.session_id, j.session_id);
    assert.equal(k.value, 'hello world');
    assert.match(k.date, /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/);
    assert.equal(k.access_count, 2, 'the POST did not count');
    const page = await get('/', { jar });
    assert.equal(field(page.body, 'value'), 'hello world');
    assert.equal(field(page.body, 'date'), k.date);
  });

  test('form decoding: + and %XX, UTF-8, charset parameter accepted', async () => {
    const jar = new Jar();
    await api(jar);
    let r = await post('/setSession', 'value=a+b%20c%2Bd', { jar });
    assert.equal(r.status, 303);
    assert.equal((await api(jar)).j.value, 'a b c+d');
    r = await post('/setSession', form({ value: '日本語' }), { jar, headers: { 'Content-Type': `${FORM}; charset=UTF-8` } });
    assert.equal(r.status, 303);
    assert.equal((await api(jar)).j.value, '日本語');
  });

  test('creates a session (count 0) when there is none', async () => {
    const jar = new Jar();
    const r = await post('/setSession', form({ value: 'first' }), { jar });
    assert.equal(r.status, 303);
    const c = sessionCookie(r);
    assert.ok(c, 'Set-Cookie on a session created by POST');
    assert.match(c.value, SID);
    const { j } = await api(jar);
    assert.equal(j.session_id, c.value);
    assert.equal(j.value, 'first');
    assert.equal(j.access_count, 1);
  });

  test('HTML-escapes the value on the page, JSON-escapes it in /api/session', async () => {
    const jar = new Jar();
    const v = '<script>alert("x")</script> & \'q\'';
    await post('/setSession', form({ value: v }), { jar });
    const page = await get('/', { jar });
    assert.ok(!page.body.includes('<script>alert'), 'raw <script> must not appear');
    assert.ok(page.body.includes('&lt;script&gt;alert('), 'escaped as &lt;script&gt;');
    assert.ok(page.body.includes('&amp;'), '& escaped');
    const tricky = 'q"uote\\back\nline\ttab\u0001ctl</script>';
    await post('/setSession', form({ value: tricky }), { jar });
    const r = await get('/api/session', { jar });
    const j = JSON.parse(r.body);
    assert.equal(j.value, tricky);
    assert.ok(!r.body.includes('\u0001'), 'control characters are escaped in JSON');
  });

  test('bytes that are not UTF-8 never make the JSON or the page invalid UTF-8', async () => {
    const jar = new Jar();
    for (const v of ['a%00b', 'a%ffb', 'a%c3%28b', '%ed%a0%80']) {
      const r = await post('/setSession', `value=${v}`, { jar });
      assert.ok(r.status === 303 || r.status === 400, `${v}: ${r.status}`);
      for (const path of ['/api/session', '/']) {
        const g = await s.request('GET', path, { jar, raw: true });
        assert.equal(g.status, 200);
        assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(g.raw), `${v} on ${path}`);
        assert.ok(!g.raw.includes(0), `${v} on ${path}: no NUL byte`);
      }
      JSON.parse((await s.request('GET', '/api/session', { jar })).body);
    }
  });

  test('4096-byte value is fine, 4097 is 413 and leaves the value', async () => {
    const jar = new Jar();
    const v = 'v'.repeat(4096);
    let r = await post('/setSession', form({ value: v }), { jar });
    assert.equal(r.status, 303);
    assert.equal((await api(jar)).j.value, v);
    r = await post('/setSession', form({ value: 'w'.repeat(4097) }), { jar });
    assert.equal(r.status, 413);
    assert.equal((await api(jar)).j.value, v);
    // 4096 bytes after decoding (%41 = 3 bytes on the wire each) is fine too
    r = await post('/setSession', `value=${'%41'.repeat(4096)}`, { jar });
    assert.equal(r.status, 303);
    assert.equal((await api(jar)).j.value, 'A'.repeat(4096));
  });

  test('a body over 16 KiB is 413', async () => {
    const jar = new Jar();
    await api(jar);
    const r = await post('/setSession', `${form({ value: 'x' })}&pad=${'p'.repeat(17000)}`, { jar });
    assert.equal(r.status, 413);
  });

  test('cross-site POST is 403 and leaves the value', async () => {
    const jar = new Jar();
    await post('/setSession', form({ value: 'mine' }), { jar });
    let r = await post('/setSession', form({ value: 'evil' }), { jar, headers: { Origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    r = await s.request('POST', '/setSession', {
      jar, body: form({ value: 'evil2' }), headers: { 'Content-Type': FORM, 'Sec-Fetch-Site': 'cross-site' },
    });
    assert.equal(r.status, 403);
    assert.equal((await api(jar)).j.value, 'mine');
    r = await s.request('POST', '/setSession', {
      jar, body: form({ value: 'ok2' }), headers: { 'Content-Type': FORM, 'Sec-Fetch-Site': 'same-origin' },
    });
    assert.equal(r.status, 303, 'Sec-Fetch-Site: same-origin is allowed');
    assert.equal((await api(jar)).j.value, 'ok2');
  });

  test('same-origin Origin is 303', async () => {
    const jar = new Jar();
    const r = await post('/setSession', form({ value: 'same' }), { jar, headers: { Origin: s.origin } });
    assert.equal(r.status, 303);
  });

  test('missing or malformed value is 400', async () => {
    const jar = new Jar();
    await api(jar);
    for (const body of ['other=1', '', 'value=%zz', 'value=%4']) {
      const r = await post('/setSession', body, { jar });
      assert.equal(r.status, 400, `body "${body}"`);
    }
    assert.equal((await api(jar)).j.value, null);
  });

  test('other content types are 415', async () => {
    const jar = new Jar();
    for (const ct of ['text/plain', 'application/json', 'multipart/form-data; boundary=x']) {
      const r = await post('/setSession', 'value=1', { jar, headers: { 'Content-Type': ct } });
      assert.equal(r.status, 415, ct);
    }
    const r = await s.request('POST', '/setSession', { jar, body: 'value=1', headers: { Origin: s.origin } });
    assert.equal(r.status, 415, 'no Content-Type');
  });
});

describe('clearSession', () => {
  test('GET: 303, cookie expired, next request gets a new id', async () => {
    const jar = new Jar();
    const { j } = await api(jar);
    const r = await get('/clearSession', { jar: null, headers: { Cookie: `SESSION=${j.session_id}` } });
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/');
    const c = sessionCookie(r);
    assert.ok(c, 'Set-Cookie');
    assert.equal(c.raw, 'SESSION=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
    // a client that kept the old id anyway gets a new one (the session is gone)
    const k = (await api(jar)).j;
    assert.notEqual(k.session_id, j.session_id);
    assert.equal(k.new, true);
    assert.equal(k.access_count, 1);
  });

  test('POST: 303 and the session is gone', async () => {
    const jar = new Jar();
    const { j } = await api(jar);
    const r = await post('/clearSession', '', { jar });
    assert.equal(r.status, 303);
    assert.equal(jar.get('SESSION'), undefined, 'jar dropped the expired cookie');
    const k = (await api(jar)).j;
    assert.notEqual(k.session_id, j.session_id);
  });

  test('cross-site clear is 403 and keeps the session', async () => {
    const jar = new Jar();
    const { j } = await api(jar);
    let r = await post('/clearSession', '', { jar, headers: { Origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    r = await get('/clearSession', { jar, headers: { 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(r.status, 403);
    const k = (await api(jar)).j;
    assert.equal(k.session_id, j.session_id);
    assert.equal(k.access_count, 2);
  });
});

describe('served_by and metrics', () => {
  test('served_by: newest first, at most 10', async () => {
    const jar = new Jar();
    let j;
    for (let i = 1; i <= 12; i++) {
      ({ j } = await api(jar));
      assert.equal(j.served_by.length, Math.min(i, 10), `after ${i} views`);
      assert.equal(j.served_by[0], j.hostname);
    }
  });

  test('/metrics: request counters and a store latency histogram', async () => {
    await get('/');
    await get('/');
    const r = await get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    const line = r.body.split('\n').find((l) => /^sessionlab_requests_total\{/.test(l)
      && l.includes('route="/"') && l.includes('status="200"'));
    assert.ok(line, 'sessionlab_requests_total{route="/",status="200"}');
    assert.ok(Number(line.trim().split(/\s+/).pop()) >= 2, line);
    assert.match(r.body, /^sessionlab_store_latency_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} \d+/m);
    assert.match(r.body, /^sessionlab_store_latency_seconds_count(\{[^}]*\})? \d+/m);
    assert.match(r.body, /^# TYPE sessionlab_requests_total counter$/m);
    assert.match(r.body, /^# TYPE sessionlab_store_latency_seconds histogram$/m);
    assert.match(r.body, /^# TYPE sessionlab_store_up gauge$/m);
    assert.match(r.body, /^sessionlab_store_up\{store="memory"\} 1$/m);
  });
});
