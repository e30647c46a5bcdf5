// The per-source flood limiter on a fake clock: bans over the limit, lets the ban expire, never limits exempt
// sources, and keeps its table within floodMaxSources whatever the number of (spoofed) sources.

import { describe, expect, it } from 'vitest';
import { FloodLimiter } from '../../src/sip/flood-limiter.js';

function limiter(opts: { rps?: number; banMs?: number; max?: number; exempt?: (a: string) => boolean } = {}) {
  let t = 1_000_000;
  const l = new FloodLimiter({
    requestsPerSecond: opts.rps ?? 10,
    banTimeMs: opts.banMs ?? 5000,
    maxSources: opts.max ?? 100,
    exempt: opts.exempt ?? (() => false),
    now: () => t,
  });
  return { l, advance: (ms: number) => (t += ms) };
}

describe('FloodLimiter', () => {
  it('lets a source send up to the limit, then drops it for the ban time, then lets it send again', () => {
    const { l, advance } = limiter({ rps: 10, banMs: 5000 });
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (l.allows('10.0.0.1')) allowed++;
    // The limit, plus the one request of slack the sliding estimate needs.
    expect(allowed).toBe(11);
    expect(l.bans).toBe(1);
    expect(l.dropped).toBe(39);
    // Another source is not affected.
    expect(l.allows('10.0.0.2')).toBe(true);
    advance(2000);
    expect(l.allows('10.0.0.1')).toBe(false);
    advance(3500);
    expect(l.allows('10.0.0.1')).toBe(true);
    const [worst] = l.worst(5);
    expect(worst).toMatchObject({ address: '10.0.0.1', dropped: 40, bans: 1 });
  });

  it('a steady source under the limit is never banned (sliding estimate over two windows)', () => {
    const { l, advance } = limiter({ rps: 10 });
    for (let i = 0; i < 300; i++) {
      expect(l.allows('10.0.0.1')).toBe(true);
      advance(110);
    }
    expect(l.bans).toBe(0);
  });

  it('never limits an exempt source (a node, the allow-list)', () => {
    const { l } = limiter({ rps: 1, exempt: (a) => a === '10.0.0.9' });
    for (let i = 0; i < 1000; i++) expect(l.allows('10.0.0.9')).toBe(true);
    expect(l.worst(5)).toEqual([]);
  });

  it('keeps at most floodMaxSources entries however many sources send, and keeps banned ones first', () => {
    const { l, advance } = limiter({ rps: 5, max: 100 });
    for (let i = 0; i < 20; i++) l.allows('10.9.9.9');
    expect(l.bans).toBe(1);
    for (let i = 0; i < 100_000; i++) l.allows(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(l.size).toBeLessThanOrEqual(100);
    expect(l.evicted).toBeGreaterThan(99_000);
    // The banned source survived the churn: still dropped.
    expect(l.allows('10.9.9.9')).toBe(false);
    advance(10_000);
    l.sweep();
    expect(l.size).toBe(0);
  });
});
