'use strict';
// A Redis Cluster on loopback for the e2e cluster suite: 6 redis-server
// processes with --cluster-enabled (3 primaries + 3 replicas, made by
// `redis-cli --cluster create --cluster-replicas 1`), each with its own temp
// dir, its client port and its cluster bus port (--cluster-port) both below
// the ephemeral range (lowFreePort: wrk and the load clients take ephemeral
// ports). Every node is a stack.Proc, stopped by pid; stack.js's exit handler
// SIGKILLs leftovers if a run aborts.
//
// Helpers read the cluster's own view (CLUSTER NODES, CLUSTER KEYSLOT) with
// redis-cli, move slots with `redis-cli --cluster reshard` or by hand
// (CLUSTER SETSLOT IMPORTING / MIGRATING + MIGRATE, so a test can hold a slot
// half-migrated to force ASK redirections), and kill a primary and wait for
// its replica's promotion.

const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Proc, lowFreePort, sleep } = require('./stack');

const SLOTS = 16384;
const CLI_TIMEOUT_MS = 30000;

// Temp dirs of nodes not stopped yet: removed at exit if a run aborts
// (stack.js's exit handler SIGKILLs the processes themselves).
const dirs = new Set();
process.on('exit', () => {
  for (const d of dirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ } }
});

/** redis-cli with args; resolves to trimmed stdout, rejects on a non-zero exit. */
function cli(args, { password, timeout = CLI_TIMEOUT_MS } = {}) {
  const env = { ...process.env };
  if (password) env.REDISCLI_AUTH = password;
  else delete env.REDISCLI_AUTH;
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args.map(String), { timeout, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')}: ${err.message} ${stdout.slice(-1500)} ${stderr.slice(-500)}`));
      else resolve(stdout.trim());
    });
  });
}

/**
 * One line of CLUSTER NODES as
 * {id, port, busPort, flags: Set, master (id or null), linkState, slots: [[lo, hi]...],
 *  migrating: {slot: toId}, importing: {slot: fromId}}.
 */
function parseNodeLine(line) {
  const f = line.split(' ');
  const [addr] = f[1].split(',');
  const m = /^([^:]*):(\d+)@(\d+)$/.exec(addr);
  const node = {
    id: f[0], port: m ? Number(m[2]) : 0, busPort: m ? Number(m[3]) : 0,
    flags: new Set(f[2].split(',')), master: f[3] === '-' ? null : f[3], linkState: f[7],
    slots: [], migrating: {}, importing: {},
  };
  for (const s of f.slice(8)) {
    let x;
    if ((x = /^\[(\d+)->-(\w+)\]$/.exec(s))) node.migrating[Number(x[1])] = x[2];
    else if ((x = /^\[(\d+)-<-(\w+)\]$/.exec(s))) node.importing[Number(x[1])] = x[2];
    else if ((x = /^(\d+)-(\d+)$/.exec(s))) node.slots.push([Number(x[1]), Number(x[2])]);
    else if (/^\d+$/.test(s)) node.slots.push([Number(s), Number(s)]);
  }
  return node;
}

/** CRC16 (XMODEM), as Redis Cluster hashes keys. */
function crc16(buf) {
  let crc = 0;
  for (const b of buf) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The hash slot of key, computed here ({tag} rule included); CLUSTER KEYSLOT says the same. */
function hashSlot(key) {
  const s = key.indexOf('{');
  if (s >= 0) {
    const e = key.indexOf('}', s + 1);
    if (e > s + 1) key = key.slice(s + 1, e);
  }
  return crc16(Buffer.from(key)) % SLOTS;
}

const slotCount = (n) => n.slots.reduce((a, [lo, hi]) => a + hi - lo + 1, 0);
const ownsSlot = (n, slot) => n.slots.some(([lo, hi]) => slot >= lo && slot <= hi);

/**
 * Starts the cluster and waits until every node says cluster_state:ok, the
 * 16384 slots are covered by 3 primaries, each with a replica whose link is
 * up. opts: logDir, nodes (6), replicas per primary (1), nodeTimeoutMs
 * (cluster-node-timeout, 1000), password (requirepass + masterauth on every
 * node), name prefix ('redis'), fullCoverage (cluster-require-full-coverage,
 * false: with Redis's default, yes, every node answers CLUSTERDOWN from the
 * moment a primary is marked failed until its replica takes over, so a
 * primary's death stops the sessions of all three, not just its own),
 * announceHostname (a name every node announces, with
 * cluster-preferred-endpoint-type hostname: CLUSTER SLOTS, MOVED and ASK then
 * name it instead of 127.0.0.1, as k8s/components/redis-cluster's pods do).
 * Returns the cluster object (see the methods below).
 */
async function startCluster({ logDir, nodes = 6, replicas = 1, nodeTimeoutMs = 1000, password, name = 'redis',
  fullCoverage = false, announceHostname } = {}) {
  const c = new Cluster({ logDir, password, nodeTimeoutMs, fullCoverage, announceHostname });
  try {
    for (let i = 1; i <= nodes; i++) await c.startNode(`${name}-${i}`);
    await cli(['--cluster', 'create', ...c.nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', replicas, '--cluster-yes'], { password });
    await c.waitHealthy({ primaries: nodes / (replicas + 1), ms: 30000 });
    return c;
  } catch (err) {
    await c.stop();
    throw err;
  }
}

class Cluster {
  constructor({ logDir, password, nodeTimeoutMs, fullCoverage = false, announceHostname }) {
    this.logDir = logDir;
    this.announceHostname = announceHostname;
    this.fullCoverage = fullCoverage;
    this.password = password;
    this.nodeTimeoutMs = nodeTimeoutMs;
    this.nodes = []; // Procs with .port, .busPort, .dir, .id (after create)
  }

  async startNode(name) {
    const port = await lowFreePort();
    const busPort = await lowFreePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-cluster-'));
    const extra = this.password ? ['--requirepass', this.password, '--masterauth', this.password] : [];
    if (this.announceHostname) {
      extra.push('--cluster-announce-hostname', this.announceHostname, '--cluster-preferred-endpoint-type', 'hostname');
    }
    const p = new Proc(name, 'redis-server', [
      '--bind', '127.0.0.1', '--port', String(port), '--cluster-enabled', 'yes',
      '--cluster-port', String(busPort), '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(this.nodeTimeoutMs),
      '--cluster-require-full-coverage', this.fullCoverage ? 'yes' : 'no', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes', ...extra,
    ], { logDir: this.logDir });
    p.port = port;
    p.busPort = busPort;
    p.dir = dir;
    const origStop = p.stop.bind(p);
    p.stop = async () => { await origStop(); fs.rmSync(dir, { recursive: true, force: true }); dirs.delete(dir); };
    dirs.add(dir);
    this.nodes.push(p);
    await p.started(port);
    return p;
  }

  /** redis-cli against one node (a Proc or a port). */
  cli(node, ...args) {
    const port = typeof node === 'number' ? node : node.port;
    return cli(['-h', '127.0.0.1', '-p', port, ...args], { password: this.password });
  }

  /** The nodes still running. */
  live() { return this.nodes.filter((n) => n.alive); }

  /** The seed URL for SESSIONLAB_REDIS_URL: every node, credentials when the cluster has a password. */
  url({ nodes = this.nodes, password = this.password, user = '', host = '127.0.0.1' } = {}) {
    const cred = password ? `${user}:${password}@` : '';
    return `redis-cluster://${cred}${nodes.map((n) => `${host}:${n.port}`).join(',')}`;
  }

  /** CLUSTER NODES as seen by `via` (default: the first live node), parsed. */
  async view(via = this.live()[0]) {
    const text = await this.cli(via, 'CLUSTER', 'NODES');
    const out = text.split('\n').filter(Boolean).map(parseNodeLine);
    for (const n of out) {
      const proc = this.nodes.find((p) => p.port === n.port);
      if (proc) proc.id = n.id;
      n.proc = proc;
    }
    return out;
  }

  /** The primaries serving slots now (no fail flag), each {id, port, proc, slots...}. */
  async primaries(via) {
    return (await this.view(via)).filter((n) => n.flags.has('master') && !n.flags.has('fail') && slotCount(n) > 0);
  }

  /** The replicas of primary id (from `via`'s view). */
  async replicasOf(id, via) {
    return (await this.view(via)).filter((n) => n.master === id && !n.flags.has('fail'));
  }

  /** CLUSTER KEYSLOT key. */
  async keySlot(key) {
    return Number(await this.cli(this.live()[0], 'CLUSTER', 'KEYSLOT', key));
  }

  /** The primary that owns slot (the node view's entry, .proc is the Proc). */
  async nodeForSlot(slot, via) {
    const n = (await this.primaries(via)).find((p) => ownsSlot(p, slot));
    if (!n) throw new Error(`no live primary owns slot ${slot}`);
    return n;
  }

  /** Keys matching pattern on one node (SCAN, the node's own keys only). */
  async keysOn(node, pattern = '*') {
    const out = [];
    let cursor = '0';
    do {
      const lines = (await this.cli(node, 'SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)).split('\n');
      cursor = lines[0];
      out.push(...lines.slice(1).filter(Boolean));
    } while (cursor !== '0');
    return out;
  }

  /**
   * Waits until every live node reports cluster_state:ok, `primaries` primaries
   * cover all 16384 slots with none migrating, each has a replica with its
   * replication link up (when withReplicas), and every live node agrees on
   * who owns what. Resolves to Date.now() at that moment.
   */
  async waitHealthy({ primaries = 3, withReplicas = true, ms = 30000, every = 50 } = {}) {
    const end = Date.now() + ms;
    let why = 'not checked';
    for (;;) {
      try {
        why = await this.unhealthy({ primaries, withReplicas });
        if (!why) return Date.now();
      } catch (e) { why = e.message; }
      if (Date.now() > end) throw new Error(`cluster not healthy within ${ms} ms: ${why}`);
      await sleep(every);
    }
  }

  /** Why the cluster is not healthy yet, or '' when it is. */
  async unhealthy({ primaries = 3, withReplicas = true } = {}) {
    const live = this.live();
    const views = [];
    for (const n of live) {
      const info = await this.cli(n, 'CLUSTER', 'INFO');
      if (!/^cluster_state:ok\r?$/m.test(info)) return `node ${n.name} (${n.port}): not cluster_state:ok`;
      views.push(await this.view(n));
    }
    const sig = (v) => v.filter((x) => x.flags.has('master') && slotCount(x) > 0)
      .map((x) => `${x.id}:${JSON.stringify(x.slots)}`).sort().join(' ');
    const first = sig(views[0]);
    if (views.some((v) => sig(v) !== first)) return 'nodes disagree on the slot map';
    const prim = views[0].filter((x) => x.flags.has('master') && !x.flags.has('fail') && slotCount(x) > 0);
    if (prim.length !== primaries) return `${prim.length} primaries serve slots, want ${primaries}`;
    const covered = prim.reduce((a, p) => a + slotCount(p), 0);
    if (covered !== SLOTS) return `${covered} of ${SLOTS} slots covered`;
    for (const v of views) {
      const me = v.find((x) => x.flags.has('myself'));
      if (Object.keys(me.migrating).length || Object.keys(me.importing).length) return `node ${me.port} has a slot in migration`;
    }
    if (withReplicas) {
      for (const p of prim) {
        const reps = views[0].filter((x) => x.master === p.id && !x.flags.has('fail'));
        if (!reps.length) return `primary ${p.port} has no replica`;
        for (const r of reps) {
          const proc = this.nodes.find((n) => n.port === r.port);
          if (!proc || !proc.alive) return `replica ${r.port} not running`;
          if (!/master_link_status:up/.test(await this.cli(proc, 'INFO', 'replication'))) return `replica ${r.port}: link not up`;
        }
      }
    }
    return '';
  }

  /** SIGKILLs a primary (a Proc or a view entry) by pid; resolves to the time of the kill (ms). */
  async killPrimary(node) {
    const proc = node.proc || node;
    const t = Date.now();
    try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
    await proc.exited;
    return t;
  }

  /**
   * After killPrimary(killed): waits until a replica of the killed node (as
   * noteReplicas() recorded them) says role:master — `roleAt`, polled every
   * `every` ms on the replicas alone — and then until every live node says
   * cluster_state:ok with all slots covered by 3 primaries agreed by all
   * (replicas not required) — `at`. Resolves to {roleAt, at, promoted (Proc)}.
   */
  async waitForPromotion(killed, { ms = 30000, every = 20 } = {}) {
    const proc = killed.proc || killed;
    const reps = this.nodes.filter((n) => n.formerPrimary === proc.port && n.alive);
    if (!reps.length) throw new Error(`no replica of ${proc.port} known: call noteReplicas() before the kill`);
    const end = Date.now() + ms;
    let roleAt = 0;
    let promoted;
    while (!roleAt) {
      for (const r of reps) {
        try {
          if (/^role:master\r?$/m.test(await this.cli(r, 'INFO', 'replication'))) { roleAt = Date.now(); promoted = r; break; }
        } catch { /* busy: try again */ }
      }
      if (roleAt) break;
      if (Date.now() > end) throw new Error(`no replica of ${proc.port} became a primary within ${ms} ms`);
      await sleep(every);
    }
    const at = await this.waitHealthy({ withReplicas: false, ms: Math.max(1000, end - Date.now()), every });
    promoted.formerPrimary = undefined;
    return { roleAt, at, promoted };
  }

  /** Records, for every replica, its primary's port (waitForPromotion uses it). */
  async noteReplicas() {
    const v = await this.view();
    for (const r of v.filter((x) => x.master)) {
      const m = v.find((x) => x.id === r.master);
      if (r.proc && m) r.proc.formerPrimary = m.port;
    }
  }

  /**
   * `redis-cli --cluster reshard`: moves `slots` slots (a count) from primary
   * `from` to primary `to` (ids), keys with them. Resolves to redis-cli's output.
   */
  async reshard(fromId, toId, slots, { pipeline = 10 } = {}) {
    const via = this.live()[0];
    return cli(['--cluster', 'reshard', `127.0.0.1:${via.port}`, '--cluster-from', fromId, '--cluster-to', toId,
      '--cluster-slots', slots, '--cluster-yes', '--cluster-pipeline', pipeline], { password: this.password, timeout: 120000 });
  }

  /**
   * Moves one slot from primary `from` to primary `to` (view entries) by hand,
   * as redis-cli does, in steps a test can pace:
   *   const m = await c.beginMigration(slot, from, to); // IMPORTING on to, MIGRATING on from
   *   await m.moveKeys(n);   // MIGRATE up to n of the slot's keys (all when omitted)
   *   await m.finish();      // the rest of the keys, then SETSLOT NODE on every primary
   * Between moveKeys and finish the slot stays in migration: a command on a
   * key already moved gets ASK from `from`.
   */
  async beginMigration(slot, from, to) {
    await this.cli(to.proc, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
    await this.cli(from.proc, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
    const auth = this.password ? ['AUTH', this.password] : [];
    let moved = 0;
    const moveKeys = async (n = Infinity) => {
      let left = n;
      while (left > 0) {
        const keys = (await this.cli(from.proc, 'CLUSTER', 'GETKEYSINSLOT', slot, Math.min(left, 100)))
          .split('\n').filter(Boolean);
        if (!keys.length) break;
        const r = await this.cli(from.proc, 'MIGRATE', '127.0.0.1', to.port, '', 0, 5000, ...auth, 'KEYS', ...keys);
        if (!/^(OK|NOKEY)$/.test(r)) throw new Error(`MIGRATE slot ${slot}: ${r}`);
        moved += keys.length;
        left -= keys.length;
      }
      return moved;
    };
    const finish = async () => {
      await moveKeys();
      // The target first, then the source, then the other primaries (redis-cli's order).
      await this.cli(to.proc, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      await this.cli(from.proc, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      for (const p of await this.primaries(to.proc)) {
        if (p.id !== to.id && p.id !== from.id) await this.cli(p.proc, 'CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      }
      return moved;
    };
    return { slot, from, to, moveKeys, finish, moved: () => moved };
  }

  async stop() {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

module.exports = { startCluster, Cluster, parseNodeLine, slotCount, ownsSlot, hashSlot, SLOTS, cli };
