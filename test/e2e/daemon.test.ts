// The daemon as a child process: start-up, JSON registration, expiry, /lbinfo, SIGTERM, bad configurations.
import { describe, it, expect, afterEach } from 'vitest';
import { readFileSync } from 'node:fs';
import { startDaemon, runCli, tempFile, type Daemon } from '../helpers/daemon.js';

let daemon: Daemon | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

/** Every listener on port 0: the daemon binds free ports and reports them (daemon.port(key)). */
const BASICS = { host: '127.0.0.1', externalPort: 0, internalPort: 0, heartbeatPort: 0, statisticPort: 0, httpPort: '', nodeTimeout: 600, heartbeatInterval: 50 };

async function nodes(api: number): Promise<Record<string, unknown>[]> {
  const info = (await (await fetch(`http://127.0.0.1:${api}/lbinfo`)).json()) as { 'Nodes info': { nodesIPv4: Record<string, unknown>[] } };
  return info['Nodes info'].nodesIPv4;
}

describe('sipbalancer daemon', () => {
  it('registers a node over JSON, shows it in /lbinfo, expires it, and stops cleanly on SIGTERM', async () => {
    daemon = await startDaemon({ properties: BASICS });
    const hb = daemon.port('heartbeatPort');
    const api = daemon.port('statisticPort');
    for (const line of ['nodeTimeout=600', 'heartbeatInterval=50', 'Node registry starting...', 'Node registry started', `JSON heartbeat listener bound to 127.0.0.1, port ${hb}`]) {
      expect(daemon.logs.some((l) => l.msg === line), line).toBe(true);
    }
    const res = await fetch(`http://127.0.0.1:${hb}/`, {
      method: 'POST',
      body: JSON.stringify({ start: { hostName: 'as1', ip: '127.0.0.1', udpPort: 5080, tcpPort: '5080', httpPort: 8080, version: '0', sessionId: 'abc' } }),
    });
    expect(await res.json()).toEqual({ start: 'OK' });
    expect(await nodes(api)).toEqual([expect.objectContaining({ hostname: 'as1', udpPort: 5080, httpPort: 8080, state: 'active' })]);
    const lbstat = (await (await fetch(`http://127.0.0.1:${api}/lbstat`)).json()) as { Metrics: { activeNodes: number } };
    expect(lbstat.Metrics.activeNodes).toBe(1);

    await fetch(`http://127.0.0.1:${hb}/`, { method: 'POST', body: '{"shutdown":{"sessionId":"abc"}}' });
    expect(await nodes(api)).toEqual([expect.objectContaining({ hostname: 'as1', state: 'graceful' })]);

    await daemon.waitForLog(/removed: no heartbeat/, 5000);
    expect(await nodes(api)).toEqual([]);
    const after = (await (await fetch(`http://127.0.0.1:${api}/lbstat`)).json()) as { Metrics: Record<string, unknown> };
    expect(after.Metrics).toMatchObject({ activeNodes: 0, NodesAdded: 1, NodesRemoved: { expired: 1 }, NodeStateChanges: { 'active->graceful': 1 } });
    expect((await fetch(`http://127.0.0.1:${hb}/`, { method: 'POST', body: '{"heartbeat":{"sessionId":"abc"}}' })).status).toBe(404);

    const code = await daemon.stop('SIGTERM');
    expect(code).toBe(0);
    const msgs = daemon.logs.map((l) => l.msg);
    const order = ['SIGTERM received: shutting down', 'Stopping the node registry', 'Node registry stopped.', 'Load balancer stopped'];
    const idx = order.map((m) => msgs.indexOf(m));
    expect(idx.every((i) => i >= 0), JSON.stringify(msgs.slice(-12))).toBe(true);
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
  });

  it('exits 2 on a bad configuration with one line-numbered message per problem', async () => {
    const file = tempFile('lb.properties', '# bad\nhost=127.0.0.1\nnodeTimeout=5\nhttpPort=http\n');
    const { code, stderr, stdout } = await runCli(['--config', file]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`${file}:3: nodeTimeout=5: expected a whole number at least 15 (milliseconds)`);
    expect(stderr).toContain(`${file}:4: httpPort=http: expected a port number from 1 to 65535 (0: any free port), or nothing to switch it off`);
  });

  it('validates with --check, printing each value with its source, and accepts -mobicents-balancer-config=', async () => {
    const file = tempFile('lb.properties', 'host=127.0.0.1\nexternalPort=5070\nrmiRegistryPort=2000\n');
    const { code, stdout } = await runCli([`-mobicents-balancer-config=${file}`, '--check']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/externalPort\s+= 5070\s+# file, line 2/);
    expect(stdout).toMatch(/nodeTimeout\s+= 8400\s+# default/);
    expect(stdout).toContain('sip external 127.0.0.1: udp:5070 tcp:5070');
    expect(stdout).toContain('rmiRegistryPort=2000: accepted but not used: RMI heartbeats are Java-only');
    expect(stdout).toContain('configuration OK');
  });

  it('refuses the manual\'s TelestaxProxyAlgorithm and a missing file with exit code 2', async () => {
    const file = tempFile('lb.properties', 'algorithmClass=org.mobicens.tools.telestaxproxy.TelestaxProxyAlgorithm\n');
    const bad = await runCli(['--config', file, '--check']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${file}:1: algorithmClass=org.mobicens.tools.telestaxproxy.TelestaxProxyAlgorithm: TelestaxProxyAlgorithm is a commercial`);
    const missing = await runCli(['--config', '/nonexistent/lb.properties']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/lb.properties: cannot read the configuration file: no such file');
  });

  it('exits 1 with a clear message when a port is taken', async () => {
    daemon = await startDaemon({ properties: BASICS });
    // The same ports again: the first daemon holds them.
    const taken = { ...BASICS, externalPort: daemon.port('externalUdpPort'), heartbeatPort: daemon.port('heartbeatPort'), statisticPort: daemon.port('statisticPort') };
    const second = await startDaemon({ properties: taken, readyLog: null });
    const { code } = await second.exited;
    expect(code).toBe(1);
    expect(second.output()).toMatch(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  });

  it('runs the shipped example configuration (npm start) after --check', async () => {
    const example = readFileSync(new URL('../../lb.properties.example', import.meta.url), 'utf8');
    // Same file, on port 0, so that the test does not depend on 5060/2080 being free.
    const text = example
      .replace(/^externalPort=.*$/m, 'externalPort=0')
      .replace(/^internalPort=.*$/m, 'internalPort=0')
      .replace(/^heartbeatPort=.*$/m, 'heartbeatPort=0')
      .replace(/^statisticPort=.*$/m, 'statisticPort=0')
      .replace(/^httpPort=.*$/m, 'httpPort=');
    daemon = await startDaemon({ properties: text });
    expect((await fetch(`http://127.0.0.1:${daemon.port('statisticPort')}/lbstat`)).status).toBe(200);
    expect(await daemon.stop()).toBe(0);
  });
});
