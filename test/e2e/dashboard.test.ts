// The dashboard on statisticPort in a real browser (Debian's Chromium): it lists a node that heartbeats,
// drops it once it stops, shows a SIP rate that moves while sipp calls run, and is protected like /lbstat.

import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { launchBrowser, type Browser } from '../helpers/browser.js';
import { startBalancer, HOST, type Balancer } from '../helpers/sip-balancer.js';
import { startHeartbeat, type HeartbeatSender } from '../helpers/sip-heartbeat.js';
import { startSipp, type Sipp } from '../helpers/sipp.js';
import { freePorts } from '../helpers/ports.js';

const LOGIN = { username: 'ops', password: 's3cret:with:colons' };
const basic = `Basic ${Buffer.from(`${LOGIN.username}:${LOGIN.password}`).toString('base64')}`;

let lb: Balancer | undefined;
let browser: Browser | undefined;
const sipps: Sipp[] = [];
const heartbeats: HeartbeatSender[] = [];
afterEach(async () => {
  await browser?.close();
  await Promise.all(heartbeats.map((h) => h.stop()));
  await Promise.all(sipps.map((s) => s.stop(0)));
  await lb?.stop();
  browser = lb = undefined;
  sipps.length = heartbeats.length = 0;
});

describe('dashboard', () => {
  it('in Chromium: lists a heartbeating node, shows a SIP rate that moves while calls run, and drops the node once it stops', async () => {
    lb = await startBalancer({ securityRequired: true, login: LOGIN.username, password: LOGIN.password });
    const [nodePort, callerPort] = await freePorts(2);
    sipps.push(await startSipp({ scenario: 'uas.xml', localPort: nodePort!, timeoutMs: 90_000 }));
    const hb = await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort: nodePort!, hostname: 'dash-node-1' }, intervalMs: 300 });
    heartbeats.push(hb);

    browser = await launchBrowser({ httpCredentials: LOGIN });
    const page = await browser.context.newPage();
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(`http://${HOST}:${lb!.statisticPort}/`)) external.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`http://${HOST}:${lb.statisticPort}/dashboard`);

    const row = page.locator('#nodes tr', { hasText: 'dash-node-1' });
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain(`udp:${nodePort}`);
    expect(await row.locator('td[data-label="State"]').textContent()).toBe('active');

    // Calls through the balancer: the SIP rate on the page must rise at least twice while they run.
    const rateOf = async (): Promise<number> => Number(await page.locator('#rate-sip').textContent());
    const before = await rateOf();
    const caller = await startSipp({ scenario: 'uac.xml', localPort: callerPort!, remote: `${HOST}:${lb.externalPort}`, rate: 20, callLengthMs: 10, calls: 600, timeoutMs: 60_000 });
    sipps.push(caller);
    const seen = [before];
    await expect.poll(async () => {
      const r = await rateOf();
      if (r > seen[seen.length - 1]!) seen.push(r);
      return seen.length;
    }, { timeout: 30_000, interval: 250 }).toBeGreaterThanOrEqual(3);
    await expect.poll(async () => Number(await row.locator('td[data-label="New calls"]').textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
    if (process.env.DASHBOARD_SCREENSHOT) {
      // `DASHBOARD_SCREENSHOT=docs/dashboard.png npx vitest run test/e2e/dashboard.test.ts` refreshes the README's picture.
      await page.waitForTimeout(8000);
      writeFileSync(process.env.DASHBOARD_SCREENSHOT, await page.screenshot({ fullPage: true }));
    }
    await caller.stop(0);

    // The node stops heartbeating: after nodeTimeout it leaves the list, and the removal is in the events.
    await hb.stop();
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    await expect.poll(async () => page.locator('#events li[data-kind="node-removed"]').count(), { timeout: 5000 }).toBeGreaterThan(0);
    expect(await page.locator('#nodes').textContent()).toContain('no node');

    // A phone-sized screen still shows every column's value, each with its label.
    await page.setViewportSize({ width: 380, height: 800 });
    const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
    expect(width).toBeLessThanOrEqual(380);

    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  }, 120_000);

  it('is protected like /lbstat, and an unknown dashboard path is 404', async () => {
    lb = await startBalancer({ securityRequired: true, login: LOGIN.username, password: LOGIN.password });
    const url = (path: string): string => `http://${HOST}:${lb!.statisticPort}${path}`;
    for (const path of ['/', '/dashboard', '/dashboard/state']) {
      const anonymous = await fetch(url(path));
      expect(anonymous.status, path).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toContain('Basic');
      const res = await fetch(url(path), { headers: { authorization: basic } });
      expect(res.status, path).toBe(200);
      await res.arrayBuffer();
    }
    const page = await fetch(url('/'), { headers: { authorization: basic } });
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const state = (await (await fetch(url('/dashboard/state'), { headers: { authorization: basic } })).json()) as Record<string, unknown>;
    expect(state).toMatchObject({ nodes: [], activeCalls: 0, rates: { sip: { perSecond: 0 } } });
    for (const path of ['/dashboard/', '/dashboard/nope', '/dashboard.js', '/index.html']) {
      const res = await fetch(url(path), { headers: { authorization: basic } });
      expect(res.status, path).toBe(404);
      await res.arrayBuffer();
    }
  });
});
