// A minimal SMPP framer and encoder for the benchmark peers (raw sockets; the smpp npm package is too slow
// to measure a relay with).

export const BIND_TRX = 0x00000009;
export const SUBMIT_SM = 0x00000004;
export const ENQUIRE_LINK = 0x00000015;
export const UNBIND = 0x00000006;
export const RESP = 0x80000000;

export function pdu(id, status, seq, body) {
  const len = 16 + (body ? body.length : 0);
  const b = Buffer.allocUnsafe(len);
  b.writeUInt32BE(len, 0);
  b.writeUInt32BE(id >>> 0, 4);
  b.writeUInt32BE(status >>> 0, 8);
  b.writeUInt32BE(seq >>> 0, 12);
  if (body) body.copy(b, 16);
  return b;
}

/** Calls onPdu(buf, offset, length) for each complete PDU; keeps the remainder between chunks. */
export function framer(onPdu) {
  let pending = null;
  return (chunk) => {
    let data = chunk;
    if (pending) {
      data = Buffer.concat([pending, chunk]);
      pending = null;
    }
    let off = 0;
    while (data.length - off >= 4) {
      const len = data.readUInt32BE(off);
      if (data.length - off < len) break;
      onPdu(data, off, len);
      off += len;
    }
    if (off < data.length) pending = data.subarray(off);
  };
}

export function bindBody(systemId) {
  return Buffer.concat([Buffer.from(`${systemId}\0pw\0bench\0`, 'latin1'), Buffer.from([0x34, 0, 0]), Buffer.from([0])]);
}

/** A typical submit_sm: 160 GSM characters of text. */
export function submitBody() {
  const text = Buffer.alloc(160, 0x41);
  return Buffer.concat([
    Buffer.from('\0', 'latin1'), Buffer.from([1, 1]), Buffer.from('12345\0', 'latin1'), Buffer.from([1, 1]), Buffer.from('4479000000\0', 'latin1'),
    Buffer.from([0, 0, 0]), Buffer.from('\0\0', 'latin1'), Buffer.from([1, 0, 0, 0, text.length]), text,
  ]);
}
