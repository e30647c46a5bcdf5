// The SMPP broker end to end: the daemon as a child process, ESMEs and three SMSC simulators on the smpp
// npm package; spread, sequence numbers, deliver_sm, timers, malformed input, and an SMSC killed mid-run.
// The daemon and the SMSCs are shared; every test binds its own ESMEs (closed after it) and reads counters as
// differences, so no test depends on what another left behind. Tests that kill or hang an SMSC start their own.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { RawEsme, SmscSimulator, bindEsme, closeSession, request, smppDaemonProperties, type SmppPdu, type SmppSession } from '../helpers/smpp.js';
import { Cmd, commandId, commandStatus, encodeBind, encodePdu, sequenceNumber } from '../../src/smpp/pdu.js';
import { lbstat as readLbstat } from '../helpers/json-heartbeat.js';
import { waitUntil } from '../helpers/wait.js';

const TIMEOUT_RESPONSE = 1500;
const TIMEOUT_CONNECTION = 500;
const TIMEOUT_ENQUIRE = 400;
// Wide enough that a loaded machine stalling the test process does not look like a dead ESME.
const CHECK = 1200;
const RECONNECT = 200;

let daemon: Daemon;
let smppPort: number;
let statPort: number;
const sims: SmscSimulator[] = [];

interface BoundEsme {
  id: string;
  session: SmppSession;
  sim: SmscSimulator;
  delivered: SmppPdu[];
}
/** The sessions the running test opened: closed after it. */
const opened: SmppSession[] = [];
let nextEsme = 0;

const lbstat = (): Promise<Record<string, unknown>> => readLbstat(statPort);

const bindPdu = (systemId: string, seq: number): Buffer =>
  encodeBind({ commandId: Cmd.bind_transceiver, systemId, password: 'pw', systemType: '', interfaceVersion: 0x34, addrTon: 0, addrNpi: 0, addressRange: '' }, seq);

/** The broker's lb.properties in front of `smscs`, with the short timers above. */
function brokerProperties(smscs: readonly SmscSimulator[]): Record<string, string | number | boolean> {
  return smppDaemonProperties({ muxMode: false,
    remoteServers: smscs.map((s) => `127.0.0.1:${s.port}`).join(','),
    timeoutResponse: TIMEOUT_RESPONSE,
    timeoutConnection: TIMEOUT_CONNECTION,
    timeoutEnquire: TIMEOUT_ENQUIRE,
    timeoutConnectionCheckClientSide: CHECK,
    timeoutConnectionCheckServerSide: CHECK,
    reconnectPeriod: RECONNECT,
  });
}

/** Binds `n` new ESMEs (system_ids unique to this file) to the broker on `port`, among `smscs`; each answers deliver_sm. */
async function bindEsmes(n: number, port = smppPort, smscs: readonly SmscSimulator[] = sims): Promise<BoundEsme[]> {
  const out: BoundEsme[] = [];
  for (let i = 0; i < n; i++) {
    const id = `esme${nextEsme++}`;
    const { session, resp } = await bindEsme({ port, systemId: id });
    opened.push(session);
    expect(resp.command_status).toBe(0);
    const sim = smscs.find((s) => s.name === resp.system_id)!;
    expect(sim, `bind_resp system_id ${resp.system_id}`).toBeDefined();
    const delivered: SmppPdu[] = [];
    session.on('deliver_sm', (pdu: SmppPdu) => {
      delivered.push(pdu);
      session.send(pdu.response());
    });
    out.push({ id, session, sim, delivered });
  }
  return out;
}

beforeAll(async () => {
  for (const name of ['smscA', 'smscB', 'smscC']) sims.push(await new SmscSimulator(name).listen());
  daemon = await startDaemon({ properties: brokerProperties(sims) });
  smppPort = daemon.port('smppPort');
  statPort = daemon.port('statisticPort');
});

afterEach(async () => {
  for (const session of opened.splice(0)) await closeSession(session);
});

afterAll(async () => {
  const code = await daemon?.stop();
  expect(daemon.logs.some((l) => l.msg === 'Stopping the SMPP balancer')).toBe(true);
  expect(daemon.logs.some((l) => l.msg === 'SMPP Load Balancer stopped at 127.0.0.1')).toBe(true);
  expect(code).toBe(0);
  for (const s of sims) await s.kill().catch(() => undefined);
});

describe('SMPP broker', () => {
  it('spreads nine ESMEs three per SMSC, each bound with its own credentials', async () => {
    const esmes = await bindEsmes(9);
    for (const e of esmes) expect(e.sim.binds).toContain(e.id);
    // Round robin over three SMSCs: any nine consecutive binds are three on each.
    expect(sims.map((s) => esmes.filter((e) => e.sim === s).length)).toEqual([3, 3, 3]);
  });

  it('lists the regular-mode sessions in /lbinfo: each ESME and its SMSC side', async () => {
    const esmes = await bindEsmes(3);
    const res = await fetch(`http://127.0.0.1:${statPort}/lbinfo`);
    const info = ((await res.json()) as Record<string, unknown>)['SMPP sessions'] as { mode: string; sessions: { systemId: string; esme: { state: string }; smsc: { server: string; state: string } }[] };
    expect(info.mode).toBe('regular');
    for (const e of esmes) {
      const s = info.sessions.find((x) => x.systemId === e.id);
      expect(s, `${e.id} in /lbinfo`).toBeDefined();
      expect([s!.esme.state, s!.smsc.state]).toEqual(['BOUND', 'BOUND']);
      expect(s!.smsc.server).toBe(`127.0.0.1:${e.sim.port}`);
    }
  });

  it('relays submit_sm both ways with the sequence numbers each side expects', async () => {
    const before = await lbstat();
    const esmes = await bindEsmes(3);
    for (const [i, e] of esmes.entries()) {
      const seqs = [1000 + i * 10, 1001 + i * 10, 1002 + i * 10];
      const resps = await Promise.all(seqs.map((seq) => request(e.session, 'submit_sm', { sequence_number: seq, destination_addr: '1', short_message: `m${seq}` })));
      // The response came back on the ESME's own number (the smpp package matches by it) from its SMSC.
      for (const r of resps) {
        expect(r.command_status).toBe(0);
        expect(String(r.message_id)).toMatch(new RegExp(`^${e.sim.name}-`));
      }
      expect(resps.map((r) => r.sequence_number)).toEqual(seqs);
      // The SMSC saw the broker's numbering on this connection: small, increasing, not the ESME's.
      const seen = e.sim.submits.filter((s) => s.systemId === e.id);
      expect(seen.map((s) => s.shortMessage).sort()).toEqual(seqs.map((s) => `m${s}`));
      for (const s of seen) expect(s.seq).toBeLessThan(1000);
      const numbers = seen.map((s) => s.seq);
      expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
    }
    const after = await lbstat();
    expect((after.NumberOfSmppRequestsToServer as number) - (before.NumberOfSmppRequestsToServer as number)).toBe(9);
    const bySubmit = (st: Record<string, unknown>): number => (st.SmppRequestsByCommandId as Record<string, number>).submit_sm ?? 0;
    expect(bySubmit(after) - bySubmit(before)).toBe(9);
  });

  it('relays a deliver_sm from an SMSC to its ESME once, and the response back to the SMSC', async () => {
    const esmes = await bindEsmes(3);
    const target = esmes[1]!;
    const resp = await target.sim.deliver(target.id, `hello ${target.id}`);
    expect(resp.command_status).toBe(0);
    // A second deliver_sm on the same connections comes after any copy of the first: once it is in, a copy
    // would have been too.
    expect((await target.sim.deliver(target.id, 'after')).command_status).toBe(0);
    expect(target.delivered.map((p) => String((p.short_message as { message: string }).message))).toEqual([`hello ${target.id}`, 'after']);
    for (const e of esmes) if (e !== target) expect(e.delivered).toHaveLength(0);
  });

  it('answers 0x08 (ESME_RSYSERR) after timeoutResponse when the SMSC does not answer', async () => {
    const [e] = (await bindEsmes(1)) as [BoundEsme];
    // Each regular-mode session is two active connections: the ESME and its SMSC side (sessions other tests
    // closed may still be going: wait until the two agree).
    await waitUntil(async () => {
      const info = (await (await fetch(`http://127.0.0.1:${statPort}/lbinfo`)).json()) as { 'SMPP sessions': { sessions: unknown[] } };
      return (await lbstat()).NumberOfActiveSmppConnections === 2 * info['SMPP sessions'].sessions.length;
    }, 'active connections = 2 × sessions');
    const before = await lbstat();
    e.sim.silent = true;
    const started = Date.now();
    try {
      const r = await request(e.session, 'submit_sm', { destination_addr: '1', short_message: 'lost' }, TIMEOUT_RESPONSE * 3);
      const elapsed = Date.now() - started;
      expect(r.command_status).toBe(0x08);
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_RESPONSE - 50);
      expect(elapsed).toBeLessThan(TIMEOUT_RESPONSE + 1000);
    } finally {
      e.sim.silent = false;
    }
    const after = await lbstat();
    expect((after.SmppNotRespondedPackets as number) - (before.SmppNotRespondedPackets as number)).toBe(1);
    expect((after.NumberOfSmppRequestsToServer as number) - (before.NumberOfSmppRequestsToServer as number)).toBe(1);
    expect(after.NumberOfActiveSmppConnections).toBe(before.NumberOfActiveSmppConnections);
  });

  it('closes a connection that does not bind within timeoutConnection', async () => {
    const before = (await lbstat()).SmppNotBindClients as number;
    const raw = new RawEsme(smppPort);
    await raw.connected();
    const started = Date.now();
    await waitUntil(() => raw.closed, 'the idle connection closed', TIMEOUT_CONNECTION + 2000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_CONNECTION - 100);
    expect((await lbstat()).SmppNotBindClients).toBe(before + 1);
  });

  it('answers a PDU before bind with generic_nack ESME_RINVCMDID and closes', async () => {
    const raw = new RawEsme(smppPort);
    await raw.connected();
    raw.write(encodePdu(Cmd.submit_sm, 0, 77, Buffer.from('\0\0\0', 'latin1')));
    await waitUntil(() => raw.closed);
    expect(raw.pdus).toHaveLength(1);
    expect(commandId(raw.pdus[0]!)).toBe(Cmd.generic_nack);
    expect(commandStatus(raw.pdus[0]!)).toBe(0x03);
    expect(sequenceNumber(raw.pdus[0]!)).toBe(77);
  });

  it('answers an unknown command_id with generic_nack ESME_RINVCMDID and keeps the session', async () => {
    const raw = new RawEsme(smppPort);
    await raw.connected();
    raw.write(bindPdu('rawesme', 1));
    await waitUntil(() => raw.pdus.length >= 1);
    expect(commandId(raw.pdus[0]!)).toBe(Cmd.bind_transceiver_resp);
    expect(commandStatus(raw.pdus[0]!)).toBe(0);
    expect(sequenceNumber(raw.pdus[0]!)).toBe(1);
    raw.write(encodePdu(0x00001234, 0, 2));
    await waitUntil(() => raw.pdus.some((p) => sequenceNumber(p) === 2));
    const nack = raw.pdus.find((p) => sequenceNumber(p) === 2)!;
    expect([commandId(nack), commandStatus(nack)]).toEqual([Cmd.generic_nack, 0x03]);
    raw.write(encodePdu(Cmd.enquire_link, 0, 3));
    await waitUntil(() => raw.pdus.some((p) => sequenceNumber(p) === 3));
    expect(commandId(raw.pdus.find((p) => sequenceNumber(p) === 3)!)).toBe(Cmd.enquire_link_resp);
    expect(raw.closed).toBe(false);
    raw.destroy();
  });

  it.each([
    ['command_length 8', 8],
    ['command_length 100 MB', 100 * 1024 * 1024],
  ])('answers %s with generic_nack ESME_RINVCMDLEN and closes only that connection', async (_name, length) => {
    const [bystander] = (await bindEsmes(1)) as [BoundEsme];
    const raw = new RawEsme(smppPort);
    await raw.connected();
    raw.write(bindPdu('badlen', 1));
    await waitUntil(() => raw.pdus.length >= 1);
    const head = Buffer.alloc(16);
    head.writeUInt32BE(length, 0);
    head.writeUInt32BE(Cmd.submit_sm, 4);
    head.writeUInt32BE(9, 12);
    raw.write(head);
    await waitUntil(() => raw.closed);
    const nack = raw.pdus[1]!;
    expect([commandId(nack), commandStatus(nack), sequenceNumber(nack)]).toEqual([Cmd.generic_nack, 0x02, 9]);
    // Another ESME's session is untouched.
    expect((await request(bystander.session, 'submit_sm', { destination_addr: '1', short_message: 'still here' })).command_status).toBe(0);
  });

  it('closes an ESME that stops answering enquire_link', async () => {
    const raw = new RawEsme(smppPort);
    await raw.connected();
    raw.write(bindPdu('mute', 1));
    // Never answers: after timeoutEnquire an enquire_link arrives, then the broker gives up.
    await waitUntil(() => raw.closed, 'the silent session closed', TIMEOUT_ENQUIRE + CHECK + 3000);
    expect(raw.pdus.some((p) => commandId(p) === Cmd.enquire_link)).toBe(true);
  });

  it('sends enquire_link to the SMSCs', async () => {
    const [e] = (await bindEsmes(1)) as [BoundEsme];
    const before = e.sim.enquireLinks;
    await waitUntil(() => e.sim.enquireLinks > before, 'an enquire_link at the SMSC', TIMEOUT_ENQUIRE + 3000);
  });

  it('relays an ESME unbind to its SMSC and the unbind_resp back, then closes both', async () => {
    const [e] = (await bindEsmes(1)) as [BoundEsme];
    const sim = e.sim;
    const before = sim.sessionCount;
    const r = await request(e.session, 'unbind', { sequence_number: 4321 });
    expect([r.command, r.command_status, r.sequence_number]).toEqual(['unbind_resp', 0, 4321]);
    await new Promise<void>((resolve) => (e.session.socket.destroyed ? resolve() : e.session.socket.once('close', () => resolve())));
    await waitUntil(() => sim.sessionCount < before, 'the upstream session closed', 3000);
    expect(sim.sessionCount).toBe(before - 1);
  });

  it('unbinds upstream when an ESME disconnects', async () => {
    const [e] = (await bindEsmes(1)) as [BoundEsme];
    const sim = e.sim;
    const before = sim.sessionCount;
    await closeSession(e.session);
    await waitUntil(() => sim.sessionCount < before, 'the upstream session closed', 3000);
    expect(sim.sessionCount).toBe(before - 1);
  });
});

describe('SMPP broker, an SMSC killed', () => {
  // Its own broker and SMSCs: killing one must not change what the other tests see.
  it('rebinds the ESMEs of a killed SMSC to the next one; requests in flight are answered 0x08', async () => {
    const own = [await new SmscSimulator('smscA').listen(), await new SmscSimulator('smscB').listen(), await new SmscSimulator('smscC').listen()];
    const lb = await startDaemon({ properties: brokerProperties(own) });
    try {
      const esmes = await bindEsmes(6, lb.port('smppPort'), own);
      const victim = own[2]!;
      const mine = esmes.filter((e) => e.sim === victim);
      expect(mine).toHaveLength(2);
      victim.silent = true;
      const inflight = mine.map((e) => request(e.session, 'submit_sm', { destination_addr: '1', short_message: 'in flight' }, TIMEOUT_RESPONSE * 3));
      await waitUntil(() => victim.submits.filter((x) => x.shortMessage === 'in flight').length === 2, 'the two requests held at the silent SMSC');
      const killedAt = Date.now();
      await victim.kill();
      for (const r of await Promise.all(inflight)) {
        expect(r.command_status).toBe(0x08);
      }
      // Answered because the connection dropped, not because timeoutResponse ran out.
      expect(Date.now() - killedAt).toBeLessThan(TIMEOUT_RESPONSE - 300);
      // Submits continue once the client part is bound to another SMSC.
      for (const e of mine) {
        let r: SmppPdu | undefined;
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          r = await request(e.session, 'submit_sm', { destination_addr: '1', short_message: 'after' });
          if (r.command_status === 0) break;
          expect(r.command_status).toBe(0x08); // REBINDING: turned back at once
          await new Promise((res) => setTimeout(res, 50));
        }
        expect(r?.command_status).toBe(0);
        expect(String(r?.message_id)).not.toMatch(/^smscC-/);
      }
      expect(own[0]!.binds.length + own[1]!.binds.length).toBeGreaterThanOrEqual(4 + 2);
    } finally {
      for (const session of opened.splice(0)) await closeSession(session);
      await lb.stop();
      for (const s of own) await s.kill().catch(() => undefined);
    }
  });
});

describe('SMPP broker, SMSC supervision', () => {
  // Its own broker and SMSCs.
  it('rebinds away from an SMSC that stops answering enquire_link', async () => {
    const own = [await new SmscSimulator('smscA').listen(), await new SmscSimulator('smscB').listen()];
    const lb = await startDaemon({ properties: brokerProperties(own) });
    const sessions: SmppSession[] = [];
    try {
      for (const id of ['sup0', 'sup1']) {
        const { session, resp } = await bindEsme({ port: lb.port('smppPort'), systemId: id });
        expect(resp.command_status).toBe(0);
        sessions.push(session);
      }
      expect(own.map((s) => s.binds.length)).toEqual([1, 1]);
      const [healthy, hung] = own as [SmscSimulator, SmscSimulator];
      hung.dead = true;
      const bindsBefore = healthy.binds.length;
      // Within timeoutEnquire + the check timeout + reconnectPeriod every ESME is served by smscA again.
      for (const session of sessions) {
        let r: SmppPdu | undefined;
        const deadline = Date.now() + TIMEOUT_ENQUIRE + CHECK + RECONNECT + 4000;
        while (Date.now() < deadline) {
          r = await request(session, 'submit_sm', { destination_addr: '1', short_message: 'x' }, TIMEOUT_RESPONSE * 3);
          if (r.command_status === 0 && String(r.message_id).startsWith('smscA-')) break;
          await new Promise((res) => setTimeout(res, 50));
        }
        expect(String(r?.message_id)).toMatch(/^smscA-/);
      }
      expect(healthy.binds.length).toBeGreaterThan(bindsBefore);
    } finally {
      for (const session of sessions) await closeSession(session);
      await lb.stop();
      for (const s of own) await s.kill().catch(() => undefined);
    }
  });
});
