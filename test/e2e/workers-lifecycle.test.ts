// workers=2 end to end: a worker killed with SIGKILL while sipp calls run is restarted (and logged), and
// calls keep completing; SIGTERM stops the workers and the primary in order, exit code 0, no process left.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../helpers/ports.js';
import { runSipp, type Sipp } from '../helpers/sipp.js';
import type { HeartbeatSender } from '../helpers/sip-heartbeat.js';
import { HOST, alive, daemonLbstat, startWorkersWithSippNodes, type WorkersBalancer } from '../helpers/workers.js';
import { waitUntil } from '../helpers/wait.js';

describe('workers=2: a worker dies, the daemon goes on', () => {
  let lb: WorkersBalancer;
  let uas: Sipp[] = [];
  let heartbeats: HeartbeatSender[] = [];

  beforeAll(async () => {
    ({ lb, uas, heartbeats } = await startWorkersWithSippNodes({ traceMessages: false }));
  }, 90_000);
  afterAll(async () => {
    await Promise.all(heartbeats.map((h) => h.stop()));
    await Promise.all(uas.map((u) => u.stop()));
    if (lb && lb.daemon.child.exitCode === null) await lb.daemon.stop();
  });

  it('SIGKILL to a worker while calls run: it is restarted and logged, and calls keep completing', async () => {
    const [uacPort] = await freePorts(1);
    const victim = lb.workerPids[0]!;
    const calls = runSipp({
      scenario: 'uac-unordered.xml', localPort: uacPort!, remote: `${HOST}:${lb.externalPort}`, calls: 60, rate: 20,
      callLengthMs: 100, recvTimeoutMs: 20_000, timeoutMs: 90_000,
    });
    // Some calls are under way when the worker dies.
    await waitUntil(async () => (await daemonLbstat(lb.statisticPort)).Workers.each.every((w) => w.NumberOfRequestsProcessed > 4), 'calls through both workers', 20_000);
    process.kill(victim, 'SIGKILL');
    const died = await lb.daemon.waitForLog((l) => l.msg.startsWith('Worker 0') && l.msg.includes('died (SIGKILL)'), 10_000);
    expect(died.level, 'logged as an error').toBe(50);
    await lb.daemon.waitForLog('Worker 0 restarted', 60_000);
    const uac = await calls;
    // A datagram the dead worker had read is lost, as on the network: sipp's UAS does not retransmit its 200 OK
    // (a real UAS does, RFC 3261 13.3.1.4), so a call or two in that instant may fail; every other call completes.
    expect(uac.stats?.successfulCalls, `${uac.errors.slice(-2000)}\n${uac.output.slice(-400)}`).toBeGreaterThanOrEqual(57);

    const stat = await daemonLbstat(lb.statisticPort);
    expect(stat.Workers.serving).toBe(2);
    expect(stat.Workers.restarts).toBe(1);
    const restarted = stat.Workers.each.find((w) => w.index === 0)!;
    expect(restarted.pid).not.toBe(victim);
    expect(restarted.knownNodes, 'the new worker has the registry at once').toBe(2);

    // The restarted worker serves calls too.
    const [again] = await freePorts(1);
    const before = restarted.NumberOfRequestsProcessed;
    const more = await runSipp({ scenario: 'uac-unordered.xml', localPort: again!, remote: `${HOST}:${lb.externalPort}`, calls: 30, rate: 30, callLengthMs: 20, recvTimeoutMs: 10_000, timeoutMs: 60_000 });
    expect(more.stats?.successfulCalls, more.errors.slice(-2000)).toBe(30);
    const after = (await daemonLbstat(lb.statisticPort)).Workers.each.find((w) => w.index === 0)!;
    expect(after.NumberOfRequestsProcessed).toBeGreaterThan(before);
  });

  it('SIGTERM stops every worker, then the primary, with exit code 0', async () => {
    const pids = (await daemonLbstat(lb.statisticPort)).Workers.each.map((w) => w.pid);
    expect(pids).toHaveLength(2);
    expect(await lb.daemon.stop('SIGTERM')).toBe(0);
    for (const pid of pids) expect(alive(pid), `worker ${pid} is gone`).toBe(false);
    const stopping = lb.daemon.logs.findIndex((l) => l.msg.includes('Worker 1 stopping'));
    const stopped = lb.daemon.logs.findIndex((l) => l.msg === 'Load balancer stopped');
    expect(stopping).toBeGreaterThanOrEqual(0);
    expect(stopped, 'the primary stops last').toBeGreaterThan(stopping);
  });
});
