// Issue 10, finding 2: a client's forged response whose top Via is the balancer's must not be delivered where
// its next Via says. It goes only to a node; otherwise it is dropped and counted (response-not-to-node). A canary
// on another address hears nothing, over UDP and TCP, IPv4 and IPv6, in two-port and single-entry mode.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBalancer, type Balancer } from '../helpers/sip-balancer.js';
import { Canary, RawClient, droppedFor, sipText } from '../helpers/canary.js';
import { lbstat, lbstatUntil } from '../helpers/tls-ua.js';

const REASON = 'response-not-to-node';

/** A 200 OK that claims to answer a node-initiated request, with the canary as the next hop after the balancer. */
function forgedResponse(transport: 'UDP' | 'TCP', balancerVias: string[], canary: Canary, n: number): string {
  return sipText(
    [
      'SIP/2.0 200 OK',
      ...balancerVias.map((v) => `Via: SIP/2.0/${transport} ${v};branch=z9hG4bKforged${n}_0;rport`),
      `Via: SIP/2.0/${transport} ${canary.hostPort};branch=z9hG4bK-canary-${n}`,
      'From: <sip:node@example.test>;tag=n1',
      'To: <sip:victim@example.test>;tag=v1',
      `Call-ID: forged-${n}@attacker`,
      'CSeq: 1 INVITE',
      'Content-Type: text/plain',
    ],
    'a body the attacker wants delivered\r\n',
  );
}

async function expectDropped(lb: Balancer, before: number, canaries: Canary[]): Promise<void> {
  // Until the balancer has counted the drop, or a canary heard something (the old behaviour).
  const m = await lbstatUntil(lb.statisticPort, (x) => droppedFor(x, REASON) > before || canaries.some((c) => c.heard.length > 0));
  for (const c of canaries) expect(c.heard).toEqual([]);
  expect(droppedFor(m, REASON)).toBe(before + 1);
}

describe('forged responses from a client (two-port mode, IPv4 and IPv6)', () => {
  let lb: Balancer;
  let canary: Canary;
  let canary6: Canary;

  beforeAll(async () => {
    lb = await startBalancer({ ipv6Host: '::1' });
    canary = await Canary.start('127.0.0.3');
    canary6 = await Canary.start('::1');
  }, 30_000);

  beforeEach(() => {
    canary.heard.length = 0;
    canary6.heard.length = 0;
  });

  afterAll(async () => {
    await lb?.stop();
    await canary?.close();
    await canary6?.close();
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`drops a ${transport.toUpperCase()} response whose next Via names a canary on IPv4`, async () => {
      const before = droppedFor(await lbstat(lb.statisticPort), REASON);
      const client = await RawClient.open(transport, '127.0.0.2', '127.0.0.1', lb.sipPort('external', transport));
      try {
        const T = transport === 'udp' ? 'UDP' : 'TCP';
        client.send(forgedResponse(T, [`127.0.0.1:${lb.sipPort('external', transport)}`, `127.0.0.1:${lb.sipPort('internal', transport)}`], canary, 1));
        await expectDropped(lb, before, [canary, canary6]);
      } finally {
        client.close();
      }
    });
  }

  it('drops a UDP response from an IPv6 client whose next Via names a canary on [::1]', async () => {
    const before = droppedFor(await lbstat(lb.statisticPort), REASON);
    const client = await RawClient.open('udp', '::1', '::1', lb.sipPort('external', 'udp', 6));
    try {
      client.send(forgedResponse('UDP', [`[::1]:${lb.sipPort('external', 'udp', 6)}`, `[::1]:${lb.sipPort('internal', 'udp', 6)}`], canary6, 2));
      await expectDropped(lb, before, [canary, canary6]);
    } finally {
      client.close();
    }
  });
});

describe('forged responses from a client (single-entry mode)', () => {
  let lb: Balancer;
  let canary: Canary;

  beforeAll(async () => {
    lb = await startBalancer({ internalPort: '' });
    canary = await Canary.start('127.0.0.3');
  }, 30_000);

  beforeEach(() => {
    canary.heard.length = 0;
  });

  afterAll(async () => {
    await lb?.stop();
    await canary?.close();
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`drops a ${transport.toUpperCase()} response whose next Via names a canary`, async () => {
      const before = droppedFor(await lbstat(lb.statisticPort), REASON);
      const client = await RawClient.open(transport, '127.0.0.2', '127.0.0.1', lb.sipPort('external', transport));
      try {
        client.send(forgedResponse(transport === 'udp' ? 'UDP' : 'TCP', [`127.0.0.1:${lb.sipPort('external', transport)}`], canary, 3));
        await expectDropped(lb, before, [canary]);
      } finally {
        client.close();
      }
    });
  }
});
