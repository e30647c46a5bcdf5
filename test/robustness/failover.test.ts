// Fast failover (issue 16 finding 4, issue 12 item 2 over UDP): a UDP node whose process dies leaves the
// new-call rotation as soon as the network says so (ICMP port unreachable on the balancer's socket connected
// to it), long before nodeTimeout (8.4 s here, as in the finding).

import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { freePort, freePorts } from '../helpers/ports.js';
import { startSipp, type Sipp } from '../helpers/sipp.js';
import { startHeartbeat, type HeartbeatSender } from '../helpers/sip-heartbeat.js';
import { HOST, startBalancer, type Balancer } from '../helpers/sip-balancer.js';
import { sipRequest } from './harness.js';
import { waitUntil } from '../helpers/wait.js';
import { lbstat } from '../helpers/json-heartbeat.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The README's bound: a dead UDP node is out of the rotation this soon after a request reached its closed port. */
const FAILOVER_BOUND_MS = 1000;
const NODE_TIMEOUT_MS = 30_000;

async function balancer(extra: Record<string, string | number | boolean> = {}): Promise<Balancer> {
  const lb = await startBalancer({ nodeTimeout: NODE_TIMEOUT_MS, heartbeatInterval: 200, ...extra });
  cleanups.push(() => lb.stop());
  return lb;
}

async function heartbeat(lb: Balancer, udpPort: number): Promise<HeartbeatSender> {
  const hb = await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort }, intervalMs: 300 });
  cleanups.push(() => hb.stop());
  await hb.waitAnswered(1);
  return hb;
}

/** A balancer with two sipp UAS nodes, A and B, registered by SIP heartbeats; A's heartbeat sender to stop it. */
async function twoSippNodes(): Promise<{ lb: Balancer; portA: number; portB: number; uacPort: number; uasA: Sipp; hbA: HeartbeatSender }> {
  const lb = await balancer();
  const [portA, portB, uacPort] = (await freePorts(3)) as [number, number, number];
  const uasA = await startSipp({ scenario: 'uas.xml', localPort: portA, timeoutMs: 60_000 });
  cleanups.push(() => uasA.stop(0));
  const uasB = await startSipp({ scenario: 'uas.xml', localPort: portB, timeoutMs: 60_000 });
  cleanups.push(() => uasB.stop(0));
  const hbA = await heartbeat(lb, portA);
  await heartbeat(lb, portB);
  return { lb, portA, portB, uacPort, uasA, hbA };
}

interface NodeInfo {
  udpPort: number;
  state: string;
  newCalls: number;
}

async function nodes(lb: Balancer): Promise<NodeInfo[]> {
  const res = await fetch(`http://${HOST}:${lb.statisticPort}/lbinfo`);
  const body = (await res.json()) as { 'Nodes info': { nodesIPv4: NodeInfo[] } };
  return body['Nodes info'].nodesIPv4;
}

describe('fast failover of a UDP node (issue 16 finding 4)', () => {
  it('kill -9 of one of two sipp nodes under steady calls loses at most one call, long before nodeTimeout', async () => {
    const { lb, portA, uacPort, uasA, hbA } = await twoSippNodes();

    const calls = 80;
    const uac: Sipp = await startSipp({
      scenario: 'uac.xml', localPort: uacPort, remote: `${HOST}:${lb.externalPort}`,
      calls, rate: 10, callLengthMs: 0, timeoutMs: 40_000,
      // A dialog caught by the kill sends its BYE to the live node, which does not know it: give up soon.
      recvTimeoutMs: 3000, args: ['-max_non_invite_retrans', '2'],
    });
    cleanups.push(() => uac.stop(0));

    // Both nodes take calls; then node A's process dies at once, and with it its heartbeats.
    await waitUntil(async () => (await nodes(lb)).every((n) => n.newCalls >= 5), 'calls on both nodes', 15_000);
    const killedAt = Date.now();
    process.kill(uasA.pid, 'SIGKILL');
    await hbA.stop();

    await waitUntil(async () => (await nodes(lb)).find((n) => n.udpPort === portA)?.state === 'bad', 'node A marked bad', NODE_TIMEOUT_MS);
    const markedAfter = Date.now() - killedAt;
    const deadAtMark = (await nodes(lb)).find((n) => n.udpPort === portA)!.newCalls;

    const result = await uac.done;
    const stats = result.stats!;
    // sipp retransmits an INVITE after 500 ms: the retransmission goes to the live node, so no call is lost,
    // except at most one caught mid-dialog by the kill.
    expect(stats.failedCalls + stats.currentCalls, result.output.slice(-1500)).toBeLessThanOrEqual(1);
    expect(stats.successfulCalls).toBeGreaterThanOrEqual(calls - 1);
    // The network said so: well within nodeTimeout (one call interval plus the 100 ms poll of this test).
    expect(markedAfter).toBeLessThan(NODE_TIMEOUT_MS / 2);
    const stat = await lbstat(lb.statisticPort);
    expect(stat.SipNodesMarkedUnreachable).toBeGreaterThanOrEqual(1);
    // No new call went to the dead node after it was marked.
    const after = await nodes(lb);
    expect(after.find((n) => n.udpPort === portA)?.newCalls).toBe(deadAtMark);
  }, 60_000);
});

/** The README's bound: every BYE of a dead node's dialog gets its final response this soon after it was first sent. */
const BYE_BOUND_MS = 3000;

describe('the dialogs of a node killed with -9 (issue 16 target)', () => {
  // Under steady calls, new INVITEs reach the dead node first and it is marked bad before most BYEs. With no new
  // call after the kill, a BYE is the first packet to reach the closed port: it is lost, and its retransmission
  // (sipp: 500 ms later) goes to the live node. Both within the bound.
  const cases = [
    { name: 'under steady calls', calls: 60, rate: 10, callLengthMs: 3000, killWhen: (n: NodeInfo[]) => n.every((x) => x.newCalls >= 10) },
    { name: 'when no new call follows the kill', calls: 30, rate: 15, callLengthMs: 5000, killWhen: (n: NodeInfo[]) => n.reduce((sum, x) => sum + x.newCalls, 0) >= 30 },
  ];
  for (const c of cases) {
    it(`complete their BYE within ${BYE_BOUND_MS} ms, at the surviving node, ${c.name}`, async () => {
      // Node B stands for the node that holds A's replicated dialogs: sipp answers a BYE it does not know 200 OK.
      const { lb, portA, uacPort, uasA, hbA } = await twoSippNodes();
      const uac: Sipp = await startSipp({
        scenario: 'uac.xml', localPort: uacPort, remote: `${HOST}:${lb.externalPort}`,
        calls: c.calls, rate: c.rate, callLengthMs: c.callLengthMs, timeoutMs: 40_000, recvTimeoutMs: 10_000, traceMessages: true,
      });
      cleanups.push(() => uac.stop(0));
      await waitUntil(async () => c.killWhen(await nodes(lb)), 'calls on both nodes', 15_000);
      const killedAt = Date.now();
      process.kill(uasA.pid, 'SIGKILL');
      await hbA.stop();

      const result = await uac.done;
      // Per dialog of A (its BYE routed through A, by the balancer's Record-Route) whose BYE was first sent after
      // the kill: from that first send to the final response.
      const firstBye = new Map<string, { at: number; ofA: boolean }>();
      const answered = new Map<string, number>();
      for (const m of result.messages) {
        if (m.direction === 'sent' && m.method === 'BYE' && !firstBye.has(m.callId!)) firstBye.set(m.callId!, { at: m.at, ofA: m.raw.includes(`node_port=${portA}`) });
        if (m.direction === 'received' && m.cseqMethod === 'BYE' && m.status! >= 200 && !answered.has(m.callId!)) answered.set(m.callId!, m.at);
      }
      const took = [...firstBye].filter(([, b]) => b.ofA && b.at >= killedAt).map(([callId, b]) => ({ callId, ms: (answered.get(callId) ?? Infinity) - b.at }));
      expect(took.length, 'dialogs of A hung up after the kill').toBeGreaterThanOrEqual(5);
      const slow = took.filter((t) => !(t.ms < BYE_BOUND_MS));
      expect(slow, `BYE completion times (ms): ${took.map((t) => Math.round(t.ms)).join(', ')}`).toEqual([]);
      expect(result.stats!.failedCalls, result.output.slice(-1500)).toBeLessThanOrEqual(1);
    }, 60_000);
  }
});

describe('a dead UDP node and isSend5xxResponse (issue 12 item 2)', () => {
  /** A UDP client that collects what it receives. */
  async function client(): Promise<{ socket: Socket; port: number; next(match: RegExp): Promise<string> }> {
    const socket = createSocket('udp4');
    const got: string[] = [];
    socket.on('message', (m) => got.push(m.toString('latin1')));
    await new Promise<void>((r) => socket.bind(0, HOST, () => r()));
    cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
    return {
      socket,
      port: socket.address().port,
      async next(match) {
        let found: string | undefined;
        await waitUntil(() => (found = got.find((t) => match.test(t))) !== undefined, `a response matching ${match}`, 5000);
        got.splice(got.indexOf(found!), 1);
        return found!;
      },
    };
  }

  it(`stops taking new calls within ${FAILOVER_BOUND_MS} ms of its port closing, then the client gets a 5xx`, async () => {
    const lb = await balancer({ isSend5xxResponse: true, isSend5xxResponseSatusCode: 500, isSend5xxResponseReasonHeader: 'No node left' });
    // A node that answered once and then closed its port (its process died).
    const node = createSocket('udp4');
    let reached = 0;
    node.on('message', () => reached++);
    await new Promise<void>((r) => node.bind(0, HOST, () => r()));
    const nodePort = node.address().port;
    const hb = await heartbeat(lb, nodePort);
    const c = await client();
    c.socket.send(sipRequest('INVITE', 'alive-1', c.port), lb.externalPort, HOST);
    await waitUntil(() => reached === 1, 'the INVITE at the live node');
    await new Promise<void>((r) => node.close(() => r()));
    await hb.stop();

    // The first new call after the death reaches the closed port; the ICMP answer marks the node at once.
    const sentAt = Date.now();
    c.socket.send(sipRequest('INVITE', 'dead-1', c.port), lb.externalPort, HOST);
    await waitUntil(async () => (await nodes(lb))[0]?.state === 'bad', 'the node marked bad', FAILOVER_BOUND_MS);
    expect(Date.now() - sentAt).toBeLessThan(FAILOVER_BOUND_MS);

    // The next new call, and the first call's retransmission, find no node: the configured status with
    // Retry-After and the RFC 3326 Reason.
    c.socket.send(sipRequest('INVITE', 'dead-2', c.port), lb.externalPort, HOST);
    const answer = await c.next(/^SIP\/2\.0 5\d\d [^]*Call-ID: dead-2/);
    expect(answer).toMatch(/^SIP\/2\.0 500 /);
    expect(answer).toMatch(/\r\nRetry-After: \d+/);
    expect(answer).toContain('\r\nReason: SIP;cause=500;text="No node left"\r\n');
    c.socket.send(sipRequest('INVITE', 'dead-1', c.port), lb.externalPort, HOST);
    await c.next(/^SIP\/2\.0 5\d\d [^]*Call-ID: dead-1/);
    const stat = await lbstat(lb.statisticPort);
    expect(stat.SipNodesMarkedUnreachable).toBe(1);
    expect(stat.SipNoNodeAvailable).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('a TCP node that refuses connections is marked bad too', async () => {
    const lb = await balancer({ isSend5xxResponse: true });
    const [udpPort, tcpPort] = [await freePort(), await freePort()];
    const hb = await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort, tcpPort }, intervalMs: 300 });
    cleanups.push(() => hb.stop());
    await hb.waitAnswered(1);
    const { connect } = await import('node:net');
    const socket = connect(lb.externalTcpPort, HOST);
    cleanups.push(() => void socket.destroy());
    await new Promise<void>((r) => socket.once('connect', () => r()));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.write(sipRequest('INVITE', 'tcp-1', socket.localPort!).toString('latin1').replace('SIP/2.0/UDP', 'SIP/2.0/TCP'));
    await waitUntil(() => /SIP\/2\.0 5\d\d /.test(text), 'a 5xx over TCP');
    await waitUntil(async () => (await nodes(lb))[0]?.state === 'bad', 'the node marked bad', FAILOVER_BOUND_MS);
    expect((await lbstat(lb.statisticPort)).SipNodesMarkedUnreachable).toBe(1);
  }, 30_000);
});
