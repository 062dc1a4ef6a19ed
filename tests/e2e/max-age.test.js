'use strict';
// SESSIONLAB_MAX_AGE: an absolute session lifetime. A session viewed all the
// time still ends max_age seconds after it was created (OWASP's absolute
// timeout); the next view gets a fresh id, count 1, no value. The Redis store
// keeps its clock in whole seconds (Redis TIME), so a session ends between
// max_age - 1 and max_age seconds after its creation; the memory store in
// milliseconds.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack, sleep } = require('./lib/stack');
const { Jar, form } = require('./lib/http');

const MAX_AGE = 2;

for (const store of ['memory', 'redis']) {
  describe(`max age, ${store} store`, () => {
    let s;
    before(async () => {
      s = await startStack({ label: `max-age-${store}`, store, appEnv: { SESSIONLAB_MAX_AGE: String(MAX_AGE) } });
    });
    after(async () => { if (s) await s.stop(); });

    const view = async (jar) => {
      const r = await s.request('GET', '/api/session', { jar });
      assert.equal(r.status, 200, r.body);
      return JSON.parse(r.body);
    };

    test('a busy session ends at max age; the next view starts a fresh one', async () => {
      const jar = new Jar();
      const started = Date.now(); // before the creating view: lived >= the real age
      const first = await view(jar);
      const p = await s.request('POST', '/setSession', {
        jar, body: form({ value: 'kept until max age' }),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: s.origin },
      });
      assert.equal(p.status, 303);
      let v = await view(jar);
      assert.equal(v.session_id, first.session_id);
      assert.equal(v.value, 'kept until max age');
      // Viewed every 100 ms: the idle timeout never comes near, the lifetime does.
      let last = v;
      while (Date.now() - started < MAX_AGE * 1000 + 300) {
        v = await view(jar);
        if (v.session_id !== first.session_id) break;
        last = v;
        await sleep(100);
      }
      const lived = Date.now() - started;
      assert.notEqual(v.session_id, first.session_id, `session still alive after ${lived} ms`);
      assert.equal(v.new, true);
      assert.equal(v.access_count, 1);
      assert.equal(v.value, null);
      assert.ok(last.access_count >= 5, `the old session was in use until it ended (count ${last.access_count})`);
      assert.ok(lived >= (store === 'redis' ? (MAX_AGE - 1) * 1000 : MAX_AGE * 1000),
        `ended after ${lived} ms, not before its max age`);
      const again = await view(jar);
      assert.equal(again.session_id, v.session_id, 'the fresh session is kept');
      assert.equal(again.access_count, 2);
      console.log(`# ${store}: a session viewed ${last.access_count} times ended ${lived} ms after creation `
        + `(max age ${MAX_AGE} s)`);
    });
  });
}
