import { describe, expect, it } from 'vitest';
import { algorithm, nodes, request } from './algorithm-fixtures.js';

describe('user-based', () => {
  it('sends 20 calls to one user to one node, and other users elsewhere', async () => {
    const algo = await algorithm('user-based');
    const three = nodes(3);
    algo.nodesChanged(three);
    const first = algo.pickForSipRequest(request({ toUser: 'carol' }));
    for (let i = 0; i < 19; i++) expect(algo.pickForSipRequest(request({ toUser: 'carol' }))).toBe(first);
    const others = new Set(Array.from({ length: 30 }, (_, i) => algo.pickForSipRequest(request({ toUser: `u${i}` }))));
    expect(others.size).toBe(3);
    await algo.stop();
  });

  it('does not give a user\'s new call to a graceful node', async () => {
    const algo = await algorithm('user-based');
    const two = nodes(2);
    algo.nodesChanged(two);
    const first = algo.pickForSipRequest(request({ toUser: 'dave' }))!;
    first.state = 'graceful';
    algo.nodesChanged(two);
    const next = algo.pickForSipRequest(request({ toUser: 'dave' }));
    expect(next).toBe(two.find((n) => n !== first));
    await algo.stop();
  });

  it('keys by From URI with sipHeaderAffinityKey=From, with the exclusion pattern and fallback', async () => {
    const algo = await algorithm('user-based', { sipHeaderAffinityKey: 'From', sipHeaderAffinityExclusionPattern: 'anonymous', sipHeaderAffinityFallbackKey: 'Call-ID' });
    algo.nodesChanged(nodes(3));
    const first = algo.pickForSipRequest(request({ fromUser: 'erin', toUser: 'x1' }));
    for (let i = 0; i < 10; i++) expect(algo.pickForSipRequest(request({ fromUser: 'erin', toUser: `y${i}` }))).toBe(first);
    const anon = new Set(Array.from({ length: 12 }, () => algo.pickForSipRequest(request({ fromUri: 'sip:anonymous@anonymous.invalid' }))));
    expect(anon.size).toBe(3);
    await algo.stop();
  });
});
