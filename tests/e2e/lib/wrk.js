'use strict';
// wrk for the e2e load tests, and nginx access-log accounting of first tries.
//
// runWrk() runs wrk with wrk-statuses.lua (which counts every status, since
// wrk's own output only says "Non-2xx") and parses the one-line JSON summary
// the script prints from done(). Every run is time-boxed: wrk is SIGKILLed by
// pid if it has not exited `duration + 20 s` after it started. 127.0.0.1 only.
//
// firstTries() reads nginx's access log (nginx-conf's `sessionlab` format,
// which records upstream=$upstream_addr and us=$upstream_status: "us=502, 200"
// means the first try failed and nginx retried on the next server) from a
// byte offset, so one run's requests can be told apart from the rest.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const LUA = path.join(__dirname, 'wrk-statuses.lua');
const KILL_SLACK_MS = 20000;

/**
 * runWrk({url, connections, threads = 2, seconds = 2, timeout = '5s', headers = {}})
 * -> {requests, seconds, rps, okRps (2xx answers per second), statuses: {code: n}, non2xx, s5xx, s502,
 *     errors: {connect, read, write, status, timeout}, socketErrors,
 *     latency: {p50, p90, p99, max} (ms), stdout, stderr, cmd}
 * socketErrors = connect + read + write + timeout (wrk's transport errors).
 */
function runWrk({ url, connections, threads = 2, seconds = 2, timeout = '5s', headers = {} }) {
  threads = Math.min(threads, connections);
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`,
    '--timeout', timeout, '-s', LUA];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const cmd = `wrk ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => {
      killed = true;
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, seconds * 1000 + KILL_SLACK_MS);
    child.once('error', (e) => { clearTimeout(t); reject(new Error(`${cmd}: ${e.message}`)); });
    // 'close', not 'exit': stdout is complete only once its pipe has closed.
    child.once('close', (code, signal) => {
      clearTimeout(t);
      if (killed) return reject(new Error(`${cmd} hung: killed after ${seconds * 1000 + KILL_SLACK_MS} ms\n${stdout}${stderr}`));
      const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (code !== 0 || !line) {
        return reject(new Error(`${cmd} exited ${code}/${signal} without a summary:\n${stdout}${stderr}`));
      }
      let j;
      try { j = JSON.parse(line.slice('WRK_JSON '.length)); } catch (e) {
        return reject(new Error(`${cmd}: unparsable summary ${line}: ${e.message}`));
      }
      const statuses = j.statuses;
      const count = (pred) => Object.entries(statuses).filter(([c]) => pred(Number(c))).reduce((a, [, n]) => a + n, 0);
      const e = j.errors;
      const secs = j.duration_us / 1e6;
      resolve({
        requests: j.requests,
        seconds: secs,
        rps: secs > 0 ? j.requests / secs : 0,
        okRps: secs > 0 ? count((c) => c >= 200 && c <= 299) / secs : 0,
        statuses,
        non2xx: count((c) => c < 200 || c > 299),
        s5xx: count((c) => c >= 500),
        s502: statuses['502'] || 0,
        errors: e,
        socketErrors: e.connect + e.read + e.write + e.timeout,
        latency: {
          p50: j.latency_us.p50 / 1000, p90: j.latency_us.p90 / 1000,
          p99: j.latency_us.p99 / 1000, max: j.latency_us.max / 1000,
        },
        stdout, stderr, cmd,
      });
    });
  });
}

/** "12,345 requests (401/s), statuses {...}, errors c/r/w/t 0/0/0/0, p99 3.1 ms" */
function describeWrk(w) {
  const e = w.errors;
  return `${w.requests} requests in ${w.seconds.toFixed(1)} s (${Math.round(w.rps)}/s, 2xx ${Math.round(w.okRps)}/s), `
    + `statuses ${JSON.stringify(w.statuses)}, socket errors connect/read/write/timeout `
    + `${e.connect}/${e.read}/${e.write}/${e.timeout}, p50 ${w.latency.p50.toFixed(1)} ms p99 ${w.latency.p99.toFixed(1)} ms`;
}

/** Size of a file now (0 when absent): the offset to pass to firstTries(). */
function logOffset(file) {
  try { return fs.statSync(file).size; } catch { return 0; }
}

const ACCESS_RE = /"[A-Z]+ [^"]*" (\d{3}) \d+ "(?:[^"\\]|\\.)*" upstream=(.*?) rt=\S+ urt=.*? us=(.*?) ubs=/;

/**
 * Accounting of nginx access-log lines written after `offset` in `file`:
 * {lines, final: {status: n}, final5xx, retried (more than one upstream tried),
 *  firstTry5xx (the upstream status list holds a 5xx), firstTryBy: {first upstream: n},
 *  sampleBy: {first upstream: one such line},
 *  noLive (final 502 without any upstream reached), errors: {nginx error-log kind: n}}.
 * nginx's error log goes to the same file (stderr), so its kinds are counted too.
 */
function firstTries(file, offset = 0) {
  const fd = fs.openSync(file, 'r');
  let text;
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    fs.readSync(fd, buf, 0, buf.length, offset);
    text = buf.toString('utf8');
  } finally { fs.closeSync(fd); }
  const out = { lines: 0, final: {}, final5xx: 0, retried: 0, firstTry5xx: 0, firstTryBy: {}, sampleBy: {}, noLive: 0, errors: {} };
  const kinds = [
    ['no live upstreams', /no live upstreams/],
    ['upstream prematurely closed', /upstream prematurely closed/],
    ['connection refused', /Connection refused/],
    ['connection reset', /Connection reset by peer/],
    ['worker_connections are not enough', /worker_connections are not enough/],
    ['too many open files', /Too many open files/],
    ['timed out', /timed out/],
  ];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = ACCESS_RE.exec(line);
    if (!m) {
      const k = kinds.find(([, re]) => re.test(line));
      if (k) out.errors[k[0]] = (out.errors[k[0]] || 0) + 1;
      else if (/\[(error|crit|alert|emerg)\]/.test(line)) out.errors.other = (out.errors.other || 0) + 1;
      continue;
    }
    out.lines++;
    const status = Number(m[1]);
    out.final[status] = (out.final[status] || 0) + 1;
    if (status >= 500) out.final5xx++;
    // $upstream_status / $upstream_addr: ", " between tries, " : " between
    // upstream groups (internal redirects); either way a list of tries.
    const us = m[3].split(/, | : /);
    const addrs = m[2].split(/, | : /);
    if (addrs.length > 1) out.retried++;
    if (us.some((s) => /^5\d\d$/.test(s))) {
      out.firstTry5xx++;
      out.firstTryBy[addrs[0]] = (out.firstTryBy[addrs[0]] || 0) + 1;
      if (!out.sampleBy[addrs[0]]) out.sampleBy[addrs[0]] = line;
    }
    if (status === 502 && !addrs.some((a) => /^\d+\.\d+\.\d+\.\d+:\d+$/.test(a))) out.noLive++;
  }
  return out;
}

/** "N lines, final {...}, first-try 5xx N (by upstream {...}), retried N, nginx errors {...}" */
function describeLog(a) {
  return `access log ${a.lines} lines, final ${JSON.stringify(a.final)}, first-try 5xx ${a.firstTry5xx} `
    + `(by first upstream ${JSON.stringify(a.firstTryBy)}), retried ${a.retried}, `
    + `"no live upstreams" 502s ${a.noLive}, nginx error log ${JSON.stringify(a.errors)}`;
}

module.exports = { runWrk, describeWrk, firstTries, describeLog, logOffset, LUA };
