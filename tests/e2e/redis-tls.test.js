'use strict';
// TLS to Redis through nginx's stream module (nginx-conf/redis-tls-*.conf,
// render-nginx-conf --redis-tls): the app speaks plain RESP to a loopback
// port, nginx carries it over verified TLS to a redis-server that listens on
// a TLS port only (--port 0). Certificates are made here with openssl: a CA,
// a server certificate for DNS:redis.test and IP:127.0.0.1, a client
// certificate from the same CA, and a second CA that signed nothing of these.
// Every process is started here on a loopback port below 32768 and stopped by
// pid (stack.Proc).
//
// These fail when the piece is weakened (run them with a changed copy of
// nginx-conf/ in SESSIONLAB_NGINX_CONF_DIR): with proxy_ssl_verify off, the
// wrong-CA and wrong-name cases answer 200; with proxy_ssl off, every case
// fails (the TLS Redis gets plain text, the plain one serves, the capture
// sees RESP); with proxy_ssl_server_name off, the capture sees no SNI;
// without the client certificate lines, the tls-auth-clients case answers 503;
// with a host name passed to proxy_pass as it is (resolved once, at start,
// by the system's resolver), nginx does not start and (f) fails.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFile, execFileSync } = require('node:child_process');
const { ROOT, startApp, startNginx, makeLogDir, lowFreePort, sleep } = require('./lib/stack');
const { request, Jar, form } = require('./lib/http');
const { startRedisWith, waitFor } = require('./lib/faults');

const SERVER_NAME = 'redis.test';
const RENDER = path.join(ROOT, 'scripts', 'lib', 'render-nginx-conf');

/** Writes ca/, server, client and wrong-ca PEM files into a temp dir. */
function makePki() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-redis-tls-'));
  const f = (n) => path.join(dir, n);
  const ossl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ca = (name) => ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const leaf = (name, cn, ext) => {
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    fs.writeFileSync(f(`${name}.ext`), ext);
    ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
      '-days', '2', '-out', f(`${name}.crt`), '-extfile', f(`${name}.ext`));
  };
  ca('ca');
  ca('wrong-ca');
  leaf('server', SERVER_NAME, `subjectAltName=DNS:${SERVER_NAME},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`);
  leaf('client', 'sessionlab-nginx', 'extendedKeyUsage=clientAuth\n');
  return { dir, f };
}

/** redis-cli over TLS to 127.0.0.1:port (server verified against ca.crt). */
function redisCliTls(pki, port, { client = false } = {}, ...args) {
  const tls = ['--tls', '--cacert', pki.f('ca.crt'), '--sni', SERVER_NAME];
  if (client) tls.push('--cert', pki.f('client.crt'), '--key', pki.f('client.key'));
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...tls, ...args.map(String)], { timeout: 15000 },
      (err, stdout, stderr) => (err ? reject(new Error(`redis-cli ${args.join(' ')}: ${err.message} ${stderr}`))
        : resolve(stdout.trim())));
  });
}

/** A redis-server on a TLS port only (plain port 0), trusting ca.crt for client certificates. */
function startTlsRedis(pki, { logDir, port, authClients = 'no', name = 'redis-tls' }) {
  return startRedisWith({
    port, logDir, name,
    args: ['--port', '0', '--tls-port', String(port), '--tls-cert-file', pki.f('server.crt'),
      '--tls-key-file', pki.f('server.key'), '--tls-ca-cert-file', pki.f('ca.crt'),
      '--tls-auth-clients', authClients],
  });
}

/**
 * A raw TCP listener standing in for Redis: it records what every connection
 * sends and closes it after `holdMs`. Stopped with close().
 */
function startCapture(port, holdMs = 300) {
  const conns = [];
  const srv = net.createServer((sock) => {
    const c = { bytes: [] };
    conns.push(c);
    sock.on('data', (d) => c.bytes.push(d));
    sock.on('error', () => {});
    setTimeout(() => sock.destroy(), holdMs);
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve({
      conns: () => conns.map((c) => Buffer.concat(c.bytes)),
      close: () => new Promise((r) => srv.close(() => r())),
    }));
  });
}

/**
 * A DNS server on 127.0.0.1:port (UDP) that answers A queries for `name`
 * with 127.0.0.1 and everything else with no record; it keeps the names it
 * was asked. Stopped with close().
 */
function startDns(port, name) {
  const asked = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (q, rinfo) => {
    if (q.length < 12) return;
    const labels = [];
    let off = 12;
    while (off < q.length && q[off] !== 0) { labels.push(q.subarray(off + 1, off + 1 + q[off]).toString('latin1')); off += q[off] + 1; }
    const qend = off + 5; // the 0 label, type, class
    if (qend > q.length) return;
    const qname = labels.join('.').toLowerCase();
    const qtype = q.readUInt16BE(off + 1);
    asked.push(`${qname}/${qtype}`);
    const hit = qname === name && qtype === 1;
    const head = Buffer.alloc(12);
    q.copy(head, 0, 0, 2); // id
    head.writeUInt16BE(0x8180 | (qname === name ? 0 : 3), 2); // response, RD, RA; NXDOMAIN for other names
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(hit ? 1 : 0, 6);
    const answer = hit ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0);
    sock.send(Buffer.concat([head, q.subarray(12, qend), answer]), rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, '127.0.0.1', () => resolve({ asked, close: () => new Promise((r) => sock.close(() => r())) }));
  });
}

/**
 * The app (redis store, URL redis://127.0.0.1:PROXY/0) behind nginx with the
 * redis-tls piece pointed at 127.0.0.1:redisPort. tls: the piece's options
 * ({ ca, name, cert, key }: files of the pki). Returns the stack with
 * request(), logs and stop().
 */
async function startTlsStack({ label, pki, redisPort, redisHost = '127.0.0.1', tls }) {
  const logDir = makeLogDir(label);
  const s = { logDir, procs: [] };
  s.stop = async () => { await Promise.all(s.procs.map((p) => p.stop())); };
  try {
    const proxyPort = await lowFreePort();
    const appPort = await lowFreePort();
    const extraArgs = ['--redis-tls', `${redisHost}:${redisPort}`, '--redis-tls-listen', `127.0.0.1:${proxyPort}`,
      '--redis-tls-ca', tls.ca];
    if (tls.name) extraArgs.push('--redis-tls-name', tls.name);
    if (tls.resolver) extraArgs.push('--redis-tls-resolver', tls.resolver);
    if (tls.cert) extraArgs.push('--redis-tls-cert', tls.cert, '--redis-tls-key', tls.key);
    // nginx first, so the app's first Redis connection finds the proxy.
    s.nginx = await startNginx({ port: await lowFreePort(), servers: [`127.0.0.1:${appPort}`], logDir, extraArgs });
    s.procs.push(s.nginx);
    s.prefix = `e2e:${crypto.randomBytes(4).toString('hex')}:`;
    s.app = await startApp({
      port: appPort, store: 'redis', logDir, name: 'app', instance: 'tls-1',
      env: {
        SESSIONLAB_REDIS_URL: `redis://127.0.0.1:${proxyPort}/0`, SESSIONLAB_REDIS_PREFIX: s.prefix,
        // A TLS handshake on a busy 2-CPU machine: room above the 200 ms default.
        SESSIONLAB_REDIS_TIMEOUT_MS: '1000',
      },
    });
    s.procs.push(s.app);
    s.port = s.nginx.port;
    s.origin = `http://127.0.0.1:${s.port}`;
    s.request = (method, p, opts = {}) => request(s.port, method, p, opts);
    s.nginxLog = () => s.nginx.log();
    s.appLog = () => s.app.log();
    await waitFor(async () => (await s.request('GET', '/healthz')).status === 200, { what: 'app /healthz through nginx' });
    return s;
  } catch (err) {
    await s.stop();
    throw err;
  }
}

/** The Redis key of a session id (docs/architecture.md, "Redis keys"). */
const sessionKey = (prefix, sid) => `${prefix}{${sid.slice(0, 4)}}${sid}`;

/** Asserts the store-failure answer: 503 with Retry-After: 1, for a while (no late success). */
async function assertUnavailable(s) {
  const jar = new Jar();
  for (let i = 0; i < 5; i++) {
    const r = await s.request('GET', '/api/session', { jar });
    assert.equal(r.status, 503, `view ${i + 1}: ${r.status} ${r.body}`);
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(JSON.parse(r.body).error, 'session store unavailable');
    await sleep(150);
  }
  const r = await s.request('POST', '/setSession', {
    jar, body: form({ value: 'never' }),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: s.origin },
  });
  assert.equal(r.status, 503, 'setSession');
}

/** Lines of text matching re. */
const lines = (text, re) => text.split('\n').filter((l) => re.test(l));

describe('redis over TLS through the nginx stream piece', () => {
  let pki;
  const stacks = [];
  const others = [];
  before(() => { pki = makePki(); });
  after(async () => {
    await Promise.all([...stacks, ...others].map((p) => p.stop()));
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  });
  const track = (s) => { stacks.push(s); return s; };

  test('(a) sessions work end to end, and the data is in the TLS-only Redis', async () => {
    const logDir = makeLogDir('redis-tls-redis');
    const redis = await startTlsRedis(pki, { logDir, port: await lowFreePort() });
    others.push(redis);
    const s = track(await startTlsStack({
      label: 'redis-tls-ok', pki, redisPort: redis.port, tls: { ca: pki.f('ca.crt'), name: SERVER_NAME },
    }));
    const jar = new Jar();
    let r = await s.request('GET', '/api/session', { jar });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).access_count, 1);
    r = await s.request('GET', '/api/session', { jar });
    assert.equal(r.status, 200, r.body);
    const j = JSON.parse(r.body);
    assert.equal(j.access_count, 2);
    assert.equal(j.store, 'redis');

    const value = `over-tls-${crypto.randomBytes(4).toString('hex')}`;
    r = await s.request('POST', '/setSession', {
      jar, body: form({ value }), headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: s.origin },
    });
    assert.equal(r.status, 303, r.body);
    r = await s.request('GET', '/api/session', { jar });
    assert.equal(JSON.parse(r.body).value, value);

    // Read back from the Redis itself, over TLS: it has no plain port.
    const sid = jar.get('SESSION');
    assert.match(sid, /^[0-9a-f]{32}$/);
    assert.equal(await redisCliTls(pki, redis.port, {}, 'HGET', sessionKey(s.prefix, sid), 'value'), value);
    assert.equal(await redisCliTls(pki, redis.port, {}, 'HGET', sessionKey(s.prefix, sid), 'count'), '3');
    assert.equal(lines(s.nginxLog(), /\[(error|crit|alert|emerg)\]/).length, 0, `nginx errors:\n${s.nginxLog()}`);
  });

  test('(b) a CA that did not sign the certificate: 503, nginx names the verify failure, the app logs its Redis error', async () => {
    const logDir = makeLogDir('redis-tls-redis');
    const redis = await startTlsRedis(pki, { logDir, port: await lowFreePort() });
    others.push(redis);
    const s = track(await startTlsStack({
      label: 'redis-tls-wrong-ca', pki, redisPort: redis.port, tls: { ca: pki.f('wrong-ca.crt'), name: SERVER_NAME },
    }));
    await assertUnavailable(s);
    const verify = lines(s.nginxLog(), /upstream SSL certificate verify error: \(\d+:[^)]+\) while SSL handshaking to upstream/);
    assert.ok(verify.length >= 1, `no certificate verify error in the nginx log:\n${s.nginxLog()}`);
    assert.match(verify[0], /\[error\]/);
    assert.match(verify[0], new RegExp(`upstream: "127\\.0\\.0\\.1:${redis.port}"`));
    // Redis sends its chain with the CA (19), or the leaf alone (20): not trusted either way.
    assert.match(verify[0], /\((19:self-signed certificate in certificate chain|20:unable to get local issuer certificate)\)/);
    assert.ok(lines(s.appLog(), /store redis unavailable: /).length >= 1, `no store error in the app log:\n${s.appLog()}`);
  });

  test('(c) a name the certificate does not carry: 503 and nginx says the certificate does not match it', async () => {
    const logDir = makeLogDir('redis-tls-redis');
    const redis = await startTlsRedis(pki, { logDir, port: await lowFreePort() });
    others.push(redis);
    const s = track(await startTlsStack({
      label: 'redis-tls-wrong-name', pki, redisPort: redis.port, tls: { ca: pki.f('ca.crt'), name: 'other.test' },
    }));
    await assertUnavailable(s);
    const mismatch = lines(s.nginxLog(), /upstream SSL certificate does not match "other\.test" while SSL handshaking to upstream/);
    assert.ok(mismatch.length >= 1, `no name mismatch in the nginx log:\n${s.nginxLog()}`);
    assert.match(mismatch[0], new RegExp(`upstream: "127\\.0\\.0\\.1:${redis.port}"`));
    assert.ok(lines(s.appLog(), /store redis unavailable: /).length >= 1, `no store error in the app log:\n${s.appLog()}`);
  });

  test('(c) an IP address is no name to check: the renderer asks for --redis-tls-name', () => {
    // nginx matches only DNS names (and the CN) of a certificate, never an
    // IP SAN: with proxy_ssl_name 127.0.0.1 the certificate above (which has
    // IP:127.0.0.1) fails the host check, so an address without a name is refused.
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-nginx-'));
    try {
      assert.throws(() => execFileSync(RENDER, [prefix, '--role', 'pod', '--redis-tls', '127.0.0.1:6380',
        '--redis-tls-ca', pki.f('ca.crt')], { stdio: ['ignore', 'pipe', 'pipe'] }),
      (e) => e.status === 2 && /is an address: give --redis-tls-name NAME/.test(e.stderr.toString()));
    } finally {
      fs.rmSync(prefix, { recursive: true, force: true });
    }
  });

  test('(d) no plain-text fallback: a plain Redis behind the piece gives 503, and only TLS leaves nginx', async () => {
    // A plain-text redis-server where the TLS one should be.
    const logDir = makeLogDir('redis-tls-redis');
    const plain = await startRedisWith({ logDir, name: 'redis-plain', port: await lowFreePort() });
    others.push(plain);
    const s = track(await startTlsStack({
      label: 'redis-tls-plain-redis', pki, redisPort: plain.port, tls: { ca: pki.f('ca.crt'), name: SERVER_NAME },
    }));
    await assertUnavailable(s);
    // A plain Redis answers a ClientHello with nothing nginx can use: the
    // handshake fails (at the latest at proxy_connect_timeout, 2 s) and the
    // stream access line of that connection says 502.
    await waitFor(() => lines(s.nginxLog(), new RegExp(`redis-tls 502 upstream=127\\.0\\.0\\.1:${plain.port} `)).length >= 1,
      { ms: 5000, what: 'a redis-tls 502 line in the nginx log' });
    // Nothing the app sent was run by the plain Redis: no keys, and no
    // command but the INFO and DBSIZE asked here.
    const cli = (...a) => new Promise((resolve, reject) => execFile('redis-cli',
      ['-h', '127.0.0.1', '-p', String(plain.port), ...a], (e, out) => (e ? reject(e) : resolve(out.trim()))));
    assert.equal(await cli('DBSIZE'), '0');
    const stats = lines(await cli('INFO', 'commandstats'), /^cmdstat_/).map((l) => l.split(':')[0]);
    assert.deepEqual(stats.filter((c) => !['cmdstat_dbsize', 'cmdstat_info'].includes(c)), [],
      'commands the plain Redis ran');
    await s.stop();

    // A capture in Redis's place: every connection nginx makes starts with a
    // TLS handshake record and carries none of the app's RESP commands.
    const capPort = await lowFreePort();
    const cap = await startCapture(capPort);
    try {
      const s2 = track(await startTlsStack({
        label: 'redis-tls-capture', pki, redisPort: capPort, tls: { ca: pki.f('ca.crt'), name: SERVER_NAME },
      }));
      await assertUnavailable(s2);
      const got = cap.conns();
      assert.ok(got.length >= 1, 'nginx connected to the capture');
      for (const [i, b] of got.entries()) {
        assert.ok(b.length > 5, `connection ${i}: ${b.length} bytes`);
        assert.equal(b[0], 0x16, `connection ${i}: first byte 0x${b[0].toString(16)}, not a TLS handshake record`);
        assert.equal(b[1], 0x03, `connection ${i}: not TLS record version 3.x`);
        const text = b.toString('latin1');
        assert.doesNotMatch(text, /\*\d+\r\n\$\d+\r\n/, `connection ${i}: RESP in the clear`);
        assert.doesNotMatch(text, /EVALSHA|SELECT|PING|HELLO|SCRIPT/i, `connection ${i}: a Redis command in the clear`);
        // The SNI of the ClientHello names the server (proxy_ssl_server_name on).
        assert.ok(text.includes(SERVER_NAME), `connection ${i}: no SNI ${SERVER_NAME}`);
      }
      await s2.stop();
    } finally {
      await cap.close();
    }
  });

  test('(e) a Redis that wants client certificates: served with the piece\'s certificate, 503 without', async () => {
    const logDir = makeLogDir('redis-tls-redis');
    const redis = await startTlsRedis(pki, { logDir, port: await lowFreePort(), authClients: 'yes', name: 'redis-mtls' });
    others.push(redis);

    const without = track(await startTlsStack({
      label: 'redis-tls-no-client-cert', pki, redisPort: redis.port, tls: { ca: pki.f('ca.crt'), name: SERVER_NAME },
    }));
    await assertUnavailable(without);
    // TLS 1.3: the client side of the handshake ends before Redis checks the
    // certificate, so nginx hears Redis's alert on its first read.
    assert.ok(lines(without.nginxLog(), /SSL_(do_handshake|read)\(\) failed .*alert certificate required/).length >= 1,
      `nginx did not log Redis's certificate-required alert:\n${without.nginxLog()}`);
    assert.ok(lines(redis.log(), /Error accepting a client connection: .*peer did not return a certificate/).length >= 1,
      `Redis did not log the client without a certificate:\n${redis.log()}`);
    assert.ok(lines(without.appLog(), /store redis unavailable: /).length >= 1, `no store error in the app log:\n${without.appLog()}`);
    await without.stop();

    const withCert = track(await startTlsStack({
      label: 'redis-tls-client-cert', pki, redisPort: redis.port,
      tls: { ca: pki.f('ca.crt'), name: SERVER_NAME, cert: pki.f('client.crt'), key: pki.f('client.key') },
    }));
    const jar = new Jar();
    const r1 = await withCert.request('GET', '/api/session', { jar });
    assert.equal(r1.status, 200, r1.body);
    assert.equal(JSON.parse(r1.body).access_count, 1);
    const r2 = await withCert.request('GET', '/api/session', { jar });
    assert.equal(r2.status, 200, r2.body);
    assert.equal(JSON.parse(r2.body).access_count, 2);
    const key = sessionKey(withCert.prefix, jar.get('SESSION'));
    assert.equal(await redisCliTls(pki, redis.port, { client: true }, 'HGET', key, 'count'), '2');
  });

  test('(f) a host name as the endpoint: resolved by nginx at run time, and the certificate checked for that name', async () => {
    // The form the image uses for a managed endpoint: `redis.test:P` with a
    // resolver (here a DNS server of the test's own), no --redis-tls-name.
    const logDir = makeLogDir('redis-tls-redis');
    const redis = await startTlsRedis(pki, { logDir, port: await lowFreePort() });
    others.push(redis);
    const dnsPort = await lowFreePort();
    const dns = await startDns(dnsPort, SERVER_NAME);
    try {
      const s = track(await startTlsStack({
        label: 'redis-tls-dns', pki, redisPort: redis.port, redisHost: SERVER_NAME,
        tls: { ca: pki.f('ca.crt'), resolver: `127.0.0.1:${dnsPort}` },
      }));
      const generated = fs.readFileSync(path.join(s.nginx.prefix, 'conf', 'redis-tls-endpoint.conf'), 'utf8');
      assert.match(generated, new RegExp(`^\\s*proxy_ssl_name ${SERVER_NAME.replace('.', '\\.')};$`, 'm'));
      assert.match(generated, /^\s*proxy_pass \$sessionlab_redis_tls_upstream;$/m);
      const jar = new Jar();
      let r = await s.request('GET', '/api/session', { jar });
      assert.equal(r.status, 200, r.body);
      r = await s.request('GET', '/api/session', { jar });
      assert.equal(JSON.parse(r.body).access_count, 2);
      assert.ok(dns.asked.includes(`${SERVER_NAME}/1`), `nginx did not ask the resolver for ${SERVER_NAME}: ${dns.asked}`);
      assert.equal(await redisCliTls(pki, redis.port, {}, 'HGET', sessionKey(s.prefix, jar.get('SESSION')), 'count'), '2');
      await s.stop();
    } finally {
      await dns.close();
    }
  });
});
