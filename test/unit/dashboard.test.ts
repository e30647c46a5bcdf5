// The dashboard's rate sampler (mean per second over the last minute, per-second series) and the event journal.
import { describe, expect, it } from 'vitest';
import { RateSampler } from '../../src/api/dashboard.js';
import { EventJournal } from '../../src/stats/events.js';

describe('RateSampler', () => {
  it('gives the mean rate per second over the kept window and one rate per sample interval', () => {
    let now = 0;
    const totals = { sip: 0, http: 0, smpp: 0 };
    const sampler = new RateSampler(() => ({ ...totals }), () => now);
    sampler.sample();
    for (let s = 1; s <= 10; s++) {
      now = s * 1000;
      totals.sip += s <= 5 ? 10 : 30;
      totals.http += 2;
      sampler.sample();
    }
    const r = sampler.rates();
    expect(r.windowSeconds).toBe(10);
    expect(r.sip.perSecond).toBe(20);
    expect(r.http.perSecond).toBe(2);
    expect(r.smpp.perSecond).toBe(0);
    expect(r.sip.series).toEqual([10, 10, 10, 10, 10, 30, 30, 30, 30, 30]);
  });

  it('keeps one minute: older traffic leaves the mean', () => {
    let now = 0;
    const totals = { sip: 0, http: 0, smpp: 0 };
    const sampler = new RateSampler(() => ({ ...totals }), () => now);
    sampler.sample();
    now = 1000;
    totals.sip = 6000; // a burst in the first second
    sampler.sample();
    for (let s = 2; s <= 70; s++) {
      now = s * 1000;
      sampler.sample();
    }
    const r = sampler.rates();
    expect(r.windowSeconds).toBe(60);
    expect(r.sip.perSecond).toBe(0);
    expect(r.sip.series).toHaveLength(60);
  });
});

describe('EventJournal', () => {
  it('keeps the newest events up to its capacity, newest first, filtered by kind', () => {
    const journal = new EventJournal(3, () => 42);
    for (let i = 1; i <= 5; i++) journal.add(i % 2 ? 'node-added' : 'reload', `event ${i}`);
    expect(journal.recent().map((e) => e.text)).toEqual(['event 5', 'event 4', 'event 3']);
    expect(journal.recent(['reload'])).toEqual([{ at: 42, kind: 'reload', text: 'event 4' }]);
  });
});
