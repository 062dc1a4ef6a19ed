'use strict';
// The README's first command, scripts/run, really run: it serves the session
// page through nginx on the port it was given, Ctrl-C (SIGINT) stops every
// process it started, and bad arguments exit 2 with a message. Memory x1 (the
// default) and Redis x3 round robin.

const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const { ROOT, canConnect, sleep } = require('./lib/stack');
const { request, Jar } = require('./lib/http');

const RUN = path.join(ROOT, 'scripts', 'run');

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/**
 * replicas + 1 consecutive free ports below the ephemeral range (32768+),
 * where the other e2e files' ports and client sockets never land: [nginx,
 * app base]. (An ephemeral port free a moment ago can be taken by any
 * connection before scripts/run binds it.)
 */
async function freeBlock(replicas) {
  for (;;) {
    const first = 20000 + Math.floor(Math.random() * 12000);
    const busy = await Promise.all(Array.from({ length: replicas + 1 }, (_, i) => canConnect(first + i)));
    if (!busy.some(Boolean)) return [first, first + 1];
  }
}

/** scripts/run ARGS on free ports; resolves once it printed its pids. */
async function startRun(args, replicas) {
  const [port, base] = await freeBlock(replicas);
  const child = spawn(RUN, [...args, '--port', String(port)], {
    env: { ...process.env, STACK_APP_BASE_PORT: String(base) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = { child, port, out: '', exited: new Promise((res) => child.on('exit', (code, sig) => res({ code, sig }))) };
  child.stdout.on('data', (d) => { run.out += d; });
  child.stderr.on('data', (d) => { run.out += d; });
  const end = Date.now() + 120000; // a first run may build
  while (!/^ {2}pids: .+$/m.test(run.out)) {
    if (child.exitCode !== null || Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`scripts/run did not come up:\n${run.out}`);
    }
    await sleep(100);
  }
  run.pids = /^ {2}pids: (.+)$/m.exec(run.out)[1].trim().split(/\s+/).map((e) => Number(e.split('=')[1]));
  return run;
}

async function interrupt(run) {
  run.child.kill('SIGINT');
  const ex = await Promise.race([run.exited, sleep(30000).then(() => null)]);
  assert.ok(ex, `scripts/run still running 30 s after SIGINT:\n${run.out}`);
  for (let i = 0; i < 50 && run.pids.some(alive); i++) await sleep(100);
  assert.deepEqual(run.pids.filter(alive), [], 'every process scripts/run started is gone');
  assert.equal(await canConnect(run.port), false, 'nothing listens on its port any more');
  return ex;
}

describe('scripts/run', () => {
  test('default: nginx + one app with the memory store; Ctrl-C stops everything', async () => {
    const run = await startRun([], 1);
    try {
      assert.equal(run.pids.length, 2, `nginx + one app: ${run.out}`);
      const jar = new Jar();
      const page = await request(run.port, 'GET', '/', { jar });
      assert.equal(page.status, 200);
      assert.match(page.body, /Session Sample - in Memory/);
      const a = JSON.parse((await request(run.port, 'GET', '/api/session', { jar })).body);
      assert.equal(a.store, 'memory');
      assert.equal(a.access_count, 2);
    } finally {
      const ex = await interrupt(run);
      assert.equal(ex.code, 130, `exit status after Ctrl-C:\n${run.out}`);
    }
  });

  test('--store redis --replicas 3: requests spread, the session carries on', async () => {
    const run = await startRun(['--store', 'redis', '--replicas', '3'], 3);
    try {
      assert.equal(run.pids.length, 5, `redis + three apps + nginx: ${run.out}`);
      const jar = new Jar();
      let last;
      const hosts = new Set();
      for (let i = 1; i <= 6; i++) {
        last = JSON.parse((await request(run.port, 'GET', '/api/session', { jar })).body);
        assert.equal(last.access_count, i);
        hosts.add(last.hostname);
      }
      assert.equal(last.store, 'redis');
      assert.deepEqual([...hosts].sort(), ['app-1', 'app-2', 'app-3']);
    } finally {
      await interrupt(run);
    }
  });

  test('bad arguments exit 2 with a message', () => {
    for (const args of [['--store', 'bogus'], ['--replicas', '0'], ['--affinity', 'sticky'], ['--port', 'x'], ['--nope']]) {
      const r = spawnSync(RUN, args, { encoding: 'utf8' });
      assert.equal(r.status, 2, `scripts/run ${args.join(' ')}`);
      assert.match(r.stderr, /^scripts\/run: /m, r.stderr);
    }
  });
});
