import { describe, it, expect, vi, afterEach } from 'vitest';
import { NodeRegistry, compareVersions } from '../../src/registry/node-registry.js';
import { silentLogger } from '../../src/log.js';

afterEach(() => {
  vi.useRealTimers();
});

function registry(opts: Partial<ConstructorParameters<typeof NodeRegistry>[0]> = {}): NodeRegistry {
  return new NodeRegistry({ nodeTimeoutMs: 1000, heartbeatIntervalMs: 100, ...opts }, silentLogger());
}

describe('NodeRegistry', () => {
  it('removes a node silent for longer than nodeTimeout, on the sweep timer', () => {
    vi.useFakeTimers();
    const reg = registry();
    const removed: string[] = [];
    reg.on('removed', (n, reason) => removed.push(`${n.hostname}: ${reason}`));
    reg.start();
    reg.register({ ip: '10.0.0.1', hostname: 'a', ports: { udp: 5070 }, sessionId: 'a1' });
    reg.register({ ip: '10.0.0.2', hostname: 'b', ports: { udp: 5070 }, sessionId: 'b1' });
    vi.advanceTimersByTime(600);
    reg.touch('session:b1');
    vi.advanceTimersByTime(600);
    expect(reg.all().map((n) => n.hostname)).toEqual(['b']);
    expect(removed).toEqual([expect.stringMatching(/^a: no heartbeat for 1[01]\d\d ms \(nodeTimeout 1000\)$/)]);
    vi.advanceTimersByTime(1000);
    expect(reg.size).toBe(0);
    reg.stop();
  });

  it('never expires extraServerNodes registered in performanceTestingMode', () => {
    vi.useFakeTimers();
    const reg = registry({ extraServerNodes: [{ host: '127.0.0.1', port: 5090 }], performanceTestingMode: true });
    reg.start();
    vi.advanceTimersByTime(10_000);
    expect(reg.all()).toHaveLength(1);
    expect(reg.all()[0]).toMatchObject({ ip: '127.0.0.1', ports: { udp: 5090, tcp: 5090 }, permanent: true });
    expect(reg.isServerAddress('127.0.0.1', 5090)).toBe(true);
    reg.stop();
  });

  it('knows extraServerNodes for direction analysis without registering them', () => {
    const reg = registry({ extraServerNodes: [{ host: '10.1.1.1', port: 5060 }] });
    expect(reg.isServerAddress('10.1.1.1', 5060)).toBe(true);
    expect(reg.isServerAddress('10.1.1.1', 5061)).toBe(false);
    expect(reg.size).toBe(0);
  });

  it('keeps a graceful node (in-dialog traffic continues) and removes a stopped one at once', () => {
    const reg = registry();
    const a = reg.register({ ip: '10.0.0.1', ports: { udp: 5070 }, sessionId: 'a' });
    const b = reg.register({ ip: '10.0.0.2', ports: { udp: 5070 }, sessionId: 'b' });
    reg.setState(a, 'graceful', 'shutdown');
    expect(reg.get(a.id)?.state).toBe('graceful');
    expect(a.acceptsNewWork).toBe(false);
    reg.remove(b, 'stop');
    expect(reg.all().map((n) => n.id)).toEqual([a.id]);
  });

  it('brings a bad node back when it registers with a new sessionId, not with the same one', () => {
    const reg = registry();
    const a = reg.register({ ip: '10.0.0.1', ports: { udp: 5070 }, sessionId: 'one' });
    reg.setState(a, 'bad', 'no responses');
    reg.register({ ip: '10.0.0.1', ports: { udp: 5070 }, sessionId: 'one' });
    expect(reg.get(a.id)?.state).toBe('bad');
    const again = reg.register({ ip: '10.0.0.1', ports: { udp: 5070 }, sessionId: 'two' });
    expect(again.state).toBe('active');
    expect(reg.all()).toHaveLength(1);
  });

  it('tracks the latest version numerically and lists live nodes per version', () => {
    const reg = registry();
    reg.register({ ip: '10.0.0.1', ports: { udp: 1 }, version: '9', sessionId: 'a' });
    reg.register({ ip: '10.0.0.2', ports: { udp: 1 }, version: '10', sessionId: 'b' });
    expect(reg.latestVersion).toBe('10');
    expect(reg.live().map((n) => n.ip)).toEqual(['10.0.0.2']);
    expect(reg.live('9').map((n) => n.ip)).toEqual(['10.0.0.1']);
    expect(compareVersions('2', '10')).toBeLessThan(0);
  });

  it('finds nodes by address, Record-Route hint and jvmRoute', () => {
    const reg = registry();
    const n = reg.register({ ip: '10.0.0.1', ports: { udp: 5070, tcp: 5071 }, httpPort: 8080, jvmRoute: 'node1', sessionId: 'a' });
    expect(reg.findByAddress('10.0.0.1', 8080)).toBe(n);
    expect(reg.findByHint('10.0.0.1', 5071, 'tcp', '0')).toBe(n);
    expect(reg.findByJvmRoute('node1')).toBe(n);
    expect(reg.findByAddress('10.0.0.1', 9999)).toBeUndefined();
  });

  it('emits one changed event per change with the live nodes', () => {
    const reg = registry();
    const sizes: number[] = [];
    reg.on('changed', (live) => sizes.push(live.length));
    const a = reg.register({ ip: '10.0.0.1', ports: { udp: 1 }, sessionId: 'a' });
    reg.register({ ip: '10.0.0.1', ports: { udp: 1 }, sessionId: 'a' });
    reg.setState(a, 'graceful', 'x');
    reg.remove(a, 'y');
    expect(sizes).toEqual([1, 1, 0]);
  });
});
