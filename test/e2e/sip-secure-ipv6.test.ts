// IPv6 beside IPv4 (ipv6Host=::1): a UDP call from an IPv6 client on ::1 reaches the IPv6 node with the
// balancer's IPv6 address in Via and Record-Route, while IPv4 clients keep to the IPv4 node.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { runSipp, startSipp } from '../helpers/sipp.js';
import { freePorts } from '../helpers/ports.js';
import { SipPeer, SDP, buildRequest, firstHop, inDialog, newToken, registerNode, uacDialog, waitActiveNodes } from '../helpers/tls-ua.js';

describe('SIP over UDP on IPv6 (ipv6Host=::1) beside IPv4', () => {
  let lb: Daemon;
  let node4: SipPeer;
  let node6: SipPeer;
  /** The balancer's UDP ports by address family (port 0: IPv4 and IPv6 get one each). */
  let ext4: number;
  let ext6: number;
  let int6: number;
  let heartbeatPort: number;
  let statisticPort: number;
  const stops: (() => void)[] = [];

  beforeAll(async () => {
    lb = await startDaemon({
      properties: { host: '127.0.0.1', ipv6Host: '::1', externalUdpPort: 0, internalUdpPort: 0, heartbeatPort: 0, statisticPort: 0, httpPort: '', nodeTimeout: 3000 },
    });
    [ext4, ext6, int6] = [lb.port('externalUdpPort'), lb.port('externalIpv6UdpPort'), lb.port('internalIpv6UdpPort')];
    const [hb, stat] = [lb.port('heartbeatPort'), lb.port('statisticPort')];
    heartbeatPort = hb;
    statisticPort = stat;
    node4 = await SipPeer.start({ transport: 'udp', listenPort: 0, autoAnswer: true });
    node6 = await SipPeer.start({ transport: 'udp', host: '::1', listenPort: 0, autoAnswer: true });
    stops.push(await registerNode(hb, { hostName: 'v4', ip: '127.0.0.1', udpPort: node4.port, sessionId: 'v4' }));
    stops.push(await registerNode(hb, { hostName: 'v6', ip: '::1', udpPort: node6.port, sessionId: 'v6' }));
    await waitActiveNodes(stat, 2);
  });

  afterAll(async () => {
    for (const s of stops) s();
    await lb?.stop();
    await node4?.close();
    await node6?.close();
  });

  async function placeCall(client: SipPeer, lbHost: string): Promise<string> {
    const callId = newToken();
    const from = `<sip:alice@${client.host.includes(':') ? `[${client.host}]` : client.host}>;tag=${newToken()}`;
    const ext = lbHost.includes(':') ? ext6 : ext4;
    client.send(buildRequest({ method: 'INVITE', ruri: `sip:bob@${lbHost.includes(':') ? `[${lbHost}]` : lbHost}:${ext}`, via: client.via(), from, to: '<sip:bob@example.test>', callId, cseq: 1, contact: client.contact(), body: SDP }), lbHost, ext);
    const ok = await client.waitFor((m) => !m.isRequest && m.status === 200 && m.callId === callId, 5000, '200 OK');
    const dialog = uacDialog({ callId, from, cseq: 1 }, ok.msg);
    const hop = firstHop(dialog);
    client.send(inDialog(dialog, 'ACK', client.via()), hop.host, hop.port);
    client.send(inDialog(dialog, 'BYE', client.via()), hop.host, hop.port);
    await client.waitFor((m) => !m.isRequest && m.status === 200 && m.cseq.method === 'BYE' && m.callId === callId, 5000, '200 to BYE');
    return callId;
  }

  it('an IPv6 client calls through [::1]: the IPv6 node answers, Via and Record-Route carry [::1], BYE follows', async () => {
    const client = await SipPeer.start({ transport: 'udp', host: '::1', user: 'alice' });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await placeCall(client, '::1'));
      for (const id of ids) {
        const inv = await node6.waitFor((m) => m.method === 'INVITE' && m.callId === id, 2000, 'the INVITE on the IPv6 node');
        expect(inv.msg.headerValues('via')[0]).toMatch(new RegExp(`^SIP/2.0/UDP \\[::1\\]:${int6};`));
        expect(inv.msg.headerValues('via')[1]).toMatch(new RegExp(`^SIP/2.0/UDP \\[::1\\]:${ext6};`));
        const rr = inv.msg.headerValues('record-route');
        expect(rr[0]).toContain(`<sip:[::1]:${int6};transport=udp;lr;node_host=::1;node_port=${node6.port}`);
        expect(rr[1]).toContain(`<sip:[::1]:${ext6};transport=udp;lr`);
        await node6.waitFor((m) => m.method === 'BYE' && m.callId === id, 2000, 'the BYE on the IPv6 node');
        expect(node4.received.some((r) => r.msg.callId === id)).toBe(false);
      }
    } finally {
      await client.close();
    }
  });

  it('sipp on ::1 places calls through the balancer to a sipp node on ::1', async () => {
    const [uasPort, uacPort] = await freePorts(2, '::1');
    const uas = await startSipp({ scenario: 'uas.xml', host: '::1', localPort: uasPort!, traceMessages: true, timeoutMs: 20_000 });
    const stop = await registerNode(heartbeatPort, { hostName: 'sipp6', ip: '::1', udpPort: uasPort!, sessionId: 'sipp6' });
    try {
      await waitActiveNodes(statisticPort, 3);
      // Two IPv6 nodes now: every call must still reach an IPv6 one, none the IPv4 node.
      const before = node4.received.length;
      const uac = await runSipp({ scenario: 'uac.xml', host: '::1', localPort: uacPort!, remote: `[::1]:${ext6}`, calls: 4, rate: 50, callLengthMs: 10, timeoutMs: 15_000 });
      expect(uac.stats?.successfulCalls, uac.output.slice(-2000)).toBe(4);
      expect(node4.received.length).toBe(before);
    } finally {
      stop();
      await uas.stop(500);
    }
  });

  it('IPv4 clients keep to the IPv4 node', async () => {
    const client = await SipPeer.start({ transport: 'udp', user: 'bob' });
    try {
      for (let i = 0; i < 3; i++) {
        const id = await placeCall(client, '127.0.0.1');
        await node4.waitFor((m) => m.method === 'BYE' && m.callId === id, 2000, 'the BYE on the IPv4 node');
        expect(node6.received.some((r) => r.msg.callId === id)).toBe(false);
      }
    } finally {
      await client.close();
    }
  });
});
