/**
 * What a web page can make a browser do to a server on the same machine, tried with a real
 * browser (Debian's chromium, driven by playwright-core) against the real server, with auth OFF
 * (the worst case: nothing but the Host/Origin guard stands in the way):
 *
 * - a plain HTML form posted from a foreign page (another origin) to the loopback server;
 * - DNS rebinding: a page whose name resolves to 127.0.0.1 (chromium's host resolver rules stand
 *   in for a rebinding DNS server) calling "its own" origin, i.e. the server, with fetch.
 *
 * Both are refused, and nothing is queued.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlEndpoint, invocationRows, startServer, waitFor, type ServerProcess } from './support/server.js';

const CHROMIUM = '/usr/bin/chromium';

let server: ServerProcess;
let browser: Browser;
let foreign: Server;
let foreignUrl: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`);
  server = await startServer({ config: { auth: { mode: 'off' }, endpoints: [controlEndpoint('ep')] } });
  const port = new URL(server.url).port;
  // The attacker's page, on another origin (another port), with a form aimed at the server.
  foreign = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<form id="f" method="POST" enctype="text/plain" action="http://127.0.0.1:${port}/endpoints/ep/async-invocations">
      <input name="payload" value="from a foreign page"><button id="go">send</button></form>`);
  });
  await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
  foreignUrl = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP rebound.test 127.0.0.1'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => foreign?.close(resolve));
  expect(await server?.stop()).toBe(0);
});

describe('a web page in a real browser, with auth off', () => {
  it('cannot post a form from a foreign origin to the loopback server', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(foreignUrl);
      const [answer] = await Promise.all([page.waitForNavigation(), page.click('#go')]);
      expect(answer?.status()).toBe(403);
      expect(answer?.headers()['x-amzn-errortype']).toBe('AccessDeniedException');
      expect(await page.content()).toContain('cors.allowedOrigins');
    } finally {
      await page.close();
    }
    expect(invocationRows(server.dataDir)).toHaveLength(0);
  });

  it('cannot reach the server through a rebound DNS name', async () => {
    const page = await browser.newPage();
    const port = new URL(server.url).port;
    try {
      // The page is served by asyncinfer itself under the attacker's name (its 403 is the page).
      const landing = await page.goto(`http://rebound.test:${port}/endpoints/ep/async-invocations`);
      expect(landing?.status()).toBe(403);
      const status = await page.evaluate(async () => (await fetch('/endpoints/ep/async-invocations', { method: 'POST', body: '{}' })).status);
      expect(status).toBe(403);
    } finally {
      await page.close();
    }
    expect(invocationRows(server.dataDir)).toHaveLength(0);
    // The same server answers a local client normally.
    const local = await fetch(`${server.url}/endpoints/ep/async-invocations`, { method: 'POST', body: '{}' });
    expect(local.status).toBe(202);
    await waitFor(() => invocationRows(server.dataDir).length === 1, 5000, 'the local request to be queued');
  });
});
