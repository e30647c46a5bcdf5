// Issue 10, finding 1: a client must never become a node. A forged response naming `SIP/2.0/TCP attacker:port`
// must not make the balancer connect to the attacker from its internal side; and a connection the balancer
// opened is never trusted as a node's once it no longer leads to a registered node: a SIP heartbeat on it is
// refused and counted, and registers nothing.

import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { balancerForSuite, type Balancer } from '../helpers/sip-balancer.js';
import { Canary, RawClient, droppedFor, sipText } from '../helpers/canary.js';
import { heartbeatRequest } from '../helpers/sip-heartbeat.js';
import { registerNode } from '../helpers/json-heartbeat.js';
import { SDP, lbstat, lbstatUntil } from '../helpers/tls-ua.js';
import { waitUntil } from '../helpers/wait.js';

const ATTACKER = '127.0.0.3';

async function nodeIps(lb: Balancer): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${lb.statisticPort}/lbinfo`);
  const info = (await res.json()) as { 'Nodes info': { nodesIPv4: { ip: string }[]; nodesIPv6: { ip: string }[] } };
  return [...info['Nodes info'].nodesIPv4, ...info['Nodes info'].nodesIPv6].map((n) => n.ip);
}

/** The attacker's heartbeat: version 99, so that every new call would go to it. */
function attackerHeartbeat(lb: Balancer, port: number): Buffer {
  return heartbeatRequest({ balancerPort: lb.internalPort, node: { ip: ATTACKER, udpPort: port, tcpPort: port, version: '99', sessionId: 'evil' } }, port, 1, 'evil-heartbeat@attacker');
}

describe('a client cannot become a node', () => {
  let lb: Balancer;
  balancerForSuite((started) => (lb = started));

  it('a forged TCP response naming the attacker opens no connection to it, so no heartbeat can come back on one', async () => {
    // The attacker's listener answers any connection with a heartbeat, as in the report.
    const canary = await Canary.start(ATTACKER, (socket) => socket.write(attackerHeartbeat(lb, canary.port)));
    const client = await RawClient.open('tcp', '127.0.0.2', '127.0.0.1', lb.externalTcpPort);
    try {
      const before = droppedFor(await lbstat(lb.statisticPort), 'response-not-to-node');
      client.send(
        sipText([
          'SIP/2.0 200 OK',
          `Via: SIP/2.0/TCP 127.0.0.1:${lb.externalPort};branch=z9hG4bKevil_0;rport`,
          `Via: SIP/2.0/TCP 127.0.0.1:${lb.internalPort};branch=z9hG4bKevilzsd_0;rport`,
          `Via: SIP/2.0/TCP ${canary.hostPort};branch=z9hG4bK-attacker`,
          'From: <sip:a@example.test>;tag=1',
          'To: <sip:b@example.test>;tag=2',
          'Call-ID: become-a-node@attacker',
          'CSeq: 1 INVITE',
        ]),
      );
      const m = await lbstatUntil(lb.statisticPort, (x) => droppedFor(x, 'response-not-to-node') > before || canary.connections > 0 || Number(x.SipHeartbeats) > 0);
      expect(canary.connections).toBe(0);
      expect(m.SipHeartbeats).toBe(0);
      expect(droppedFor(m, 'response-not-to-node')).toBe(before + 1);
      expect(await nodeIps(lb)).not.toContain(ATTACKER);
    } finally {
      client.close();
      await canary.close();
    }
  });

  it('a heartbeat on a connection the balancer opened, once that address is no node, is refused and registers nothing', async () => {
    // A node at ATTACKER takes a call over TCP (the balancer connects to it), then leaves the registry; its
    // address keeps the balancer's connection and sends a heartbeat on it.
    let toNode: Socket | undefined;
    const canary = await Canary.start(ATTACKER, (socket) => (toNode = socket));
    const stopNode = await registerNode(lb.heartbeatPort, { hostName: 'short-lived', ip: ATTACKER, tcpPort: canary.port, udpPort: canary.port, sessionId: 'short-lived' }, 200);
    const client = await RawClient.open('tcp', '127.0.0.2', '127.0.0.1', lb.externalTcpPort);
    try {
      await waitUntil(async () => (await nodeIps(lb)).includes(ATTACKER), 'the attacker listed as a node', 5000);
      client.send(
        sipText(
          [
            `INVITE sip:bob@127.0.0.1:${lb.externalPort} SIP/2.0`,
            `Via: SIP/2.0/TCP 127.0.0.2:${client.localPort};branch=z9hG4bK-call-1`,
            'Max-Forwards: 70',
            'From: <sip:alice@example.test>;tag=a1',
            'To: <sip:bob@example.test>',
            'Call-ID: outbound-connection@client',
            'CSeq: 1 INVITE',
            `Contact: <sip:alice@127.0.0.2:${client.localPort};transport=tcp>`,
            'Content-Type: application/sdp',
          ],
          SDP,
        ),
      );
      await waitUntil(() => toNode !== undefined && canary.heard.some((h) => h.data.includes('outbound-connection@client')), 'the request at the node and the canary', 5000);
      stopNode();
      await waitUntil(async () => !(await nodeIps(lb)).includes(ATTACKER), 'the attacker listed as a node', 5000);

      const before = await lbstat(lb.statisticPort);
      toNode!.write(attackerHeartbeat(lb, canary.port));
      const m = await lbstatUntil(lb.statisticPort, (x) => Number(x.SipNodeSourceRefused) > Number(before.SipNodeSourceRefused ?? 0) || Number(x.SipHeartbeats) > Number(before.SipHeartbeats));
      expect(m.SipHeartbeats).toBe(before.SipHeartbeats);
      expect(m.SipNodeSourceRefused).toBe(Number(before.SipNodeSourceRefused) + 1);
      expect(await nodeIps(lb)).not.toContain(ATTACKER);
    } finally {
      stopNode();
      client.close();
      await canary.close();
    }
  });
});
