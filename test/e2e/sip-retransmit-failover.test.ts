// A retransmitted INVITE goes to a live node once its first node is marked dead (issue 16 item 4): the
// balancer remembers which node each recent INVITE went to, but never sends a retransmission to a node that
// has since been marked bad. Two raw UDP nodes, a raw UDP client; the first node's process "dies" (its port
// closes), and the client keeps retransmitting the same INVITE as RFC 3261 Timer A would.

import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { startHeartbeat, type HeartbeatSender } from '../helpers/sip-heartbeat.js';
import { HOST, startBalancer, type Balancer } from '../helpers/sip-balancer.js';
import { sipRequest } from '../robustness/harness.js';
import { waitUntil } from '../helpers/wait.js';
import { lbstat } from '../helpers/json-heartbeat.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface UdpPeer {
  socket: Socket;
  port: number;
  /** Call-IDs of the INVITEs received, in order. */
  invites: string[];
  closed: boolean;
}

async function peer(): Promise<UdpPeer> {
  const socket = createSocket('udp4');
  const p: UdpPeer = { socket, port: 0, invites: [], closed: false };
  socket.on('message', (m) => {
    const text = m.toString('latin1');
    if (text.startsWith('INVITE ')) p.invites.push(/\r\nCall-ID: *([^\r]*)/i.exec(text)?.[1] ?? '');
  });
  await new Promise<void>((r) => socket.bind(0, HOST, () => r()));
  p.port = socket.address().port;
  cleanups.push(() => (p.closed ? undefined : new Promise<void>((r) => socket.close(() => r()))));
  return p;
}

async function heartbeat(lb: Balancer, udpPort: number): Promise<HeartbeatSender> {
  const hb = await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort }, intervalMs: 300 });
  cleanups.push(() => hb.stop());
  await hb.waitAnswered(1);
  return hb;
}

async function nodeStates(lb: Balancer): Promise<Map<number, string>> {
  const res = await fetch(`http://${HOST}:${lb.statisticPort}/lbinfo`);
  const body = (await res.json()) as { 'Nodes info': { nodesIPv4: { udpPort: number; state: string }[] } };
  return new Map(body['Nodes info'].nodesIPv4.map((n) => [n.udpPort, n.state]));
}

describe('a retransmitted INVITE after its node died (issue 16 item 4)', () => {
  it('reaches the live node once the first one is marked dead, long before nodeTimeout', async () => {
    const lb = await startBalancer({ nodeTimeout: 30_000, heartbeatInterval: 200 });
    cleanups.push(() => lb.stop());
    const a = await peer();
    const b = await peer();
    const hbA = await heartbeat(lb, a.port);
    const hbB = await heartbeat(lb, b.port);
    const client = await peer();
    const invite = sipRequest('INVITE', 'retransmit-1', client.port);

    client.socket.send(invite, lb.externalPort, HOST);
    await waitUntil(() => a.invites.length + b.invites.length === 1, 'the INVITE at one node');
    const [first, other, hbFirst] = a.invites.length === 1 ? [a, b, hbA] : [b, a, hbB];
    // The retransmission memory holds: a second copy goes to the same node while it lives.
    client.socket.send(invite, lb.externalPort, HOST);
    await waitUntil(() => first.invites.length === 2, 'the retransmission at the same node');
    expect(other.invites).toEqual([]);

    // The first node's process dies: its port closes and its heartbeats stop.
    first.closed = true;
    await new Promise<void>((r) => first.socket.close(() => r()));
    await hbFirst.stop();

    // Timer A: the client retransmits. One copy may still reach the closed port (which is how the balancer
    // learns it is gone); a later one goes to the live node.
    const startedAt = Date.now();
    let sent = 0;
    while (other.invites.length === 0 && sent < 10) {
      client.socket.send(invite, lb.externalPort, HOST);
      sent++;
      await waitUntil(() => other.invites.length > 0, 'a retransmission at the live node', 300).catch(() => undefined);
    }
    expect(other.invites).toEqual(['retransmit-1']);
    expect(sent).toBeLessThanOrEqual(3);
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect((await nodeStates(lb)).get(first.port)).toBe('bad');
    // The memory behind it is bounded and visible: one Call-ID remembered, nothing evicted.
    const stat = await lbstat(lb.statisticPort);
    expect(stat.SipRecentInvites).toBe(1);
    expect(stat.SipRecentInvitesEvicted).toBe(0);
  }, 30_000);
});
