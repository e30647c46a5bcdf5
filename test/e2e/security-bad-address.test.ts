// Issue 10, finding 4: a bad address in a header (sip:x@localhost:0, rport=99999, a Via port 0) is a counted drop
// (bad-address): never an exception that reaches the process-wide handler, never a warning with a stack trace per
// message. Many such messages give one warning at most (once per cause per interval).

import { describe, expect, it } from 'vitest';
import { balancerForSuite, type Balancer } from '../helpers/sip-balancer.js';
import { RawClient, droppedFor, sipText } from '../helpers/canary.js';
import { lbstatUntil } from '../helpers/tls-ua.js';

const REPEAT = 10;

function request(ruri: string, via: string, n: number): string {
  return sipText([
    `MESSAGE ${ruri} SIP/2.0`,
    `Via: ${via};branch=z9hG4bK-bad-${n}`,
    'Max-Forwards: 70',
    'From: <sip:a@example.test>;tag=a',
    'To: <sip:b@example.test>',
    `Call-ID: bad-${n}@peer`,
    'CSeq: 1 MESSAGE',
  ]);
}

function response(vias: string[], n: number): string {
  return sipText(['SIP/2.0 200 OK', ...vias.map((v) => `Via: ${v}`), 'From: <sip:a@example.test>;tag=a', 'To: <sip:b@example.test>;tag=b', `Call-ID: bad-r-${n}@peer`, 'CSeq: 1 MESSAGE']);
}

describe('bad addresses in headers are counted drops', () => {
  let lb: Balancer;
  balancerForSuite((started) => (lb = started));

  it('node-side requests to localhost:0 and 127.0.0.3:0 (UDP, TCP), a response with rport=99999, a client Via with port 0', async () => {
    const nodeUdp = await RawClient.open('udp', '127.0.0.1', '127.0.0.1', lb.internalPort);
    const nodeTcp = await RawClient.open('tcp', '127.0.0.1', '127.0.0.1', lb.internalTcpPort);
    const client = await RawClient.open('udp', '127.0.0.2', '127.0.0.1', lb.externalPort);
    try {
      for (let n = 0; n < REPEAT; n++) {
        // A request from the node side whose Request-URI names no valid port (the lookup path, then the literal one).
        nodeUdp.send(request('sip:x@localhost:0', `SIP/2.0/UDP 127.0.0.1:${nodeUdp.localPort}`, n));
        nodeTcp.send(request('sip:x@127.0.0.3:0;transport=tcp', `SIP/2.0/TCP 127.0.0.1:${nodeTcp.localPort}`, n));
        // A node's response whose client Via carries rport=99999.
        nodeUdp.send(
          response(
            [
              `SIP/2.0/UDP 127.0.0.1:${lb.internalPort};branch=z9hG4bKr${n}zsd_0`,
              `SIP/2.0/UDP 127.0.0.1:${lb.externalPort};branch=z9hG4bKr${n}_0`,
              'SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-c;received=127.0.0.2;rport=99999',
            ],
            n,
          ),
        );
        // A client whose Via says port 0: the balancer's own 503 (no node) cannot be sent there.
        client.send(request(`sip:b@127.0.0.1:${lb.externalPort}`, 'SIP/2.0/UDP 127.0.0.2:0', 100 + n));
      }
      const total = 4 * REPEAT;
      const uncaught = (): boolean => lb.daemon.logs.some((l) => l.msg?.includes('uncaught'));
      const m = await lbstatUntil(lb.statisticPort, (x) => droppedFor(x, 'bad-address') >= total || droppedFor(x, 'error') >= total || uncaught(), 10_000);
      expect(lb.daemon.logs.filter((l) => l.msg?.includes('uncaught')).map((l) => l.msg)).toEqual([]);
      expect(droppedFor(m, 'error')).toBe(0);
      expect(droppedFor(m, 'bad-address')).toBe(total);
      // No stack traces above debug, and one warning for the lot (the daemon logs at info).
      expect(lb.daemon.logs.filter((l) => l.level >= 40 && l.err !== undefined)).toEqual([]);
      expect(lb.daemon.logs.filter((l) => l.level >= 40 && l.cause === 'bad-address')).toHaveLength(1);
    } finally {
      nodeUdp.close();
      nodeTcp.close();
      client.close();
    }
  });
});
