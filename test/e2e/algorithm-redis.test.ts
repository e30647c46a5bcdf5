// persistent-consistent-hash across two balancer daemons sharing a real redis-server: a dialog whose
// INVITE went through balancer A and whose BYE goes through balancer B reaches the same node, also after
// a node was added in between; and calls keep completing while Redis is down.

import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { startRedis } from '../helpers/redis.js';
import { HashRing } from '../../src/algorithms/hash-ring.js';
import { HOST, activeNodePorts, describeResult, runCalls, startBalancer, startNode, type Balancer, type TestNode } from './algorithm-harness.js';
import { waitUntil } from '../helpers/wait.js';

let cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** A minimal UDP user agent that sends dialog requests to whichever balancer the test names. */
class RawUac {
  private readonly responses = new Map<string, { status: number; cseq: string; toTag?: string }[]>();
  private constructor(private readonly socket: Socket, readonly port: number) {
    socket.on('message', (buf) => {
      const text = buf.toString('latin1');
      const m = /^SIP\/2\.0 (\d{3})/.exec(text);
      if (!m) return;
      const callId = /\r\nCall-ID: *([^\r]+)/i.exec(text)?.[1]?.trim() ?? '';
      const cseq = /\r\nCSeq: *([^\r]+)/i.exec(text)?.[1]?.trim() ?? '';
      const toTag = /\r\nTo:[^\r]*;tag=([^;\r>]+)/i.exec(text)?.[1];
      const list = this.responses.get(callId) ?? [];
      list.push({ status: Number(m[1]), cseq, toTag });
      this.responses.set(callId, list);
    });
  }

  static async open(): Promise<RawUac> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, HOST, () => resolve()));
    return new RawUac(s, s.address().port);
  }

  close(): void {
    this.socket.close();
  }

  private send(lbPort: number, lines: string[], body = ''): void {
    const text = lines.join('\r\n') + `\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` + body;
    this.socket.send(Buffer.from(text, 'latin1'), lbPort, HOST);
  }

  private headers(method: string, lbPort: number, callId: string, cseq: number, toTag?: string): string[] {
    return [
      `${method} sip:service@${HOST}:${lbPort} SIP/2.0`,
      `Via: SIP/2.0/UDP ${HOST}:${this.port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
      'Max-Forwards: 70',
      `From: <sip:uac@${HOST}:${this.port}>;tag=uac-${callId.slice(0, 6)}`,
      `To: <sip:service@${HOST}>${toTag ? `;tag=${toTag}` : ''}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:uac@${HOST}:${this.port}>`,
    ];
  }

  /** Sends the INVITE (retransmitting) and resolves with the To tag of its 200 OK. */
  async invite(lbPort: number, callId: string): Promise<string> {
    const sdp = `v=0\r\no=uac 1 1 IN IP4 ${HOST}\r\ns=-\r\nc=IN IP4 ${HOST}\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n`;
    const lines = [...this.headers('INVITE', lbPort, callId, 1), 'Content-Type: application/sdp'];
    let tag: string | undefined;
    await waitUntil(() => {
      tag = this.responses.get(callId)?.find((r) => r.status === 200 && r.cseq.endsWith('INVITE'))?.toTag;
      if (!tag) this.send(lbPort, lines, sdp);
      return tag !== undefined;
    }, `200 OK to the INVITE of ${callId}`, 6000);
    return tag!;
  }

  ack(lbPort: number, callId: string, toTag: string): void {
    this.send(lbPort, this.headers('ACK', lbPort, callId, 1, toTag));
  }

  bye(lbPort: number, callId: string, toTag: string): void {
    this.send(lbPort, this.headers('BYE', lbPort, callId, 2, toTag));
  }
}

describe('persistent-consistent-hash with two balancers and Redis', () => {
  it('a BYE through balancer B reaches the node the INVITE reached through balancer A, after a node was added', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const props = { algorithmClass: 'PersistentConsistentHashBalancerAlgorithm', affinityStore: redis.url, affinityStoreTimeout: 300 };
    const a = await startBalancer(props);
    cleanups.push(() => a.stop());
    const b = await startBalancer(props);
    cleanups.push(() => b.stop());
    await a.daemon.waitForLog(/affinity store .* connected/, 3000);
    await b.daemon.waitForLog(/affinity store .* connected/, 3000);
    const nodes: TestNode[] = [];
    const addNode = async (): Promise<TestNode> => {
      const n = await startNode([a, b]);
      cleanups.push(() => n.stop());
      nodes.push(n);
      await waitUntil(async () => (await activeNodePorts(a)).includes(n.port) && (await activeNodePorts(b)).includes(n.port), `node ${n.port} at both balancers`);
      return n;
    };
    for (let i = 0; i < 3; i++) await addNode();

    const uac = await RawUac.open();
    cleanups.push(() => uac.close());
    const calls = Array.from({ length: 30 }, () => `${randomBytes(8).toString('hex')}@e2e`);
    const tags = new Map<string, string>();
    await Promise.all(calls.map(async (id) => {
      const tag = await uac.invite(a.externalPort, id);
      tags.set(id, tag);
      uac.ack(a.externalPort, id, tag);
    }));
    const ownerOf = (id: string, method: string): number[] => nodes.flatMap((n, i) => (n.callIds(method).has(id) ? [i] : []));
    const invitedAt = new Map(calls.map((id) => [id, ownerOf(id, 'INVITE')]));
    for (const [id, at] of invitedAt) expect(at, `INVITE ${id}`).toHaveLength(1);

    const added = await addNode();
    // The plain ring over four nodes would move some of these calls: the store is what keeps them.
    const ring = new HashRing<string>((s) => s);
    ring.build(nodes.map((n) => `${HOST}:${n.port}`));
    const wouldMove = calls.filter((id) => ring.lookup(id) !== `${HOST}:${nodes[invitedAt.get(id)![0]!]!.port}`);
    expect(wouldMove.length, 'calls the ring alone would move').toBeGreaterThan(0);

    // What is tested is where each BYE lands. (Its 200 OK does not come back: sipp answers a known call to
    // the address the INVITE came from, balancer A, rather than by the Via, which names B.)
    const byeAt = (id: string): number[] => ownerOf(id, 'BYE');
    let lastSend = 0;
    await waitUntil(() => {
      const missing = calls.filter((id) => byeAt(id).length === 0);
      // Sent, and re-sent every 500 ms like a UDP retransmission, until the node has it.
      if (Date.now() - lastSend >= 500) {
        for (const id of missing) uac.bye(b.externalPort, id, tags.get(id)!);
        lastSend = Date.now();
      }
      return missing.length === 0;
    }, 'every BYE at a node', 8000);
    for (const id of calls) expect(ownerOf(id, 'BYE'), `BYE ${id}`).toEqual(invitedAt.get(id));
    expect(added.callIds('BYE').size).toBe(0);
  });

  it('calls keep completing while Redis is down; the daemon logs it once and recovers when Redis returns', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const lb: Balancer = await startBalancer({ algorithmClass: 'persistent-consistent-hash', affinityStore: redis.url, affinityStoreTimeout: 200 });
    cleanups.push(() => lb.stop());
    await lb.daemon.waitForLog(/affinity store .* connected/, 3000);
    for (let i = 0; i < 2; i++) {
      const n = await startNode([lb]);
      cleanups.push(() => n.stop());
      await waitUntil(async () => (await activeNodePorts(lb)).includes(n.port), 'node registered');
    }
    const before = await runCalls(lb, { calls: 10, trace: false });
    expect(before.code, describeResult('before', before)).toBe(0);

    await redis.stop('SIGKILL');
    await lb.daemon.waitForLog(/affinity store .* unreachable/, 3000);
    const during = await runCalls(lb, { calls: 20, trace: false });
    expect(during.code, describeResult('during', during)).toBe(0);
    expect(during.stats?.successfulCalls).toBe(20);
    expect(lb.daemon.logs.filter((l) => /affinity store .* unreachable/.test(l.msg))).toHaveLength(1);

    const again = await startRedis(redis.port);
    cleanups.push(() => again.stop());
    await lb.daemon.waitForLog(/affinity store .* reachable again/, 8000);
    const after = await runCalls(lb, { calls: 10, trace: false });
    expect(after.code, describeResult('after', after)).toBe(0);
  });
});
