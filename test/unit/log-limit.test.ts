// The rate-limited warnings: one per cause per interval, the next one carrying the count, stacks at debug only.

import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { RateLimitedLog } from '../../src/log-limit.js';

function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

describe('RateLimitedLog', () => {
  it('warns once per cause per interval, then says how many were not logged', () => {
    let t = 0;
    const { log, lines } = capture();
    const w = new RateLimitedLog(log, 1000, () => t);
    for (let i = 0; i < 50; i++) w.warn('bad-address', `bad ${i}`);
    w.warn('other', 'other cause');
    expect(lines.map((l) => [l.cause, l.suppressed])).toEqual([['bad-address', 0], ['other', 0]]);
    t = 1000;
    w.warn('bad-address', 'bad again');
    expect(lines[2]).toMatchObject({ level: 40, cause: 'bad-address', suppressed: 49 });
    expect(String(lines[2]!.msg)).toContain('49 more since the last warning');
  });

  it('puts stack traces at debug only', () => {
    const info = capture('info');
    new RateLimitedLog(info.log).warn('error', 'boom', new Error('boom'));
    expect(info.lines).toHaveLength(1);
    expect(info.lines[0]!.err).toBeUndefined();
    const debug = capture('debug');
    new RateLimitedLog(debug.log).warn('error', 'boom', new Error('boom'));
    expect(debug.lines.map((l) => l.level)).toEqual([40, 20]);
    expect((debug.lines[1]!.err as { stack: string }).stack).toContain('Error: boom');
  });

  it('take() answers -1 inside the interval, for callers that build no message', () => {
    let t = 0;
    const w = new RateLimitedLog(capture().log, 100, () => t);
    expect(w.take('x')).toBe(0);
    expect(w.take('x')).toBe(-1);
    expect(w.take('x')).toBe(-1);
    t = 100;
    expect(w.take('x')).toBe(2);
  });
});
