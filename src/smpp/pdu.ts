// SMPP PDUs as bytes: the framer that cuts a TCP stream into PDUs without copying them, the few decoders
// the broker needs (header, bind body) and the encoders for the PDUs the broker itself sends.

export const HEADER_LENGTH = 16;
export const RESPONSE_BIT = 0x80000000;

/** command_id values (SMPP 3.4 §5.1.2.1 and the 5.0 broadcast family). */
export const Cmd = {
  generic_nack: 0x80000000,
  bind_receiver: 0x00000001,
  bind_receiver_resp: 0x80000001,
  bind_transmitter: 0x00000002,
  bind_transmitter_resp: 0x80000002,
  query_sm: 0x00000003,
  query_sm_resp: 0x80000003,
  submit_sm: 0x00000004,
  submit_sm_resp: 0x80000004,
  deliver_sm: 0x00000005,
  deliver_sm_resp: 0x80000005,
  unbind: 0x00000006,
  unbind_resp: 0x80000006,
  replace_sm: 0x00000007,
  replace_sm_resp: 0x80000007,
  cancel_sm: 0x00000008,
  cancel_sm_resp: 0x80000008,
  bind_transceiver: 0x00000009,
  bind_transceiver_resp: 0x80000009,
  outbind: 0x0000000b,
  enquire_link: 0x00000015,
  enquire_link_resp: 0x80000015,
  submit_multi: 0x00000021,
  submit_multi_resp: 0x80000021,
  alert_notification: 0x00000102,
  data_sm: 0x00000103,
  data_sm_resp: 0x80000103,
  broadcast_sm: 0x00000111,
  broadcast_sm_resp: 0x80000111,
  query_broadcast_sm: 0x00000112,
  query_broadcast_sm_resp: 0x80000112,
  cancel_broadcast_sm: 0x00000113,
  cancel_broadcast_sm_resp: 0x80000113,
} as const;

/** command_status values the broker sends. */
export const Status = {
  ESME_ROK: 0x00,
  ESME_RINVCMDLEN: 0x02,
  ESME_RINVCMDID: 0x03,
  ESME_RINVBNDSTS: 0x04,
  ESME_RALYBND: 0x05,
  ESME_RSYSERR: 0x08,
  ESME_RBINDFAIL: 0x0d,
} as const;

const NAMES = new Map<number, string>(Object.entries(Cmd).map(([name, id]) => [id, name]));

/** The command's name, or 0x-hex for an id SMPP does not define (for counters and logs). */
export function commandName(id: number): string {
  return NAMES.get(id) ?? `0x${id.toString(16).padStart(8, '0')}`;
}

export function isResponse(commandId: number): boolean {
  return (commandId & RESPONSE_BIT) !== 0;
}

export function isBind(commandId: number): boolean {
  return commandId === Cmd.bind_transmitter || commandId === Cmd.bind_receiver || commandId === Cmd.bind_transceiver;
}

export function commandId(pdu: Buffer): number {
  return pdu.readUInt32BE(4);
}

export function commandStatus(pdu: Buffer): number {
  return pdu.readUInt32BE(8);
}

export function sequenceNumber(pdu: Buffer): number {
  return pdu.readUInt32BE(12);
}

/** Rewrites the sequence number in place: the only byte change the relay makes. */
export function setSequenceNumber(pdu: Buffer, seq: number): void {
  pdu.writeUInt32BE(seq >>> 0, 12);
}

/** A bad command_length: the framer stops and the connection is answered with generic_nack and closed. */
export interface FramingError {
  readonly commandLength: number;
  /** The sequence number, when the header was complete enough to read it; else 0. */
  readonly sequence: number;
}

/**
 * Cuts a byte stream into PDUs. Complete PDUs inside a chunk are handed out as views of that chunk
 * (no copy); only a PDU split across chunks is assembled into a new buffer. After a framing error it
 * stays stopped: the stream has lost its boundaries.
 */
export class PduFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private failed = false;

  constructor(
    private readonly maxPduSize: number,
    /** `data` and `offset` locate the PDU in the buffer being framed (to batch relays without copying). */
    private readonly onPdu: (pdu: Buffer, data: Buffer, offset: number) => void,
    private readonly onError: (err: FramingError) => void,
  ) {}

  /** Bytes held back waiting for the rest of a PDU. */
  get buffered(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    let data = chunk;
    if (this.pendingBytes > 0) {
      const total = this.pendingBytes + chunk.length;
      let need = 4;
      if (total >= 4) {
        const head = this.headAcross(chunk);
        const length = head.readUInt32BE(0);
        // A too-large length waits for the whole header so the generic_nack carries the sequence number.
        if (length < HEADER_LENGTH || (length > this.maxPduSize && total >= HEADER_LENGTH)) {
          this.fail(length, total >= HEADER_LENGTH ? head.readUInt32BE(12) : 0);
          return;
        }
        need = length > this.maxPduSize ? HEADER_LENGTH : length;
      }
      // Wait for the whole PDU before copying, so a large PDU in many chunks is copied once.
      if (total < need) {
        this.pending.push(chunk);
        this.pendingBytes = total;
        return;
      }
      this.pending.push(chunk);
      data = Buffer.concat(this.pending, total);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let offset = 0;
    const end = data.length;
    while (end - offset >= 4) {
      const length = data.readUInt32BE(offset);
      if (length < HEADER_LENGTH || length > this.maxPduSize) {
        if (length >= HEADER_LENGTH && end - offset < HEADER_LENGTH) break;
        this.fail(length, end - offset >= HEADER_LENGTH ? data.readUInt32BE(offset + 12) : 0);
        return;
      }
      if (end - offset < length) break;
      this.onPdu(data.subarray(offset, offset + length), data, offset);
      if (this.failed) return;
      offset += length;
    }
    if (offset < end) {
      this.pending.push(data.subarray(offset));
      this.pendingBytes = end - offset;
    }
  }

  /** Stops framing (the connection is closing); later chunks are ignored. */
  stop(): void {
    this.failed = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** The first 16 bytes (or fewer) of pending + next, for reading a split header. */
  private headAcross(next: Buffer): Buffer {
    const head = Buffer.alloc(HEADER_LENGTH);
    let filled = 0;
    for (const part of [...this.pending, next]) {
      filled += part.copy(head, filled, 0, Math.min(part.length, HEADER_LENGTH - filled));
      if (filled === HEADER_LENGTH) break;
    }
    return head;
  }

  private fail(commandLength: number, sequence: number): void {
    this.failed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.onError({ commandLength, sequence });
  }
}

/** A PDU with the given header and body. */
export function encodePdu(id: number, status: number, seq: number, body?: Buffer): Buffer {
  const length = HEADER_LENGTH + (body?.length ?? 0);
  const out = Buffer.allocUnsafe(length);
  out.writeUInt32BE(length, 0);
  out.writeUInt32BE(id >>> 0, 4);
  out.writeUInt32BE(status >>> 0, 8);
  out.writeUInt32BE(seq >>> 0, 12);
  if (body) body.copy(out, HEADER_LENGTH);
  return out;
}

export function genericNack(status: number, seq: number): Buffer {
  return encodePdu(Cmd.generic_nack, status, seq);
}

const EMPTY_CSTRING = Buffer.from([0]);
const EMPTY_MULTI_RESP = Buffer.from([0, 0]);

/**
 * The broker's own answer to a request it cannot relay: the matching *_resp with `status`, or a
 * generic_nack for a request that has no response type. Bodies are the minimal valid ones (an empty
 * message_id where the response carries one).
 */
export function errorResponseFor(requestId: number, status: number, seq: number): Buffer {
  switch (requestId) {
    case Cmd.submit_sm:
    case Cmd.deliver_sm:
    case Cmd.data_sm:
      return encodePdu((requestId | RESPONSE_BIT) >>> 0, status, seq, EMPTY_CSTRING);
    case Cmd.submit_multi:
      return encodePdu(Cmd.submit_multi_resp, status, seq, EMPTY_MULTI_RESP);
    case Cmd.bind_transmitter:
    case Cmd.bind_receiver:
    case Cmd.bind_transceiver:
      return encodePdu((requestId | RESPONSE_BIT) >>> 0, status, seq, EMPTY_CSTRING);
    case Cmd.query_sm:
    case Cmd.replace_sm:
    case Cmd.cancel_sm:
    case Cmd.unbind:
    case Cmd.enquire_link:
    case Cmd.broadcast_sm:
    case Cmd.query_broadcast_sm:
    case Cmd.cancel_broadcast_sm:
      return encodePdu((requestId | RESPONSE_BIT) >>> 0, status, seq);
    default:
      return genericNack(status, seq);
  }
}

/** The fields of bind_transmitter/receiver/transceiver (SMPP 3.4 §4.1.1). */
export interface BindFields {
  readonly commandId: number;
  readonly systemId: string;
  readonly password: string;
  readonly systemType: string;
  readonly interfaceVersion: number;
  readonly addrTon: number;
  readonly addrNpi: number;
  readonly addressRange: string;
}

function readCString(buf: Buffer, offset: number): [string, number] {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new RangeError('unterminated C-Octet String');
  return [buf.toString('latin1', offset, end), end + 1];
}

/** Decodes a bind PDU; throws RangeError on a truncated body. */
export function decodeBind(pdu: Buffer): BindFields {
  let offset = HEADER_LENGTH;
  const [systemId, o1] = readCString(pdu, offset);
  const [password, o2] = readCString(pdu, o1);
  const [systemType, o3] = readCString(pdu, o2);
  offset = o3;
  if (offset + 3 > pdu.length) throw new RangeError('bind body too short');
  const interfaceVersion = pdu[offset]!;
  const addrTon = pdu[offset + 1]!;
  const addrNpi = pdu[offset + 2]!;
  const [addressRange] = readCString(pdu, offset + 3);
  return { commandId: commandId(pdu), systemId, password, systemType, interfaceVersion, addrTon, addrNpi, addressRange };
}

function cstring(s: string): Buffer {
  const b = Buffer.alloc(Buffer.byteLength(s, 'latin1') + 1);
  b.write(s, 0, 'latin1');
  return b;
}

export function encodeBind(fields: BindFields, seq: number): Buffer {
  const body = Buffer.concat([
    cstring(fields.systemId),
    cstring(fields.password),
    cstring(fields.systemType),
    Buffer.from([fields.interfaceVersion, fields.addrTon, fields.addrNpi]),
    cstring(fields.addressRange),
  ]);
  return encodePdu(fields.commandId, 0, seq, body);
}

/** TLV tag of sc_interface_version, returned in bind_resp for 3.4+ binds. */
export const TLV_SC_INTERFACE_VERSION = 0x0210;

/**
 * bind_resp to an ESME. `scInterfaceVersion` adds the sc_interface_version TLV (sent when both sides
 * speak 3.4 or later, as the original does).
 */
export function encodeBindResp(bindId: number, status: number, seq: number, systemId: string, scInterfaceVersion?: number): Buffer {
  const parts = [cstring(systemId)];
  if (scInterfaceVersion !== undefined) {
    const tlv = Buffer.alloc(5);
    tlv.writeUInt16BE(TLV_SC_INTERFACE_VERSION, 0);
    tlv.writeUInt16BE(1, 2);
    tlv[4] = scInterfaceVersion;
    parts.push(tlv);
  }
  return encodePdu((bindId | RESPONSE_BIT) >>> 0, status, seq, Buffer.concat(parts));
}

/** The system_id of a bind_resp (empty when the body is absent, as it may be on an error). */
export function bindRespSystemId(pdu: Buffer): string {
  if (pdu.length <= HEADER_LENGTH) return '';
  const end = pdu.indexOf(0, HEADER_LENGTH);
  return pdu.toString('latin1', HEADER_LENGTH, end < 0 ? pdu.length : end);
}

/** The sc_interface_version TLV of a bind_resp, if present. */
export function bindRespInterfaceVersion(pdu: Buffer): number | undefined {
  let offset = pdu.indexOf(0, HEADER_LENGTH);
  if (offset < 0) return undefined;
  offset += 1;
  while (offset + 4 <= pdu.length) {
    const tag = pdu.readUInt16BE(offset);
    const len = pdu.readUInt16BE(offset + 2);
    if (tag === TLV_SC_INTERFACE_VERSION && len === 1 && offset + 5 <= pdu.length) return pdu[offset + 4];
    offset += 4 + len;
  }
  return undefined;
}
