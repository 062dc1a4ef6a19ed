'use strict';
// Bad configuration stops sessionlab-app with exit status 2 and one line that
// names the setting.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const { APP, freePort } = require('./lib/stack');

function run(args, env) {
  assert.ok(fs.existsSync(APP), `app binary ${APP}`);
  const r = spawnSync(APP, args, { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 5000 });
  assert.equal(r.error, undefined, `did not exit within 5 s: ${args.join(' ')} ${JSON.stringify(env)}`);
  return r;
}

test('--store bogus exits 2 naming the setting', async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const r = run(['--store', 'bogus'], { SESSIONLAB_LISTEN: listen });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /store/i);
  assert.match(r.stderr, /bogus/);
});

test('bad environment values exit 2 naming the variable or flag', async () => {
  const listen = `127.0.0.1:${await freePort()}`;
  const cases = [
    [{ SESSIONLAB_STORE: 'bogus' }, /STORE/i],
    [{ SESSIONLAB_WORKERS: 'many' }, /WORKERS/i],
    [{ SESSIONLAB_WORKERS: '0' }, /WORKERS/i],
    [{ SESSIONLAB_TTL: '-5' }, /TTL/i],
    [{ SESSIONLAB_COOKIE_SECURE: 'maybe' }, /COOKIE.SECURE/i],
    [{ SESSIONLAB_COOKIE_NAME: 'bad name;' }, /COOKIE.NAME/i],
    [{ SESSIONLAB_REDIS_URL: 'http://nope' }, /REDIS.URL/i],
    [{ SESSIONLAB_REDIS_TIMEOUT_MS: 'soon' }, /REDIS.TIMEOUT/i],
    [{ SESSIONLAB_MAX_SESSIONS: 'x' }, /MAX.SESSIONS/i],
    [{ SESSIONLAB_LISTEN: 'nowhere' }, /LISTEN/i],
  ];
  for (const [env, re] of cases) {
    const r = run([], { SESSIONLAB_LISTEN: listen, ...env });
    assert.equal(r.status, 2, `${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, re, JSON.stringify(env));
  }
});

test('unknown flags exit 2; --help exits 0 and lists the settings', async () => {
  let r = run(['--no-such-flag'], {});
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /no-such-flag/);
  r = run(['--help'], {});
  assert.equal(r.status, 0);
  for (const name of ['--listen', '--store', '--redis-url', '--workers', '--instance']) {
    assert.ok(r.stdout.includes(name), `--help mentions ${name}`);
  }
});
