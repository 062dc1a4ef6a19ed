'use strict';
// The session page in a real browser: Debian's Chromium (/usr/bin/chromium),
// headless, driven by playwright-core (no browser download), against real
// nginx + sessionlab-app [+ redis-server] stacks on free loopback ports,
// started and stopped by pid with the e2e harness (tests/e2e/lib/stack.js).
//   memory x1: reload raises Access Count; Set Session shows the value and
//     Date after the 303; Clear Session brings a new Session ID.
//   redis x3, round robin: reloads move across replicas (Hostname changes)
//     while Session ID, count and value stay, and Served by grows.
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
