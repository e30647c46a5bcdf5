// The relay is byte-exact: PDUs the smpp package would alter (UDH, binary, 0x80–0xFF in data_coding 0,
// odd-length UCS2, unknown TLVs) reach the SMSC and the ESME unchanged except the sequence number.
// Also: the ESME's bind answered 0x08 when no SMSC can be reached.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { RawEsme, RawSmsc, smppDaemonProperties } from '../helpers/smpp.js';
import { Cmd, commandId, commandStatus, encodeBind, encodePdu, sequenceNumber } from '../../src/smpp/pdu.js';
import { waitUntil } from '../helpers/wait.js';

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');

function submitSm(seq: number, opts: { esmClass?: number; dataCoding: number; message: Buffer; tlvs?: Buffer }): Buffer {
  const body = Buffer.concat([
    cstr(''), Buffer.from([1, 1]), cstr('12345'), Buffer.from([1, 1]), cstr('67890'),
    Buffer.from([opts.esmClass ?? 0, 0, 0]), cstr(''), cstr(''), Buffer.from([1, 0, opts.dataCoding, 0, opts.message.length]),
    opts.message, opts.tlvs ?? Buffer.alloc(0),
  ]);
  return encodePdu(Cmd.submit_sm, 0, seq, body);
}

function tlv(tag: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(tag, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value]);
}

/** The PDU with its sequence number zeroed: what must be identical on both sides. */
const withoutSeq = (pdu: Buffer): Buffer => {
  const copy = Buffer.from(pdu);
  copy.writeUInt32BE(0, 12);
  return copy;
};

const bindPdu = (systemId: string, seq: number): Buffer =>
  encodeBind({ commandId: Cmd.bind_transceiver, systemId, password: 'pw', systemType: 'bytes', interfaceVersion: 0x34, addrTon: 0, addrNpi: 0, addressRange: '' }, seq);

describe('SMPP relay is byte-exact', () => {
  let daemon: Daemon;
  let smsc: RawSmsc;
  let esme: RawEsme;
  let smppPort: number;

  beforeAll(async () => {
    smsc = await new RawSmsc().listen();
    daemon = await startDaemon({
      properties: smppDaemonProperties({ muxMode: false, remoteServers: `127.0.0.1:${smsc.port}`, timeoutEnquire: 60000 }),
    });
    smppPort = daemon.port('smppPort');
    esme = new RawEsme(smppPort);
    await esme.connected();
    esme.write(bindPdu('bytes', 500));
    await waitUntil(() => esme.pdus.length === 1);
    expect([commandId(esme.pdus[0]!), commandStatus(esme.pdus[0]!), sequenceNumber(esme.pdus[0]!)]).toEqual([Cmd.bind_transceiver_resp, 0, 500]);
  });

  afterAll(async () => {
    esme?.destroy();
    await daemon?.stop();
    await smsc?.close();
  });

  const cases: [string, Buffer][] = [
    ['data_coding 0 with bytes 0x80–0xFF', submitSm(0, { dataCoding: 0, message: Buffer.from([0x48, 0x80, 0xa4, 0xe9, 0xff, 0xfe]) })],
    ['a UDH (concatenated part 1/2)', submitSm(0, { esmClass: 0x40, dataCoding: 0, message: Buffer.concat([Buffer.from([5, 0, 3, 0xa5, 2, 1]), Buffer.from('part one')]) })],
    ['binary data_coding 0x04 with every byte value', submitSm(0, { dataCoding: 4, message: Buffer.from(Array.from({ length: 140 }, (_, i) => (i * 7) & 0xff)) })],
    ['odd-length UCS2', submitSm(0, { dataCoding: 8, message: Buffer.from([0x04, 0x1f, 0x04, 0x40, 0x04]) })],
    ['an unknown TLV and message_payload', submitSm(0, { dataCoding: 0, message: Buffer.alloc(0), tlvs: Buffer.concat([tlv(0x1501, Buffer.from('vendor')), tlv(0x0424, Buffer.from([0x00, 0xff, 0x80]))]) })],
  ];

  it.each(cases)('relays submit_sm with %s unchanged except the sequence number', async (_name, template) => {
    const seq = 9000 + esme.pdus.length;
    const pdu = Buffer.from(template);
    pdu.writeUInt32BE(seq, 12);
    const before = smsc.received.length;
    esme.write(pdu);
    await waitUntil(() => esme.pdus.some((p) => sequenceNumber(p) === seq));
    const at = smsc.received.slice(before);
    expect(at).toHaveLength(1);
    expect(withoutSeq(at[0]!)).toEqual(withoutSeq(pdu));
    expect(sequenceNumber(at[0]!)).not.toBe(seq);
    const resp = esme.pdus.find((p) => sequenceNumber(p) === seq)!;
    expect([commandId(resp), commandStatus(resp)]).toEqual([Cmd.submit_sm_resp, 0]);
  });

  it('relays several PDUs written in one segment, each answered on its own number', async () => {
    const seqs = [7001, 7002, 7003];
    esme.write(Buffer.concat(seqs.map((s) => { const p = Buffer.from(cases[0]![1]); p.writeUInt32BE(s, 12); return p; })));
    await waitUntil(() => seqs.every((s) => esme.pdus.some((p) => sequenceNumber(p) === s)));
  });

  it('relays a deliver_sm from the SMSC unchanged except the sequence number, and its response back', async () => {
    const body = Buffer.concat([cstr(''), Buffer.from([1, 1]), cstr('111'), Buffer.from([1, 1]), cstr('222'), Buffer.from([0x04, 0, 0]), cstr(''), cstr(''), Buffer.from([0, 0, 8, 0, 3, 0x00, 0xe9, 0x80]), tlv(0x1502, Buffer.from([1]))]);
    const deliver = encodePdu(Cmd.deliver_sm, 0, 4242, body);
    const count = esme.pdus.length;
    smsc.sendToAll(deliver);
    await waitUntil(() => esme.pdus.length > count);
    const got = esme.pdus[count]!;
    expect(withoutSeq(got)).toEqual(withoutSeq(deliver));
    const before = smsc.received.length;
    esme.write(encodePdu(Cmd.deliver_sm_resp, 0, sequenceNumber(got), cstr('')));
    await waitUntil(() => smsc.received.length > before, 'the deliver_sm_resp at the SMSC', 3000);
    const resp = smsc.received[before]!;
    expect([commandId(resp), sequenceNumber(resp)]).toEqual([Cmd.deliver_sm_resp, 4242]);
  });
});

describe('SMPP broker without a reachable SMSC', () => {
  it('tries every server, then answers the bind with ESME_RSYSERR', async () => {
    // Two ports nobody listens on.
    const closed: number[] = [];
    for (let i = 0; i < 2; i++) {
      const p = await freePort();
      closed.push(p);
    }
    const daemon = await startDaemon({
      properties: smppDaemonProperties({ muxMode: false, remoteServers: closed.map((p) => `127.0.0.1:${p}`).join(',') }),
    });
    const smppPort = daemon.port('smppPort');
    try {
      const esme = new RawEsme(smppPort);
      await esme.connected();
      esme.write(bindPdu('nobody', 31));
      await waitUntil(() => esme.closed);
      expect(esme.pdus).toHaveLength(1);
      expect([commandId(esme.pdus[0]!), commandStatus(esme.pdus[0]!), sequenceNumber(esme.pdus[0]!)]).toEqual([Cmd.bind_transceiver_resp, 0x08, 31]);
      expect(daemon.logs.some((l) => l.msg.includes('no SMSC accepted the bind'))).toBe(true);

      // Nineteen more ESMEs get the same answer, and the log one line, not one per bind (an ESME must not be
      // able to flood it): the next line, a minute later, says how many were left out.
      for (let i = 0; i < 19; i++) {
        const again = new RawEsme(smppPort);
        await again.connected();
        again.write(bindPdu(`nobody-${i}`, 32 + i));
        await waitUntil(() => again.closed);
        expect(commandStatus(again.pdus[0]!)).toBe(0x08);
      }
      expect(daemon.logs.filter((l) => l.msg.includes('no SMSC accepted the bind'))).toHaveLength(1);
    } finally {
      await daemon.stop();
    }
  });
});

describe('SMPP broker with an SMSC that refuses the bind', () => {
  it('binds at the next SMSC; when every SMSC refuses, the ESME gets the SMSC\'s own status', async () => {
    const refusing = await new RawSmsc().listen();
    refusing.refuseBind = 0x0e; // ESME_RINVPASWD
    const accepting = await new RawSmsc().listen();
    const daemon = await startDaemon({
      properties: smppDaemonProperties({ muxMode: false, remoteServers: `127.0.0.1:${refusing.port},127.0.0.1:${accepting.port}` }),
    });
    const smppPort = daemon.port('smppPort');
    try {
      const first = new RawEsme(smppPort);
      await first.connected();
      first.write(bindPdu('next', 1));
      await waitUntil(() => first.pdus.length === 1);
      expect(commandStatus(first.pdus[0]!)).toBe(0);
      expect([refusing.binds, accepting.binds]).toEqual([1, 1]);
      first.destroy();

      accepting.refuseBind = 0x0e;
      const second = new RawEsme(smppPort);
      await second.connected();
      second.write(bindPdu('nobody', 2));
      await waitUntil(() => second.closed);
      expect([commandId(second.pdus[0]!), commandStatus(second.pdus[0]!), sequenceNumber(second.pdus[0]!)]).toEqual([Cmd.bind_transceiver_resp, 0x0e, 2]);
    } finally {
      await daemon.stop();
      await refusing.close();
      await accepting.close();
    }
  });
});

describe('SMPP broker with SMSCs from the node registry', () => {
  it('binds an ESME to a node that advertised an smppPort in its JSON heartbeat', async () => {
    const smsc = await new RawSmsc().listen();
    const daemon = await startDaemon({ properties: smppDaemonProperties({ muxMode: false, nodeTimeout: 5000 }) });
    const smppPort = daemon.port('smppPort');
    try {
      const res = await fetch(`http://127.0.0.1:${daemon.port('heartbeatPort')}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ start: { hostName: 'n1', ip: '127.0.0.1', udpPort: 5070, tcpPort: 5070, smppPort: smsc.port, version: '0', sessionId: 'smpp-node' } }),
      });
      expect(res.status).toBe(200);
      const esme = new RawEsme(smppPort);
      await esme.connected();
      esme.write(bindPdu('vianode', 1));
      await waitUntil(() => esme.pdus.length === 1);
      expect([commandId(esme.pdus[0]!), commandStatus(esme.pdus[0]!)]).toEqual([Cmd.bind_transceiver_resp, 0]);
      esme.write(encodePdu(Cmd.enquire_link, 0, 2));
      esme.write(submitSm(3, { dataCoding: 0, message: Buffer.from('via node') }));
      await waitUntil(() => esme.pdus.some((p) => sequenceNumber(p) === 3));
      expect(smsc.received.map(commandId)).toEqual([Cmd.submit_sm]);
      esme.destroy();
    } finally {
      await daemon.stop();
      await smsc.close();
    }
  });
});
