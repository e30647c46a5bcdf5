// PduConnection: relayed PDUs of one chunk leave in one write, without copying; consumed PDUs split the run.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PduConnection } from '../../src/smpp/connection.js';
import { Cmd, commandId, commandStatus, encodePdu, sequenceNumber, setSequenceNumber } from '../../src/smpp/pdu.js';

class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  paused = false;
  full = false;
  resume(): this {
    this.paused = false;
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  write(b: Buffer): boolean {
    this.written.push(b);
    return !this.full;
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    return this;
  }
}

function pair(): { src: PduConnection; dst: PduConnection; srcSocket: FakeSocket; dstSocket: FakeSocket; bytes: number[] } {
  const srcSocket = new FakeSocket();
  const dstSocket = new FakeSocket();
  const bytes: number[] = [];
  const src = new PduConnection(srcSocket as unknown as Socket, 65536, () => undefined, 0);
  const dst = new PduConnection(dstSocket as unknown as Socket, 65536, (n) => bytes.push(n), 0);
  return { src, dst, srcSocket, dstSocket, bytes };
}

const submit = (seq: number): Buffer => encodePdu(Cmd.submit_sm, 0, seq, Buffer.from('abc\0', 'latin1'));

describe('PduConnection relay runs', () => {
  it('writes a chunk of relayed PDUs as one buffer, renumbered in place', () => {
    const { src, dst, srcSocket, dstSocket, bytes } = pair();
    src.onPdu = (pdu) => {
      setSequenceNumber(pdu, sequenceNumber(pdu) + 100);
      return dst;
    };
    const chunk = Buffer.concat([submit(1), submit(2), submit(3)]);
    srcSocket.emit('data', chunk);
    expect(dstSocket.written).toHaveLength(1);
    expect(dstSocket.written[0]).toBe(chunk); // the same memory, not a copy
    const L = submit(0).length;
    expect([0, 1, 2].map((i) => sequenceNumber(chunk.subarray(i * L)))).toEqual([101, 102, 103]);
    expect(bytes).toEqual([chunk.length]);
  });

  it('splits the run around a PDU answered locally, keeping the order', () => {
    const { src, dst, srcSocket, dstSocket } = pair();
    src.onPdu = (pdu) => (commandId(pdu) !== Cmd.enquire_link ? dst : undefined);
    srcSocket.emit('data', Buffer.concat([submit(1), encodePdu(Cmd.enquire_link, 0, 2), submit(3), submit(4)]));
    const L = submit(0).length;
    expect(dstSocket.written.map((b) => b.length)).toEqual([L, 2 * L]);
    expect(sequenceNumber(dstSocket.written[1]!)).toBe(3);
  });

  it('relays a PDU split across chunks once it is complete', () => {
    const { src, dst, srcSocket, dstSocket } = pair();
    src.onPdu = () => dst;
    const p = submit(9);
    srcSocket.emit('data', p.subarray(0, 10));
    expect(dstSocket.written).toHaveLength(0);
    srcSocket.emit('data', p.subarray(10));
    expect(Buffer.concat(dstSocket.written)).toEqual(p);
  });

  it('pauses the source when the peer is full, and resumes it when the peer drains', () => {
    const { src, dst, srcSocket, dstSocket } = pair();
    src.onPdu = () => dst;
    dstSocket.full = true;
    srcSocket.emit('data', submit(1));
    expect(srcSocket.paused).toBe(true);
    dstSocket.emit('drain');
    expect(srcSocket.paused).toBe(false);
  });

  it('splits a chunk into one run per target (mux mode: PDUs of one chunk go to different peers)', () => {
    const { src, dst, srcSocket, dstSocket } = pair();
    const otherSocket = new FakeSocket();
    const other = new PduConnection(otherSocket as unknown as Socket, 65536, () => undefined, 0);
    src.onPdu = (pdu) => (sequenceNumber(pdu) % 2 === 0 ? other : dst);
    srcSocket.emit('data', Buffer.concat([submit(1), submit(3), submit(2), submit(5)]));
    const L = submit(0).length;
    expect(dstSocket.written.map((b) => b.length)).toEqual([2 * L, L]);
    expect(otherSocket.written.map((b) => sequenceNumber(b))).toEqual([2]);
  });

  it('answers a bad command_length with generic_nack ESME_RINVCMDLEN on its own socket', () => {
    const { src, srcSocket, dstSocket } = pair();
    let failed = false;
    src.onFramingError = () => (failed = true);
    const bad = Buffer.alloc(16);
    bad.writeUInt32BE(4, 0);
    bad.writeUInt32BE(6, 12);
    srcSocket.emit('data', bad);
    expect(failed).toBe(true);
    expect(dstSocket.written).toHaveLength(0);
    const nack = srcSocket.written[0]!;
    expect([commandId(nack), commandStatus(nack), sequenceNumber(nack)]).toEqual([Cmd.generic_nack, 2, 6]);
  });
});
