import { describe, expect, it } from 'vitest';
import { algorithm, node, request } from './algorithm-fixtures.js';

describe('active-standby', () => {
  it('sends everything to the first node until it fails, then to the standby, and does not flap back', async () => {
    const algo = await algorithm('active-standby');
    const a = node('10.0.0.1', 5060, {}, 1000);
    const b = node('10.0.0.2', 5060, {}, 2000);
    algo.nodesChanged([b, a]);
    for (let i = 0; i < 20; i++) expect(algo.pickForSipRequest(request())).toBe(a);
    expect(algo.pickForHttpRequest({ url: '/' } as never)).toBe(a);
    algo.nodesChanged([b]);
    for (let i = 0; i < 20; i++) expect(algo.pickForSipRequest(request())).toBe(b);
    const a2 = node('10.0.0.1', 5060, {}, 3000);
    algo.nodesChanged([a2, b]);
    expect(algo.pickForSipRequest(request())).toBe(b);
    await algo.stop();
  });

  it('moves to the standby when the active node drains or turns bad', async () => {
    for (const state of ['graceful', 'bad'] as const) {
      const algo = await algorithm('active-standby');
      const a = node('10.0.0.1', 5060, {}, 1000);
      const b = node('10.0.0.2', 5060, {}, 2000);
      algo.nodesChanged([a, b]);
      expect(algo.pickForSipRequest(request())).toBe(a);
      a.state = state;
      algo.nodesChanged([a, b]);
      expect(algo.pickForSipRequest(request())).toBe(b);
      // A dialog set up on a draining node finishes there.
      expect(algo.pickForAssignedSipRequest!(request(), a, '0')).toBe(state === 'graceful' ? a : b);
      await algo.stop();
    }
  });
});

describe('active-standby with activeStandbyFailback=true', () => {
  it('returns the traffic to the primary (first by address) when it comes back', async () => {
    const algo = await algorithm('active-standby', { activeStandbyFailback: 'true' });
    const primary = node('10.0.0.1', 5060, {}, 2000);
    const standby = node('10.0.0.2', 5060, {}, 1000);
    algo.nodesChanged([standby, primary]);
    expect(algo.pickForSipRequest(request())).toBe(primary);
    algo.nodesChanged([standby]);
    expect(algo.pickForSipRequest(request())).toBe(standby);
    const back = node('10.0.0.1', 5060, {}, 3000);
    algo.nodesChanged([standby, back]);
    expect(algo.pickForSipRequest(request())).toBe(back);
    await algo.stop();
  });
});
