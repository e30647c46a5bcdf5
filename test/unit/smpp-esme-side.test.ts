// The ESME side's state machine on its own: a socket that records writes and an owner that records calls.

import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { PduConnection } from '../../src/smpp/connection.js';
import type { SmppContext } from '../../src/smpp/context.js';
import { EsmeSide, type EsmeOwner } from '../../src/smpp/esme-side.js';
import { Cmd, commandId, commandStatus, encodeBindResp, encodePdu, sequenceNumber, type BindFields } from '../../src/smpp/pdu.js';
import { FakeSocket, bindPdu, smppContext, submitPdu } from './smpp-fixtures.js';

class RecordingOwner implements EsmeOwner {
  readonly calls: string[] = [];
  binds: BindFields[] = [];
  unanswered: { commandId: number; originalSeq: number; expired: boolean }[] = [];
  target: PduConnection | undefined;
  esmeBind(_e: EsmeSide, fields: BindFields): void {
    this.calls.push('bind');
    this.binds.push(fields);
  }
  esmeRequest(_e: EsmeSide, _pdu: Buffer, id: number, seq: number): PduConnection | undefined {
    this.calls.push(`request ${id} ${seq}`);
    return this.target;
  }
  esmeResponse(_e: EsmeSide, _pdu: Buffer, id: number, entry: { originalSeq: number }): PduConnection | undefined {
    this.calls.push(`response ${id} ${entry.originalSeq}`);
    return undefined;
  }
  esmeUnanswered(_e: EsmeSide, entry: { commandId: number; originalSeq: number }, expired: boolean): void {
    this.unanswered.push({ commandId: entry.commandId, originalSeq: entry.originalSeq, expired });
  }
  esmeClosed(): void {
    this.calls.push('closed');
  }
}

function esme(ctx: SmppContext = smppContext(), now = 0): { side: EsmeSide; socket: FakeSocket; owner: RecordingOwner; ctx: SmppContext } {
  const socket = new FakeSocket();
  const owner = new RecordingOwner();
  const side = new EsmeSide(socket as unknown as Socket, ctx, owner, now);
  return { side, socket, owner, ctx };
}

const last = (s: FakeSocket): Buffer => s.written[s.written.length - 1]!;
const head = (b: Buffer): [number, number, number] => [commandId(b), commandStatus(b), sequenceNumber(b)];

function bound(ctx?: SmppContext): ReturnType<typeof esme> {
  const e = esme(ctx);
  e.socket.push(bindPdu(7));
  e.side.accept(encodeBindResp(Cmd.bind_transceiver, 0, 1, 'smsc'), 'test');
  return e;
}

describe('EsmeSide state machine', () => {
  it('OPEN: a request before bind gets generic_nack ESME_RINVCMDID, then CLOSED and the owner told once', () => {
    const { side, socket, owner } = esme();
    socket.push(submitPdu(5));
    expect(head(last(socket))).toEqual([Cmd.generic_nack, 0x03, 5]);
    expect(side.state).toBe('CLOSED');
    socket.emit('close');
    expect(owner.calls).toEqual(['closed']);
  });

  it('OPEN → BINDING on bind; BINDING → BOUND on accept, answered with the ESME\'s own sequence number', () => {
    const { side, socket, owner } = esme();
    socket.push(bindPdu(7, 'alice', 'secret'));
    expect(side.state).toBe('BINDING');
    expect(owner.binds.map((b) => [b.systemId, b.password])).toEqual([['alice', 'secret']]);
    expect(side.accept(encodeBindResp(Cmd.bind_transceiver, 0, 99, 'smsc'), 'test')).toBe(true);
    expect(side.state).toBe('BOUND');
    expect(head(last(socket))).toEqual([Cmd.bind_transceiver_resp, 0, 7]);
  });

  it('BINDING: requests are turned back with ESME_RINVBNDSTS; enquire_link is answered', () => {
    const { side, socket } = esme();
    socket.push(bindPdu(1), submitPdu(2), encodePdu(Cmd.enquire_link, 0, 3));
    expect(side.state).toBe('BINDING');
    expect(socket.written.map(head)).toEqual([[Cmd.submit_sm_resp, 0x04, 2], [Cmd.enquire_link_resp, 0, 3]]);
  });

  it('BINDING → CLOSED on refuse, with the status', () => {
    const { side, socket, owner } = esme();
    socket.push(bindPdu(4));
    side.refuse(0x0e, 'wrong password');
    expect(head(last(socket))).toEqual([Cmd.bind_transceiver_resp, 0x0e, 4]);
    expect(side.state).toBe('CLOSED');
    expect(owner.calls).toEqual(['bind', 'closed']);
  });

  it('BOUND: relayable requests go to the owner; unknown ids get generic_nack; a second bind ESME_RALYBND', () => {
    const { side, socket, owner } = bound();
    socket.written.length = 0;
    socket.push(submitPdu(10), encodePdu(0x1234, 0, 11), bindPdu(12), encodePdu(Cmd.enquire_link, 0, 13));
    expect(owner.calls).toContain(`request ${Cmd.submit_sm} 10`);
    expect(socket.written.map(head)).toEqual([[Cmd.generic_nack, 0x03, 11], [Cmd.bind_transceiver_resp, 0x05, 12], [Cmd.enquire_link_resp, 0, 13]]);
    expect(side.state).toBe('BOUND');
  });

  it('BOUND: a response to a relayed request reaches the owner with the sender\'s number', () => {
    const { side, socket, owner } = bound();
    const deliver = encodePdu(Cmd.deliver_sm, 0, 555);
    side.forward(deliver, Cmd.deliver_sm, 555, 0);
    const mine = sequenceNumber(deliver);
    socket.push(encodePdu(Cmd.deliver_sm_resp, 0, mine, Buffer.from([0])));
    expect(owner.calls).toContain(`response ${Cmd.deliver_sm_resp} 555`);
    // The same number again is unknown now: dropped.
    socket.push(encodePdu(Cmd.deliver_sm_resp, 0, mine, Buffer.from([0])));
    expect(owner.calls.filter((c) => c.startsWith('response'))).toHaveLength(1);
  });

  it('BOUND ↔ REBINDING: requests get ESME_RSYSERR meanwhile; unbind while rebinding is answered and closes', () => {
    const { side, socket } = bound();
    side.rebinding('lost');
    expect(side.state).toBe('REBINDING');
    socket.push(submitPdu(20));
    expect(head(last(socket))).toEqual([Cmd.submit_sm_resp, 0x08, 20]);
    side.rebound('back');
    expect(side.state).toBe('BOUND');
    side.rebinding('lost again');
    socket.push(encodePdu(Cmd.unbind, 0, 21));
    expect(head(last(socket))).toEqual([Cmd.unbind_resp, 0, 21]);
    expect(side.state).toBe('CLOSED');
  });

  it('UNBINDING: sends unbind, closes on unbind_resp', () => {
    const { side, socket } = bound();
    side.rebinding('lost');
    side.unbind('no SMSC');
    expect(side.state).toBe('UNBINDING');
    const unbind = last(socket);
    expect(commandId(unbind)).toBe(Cmd.unbind);
    socket.push(encodePdu(Cmd.unbind_resp, 0, sequenceNumber(unbind)));
    expect(side.state).toBe('CLOSED');
  });

  it('refuses transitions the machine does not have', () => {
    const { side } = esme();
    expect(side.accept(encodeBindResp(Cmd.bind_transceiver, 0, 1, 'x'), 'too early')).toBe(false);
    side.rebound('not rebinding');
    side.rebinding('not bound');
    expect(side.state).toBe('OPEN');
  });

  it('closing hands what the ESME did not answer back to the owner', () => {
    const { side, owner } = bound();
    side.forward(encodePdu(Cmd.deliver_sm, 0, 31), Cmd.deliver_sm, 31, 0);
    side.close('test');
    expect(owner.unanswered).toEqual([{ commandId: Cmd.deliver_sm, originalSeq: 31, expired: false }]);
  });

  it('sweep: no bind within timeoutConnection closes and counts', () => {
    const { side, ctx } = esme();
    side.sweep(ctx.config.timeoutConnectionMs - 1);
    expect(side.state).toBe('OPEN');
    side.sweep(ctx.config.timeoutConnectionMs);
    expect(side.state).toBe('CLOSED');
    expect(ctx.stats.notBindClients).toBe(1);
  });

  it('sweep: a request to the ESME unanswered after timeoutResponse goes back to the owner as expired', () => {
    const { side, owner, ctx } = bound();
    side.forward(encodePdu(Cmd.deliver_sm, 0, 41), Cmd.deliver_sm, 41, 0);
    side.sweep(ctx.config.timeoutResponseMs + 1);
    expect(owner.unanswered).toEqual([{ commandId: Cmd.deliver_sm, originalSeq: 41, expired: true }]);
  });

  it('sweep, regular mode: enquire_link every timeoutEnquire; no answer within the check timeout closes', () => {
    const { side, socket, ctx } = bound();
    const t0 = Date.now();
    const { timeoutEnquireMs: enquire, timeoutConnectionCheckClientSideMs: check } = ctx.config;
    side.sweep(t0 + enquire);
    expect(commandId(last(socket))).toBe(Cmd.enquire_link);
    side.sweep(t0 + enquire + check - 1);
    expect(side.state).toBe('BOUND');
    side.sweep(t0 + enquire + check);
    expect(side.state).toBe('CLOSED');
  });

  it('sweep, mux mode: enquire_link only when idle, and 3× the check timeout of silence before closing', () => {
    const { side, socket, ctx } = bound(smppContext({ idleSupervision: true }));
    const t0 = Date.now();
    const { timeoutEnquireMs: enquire, timeoutConnectionCheckClientSideMs: check } = ctx.config;
    // Traffic keeps it from being idle: no probe.
    socket.push(encodePdu(Cmd.enquire_link, 0, 50));
    socket.written.length = 0;
    side.sweep(t0 + enquire - 100);
    expect(socket.written).toHaveLength(0);
    side.sweep(t0 + enquire + 100);
    expect(commandId(last(socket))).toBe(Cmd.enquire_link);
    side.sweep(t0 + enquire + 100 + 3 * check - 1);
    expect(side.state).toBe('BOUND');
    side.sweep(t0 + enquire + 100 + 3 * check);
    expect(side.state).toBe('CLOSED');
  });

  it('a bad command_length is answered with generic_nack ESME_RINVCMDLEN and closes only this side', () => {
    const { side, socket, ctx } = bound();
    const bad = Buffer.alloc(16);
    bad.writeUInt32BE(8, 0);
    bad.writeUInt32BE(9, 12);
    socket.push(bad);
    expect(head(last(socket))).toEqual([Cmd.generic_nack, 0x02, 9]);
    expect(side.state).toBe('CLOSED');
    expect(ctx.stats.rejected.get('bad-command-length')).toBe(1);
  });
});
