// The JSON heartbeat protocol over a real socket.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { HttpHeartbeatServer } from '../../src/registry/http-heartbeat.js';
import { HeartbeatStats } from '../../src/stats/stats.js';
import { silentLogger } from '../../src/log.js';

let port: number;
let registry: NodeRegistry;
let stats: HeartbeatStats;
let server: HttpHeartbeatServer;

async function post(body: string, method = 'POST'): Promise<{ status: number; json: Record<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { method, body: method === 'POST' ? body : undefined, headers: { 'content-type': 'application/json' } });
  return { status: res.status, json: (await res.json()) as Record<string, string> };
}

beforeEach(async () => {
  registry = new NodeRegistry({ nodeTimeoutMs: 8400, heartbeatIntervalMs: 150 }, silentLogger());
  stats = new HeartbeatStats();
  server = new HttpHeartbeatServer({ host: '127.0.0.1', port: 0 }, registry, stats, silentLogger());
  await server.start();
  port = server.port;
});

afterEach(async () => {
  await server.stop();
});

const start = {
  start: { hostName: 'node1', ip: '127.0.0.1', httpPort: '8080', sslPort: '8443', udpPort: '5080', tcpPort: '5080', tlsPort: '5081', wsPort: '5082', wssPort: '5083', version: '0', sessionId: '1234', restcommInstanceId: 'ID1', heartbeatPort: '2222', smppPort: 2775, jvmRoute: 'route1' },
};

describe('JSON heartbeat protocol', () => {
  it('registers a node from start (string or number ports) with its properties', async () => {
    expect(await post(JSON.stringify(start))).toEqual({ status: 200, json: { start: 'OK' } });
    const [node] = registry.all();
    expect(node).toMatchObject({
      hostname: 'node1', ip: '127.0.0.1', httpPort: 8080, sslPort: 8443, smppPort: 2775, version: '0', sessionId: '1234', jvmRoute: 'route1',
      ports: { udp: 5080, tcp: 5080, tls: 5081, ws: 5082, wss: 5083 },
      properties: { restcommInstanceId: 'ID1', heartbeatPort: '2222' },
      state: 'active',
    });
  });

  it('refreshes a known session and answers NOK with 404 to an unknown one', async () => {
    await post(JSON.stringify(start));
    const node = registry.all()[0]!;
    node.lastSeen = 0;
    expect(await post('{"heartbeat":{"sessionId":1234}}')).toEqual({ status: 200, json: { heartbeat: 'OK' } });
    expect(node.lastSeen).toBeGreaterThan(0);
    expect(await post('{"heartbeat":{"sessionId":"999"}}')).toEqual({ status: 404, json: { heartbeat: 'NOK' } });
    expect(stats.unknownSession).toBe(1);
  });

  it('makes a node graceful on shutdown and removes it on stop', async () => {
    await post(JSON.stringify(start));
    expect(await post('{"shutdown":{"sessionId":"1234"}}')).toEqual({ status: 200, json: { shutdown: 'OK' } });
    expect(registry.all()[0]!.state).toBe('graceful');
    expect(await post('{"stop":{"sessionId":"1234"}}')).toEqual({ status: 200, json: { stop: 'OK' } });
    expect(registry.size).toBe(0);
  });

  it('answers 400 to bad JSON, unknown commands and bad fields, and counts them', async () => {
    expect((await post('{not json')).status).toBe(400);
    expect(await post('{"reboot":{}}')).toEqual({ status: 400, json: { error: 'unknown command "reboot"; expected start, heartbeat, shutdown or stop' } });
    expect((await post('{"start":{"ip":"not-an-ip"}}')).json.error).toBe("ip=not-an-ip: expected the node's IP address");
    expect((await post('{"start":{"ip":"127.0.0.1","udpPort":"99999"}}')).json.error).toBe('udpPort=99999: expected a port number from 1 to 65535');
    expect((await post('', 'GET')).status).toBe(405);
    expect(stats.invalid).toBe(5);
    expect(registry.size).toBe(0);
  });
});
