'use strict';
// Helpers for the login / cart / log-out suites (login.test.js, cart.test.js,
// logout.test.js): the new POST routes through nginx, session views by
// cookie, and the same requests sent straight to ONE app replica over
// FastCGI (lib/fcgi.js), for the tests that must know which replica holds a
// session (round robin through nginx cannot say which replica served a 303).

const assert = require('node:assert/strict');
const { FcgiConn } = require('./fcgi');
const { parseSetCookie } = require('./http');

const FORM = 'application/x-www-form-urlencoded';
const SID = /^[0-9a-f]{32}$/;
// The catalogue, in the contract's order (the page's and the JSON's).
const CATALOGUE = ['apple', 'bread', 'milk', 'eggs', 'cheese', 'coffee'];
const CART_LINES_MAX = 5;
const CART_QTY_MAX = 99;
const USER_MAX = 32;
const MEMORY_NOTE = 'With the memory store this ends only the sessions this replica holds.';

/** "SESSION=<id>" for a Cookie header. */
const cookieOf = (id) => `SESSION=${id}`;

/** The SESSION Set-Cookie of a response (parsed), or undefined. */
const sessionCookie = (r) => r.cookies.find((c) => c.name === 'SESSION');

/**
 * A same-origin form POST through nginx. opts: jar, cookie (a Cookie header,
 * instead of the jar), headers (extra or overriding), contentType (null: none).
 */
function post(s, path, body, { jar, cookie, headers = {}, contentType = FORM } = {}) {
  const h = { Origin: s.origin, ...headers };
  if (contentType !== null) h['Content-Type'] = contentType;
  if (cookie !== undefined) h.Cookie = cookie;
  return s.request('POST', path, { jar: cookie === undefined ? jar : undefined, body, headers: h });
}

/** GET /api/session by jar or cookie header; asserts 200, returns the JSON (+ setCookie). */
async function view(s, { jar, cookie, localAddress } = {}) {
  const r = await s.request('GET', '/api/session', {
    jar: cookie === undefined ? jar : undefined, headers: cookie === undefined ? {} : { Cookie: cookie }, localAddress,
  });
  assert.equal(r.status, 200, `GET /api/session: ${r.status} ${r.body}`);
  const j = JSON.parse(r.body);
  j.setCookie = sessionCookie(r);
  return j;
}

/** GET / by jar or cookie; asserts 200, returns the HTML. */
async function page(s, { jar, cookie } = {}) {
  const r = await s.request('GET', '/', { jar: cookie === undefined ? jar : undefined, headers: cookie === undefined ? {} : { Cookie: cookie } });
  assert.equal(r.status, 200, `GET /: ${r.status}`);
  return r.body;
}

/** POST /login user=NAME; asserts the 303 + a new SESSION cookie; returns {r, id}. */
async function login(s, user, opts = {}) {
  const r = await post(s, '/login', new URLSearchParams({ user }).toString(), opts);
  assert.equal(r.status, 303, `POST /login user=${user}: ${r.status} ${r.body.slice(0, 200)}`);
  assert.equal(r.headers.location, '/');
  const c = sessionCookie(r);
  assert.ok(c, 'POST /login sets the SESSION cookie (a new id, always)');
  assert.match(c.value, SID);
  return { r, id: c.value };
}

/** POST /cart item=ITEM&action=ACTION; returns the response (no assertion). */
function cart(s, item, action, opts = {}) {
  return post(s, '/cart', new URLSearchParams({ item, action }).toString(), opts);
}

/** POST /logout (all=1 when all); returns the response (no assertion). */
function logout(s, { all = false, ...opts } = {}) {
  return post(s, '/logout', all ? 'all=1' : '', { contentType: all ? FORM : null, ...opts });
}

/** The JSON cart as {item: qty}. */
const cartMap = (j) => Object.fromEntries(j.cart.map((l) => [l.item, l.qty]));

/** Catalogue order, qty > 0 only, as the contract says. */
function assertCartShape(j) {
  assert.ok(Array.isArray(j.cart), `"cart" is an array: ${JSON.stringify(j.cart)}`);
  const idx = j.cart.map((l) => CATALOGUE.indexOf(l.item));
  assert.ok(idx.every((i) => i >= 0), `catalogue items only: ${JSON.stringify(j.cart)}`);
  assert.deepEqual(idx, [...idx].sort((a, b) => a - b), `catalogue order: ${JSON.stringify(j.cart)}`);
  assert.ok(j.cart.every((l) => Number.isInteger(l.qty) && l.qty > 0 && l.qty <= CART_QTY_MAX), JSON.stringify(j.cart));
  assert.deepEqual(j.cart.map((l) => Object.keys(l).sort()), j.cart.map(() => ['item', 'qty']));
}

/** A fresh session as strict mode gives it to an unknown cookie: nothing of the old one. */
function assertFresh(j, oldId, what) {
  assert.notEqual(j.session_id, oldId, `${what}: the old id is not served`);
  assert.match(j.session_id, SID);
  assert.equal(j.new, true, `${what}: a new session`);
  assert.equal(j.access_count, 1, `${what}: count 1`);
  assert.equal(j.user, null, `${what}: logged out`);
  assert.deepEqual(j.cart, [], `${what}: empty cart`);
  assert.equal(j.value, null, `${what}: no value`);
}

/** One counter of a /metrics body (no labels), or NaN. */
function counter(body, name) {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(body);
  return m ? Number(m[1]) : NaN;
}

/** The issue-15 counters of one replica (stacks of 1 replica: nginx has one to ask). */
async function shopMetrics(s) {
  const r = await s.request('GET', '/metrics');
  assert.equal(r.status, 200);
  const out = {};
  for (const n of ['logins', 'logouts', 'sessions_revoked', 'session_id_rotations']) {
    out[n] = counter(r.body, `sessionlab_${n}_total`);
  }
  return out;
}

/** The Redis hash key of a session: prefix + "{" + id[0..4) + "}" + id. */
const redisKey = (prefix, id) => `${prefix}{${id.slice(0, 4)}}${id}`;
/** The per-user index ZSET. */
const userKey = (prefix, user) => `${prefix}user:${user}`;

/**
 * Straight to one replica over FastCGI: {status, headers, body, cookies}.
 * Same-origin (Host 127.0.0.1, no Origin) unless opts say otherwise.
 */
async function direct(app, { method = 'GET', uri = '/api/session', cookie, body, contentType, origin } = {}) {
  const conn = await FcgiConn.connect(app.port);
  try {
    const r = await conn.request({ method, uri, cookie, body, contentType, origin });
    r.cookies = (r.headers['set-cookie'] || []).map(parseSetCookie);
    return r;
  } finally {
    conn.close();
  }
}

/** GET /api/session on one replica; asserts 200, returns the JSON. */
async function directView(app, id) {
  const r = await direct(app, { cookie: cookieOf(id) });
  assert.equal(r.status, 200, `direct GET /api/session: ${r.status} ${r.body}`);
  return JSON.parse(r.body);
}

/** POST /login on one replica (a fresh client: no cookie unless id); returns the new id. */
async function directLogin(app, user, id) {
  const r = await direct(app, {
    method: 'POST', uri: '/login', contentType: FORM, body: new URLSearchParams({ user }).toString(),
    cookie: id ? cookieOf(id) : undefined,
  });
  assert.equal(r.status, 303, `direct POST /login on ${app.name}: ${r.status} ${r.body}`);
  const c = r.cookies.find((x) => x.name === 'SESSION');
  assert.ok(c && SID.test(c.value), `direct login on ${app.name} sets SESSION`);
  return c.value;
}

/**
 * GETs /api/session through nginx with one cookie until every replica (by
 * hostname) answered at least `each` times; returns the JSON answers in order.
 */
async function viewOnEveryReplica(s, cookie, { each = 1, tries = 60 } = {}) {
  const names = s.apps.map((a, i) => `app-${i + 1}`);
  const seen = new Map(names.map((n) => [n, 0]));
  const all = [];
  for (let i = 0; i < tries && [...seen.values()].some((n) => n < each); i++) {
    const j = await view(s, { cookie });
    assert.ok(seen.has(j.hostname), `hostname ${j.hostname}`);
    seen.set(j.hostname, seen.get(j.hostname) + 1);
    all.push(j);
  }
  for (const [n, k] of seen) assert.ok(k >= each, `${n} answered ${k} of ${all.length} views`);
  return all;
}

module.exports = {
  FORM, SID, CATALOGUE, CART_LINES_MAX, CART_QTY_MAX, USER_MAX, MEMORY_NOTE,
  cookieOf, sessionCookie, post, view, page, login, cart, logout, cartMap, assertCartShape, assertFresh,
  counter, shopMetrics, redisKey, userKey, direct, directView, directLogin, viewOnEveryReplica,
};
