// Issue 10, finding 6: the node side has a gate. With nodeAllowedSources, SIP heartbeats, JSON heartbeats (403)
// and node-side SIP traffic from any other source are refused and counted in /lbstat and /metrics; an allowed
// node still registers. Without it, start-up warns that the node side listens on the external address, and
// /lbinfo does not publish the session ids that `stop` needs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { startBalancer, type Balancer } from '../helpers/sip-balancer.js';
import { Canary, RawClient, sipText } from '../helpers/canary.js';
import { heartbeatRequest } from '../helpers/sip-heartbeat.js';
import { registerNode } from '../helpers/json-heartbeat.js';
import { lbstat, lbstatUntil } from '../helpers/tls-ua.js';

/** POSTs a JSON heartbeat from a chosen local address; resolves with the status. */
function postFrom(localAddress: string, port: number, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function lbinfoNodes(lb: Balancer): Promise<Record<string, unknown>[]> {
  const info = (await (await fetch(`http://127.0.0.1:${lb.statisticPort}/lbinfo`)).json()) as { 'Nodes info': { nodesIPv4: Record<string, unknown>[] } };
  return info['Nodes info'].nodesIPv4;
}

describe('nodeAllowedSources gates the node side', () => {
  let lb: Balancer;
  let canary: Canary;

  beforeAll(async () => {
    lb = await startBalancer({ nodeAllowedSources: '127.0.0.1/32, ::1' });
    canary = await Canary.start('127.0.0.3');
  }, 30_000);

  afterAll(async () => {
    await lb?.stop();
    await canary?.close();
  });

  it('refuses a SIP heartbeat and a node-side request from 127.0.0.2 (counted), and accepts a heartbeat from 127.0.0.1', async () => {
    const outsider = await RawClient.open('udp', '127.0.0.2', '127.0.0.1', lb.internalPort);
    const node = await RawClient.open('udp', '127.0.0.1', '127.0.0.1', lb.internalPort);
    try {
      const before = Number((await lbstat(lb.statisticPort)).SipNodeSourceRefused ?? 0);
      outsider.send(heartbeatRequest({ balancerPort: lb.internalPort, node: { ip: '127.0.0.2', udpPort: outsider.localPort, version: '99', sessionId: 'outsider' } }, outsider.localPort, 1, 'gate-hb@outsider').toString('latin1'));
      outsider.send(
        sipText([
          `MESSAGE sip:victim@${canary.hostPort} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.2:${outsider.localPort};branch=z9hG4bK-gate-1`,
          'Max-Forwards: 70',
          'From: <sip:node@example.test>;tag=n',
          'To: <sip:victim@example.test>',
          'Call-ID: gate-message@outsider',
          'CSeq: 1 MESSAGE',
        ]),
      );
      const m = await lbstatUntil(lb.statisticPort, (x) => Number(x.SipNodeSourceRefused) >= before + 2 || Number(x.SipHeartbeats) > 0 || canary.heard.length > 0);
      expect(canary.heard).toEqual([]);
      expect(m.SipHeartbeats).toBe(0);
      expect(m.SipNodeSourceRefused).toBe(before + 2);
      expect(await lbinfoNodes(lb)).toEqual([]);

      // An allowed source still registers.
      node.send(heartbeatRequest({ balancerPort: lb.internalPort, node: { ip: '127.0.0.1', udpPort: node.localPort, sessionId: 'insider' } }, node.localPort, 1, 'gate-hb@insider').toString('latin1'));
      const after = await lbstatUntil(lb.statisticPort, (x) => Number(x.SipHeartbeats) > 0);
      expect(after.SipHeartbeats).toBe(1);
      expect((await lbinfoNodes(lb)).map((n) => n.ip)).toEqual(['127.0.0.1']);
    } finally {
      outsider.close();
      node.close();
    }
  });

  it('answers a JSON heartbeat from 127.0.0.2 with 403, registers nothing, and counts it in /lbstat and /metrics', async () => {
    const status = await postFrom('127.0.0.2', lb.heartbeatPort, { start: { hostName: 'evil', ip: '127.0.0.2', udpPort: 5099, version: '99', sessionId: 'evil' } });
    expect(status).toBe(403);
    expect((await lbinfoNodes(lb)).map((n) => n.hostname)).not.toContain('evil');
    const m = await lbstat(lb.statisticPort);
    expect(m.HeartbeatRefusedSources).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${lb.statisticPort}/metrics`)).text();
    expect(metrics).toMatch(/sipbalancer_heartbeat_rejected_total\{reason="source_not_allowed"\} 1\b/);
    expect(metrics).toMatch(/sipbalancer_sip_node_source_refused_total [1-9]/);
    // From an allowed source the same start is accepted.
    expect(await postFrom('127.0.0.1', lb.heartbeatPort, { start: { hostName: 'good', ip: '127.0.0.1', udpPort: 5098, sessionId: 'good' } })).toBe(200);
  });
});

describe('without nodeAllowedSources', () => {
  let lb: Balancer;
  let stopNode: (() => void) | undefined;

  beforeAll(async () => {
    lb = await startBalancer();
  }, 30_000);

  afterAll(async () => {
    stopNode?.();
    await lb?.stop();
  });

  it('warns at start-up that the heartbeat and internal ports listen on the external address', async () => {
    const line = await lb.daemon.waitForLog(/nodeAllowedSources is not set/, 1000);
    expect(line.level).toBe(40);
    expect(line.msg).toContain(`heartbeat port ${lb.heartbeatPort}`);
    expect(line.msg).toContain('internal SIP ports');
  });

  it('/lbinfo does not publish session ids (securityRequired is off)', async () => {
    stopNode = await registerNode(lb.heartbeatPort, { hostName: 'secret-holder', ip: '127.0.0.1', udpPort: 5097, sessionId: 'secret-session-1234' });
    const nodes = await lbinfoNodes(lb);
    expect(nodes.map((n) => n.hostname)).toEqual(['secret-holder']);
    expect(JSON.stringify(nodes)).not.toContain('secret-session-1234');
  });
});
