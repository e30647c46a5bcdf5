import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { RoundRobinAlgorithm } from '../../src/algorithms/round-robin.js';
import type { BalancerAlgorithm } from '../../src/algorithms/algorithm.js';
import type { ServerNode } from '../../src/registry/server-node.js';
import { silentLogger } from '../../src/log.js';
import { HttpNodeChooser } from '../../src/http/node-chooser.js';

function setup(algorithm: BalancerAlgorithm = new RoundRobinAlgorithm()) {
  const registry = new NodeRegistry({ nodeTimeoutMs: 60_000, heartbeatIntervalMs: 5000 }, silentLogger());
  registry.on('changed', () => algorithm.nodesChanged(registry.live()));
  const n1 = registry.register({ ip: '127.0.0.1', hostname: 'n1', httpPort: 8081, ports: { ws: 5081 }, sessionId: 's1', jvmRoute: 'node1' });
  const n2 = registry.register({ ip: '127.0.0.1', hostname: 'n2', httpPort: 8082, sessionId: 's2', jvmRoute: 'node2', properties: { restcommInstanceId: 'ID22' } });
  const n3 = registry.register({ ip: '127.0.0.1', hostname: 'n3', httpPort: 8083, ports: { ws: 5083 }, sessionId: 's3' });
  const chooser = new HttpNodeChooser(registry, algorithm);
  return { registry, chooser, n1, n2, n3 };
}

const req = (url: string, cookie?: string): IncomingMessage => ({ url, headers: cookie ? { cookie } : {} }) as IncomingMessage;

describe('HTTP node choice', () => {
  it('spreads requests without a session over the nodes', () => {
    const { chooser } = setup();
    const counts = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const c = chooser.choose(req('/'), 'http')!;
      counts.set(c.node.hostname, (counts.get(c.node.hostname) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual([2, 2, 2]);
  });

  it('sends a JSESSIONID with a jvmRoute to the node that owns the route', () => {
    const { chooser, n2 } = setup();
    for (let i = 0; i < 5; i++) expect(chooser.choose(req('/', 'JSESSIONID=abc.node2'), 'http')).toMatchObject({ node: n2, port: 8082, reason: 'jvm-route' });
  });

  it('learns a route from Set-Cookie and forgets it when the node leaves', () => {
    const { chooser, registry, n3 } = setup();
    chooser.learnRoute('r3', n3);
    expect(chooser.choose(req('/', 'JSESSIONID=x.r3'), 'http')?.node).toBe(n3);
    registry.remove(n3, 'test');
    const after = chooser.choose(req('/', 'JSESSIONID=x.r3'), 'http');
    expect(after?.node).not.toBe(n3);
    expect(after?.reason).toBe('algorithm');
  });

  it('sends a Restcomm call URL to the node with that instance id, before the cookie', () => {
    const { chooser, n2 } = setup();
    const c = chooser.choose(req('/restcomm/2012-04-24/Accounts/AC1/Calls/ID22-CA9', 'JSESSIONID=abc.node1'), 'http');
    expect(c).toMatchObject({ node: n2, reason: 'instance-id' });
  });

  it('keeps sessions on a graceful node but gives it no new ones; a bad node keeps nothing', () => {
    const { chooser, registry, n1, n2 } = setup();
    registry.setState(n2, 'graceful', 'test');
    expect(chooser.choose(req('/', 'JSESSIONID=abc.node2'), 'http')?.node).toBe(n2);
    for (let i = 0; i < 6; i++) expect(chooser.choose(req('/'), 'http')?.node).not.toBe(n2);
    registry.setState(n1, 'bad', 'test');
    expect(chooser.choose(req('/', 'JSESSIONID=abc.node1'), 'http')?.node).not.toBe(n1);
  });

  it('sends sip WebSocket upgrades only to nodes with a wsPort', () => {
    const { chooser, n2 } = setup();
    for (let i = 0; i < 6; i++) {
      const c = chooser.choose(req('/'), 'ws')!;
      expect(c.node).not.toBe(n2);
      expect(c.port === 5081 || c.port === 5083).toBe(true);
    }
  });

  it('uses the algorithm pick, and round robin when the algorithm has none', () => {
    const wanted: { node?: ServerNode } = {};
    const { chooser: withAlgorithm, n3 } = setup(Object.assign(new RoundRobinAlgorithm(), { pickForHttpRequest: (): ServerNode | undefined => wanted.node }));
    wanted.node = n3;
    for (let i = 0; i < 3; i++) expect(withAlgorithm.choose(req('/'), 'http')).toMatchObject({ node: n3, reason: 'algorithm' });
    const { chooser: none } = setup(Object.assign(new RoundRobinAlgorithm(), { pickForHttpRequest: (): undefined => undefined }));
    expect(none.choose(req('/'), 'http')?.reason).toBe('round-robin');
  });

  it('skips the node that just refused the connection', () => {
    const { chooser, n1 } = setup();
    for (let i = 0; i < 6; i++) expect(chooser.choose(req('/'), 'http', n1)?.node).not.toBe(n1);
  });

  it('has no node when none is active', () => {
    const { chooser, registry, n1, n2, n3 } = setup();
    for (const n of [n1, n2, n3]) registry.setState(n, 'graceful', 'test');
    expect(chooser.choose(req('/'), 'http')).toBeUndefined();
  });
});
