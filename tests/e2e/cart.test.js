'use strict';
// POST /cart (item from the catalogue, action add|remove) through real nginx
// + sessionlab-app [+ redis-server]: the JSON and the page, the limits
// (CART_LINES_MAX lines, CART_QTY_MAX of one item: 409, nothing changed),
// hostile items and actions, and concurrent adds from several "tabs" (one
// cookie) over 3 Redis replicas losing nothing. Issue 15.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { startStack } = require('./lib/stack');
const { Jar } = require('./lib/http');
const { redisCli } = require('./lib/faults');
const {
  FORM, SID, CATALOGUE, CART_LINES_MAX, CART_QTY_MAX, post, view, page, cart, cartMap, assertCartShape,
  sessionCookie, cookieOf, redisKey, direct,
} = require('./lib/shop');

/** A session with a view behind it; returns {jar, id}. */
async function fresh(s) {
  const jar = new Jar();
  await view(s, { jar });
  return { jar, id: jar.get('SESSION') };
}

async function add(s, jar, item, n = 1) {
  for (let i = 0; i < n; i++) {
    const r = await cart(s, item, 'add', { jar });
    assert.equal(r.status, 303, `add ${item} #${i + 1}: ${r.status} ${r.body.slice(0, 200)}`);
  }
}

/** `tabs` clients with one cookie, each sending `plan` (a list of [item, action]); returns the statuses. */
async function tabs(s, cookie, n, plan) {
  const statuses = [];
  const tab = async (t) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const [item, action] of plan(t)) {
        const r = await s.request('POST', '/cart', {
          agent, body: new URLSearchParams({ item, action }).toString(),
          headers: { 'Content-Type': FORM, Origin: s.origin, Cookie: cookie },
        });
        statuses.push({ item, action, status: r.status });
        assert.equal(sessionCookie(r), undefined, 'no new session: the cookie\'s session is live');
      }
    } finally { agent.destroy(); }
  };
  await Promise.all(Array.from({ length: n }, (_, t) => tab(t)));
  return statuses;
}
const countBy = (list, key) => list.reduce((m, x) => { const k = key(x); m[k] = (m[k] || 0) + 1; return m; }, {});

/** The forms posting to /cart on the page: [{item, actions: Set}] (one form per item, or per item and action). */
function cartForms(html) {
  const out = [];
  for (const f of html.match(/<form[^>]*action="\/cart"[^>]*>[\s\S]*?<\/form>/g) || []) {
    assert.match(f, /method="post"/i, f);
    const item = (/name="item"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="item"/.exec(f) || []).slice(1).find(Boolean);
    const actions = new Set([...f.matchAll(/name="action"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="action"/g)]
      .map((m) => m[1] || m[2]));
    out.push({ item, actions });
  }
  return out;
}

function cartList(html) {
  const m = /<(ul|ol|p|div|span)[^>]*id="cart"[^>]*>([\s\S]*?)<\/\1>/.exec(html);
  assert.ok(m, 'an element id="cart"');
  // "×" may come as the character or as an entity
  const text = (t) => t.replace(/&times;|&#215;|&#xd7;/gi, '×').trim();
  const lines = [...m[2].matchAll(/<li data-item="([^"]+)">([^<]*)<\/li>/g)].map((x) => [x[1], text(x[2])]);
  return { inner: m[2], lines };
}

describe('cart, memory x1', () => {
  let s;
  before(async () => { s = await startStack({ label: 'cart-memory' }); });
  after(async () => { if (s) await s.stop(); });

  test('add and remove: 303 to /, the JSON in catalogue order, a line leaves at 0, removing an absent item is a no-op', async () => {
    const { jar, id } = await fresh(s);
    let r = await cart(s, 'milk', 'add', { jar });
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/');
    assert.equal(sessionCookie(r), undefined, 'no Set-Cookie: the session is live');
    await add(s, jar, 'apple', 2);
    await add(s, jar, 'coffee');
    let j = await view(s, { jar });
    assert.equal(j.session_id, id);
    assert.deepEqual(j.cart, [{ item: 'apple', qty: 2 }, { item: 'milk', qty: 1 }, { item: 'coffee', qty: 1 }], 'catalogue order, not the order of adding');
    assertCartShape(j);
    assert.equal(j.access_count, 2, 'cart POSTs count no view');
    r = await cart(s, 'milk', 'remove', { jar });
    assert.equal(r.status, 303);
    r = await cart(s, 'bread', 'remove', { jar });
    assert.equal(r.status, 303, 'removing an absent item is a no-op, not an error');
    r = await cart(s, 'apple', 'remove', { jar });
    assert.equal(r.status, 303);
    j = await view(s, { jar });
    assert.deepEqual(j.cart, [{ item: 'apple', qty: 1 }, { item: 'coffee', qty: 1 }], 'milk left at 0, bread never came');
    for (const item of ['apple', 'coffee', 'coffee']) assert.equal((await cart(s, item, 'remove', { jar })).status, 303);
    assert.deepEqual((await view(s, { jar })).cart, []);
  });

  test('no session: the first add creates one (count 0), with Set-Cookie, like /setSession', async () => {
    const jar = new Jar();
    const r = await cart(s, 'eggs', 'add', { jar });
    assert.equal(r.status, 303);
    const c = sessionCookie(r);
    assert.ok(c, 'Set-Cookie on a session created by POST /cart');
    assert.match(c.value, SID);
    assert.equal(c.raw, `SESSION=${c.value}; Path=/; HttpOnly; SameSite=Lax`);
    const j = await view(s, { jar });
    assert.equal(j.session_id, c.value);
    assert.equal(j.access_count, 1);
    assert.equal(j.user, null, 'a cart needs no login');
    assert.deepEqual(j.cart, [{ item: 'eggs', qty: 1 }]);
    // an unknown cookie is not adopted by /cart either
    const unknown = 'c'.repeat(32);
    const u = await cart(s, 'eggs', 'add', { cookie: cookieOf(unknown) });
    assert.equal(u.status, 303);
    assert.notEqual(sessionCookie(u).value, unknown);
  });

  test('the page lists the cart (a li per line, or empty) and has add and remove forms for every catalogue item', async () => {
    const { jar } = await fresh(s);
    let html = await page(s, { jar });
    let list = cartList(html);
    assert.deepEqual(list.lines, []);
    assert.match(list.inner, /empty/);
    const forms = cartForms(html);
    for (const item of CATALOGUE) {
      const acts = new Set(forms.filter((f) => f.item === item).flatMap((f) => [...f.actions]));
      assert.ok(acts.has('add') && acts.has('remove'), `add and remove for ${item}: ${[...acts]}`);
    }
    assert.deepEqual([...new Set(forms.map((f) => f.item))], CATALOGUE, 'the catalogue in order, nothing else');
    const order = CATALOGUE.map((item) => html.indexOf(`value="${item}"`));
    assert.deepEqual(order, [...order].sort((a, b) => a - b), 'catalogue order on the page');
    await add(s, jar, 'cheese', 2);
    await add(s, jar, 'bread');
    html = await page(s, { jar });
    list = cartList(html);
    assert.deepEqual(list.lines, [['bread', 'bread × 1'], ['cheese', 'cheese × 2']]);
    assert.ok(!/>\s*empty\s*</.test(list.inner), 'not "empty" any more');
  });

  test(`limits: ${CART_QTY_MAX} of one item, ${CART_LINES_MAX} lines; beyond either 409 and nothing changed`, async () => {
    const { jar } = await fresh(s);
    await add(s, jar, 'apple', CART_QTY_MAX);
    let r = await cart(s, 'apple', 'add', { jar });
    assert.equal(r.status, 409, `add #${CART_QTY_MAX + 1}`);
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.deepEqual((await view(s, { jar })).cart, [{ item: 'apple', qty: CART_QTY_MAX }]);
    for (const item of CATALOGUE.slice(1, CART_LINES_MAX)) await add(s, jar, item);
    const full = (await view(s, { jar })).cart;
    assert.equal(full.length, CART_LINES_MAX);
    const last = CATALOGUE[CART_LINES_MAX];
    r = await cart(s, last, 'add', { jar });
    assert.equal(r.status, 409, `a ${CART_LINES_MAX + 1}th line`);
    r = await cart(s, 'apple', 'add', { jar });
    assert.equal(r.status, 409, 'still 99 apples');
    assert.deepEqual((await view(s, { jar })).cart, full, 'the 409s changed nothing');
    const metrics = (await s.request('GET', '/metrics')).body;
    assert.match(metrics, /^sessionlab_requests_total\{route="\/cart",status="409"\} [1-9]\d*$/m, 'a 409 is counted as 409');
    assert.match(metrics, /^sessionlab_requests_total\{route="\/cart",status="303"\} [1-9]\d*$/m);
    // a remove is always fine, and frees room
    assert.equal((await cart(s, last, 'remove', { jar })).status, 303, 'removing the absent 6th item: no-op');
    assert.equal((await cart(s, 'apple', 'remove', { jar })).status, 303);
    assert.equal((await cart(s, 'apple', 'add', { jar })).status, 303, 'back to 99');
    assert.equal((await cart(s, 'bread', 'remove', { jar })).status, 303, 'bread leaves: 4 lines');
    assert.equal((await cart(s, last, 'add', { jar })).status, 303, `now ${last} fits`);
    const j = await view(s, { jar });
    assert.equal(j.cart.length, CART_LINES_MAX);
    assert.equal(cartMap(j).apple, CART_QTY_MAX);
    assert.equal(cartMap(j)[last], 1);
    assert.equal(cartMap(j).bread, undefined);
  });

  test('hostile items and actions: 400, nothing changed, never on the page', async () => {
    const { jar, id } = await fresh(s);
    await add(s, jar, 'apple');
    const bad = [
      'item=banana&action=add', 'item=&action=add', 'item=APPLE&action=add', 'item=apple+&action=add',
      'item=+apple&action=add', 'item=apple%00&action=add', 'item=%00&action=add', 'item=app&action=add',
      'item=applex&action=add', `item=${'a'.repeat(1000)}&action=add`, 'item=%3Cscript%3Ealert(1)%3C%2Fscript%3E&action=add',
      'item=apple,milk&action=add', 'item=apple%3D2&action=add', 'item=0&action=add', 'item=-1&action=add',
      'action=add', 'item=apple', 'item=apple&action=ADD', 'item=apple&action=delete', 'item=apple&action=',
      'item=apple&action=add+', 'item=apple&action=add%00', 'item=apple&action=%3Cb%3E', 'item=apple&action=set',
      'item=%zz&action=add', 'item=apple&action=%4', 'item=%&action=add', '', 'junk',
    ];
    for (const body of bad) {
      const r = await post(s, '/cart', body, { jar });
      assert.equal(r.status, 400, `${body.slice(0, 60) || '(empty)'}: ${r.status}`);
      assert.match(r.headers['content-type'], /^text\/html/);
      assert.ok(!/<script>alert|<b>/.test(r.body), 'not echoed');
    }
    let r = await post(s, '/cart', `item=apple&action=add&pad=${'p'.repeat(17000)}`, { jar });
    assert.equal(r.status, 413, 'a body over 16 KiB');
    for (const ct of ['text/plain', 'application/json', null]) {
      r = await post(s, '/cart', 'item=apple&action=add', { jar, contentType: ct });
      assert.equal(r.status, 415, `Content-Type ${ct}`);
    }
    const j = await view(s, { jar });
    assert.equal(j.session_id, id);
    assert.deepEqual(j.cart, [{ item: 'apple', qty: 1 }]);
    const html = await page(s, { jar });
    assert.ok(!html.includes('banana') && !html.includes('<script>alert') && !html.includes('&lt;script'), 'no rejected item on the page');
    assert.deepEqual(cartList(html).lines, [['apple', 'apple × 1']]);
  });

  test('concurrent adds from 4 tabs on one replica: exact', async () => {
    const { jar, id } = await fresh(s);
    const st = await tabs(s, cookieOf(id), 4, () => Array.from({ length: 20 }, (_, i) => [CATALOGUE[i % 2], 'add']));
    assert.deepEqual(countBy(st, (x) => x.status), { 303: 80 });
    assert.deepEqual(cartMap(await view(s, { jar })), { apple: 40, bread: 40 });
  });
});

describe('cart, redis x3 round robin: tabs of one cookie on three replicas', () => {
  const prefix = `e2e:${crypto.randomBytes(4).toString('hex')}:`;
  let s;
  let id;
  let jar;
  before(async () => {
    s = await startStack({ label: 'cart-redis-x3', store: 'redis', replicas: 3, appEnv: { SESSIONLAB_REDIS_PREFIX: prefix } });
    ({ jar, id } = await fresh(s));
  });
  after(async () => { if (s) await s.stop(); });

  /** POST /cart 303s each replica counted, straight from its /metrics over FastCGI. */
  async function cart303PerReplica() {
    const out = {};
    for (const app of s.apps) {
      const r = await direct(app, { uri: '/metrics' });
      const m = /^sessionlab_requests_total\{route="\/cart",status="303"\} (\d+)$/m.exec(r.body);
      out[app.name] = m ? Number(m[1]) : 0;
    }
    return out;
  }

  test('8 tabs x 30 adds (apple, bread, milk): every add 303, final qty = adds on each item, 0 lost', async () => {
    const st = await tabs(s, cookieOf(id), 8, (t) => Array.from({ length: 30 }, (_, i) => [CATALOGUE[(i + t) % 3], 'add']));
    assert.deepEqual(countBy(st, (x) => x.status), { 303: 240 });
    const j = await view(s, { jar });
    assert.equal(j.session_id, id);
    assert.deepEqual(j.cart, [{ item: 'apple', qty: 80 }, { item: 'bread', qty: 80 }, { item: 'milk', qty: 80 }]);
    // the hash's cart field: "item=qty" lines joined by ","
    const field = await redisCli(s.redis.port, 'HGET', redisKey(prefix, id), 'cart');
    assert.deepEqual(field.split(',').sort(), ['apple=80', 'bread=80', 'milk=80'], `cart field ${field}`);
    const per = await cart303PerReplica();
    for (const [name, n] of Object.entries(per)) assert.ok(n >= 20, `${name} served ${n} of the adds (${JSON.stringify(per)})`);
  });

  test(`racing past ${CART_QTY_MAX}: of 30 concurrent adds at 80 apples exactly 19 pass, 11 are 409, the cart holds ${CART_QTY_MAX}`, async () => {
    const st = await tabs(s, cookieOf(id), 6, () => Array.from({ length: 5 }, () => ['apple', 'add']));
    assert.deepEqual(countBy(st, (x) => x.status), { 303: CART_QTY_MAX - 80, 409: 30 - (CART_QTY_MAX - 80) });
    assert.deepEqual(cartMap(await view(s, { jar })), { apple: CART_QTY_MAX, bread: 80, milk: 80 });
  });

  test(`racing past ${CART_LINES_MAX} lines: 3 new items at once into 3 lines, exactly 2 get in`, async () => {
    const st = await tabs(s, cookieOf(id), 6, (t) => Array.from({ length: 4 }, (_, i) => [CATALOGUE[3 + ((t + i) % 3)], 'add']));
    const j = await view(s, { jar });
    assert.equal(j.cart.length, CART_LINES_MAX, JSON.stringify(j.cart));
    const m = cartMap(j);
    const inCart = CATALOGUE.slice(3).filter((x) => m[x]);
    const out = CATALOGUE.slice(3).filter((x) => !m[x]);
    assert.equal(inCart.length, 2);
    const by = countBy(st, (x) => `${x.item} ${x.status}`);
    assert.equal(by[`${out[0]} 303`], undefined, `${out[0]} never got in: every add 409`);
    assert.equal(by[`${out[0]} 409`], 8);
    for (const x of inCart) {
      assert.equal(m[x], by[`${x} 303`], `${x}: qty = its 303s`);
      assert.equal(m[x] + (by[`${x} 409`] || 0), 8, `${x}: each add either counted or refused`);
    }
    assert.equal(m.apple, CART_QTY_MAX, 'the rest unchanged');
  });

  test('adds and removes from tabs on all replicas: the net result is exact', async () => {
    const jar2 = new Jar();
    await view(s, { jar: jar2 });
    const cookie = jar2.header();
    // first 40 adds of cheese, then 8 tabs each remove 3 and add 1: net 40 - 24 + 8 = 24 (never near 0)
    assert.deepEqual(countBy(await tabs(s, cookie, 4, () => Array.from({ length: 10 }, () => ['cheese', 'add'])), (x) => x.status), { 303: 40 });
    const st = await tabs(s, cookie, 8, () => [['cheese', 'remove'], ['cheese', 'add'], ['cheese', 'remove'], ['cheese', 'remove']]);
    assert.deepEqual(countBy(st, (x) => x.status), { 303: 32 });
    assert.deepEqual((await view(s, { jar: jar2 })).cart, [{ item: 'cheese', qty: 24 }]);
  });
});
