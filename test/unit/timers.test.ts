import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { guardedInterval } from '../../src/timers.js';

// A logger whose lines are kept, to see what an operator would read.
function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

describe('guardedInterval', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps running after a round throws, and warns once per minute with the count of the others', () => {
    vi.useFakeTimers();
    const { log, lines } = capture();
    let rounds = 0;
    const timer = guardedInterval('Test sweep', 1000, () => {
      rounds++;
      throw new Error('boom');
    }, log);
    vi.advanceTimersByTime(5000);
    expect(rounds).toBe(5);
    vi.advanceTimersByTime(60_000);
    clearInterval(timer);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(2);
    expect(String(warnings[0]!.msg)).toContain('Test sweep failed: boom');
    expect(warnings[0]!.err).toBeUndefined(); // no stack trace at warn
    expect(String(warnings[1]!.msg)).toMatch(/\d+ more since the last warning/);
  });

  it('without any logger, rethrows so that the fault is not hidden', () => {
    vi.useFakeTimers();
    const timer = guardedInterval('Test sweep', 1000, () => {
      throw new Error('boom');
    });
    expect(() => vi.advanceTimersByTime(1000)).toThrow('boom');
    clearInterval(timer);
  });

  it('does not keep the process alive', () => {
    const timer = guardedInterval('Test sweep', 1000, () => undefined);
    expect(timer.hasRef()).toBe(false);
    clearInterval(timer);
  });
});
