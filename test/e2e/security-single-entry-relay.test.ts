// Issue 10, finding 3: in single-entry mode a client that writes a node's address in its top Via is still a
// client ("from a node" is decided by the packet's source address): its request goes to a node, never where its
// Request-URI says. UDP and TCP over IPv4, UDP over IPv6; a canary named by the Request-URI hears nothing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBalancer, type Balancer } from '../helpers/sip-balancer.js';
import { Canary, RawClient, sipText } from '../helpers/canary.js';
import { SipPeer, registerNode, waitActiveNodes } from '../helpers/tls-ua.js';

describe('single-entry mode is no open relay', () => {
  let lb: Balancer;
  let nodeUdp: SipPeer;
  let nodeTcp: SipPeer;
  let canary: Canary;
  let canary6: Canary;
  let stopNode: () => void;

  beforeAll(async () => {
    lb = await startBalancer({ internalPort: '', ipv6Host: '::1' });
    nodeUdp = await SipPeer.start({ transport: 'udp', listenPort: 0, autoAnswer: false });
    nodeTcp = await SipPeer.start({ transport: 'tcp', listenPort: 0, autoAnswer: false });
    stopNode = await registerNode(lb.heartbeatPort, { hostName: 'node', ip: '127.0.0.1', udpPort: nodeUdp.port, tcpPort: nodeTcp.port, sessionId: 'node' });
    await waitActiveNodes(lb.statisticPort, 1);
    canary = await Canary.start('127.0.0.3');
    canary6 = await Canary.start('::1');
  }, 30_000);

  afterAll(async () => {
    stopNode?.();
    await lb?.stop();
    await nodeUdp?.close();
    await nodeTcp?.close();
    await canary?.close();
    await canary6?.close();
  });

  const cases = [
    { name: 'UDP over IPv4', transport: 'udp' as const, from: '127.0.0.2', lbHost: '127.0.0.1', target: () => canary, node: () => nodeUdp },
    { name: 'TCP over IPv4', transport: 'tcp' as const, from: '127.0.0.2', lbHost: '127.0.0.1', target: () => canary, node: () => nodeTcp },
    { name: 'UDP over IPv6', transport: 'udp' as const, from: '::1', lbHost: '::1', target: () => canary6, node: () => nodeUdp },
  ];

  for (const c of cases) {
    it(`a request whose top Via names the node goes to the node, not to its Request-URI (${c.name})`, async () => {
      canary.heard.length = 0;
      canary6.heard.length = 0;
      const client = await RawClient.open(c.transport, c.from, c.lbHost, lb.sipPort('external', c.transport, c.lbHost === '::1' ? 6 : 4));
      const T = c.transport.toUpperCase();
      const callId = `relay-${c.transport}-${c.from}@attacker`;
      try {
        client.send(
          sipText([
            `MESSAGE sip:victim@${c.target().hostPort};transport=${c.transport} SIP/2.0`,
            // The node's own address, as if the node had sent it.
            `Via: SIP/2.0/${T} 127.0.0.1:${c.node().port};branch=z9hG4bK-relay-${c.transport}`,
            'Max-Forwards: 70',
            'From: <sip:spam@example.test>;tag=s1',
            'To: <sip:victim@example.test>',
            `Call-ID: ${callId}`,
            'CSeq: 1 MESSAGE',
            'Content-Type: text/plain',
          ], 'relayed spam\r\n'),
        );
        // Until the node receives it (the new behaviour) or a canary does (the old one).
        const seen = await Promise.race([
          c.node().waitFor((m) => m.callId === callId, 5000, 'the client request at the node').then(() => 'node'),
          new Promise<string>((resolve) => {
            const t = setInterval(() => {
              if (canary.heard.length + canary6.heard.length > 0) {
                clearInterval(t);
                resolve('canary');
              }
            }, 20);
            setTimeout(() => clearInterval(t), 5500);
          }),
        ]);
        expect(canary.heard).toEqual([]);
        expect(canary6.heard).toEqual([]);
        expect(seen).toBe('node');
      } finally {
        client.close();
      }
    });
  }
});
