// HTTP rules both paths share (the fast path and node:http, httpFastPath=false), against real node:http nodes:
// JSESSIONIDs without jvmRoute stay on the node that created them, or are hashed consistently onto the live
// nodes; requestCheckPattern marks a node bad when it answers a matching URL with an error, and counts it.

import { describe, it, expect, afterEach } from 'vitest';
import { answeredBy, lbstat, request, startLb, startNode, waitForNodes, type Lb, type TestNode } from './http-harness.js';
import { waitUntil } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function lbWith(extra: Record<string, string | number | boolean>): Promise<Lb> {
  const lb = await startLb(extra);
  cleanups.push(() => lb.daemon.stop());
  cleanups.push(() => lb.heartbeats.stopAll());
  return lb;
}

async function node(lb: Lb, name: string, opts: Parameters<typeof startNode>[1] = {}): Promise<TestNode> {
  const n = await startNode(name, opts);
  cleanups.push(() => n.stop());
  await lb.heartbeats.register(n);
  return n;
}

async function nodeStates(lb: Lb): Promise<Record<string, string>> {
  const res = await fetch(`http://127.0.0.1:${lb.statisticPort}/lbinfo`);
  const info = (await res.json()) as { 'Nodes info': { nodesIPv4: { hostname: string; state: string }[] } };
  return Object.fromEntries(info['Nodes info'].nodesIPv4.map((n) => [n.hostname, n.state]));
}

const get = (lb: Lb, path: string, cookie?: string) =>
  request(`http://127.0.0.1:${lb.httpPort}${path}`, cookie === undefined ? {} : { headers: { cookie } });

for (const fastPath of [true, false]) {
  const label = fastPath ? 'fast path' : 'node:http path';

  describe(`JSESSIONID without jvmRoute (${label})`, () => {
    it('keeps a session on the node that created it', async () => {
      const lb = await lbWith({ httpFastPath: fastPath });
      await node(lb, 'a', { sessionWithoutRoute: true });
      await node(lb, 'b', { sessionWithoutRoute: true });
      await waitForNodes(lb, 2);
      for (let round = 0; round < 2; round++) {
        const login = await get(lb, '/setcookie');
        const cookie = String(login.headers['set-cookie']).split(';')[0]!;
        expect(cookie).toMatch(/^JSESSIONID=[ab]-/);
        const creator = answeredBy(login);
        // Round robin alone would alternate; the session stays where it was created.
        for (let i = 0; i < 5; i++) expect(answeredBy(await get(lb, '/page', `theme=dark; ${cookie}`))).toBe(creator);
      }
    });

    it('hashes unknown session ids consistently: the same node each time, spread over nodes, few moved when a node joins', async () => {
      const lb = await lbWith({ httpFastPath: fastPath });
      await node(lb, 'a');
      await node(lb, 'b');
      await waitForNodes(lb, 2);
      const ids = Array.from({ length: 40 }, (_, i) => `session${i}x${Math.random().toString(36).slice(2, 8)}`);
      const placement = async (): Promise<Map<string, string>> => {
        const m = new Map<string, string>();
        for (const id of ids) m.set(id, answeredBy(await get(lb, '/page', `JSESSIONID=${id}`)));
        return m;
      };
      const before = await placement();
      expect(await placement()).toEqual(before);
      expect(new Set(before.values())).toEqual(new Set(['a', 'b']));

      await node(lb, 'c');
      await waitForNodes(lb, 3);
      const after = await placement();
      const moved = ids.filter((id) => after.get(id) !== before.get(id));
      // A consistent hash moves sessions only onto the new node, and only some of them (about a third).
      expect(moved.every((id) => after.get(id) === 'c')).toBe(true);
      expect(moved.length).toBeGreaterThan(0);
      expect(moved.length).toBeLessThan(ids.length * 0.6);
    });
  });

  describe(`requestCheckPattern (${label})`, () => {
    it('marks a node bad when it answers a matching URL with an error, counts it, and sends later requests elsewhere', async () => {
      const lb = await lbWith({ httpFastPath: fastPath, requestCheckPattern: '^/check', nodeQuarantine: 1500 });
      let aFails = true;
      // a: /check fails (while aFails), /other answers 404 (not a check URL); b: always fine.
      await node(lb, 'a', { statusFor: (url) => (url.startsWith('/check') && aFails ? 503 : url.startsWith('/other') ? 404 : undefined) });
      await node(lb, 'b');
      await waitForNodes(lb, 2);

      // An error on a URL that does not match, and a success on one that does, mark nothing.
      for (let i = 0; i < 4; i++) await get(lb, '/other');
      expect((await lbstat(lb.statisticPort)).HttpRequestCheckFailures).toBe(0);
      expect(await nodeStates(lb)).toEqual({ a: 'active', b: 'active' });

      // Round robin sends one of two /check requests to a: it answers 503 and is marked bad.
      const answers = [await get(lb, '/check'), await get(lb, '/check')];
      expect(answers.map((r) => r.status).sort()).toEqual([200, 503]);
      await waitUntil(async () => (await nodeStates(lb)).a === 'bad', 'a marked bad', 3000);
      const m = await lbstat(lb.statisticPort);
      expect(m).toMatchObject({ HttpRequestCheckFailures: 1, HttpRequestCheckNodesMarkedBad: 1 });
      for (let i = 0; i < 4; i++) expect(answeredBy(await get(lb, '/page'))).toBe('b');

      // Health's quarantine gives a (still heart-beating) its traffic back.
      aFails = false;
      await waitUntil(async () => (await nodeStates(lb)).a === 'active', 'a back after its quarantine', 8000);
      const back = new Set<string>();
      for (let i = 0; i < 4; i++) back.add(answeredBy(await get(lb, '/page')));
      expect(back).toEqual(new Set(['a', 'b']));
    });
  });
}
