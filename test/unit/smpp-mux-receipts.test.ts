// Mux mode's delivery-receipt routing pieces: the fields read from submit_sm / deliver_sm / data_sm and their
// responses, and the bounded, expiring message_id → ESME memory.

import { describe, expect, it } from 'vitest';
import { Cmd, encodePdu } from '../../src/smpp/pdu.js';
import { receiptedMessageId, registeredDelivery, responseMessageId } from '../../src/smpp/mux/message-fields.js';
import { ReceiptMemory } from '../../src/smpp/mux/receipt-memory.js';

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');
const tlv = (tag: number, value: Buffer): Buffer => {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(tag, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value]);
};

/** submit_sm or deliver_sm (same body layout). */
function shortMessagePdu(id: number, opts: { esmClass?: number; registeredDelivery?: number; text?: string; tlvs?: Buffer[] } = {}): Buffer {
  const sm = Buffer.from(opts.text ?? 'hello', 'latin1');
  const body = Buffer.concat([
    cstr('CMT'), Buffer.from([1, 1]), cstr('123'), Buffer.from([1, 1]), cstr('456'),
    Buffer.from([opts.esmClass ?? 0, 0, 0]), cstr(''), cstr(''),
    Buffer.from([opts.registeredDelivery ?? 0, 0, 0, 0, sm.length]), sm, ...(opts.tlvs ?? []),
  ]);
  return encodePdu(id, 0, 1, body);
}

function dataSm(opts: { esmClass?: number; registeredDelivery?: number; tlvs?: Buffer[] } = {}): Buffer {
  const body = Buffer.concat([
    cstr(''), Buffer.from([0, 0]), cstr('123'), Buffer.from([0, 0]), cstr('456'),
    Buffer.from([opts.esmClass ?? 0, opts.registeredDelivery ?? 0, 0]), ...(opts.tlvs ?? []),
  ]);
  return encodePdu(Cmd.data_sm, 0, 1, body);
}

describe('message fields', () => {
  it('reads registered_delivery of submit_sm and data_sm', () => {
    expect(registeredDelivery(shortMessagePdu(Cmd.submit_sm, { registeredDelivery: 1 }), Cmd.submit_sm)).toBe(1);
    expect(registeredDelivery(shortMessagePdu(Cmd.submit_sm), Cmd.submit_sm)).toBe(0);
    expect(registeredDelivery(dataSm({ registeredDelivery: 0x11 }), Cmd.data_sm)).toBe(0x11);
  });

  it('reads a truncated or unterminated body as "no receipt asked", without throwing', () => {
    const full = shortMessagePdu(Cmd.submit_sm, { registeredDelivery: 1 });
    for (let cut = 16; cut < full.length - 8; cut++) {
      const pdu = Buffer.from(full.subarray(0, cut));
      expect(() => registeredDelivery(pdu, Cmd.submit_sm)).not.toThrow();
      expect(() => receiptedMessageId(pdu, Cmd.deliver_sm)).not.toThrow();
    }
    expect(registeredDelivery(encodePdu(Cmd.submit_sm, 0, 1, Buffer.from('no-nul-anywhere')), Cmd.submit_sm)).toBe(0);
  });

  it('reads message_id of a submit_sm_resp', () => {
    expect(responseMessageId(encodePdu(Cmd.submit_sm_resp, 0, 1, cstr('abc-1')))).toBe('abc-1');
    expect(responseMessageId(encodePdu(Cmd.submit_sm_resp, 0, 1, cstr('')))).toBeUndefined();
    expect(responseMessageId(encodePdu(Cmd.submit_sm_resp, 8, 1))).toBeUndefined();
  });

  it('finds the receipted message id in the TLV, else in the id: text, and only for receipts', () => {
    const withTlv = shortMessagePdu(Cmd.deliver_sm, { esmClass: 0x04, text: 'id:WRONG stat:DELIVRD', tlvs: [tlv(0x001e, cstr('M-42'))] });
    expect(receiptedMessageId(withTlv, Cmd.deliver_sm)).toEqual({ messageId: 'M-42', intermediate: false });
    const textOnly = shortMessagePdu(Cmd.deliver_sm, { esmClass: 0x04, text: 'id:0012ab sub:001 dlvrd:001 stat:DELIVRD' });
    expect(receiptedMessageId(textOnly, Cmd.deliver_sm)).toEqual({ messageId: '0012ab', intermediate: false });
    const intermediate = shortMessagePdu(Cmd.deliver_sm, { esmClass: 0x20, tlvs: [tlv(0x001e, cstr('M-7'))] });
    expect(receiptedMessageId(intermediate, Cmd.deliver_sm)).toEqual({ messageId: 'M-7', intermediate: true });
    const mo = shortMessagePdu(Cmd.deliver_sm, { text: 'id:not-a-receipt' });
    expect(receiptedMessageId(mo, Cmd.deliver_sm)).toBeUndefined();
    const data = dataSm({ esmClass: 0x04, tlvs: [tlv(0x0424, Buffer.from('id:D9 stat:DELIVRD'))] });
    expect(receiptedMessageId(data, Cmd.data_sm)).toEqual({ messageId: 'D9', intermediate: false });
  });
});

describe('ReceiptMemory', () => {
  it('gives back the submitter within the lifetime; a final receipt forgets it, an intermediate one does not', () => {
    const m = new ReceiptMemory(10, 1000);
    m.remember(1, 'id1', 7, 0);
    expect(m.lookup(2, 'id1', 10, true)).toBeUndefined(); // another SMSC's id space
    expect(m.lookup(1, 'id1', 10, false)).toBe(7);
    expect(m.lookup(1, 'id1', 20, true)).toBe(7);
    expect(m.lookup(1, 'id1', 30, true)).toBeUndefined();
  });

  it('forgets after the lifetime', () => {
    const m = new ReceiptMemory(10, 1000);
    m.remember(3, 'old', 1, 0);
    m.remember(3, 'new', 2, 600);
    expect(m.lookup(3, 'old', 1000, false)).toBeUndefined();
    m.expire(1500);
    expect(m.size).toBe(1);
    m.expire(1600);
    expect(m.size).toBe(0);
  });

  it('holds at most its bound, dropping the oldest', () => {
    const m = new ReceiptMemory(3, 60_000);
    for (let i = 0; i < 10; i++) m.remember(3, `id${i}`, i + 1, i);
    expect(m.size).toBe(3);
    expect(m.evicted).toBe(7);
    expect(m.lookup(3, 'id6', 20, false)).toBeUndefined();
    expect(m.lookup(3, 'id9', 20, false)).toBe(10);
  });

  it('keeps working through growth, wrap-around and index rebuilds', () => {
    const m = new ReceiptMemory(5000, 1e9);
    for (let i = 0; i < 20_000; i++) m.remember(i % 3, `msg-${i}`, (i % 7) + 1, i);
    expect(m.size).toBe(5000);
    for (let i = 15_000; i < 20_000; i++) expect(m.lookup(i % 3, `msg-${i}`, 20_000, false)).toBe((i % 7) + 1);
    expect(m.lookup(0, 'msg-14999', 20_000, false)).toBeUndefined();
    expect(m.lookup(1, 'msg-15000', 20_000, false)).toBeUndefined(); // right id, other SMSC
    // The same id again: the latest submitter wins, and the count stays.
    m.remember(2, 'msg-19999', 42, 20_001);
    expect([m.lookup(2, 'msg-19999', 20_002, true), m.size]).toEqual([42, 4999]);
  });

  it('remembers nothing with a bound of 0', () => {
    const m = new ReceiptMemory(0, 60_000);
    m.remember(3, 'id', 1, 0);
    expect([m.enabled, m.size]).toEqual([false, 0]);
  });
});
