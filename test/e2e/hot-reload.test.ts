// Hot reload (issue 13 item 1), against the daemon as a child process with sipp nodes and callers: an invalid
// file changes nothing (counted, file:line logged); algorithmClass, extraServerNodes and logLevel take effect
// live (where calls go, /lbinfo); a port change needs a restart (logged, the old port keeps serving); sipp at a
// steady rate across several reloads (SIGHUP and file changes) loses no call.

import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { propertiesText } from '../helpers/daemon.js';
import { startSipp, type Sipp } from '../helpers/sipp.js';
import { answeredBy, request, startLb, startNode as startHttpNode } from './http-harness.js';
import { HOST, describeResult, runCalls, sentInvites, startBalancer, startNode, activeNodePorts, type Balancer, type TestNode } from './algorithm-harness.js';
import { lbstat as readLbstat } from '../helpers/json-heartbeat.js';
import { sipBalancerProperties } from '../helpers/sip-balancer.js';
import { waitUntil } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function balancer(extra: Record<string, string | number | boolean>): Promise<{ lb: Balancer; write: (changes: Record<string, string | number | boolean>) => void }> {
  const lb = await startBalancer(extra);
  cleanups.push(() => lb.stop());
  // Each write gets an mtime of its own, a second past the last one, so the watch (size, mtime, inode) sees it
  // however fast the test writes and however coarse the file system's clock.
  let mtime = Math.floor(Date.now() / 1000);
  const write = (changes: Record<string, string | number | boolean>): void => {
    writeFileSync(lb.daemon.configPath, propertiesText({ ...sipBalancerProperties(), ...extra, ...changes }));
    mtime += 1;
    utimesSync(lb.daemon.configPath, mtime, mtime);
  };
  return { lb, write };
}

const lbstat = (lb: Balancer): Promise<Record<string, unknown>> => readLbstat(lb.statisticPort);

async function reloads(lb: Balancer): Promise<{ ok: number; failed: number }> {
  const m = await lbstat(lb);
  return { ok: Number(m.ConfigReloads), failed: Number(m.ConfigReloadsFailed) };
}

/** The log level in force, as /lbloglevel reports it when refusing a level it does not know. */
async function logLevel(lb: Balancer): Promise<unknown> {
  const res = await fetch(`http://${HOST}:${lb.statisticPort}/lbloglevel?logLevel=NOT-A-LEVEL`);
  return ((await res.json()) as { logLevel: unknown }).logLevel;
}

/** A sipp UAS that does not heartbeat (an extraServerNodes node under performanceTestingMode). */
async function uas(): Promise<Sipp & { port: number }> {
  const port = await freePort();
  const sipp = await startSipp({ scenario: 'uas.xml', localPort: port, traceMessages: true, timeoutMs: 120_000 });
  cleanups.push(() => sipp.stop());
  return Object.assign(sipp, { port });
}

async function node(lb: Balancer): Promise<TestNode> {
  const n = await startNode([lb]);
  cleanups.push(() => n.stop());
  return n;
}

function invitesAt(sipp: Sipp): Set<string> {
  return new Set(sipp.messagesSoFar().filter((m) => m.direction === 'received' && m.method === 'INVITE').map((m) => m.callId!));
}

describe('hot reload', () => {
  it('refuses an invalid file: nothing changes, the failure is counted and each problem logged with file:line', async () => {
    const { lb, write } = await balancer({ configReloadPeriod: 200 });
    await node(lb);
    await waitUntil(async () => (await activeNodePorts(lb)).length === 1, 'one active node');

    // Line 7 is nodeTimeout (the 7th property written); logLevel on a later line would change if applied.
    write({ nodeTimeout: 'soon', logLevel: 'debug', noSuchKeyEither: 1 });
    await lb.daemon.waitForLog('Configuration reload (file changed) refused');
    const problem = await lb.daemon.waitForLog((l) => l.msg.startsWith(`${lb.daemon.configPath}:7: nodeTimeout=soon`));
    expect(problem.level).toBe(50);
    expect(await reloads(lb)).toEqual({ ok: 0, failed: 1 });
    const metrics = await (await fetch(`http://${HOST}:${lb.statisticPort}/metrics`)).text();
    expect(metrics).toMatch(/sipbalancer_config_reloads_total\{result="failed"\} 1/);
    expect(metrics).toMatch(/sipbalancer_config_reloads_total\{result="succeeded"\} 0/);
    expect(await logLevel(lb)).toBe('info');
    // The node keeps its place and calls go on as before.
    const calls = await runCalls(lb, { calls: 3 });
    expect(calls.stats?.successfulCalls, describeResult('calls after a refused reload', calls)).toBe(3);

    // The repaired file is applied.
    write({ logLevel: 'debug' });
    await lb.daemon.waitForLog(/Configuration reloaded \(file changed\)/);
    expect(await reloads(lb)).toEqual({ ok: 1, failed: 1 });
    expect(await logLevel(lb)).toBe('debug');
  });

  it('applies algorithmClass, extraServerNodes and logLevel live (SIGHUP and a change of the file)', async () => {
    const [a, b, c] = [await uas(), await uas(), await uas()];
    // No watch at first: SIGHUP alone reloads; the reload also starts the watch (configReloadPeriod is live).
    const extra = { performanceTestingMode: true, extraServerNodes: `${HOST}:${a.port},${HOST}:${b.port}`, algorithmClass: 'round-robin', configReloadPeriod: 0 };
    const { lb, write } = await balancer(extra);
    await waitUntil(async () => (await activeNodePorts(lb)).length === 2, 'two extra nodes');
    const before = await runCalls(lb, { calls: 4 });
    expect(before.stats?.successfulCalls, describeResult('round-robin', before)).toBe(4);
    expect(invitesAt(a).size).toBe(2);
    expect(invitesAt(b).size).toBe(2);

    // SIGHUP: active-standby (with failback: the first node by address) takes every new call.
    write({ algorithmClass: 'active-standby', activeStandbyFailback: true, configReloadPeriod: 200 });
    lb.daemon.child.kill('SIGHUP');
    await lb.daemon.waitForLog(/Configuration reloaded \(SIGHUP\): 3 key\(s\) applied live \(activeStandbyFailback, algorithmClass, configReloadPeriod\)/);
    const standby = await runCalls(lb, { calls: 4 });
    expect(standby.stats?.successfulCalls, describeResult('active-standby', standby)).toBe(4);
    const ids = sentInvites(standby);
    const first = a.port < b.port ? a : b;
    expect(ids.every((id) => invitesAt(first).has(id))).toBe(true);
    const state = (await (await fetch(`http://${HOST}:${lb.statisticPort}/dashboard/state`)).json()) as { algorithm: string };
    expect(state.algorithm).toBe('active-standby');

    // A change of the file: the extra nodes become c alone, and the log level debug.
    write({ algorithmClass: 'active-standby', activeStandbyFailback: true, configReloadPeriod: 200, extraServerNodes: `${HOST}:${c.port}`, logLevel: 'debug' });
    await lb.daemon.waitForLog(/Configuration reloaded \(file changed\)/);
    expect(await activeNodePorts(lb)).toEqual([c.port]);
    const after = await runCalls(lb, { calls: 3 });
    expect(after.stats?.successfulCalls, describeResult('after extraServerNodes', after)).toBe(3);
    expect(sentInvites(after).every((id) => invitesAt(c).has(id))).toBe(true);
    expect(await logLevel(lb)).toBe('debug');
    expect(await reloads(lb)).toEqual({ ok: 2, failed: 0 });
  });

  it('keeps a changed port until a restart: logged as "needs a restart", the old port keeps serving', async () => {
    const { lb, write } = await balancer({ configReloadPeriod: 0 });
    await node(lb);
    await waitUntil(async () => (await activeNodePorts(lb)).length === 1, 'one active node');
    const newPort = await freePort();
    write({ externalPort: newPort, noNodeRetryAfter: 9 });
    lb.daemon.child.kill('SIGHUP');
    const line = await lb.daemon.waitForLog(/needs a restart/);
    expect(line.msg).toBe(`externalPort: 0 → ${newPort}: needs a restart; the running value is kept until then`);
    await lb.daemon.waitForLog(/Configuration reloaded \(SIGHUP\): 1 key\(s\) applied live \(noNodeRetryAfter\), 1 kept until a restart \(externalPort\)/);
    const calls = await runCalls(lb, { calls: 3 });
    expect(calls.stats?.successfulCalls, describeResult('old port', calls)).toBe(3);
    expect(await reloads(lb)).toEqual({ ok: 1, failed: 0 });
  });

  it('adds and removes static nodes live; a staticNodes entry that does not parse is refused with file:line', async () => {
    const probe = { nodeProbeInterval: 250, nodeProbeTimeout: 150, nodeProbeFailures: 2, nodeProbeSuccesses: 1, configReloadPeriod: 0 };
    const { lb, write } = await balancer(probe);
    const port = await freePort();
    const server = await startSipp({ scenario: 'uas.xml', localPort: port, args: ['-aa'], timeoutMs: 60_000 });
    cleanups.push(() => server.stop(0));

    write({ staticNodes: `${HOST}:${port};transport=carrier-pigeon` });
    lb.daemon.child.kill('SIGHUP');
    await lb.daemon.waitForLog((l) => l.msg.startsWith(`${lb.daemon.configPath}:14: staticNodes=`));
    expect(await reloads(lb)).toEqual({ ok: 0, failed: 1 });
    expect(await activeNodePorts(lb)).toEqual([]);

    write({ staticNodes: `${HOST}:${port}` });
    lb.daemon.child.kill('SIGHUP');
    await waitUntil(async () => (await activeNodePorts(lb)).includes(port), 'the static node probed and in', 10_000);
    const calls = await runCalls(lb, { calls: 2 });
    expect(calls.stats?.successfulCalls, describeResult('to the static node', calls)).toBe(2);

    write({});
    lb.daemon.child.kill('SIGHUP');
    await waitUntil(async () => (await activeNodePorts(lb)).length === 0, 'the static node removed', 10_000);
    expect(await reloads(lb)).toEqual({ ok: 2, failed: 1 });
  });

  it('sends HTTP requests to the new unavailableHost from the next request on (keep-alive client)', async () => {
    const [m1, m2] = [await startHttpNode('maintenance-1'), await startHttpNode('maintenance-2')];
    cleanups.push(() => m1.stop(), () => m2.stop());
    const lb = await startLb({ unavailableHost: `${HOST}:${m1.httpPort}`, configReloadPeriod: 0 });
    cleanups.push(() => lb.daemon.stop());
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    expect(answeredBy(await request(`http://${HOST}:${lb.httpPort}/shop`, { agent }))).toBe('maintenance-1');
    const path = lb.daemon.configPath;
    writeFileSync(path, readFileSync(path, 'latin1').replace(`unavailableHost=${HOST}:${m1.httpPort}`, `unavailableHost=${HOST}:${m2.httpPort}`));
    lb.daemon.child.kill('SIGHUP');
    await lb.daemon.waitForLog(/Configuration reloaded \(SIGHUP\): 1 key\(s\) applied live \(unavailableHost\)/);
    const after = await request(`http://${HOST}:${lb.httpPort}/shop`, { agent });
    expect(answeredBy(after)).toBe('maintenance-2');
  });

  it('loses no call when sipp runs at a steady rate across several reloads', async () => {
    const { lb, write } = await balancer({ configReloadPeriod: 200, algorithmClass: 'call-id-affinity' });
    const [a, b] = [await node(lb), await node(lb)];
    await waitUntil(async () => (await activeNodePorts(lb)).length === 2, 'two active nodes');
    // 20 calls a second for about 6 s, each lasting 300 ms (INVITE, ACK, BYE through the balancer).
    const running = runCalls(lb, { calls: 120, rate: 20, callLengthMs: 300, trace: false });
    const steps: [string, Record<string, string | number | boolean>][] = [
      ['SIGHUP', { algorithmClass: 'round-robin' }],
      ['file', { algorithmClass: 'round-robin', blockedValues: 'friendly-scanner', nodeQuarantine: 20000 }],
      ['SIGHUP', { algorithmClass: 'header-consistent-hash', logLevel: 'warn' }],
      ['file', { algorithmClass: 'call-id-affinity', logLevel: 'info' }],
    ];
    // One reload per sixth of the run: each waits until the nodes have seen 20 more INVITEs.
    const invites = (): number => a.callIds('INVITE').size + b.callIds('INVITE').size;
    let done = 0;
    for (const [how, changes] of steps) {
      await waitUntil(() => invites() >= 20 * (done + 1), `${20 * (done + 1)} INVITEs at the nodes`, 20_000);
      write(changes);
      if (how === 'SIGHUP') lb.daemon.child.kill('SIGHUP');
      done++;
      await waitUntil(async () => (await reloads(lb)).ok >= done, `reload ${done}`, 5000);
    }
    const result = await running;
    expect(result.stats?.failedCalls, describeResult('under reloads', result)).toBe(0);
    expect(result.stats?.successfulCalls).toBe(120);
    // A SIGHUP right after a write may follow the watch's own reload of the same file: 4 or more.
    const counted = await reloads(lb);
    expect(counted.failed).toBe(0);
    expect(counted.ok).toBeGreaterThanOrEqual(4);
    expect(a.callIds('INVITE').size + b.callIds('INVITE').size).toBe(120);
  }, 60_000);
});
