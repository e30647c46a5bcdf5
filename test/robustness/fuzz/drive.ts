// How the fuzzers deliver cases to the daemon (UDP datagrams, a TCP stream that is reopened when the daemon
// closes it, one short TCP connection per case) and what they check afterwards (alive, no fatal or uncaught
// log line, RSS within a bound).

import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Daemon } from '../../helpers/daemon.js';

const HOST = '127.0.0.1';
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The daemon's resident set size in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Alive, and no fatal or uncaught-exception line in its log; the message names the seed to replay. */
export function expectAlive(daemon: Daemon, what: string): void {
  expect(daemon.child.exitCode, `${what}: the daemon exited\n${daemon.output().slice(-3000)}`).toBeNull();
  const fatal = daemon.logs.filter((l) => l.level >= 60 || /uncaught|unhandled/i.test(l.msg));
  expect(fatal, `${what}: fatal or uncaught in the log`).toEqual([]);
}

/** Sends `count` datagrams made by `make(i)`, 50 at a time, checking the daemon between batches. */
export async function fuzzUdp(daemon: Daemon, port: number, count: number, make: (i: number, localPort: number) => Buffer, what: string): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, HOST, () => r()));
  socket.on('error', () => undefined);
  const local = socket.address().port;
  try {
    for (let i = 0; i < count; ) {
      const end = Math.min(count, i + 50);
      for (; i < end; i++) {
        const data = make(i, local);
        if (data.length > 0 && data.length < 65_000) socket.send(data, port, HOST);
      }
      await pause(5);
      if (i % 1000 === 0) expectAlive(daemon, `${what} after ${i} cases`);
    }
  } finally {
    await new Promise<void>((r) => socket.close(() => r()));
  }
}

/** Writes `count` cases on one TCP connection to `port`, opening a new one whenever the daemon closes it. */
export async function fuzzStream(daemon: Daemon, port: number, count: number, make: (i: number, localPort: number) => Buffer, what: string): Promise<void> {
  let socket: Socket | undefined;
  const open = async (): Promise<Socket> => {
    const s = connect(port, HOST);
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    await new Promise<void>((resolve) => {
      s.once('connect', () => resolve());
      s.once('close', () => resolve());
    });
    return s;
  };
  try {
    for (let i = 0; i < count; i++) {
      if (!socket || socket.destroyed || !socket.writable) {
        socket?.destroy();
        socket = await open();
      }
      socket.write(make(i, socket.localPort ?? 0));
      if (i % 20 === 19) await pause(5);
      if (i % 500 === 499) expectAlive(daemon, `${what} after ${i + 1} cases`);
    }
  } finally {
    socket?.destroy();
  }
}

/**
 * One short connection per case: writes the case, half-closes, waits for the daemon to close (or `waitMs`),
 * `concurrency` at a time.
 */
export async function fuzzConnections(daemon: Daemon, port: number, count: number, make: (i: number) => Buffer, what: string, concurrency = 48, waitMs = 250): Promise<void> {
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const s = connect(port, HOST);
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        s.destroy();
        resolve();
      }, waitMs);
      s.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.once('connect', () => {
        s.write(make(i));
        if (i % 2 === 0) s.end();
      });
    });
  };
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await one(i);
      if (i % 500 === 499) expectAlive(daemon, `${what} after ${i + 1} cases`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
