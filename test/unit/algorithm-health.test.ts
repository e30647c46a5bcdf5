import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NodeHealthMonitor } from '../../src/algorithms/health.js';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { silentLogger } from '../../src/log.js';
import type { HealthConfig } from '../../src/config/types.js';

const log = silentLogger();

function setup(health: Partial<HealthConfig>, quarantineMs = 30_000) {
  const registry = new NodeRegistry({ nodeTimeoutMs: 3_600_000, heartbeatIntervalMs: 1000 }, log);
  const full: HealthConfig = { responsesStatusCodeNodeRemoval: [503], maxNumberResponsesWithError: 5, maxErrorTimeMs: 300_000, quarantineMs, ...health };
  const monitor = new NodeHealthMonitor(registry, { health: full, quarantineMs, log });
  monitor.start();
  const node = registry.register({ ip: '10.0.0.1', ports: { udp: 5070 }, sessionId: 'a' });
  const other = registry.register({ ip: '10.0.0.2', ports: { udp: 5070 }, sessionId: 'b' });
  return { registry, monitor, node, other };
}

describe('node health from traffic', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('marks a node bad when more than maxRequestNumberWithoutResponse requests wait longer than maxResponseTime', () => {
    const { monitor, node, other } = setup({ maxRequestNumberWithoutResponse: 5, maxResponseTimeMs: 2000 });
    for (let i = 0; i < 10; i++) monitor.requestForwarded(node, 'INVITE');
    // Many requests, but none has waited long yet.
    expect(node.state).toBe('active');
    vi.advanceTimersByTime(2500);
    monitor.requestForwarded(node, 'INVITE');
    expect(node.state).toBe('bad');
    expect(node.badReason).toMatch(/11 requests without a response/);
    expect(monitor.counters.markedBadNoResponse).toBe(1);
    expect(other.state).toBe('active');
  });

  it('does not count ACK, and any response resets the count', () => {
    const { monitor, node } = setup({ maxRequestNumberWithoutResponse: 2, maxResponseTimeMs: 1000 });
    for (let i = 0; i < 10; i++) monitor.requestForwarded(node, 'ACK');
    monitor.requestForwarded(node, 'INVITE');
    monitor.requestForwarded(node, 'INVITE');
    vi.advanceTimersByTime(1500);
    monitor.responseReceived(node, 180);
    monitor.requestForwarded(node, 'BYE');
    monitor.requestForwarded(node, 'BYE');
    monitor.requestForwarded(node, 'BYE');
    expect(node.state).toBe('active');
  });

  it('is off unless both limits are set', () => {
    const { monitor, node } = setup({ maxRequestNumberWithoutResponse: 1 });
    for (let i = 0; i < 10; i++) monitor.requestForwarded(node, 'INVITE');
    vi.advanceTimersByTime(100_000);
    monitor.requestForwarded(node, 'INVITE');
    expect(node.state).toBe('active');
  });

  it('marks a node bad beyond maxNumberResponsesWithError error statuses within maxErrorTime', () => {
    const { monitor, node } = setup({ responsesStatusCodeNodeRemoval: [503, 500], maxNumberResponsesWithError: 3, maxErrorTimeMs: 10_000 });
    for (let i = 0; i < 3; i++) monitor.responseReceived(node, 503);
    monitor.responseReceived(node, 200);
    monitor.responseReceived(node, 486);
    expect(node.state).toBe('active');
    monitor.responseReceived(node, 500);
    expect(node.state).toBe('bad');
    expect(monitor.counters.markedBadErrors).toBe(1);
  });

  it('starts a new error window after maxErrorTime', () => {
    const { monitor, node } = setup({ maxNumberResponsesWithError: 3, maxErrorTimeMs: 10_000 });
    for (let i = 0; i < 3; i++) monitor.responseReceived(node, 503);
    vi.advanceTimersByTime(11_000);
    for (let i = 0; i < 3; i++) monitor.responseReceived(node, 503);
    expect(node.state).toBe('active');
    monitor.responseReceived(node, 503);
    expect(node.state).toBe('bad');
  });

  it('returns a bad node to active after the quarantine if it still heartbeats, and doubles the quarantine when it fails again soon', () => {
    const { monitor, node, registry } = setup({ maxNumberResponsesWithError: 1 }, 10_000);
    monitor.responseReceived(node, 503);
    monitor.responseReceived(node, 503);
    expect(node.state).toBe('bad');
    vi.advanceTimersByTime(5000);
    registry.touch(node.id);
    vi.advanceTimersByTime(4000);
    expect(node.state).toBe('bad');
    vi.advanceTimersByTime(1500);
    expect(node.state).toBe('active');
    expect(monitor.counters.restored).toBe(1);
    // Fails again at once: the next quarantine is 20 s.
    monitor.responseReceived(node, 503);
    monitor.responseReceived(node, 503);
    expect(node.state).toBe('bad');
    registry.touch(node.id);
    vi.advanceTimersByTime(15_000);
    registry.touch(node.id);
    expect(node.state).toBe('bad');
    vi.advanceTimersByTime(6000);
    expect(node.state).toBe('active');
  });

  it('keeps a silent node bad after the quarantine', () => {
    const { monitor, node } = setup({ maxRequestNumberWithoutResponse: 1, maxResponseTimeMs: 100 }, 1000);
    monitor.requestForwarded(node, 'INVITE');
    vi.advanceTimersByTime(200);
    monitor.requestForwarded(node, 'INVITE');
    expect(node.state).toBe('bad');
    vi.advanceTimersByTime(10_000);
    expect(node.state).toBe('bad');
  });

  it('with quarantine 0 only a re-registration with a new sessionId brings it back', () => {
    const { monitor, node, registry } = setup({ maxNumberResponsesWithError: 0 }, 0);
    monitor.responseReceived(node, 503);
    expect(node.state).toBe('bad');
    registry.touch(node.id);
    vi.advanceTimersByTime(3_600_000);
    expect(node.state).toBe('bad');
    const again = registry.register({ ip: '10.0.0.1', ports: { udp: 5070 }, sessionId: 'a2' });
    expect(again.state).toBe('active');
    // Its counters start afresh.
    expect(monitor.nodeState(again)?.bad ?? false).toBe(false);
  });
});
