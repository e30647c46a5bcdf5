// How the fuzzers deliver cases to the daemon (UDP datagrams, a TCP stream that is reopened when the daemon
// closes it, one short TCP or TLS connection per case, short SMPP ESME sessions) and what they check afterwards (alive, no fatal or uncaught
// log line, RSS within a bound).

import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Daemon } from '../../helpers/daemon.js';
import { RawEsme } from '../../helpers/smpp.js';
import { waitUntil } from '../../helpers/wait.js';
import { Cmd, encodeBind } from '../../../src/smpp/pdu.js';
import { smppSeeds } from './seeds.js';

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

export interface ConnectionOptions {
  /** Connections open at once (48). */
  readonly concurrency?: number;
  /** How long a case waits for the daemon to close the connection (250 ms). */
  readonly waitMs?: number;
  /** Half-close after writing every other case (true); false keeps the connection open until waitMs. */
  readonly halfClose?: boolean;
  /** Over TLS (the HTTPS port): the case is written inside the TLS stream, sessions resumed to spare the CPU. */
  readonly tls?: boolean;
}

/**
 * One short connection per case: writes the case, half-closes (every other case), waits for the daemon to
 * close (or `waitMs`), `concurrency` at a time.
 */
export async function fuzzConnections(daemon: Daemon, port: number, count: number, make: (i: number) => Buffer, what: string, opts: ConnectionOptions = {}): Promise<void> {
  const { concurrency = 48, waitMs = 250, halfClose = true } = opts;
  let session: Buffer | undefined;
  const open = (): { s: Socket; ready: string } => {
    if (!opts.tls) return { s: connect(port, HOST), ready: 'connect' };
    const s = tlsConnect({ port, host: HOST, rejectUnauthorized: false, session });
    s.on('session', (t: Buffer) => (session = t));
    return { s, ready: 'secureConnect' };
  };
  const one = async (i: number): Promise<void> => {
    const { s, ready } = open();
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
      s.once(ready, () => {
        s.write(make(i));
        if (halfClose && i % 2 === 0) s.end();
      });
    });
  };
  await inParallel(count, concurrency, one, (done) => done % 500 === 0 && expectAlive(daemon, `${what} after ${done} cases`));
}

/**
 * `count` short ESME sessions on the SMPP port, `concurrency` at a time: bind (system_id from `systemIdOf`), then,
 * once answered or after 200 ms, two submit_sm and an enquire_link; closed after `lifeMs`. What the SMSC side
 * answers them is the fuzz.
 */
export async function esmeSessions(daemon: Daemon, port: number, count: number, systemIdOf: (i: number) => string, what: string, concurrency = 16, lifeMs = 150): Promise<void> {
  const [, , , submit, enquire] = smppSeeds();
  const one = async (i: number): Promise<void> => {
    const esme = new RawEsme(port);
    try {
      await Promise.race([esme.connected(), pause(1000)]);
      esme.write(encodeBind({ commandId: Cmd.bind_transceiver, systemId: systemIdOf(i), password: 'pw', systemType: '', interfaceVersion: 0x34, addrTon: 0, addrNpi: 0, addressRange: '' }, 1));
      await waitUntil(() => esme.pdus.length > 0 || esme.closed, 'an answer or a close', 200).catch(() => undefined);
      if (!esme.closed) esme.write(Buffer.concat([submit!, submit!, enquire!]));
      await waitUntil(() => esme.closed, 'the session closed', lifeMs).catch(() => undefined);
    } finally {
      esme.destroy();
    }
  };
  await inParallel(count, concurrency, one, (done) => done % 100 === 0 && expectAlive(daemon, `${what} after ${done} sessions`));
}

/** Runs `one(0 … count-1)`, `concurrency` at a time; `after(i + 1)` once case i is done. */
async function inParallel(count: number, concurrency: number, one: (i: number) => Promise<void>, after: (done: number) => void): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await one(i);
      after(i + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
