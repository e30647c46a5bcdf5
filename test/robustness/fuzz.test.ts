// Mutation fuzzers (issue 16 item 5) against the daemon as a child process: SIP over UDP and TCP on the external
// (client) and internal (node) ports, the HTTP balancer port, and the SMPP port (ESME side). Seeded with valid
// messages and RFC 4475 torture messages, deterministic (FUZZ_SEED), bounded for `npm test` (FUZZ_COUNT scales
// them: `npm run fuzz -- --count N --seed S`). Each asserts: alive, no fatal or uncaught-exception log line, a
// normal call/request/submit still works afterwards, RSS within a bound.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { startLb, startSinkNode, type Lb, type SinkNode } from './harness.js';
import { fuzzRun, mutate, pick, rng, targetSeed, int } from './fuzz/mutate.js';
import { httpSeeds, sipSeeds, smppSeeds } from './fuzz/seeds.js';
import { expectAlive, fuzzConnections, fuzzStream, fuzzUdp, rssOf } from './fuzz/drive.js';
import { startLb as startHttpLb, request, waitForNodes, type Lb as HttpLb, type TestNode } from '../e2e/http-harness.js';
import http from 'node:http';
import net from 'node:net';
import { SmscSimulator, bindEsme, closeSession, request as smppRequest, smppDaemonProperties } from '../helpers/smpp.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/wait.js';

const { seed, count } = fuzzRun(1);
/** Cases per target in `npm test` (scaled by FUZZ_COUNT, which is the count of the largest target). */
const scale = process.env.FUZZ_COUNT ? count / 2000 : 1;
const cases = (n: number): number => Math.max(1, Math.round(n * scale));
/** RSS may grow this much over a run (buffers, JIT, affinity entries of forwarded INVITEs); a leak per case would exceed it in long runs. */
const RSS_GROWTH_BOUND = 150 * 1024 * 1024;
const TIME = 120_000 * Math.max(1, scale);

/** A 200 OK for a request a sink node received (copies Via, From, To, Call-ID, CSeq); undefined for anything else. */
function okFor(text: string): string | undefined {
  if (!/^[A-Z]+ /.test(text) || text.startsWith('ACK ')) return undefined;
  const lines = text.split('\r\n');
  const keep = lines.filter((l) => /^(via|v|from|f|to|t|call-id|i|cseq):/i.test(l));
  return ['SIP/2.0 200 OK', ...keep.map((l) => (/^(to|t):/i.test(l) && !/;tag=/.test(l) ? `${l};tag=node` : l)), 'Content-Length: 0', '', ''].join('\r\n');
}

describe(`SIP fuzz (seed ${seed})`, () => {
  let sink: SinkNode;
  let sinkTcp: net.Server;
  const sinkConns = new Set<net.Socket>();
  let lb: Lb;
  let rss0 = 0;
  beforeAll(async () => {
    sink = await startSinkNode((msg, reply) => {
      const ok = okFor(msg);
      if (ok) reply(ok);
    });
    // The node listens on TCP too (extraServerNodes advertises both): a refused connection would mark it bad.
    sinkTcp = net.createServer((c) => {
      sinkConns.add(c);
      c.on('close', () => sinkConns.delete(c));
      c.on('error', () => undefined);
      c.resume();
    });
    await new Promise<void>((r) => sinkTcp.listen(sink.port, '127.0.0.1', () => r()));
    lb = await startLb([sink.port]);
    rss0 = rssOf(lb.daemon.pid);
  });
  afterAll(async () => {
    await lb?.stop();
    await sink?.close();
    for (const c of sinkConns) c.destroy();
    await new Promise<void>((r) => (sinkTcp ? sinkTcp.close(() => r()) : r()));
  });

  /** A normal INVITE from a fresh client gets the node's 200 OK through the balancer. */
  async function callWorks(): Promise<void> {
    const client = createSocket('udp4');
    const got: string[] = [];
    client.on('message', (m) => got.push(m.toString('latin1')));
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    try {
      const port = client.address().port;
      const invite = sipSeeds('UDP', port, lb.externalPort)[0]!.toString('latin1').replace('fuzz-seed@', `after-fuzz-${Date.now()}@`);
      client.send(Buffer.from(invite, 'latin1'), lb.externalPort, '127.0.0.1');
      await waitUntil(() => got.some((t) => t.startsWith('SIP/2.0 200 ') && t.includes('after-fuzz-')), 'the 200 OK of a normal INVITE', 10_000);
    } finally {
      client.close();
    }
  }

  const targets = [
    { name: 'UDP external', n: 2000, transport: 'UDP' as const, port: () => lb.externalPort },
    { name: 'UDP internal', n: 1000, transport: 'UDP' as const, port: () => lb.internalPort },
    { name: 'TCP external', n: 1000, transport: 'TCP' as const, port: () => lb.externalTcpPort },
    { name: 'TCP internal', n: 500, transport: 'TCP' as const, port: () => lb.internalTcpPort },
  ];
  for (const t of targets) {
    it(`${t.name}: ${cases(t.n)} mutated messages, then a normal call works`, async () => {
      const r = rng(targetSeed(seed, t.name));
      const what = `SIP ${t.name} fuzz, seed ${seed}`;
      const make = (_i: number, localPort: number): Buffer => {
        const seeds = sipSeeds(t.transport, localPort, t.port());
        return int(r, 20) === 0 ? pick(r, seeds) : mutate(r, pick(r, seeds));
      };
      if (t.transport === 'UDP') await fuzzUdp(lb.daemon, t.port(), cases(t.n), make, what);
      else await fuzzStream(lb.daemon, t.port(), cases(t.n), make, what);
      expectAlive(lb.daemon, what);
      await callWorks();
      expect(rssOf(lb.daemon.pid) - rss0, `${what}: RSS growth`).toBeLessThan(RSS_GROWTH_BOUND);
    }, TIME);
  }
});

describe(`HTTP fuzz (seed ${seed})`, () => {
  let lb: HttpLb;
  let node: http.Server;
  beforeAll(async () => {
    lb = await startHttpLb();
    // A plain HTTP node: answers every request 200, closes upgrades (the fuzz's WebSocket cases).
    node = http.createServer((req, res) => {
      req.resume();
      res.end('ok');
    });
    node.on('clientError', (_e, socket) => socket.destroy());
    node.on('upgrade', (_req, socket) => socket.destroy());
    await new Promise<void>((r) => node.listen(0, '127.0.0.1', () => r()));
    const httpPort = (node.address() as net.AddressInfo).port;
    await lb.heartbeats.register({ name: 'fuzz-node', httpPort } as TestNode);
    await waitForNodes(lb, 1);
  });
  afterAll(async () => {
    lb?.heartbeats.stopAll();
    await lb?.daemon.stop();
    node?.closeAllConnections();
    await new Promise<void>((r) => (node ? node.close(() => r()) : r()));
  });

  it(`${cases(1500)} mutated requests on the HTTP port, then a normal request works`, async () => {
    const rss0 = rssOf(lb.daemon.pid);
    const r = rng(targetSeed(seed, 'http'));
    const seeds = httpSeeds(lb.httpPort);
    const what = `HTTP fuzz, seed ${seed}`;
    await fuzzConnections(lb.daemon, lb.httpPort, cases(1500), () => (int(r, 20) === 0 ? pick(r, seeds) : mutate(r, pick(r, seeds))), what);
    expectAlive(lb.daemon, what);
    const res = await request(`http://127.0.0.1:${lb.httpPort}/after-fuzz`);
    expect(res.status).toBe(200);
    expect(rssOf(lb.daemon.pid) - rss0, `${what}: RSS growth`).toBeLessThan(RSS_GROWTH_BOUND);
  }, TIME);
});

describe(`SMPP fuzz, ESME side (seed ${seed})`, () => {
  let smsc: SmscSimulator;
  let daemon: Daemon;
  let smppPort: number;
  beforeAll(async () => {
    smsc = await new SmscSimulator('fuzz-smsc').listen();
    daemon = await startDaemon({ properties: smppDaemonProperties({ muxMode: false, remoteServers: `127.0.0.1:${smsc.port}` }) });
    smppPort = daemon.port('smppPort');
  });
  afterAll(async () => {
    await daemon?.stop();
    await smsc?.kill();
  });

  it(`${cases(1000)} mutated PDUs on the SMPP port, then a bind and submit_sm work`, async () => {
    const rss0 = rssOf(daemon.pid);
    const r = rng(targetSeed(seed, 'smpp'));
    const seeds = smppSeeds();
    const what = `SMPP fuzz, seed ${seed}`;
    // Half the cases bind first, so the mutated PDU reaches a bound session.
    const make = (): Buffer => {
      const bad = mutate(r, pick(r, seeds));
      return r() < 0.5 ? Buffer.concat([seeds[0]!, bad]) : bad;
    };
    await fuzzConnections(daemon, smppPort, cases(1000), make, what, 32, 300);
    expectAlive(daemon, what);
    const { session, resp } = await bindEsme({ port: smppPort, systemId: 'after-fuzz' });
    expect(resp.command_status).toBe(0);
    const submit = await smppRequest(session, 'submit_sm', { destination_addr: '1', short_message: 'after fuzz' });
    expect(submit.command_status).toBe(0);
    await closeSession(session);
    expect(rssOf(daemon.pid) - rss0, `${what}: RSS growth`).toBeLessThan(RSS_GROWTH_BOUND);
  }, TIME);
});
