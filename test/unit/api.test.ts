// The statistics server over a real socket: /lbstat, /lbinfo, /metrics, 404.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ApiServer } from '../../src/api/server.js';
import { Stats } from '../../src/stats/stats.js';
import { SmppStats } from '../../src/smpp/smpp-stats.js';
import { SipStats } from '../../src/sip/sip-stats.js';
import { HttpStats } from '../../src/http/http-stats.js';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { silentLogger } from '../../src/log.js';

let base: string;
let api: ApiServer;
const stats = new Stats();
const sipStats = new SipStats();
const httpStats = new HttpStats();
const smppStats = new SmppStats();
stats.addProtocol(sipStats);
stats.addProtocol(httpStats);
stats.addProtocol(smppStats);
const registry = new NodeRegistry({ nodeTimeoutMs: 8400, heartbeatIntervalMs: 150 }, silentLogger());

beforeAll(async () => {
  registry.register({ ip: '127.0.0.1', hostname: 'n1', ports: { udp: 5080 }, httpPort: 8080, sessionId: 's1' });
  registry.register({ ip: '::1', hostname: 'n6', ports: { udp: 5080 }, sessionId: 's6' });
  stats.setSources({ releaseVersion: '1.2.3', activeNodes: () => registry.live().length, activeCalls: () => 7 });
  api = new ApiServer({ port: 0, host: '127.0.0.1', securityRequired: false }, { stats, registry, version: '1.2.3', smppRemoteServers: [{ host: '127.0.0.1', port: 10021 }] }, silentLogger());
  await api.start();
  base = `http://127.0.0.1:${api.port}`;
});

afterAll(async () => {
  await api.stop();
});

describe('API server', () => {
  it('serves /lbstat with the original field names and the breakdowns', async () => {
    sipStats.requests += 3;
    sipStats.requestsByMethod.inc('INVITE', 2);
    sipStats.requestsByMethod.inc('BYE');
    sipStats.responsesByStatus.inc(200, 2);
    httpStats.requestsByMethod.inc('GET');
    smppStats.requestsByCommand.inc('submit_sm', 4);
    const res = await fetch(`${base}/lbstat`);
    expect(res.headers.get('content-type')).toBe('application/json');
    const { Metrics: m } = (await res.json()) as { Metrics: Record<string, unknown> };
    for (const field of [
      'releaseName', 'releaseVersion', 'activeNodes', 'JvmCpuUsage', 'JvmHeapSize', 'NumberOfActiveHttpConnections', 'NumberOfActiveSipConnections',
      'NumberOfActiveSmppConnections', 'NumberOfBytesTransferred', 'NumberOfHttpBytesToClient', 'NumberOfHttpBytesToServer', 'NumberOfHttpRequests',
      'NumberOfRequestsProcessed', 'NumberOfResponsesProcessed', 'NumberOfSmppBytesToClient', 'NumberOfSmppBytesToServer',
      'NumberOfSmppRequestsToClient', 'NumberOfSmppRequestsToServer', 'NumberOfActiveCalls',
    ]) {
      expect(m, field).toHaveProperty(field);
    }
    expect(Object.keys(m).slice(0, 3)).toEqual(['releaseName', 'releaseVersion', 'activeNodes']);
    expect(m).toMatchObject({
      releaseVersion: '1.2.3', activeNodes: 2, NumberOfRequestsProcessed: 3, NumberOfActiveCalls: 7,
      SipRequestsByMethod: { INVITE: 2, BYE: 1 }, SipResponsesByStatusCode: { 200: 2 }, HttpRequestsByMethod: { GET: 1 }, SmppRequestsByCommandId: { submit_sm: 4 },
    });
    expect(m.JvmHeapSize).toBeGreaterThan(1_000_000);
  });

  it('serves /lbinfo with every node field, IPv4 and IPv6 apart, and the SMPP servers', async () => {
    const info = (await (await fetch(`${base}/lbinfo`)).json()) as { 'Nodes info': Record<string, Record<string, unknown>[]> };
    const nodes = info['Nodes info'];
    expect(nodes.nodesIPv4).toHaveLength(1);
    expect(nodes.nodesIPv4![0]).toMatchObject({ hostname: 'n1', ip: '127.0.0.1', udpPort: 5080, httpPort: 8080, state: 'active', version: '0' });
    // Without securityRequired the session ids (what `stop` needs) are not published, not even inside the id.
    expect(JSON.stringify(nodes)).not.toContain('s1');
    expect(typeof nodes.nodesIPv4![0]!.lastHeartbeatAgeMs).toBe('number');
    expect(nodes.nodesIPv6![0]).toMatchObject({ ip: '::1' });
    expect(nodes.smppRemoteServers).toEqual(['127.0.0.1:10021']);
  });

  it('serves /metrics in Prometheus format with labelled counters and process metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('sipbalancer_sip_requests_total{method="INVITE"} 2');
    expect(text).toContain('sipbalancer_sip_responses_total{status="200"} 2');
    expect(text).toContain('sipbalancer_smpp_requests_total{command="submit_sm"} 4');
    expect(text).toContain('sipbalancer_active_nodes 2');
    expect(text).toMatch(/sipbalancer_process_cpu_user_seconds_total \d/);
  });

  it('answers 404 to anything else', async () => {
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    expect((await fetch(`${base}/`)).status).toBe(404);
  });
});

describe('/lbinfo session ids', () => {
  it('are shown with securityRequired, to an authenticated caller only', async () => {
    const secured = new ApiServer({ port: 0, host: '127.0.0.1', securityRequired: true, login: 'ops', password: 'pw' }, { stats, registry, version: '1.2.3', smppRemoteServers: [] }, silentLogger());
    await secured.start();
    const port = secured.port;
    try {
      expect((await fetch(`http://127.0.0.1:${port}/lbinfo`)).status).toBe(401);
      const res = await fetch(`http://127.0.0.1:${port}/lbinfo`, { headers: { authorization: `Basic ${Buffer.from('ops:pw').toString('base64')}` } });
      const info = (await res.json()) as { 'Nodes info': { nodesIPv4: Record<string, unknown>[] } };
      expect(info['Nodes info'].nodesIPv4[0]).toMatchObject({ hostname: 'n1', sessionId: 's1' });
    } finally {
      await secured.stop();
    }
  });
});
