'use strict';
// Soak: 3 replicas + Redis behind nginx under sustained load for
// SESSIONLAB_SOAK_SECONDS (default 20, what CI runs; the long mode is e.g.
// SESSIONLAB_SOAK_SECONDS=300 node --test tests/e2e/soak.test.js).
// Zero 5xx, zero lost increments (each session's final count equals the views
// it was sent), every value write kept, and every replica's RSS flat: the
// mean of the last quarter of the run against the mean of the second quarter
// (the first quarter is warm-up).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack, sleep } = require('./lib/stack');
const { request, form } = require('./lib/http');
const { runLoad, apiView, rssKb } = require('./lib/faults');

const SECONDS = Number(process.env.SESSIONLAB_SOAK_SECONDS || 20);
const CLIENTS = Number(process.env.SESSIONLAB_SOAK_CLIENTS || 24);
const CHECK_RSS = process.env.SESSIONLAB_E2E_NO_RSS !== '1';
// Flat means: no more than this growth between the quarters (KiB), or 5%.
const RSS_FLAT_KB = 2048;
const FORM = 'application/x-www-form-urlencoded';

let s;
before(async () => { s = await startStack({ label: 'soak', store: 'redis', replicas: 3 }); });
after(async () => { if (s) await s.stop(); });

test(`soak: 3 replicas + redis for ${SECONDS} s`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  assert.ok(SECONDS >= 4, 'SESSIONLAB_SOAK_SECONDS >= 4');
  const cookies = [];
  for (let i = 0; i < CLIENTS; i++) {
    const r = await apiView(s.port, '');
    assert.equal(r.status, 200);
    cookies.push(`SESSION=${r.json.session_id}`);
  }
  const views = new Array(CLIENTS).fill(1);
  const lastValue = new Array(CLIENTS).fill(null);
  const samples = []; // [seconds since start, [rss per app]]
  const t0 = Date.now();
  const end = t0 + SECONDS * 1000;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push([(Date.now() - t0) / 1000, s.apps.map((a) => rssKb(a.pid))]);
      await sleep(250);
    }
  })();
  const res = await runLoad({
    clients: CLIENTS, until: () => Date.now() >= end,
    step: async (c, i, agent) => {
      if (i % 10 === 9) { // one write in ten
        const value = `c${c}-${i}`;
        const p = await request(s.port, 'POST', '/setSession', {
          agent, body: form({ value }), headers: { Cookie: cookies[c], 'Content-Type': FORM, Origin: s.origin },
        });
        if (p.status === 303) lastValue[c] = value;
        return p;
      }
      const v = await apiView(s.port, cookies[c], { agent });
      if (v.status === 200) views[c]++;
      return v;
    },
  });
  sampling = false;
  await sampler;

  const elapsed = (Date.now() - t0) / 1000;
  const five = [...res.statuses].filter(([st]) => st >= 500).reduce((a, [, n]) => a + n, 0);
  let lost = 0;
  for (let c = 0; c < CLIENTS; c++) {
    const v = await apiView(s.port, cookies[c]);
    assert.equal(v.status, 200);
    assert.equal(v.json.new, false, `session ${c} kept`);
    lost += views[c] + 1 - v.json.access_count;
    assert.equal(v.json.access_count, views[c] + 1, `session ${c}: final count = views sent`);
    assert.equal(v.json.value, lastValue[c], `session ${c}: last value kept`);
  }
  const q = (from, to) => s.apps.map((_, k) => {
    const xs = samples.filter(([t]) => t >= from * SECONDS && t < to * SECONDS).map(([, r]) => r[k]);
    return Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
  });
  const q2 = q(0.25, 0.5);
  const q4 = q(0.75, 1.01);
  console.log(`# soak ${elapsed.toFixed(1)} s, ${CLIENTS} clients: ${res.sent} requests `
    + `(${Math.round(res.sent / elapsed)}/s), statuses ${JSON.stringify([...res.statuses])}, errors ${res.errors.length}, `
    + `5xx ${five}, lost increments ${lost}; RSS KiB per replica 2nd quarter ${q2.join('/')} -> last quarter ${q4.join('/')}`);
  assert.deepEqual(res.errors, []);
  assert.equal(five, 0, 'zero 5xx');
  assert.deepEqual([...res.statuses.keys()].sort(), [200, 303]);
  if (CHECK_RSS) {
    for (let k = 0; k < s.apps.length; k++) {
      assert.ok(q4[k] - q2[k] <= Math.max(RSS_FLAT_KB, q2[k] * 0.05), `app-${k + 1} RSS ${q2[k]} -> ${q4[k]} KiB`);
    }
  }
  assert.ok(s.apps.every((a) => a.alive));
});
