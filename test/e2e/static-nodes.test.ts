// Static nodes probed with OPTIONS, with sipp (-aa answers OPTIONS) as a SIP server that cannot heartbeat:
// it is in after its first answer and takes calls, out within the stated bound once stopped, back once it
// answers again; a node that also heartbeats is one node; a bad staticNodes entry stops start-up with file:line.

import { afterEach, describe, expect, it } from 'vitest';
import { startBalancer, HOST, type Balancer } from '../helpers/sip-balancer.js';
import { runSipp, startSipp, type Sipp } from '../helpers/sipp.js';
import { startHeartbeat, type HeartbeatSender } from '../helpers/sip-heartbeat.js';
import { freePorts } from '../helpers/ports.js';
import { runCli, tempFile } from '../helpers/daemon.js';

interface ProbedNode {
  hostname: string;
  udpPort?: number;
  tcpPort?: number;
  state: string;
  permanent?: boolean;
  badReason?: string;
  probe?: { state: string; lastRttMs?: number; consecutiveFailures: number };
}

const PROBE = { nodeProbeInterval: 250, nodeProbeTimeout: 150, nodeProbeFailures: 2, nodeProbeSuccesses: 2 };
const BOUND_MS = PROBE.nodeProbeFailures * PROBE.nodeProbeInterval + PROBE.nodeProbeTimeout;

let lb: Balancer | undefined;
const sipps: Sipp[] = [];
const heartbeats: HeartbeatSender[] = [];
afterEach(async () => {
  await Promise.all(heartbeats.map((h) => h.stop()));
  await Promise.all(sipps.map((s) => s.stop(0)));
  await lb?.stop();
  lb = undefined;
  sipps.length = heartbeats.length = 0;
});

async function nodes(): Promise<ProbedNode[]> {
  const info = (await (await fetch(`http://${HOST}:${lb!.statisticPort}/lbinfo`)).json()) as { 'Nodes info': { nodesIPv4: ProbedNode[] } };
  return info['Nodes info'].nodesIPv4;
}

async function waitForNode(test: (n: ProbedNode | undefined) => boolean, timeoutMs = 10_000): Promise<ProbedNode | undefined> {
  const until = Date.now() + timeoutMs;
  let last: ProbedNode[] = [];
  while (Date.now() < until) {
    last = await nodes();
    if (test(last[0])) return last[0];
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`node state not reached in ${timeoutMs} ms; /lbinfo: ${JSON.stringify(last)}`);
}

function startServer(port: number, transport: 'u1' | 't1' = 'u1'): Promise<Sipp> {
  return startSipp({ scenario: 'uas.xml', localPort: port, transport, args: ['-aa'], timeoutMs: 60_000 }).then((s) => (sipps.push(s), s));
}

describe('static nodes probed with OPTIONS', () => {
  it('a sipp server is in after it answers and takes calls, out within the bound once stopped, back once restarted', async () => {
    const [serverPort, callerPort] = await freePorts(2);
    const server = await startServer(serverPort!);
    lb = await startBalancer({ staticNodes: `${HOST}:${serverPort}`, ...PROBE });
    await lb.daemon.waitForLog(`a silent node is out within ${BOUND_MS} ms`);

    const up = await waitForNode((n) => n?.state === 'active');
    expect(up).toMatchObject({ hostname: `static-${HOST}:${serverPort}`, udpPort: serverPort, permanent: true, probe: { state: 'up' } });
    expect(up!.probe!.lastRttMs).toBeGreaterThanOrEqual(0);

    const calls = await runSipp({ scenario: 'uac.xml', localPort: callerPort!, remote: `${HOST}:${lb.externalPort}`, calls: 3, rate: 10, callLengthMs: 10, timeoutMs: 20_000 });
    expect(calls.stats?.successfulCalls, calls.output.slice(-1500)).toBe(3);

    // Stopped: out (bad, no new calls) within nodeProbeFailures × nodeProbeInterval + nodeProbeTimeout.
    await server.stop(0);
    const stoppedAt = Date.now();
    const down = await waitForNode((n) => n?.state === 'bad');
    const took = Date.now() - stoppedAt;
    expect(down).toMatchObject({ probe: { state: 'down' }, badReason: expect.stringContaining('OPTIONS probes missed') });
    // The bound plus one /lbinfo round and scheduling slack on a loaded machine.
    expect(took).toBeLessThanOrEqual(BOUND_MS + 1000);
    const refused = await runSipp({ scenario: 'uac-expect-503.xml', localPort: callerPort!, remote: `${HOST}:${lb.externalPort}`, calls: 1, timeoutMs: 15_000 });
    expect(refused.stats?.successfulCalls, refused.output.slice(-1500)).toBe(1);

    // Restarted: back after nodeProbeSuccesses answers.
    await startServer(serverPort!);
    await waitForNode((n) => n?.state === 'active' && n.probe?.state === 'up');
    const again = await runSipp({ scenario: 'uac.xml', localPort: callerPort!, remote: `${HOST}:${lb.externalPort}`, calls: 2, rate: 10, callLengthMs: 10, timeoutMs: 20_000 });
    expect(again.stats?.successfulCalls, again.output.slice(-1500)).toBe(2);
    expect(lb.daemon.logs.some((l) => /Probed node .* is down/.test(l.msg))).toBe(true);
  }, 90_000);

  it('a probed node that also heartbeats is one node, carrying both its heartbeat and its probe state', async () => {
    const [serverPort] = await freePorts(1);
    await startServer(serverPort!);
    lb = await startBalancer({ staticNodes: `${HOST}:${serverPort}`, ...PROBE });
    await waitForNode((n) => n?.state === 'active');
    heartbeats.push(await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort: serverPort!, tcpPort: serverPort!, hostname: 'as-hb' }, intervalMs: 200 }));
    await waitForNode((n) => n?.hostname === 'as-hb');
    const list = await nodes();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ hostname: 'as-hb', state: 'active', probe: { state: 'up' } });
    expect(list[0]!.permanent).toBeUndefined();

    // The heartbeats stop: after nodeTimeout the static entry is the node again (still probed, still one node).
    await heartbeats[0]!.stop();
    const back = await waitForNode((n) => n?.hostname === `static-${HOST}:${serverPort}`);
    expect(back).toMatchObject({ state: 'active', probe: { state: 'up' } });
    expect(await nodes()).toHaveLength(1);
  }, 60_000);

  it('probes over TCP: up while sipp answers on its TCP port, out once it stops', async () => {
    const [serverPort] = await freePorts(1);
    const server = await startServer(serverPort!, 't1');
    lb = await startBalancer({ staticNodes: `${HOST}:${serverPort};transport=tcp`, ...PROBE });
    const up = await waitForNode((n) => n?.state === 'active');
    expect(up).toMatchObject({ tcpPort: serverPort, probe: { state: 'up' } });
    expect(up!.udpPort).toBeUndefined();
    await server.stop(0);
    await waitForNode((n) => n?.state === 'bad' && n.probe?.state === 'down');
  }, 60_000);

  it('a staticNodes entry that does not parse stops start-up with file:line', async () => {
    const file = tempFile('lb.properties', 'host=127.0.0.1\nstaticNodes=127.0.0.1:5070,127.0.0.1:5080;transport=sctp\nnodeProbeAliveStatuses=200-299,99\n');
    const { code, stderr } = await runCli(['--config', file]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:2: staticNodes=127.0.0.1:5070,127.0.0.1:5080;transport=sctp: "127.0.0.1:5080;transport=sctp": transport=sctp: expected udp, tcp or tls`);
    expect(stderr).toContain(`${file}:3: nodeProbeAliveStatuses=200-299,99: "99" is not a SIP status code or range`);
  });
});
