// Flood limits (issue 16 finding/item 2): one client source over floodRequestsPerSecond is banned, its requests
// dropped silently and counted, and shown in /lbstat; another client's calls complete meanwhile. Clients use
// other loopback addresses (127.0.0.2, 127.0.0.3) than the node (127.0.0.1), which is exempt as a node.

import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { freePorts } from '../helpers/ports.js';
import { startSipp } from '../helpers/sipp.js';
import { startHeartbeat } from '../helpers/sip-heartbeat.js';
import { HOST, startBalancer } from '../helpers/sip-balancer.js';
import { sipRequest } from './harness.js';
import { lbstat } from '../helpers/json-heartbeat.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FLOODER = '127.0.0.2';
const CALLER = '127.0.0.3';

describe('flood limits per client source', () => {
  it('drops and counts a flooding source while another client completes its calls', async () => {
    const lb = await startBalancer({ floodRequestsPerSecond: 50, floodBanTime: 5000, nodeTimeout: 10_000 });
    cleanups.push(() => lb.stop());
    const [nodePort, uacPort] = (await freePorts(2)) as [number, number];
    // -aa: the node answers the flood's OPTIONS 200 (counted as AutoAnswered) instead of aborting on them.
    const uas = await startSipp({ scenario: 'uas.xml', localPort: nodePort, timeoutMs: 60_000, args: ['-aa'] });
    cleanups.push(() => uas.stop(0));
    const hb = await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort: nodePort }, intervalMs: 300 });
    cleanups.push(() => hb.stop());
    await hb.waitAnswered(1);

    const calls = 20;
    const uac = await startSipp({
      scenario: 'uac.xml', host: CALLER, localPort: uacPort, remote: `${HOST}:${lb.externalPort}`,
      calls, rate: 10, callLengthMs: 0, timeoutMs: 30_000,
    });
    cleanups.push(() => uac.stop(0));

    // About 2,000 OPTIONS a second from one source for two seconds, while the calls go on.
    const flooder = createSocket('udp4');
    await new Promise<void>((r) => flooder.bind(0, FLOODER, () => r()));
    cleanups.push(() => new Promise<void>((r) => flooder.close(() => r())));
    let sent = 0;
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      for (let i = 0; i < 20; i++) flooder.send(sipRequest('OPTIONS', `flood-${sent++}`, flooder.address().port), lb.externalPort, HOST);
      await new Promise((r) => setTimeout(r, 10));
    }

    const result = await uac.done;
    expect(result.stats?.failedCalls, result.output.slice(-1500)).toBe(0);
    expect(result.stats?.successfulCalls).toBe(calls);

    const stat = await lbstat(lb.statisticPort);
    const dropped = (stat.SipDroppedByReason as Record<string, number>).flood ?? 0;
    // At most ~50/s (plus slack) of the flood got through in 2 s; the rest was dropped (UDP may lose a few).
    expect(dropped).toBeGreaterThan(sent * 0.5);
    expect(sent - dropped).toBeLessThan(sent * 0.5);
    expect(stat.SipFloodBans).toBeGreaterThanOrEqual(1);
    const sources = stat.SipFloodSources as Record<string, { dropped: number; bans: number; bannedForMs: number }>;
    expect(Object.keys(sources).length).toBeLessThanOrEqual(10);
    expect(Object.keys(sources)[0]).toBe(FLOODER);
    expect(sources[FLOODER]!.dropped).toBe(dropped);
    expect(sources[FLOODER]!.bannedForMs).toBeGreaterThan(0);
    // The caller was never limited.
    expect(sources[CALLER]?.dropped ?? 0).toBe(0);
  }, 60_000);
});
