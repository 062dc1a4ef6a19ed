'use strict';
// A tiny raw FastCGI 1.0 client for the e2e tests: it speaks to the app's
// FastCGI port directly, the way nginx does with fastcgi_keep_conn on
// (FCGI_KEEP_CONN, request id 1, several requests in sequence on one
// connection), so a test can see what the app does with the connection after
// a reply. 127.0.0.1 only.
//
//   const c = await FcgiConn.connect(port);
//   const r = await c.request({ method: 'POST', uri: '/setSession', body, contentType });
//   // r: {status, reason, headers (lower-case names; set-cookie an array), body (string),
//   //     raw (Buffer), stderr, appStatus, protocolStatus}
//   await c.waitClosed(2000);   // true when the app closed the connection
//   c.close();
//
// request() rejects with an Error whose `code` is 'FCGI_CLOSED' when the app
// closed (or reset) the connection before FCGI_END_REQUEST, 'FCGI_TIMEOUT'
// when no FCGI_END_REQUEST came in time, and 'FCGI_PROTOCOL' when the bytes
// received are not well-formed records of this request.

const net = require('node:net');

const VERSION = 1;
const T = {
  BEGIN_REQUEST: 1, ABORT_REQUEST: 2, END_REQUEST: 3, PARAMS: 4, STDIN: 5, STDOUT: 6,
  STDERR: 7, DATA: 8, GET_VALUES: 9, GET_VALUES_RESULT: 10, UNKNOWN_TYPE: 11,
};
const RESPONDER = 1;
const KEEP_CONN = 1;
const MAX_CONTENT = 65535;
const TYPE_NAMES = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k]));

/** One record: 8-byte header, content, padding to a multiple of 8 (as nginx pads). */
function record(type, requestId, content = Buffer.alloc(0)) {
  if (content.length > MAX_CONTENT) throw new Error(`record content ${content.length} > ${MAX_CONTENT}`);
  const pad = (8 - (content.length % 8)) % 8;
  const h = Buffer.alloc(8);
  h[0] = VERSION;
  h[1] = type;
  h.writeUInt16BE(requestId, 2);
  h.writeUInt16BE(content.length, 4);
  h[6] = pad;
  return Buffer.concat([h, content, Buffer.alloc(pad)]);
}

/** A stream (PARAMS, STDIN) as records of at most 65535 bytes, then the empty record that ends it. */
function streamRecords(type, requestId, data) {
  const out = [];
  for (let off = 0; off < data.length; off += MAX_CONTENT) {
    out.push(record(type, requestId, data.subarray(off, Math.min(data.length, off + MAX_CONTENT))));
  }
  out.push(record(type, requestId));
  return out;
}

/** FastCGI name-value pair length: 1 byte below 128, else 4 bytes with the top bit set. */
function nvLength(n) {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0);
  return b;
}

/** Encodes {name: value} (or [[name, value]...]) as FastCGI name-value pairs. */
function encodeParams(params) {
  const entries = Array.isArray(params) ? params : Object.entries(params);
  const parts = [];
  for (const [name, value] of entries) {
    const n = Buffer.from(String(name), 'latin1');
    const v = Buffer.from(String(value), 'latin1');
    parts.push(nvLength(n.length), nvLength(v.length), n, v);
  }
  return Buffer.concat(parts);
}

/** Decodes name-value pairs (for GET_VALUES_RESULT and the client's own checks). */
function decodeParams(buf) {
  const out = {};
  let i = 0;
  const len = () => {
    if (buf[i] < 128) return buf[i++];
    const n = buf.readUInt32BE(i) & 0x7fffffff;
    i += 4;
    return n;
  };
  while (i < buf.length) {
    const nl = len();
    const vl = len();
    const name = buf.subarray(i, i + nl).toString('latin1');
    i += nl;
    out[name] = buf.subarray(i, i + vl).toString('latin1');
    i += vl;
  }
  return out;
}

/** CGI-style response ("Status: 403 Forbidden", headers, blank line, body) from the STDOUT stream. */
function parseCgi(raw) {
  let sep = raw.indexOf('\r\n\r\n');
  let sepLen = 4;
  const lf = raw.indexOf('\n\n');
  if (sep < 0 || (lf >= 0 && lf < sep)) { sep = lf; sepLen = 2; }
  if (sep < 0) return { status: 0, reason: '', headers: {}, body: raw.toString('utf8'), raw, malformed: true };
  const head = raw.subarray(0, sep).toString('latin1');
  const body = raw.subarray(sep + sepLen);
  const headers = {};
  let status = 200;
  let reason = 'OK';
  let malformed = false;
  for (const line of head.split(/\r?\n/)) {
    const c = line.indexOf(':');
    if (c <= 0) { malformed = true; continue; }
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    if (name === 'status') {
      const m = /^(\d{3})\s*(.*)$/.exec(value);
      if (m) { status = Number(m[1]); reason = m[2]; } else malformed = true;
    }
    if (name === 'set-cookie') (headers[name] = headers[name] || []).push(value);
    else headers[name] = value;
  }
  return { status, reason, headers, body: body.toString('utf8'), raw: body, malformed };
}

function fail(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

/** Standard params for a request, as nginx's fastcgi_params would send them. */
function requestParams({ method = 'GET', uri = '/', host = '127.0.0.1', body, contentType,
  origin, cookie, secFetchSite, params = {} }) {
  const q = uri.indexOf('?');
  const p = {
    REQUEST_METHOD: method,
    REQUEST_URI: uri,
    SCRIPT_NAME: q < 0 ? uri : uri.slice(0, q),
    QUERY_STRING: q < 0 ? '' : uri.slice(q + 1),
    CONTENT_TYPE: contentType || '',
    CONTENT_LENGTH: body && body.length ? String(body.length) : '',
    HTTP_HOST: host,
    SERVER_PROTOCOL: 'HTTP/1.1',
    GATEWAY_INTERFACE: 'CGI/1.1',
  };
  if (origin !== undefined) p.HTTP_ORIGIN = origin;
  if (cookie !== undefined) p.HTTP_COOKIE = cookie;
  if (secFetchSite !== undefined) p.HTTP_SEC_FETCH_SITE = secFetchSite;
  return { ...p, ...params };
}

class FcgiConn {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.closeReason = null;
    this.pending = null; // {resolve, reject, stdout: [], stderr: [], timer}
    this.stray = [];     // records (or garbage) received while no request was pending
    this.requests = 0;
    this.closedPromise = new Promise((resolve) => { this.onClosed = resolve; });
    sock.setNoDelay(true);
    sock.on('data', (d) => this.onData(d));
    sock.on('error', (e) => { this.closeReason = this.closeReason || e.code || e.message; });
    sock.on('close', () => {
      this.closed = true;
      this.closeReason = this.closeReason || 'closed by the app';
      if (this.pending) {
        const p = this.pending;
        const got = Buffer.concat(p.stdout);
        this.finish(fail('FCGI_CLOSED', `the app closed the FastCGI connection (${this.closeReason}) `
          + `before FCGI_END_REQUEST of request #${this.requests} on it (${p.what}); `
          + `${got.length} bytes of stdout received${got.length ? `: ${JSON.stringify(got.toString('latin1').slice(0, 80))}` : ''}`));
      }
      this.onClosed(this.closeReason);
    });
  }

  /** Opens a connection to 127.0.0.1:port. */
  static connect(port, { timeout = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port });
      const t = setTimeout(() => { sock.destroy(); reject(new Error(`FastCGI connect to ${port} timed out`)); }, timeout);
      sock.once('connect', () => { clearTimeout(t); sock.removeAllListeners('error'); resolve(new FcgiConn(sock)); });
      sock.once('error', (e) => { clearTimeout(t); reject(e); });
    });
  }

  finish(err, value) {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    clearTimeout(p.timer);
    if (err) p.reject(err); else p.resolve(value);
  }

  onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 8) {
      const h = this.buf;
      if (h[0] !== VERSION) {
        this.protocolError(`garbage on the connection: version byte ${h[0]} (bytes ${JSON.stringify(h.subarray(0, 16).toString('latin1'))})`);
        return;
      }
      const type = h[1];
      const id = h.readUInt16BE(2);
      const clen = h.readUInt16BE(4);
      const plen = h[6];
      if (h.length < 8 + clen + plen) return;
      const content = h.subarray(8, 8 + clen);
      this.buf = h.subarray(8 + clen + plen);
      this.onRecord(type, id, Buffer.from(content));
    }
  }

  protocolError(msg) {
    if (this.pending) this.finish(fail('FCGI_PROTOCOL', `${msg} (request #${this.requests}: ${this.pending.what})`));
    else this.stray.push({ error: msg });
    this.sock.destroy();
  }

  onRecord(type, id, content) {
    const p = this.pending;
    if (!p) { this.stray.push({ type: TYPE_NAMES[type] || type, id, length: content.length }); return; }
    if (id !== p.id) {
      this.protocolError(`a ${TYPE_NAMES[type] || type} record for request id ${id}, expected ${p.id}`);
      return;
    }
    if (type === T.STDOUT) p.stdout.push(content);
    else if (type === T.STDERR) p.stderr.push(content);
    else if (type === T.END_REQUEST) {
      if (content.length < 8) { this.protocolError(`short FCGI_END_REQUEST (${content.length} bytes)`); return; }
      const res = parseCgi(Buffer.concat(p.stdout));
      res.stderr = Buffer.concat(p.stderr).toString('utf8');
      res.appStatus = content.readUInt32BE(0);
      res.protocolStatus = content[4];
      if (res.malformed) {
        this.finish(fail('FCGI_PROTOCOL', `malformed CGI response to request #${this.requests} (${p.what}): `
          + JSON.stringify(Buffer.concat(p.stdout).toString('latin1').slice(0, 120))));
        return;
      }
      this.finish(null, res);
    } else {
      this.protocolError(`unexpected ${TYPE_NAMES[type] || type} record`);
    }
  }

  /**
   * One request on this connection: BEGIN_REQUEST (RESPONDER, KEEP_CONN),
   * PARAMS, empty PARAMS, the body as STDIN records, empty STDIN. Resolves
   * once FCGI_END_REQUEST arrives. Options: method, uri, body (Buffer or
   * string), contentType, host, origin, cookie, secFetchSite, params (extra
   * or overriding params), keepConn (default true), timeout (ms).
   */
  request(opts = {}) {
    if (this.pending) return Promise.reject(new Error('one request at a time on a FastCGI connection'));
    let body = opts.body === undefined ? Buffer.alloc(0) : opts.body;
    if (!Buffer.isBuffer(body)) body = Buffer.from(String(body));
    const what = `${opts.method || 'GET'} ${opts.uri || '/'}${body.length ? ` with a ${body.length}-byte body` : ''}`;
    this.requests++;
    if (this.closed) {
      return Promise.reject(fail('FCGI_CLOSED', `the app had already closed the FastCGI connection (${this.closeReason}) `
        + `before request #${this.requests} on it (${what})`));
    }
    const id = 1;
    const begin = Buffer.alloc(8);
    begin.writeUInt16BE(RESPONDER, 0);
    begin[2] = opts.keepConn === false ? 0 : KEEP_CONN;
    const bytes = Buffer.concat([
      record(T.BEGIN_REQUEST, id, begin),
      ...streamRecords(T.PARAMS, id, encodeParams(requestParams({ ...opts, body }))),
      ...streamRecords(T.STDIN, id, body),
    ]);
    const timeout = opts.timeout || 5000;
    return new Promise((resolve, reject) => {
      this.pending = {
        id, what, resolve, reject, stdout: [], stderr: [],
        timer: setTimeout(() => this.finish(fail('FCGI_TIMEOUT', `no FCGI_END_REQUEST within ${timeout} ms `
          + `for request #${this.requests} on the connection (${what})`)), timeout),
      };
      this.sock.write(bytes, (err) => {
        if (err) this.closeReason = this.closeReason || `write failed: ${err.code || err.message}`;
      });
    });
  }

  /** Resolves true once the app has closed the connection, false if still open after ms. */
  waitClosed(ms) {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.closedPromise.then(() => { clearTimeout(t); resolve(true); });
    });
  }

  close() { this.sock.destroy(); }
}

module.exports = { FcgiConn, encodeParams, decodeParams, parseCgi, record, requestParams, T };
