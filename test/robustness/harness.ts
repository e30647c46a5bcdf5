// What the robustness suites share: a balancer daemon with UDP sink nodes it forwards to (extraServerNodes),
// its /lbstat and /metrics, a paced UDP sender, and a check that the daemon is alive and never logged fatal.

import { createSocket, type Socket } from 'node:dgram';
import { expect } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { sipPorts, type SipPorts } from '../helpers/sip-balancer.js';
import { waitUntil } from '../helpers/wait.js';
import { lbstat } from '../helpers/json-heartbeat.js';

export const HOST = '127.0.0.1';

/** A UDP socket standing in for a SIP node: counts what reaches it, optionally answers. */
export interface SinkNode {
  readonly port: number;
  readonly socket: Socket;
  received: number;
  /** Last datagrams received, newest last (at most 50). */
  readonly last: string[];
  close(): Promise<void>;
}

export async function startSinkNode(answer?: (msg: string, reply: (text: string) => void) => void): Promise<SinkNode> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  const sink: SinkNode = {
    port: socket.address().port,
    socket,
    received: 0,
    last: [],
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (m, rinfo) => {
    sink.received++;
    const text = m.toString('latin1');
    sink.last.push(text);
    if (sink.last.length > 50) sink.last.shift();
    answer?.(text, (t) => socket.send(Buffer.from(t, 'latin1'), rinfo.port, rinfo.address));
  });
  return sink;
}

export interface Lb extends SipPorts {
  daemon: Daemon;
  lbstat(): Promise<Record<string, unknown>>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** A daemon whose only nodes are `nodePorts` (extraServerNodes, so no heartbeats are needed). */
export async function startLb(nodePorts: number[], extra: Record<string, string | number | boolean> = {}): Promise<Lb> {
  const daemon = await startDaemon({
    properties: {
      host: HOST,
      externalPort: 0,
      internalPort: 0,
      statisticPort: 0,
      heartbeatPort: '',
      httpPort: '',
      nodeTimeout: 5000,
      heartbeatInterval: 100,
      ...(nodePorts.length > 0 ? { extraServerNodes: nodePorts.map((p) => `${HOST}:${p}`).join(','), performanceTestingMode: true } : {}),
      ...extra,
    },
  });
  const statisticPort = daemon.port('statisticPort');
  return {
    daemon,
    ...sipPorts(daemon),
    async lbstat() {
      return lbstat(statisticPort);
    },
    async metrics() {
      return (await fetch(`http://${HOST}:${statisticPort}/metrics`)).text();
    },
    stop: async () => void (await daemon.stop()),
  };
}

/**
 * Sends `count` datagrams made by `make(i)` from one socket, in batches, each batch waiting until
 * `progress()` has moved by the batch (or a short while), so a loaded machine does not drop them.
 */
export async function sendPaced(port: number, count: number, make: (i: number) => Buffer, progress: () => number, batch = 250): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  try {
    for (let i = 0; i < count; ) {
      const start = progress();
      const end = Math.min(count, i + batch);
      for (; i < end; i++) socket.send(make(i), port, HOST);
      const want = start + batch * 0.95;
      await waitUntil(() => progress() >= want, 'the batch', 3000).catch(() => undefined);
    }
  } finally {
    socket.close();
  }
}

/** A SIP request from a client at 127.0.0.1:`fromPort` with the given method and Call-ID. */
export function sipRequest(method: string, callId: string, fromPort = 5099, body = ''): Buffer {
  return Buffer.from(
    [
      `${method} sip:bob@example.com SIP/2.0`,
      `Via: SIP/2.0/UDP ${HOST}:${fromPort};branch=z9hG4bK-${callId}`,
      'Max-Forwards: 70',
      'To: <sip:bob@example.com>',
      `From: <sip:alice@example.com>;tag=${callId}`,
      `Call-ID: ${callId}`,
      `CSeq: 1 ${method}`,
      `Contact: <sip:alice@${HOST}:${fromPort}>`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n'),
    'latin1',
  );
}

/** The daemon is alive, answers /lbstat, and never logged at fatal level or an uncaught exception. */
export async function expectHealthy(lb: Lb): Promise<void> {
  expect(lb.daemon.child.exitCode).toBeNull();
  const fatal = lb.daemon.logs.filter((l) => l.level >= 60 || /uncaught|unhandled/i.test(l.msg));
  expect(fatal).toEqual([]);
  const stat = await lb.lbstat();
  expect(typeof stat.UptimeSeconds).toBe('number');
}

/** Series of one metric family in a Prometheus text page. */
export function seriesOf(page: string, name: string): string[] {
  return page.split('\n').filter((l) => l.startsWith(`${name}{`));
}
