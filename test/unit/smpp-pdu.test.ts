// The SMPP framer and codecs: boundaries, partial reads, bad lengths, and the PDUs the broker encodes.

import { describe, expect, it } from 'vitest';
import {
  Cmd,
  PduFramer,
  Status,
  bindRespInterfaceVersion,
  bindRespSystemId,
  commandId,
  commandName,
  commandStatus,
  decodeBind,
  encodeBind,
  encodeBindResp,
  encodePdu,
  errorResponseFor,
  sequenceNumber,
  setSequenceNumber,
  type FramingError,
} from '../../src/smpp/pdu.js';

function frame(chunks: Buffer[], max = 65536): { pdus: Buffer[]; errors: FramingError[] } {
  const pdus: Buffer[] = [];
  const errors: FramingError[] = [];
  const f = new PduFramer(max, (p) => pdus.push(Buffer.from(p)), (e) => errors.push(e));
  for (const c of chunks) f.push(c);
  return { pdus, errors };
}

const submit = (seq: number, body = Buffer.from('hello\u0000', 'latin1')): Buffer => encodePdu(Cmd.submit_sm, 0, seq, body);

describe('PduFramer', () => {
  it('hands out one PDU per complete command_length', () => {
    const p = submit(7);
    const { pdus, errors } = frame([p]);
    expect(errors).toEqual([]);
    expect(pdus).toEqual([p]);
  });

  it('cuts several PDUs out of one chunk', () => {
    const a = submit(1);
    const b = encodePdu(Cmd.enquire_link, 0, 2);
    const c = submit(3, Buffer.alloc(300, 0xff));
    const { pdus } = frame([Buffer.concat([a, b, c])]);
    expect(pdus).toEqual([a, b, c]);
  });

  it('assembles a PDU split at every possible byte', () => {
    const a = submit(1, Buffer.from([0x80, 0x81, 0xfe, 0xff, 0x00]));
    const b = submit(2);
    const both = Buffer.concat([a, b]);
    for (let cut = 1; cut < both.length; cut++) {
      const { pdus, errors } = frame([both.subarray(0, cut), both.subarray(cut)]);
      expect(errors).toEqual([]);
      expect(pdus).toEqual([a, b]);
    }
  });

  it('assembles a PDU delivered one byte at a time', () => {
    const a = submit(9, Buffer.alloc(100, 0x41));
    const chunks = [...a].map((b) => Buffer.from([b]));
    expect(frame(chunks).pdus).toEqual([a]);
  });

  it('rejects command_length below 16 with the sequence number when it can read it', () => {
    const bad = Buffer.alloc(16);
    bad.writeUInt32BE(8, 0);
    bad.writeUInt32BE(Cmd.submit_sm, 4);
    bad.writeUInt32BE(42, 12);
    const { pdus, errors } = frame([bad]);
    expect(pdus).toEqual([]);
    expect(errors).toEqual([{ commandLength: 8, sequence: 42 }]);
  });

  it('rejects command_length above the maximum before the body arrives', () => {
    const head = Buffer.alloc(16);
    head.writeUInt32BE(100 * 1024 * 1024, 0);
    head.writeUInt32BE(Cmd.submit_sm, 4);
    head.writeUInt32BE(5, 12);
    const { errors } = frame([head.subarray(0, 6), head.subarray(6)], 65536);
    expect(errors).toEqual([{ commandLength: 100 * 1024 * 1024, sequence: 5 }]);
  });

  it('accepts a PDU of exactly the maximum size', () => {
    const p = submit(1, Buffer.alloc(1024 - 16));
    expect(frame([p], 1024).pdus).toHaveLength(1);
    expect(frame([submit(1, Buffer.alloc(1024 - 15))], 1024).errors).toHaveLength(1);
  });

  it('stops after a framing error', () => {
    const bad = Buffer.alloc(16);
    bad.writeUInt32BE(3, 0);
    const { pdus, errors } = frame([bad, submit(1)]);
    expect(errors).toHaveLength(1);
    expect(pdus).toEqual([]);
  });
});

describe('header access', () => {
  it('reads and rewrites only the sequence number', () => {
    const p = submit(1, Buffer.from([1, 2, 3, 0]));
    const copy = Buffer.from(p);
    setSequenceNumber(p, 0x7fffffff);
    expect(sequenceNumber(p)).toBe(0x7fffffff);
    expect(p.subarray(0, 12)).toEqual(copy.subarray(0, 12));
    expect(p.subarray(16)).toEqual(copy.subarray(16));
    expect(commandId(p)).toBe(Cmd.submit_sm);
  });

  it('names commands, and unknown ids in hex', () => {
    expect(commandName(Cmd.deliver_sm_resp)).toBe('deliver_sm_resp');
    expect(commandName(0x1234)).toBe('0x00001234');
  });
});

describe('bind', () => {
  const fields = {
    commandId: Cmd.bind_transceiver,
    systemId: 'esme1',
    password: 'secret',
    systemType: 'VMA',
    interfaceVersion: 0x34,
    addrTon: 1,
    addrNpi: 1,
    addressRange: '^123',
  };

  it('encodes and decodes the bind body (SMPP 3.4 §4.1.1)', () => {
    const pdu = encodeBind(fields, 9);
    expect(pdu.readUInt32BE(0)).toBe(pdu.length);
    expect(sequenceNumber(pdu)).toBe(9);
    expect(decodeBind(pdu)).toEqual(fields);
  });

  it('throws on a truncated bind', () => {
    const pdu = encodeBind(fields, 1).subarray(0, 20);
    expect(() => decodeBind(pdu)).toThrow(RangeError);
  });

  it('encodes bind_resp with the sc_interface_version TLV', () => {
    const resp = encodeBindResp(Cmd.bind_transceiver, 0, 3, 'smsc', 0x34);
    expect(commandId(resp)).toBe(Cmd.bind_transceiver_resp);
    expect(bindRespSystemId(resp)).toBe('smsc');
    expect(bindRespInterfaceVersion(resp)).toBe(0x34);
    expect(bindRespInterfaceVersion(encodeBindResp(Cmd.bind_transmitter, 0, 3, 'x'))).toBeUndefined();
  });
});

describe('errorResponseFor', () => {
  it('answers submit_sm with submit_sm_resp, the status and an empty message_id', () => {
    const r = errorResponseFor(Cmd.submit_sm, Status.ESME_RSYSERR, 77);
    expect(commandId(r)).toBe(Cmd.submit_sm_resp);
    expect(commandStatus(r)).toBe(8);
    expect(sequenceNumber(r)).toBe(77);
    expect(r.length).toBe(17);
  });

  it('answers deliver_sm, data_sm, query_sm and unbind with their own responses', () => {
    expect(commandId(errorResponseFor(Cmd.deliver_sm, 8, 1))).toBe(Cmd.deliver_sm_resp);
    expect(commandId(errorResponseFor(Cmd.data_sm, 8, 1))).toBe(Cmd.data_sm_resp);
    expect(commandId(errorResponseFor(Cmd.query_sm, 8, 1))).toBe(Cmd.query_sm_resp);
    expect(commandId(errorResponseFor(Cmd.unbind, 8, 1))).toBe(Cmd.unbind_resp);
    expect(errorResponseFor(Cmd.submit_multi, 8, 1).length).toBe(18);
  });

  it('answers a command without a response type with generic_nack', () => {
    const r = errorResponseFor(0x00001234, Status.ESME_RINVCMDID, 5);
    expect(commandId(r)).toBe(Cmd.generic_nack);
    expect(commandStatus(r)).toBe(3);
    expect(r.length).toBe(16);
  });
});
