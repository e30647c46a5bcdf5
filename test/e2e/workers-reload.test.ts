// workers=2: what the primary is told reaches every worker over the cluster channel — /lbnoderegex pins,
// /lbloglevel, and a hot reload (SIGHUP) that changes the algorithm — and a worker restarted after the reload
// starts from the configuration in force, not from the file (a port change that needs a restart stays out).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { freePort, freePorts } from '../helpers/ports.js';
import { propertiesText } from '../helpers/daemon.js';
import { heartbeatRequest } from '../helpers/sip-heartbeat.js';
import { isPortBound, runSipp, startSipp, type Sipp, type SippResult } from '../helpers/sipp.js';
import { HOST, daemonLbstat, startWorkersBalancer, type WorkersBalancer } from '../helpers/workers.js';
import { waitUntil } from '../helpers/wait.js';

describe('workers=2: admin endpoints and hot reload reach every worker', () => {
  let lb: WorkersBalancer;
  let a: Sipp & { port: number };
  let b: Sipp & { port: number };
  let extra: Record<string, string | number | boolean>;

  const invitesAt = (s: Sipp): Set<string> => new Set(s.messagesSoFar().filter((m) => m.direction === 'received' && m.method === 'INVITE').map((m) => m.callId!));
  const sent = (r: SippResult): string[] => [...new Set(r.messages.filter((m) => m.direction === 'sent' && m.method === 'INVITE').map((m) => m.callId!))];
  const calls = async (n: number): Promise<SippResult> => {
    const r = await runSipp({ scenario: 'uac-unordered.xml', localPort: await freePort(), remote: `${HOST}:${lb.externalPort}`, calls: n, rate: 20, callLengthMs: 10, traceMessages: true, recvTimeoutMs: 10_000, timeoutMs: 60_000 });
    expect(r.stats?.successfulCalls, `${r.errors.slice(-1500)}\n${r.output.slice(-400)}`).toBe(n);
    return r;
  };
  const api = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`http://${HOST}:${lb.statisticPort}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    const [pa, pb] = await freePorts(2);
    a = Object.assign(await startSipp({ scenario: 'uas.xml', localPort: pa!, traceMessages: true, timeoutMs: 180_000 }), { port: pa! });
    b = Object.assign(await startSipp({ scenario: 'uas.xml', localPort: pb!, traceMessages: true, timeoutMs: 180_000 }), { port: pb! });
    extra = { performanceTestingMode: true, extraServerNodes: `${HOST}:${pa},${HOST}:${pb}`, algorithmClass: 'round-robin', configReloadPeriod: 0 };
    lb = await startWorkersBalancer(2, extra);
    await waitUntil(async () => (await daemonLbstat(lb.statisticPort)).Workers.each.every((w) => w.knownNodes === 2), 'both nodes in every worker', 30_000);
  }, 90_000);
  afterAll(async () => {
    if (lb && lb.daemon.child.exitCode === null) await lb.daemon.stop();
    await a?.stop();
    await b?.stop();
  });

  it('/lbnoderegex pins and /lbloglevel, served by the primary, apply in every worker', async () => {
    // sipp Call-IDs are "<number>-<pid>@<ip>": this pin takes every call, whichever worker reads its INVITE.
    const pinned = await api(`/lbnoderegex?regex=${encodeURIComponent('^[0-9]+-')}&ip=${HOST}&port=${b.port}`);
    expect(pinned.status).toBe(200);
    const r = await calls(12);
    expect(sent(r).every((id) => invitesAt(b).has(id))).toBe(true);
    expect((await api(`/lbnoderegex?regex=${encodeURIComponent('^[0-9]+-')}`)).status).toBe(200);

    // At DEBUG a heartbeat on the external port is logged by the worker that reads it: both workers do.
    expect((await api('/lbloglevel?logLevel=DEBUG')).body).toMatchObject({ logLevel: 'debug', previous: 'info' });
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, HOST, () => r()));
    const debugFrom = (w: number): boolean => lb.daemon.logs.some((l) => l.level === 20 && l.worker === w && l.msg.includes('Ignored a SIP heartbeat on the external port'));
    try {
      await waitUntil(() => {
        socket.send(heartbeatRequest({ balancerPort: lb.externalPort, node: { udpPort: 5999 } }, socket.address().port, 1, `c${Math.random()}`), lb.externalPort, HOST);
        return debugFrom(0) && debugFrom(1);
      }, 'a debug line from each worker', 15_000);
    } finally {
      socket.close();
    }
    expect((await api('/lbloglevel?logLevel=INFO')).body).toMatchObject({ logLevel: 'info' });
  });

  it('a SIGHUP reload changes the algorithm in every worker; a worker restarted later keeps the running ports', async () => {
    const newPort = await freePort();
    const base = { host: HOST, externalPort: 0, internalPort: 0, heartbeatPort: 0, statisticPort: 0, httpPort: '', nodeTimeout: 3000, heartbeatInterval: 100, workers: 2 };
    writeFileSync(lb.daemon.configPath, propertiesText({ ...base, ...extra, externalPort: newPort, algorithmClass: 'active-standby', activeStandbyFailback: true }));
    lb.daemon.child.kill('SIGHUP');
    await lb.daemon.waitForLog(/Configuration reloaded \(SIGHUP\): 2 key\(s\) applied live \(activeStandbyFailback, algorithmClass\), 1 kept until a restart \(externalPort\)/, 15_000);
    // active-standby with failback: the first node by address takes every new call, in both workers.
    const first = a.port < b.port ? a : b;
    await waitUntil(async () => {
      const r = await calls(6);
      return sent(r).every((id) => invitesAt(first).has(id));
    }, 'both workers on active-standby', 20_000);
    const r = await calls(12);
    expect(sent(r).every((id) => invitesAt(first).has(id))).toBe(true);

    const victim = (await daemonLbstat(lb.statisticPort)).Workers.each.find((w) => w.index === 0)!.pid;
    process.kill(victim, 'SIGKILL');
    await lb.daemon.waitForLog('Worker 0 restarted', 60_000);
    await waitUntil(async () => (await daemonLbstat(lb.statisticPort)).Workers.serving === 2, 'worker 0 serving', 30_000);
    expect(isPortBound('udp', newPort), 'the restarted worker did not open the port the file names now').toBe(false);
    const again = await calls(12);
    expect(sent(again).every((id) => invitesAt(first).has(id))).toBe(true);
    const stat = await daemonLbstat(lb.statisticPort);
    expect(stat.ConfigReloads).toBe(1);
    expect(stat.ConfigReloadsFailed).toBe(0);
  }, 120_000);

  it('loses no call when sipp runs at a steady rate across several reloads', async () => {
    const base = { host: HOST, externalPort: 0, internalPort: 0, heartbeatPort: 0, statisticPort: 0, httpPort: '', nodeTimeout: 3000, heartbeatInterval: 100, workers: 2 };
    const before = Number((await daemonLbstat(lb.statisticPort)).ConfigReloads);
    const invites = (): number => invitesAt(a).size + invitesAt(b).size;
    const invitesBefore = invites();
    const running = runSipp({ scenario: 'uac-unordered.xml', localPort: await freePort(), remote: `${HOST}:${lb.externalPort}`, calls: 100, rate: 20, callLengthMs: 300, recvTimeoutMs: 10_000, timeoutMs: 60_000 });
    const algorithms = ['round-robin', 'call-id-affinity', 'header-consistent-hash'];
    // One reload per quarter of the run: each waits until the nodes have seen 25 more INVITEs.
    for (const [i, algorithmClass] of algorithms.entries()) {
      await waitUntil(() => invites() >= invitesBefore + 25 * (i + 1), `${25 * (i + 1)} INVITEs at the nodes`, 20_000);
      writeFileSync(lb.daemon.configPath, propertiesText({ ...base, ...extra, algorithmClass }));
      lb.daemon.child.kill('SIGHUP');
      await waitUntil(async () => Number((await daemonLbstat(lb.statisticPort)).ConfigReloads) === before + i + 1, `reload ${i + 1}`, 10_000);
    }
    const r = await running;
    expect(r.stats?.failedCalls, `${r.errors.slice(-1500)}\n${r.output.slice(-400)}`).toBe(0);
    expect(r.stats?.successfulCalls).toBe(100);
    expect((await daemonLbstat(lb.statisticPort)).ConfigReloadsFailed).toBe(0);
  }, 90_000);
});
