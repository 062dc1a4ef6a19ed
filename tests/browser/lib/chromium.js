'use strict';
// Debian's Chromium (/usr/bin/chromium), headless, through playwright-core
// (no browser download), kept off the network. SESSIONLAB_CHROMIUM names
// another binary.

const fs = require('node:fs');

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch {
  throw new Error('playwright-core is missing: run `npm ci` in tests/browser');
}

const CHROMIUM = process.env.SESSIONLAB_CHROMIUM || '/usr/bin/chromium';
// No background services, updates, sync, QUIC or proxies, and no host name
// resolves except loopback.
const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-domain-reliability', '--disable-breakpad',
  '--no-pings', '--no-proxy-server', '--metrics-recording-only',
  '--disable-features=OptimizationHints,Translate,MediaRouter,AutofillServerCommunication',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

/** launch() gives Chromium a fresh temporary user-data-dir and removes it on close. */
async function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set SESSIONLAB_CHROMIUM)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

module.exports = { launchChromium };
