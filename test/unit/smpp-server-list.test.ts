// SMSC choice: round robin over remoteServers plus registry nodes with an smppPort.

import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { SmscList } from '../../src/smpp/server-list.js';

const log = pino({ level: 'silent' });

describe('SmscList', () => {
  it('takes remoteServers in turn', () => {
    const list = new SmscList([{ host: '127.0.0.1', port: 1 }, { host: '127.0.0.1', port: 2 }]);
    expect([list.next(), list.next(), list.next()].map((s) => s?.port)).toEqual([1, 2, 1]);
  });

  it('orders a bind\'s attempts: round robin starts at the next in turn, active-standby at the first; a lost SMSC goes last', () => {
    const list = new SmscList([1, 2, 3].map((port) => ({ host: '127.0.0.1', port })));
    const ports = (xs: { port: number }[]): number[] => xs.map((x) => x.port);
    expect(ports(list.order('round-robin'))).toEqual([1, 2, 3]);
    expect(ports(list.order('round-robin'))).toEqual([2, 3, 1]);
    expect(ports(list.order('active-standby'))).toEqual([1, 2, 3]);
    expect(ports(list.order('active-standby'))).toEqual([1, 2, 3]);
    expect(ports(list.order('active-standby', { host: '127.0.0.1', port: 1 }))).toEqual([2, 3, 1]);
  });

  it('is empty without servers', () => {
    expect(new SmscList([]).next()).toBeUndefined();
  });

  it('adds registry nodes that advertise an smppPort, and drops them when they leave', () => {
    const registry = new NodeRegistry({ nodeTimeoutMs: 1000, heartbeatIntervalMs: 100 }, log);
    const list = new SmscList([{ host: '127.0.0.1', port: 1 }], registry);
    const node = registry.register({ ip: '10.0.0.5', ports: { udp: 5060 }, smppPort: 2775, sessionId: 'a' });
    registry.register({ ip: '10.0.0.6', ports: { udp: 5060 }, sessionId: 'b' });
    expect(list.servers()).toEqual([{ host: '127.0.0.1', port: 1 }, { host: '10.0.0.5', port: 2775 }]);
    registry.remove(node, 'test');
    expect(list.servers()).toEqual([{ host: '127.0.0.1', port: 1 }]);
    list.dispose();
  });
});
