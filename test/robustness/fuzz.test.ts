// Mutation fuzzers (issue 16 item 5) against the daemon as a child process: SIP over UDP and TCP on the external
// (client) and internal (node) ports; the HTTP balancer's HTTP and HTTPS ports, the statistics port and the JSON
// heartbeat port; SMPP on both sides (mutated PDUs from ESMEs, mutated answers from an SMSC, regular and mux mode). Seeded with valid
// messages and RFC 4475 torture messages, deterministic (FUZZ_SEED), bounded for `npm test` (FUZZ_COUNT scales
// them: `npm run fuzz -- --count N --seed S`). Each asserts: alive, no fatal or uncaught-exception log line, a
// normal call/request/submit still works afterwards, RSS within a bound.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { startLb, startSinkNode, type Lb, type SinkNode } from './harness.js';
import { fuzzRun, mutate, pick, rng, targetSeed, int, type Rand } from './fuzz/mutate.js';
import { heartbeatSeeds, httpSeeds, sipSeeds, smppSeeds, smscSeeds, statSeeds } from './fuzz/seeds.js';
import { esmeSessions, expectAlive, fuzzConnections, fuzzStream, fuzzUdp, rssOf } from './fuzz/drive.js';
import { lbstat, selfSignedCertificate, startLb as startHttpLb, request, waitForNodes, type Lb as HttpLb, type TestNode } from '../e2e/http-harness.js';
import http from 'node:http';
import net from 'node:net';
import { RawSmsc, SmscSimulator, bindEsme, closeSession, request as smppRequest, smppDaemonProperties } from '../helpers/smpp.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/wait.js';

const { seed, count } = fuzzRun(1);
/** Cases per target in `npm test` (scaled by FUZZ_COUNT, which is the count of the largest target). */
const scale = process.env.FUZZ_COUNT ? count / 2000 : 1;
const cases = (n: number): number => Math.max(1, Math.round(n * scale));
/** RSS may grow this much over a run (buffers, JIT, affinity entries of forwarded INVITEs); a leak per case would exceed it in long runs. */
const RSS_GROWTH_BOUND = 150 * 1024 * 1024;
const TIME = 120_000 * Math.max(1, scale);
/** `npm run fuzz` (FUZZ_COUNT set) also checks that RSS comes back once the affinity entries have expired. */
const LONG_RUN = process.env.FUZZ_COUNT !== undefined;
/** The SIP daemon's affinity idle time in long runs: short, so that "once it has passed" comes soon. */
const LONG_RUN_AFFINITY_SECONDS = 20;

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
    lb = await startLb([sink.port], LONG_RUN ? { callIdAffinityMaxTimeInCache: LONG_RUN_AFFINITY_SECONDS } : {});
    if (LONG_RUN) {
      // The baseline of a warmed-up daemon (JIT, buffers): 2,000 valid INVITEs, then their entries expire.
      await fuzzUdp(lb.daemon, lb.externalPort, 2000, (_i, localPort) => sipSeeds('UDP', localPort, lb.externalPort)[0]!, 'SIP fuzz warm-up');
      await affinityExpired();
    }
    rss0 = rssOf(lb.daemon.pid);
  }, 120_000);
  afterAll(async () => {
    await lb?.stop();
    await sink?.close();
    for (const c of sinkConns) c.destroy();
    await new Promise<void>((r) => (sinkTcp ? sinkTcp.close(() => r()) : r()));
  });

  /** Waits until every Call-ID affinity entry has expired (long runs, where the idle time is short). */
  async function affinityExpired(): Promise<void> {
    const entries = async (): Promise<number> => Number(((await lb.lbstat()).AlgorithmStatistics as Record<string, unknown> | undefined)?.AffinityEntries);
    await waitUntil(async () => (await entries()) === 0, 'every affinity entry expired', (LONG_RUN_AFFINITY_SECONDS + 60) * 1000);
  }

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

  // Long runs only (npm run fuzz): in npm test the daemon keeps the default affinity time.
  if (LONG_RUN) it('RSS is back within 10 % of its start once the affinity time has passed', async () => {
    await affinityExpired();
    // The heap shrinks at the collector's pace: give it two minutes, and say where RSS stood if it did not.
    let rss = rssOf(lb.daemon.pid);
    await waitUntil(() => (rss = rssOf(lb.daemon.pid)) <= rss0 * 1.1, 'RSS within 10 % of its start', 120_000).catch(() => undefined);
    expect(rss / 1048576, `RSS ${(rss / 1048576).toFixed(1)} MB against ${(rss0 / 1048576).toFixed(1)} MB at the start`).toBeLessThanOrEqual((rss0 * 1.1) / 1048576);
  }, 300_000);
});

describe(`HTTP fuzz (seed ${seed})`, () => {
  let lb: HttpLb;
  let node: http.Server;
  let cert: ReturnType<typeof selfSignedCertificate>;
  beforeAll(async () => {
    cert = selfSignedCertificate();
    // The node must outlive a long run whatever the load: 20,000 HTTPS cases on a loaded machine once ended in a
    // 503 for the normal request (the same seed passed on a quieter one), the likeliest cause being this
    // process, busy with TLS handshakes, heartbeating later than the harness's 1.5 s nodeTimeout. Expiry is
    // not what this suite tests.
    lb = await startHttpLb({ nodeTimeout: 60_000 }, cert.keystore);
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
    cert?.remove();
  });

  /** A valid start on the JSON heartbeat port registers a node that /lbinfo then lists. */
  async function heartbeatWorks(): Promise<void> {
    const hb = lb.daemon.port('heartbeatPort');
    const post = (body: unknown): Promise<Response> => fetch(`http://127.0.0.1:${hb}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const start = await post({ start: { hostName: 'after-fuzz', ip: '127.0.0.1', httpPort: 7, version: '0', sessionId: 'after-fuzz' } });
    expect(start.status).toBe(200);
    const info = await (await fetch(`http://127.0.0.1:${lb.statisticPort}/lbinfo`)).text();
    expect(info).toContain('after-fuzz');
    expect((await post({ stop: { sessionId: 'after-fuzz' } })).status).toBe(200);
  }

  // The balancer's HTTP and HTTPS ports (the case written inside the TLS stream), the statistics and admin
  // port, the JSON heartbeat port; each followed by a request a user would make there.
  const targets = [
    { name: 'HTTP port', n: 1500, port: () => lb.httpPort, seeds: () => httpSeeds(lb.httpPort), after: async () => expect((await request(`http://127.0.0.1:${lb.httpPort}/after-fuzz`)).status).toBe(200) },
    { name: 'HTTPS port', n: 400, tls: true, port: () => lb.httpsPort, seeds: () => httpSeeds(lb.httpsPort), after: async () => expect((await request(`https://127.0.0.1:${lb.httpsPort}/after-fuzz`)).status).toBe(200) },
    {
      name: 'statistics port', n: 1000, port: () => lb.statisticPort, seeds: () => statSeeds(lb.statisticPort),
      after: async () => {
        expect(typeof (await lbstat(lb.statisticPort)).UptimeSeconds).toBe('number');
        expect((await fetch(`http://127.0.0.1:${lb.statisticPort}/metrics`)).status).toBe(200);
      },
    },
    { name: 'JSON heartbeat port', n: 1000, port: () => lb.daemon.port('heartbeatPort'), seeds: () => heartbeatSeeds(lb.daemon.port('heartbeatPort')), after: heartbeatWorks },
  ];
  for (const t of targets) {
    it(`${cases(t.n)} mutated requests on the ${t.name}, then a normal request there works`, async () => {
      const rss0 = rssOf(lb.daemon.pid);
      const r = rng(targetSeed(seed, t.name === 'HTTP port' ? 'http' : t.name));
      const seeds = t.seeds();
      const what = `HTTP fuzz of the ${t.name}, seed ${seed}`;
      const make = (): Buffer => (int(r, 20) === 0 ? pick(r, seeds) : mutate(r, pick(r, seeds)));
      await fuzzConnections(lb.daemon, t.port(), cases(t.n), make, what, t.tls ? { tls: true, concurrency: 16 } : {});
      expectAlive(lb.daemon, what);
      await t.after();
      expect(rssOf(lb.daemon.pid) - rss0, `${what}: RSS growth`).toBeLessThan(RSS_GROWTH_BOUND);
    }, TIME);
  }
});

/** A normal ESME binds and its submit_sm is answered with status 0. */
async function submitWorks(smppPort: number): Promise<void> {
  const { session, resp } = await bindEsme({ port: smppPort, systemId: 'after-fuzz' });
  expect(resp.command_status).toBe(0);
  const submit = await smppRequest(session, 'submit_sm', { destination_addr: '1', short_message: 'after fuzz' });
  expect(submit.command_status).toBe(0);
  await closeSession(session);
}

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
    await fuzzConnections(daemon, smppPort, cases(1000), make, what, { concurrency: 32, waitMs: 300 });
    expectAlive(daemon, what);
    await submitWorks(smppPort);
    expect(rssOf(daemon.pid) - rss0, `${what}: RSS growth`).toBeLessThan(RSS_GROWTH_BOUND);
  }, TIME);
});

/**
 * A hostile SMSC's answers: the right one now and then (so sessions get further), else a mutation of it, one with
 * a lying command_length, or garbage; and often an unasked PDU (deliver_sm, receipt, enquire_link, …), valid or
 * mutated. `counter.sent` counts the PDUs written.
 */
function hostileAnswers(r: Rand, counter: { sent: number }): (socket: net.Socket, answer: Buffer) => void {
  let seq = 0x70000000;
  return (socket, answer) => {
    const out: Buffer[] = [];
    const k = int(r, 8);
    if (k < 2) out.push(answer);
    else if (k === 2) {
      const lying = Buffer.from(answer);
      lying.writeUInt32BE(pick(r, [0, 1, 15, 16, answer.length - 1, answer.length + 1, answer.length + 4096, 0x7fffffff, 0xffffffff]), 0);
      out.push(lying);
    } else if (k === 3) out.push(Buffer.from(Array.from({ length: int(r, 64) }, () => int(r, 256))));
    else out.push(mutate(r, answer));
    if (int(r, 3) === 0) {
      const unasked = pick(r, smscSeeds(seq++));
      out.push(r() < 0.5 ? unasked : mutate(r, unasked));
    }
    counter.sent += out.length;
    if (!socket.destroyed) socket.write(Buffer.concat(out));
  };
}

for (const muxMode of [false, true]) {
  describe(`SMPP fuzz, SMSC side, ${muxMode ? 'mux' : 'regular'} mode (seed ${seed})`, () => {
    let smsc: RawSmsc;
    let daemon: Daemon;
    let smppPort: number;
    beforeAll(async () => {
      smsc = await new RawSmsc().listen();
      daemon = await startDaemon({
        properties: smppDaemonProperties({ muxMode, remoteServers: `127.0.0.1:${smsc.port}`, reconnectPeriod: 50, timeoutResponse: 1000, timeoutEnquire: 300 }),
      });
      smppPort = daemon.port('smppPort');
    });
    afterAll(async () => {
      await daemon?.stop();
      await smsc?.close();
    });

    it(`${cases(200)} ESME sessions answered by mutated SMSC PDUs, then a bind and submit_sm through a healthy SMSC work`, async () => {
      const rss0 = rssOf(daemon.pid);
      const what = `SMPP SMSC-side fuzz (${muxMode ? 'mux' : 'regular'}), seed ${seed}`;
      const counter = { sent: 0 };
      const healthy = smsc.answer;
      smsc.answer = hostileAnswers(rng(targetSeed(seed, `smsc-${muxMode}`)), counter);
      // In mux mode each system_id has its own upstream bind: a few of them, so binds keep happening.
      await esmeSessions(daemon, smppPort, cases(200), (i) => `fz${i % 8}`, what);
      expect(counter.sent, `${what}: PDUs the SMSC sent`).toBeGreaterThan(cases(200));
      expectAlive(daemon, what);
      smsc.answer = healthy;
    await submitWorks(smppPort);
      expect(rssOf(daemon.pid) - rss0, `${what}: RSS growth`).toBeLessThan(RSS_GROWTH_BOUND);
    }, TIME);
  });
}
