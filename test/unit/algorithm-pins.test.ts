// Regex pins: which patterns are refused (catastrophic backtracking, backreferences, length), how a pin
// takes a request before the algorithm, and that it lapses while its node is dead or not active.

import { describe, it, expect } from 'vitest';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { silentLogger } from '../../src/log.js';
import { compilePinRegex, NodePins, PinError, PinnedAlgorithm, MAX_PINS, MAX_PIN_KEY_LENGTH } from '../../src/algorithms/pins.js';
import { algorithm, request } from './algorithm-fixtures.js';

function registryWith(...ports: number[]): NodeRegistry {
  const registry = new NodeRegistry({ nodeTimeoutMs: 8400, heartbeatIntervalMs: 150 }, silentLogger());
  for (const port of ports) registry.register({ ip: '10.0.0.1', ports: { udp: port }, httpPort: port + 1000, sessionId: `s${port}` });
  return registry;
}

describe('compilePinRegex', () => {
  it.each(['^\\+3491', 'alice|bob', '^1800\\d{7}$', '^(alice|bob)$', '.*@example\\.com$', '^[0-9]+-', '(?:ab)?c', '^a.*b.*c'])('accepts %s', (src) => {
    expect(compilePinRegex(src)).toBeInstanceOf(RegExp);
  });

  it.each([
    ['(a+)+$', 'repeated group'],
    ['(a|aa)*b', 'repeated group'],
    ['((ab)*)+', 'repeated group'],
    ['(\\d+)*x', 'repeated group'],
    ['([a-z]+){2,}', 'repeated group'],
    ['(a)\\1', 'backreferences'],
    ['(?<n>a)\\k<n>', 'backreferences'],
    ['a*b*c*d*', 'unbounded quantifiers'],
    ['([a-', 'invalid regex'],
    ['', 'empty'],
    ['x'.repeat(201), 'longer than'],
  ])('refuses %s', (src, why) => {
    expect(() => compilePinRegex(src)).toThrow(PinError);
    expect(() => compilePinRegex(src)).toThrow(why);
  });
});

describe('NodePins', () => {
  it('matches the first pin whose regex finds the key, while its node is live and active', () => {
    const registry = registryWith(5080, 5090);
    const pins = new NodePins(registry);
    pins.set('^vip', '10.0.0.1', '5090');
    expect(pins.match('vip-1')?.ports.udp).toBe(5090);
    expect(pins.match('other')).toBeUndefined();
    // The HTTP port names the node too.
    pins.set('^web', '10.0.0.1', '6080');
    expect(pins.match('web-1')?.ports.udp).toBe(5080);
    const node = registry.findByAddress('10.0.0.1', 5090)!;
    registry.setState(node, 'graceful', 'test');
    expect(pins.match('vip-1')).toBeUndefined();
    registry.remove(node, 'test');
    expect(pins.match('vip-1')).toBeUndefined();
    expect(pins.toJSON()).toEqual([
      expect.objectContaining({ regex: '^vip', port: 5090, live: false, hits: 1 }),
      expect.objectContaining({ regex: '^web', port: 6080, live: true, hits: 1 }),
    ]);
  });

  it('replaces a pin with the same regex, removes by regex, refuses bad ports and addresses and too many pins', () => {
    const pins = new NodePins(registryWith(5080));
    pins.set('^a', '10.0.0.1', '5080');
    pins.set('^a', '10.0.0.2', '5080');
    expect(pins.toJSON()).toEqual([expect.objectContaining({ ip: '10.0.0.2' })]);
    for (const [ip, port] of [['10.0.0.1', '0'], ['10.0.0.1', '65536'], ['10.0.0.1', '5e3'], ['host.example', '5080'], ['10.0.0.1', '']]) {
      expect(() => pins.set('^b', ip!, port!)).toThrow(PinError);
    }
    expect(pins.size).toBe(1);
    expect(pins.remove('^a')).toBe(true);
    expect(pins.remove('^a')).toBe(false);
    for (let i = 0; i < MAX_PINS; i++) pins.set(`^k${i}$`, '10.0.0.1', '5080');
    expect(() => pins.set('^one-more', '10.0.0.1', '5080')).toThrow(`${MAX_PINS} pins`);
    // A regex with a slash is removed by the text it was given.
    pins.remove('^k0$');
    pins.set('a/b', '10.0.0.1', '5080');
    expect(pins.remove('a/b')).toBe(true);
  });

  it('does not test keys longer than the bound', () => {
    const pins = new NodePins(registryWith(5080));
    pins.set('a', '10.0.0.1', '5080');
    expect(pins.match('a'.repeat(MAX_PIN_KEY_LENGTH))).toBeDefined();
    expect(pins.match('a'.repeat(MAX_PIN_KEY_LENGTH + 1))).toBeUndefined();
  });
});

describe('PinnedAlgorithm', () => {
  it("uses the inner algorithm's key (user-based: the To user) and tells it of the pinned choice", async () => {
    const registry = registryWith(5080, 5090);
    const inner = await algorithm('user-based');
    inner.nodesChanged(registry.live());
    const pins = new NodePins(registry);
    const pinned = new PinnedAlgorithm(inner, pins, 'appsession');
    pins.set('^carol$', '10.0.0.1', '5090');
    const target = registry.findByAddress('10.0.0.1', 5090)!;
    for (let i = 0; i < 4; i++) expect(pinned.pickForSipRequest(request({ toUser: 'carol' }))).toBe(target);
    // The inner map learned it: with the pin gone, carol's next call stays on that node.
    pins.remove('^carol$');
    expect(pinned.pickForSipRequest(request({ toUser: 'carol' }))).toBe(target);
    expect(pinned.name).toBe('user-based');
    expect(pinned.activeCalls?.()).toBe(1);
  });

  it('pins HTTP requests by the httpAffinityKey parameter, and leaves others to the algorithm', async () => {
    const registry = registryWith(5080, 5090);
    const inner = await algorithm('round-robin');
    inner.nodesChanged(registry.live());
    const pins = new NodePins(registry);
    const pinned = new PinnedAlgorithm(inner, pins, 'appsession');
    pins.set('^gold-', '10.0.0.1', '6090');
    const target = registry.findByAddress('10.0.0.1', 5090)!;
    const http = (url: string): Parameters<PinnedAlgorithm['pickForHttpRequest']>[0] => ({ url }) as Parameters<PinnedAlgorithm['pickForHttpRequest']>[0];
    for (let i = 0; i < 3; i++) expect(pinned.pickForHttpRequest(http('/app?appsession=gold-7'))).toBe(target);
    const others = new Set([0, 1, 2, 3].map(() => pinned.pickForHttpRequest(http('/app?appsession=silver'))?.id));
    expect(others.size).toBe(2);
  });
});
