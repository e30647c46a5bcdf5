// Node health from live traffic, end to end: a node that never answers and a node that answers 503 are
// marked bad by the daemon and get no more calls; the 503 node returns after its quarantine because it
// keeps sending heartbeats. The nodes are UDP sockets in this process, so the test controls every answer.

import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { startHeartbeat, type HeartbeatSender } from '../helpers/sip-heartbeat.js';
import { HOST, startBalancer, type Balancer } from './algorithm-harness.js';
import { waitUntil } from '../helpers/wait.js';

let cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

type Mode = 'ok' | 'silent' | '503';

/** A node that answers every INVITE with 200 OK, with 503, or not at all, and records what it got. */
class RawNode {
  readonly invites: string[] = [];
  private constructor(private readonly socket: Socket, readonly port: number, readonly mode: Mode) {
    socket.on('message', (buf, rinfo) => {
      const text = buf.toString('latin1');
      if (!text.startsWith('INVITE ')) return;
      const lines = text.split('\r\n');
      const callId = lines.find((l) => /^(Call-ID|i):/i.test(l))?.replace(/^[^:]+:\s*/, '') ?? '';
      this.invites.push(callId);
      if (mode === 'silent') return;
      const keep = lines.filter((l) => /^(Via|v|From|f|Call-ID|i|CSeq):/i.test(l));
      const to = lines.find((l) => /^(To|t):/i.test(l)) ?? 'To: <sip:x@x>';
      const status = mode === 'ok' ? '200 OK' : '503 Service Unavailable';
      const response = [`SIP/2.0 ${status}`, ...keep, `${to};tag=n${port}`, `Contact: <sip:${HOST}:${port}>`, 'Content-Length: 0', '', ''].join('\r\n');
      socket.send(Buffer.from(response, 'latin1'), rinfo.port, rinfo.address);
    });
  }

  static async start(mode: Mode): Promise<RawNode> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, HOST, () => resolve()));
    return new RawNode(s, s.address().port, mode);
  }

  close(): void {
    this.socket.close();
  }
}

/** Sends INVITEs (one per call, no dialog) to a balancer. */
class InviteSender {
  private constructor(private readonly socket: Socket, private readonly port: number) {}
  static async open(): Promise<InviteSender> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, HOST, () => resolve()));
    return new InviteSender(s, s.address().port);
  }
  invite(lbPort: number): string {
    const callId = `${randomBytes(8).toString('hex')}@health`;
    const text = [
      `INVITE sip:service@${HOST}:${lbPort} SIP/2.0`,
      `Via: SIP/2.0/UDP ${HOST}:${this.port};branch=z9hG4bK${randomBytes(6).toString('hex')}`,
      'Max-Forwards: 70',
      `From: <sip:uac@${HOST}>;tag=${callId.slice(0, 6)}`,
      `To: <sip:service@${HOST}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:uac@${HOST}:${this.port}>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    this.socket.send(Buffer.from(text, 'latin1'), lbPort, HOST);
    return callId;
  }
  close(): void {
    this.socket.close();
  }
}

async function nodeState(lb: Balancer, port: number): Promise<string | undefined> {
  const res = await fetch(`http://${HOST}:${lb.statisticPort}/lbinfo`);
  const info = ((await res.json()) as Record<string, unknown>)['Nodes info'] as { nodesIPv4: { udpPort?: number; state?: string }[] };
  return info.nodesIPv4.find((n) => Number(n.udpPort) === port)?.state;
}

async function setUp(properties: Record<string, string | number>, modes: Mode[]): Promise<{ lb: Balancer; nodes: RawNode[]; uac: InviteSender }> {
  const lb = await startBalancer({ nodeTimeout: 3000, ...properties });
  cleanups.push(() => lb.stop());
  const nodes: RawNode[] = [];
  const beats: HeartbeatSender[] = [];
  for (const mode of modes) {
    const node = await RawNode.start(mode);
    cleanups.push(() => node.close());
    nodes.push(node);
    const hb = await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort: node.port, tcpPort: node.port }, intervalMs: 300 });
    cleanups.push(() => hb.stop());
    beats.push(hb);
    await waitUntil(async () => (await nodeState(lb, node.port)) === 'active', `node ${node.port} registered`);
  }
  const uac = await InviteSender.open();
  cleanups.push(() => uac.close());
  return { lb, nodes, uac };
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('node health from traffic', () => {
  it('a node that never answers is marked bad and gets no more calls', async () => {
    const { lb, nodes, uac } = await setUp({ maxRequestNumberWithoutResponse: 3, maxResponseTime: 300, nodeQuarantine: 0 }, ['ok', 'silent']);
    const [ok, silent] = nodes as [RawNode, RawNode];
    for (let i = 0; i < 8; i++) {
      uac.invite(lb.externalPort);
      await pause(10);
    }
    await waitUntil(() => ok.invites.length + silent.invites.length === 8, 'eight INVITEs at the nodes');
    expect(await nodeState(lb, silent.port), 'unanswered, but not for maxResponseTime yet').toBe('active');
    await pause(400);
    for (let i = 0; i < 4; i++) {
      uac.invite(lb.externalPort);
      await pause(10);
    }
    await waitUntil(async () => (await nodeState(lb, silent.port)) === 'bad', 'the silent node marked bad');
    await lb.daemon.waitForLog(/is now bad .*requests without a response/, 1000);
    const before = silent.invites.length;
    const later = Array.from({ length: 10 }, () => uac.invite(lb.externalPort));
    await waitUntil(() => later.every((id) => ok.invites.includes(id)), 'ten more INVITEs at the good node');
    expect(silent.invites.length).toBe(before);
  });

  it('a node that answers 503 is marked bad beyond maxNumberResponsesWithError, and returns after its quarantine', async () => {
    const { lb, nodes, uac } = await setUp({ responsesStatusCodeNodeRemoval: 503, maxNumberResponsesWithError: 2, maxErrorTime: 10_000, nodeQuarantine: 1000 }, ['ok', '503']);
    const [ok, failing] = nodes as [RawNode, RawNode];
    for (let i = 0; i < 12; i++) {
      uac.invite(lb.externalPort);
      await pause(30);
    }
    await waitUntil(async () => (await nodeState(lb, failing.port)) === 'bad', 'the 503 node marked bad');
    await lb.daemon.waitForLog(/is now bad .*responses with status 503/, 1000);
    expect(failing.invites.length, 'three 503s mark it bad').toBeLessThanOrEqual(4);
    const calls = Array.from({ length: 6 }, () => uac.invite(lb.externalPort));
    await waitUntil(() => calls.every((id) => ok.invites.includes(id)), 'six INVITEs at the good node');
    // It keeps sending heartbeats: after the quarantine it takes calls again.
    await waitUntil(async () => (await nodeState(lb, failing.port)) === 'active', 'the node back to active', 4000);
    await lb.daemon.waitForLog(/quarantine of 1000 ms over/, 1000);
    const count = failing.invites.length;
    for (let i = 0; i < 4; i++) uac.invite(lb.externalPort);
    await waitUntil(() => failing.invites.length > count, 'a new call at the returned node');
  });
});
