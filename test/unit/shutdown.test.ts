// How the process ends: a signal stops the daemon and exits 0; an uncaught exception is logged with its stack,
// the daemon drains and stops, and the process exits 70 — within shutdownTimeout whatever the daemon does.

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CRASH_EXIT_CODE, Shutdown, type StoppableDaemon } from '../../src/shutdown.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

/** A daemon that records the order of the calls; `hang` makes drain or stop never finish. */
function fakeDaemon(hang?: 'drain' | 'stop') {
  const calls: string[] = [];
  const never = new Promise<void>(() => undefined);
  const daemon: StoppableDaemon = {
    drain: () => {
      calls.push('drain');
      return hang === 'drain' ? never : Promise.resolve();
    },
    stop: () => {
      calls.push('stop');
      return hang === 'stop' ? never : Promise.resolve();
    },
  };
  return { daemon, calls };
}

function exitPromise(): { exit: (code: number) => void; exited: Promise<number> } {
  let exit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (exit = resolve));
  return { exit, exited };
}

describe('Shutdown', () => {
  it('an uncaught exception: logged fatal with its stack, drain then stop, exit 70', async () => {
    const { log, lines } = capture();
    const { daemon, calls } = fakeDaemon();
    const { exit, exited } = exitPromise();
    const proc = new EventEmitter();
    new Shutdown(daemon, log, { timeoutMs: 5000, exit }).install(proc);
    proc.emit('uncaughtException', new Error('plug-in bug'), 'uncaughtException');
    expect(await exited).toBe(CRASH_EXIT_CODE);
    expect(CRASH_EXIT_CODE).toBe(70);
    expect(calls).toEqual(['drain', 'stop']);
    const fatal = lines.find((l) => l.level === 60)!;
    expect(fatal.msg).toContain('uncaught exception: plug-in bug');
    expect((fatal.err as { stack: string }).stack).toMatch(/Error: plug-in bug\n\s+at /);
    expect(fatal.origin).toBe('uncaughtException');
  });

  it('an uncaught exception whose drain never ends: exit 70 after shutdownTimeout, with a warning', async () => {
    const { log, lines } = capture();
    const { daemon, calls } = fakeDaemon('drain');
    const { exit, exited } = exitPromise();
    const started = Date.now();
    new Shutdown(daemon, log, { timeoutMs: 100, exit }).crash(new Error('boom'));
    expect(await exited).toBe(70);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(calls).toEqual(['drain']);
    expect(lines.some((l) => l.level === 40 && String(l.msg).includes('did not finish within shutdownTimeout (100 ms)'))).toBe(true);
  });

  it('a signal: stop without drain, exit 0; a second signal changes nothing', async () => {
    const { log, lines } = capture();
    const { daemon, calls } = fakeDaemon();
    const { exit, exited } = exitPromise();
    const proc = new EventEmitter();
    new Shutdown(daemon, log, { timeoutMs: 5000, exit }).install(proc);
    proc.emit('SIGTERM');
    proc.emit('SIGINT');
    expect(await exited).toBe(0);
    expect(calls).toEqual(['stop']);
    expect(lines.map((l) => l.msg)).toEqual(['SIGTERM received: shutting down']);
  });

  it('an uncaught exception during a shutdown: exit 70 at once, without waiting for the stop in progress', async () => {
    const { log, lines } = capture();
    const { daemon } = fakeDaemon('stop');
    const { exit, exited } = exitPromise();
    const shutdown = new Shutdown(daemon, log, { timeoutMs: 60_000, exit });
    shutdown.request('SIGTERM');
    shutdown.crash(new Error('while stopping'));
    expect(await exited).toBe(70);
    expect(lines.find((l) => l.level === 60)!.msg).toContain('while shutting down');
  });

  it('a failing stop after an uncaught exception still exits 70; after a signal it exits 1', async () => {
    const failing: StoppableDaemon = { stop: () => Promise.reject(new Error('close failed')) };
    const crash = exitPromise();
    new Shutdown(failing, capture().log, { timeoutMs: 5000, exit: crash.exit }).crash(new Error('x'));
    expect(await crash.exited).toBe(70);
    const signal = exitPromise();
    new Shutdown(failing, capture().log, { timeoutMs: 5000, exit: signal.exit }).request('SIGTERM');
    expect(await signal.exited).toBe(1);
  });

  it('a worker leaves signals to its primary', () => {
    const proc = new EventEmitter();
    new Shutdown(fakeDaemon().daemon, capture().log, { timeoutMs: 5000, exit: () => undefined }).install(proc, false);
    expect(proc.listenerCount('SIGTERM')).toBe(0);
    expect(proc.listenerCount('SIGINT')).toBe(0);
    expect(proc.listenerCount('uncaughtException')).toBe(1);
  });
});
