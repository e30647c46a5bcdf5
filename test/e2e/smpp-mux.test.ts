// SMPP mux mode end to end (the default: no muxMode key): the daemon as a child process, ESMEs and SMSC
// simulators on the smpp npm package. Five ESMEs of one system_id share one bind per SMSC; requests, their
// responses, deliver_sm and receipts find their way; a wrong password gets 0x0E; an SMSC killed moves its share
// and is rebound; the last SMSC lost puts the ESMEs in REBINDING (0x08); the last unbind unbinds the SMSCs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { RawEsme, SmscSimulator, bindEsme, closeSession, request, smppDaemonProperties, type SmppPdu, type SmppSession } from '../helpers/smpp.js';
import { Cmd, commandId, commandStatus, encodeBind, sequenceNumber } from '../../src/smpp/pdu.js';
import { waitUntil } from '../helpers/wait.js';

const RECONNECT = 200;
const SYSTEM_ID = 'shop';

let daemon: Daemon;
let smppPort: number;
let statPort: number;
const sims: SmscSimulator[] = [];
const esmes: { session: SmppSession; delivered: SmppPdu[] }[] = [];

async function stat(path: '/lbstat' | '/lbinfo'): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${statPort}${path}`);
  const body = (await res.json()) as Record<string, unknown>;
  return (body.Metrics as Record<string, unknown> | undefined) ?? body;
}

const submit = (e: { session: SmppSession }, text: string, extra: Record<string, unknown> = {}): Promise<SmppPdu> =>
  request(e.session, 'submit_sm', { destination_addr: '1', short_message: text, ...extra }, 30_000);

beforeAll(async () => {
  for (const name of ['smscA', 'smscB']) sims.push(await new SmscSimulator(name).listen());
  const properties = smppDaemonProperties({
    remoteServers: sims.map((s) => `127.0.0.1:${s.port}`).join(','),
    timeoutResponse: 20_000, // 1,000 requests through the smpp package on a loaded machine
    timeoutEnquire: 60_000,
    reconnectPeriod: RECONNECT,
  });
  daemon = await startDaemon({ properties });
  smppPort = daemon.port('smppPort');
  statPort = daemon.port('statisticPort');
});

afterAll(async () => {
  for (const e of esmes) await closeSession(e.session);
  await daemon?.stop();
  for (const s of sims) await s.kill().catch(() => undefined);
});

describe('SMPP mux mode (the default)', () => {
  it('binds five ESMEs of one system_id with one transceiver bind per SMSC', async () => {
    // All at once: the first triggers the SMSC binds, the others wait for them.
    const bound = await Promise.all([0, 1, 2, 3, 4].map(() => bindEsme({ port: smppPort, systemId: SYSTEM_ID, password: 'secret' })));
    for (const { session, resp } of bound) {
      expect([resp.command_status, resp.system_id]).toEqual([0, 'loadbalancer']);
      const delivered: SmppPdu[] = [];
      session.on('deliver_sm', (pdu: SmppPdu) => {
        delivered.push(pdu);
        session.send(pdu.response());
      });
      esmes.push({ session, delivered });
    }
    expect(sims.map((s) => s.binds)).toEqual([[SYSTEM_ID], [SYSTEM_ID]]);
    expect(sims.map((s) => s.passwords)).toEqual([['secret'], ['secret']]);
    // Mux mode does not count bind bytes (nor bind_resp): nothing else has moved yet.
    const m = await stat('/lbstat');
    expect([m.NumberOfSmppBytesToServer, m.NumberOfSmppBytesToClient]).toEqual([0, 0]);
  });

  it('answers a later ESME with a different password bind_resp 0x0E, locally', async () => {
    const { session, resp } = await bindEsme({ port: smppPort, systemId: SYSTEM_ID, password: 'guess' });
    expect(resp.command_status).toBe(0x0e);
    await closeSession(session);
    expect(sims.map((s) => s.binds.length)).toEqual([1, 1]);
  });

  it('answers 1,000 submit_sm spread over the ESMEs, each on its own sequence number, round robin over the SMSCs', { timeout: 60_000 }, async () => {
    const before = sims.map((s) => s.submits.length);
    const all = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => submit(esmes[i % 5]!, `bulk-${i}`, { sequence_number: 10_000 + i })),
    );
    for (const [i, r] of all.entries()) {
      expect(r.command_status).toBe(0);
      expect(r.sequence_number).toBe(10_000 + i);
    }
    const bySmsc = sims.map((s, i) => s.submits.length - before[i]!);
    expect(bySmsc).toEqual([500, 500]);
    // Each SMSC saw its own connection's numbering: unique, not the ESMEs'.
    for (const [i, s] of sims.entries()) {
      const seqs = s.submits.slice(before[i]).map((x) => x.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(Math.max(...seqs)).toBeLessThan(10_000);
    }
  });

  it('spreads an SMSC deliver_sm round robin over the ESMEs and returns each response to the SMSC', async () => {
    const resps = [];
    for (let i = 0; i < 10; i++) resps.push(await sims[0]!.deliver(SYSTEM_ID, `mo-${i}`)); // resolves only on its own sequence number
    expect(resps.map((r) => r.command_status)).toEqual(Array(10).fill(0));
    expect(esmes.map((e) => e.delivered.length)).toEqual([2, 2, 2, 2, 2]);
  });

  it('routes a delivery receipt to the ESME that submitted the message', async () => {
    for (const e of esmes) e.delivered.length = 0;
    for (const k of [3, 1, 4]) {
      const resp = await submit(esmes[k]!, `receipt-for-${k}`, { registered_delivery: 1 });
      const messageId = String(resp.message_id);
      const sim = sims.find((s) => messageId.startsWith(`${s.name}-`))!;
      expect((await sim.deliverReceipt(SYSTEM_ID, messageId)).command_status).toBe(0);
      expect(esmes.map((e) => e.delivered.length)).toEqual(esmes.map((_, i) => (i === k ? 1 : 0)));
      expect(esmes[k]!.delivered[0]!.receipted_message_id).toBe(messageId);
      esmes[k]!.delivered.length = 0;
    }
  });

  it('counts ESMEs plus SMSC binds as active connections and lists the user space in /lbinfo', async () => {
    expect((await stat('/lbstat')).NumberOfActiveSmppConnections).toBe(7);
    const info = (await stat('/lbinfo'))['SMPP sessions'] as { mode: string; userSpaces: { systemId: string; state: string; esmes: unknown[]; upstreams: { state: string }[] }[] };
    expect(info.mode).toBe('mux');
    expect(info.userSpaces).toHaveLength(1);
    expect(info.userSpaces[0]).toMatchObject({ systemId: SYSTEM_ID, state: 'BOUND' });
    expect(info.userSpaces[0]!.esmes).toHaveLength(5);
    expect(info.userSpaces[0]!.upstreams.map((u) => u.state)).toEqual(['BOUND', 'BOUND']);
  });

  it('closes only the ESME that sends a lying command_length', async () => {
    const raw = new RawEsme(smppPort);
    await raw.connected();
    raw.write(encodeBind({ commandId: Cmd.bind_transceiver, systemId: SYSTEM_ID, password: 'secret', systemType: '', interfaceVersion: 0x34, addrTon: 0, addrNpi: 0, addressRange: '' }, 1));
    await waitUntil(() => raw.pdus.length >= 1);
    expect([commandId(raw.pdus[0]!), commandStatus(raw.pdus[0]!)]).toEqual([Cmd.bind_transceiver_resp, 0]);
    const head = Buffer.alloc(16);
    head.writeUInt32BE(7, 0);
    head.writeUInt32BE(Cmd.submit_sm, 4);
    head.writeUInt32BE(5, 12);
    raw.write(head);
    await waitUntil(() => raw.closed);
    expect([commandId(raw.pdus[1]!), commandStatus(raw.pdus[1]!), sequenceNumber(raw.pdus[1]!)]).toEqual([Cmd.generic_nack, 0x02, 5]);
    expect((await submit(esmes[0]!, 'still here')).command_status).toBe(0);
    expect(sims.map((s) => s.sessionCount)).toEqual([1, 1]);
  });

  it('moves a killed SMSC\'s share to the other, answers every request, and rebinds after reconnectPeriod', async () => {
    const port = sims[1]!.port;
    const results: number[] = [];
    const load = Promise.all(
      Array.from({ length: 200 }, (_, i) => new Promise<void>((resolve) => setTimeout(resolve, i)).then(() => submit(esmes[i % 5]!, `k-${i}`)).then((r) => {
        results.push(r.command_status);
      })),
    );
    // Killed while the load runs: once it has taken a few of the requests.
    const takenBefore = sims[1]!.submits.length;
    await waitUntil(() => sims[1]!.submits.length >= takenBefore + 5, 'smscB taking part of the load');
    await sims[1]!.kill();
    await load;
    // Every request answered: forwarded, or 0x08 when it was in flight to the killed SMSC.
    expect(results).toHaveLength(200);
    expect(results.every((s) => s === 0 || s === 0x08)).toBe(true);
    // The ESMEs stay bound: the next requests all go to smscA.
    const afterKill = await Promise.all(esmes.map((e, i) => submit(e, `after-${i}`)));
    expect(afterKill.map((r) => [r.command_status, String(r.message_id).split('-')[0]])).toEqual(Array(5).fill([0, 'smscA']));
    // smscB comes back on its port: the balancer binds it again.
    sims[1] = await new SmscSimulator('smscB').listen(port);
    await waitUntil(() => sims[1]!.binds.length === 1);
    expect(sims[1]!.binds).toEqual([SYSTEM_ID]);
    await waitUntil(async () => ((await stat('/lbinfo'))['SMPP sessions'] as { userSpaces: { upstreams: { state: string }[] }[] }).userSpaces[0]!.upstreams.every((u) => u.state === 'BOUND'));
    const spread = await Promise.all(esmes.map((e, i) => submit(e, `back-${i}`)));
    expect(new Set(spread.map((r) => String(r.message_id).split('-')[0]))).toEqual(new Set(['smscA', 'smscB']));
  });

  it('puts the ESMEs in REBINDING (0x08) only when the last SMSC is lost, and serves them again after the rebind', async () => {
    const ports = sims.map((s) => s.port);
    await sims[0]!.kill();
    // One SMSC left: nothing is turned back once the loss is seen.
    await waitUntil(async () => (await submit(esmes[0]!, 'one-left')).command_status === 0);
    await sims[1]!.kill();
    await waitUntil(async () => (await submit(esmes[0]!, 'none-left')).command_status === 0x08);
    for (const e of esmes) expect((await submit(e, 'rebinding')).command_status).toBe(0x08);
    // enquire_link is still answered locally, and the ESMEs stay connected.
    for (const e of esmes) expect((await request(e.session, 'enquire_link')).command_status).toBe(0);
    sims[0] = await new SmscSimulator('smscA').listen(ports[0]);
    await waitUntil(async () => (await submit(esmes[2]!, 'rebound')).command_status === 0);
    for (const e of esmes) expect((await submit(e, 'served')).command_status).toBe(0);
    sims[1] = await new SmscSimulator('smscB').listen(ports[1]);
    await waitUntil(() => sims[1]!.binds.length === 1);
  });

  it('answers unbind locally and unbinds the SMSCs after the last ESME', async () => {
    for (const [i, e] of esmes.entries()) {
      expect((await request(e.session, 'unbind')).command_status).toBe(0);
      if (i < esmes.length - 1) expect(sims.map((s) => s.unbinds)).toEqual([0, 0]);
    }
    await waitUntil(() => sims.every((s) => s.unbinds === 1));
    await waitUntil(async () => (await stat('/lbstat')).NumberOfActiveSmppConnections === 0);
    // The user space is gone once its SMSC binds are closed.
    await waitUntil(async () => ((await stat('/lbinfo'))['SMPP sessions'] as { userSpaces: unknown[] }).userSpaces.length === 0);
  });
});
