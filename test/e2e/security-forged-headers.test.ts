// Issue 10, finding 5: X-Sip-Balancer-InitialRemoteAddr/Port are the balancer's to write. A client's own copies
// (any case, any number) never reach the node: a request without a body carries none, a REGISTER or a request
// with a body carries exactly one of each, with the client's real address. Over UDP and TCP.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBalancer, type Balancer } from '../helpers/sip-balancer.js';
import { RawClient, sipText } from '../helpers/canary.js';
import { SDP, SipPeer, registerNode, waitActiveNodes } from '../helpers/tls-ua.js';
import type { SipMessage } from '../../src/sip/message.js';

const FORGED = [
  'X-Sip-Balancer-InitialRemoteAddr: 198.51.100.66',
  'X-Sip-Balancer-InitialRemotePort: 6666',
  'x-sip-balancer-initialremoteaddr: 198.51.100.67',
  'X-SIP-BALANCER-INITIALREMOTEPORT: 6667',
];

function values(msg: SipMessage, name: string): string[] {
  return msg.headers.filter((h) => h.key === name.toLowerCase()).map((h) => h.value);
}

describe("a client cannot forge the balancer's X-Sip-Balancer-* headers", () => {
  let lb: Balancer;
  let node: SipPeer;
  let stopNode: () => void;

  beforeAll(async () => {
    lb = await startBalancer();
    node = await SipPeer.start({ transport: 'udp', listenPort: 0, autoAnswer: false });
    stopNode = await registerNode(lb.heartbeatPort, { hostName: 'node', ip: '127.0.0.1', udpPort: node.port, sessionId: 'node' });
    await waitActiveNodes(lb.statisticPort, 1);
  }, 30_000);

  afterAll(async () => {
    stopNode?.();
    await lb?.stop();
    await node?.close();
  });

  for (const transport of ['udp', 'tcp'] as const) {
    for (const method of ['OPTIONS', 'REGISTER', 'INVITE'] as const) {
      const withBody = method === 'INVITE';
      it(`${method} over ${transport.toUpperCase()}: ${method === 'OPTIONS' ? 'no copy reaches the node' : 'one copy of each, with the real address'}`, async () => {
        const client = await RawClient.open(transport, '127.0.0.2', '127.0.0.1', lb.sipPort('external', transport));
        const callId = `headers-${method}-${transport}@client`;
        try {
          const T = transport.toUpperCase();
          client.send(
            sipText(
              [
                `${method} sip:bob@127.0.0.1:${lb.sipPort('external', transport)} SIP/2.0`,
                `Via: SIP/2.0/${T} 127.0.0.2:${client.localPort};branch=z9hG4bK-h-${method}-${transport};rport`,
                'Max-Forwards: 70',
                'From: <sip:alice@example.test>;tag=a1',
                'To: <sip:bob@example.test>',
                `Call-ID: ${callId}`,
                `CSeq: 1 ${method}`,
                `Contact: <sip:alice@127.0.0.2:${client.localPort};transport=${transport}>`,
                ...FORGED,
                ...(withBody ? ['Content-Type: application/sdp'] : []),
              ],
              withBody ? SDP : '',
            ),
          );
          const got = (await node.waitFor((m) => m.callId === callId, 5000, `the ${method} at the node`)).msg;
          const addr = values(got, 'X-Sip-Balancer-InitialRemoteAddr');
          const port = values(got, 'X-Sip-Balancer-InitialRemotePort');
          if (method === 'OPTIONS') {
            expect(addr).toEqual([]);
            expect(port).toEqual([]);
          } else {
            expect(addr).toEqual(['127.0.0.2']);
            expect(port).toEqual([String(client.localPort)]);
          }
        } finally {
          client.close();
        }
      });
    }
  }
});
