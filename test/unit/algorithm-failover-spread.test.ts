// Kamailio issue 2361's case for every algorithm where spreading is meaningful: 6 nodes, 6,000 Call-IDs; when
// one node (or two adjacent ones) dies, its calls spread over the survivors (none above 1.25× the mean, where
// Kamailio's hash gives the neighbour 2×) and no call whose node survived moves.
import { describe, expect, it } from 'vitest';
import { algorithm, nodes, request } from './algorithm-fixtures.js';
import type { AlgorithmSipRequest, BalancerAlgorithm } from '../../src/algorithms/algorithm.js';
import type { ServerNode } from '../../src/registry/server-node.js';

/** Algorithms that place calls by key or by turn; active-standby and subclusters keep a failed node's calls together on purpose. */
const SPREADING = ['round-robin', 'call-id-affinity', 'header-consistent-hash', 'persistent-consistent-hash', 'user-based', 'weighted', 'least-calls'];
const KEYS = 6000;

/** The node an in-dialog request of `req` goes to, as the forwarder asks (its hint names `assigned`, undefined once dead). */
function follow(algo: BalancerAlgorithm, req: AlgorithmSipRequest, assigned: ServerNode | undefined): ServerNode | undefined {
  const mid = { ...req, method: 'BYE' };
  return algo.pickForAssignedSipRequest ? algo.pickForAssignedSipRequest(mid, assigned, '0') : algo.pickForSipRequest(mid);
}

/** Kamailio's dispatcher hash (algorithm 0) with its failover to the next destination: the case the bound must catch. */
function kamailioLike(): BalancerAlgorithm {
  let live: ServerNode[] = [];
  let everyone: ServerNode[] = [];
  const pick = (req: AlgorithmSipRequest): ServerNode | undefined => {
    let i = [...req.callId].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % everyone.length;
    while (!live.includes(everyone[i]!)) i = (i + 1) % everyone.length;
    return everyone[i];
  };
  return {
    name: 'kamailio-like',
    init() {},
    nodesChanged(nodes) {
      live = nodes.filter((n) => n.state === 'active');
      if (everyone.length === 0) everyone = [...nodes];
    },
    pickForSipRequest: pick,
    pickForHttpRequest: () => undefined,
    stop() {},
  };
}

async function failover(name: string, dead: number[], how: 'removed' | 'bad' = 'removed'): Promise<{ counts: Map<ServerNode, number>; moved: number; lost: number; survivors: ServerNode[] }> {
  const algo = name === 'kamailio-like' ? kamailioLike() : await algorithm(name);
  const all = nodes(6);
  algo.nodesChanged(all);
  const calls: { req: AlgorithmSipRequest; node: ServerNode }[] = [];
  for (let i = 0; i < KEYS; i++) {
    const req = request({ callId: `call-${i}@kamailio-2361`, toUser: `user${i}` });
    const node = algo.pickForSipRequest(req)!;
    algo.assignToNode?.(req, node);
    calls.push({ req, node });
  }
  const gone = new Set(dead.map((i) => all[i]!));
  const survivors = all.filter((n) => !gone.has(n));
  if (how === 'removed') algo.nodesChanged(survivors);
  else {
    for (const n of gone) n.state = 'bad';
    algo.nodesChanged(all);
  }
  const counts = new Map<ServerNode, number>(survivors.map((n) => [n, 0]));
  let moved = 0;
  let lost = 0;
  for (const c of calls) {
    const alive = !gone.has(c.node);
    // A removed node is unknown to the registry (no assigned node); a bad one is still named by the hint.
    const now = follow(algo, c.req, alive || how === 'bad' ? c.node : undefined);
    if (!now || gone.has(now)) {
      lost++;
      continue;
    }
    if (alive && now !== c.node) moved++;
    counts.set(now, counts.get(now)! + 1);
  }
  await algo.stop();
  return { counts, moved, lost, survivors };
}

describe('even failover spread: 6 nodes, 6,000 Call-IDs', () => {
  for (const name of SPREADING) {
    for (const [label, dead] of [['one node down', [2]], ['two adjacent nodes down', [2, 3]]] as const) {
      it(`${name}: ${label}: no survivor above 1.25× the mean, and 0 moves for survivors' calls`, async () => {
        for (const how of ['removed', 'bad'] as const) {
          const { counts, moved, lost, survivors } = await failover(name, [...dead], how);
          expect(lost, how).toBe(0);
          expect(moved, how).toBe(0);
          const mean = KEYS / survivors.length;
          const max = Math.max(...counts.values());
          expect(max / mean, `${how}: ${JSON.stringify([...counts.values()])}`).toBeLessThanOrEqual(1.25);
        }
      });
    }
  }

  it("the measure catches Kamailio's hash with next-destination failover: its neighbour gets about 2×", async () => {
    const { counts, survivors } = await failover('kamailio-like', [2]);
    const max = Math.max(...counts.values());
    expect(max / (KEYS / survivors.length)).toBeGreaterThan(1.5);
  });
});
