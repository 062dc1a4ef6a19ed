'use strict';
// Minimal HTTP client and cookie jar for the e2e tests (node:http only).
// Traffic goes to 127.0.0.1 only.

const http = require('node:http');

/**
 * request(port, method, path, {headers, body, jar, agent, localAddress, timeout})
 * -> {status, headers, body (string), raw (Buffer), cookies: [parsed Set-Cookie]}.
 * A jar sends its cookies and takes the response's Set-Cookie headers.
 * By default every request uses a fresh connection (agent: false).
 */
function request(port, method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.jar && opts.jar.size() && !Object.keys(headers).some((h) => h.toLowerCase() === 'cookie')) {
    headers.Cookie = opts.jar.header();
  }
  let body = opts.body;
  if (body !== undefined && !Buffer.isBuffer(body)) body = Buffer.from(String(body));
  if (body !== undefined) headers['Content-Length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method, path, headers,
      agent: opts.agent === undefined ? false : opts.agent,
      localAddress: opts.localAddress,
      timeout: opts.timeout || 10000,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const cookies = (res.headers['set-cookie'] || []).map(parseSetCookie);
        if (opts.jar) opts.jar.take(cookies);
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: raw.toString('utf8'), raw, cookies });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** "A=b; Path=/; HttpOnly" -> {name, value, attrs: {path: '/', httponly: true}, raw, parts} */
function parseSetCookie(raw) {
  const parts = raw.split(';').map((s) => s.trim());
  const first = parts[0];
  const eq = first.indexOf('=');
  const attrs = {};
  for (const p of parts.slice(1)) {
    const i = p.indexOf('=');
    if (i < 0) attrs[p.toLowerCase()] = true;
    else attrs[p.slice(0, i).toLowerCase()] = p.slice(i + 1);
  }
  return { name: first.slice(0, eq), value: first.slice(eq + 1), attrs, raw, parts: parts.slice(1) };
}

/** A browser-like cookie jar (one host, path /). */
class Jar {
  constructor() { this.map = new Map(); }
  size() { return this.map.size; }
  get(name) { return this.map.get(name); }
  set(name, value) { this.map.set(name, value); }
  take(cookies) {
    for (const c of cookies) {
      if (c.attrs['max-age'] !== undefined && Number(c.attrs['max-age']) <= 0) this.map.delete(c.name);
      else if (c.value === '') this.map.delete(c.name);
      else this.map.set(c.name, c.value);
    }
  }
  header() { return [...this.map].map(([k, v]) => `${k}=${v}`).join('; '); }
}

/** application/x-www-form-urlencoded body from an object. */
function form(obj) {
  return new URLSearchParams(obj).toString();
}

module.exports = { request, parseSetCookie, Jar, form };
