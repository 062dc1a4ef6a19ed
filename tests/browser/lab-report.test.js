'use strict';
// The lab's HTML report (scripts/lib/lab-report.py) in a real browser: a lab
// output directory written here in the probes' own JSON shape (two rows: a
// round robin that loses sessions, and a kill mid-run), rendered to HTML by
// the report script, opened in Chromium from file:// with every other URL
// refused. Checks: the table (with its "logged in" and "cart" columns), one
// chart per row, a line per user in the colour of each replica, a mark per
// lost session, the event line; the
// screenshot goes to tests/out/browser/lab-report.png.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { launchChromium } = require('./lib/chromium');

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.resolve(ROOT, 'tests', 'out', 'browser');
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

/** A probe report for users whose answers come from `serve(user, n)` -> [host, count]. */
function probeReport(users, n, serve) {
  const perClient = [];
  for (let u = 0; u < users; u++) {
    const hosts = []; const byHost = {}; const trace = [];
    for (let i = 1; i <= n; i++) {
      const [host, count] = serve(u, i);
      if (!hosts.includes(host)) hosts.push(host);
      byHost[host] = (byHost[host] || 0) + 1;
      trace.push([i, count, hosts.indexOf(host), T0 + i * 10 + u]);
    }
    perClient.push({ client: u + 1, hosts, requests_by_host: byHost, trace, requests: n });
  }
  return { per_client: perClient };
}

function writeLabOut(dir) {
  const rows = [
    { step: '2', setup: 'memory x3, nginx round robin', expected: 'hosts change, id changes, count resets',
      logged_in: 'logged out 2/2', cart: 'cart lost 2/2',
      pass: true, mismatches: [], facts: { clients: 2, requests: 24, hosts: ['app-1', 'app-2', 'app-3'], id_changes: 22, errors: 0 } },
    { step: '6 memory', setup: 'memory x3, client-ip affinity', expected: 'sessions on the killed replica lost',
      event: 'kill app-2 after 20 of 80 reads', logged_in: '1/2, logged out 1/2', cart: '1/2, cart lost 1/2',
      pass: true, mismatches: [],
      facts: { clients: 2, requests: 80, hosts: ['app-1', 'app-2', 'app-3'], id_changes: 1, errors: 0 } },
  ];
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify({ target: 'fixture', pass: true, rows }));
  const r2 = path.join(dir, 'row-2'); fs.mkdirSync(r2);
  // Round robin over three replicas, a fresh session (count 1) on every move.
  fs.writeFileSync(path.join(r2, 'probe-0.json'), JSON.stringify(probeReport(2, 12, (u, i) => [`app-${((i + u) % 3) + 1}`, 1])));
  const r6 = path.join(dir, 'row-6-memory'); fs.mkdirSync(r6);
  // User 0 on app-2 until the kill at its request 20, then app-3 from count 1; user 1 on app-1 throughout.
  fs.writeFileSync(path.join(r6, 'probe-0.json'), JSON.stringify(probeReport(2, 40, (u, i) => (u === 1
    ? ['app-1', i] : i <= 20 ? ['app-2', i] : ['app-3', i - 20]))));
  fs.writeFileSync(path.join(r6, 'events.txt'), `${T0 + 205} kill app-2\n`);
}

let browser;
test.before(async () => { fs.mkdirSync(OUT, { recursive: true }); browser = await launchChromium(); });
test.after(async () => { if (browser) await browser.close(); });

test('the lab report renders: table, a chart per row, replicas, lost sessions, the event', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-lab-report-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeLabOut(dir);
  const html = path.join(dir, 'results.html');
  execFileSync('python3', [path.join(ROOT, 'scripts', 'lib', 'lab-report.py'), dir, html]);

  const context = await browser.newContext({ viewport: { width: 1000, height: 1200 } });
  t.after(() => context.close());
  const page = await context.newPage();
  const foreign = [];
  await page.route('**/*', (route) => {
    if (route.request().url().startsWith('file://')) return route.continue();
    foreign.push(route.request().url());
    return route.abort();
  });
  await page.goto(`file://${html}`);
  assert.equal(await page.title(), 'sessionlab lab, target fixture');
  assert.equal(await page.locator('table tr').count(), 3, 'a header and two rows');
  const column = async (name) => page.evaluate((n) => {
    const rows = [...document.querySelectorAll('table tr')];
    const k = [...rows[0].querySelectorAll('th')].findIndex((th) => th.textContent === n);
    return k < 0 ? null : rows.slice(1).map((tr) => tr.querySelectorAll('td')[k].textContent);
  }, name);
  assert.deepEqual(await column('logged in'), ['logged out 2/2', '1/2, logged out 1/2'], 'the "logged in" column');
  assert.deepEqual(await column('cart'), ['cart lost 2/2', '1/2, cart lost 1/2'], 'the "cart" column');
  const charts = page.locator('section svg');
  assert.equal(await charts.count(), 2, 'one chart per row');
  for (let i = 0; i < 2; i++) {
    const box = await charts.nth(i).boundingBox();
    assert.ok(box && box.width > 600 && box.height > 200, `chart ${i} has its size: ${JSON.stringify(box)}`);
  }
  const strokes = async (i) => page.evaluate((k) => [...document.querySelectorAll('section svg')[k]
    .querySelectorAll('polyline, circle')].map((e) => e.getAttribute('stroke') || e.getAttribute('fill')), i);
  assert.equal(new Set(await strokes(0)).size, 3, 'row 2: three replicas, three colours');
  const lost = async (i) => charts.nth(i).locator('path[stroke="#d62728"]').count();
  assert.equal(await lost(0), 2 * 11, 'row 2: every read after the first fell back to count 1');
  assert.equal(await lost(1), 1, 'row 6: one session lost at the kill');
  assert.match(await charts.nth(1).locator('text.ev').textContent(), /kill app-2/);
  assert.match(await page.locator('section').nth(0).innerText(), /app-1 33 %, app-2 33 %, app-3 33 %; max\/mean 1\.00/);
  assert.deepEqual(foreign, [], 'the report fetches nothing');
  await page.screenshot({ path: path.join(OUT, 'lab-report.png'), fullPage: true });
});
