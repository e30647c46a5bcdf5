import { describe, expect, it } from 'vitest';
import { NewCallPicker, rampUpFraction } from '../../src/algorithms/new-call-picker.js';
import { nodes } from './algorithm-fixtures.js';

describe('slow start (trafficRampupCyclePeriod, trafficPercentageIncrease)', () => {
  it('gives a new node one step more of its weight per cycle', () => {
    const opts = { cyclePeriodMs: 1000, percentageIncrease: 25 };
    expect(rampUpFraction(0, opts)).toBe(0.25);
    expect(rampUpFraction(999, opts)).toBe(0.25);
    expect(rampUpFraction(1000, opts)).toBe(0.5);
    expect(rampUpFraction(3000, opts)).toBe(1);
    expect(rampUpFraction(99_000, opts)).toBe(1);
    expect(rampUpFraction(0, {})).toBe(1);
  });

  it('a node joining two running nodes gets 10%, then 20%… of its share, then a full share', () => {
    let now = 0;
    const picker = new NewCallPicker({ rampUp: { cyclePeriodMs: 1000, percentageIncrease: 10 }, now: () => now });
    const [a, b, c] = nodes(3);
    picker.update([a!, b!]);
    now = 60_000;
    picker.update([a!, b!, c!]);
    const shareOfC = (): number => {
      let hits = 0;
      for (let i = 0; i < 2100; i++) if (picker.pick() === c) hits++;
      return hits / 2100;
    };
    // Weights 1, 1, 0.1 → 0.1 / 2.1.
    expect(shareOfC()).toBeCloseTo(0.1 / 2.1, 2);
    now += 1000;
    expect(shareOfC()).toBeCloseTo(0.2 / 2.2, 2);
    now += 10_000;
    expect(shareOfC()).toBeCloseTo(1 / 3, 2);
  });

  it('applies to the algorithms that place new calls', async () => {
    const { algorithm, nodes: mk, request, shares } = await import('./algorithm-fixtures.js');
    const algo = await algorithm('weighted', { trafficRampupCyclePeriod: 60_000, trafficPercentageIncrease: 20 });
    let now = 0;
    // The algorithm's clock (a protected field), so that the first node has finished its own ramp-up.
    Object.assign(algo, { now: () => now });
    const [a, b] = mk(2);
    algo.nodesChanged([a!]);
    now = 10 * 60_000;
    algo.nodesChanged([a!, b!]);
    const s = shares(Array.from({ length: 6000 }, () => algo.pickForSipRequest(request())));
    // b weighs 0.2 against a's 1 for its first minute.
    expect(s.get(b!.id)!).toBeCloseTo((0.2 / 1.2) * 100, 0);
    await algo.stop();
  });
});
