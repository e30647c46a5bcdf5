// The SMSC side's state machine on its own, against a tiny SMSC on a local socket and an owner that records calls.

import { afterEach, describe, expect, it } from 'vitest';
import type { PduConnection } from '../../src/smpp/connection.js';
import type { InflightEntry } from '../../src/smpp/inflight.js';
import { Cmd, commandStatus, encodePdu, sequenceNumber, type BindFields } from '../../src/smpp/pdu.js';
import { SmscSide, type SmscOwner } from '../../src/smpp/smsc-side.js';
import { silentLogger } from '../../src/log.js';
import { TinySmsc, smppContext } from './smpp-fixtures.js';
import { waitUntil } from '../helpers/wait.js';

class RecordingOwner implements SmscOwner {
  readonly requests: number[] = [];
  readonly responses: { id: number; originalSeq: number; origin: number }[] = [];
  readonly unanswered: { entry: InflightEntry; expired: boolean }[] = [];
  lost: string[] = [];
  smscRequest(_s: SmscSide, _pdu: Buffer, id: number): PduConnection | undefined {
    this.requests.push(id);
    return undefined;
  }
  smscResponse(_s: SmscSide, _pdu: Buffer, id: number, entry: { originalSeq: number; origin: number }): PduConnection | undefined {
    this.responses.push({ id, originalSeq: entry.originalSeq, origin: entry.origin });
    return undefined;
  }
  smscUnanswered(_s: SmscSide, entry: InflightEntry, expired: boolean): void {
    this.unanswered.push({ entry, expired });
  }
  smscLost(_s: SmscSide, why: string): void {
    this.lost.push(why);
  }
}

const FIELDS: BindFields = { commandId: Cmd.bind_transceiver, systemId: 'esme', password: 'pw', systemType: '', interfaceVersion: 0x34, addrTon: 0, addrNpi: 0, addressRange: '' };

let smsc: TinySmsc | undefined;
afterEach(async () => {
  await smsc?.close();
  smsc = undefined;
});

function side(): { s: SmscSide; owner: RecordingOwner } {
  const owner = new RecordingOwner();
  const s = new SmscSide(smppContext(), owner, silentLogger());
  return { s, owner };
}

describe('SmscSide state machine', () => {
  it('INITIAL → OPEN → BINDING → BOUND on a successful bind', async () => {
    smsc = await new TinySmsc().listen();
    const { s } = side();
    expect(s.state).toBe('INITIAL');
    const outcome = await s.bindTo({ host: '127.0.0.1', port: smsc.port }, FIELDS);
    expect(outcome.conn).toBeDefined();
    expect(s.state).toBe('BOUND');
    expect(s.name).toBe(`127.0.0.1:${smsc.port}`);
    s.drop('test');
    expect(s.state).toBe('CLOSED');
  });

  it('a refused bind returns to INITIAL with the SMSC\'s status; a refused connection too', async () => {
    smsc = await new TinySmsc().listen();
    smsc.bindStatus = 0x0e;
    const { s } = side();
    const refused = await s.bindTo({ host: '127.0.0.1', port: smsc.port }, FIELDS);
    expect(refused.conn).toBeUndefined();
    expect(commandStatus(refused.resp!)).toBe(0x0e);
    expect(s.state).toBe('INITIAL');
    const port = smsc.port;
    await smsc.close();
    smsc = undefined;
    const down = await s.bindTo({ host: '127.0.0.1', port }, FIELDS);
    expect(down.error).toMatch(/ECONNREFUSED/);
    expect(s.state).toBe('INITIAL');
  });

  it('BOUND: relays requests and responses through the owner, with the sender\'s number and origin', async () => {
    smsc = await new TinySmsc().listen();
    const { s, owner } = side();
    await s.bindTo({ host: '127.0.0.1', port: smsc.port }, FIELDS);
    const submit = encodePdu(Cmd.submit_sm, 0, 4242, Buffer.from('\0\0\0'));
    s.forward(submit, Cmd.submit_sm, 4242, Date.now(), 7).write(submit);
    await waitUntil(() => smsc!.received.length === 1);
    const seen = sequenceNumber(smsc.received[0]!);
    expect(seen).not.toBe(4242);
    smsc.send(encodePdu(Cmd.submit_sm_resp, 0, seen, Buffer.from('id\0')));
    smsc.send(encodePdu(Cmd.deliver_sm, 0, 9));
    smsc.send(encodePdu(0x00004444, 0, 10));
    await waitUntil(() => owner.requests.length === 1 && owner.responses.length === 1);
    expect(owner.responses).toEqual([{ id: Cmd.submit_sm_resp, originalSeq: 4242, origin: 7 }]);
    expect(owner.requests).toEqual([Cmd.deliver_sm]);
    s.drop('test');
  });

  it('BOUND → REBINDING when the SMSC goes away; what was in flight goes back to the owner', async () => {
    smsc = await new TinySmsc().listen();
    const { s, owner } = side();
    await s.bindTo({ host: '127.0.0.1', port: smsc.port }, FIELDS);
    const submit = encodePdu(Cmd.submit_sm, 0, 77, Buffer.from('\0\0\0'));
    s.forward(submit, Cmd.submit_sm, 77, Date.now()).write(submit);
    await waitUntil(() => smsc!.received.length === 1);
    for (const sock of smsc.sockets) sock.destroy();
    await waitUntil(() => owner.lost.length === 1);
    expect(s.state).toBe('REBINDING');
    expect(owner.unanswered.map((u) => [u.entry.originalSeq, u.expired])).toEqual([[77, false]]);
    // REBINDING → OPEN → BINDING → BOUND again.
    await s.bindTo({ host: '127.0.0.1', port: smsc.port }, FIELDS);
    expect(s.state).toBe('BOUND');
    s.drop('test');
  });

  it('BOUND → UNBINDING → CLOSED on unbind_resp', async () => {
    smsc = await new TinySmsc().listen();
    const { s } = side();
    await s.bindTo({ host: '127.0.0.1', port: smsc.port }, FIELDS);
    s.unbind('ESME closed');
    expect(s.state).toBe('UNBINDING');
    await waitUntil(() => s.state === 'CLOSED');
  });

  it('a request unanswered after timeoutResponse goes back to the owner as expired', async () => {
    smsc = await new TinySmsc().listen();
    const { s, owner } = side();
    await s.bindTo({ host: '127.0.0.1', port: smsc.port }, FIELDS);
    const now = Date.now();
    const submit = encodePdu(Cmd.submit_sm, 0, 5, Buffer.from('\0\0\0'));
    s.forward(submit, Cmd.submit_sm, 5, now).write(submit);
    s.sweep(now + 999);
    expect(owner.unanswered).toHaveLength(0);
    s.sweep(now + 1000);
    expect(owner.unanswered.map((u) => [u.entry.originalSeq, u.expired])).toEqual([[5, true]]);
    s.drop('test');
  });

  it('refuses transitions the machine does not have', async () => {
    const { s } = side();
    s.drop('closed first');
    const outcome = await s.bindTo({ host: '127.0.0.1', port: 1 }, FIELDS);
    expect(outcome.error).toMatch(/CLOSED/);
    expect(s.state).toBe('CLOSED');
  });
});
