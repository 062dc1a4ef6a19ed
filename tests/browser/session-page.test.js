'use strict';
// The session page in a real browser: Debian's Chromium (/usr/bin/chromium),
// headless, driven by playwright-core (no browser download), against real
// nginx + sessionlab-app [+ redis-server] stacks on free loopback ports,
// started and stopped by pid with the e2e harness (tests/e2e/lib/stack.js).
//   memory x1: reload raises Access Count; Set Session shows the value and
//     Date after the 303; Clear Session brings a new Session ID.
//   redis x3, round robin: reloads move across replicas (Hostname changes)
//     while Session ID, count and value stay, and Served by grows.
//   log in, add to the cart, reload, log out (memory x1 and redis x3): the
//     login rotates the Session ID (the cookie follows), the name and the
//     cart stay over reloads (on every replica with Redis), logging out
//     brings the login form back with an empty cart and a new id.
// Screenshots and stack logs: tests/out/browser/. Run: node --test tests/browser/
// (npm ci in tests/browser first). SESSIONLAB_CHROMIUM names another binary
// (lib/chromium.js).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const OUT = path.resolve(__dirname, '..', 'out', 'browser');
// Before the harness loads: it reads this once, for its log directory.
process.env.SESSIONLAB_E2E_OUT = process.env.SESSIONLAB_E2E_OUT || OUT;
const { startStack } = require('../e2e/lib/stack');

const { launchChromium } = require('./lib/chromium');

const VIEWPORT = { width: 900, height: 700 };
const DATE_RE = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d$/;

let browser;

test.before(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  // Each test then opens its own context (cookie jar).
  browser = await launchChromium();
});

test.after(async () => {
  if (browser) await browser.close();
});

/** The fields of the session page as the browser shows them. */
async function fields(page) {
  const text = (id) => page.locator(`#${id}`).innerText();
  return {
    id: await text('session-id'),
    hostname: await text('hostname'),
    count: Number(await text('access-count')),
    value: await text('value'),
    date: await text('date'),
    store: await text('store'),
    servedBy: await page.locator('#served-by li').allInnerTexts(),
  };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, `${name}.png`) });
}

/** A fresh browser context (own cookie jar) on a stack; closes both after. */
async function withStack(t, opts, fn) {
  const stack = await startStack(opts);
  const context = await browser.newContext({ viewport: VIEWPORT });
  t.after(async () => {
    await context.close();
    await stack.stop();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  await fn(page, stack, context);
}

test('memory x1: count rises, Set Session keeps the value, Clear Session starts anew', async (t) => {
  await withStack(t, { label: 'browser-memory', store: 'memory', replicas: 1 }, async (page, stack, context) => {
    const res = await page.goto(`${stack.url}/`);
    assert.equal(res.status(), 200);
    assert.equal(await page.title(), 'Session Sample - in Memory');
    const first = await fields(page);
    assert.match(first.id, /^[0-9a-f]{32}$/);
    assert.equal(first.count, 1);
    assert.equal(first.store, 'memory');
    assert.equal(first.value, '');
    assert.equal(first.date, '');
    const cookie = (await context.cookies()).find((c) => c.name === 'SESSION');
    assert.ok(cookie, 'the SESSION cookie is set');
    assert.equal(cookie.value, first.id);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');

    for (const want of [2, 3]) {
      await page.reload();
      const f = await fields(page);
      assert.equal(f.id, first.id, 'reload keeps the session');
      assert.equal(f.hostname, first.hostname);
      assert.equal(f.count, want, 'reload raises Access Count');
    }

    const value = 'hello from Chromium <b>&</b>';
    await page.getByRole('textbox', { name: 'Value' }).fill(value);
    const [post] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/setSession')),
      page.waitForURL(`${stack.url}/`, { waitUntil: 'load' }),
      page.getByRole('button', { name: 'Set Session' }).click(),
    ]);
    assert.equal(post.status(), 303);
    const set = await fields(page);
    assert.equal(set.id, first.id);
    assert.equal(set.value, value, 'the value is shown as text, not markup');
    assert.match(set.date, DATE_RE, 'Date is filled');
    assert.equal(set.count, 4, 'the redirected view counts');
    await shot(page, 'memory-set-value');

    const [clear] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/clearSession')),
      page.waitForURL(`${stack.url}/`, { waitUntil: 'load' }),
      page.getByRole('link', { name: 'Clear Session' }).click(),
    ]);
    assert.equal(clear.status(), 303);
    const cleared = await fields(page);
    assert.match(cleared.id, /^[0-9a-f]{32}$/);
    assert.notEqual(cleared.id, first.id, 'Clear Session brings a new Session ID');
    assert.equal(cleared.count, 1);
    assert.equal(cleared.value, '');
    assert.equal(cleared.date, '');
    assert.deepEqual(cleared.servedBy, [cleared.hostname]);
    await shot(page, 'memory-cleared');
  });
});

test('redis x3 round robin: Hostname changes, Session ID stays, Served by grows', async (t) => {
  await withStack(t, { label: 'browser-redis-x3', store: 'redis', replicas: 3 }, async (page, stack) => {
    await page.goto(`${stack.url}/`);
    const first = await fields(page);
    assert.equal(await page.title(), 'Session Sample - Redis');
    assert.equal(first.store, 'redis');
    assert.equal(first.count, 1);

    const value = 'kept in Redis';
    await page.getByRole('textbox', { name: 'Value' }).fill(value);
    await Promise.all([
      page.waitForURL(`${stack.url}/`, { waitUntil: 'load' }),
      page.getByRole('button', { name: 'Set Session' }).click(),
    ]);

    const views = [first, await fields(page)];
    for (let i = 0; i < 6; i++) {
      await page.reload();
      views.push(await fields(page));
    }
    const hosts = views.map((v) => v.hostname);
    t.diagnostic(`hostnames: ${hosts.join(' ')}`);
    views.forEach((v, i) => {
      assert.equal(v.id, first.id, `view ${i + 1} keeps the Session ID`);
      assert.equal(v.count, i + 1, `view ${i + 1}: Access Count ${i + 1}`);
      assert.equal(v.servedBy[0], v.hostname, 'Served by starts with this replica');
      assert.equal(v.servedBy.length, Math.min(i + 1, 10), 'Served by grows by one per view');
      if (i > 0) {
        assert.deepEqual(v.servedBy.slice(1), views[i - 1].servedBy.slice(0, 9), 'older entries shift down');
        assert.equal(v.value, value, `view ${i + 1} still shows the value`);
        assert.match(v.date, DATE_RE);
      }
    });
    const changes = hosts.filter((h, i) => i > 0 && h !== hosts[i - 1]).length;
    assert.ok(changes >= 3, `Hostname changes between views (${hosts.join(' ')})`);
    assert.deepEqual([...new Set(hosts)].sort(), ['app-1', 'app-2', 'app-3'], 'round robin reaches every replica');
    await shot(page, 'redis-x3-served-by');
  });
});

/** The logged-in name (dd#user: the name or "-") and the cart as the page lists it. */
async function account(page) {
  return {
    user: await page.locator('#user').innerText(),
    cart: (await page.locator('#cart li[data-item]').allInnerTexts()).map((t) => t.trim()),
    cartText: (await page.locator('#cart').innerText()).trim(),
    loginForm: await page.locator('#login-form').count(),
    logoutForm: await page.locator('#logout-form').count(),
  };
}

/** Submits a form by its button and waits for the 303 and the page it leads to. */
async function submit(page, stack, route, button) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(route) && r.request().method() === 'POST'),
    page.waitForURL(`${stack.url}/`, { waitUntil: 'load' }),
    button.click(),
  ]);
  assert.equal(res.status(), 303, `POST ${route}`);
  return res;
}

/** The add or remove button of one catalogue item (forms posting to /cart). */
function cartButton(page, item, action) {
  return page.locator(`form[action="/cart"]:has([name="item"][value="${item}"]) button[name="action"][value="${action}"]`);
}

async function shopFlow(t, page, stack, context, { replicas }) {
  await page.goto(`${stack.url}/`);
  const before = await fields(page);
  let a = await account(page);
  assert.equal(a.user, '-');
  assert.equal(a.loginForm, 1, 'the login form while logged out');
  assert.equal(a.logoutForm, 0);
  assert.deepEqual(a.cart, []);
  assert.match(a.cartText, /empty/);

  await page.locator('#login-form input[name="user"]').fill('chromium-user');
  await submit(page, stack, '/login', page.getByRole('button', { name: 'Log in' }));
  const logged = await fields(page);
  assert.notEqual(logged.id, before.id, 'logging in rotates the Session ID');
  const cookie = (await context.cookies()).find((c) => c.name === 'SESSION');
  assert.equal(cookie.value, logged.id, 'the browser holds the new id');
  assert.equal(logged.count, before.count + 1, 'the count carried over to the new id');
  a = await account(page);
  assert.equal(a.user, 'chromium-user');
  assert.equal(a.loginForm, 0);
  assert.equal(a.logoutForm, 1);
  await page.getByText('Logged in as').waitFor();

  await submit(page, stack, '/cart', cartButton(page, 'apple', 'add'));
  await submit(page, stack, '/cart', cartButton(page, 'apple', 'add'));
  await submit(page, stack, '/cart', cartButton(page, 'milk', 'add'));
  await submit(page, stack, '/cart', cartButton(page, 'coffee', 'add'));
  await submit(page, stack, '/cart', cartButton(page, 'coffee', 'remove'));
  a = await account(page);
  assert.deepEqual(a.cart, ['apple × 2', 'milk × 1'], 'the cart as the page lists it');
  await shot(page, `${replicas > 1 ? 'redis-x3' : 'memory'}-cart`);

  const hosts = new Set();
  for (let i = 0; i < (replicas > 1 ? 6 : 2); i++) {
    await page.reload();
    const f = await fields(page);
    hosts.add(f.hostname);
    assert.equal(f.id, logged.id, 'reload keeps the session');
    a = await account(page);
    assert.equal(a.user, 'chromium-user', `reload ${i + 1} (${f.hostname}): still logged in`);
    assert.deepEqual(a.cart, ['apple × 2', 'milk × 1'], `reload ${i + 1} (${f.hostname}): the cart stays`);
  }
  if (replicas > 1) assert.ok(hosts.size >= 2, `reloads went to several replicas: ${[...hosts]}`);

  await submit(page, stack, '/logout', page.getByRole('button', { name: 'Log out', exact: true }));
  const out = await fields(page);
  assert.notEqual(out.id, logged.id, 'a new session after logging out');
  assert.equal(out.count, 1);
  a = await account(page);
  assert.equal(a.user, '-');
  assert.equal(a.loginForm, 1, 'the login form is back');
  assert.equal(a.logoutForm, 0);
  assert.deepEqual(a.cart, [], 'the cart is empty');
  assert.match(a.cartText, /empty/);
  await shot(page, `${replicas > 1 ? 'redis-x3' : 'memory'}-logged-out`);
}

test('memory x1: log in, add to the cart, reload, log out', async (t) => {
  await withStack(t, { label: 'browser-shop-memory', store: 'memory', replicas: 1 }, async (page, stack, context) => {
    await shopFlow(t, page, stack, context, { replicas: 1 });
  });
});

test('redis x3 round robin: logged in with the cart on every replica, then logged out', async (t) => {
  await withStack(t, { label: 'browser-shop-redis-x3', store: 'redis', replicas: 3 }, async (page, stack, context) => {
    await shopFlow(t, page, stack, context, { replicas: 3 });
  });
});
