// Buffers for outgoing messages, carved from a 64 KB slab: one ArrayBuffer per ~60 forwarded messages
// instead of one per ~8 (Buffer.allocUnsafe's 8 KB pool), which the hot-path profile showed as a
// top cost. A slab is never written again once carved, so a queued send keeps its bytes; it is freed
// when its last message is.

const SLAB_SIZE = 64 * 1024;
/** Messages larger than this get a buffer of their own, so a few big ones do not waste slabs. */
const MAX_CARVED = 8 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let offset = 0;

/** An uninitialised buffer of `length` bytes for a message about to be written and sent. */
export function allocOutgoing(length: number): Buffer {
  if (length > MAX_CARVED) return Buffer.allocUnsafeSlow(length);
  if (offset + length > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    offset = 0;
  }
  const out = slab.subarray(offset, offset + length);
  // 8-byte aligned, as Node's own pool does.
  offset = (offset + length + 7) & ~7;
  return out;
}

/** Writes latin1 text (one byte per char) at `offset` with Node's unchecked writer; returns the bytes written. */
export function writeLatin1(buf: Buffer, text: string, offset: number): number {
  return (buf as Buffer & { latin1Write(text: string, offset: number, length: number): number }).latin1Write(text, offset, text.length);
}
