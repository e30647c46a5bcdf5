// The few message fields mux mode reads to route delivery receipts: registered_delivery of a submit_sm or
// data_sm, the message_id of its response, and the receipted message id of a deliver_sm or data_sm that is a
// receipt. Read in place, without decoding the rest; a malformed body reads as "absent", never throws.

import { Cmd, HEADER_LENGTH } from '../pdu.js';

/** TLV tags (SMPP 3.4 §5.3.2). */
const TLV_RECEIPTED_MESSAGE_ID = 0x001e;
const TLV_MESSAGE_PAYLOAD = 0x0424;

/** esm_class message-type bits (§5.2.12) that mark a receipt or an acknowledgement, not a mobile-originated message. */
const ESM_CLASS_RECEIPT_BITS = 0x3c;
/** esm_class message type "intermediate delivery notification": a final receipt follows. */
const ESM_CLASS_INTERMEDIATE = 0x20;

/** What a receipt reports on. */
export interface ReceiptRef {
  readonly messageId: string;
  /** An intermediate notification (a final receipt follows). */
  readonly intermediate: boolean;
}

/** The offset just after the C-Octet String at `offset`, or -1 when it is not terminated inside the PDU. */
function skipCString(pdu: Buffer, offset: number): number {
  if (offset < 0 || offset >= pdu.length) return -1;
  const end = pdu.indexOf(0, offset);
  return end < 0 ? -1 : end + 1;
}

/** Offset of esm_class in submit_sm, deliver_sm and data_sm (the same address block leads all three), or -1. */
function esmClassOffset(pdu: Buffer): number {
  let o = skipCString(pdu, HEADER_LENGTH); // service_type
  if (o < 0) return -1;
  o = skipCString(pdu, o + 2); // source_addr_ton, source_addr_npi, source_addr
  if (o < 0) return -1;
  o = skipCString(pdu, o + 2); // dest_addr_ton, dest_addr_npi, destination_addr
  return o < 0 || o >= pdu.length ? -1 : o;
}

/** registered_delivery of a submit_sm or data_sm (0 when absent or malformed): non-zero asks for a receipt. */
export function registeredDelivery(pdu: Buffer, id: number): number {
  const esm = esmClassOffset(pdu);
  if (esm < 0) return 0;
  if (id === Cmd.data_sm) return esm + 1 < pdu.length ? pdu[esm + 1]! : 0;
  // submit_sm: esm_class, protocol_id, priority_flag, schedule_delivery_time, validity_period, registered_delivery.
  let o = skipCString(pdu, esm + 3);
  if (o < 0) return 0;
  o = skipCString(pdu, o);
  return o < 0 || o >= pdu.length ? 0 : pdu[o]!;
}

/** The message_id of a submit_sm_resp or data_sm_resp, or undefined (absent, empty or malformed). */
export function responseMessageId(pdu: Buffer): string | undefined {
  const end = skipCString(pdu, HEADER_LENGTH);
  if (end <= HEADER_LENGTH + 1) return undefined;
  return pdu.toString('latin1', HEADER_LENGTH, end - 1);
}

/** The value of TLV `tag` in pdu[offset…], or undefined. */
function findTlv(pdu: Buffer, offset: number, tag: number): Buffer | undefined {
  let o = offset;
  while (o + 4 <= pdu.length) {
    const t = pdu.readUInt16BE(o);
    const len = pdu.readUInt16BE(o + 2);
    if (o + 4 + len > pdu.length) return undefined;
    if (t === tag) return pdu.subarray(o + 4, o + 4 + len);
    o += 4 + len;
  }
  return undefined;
}

/** The `id:` field of a receipt's text (SMPP 3.4 Appendix B), or undefined. */
function idFromText(text: Buffer): string | undefined {
  const at = text.indexOf('id:');
  if (at < 0) return undefined;
  let end = at + 3;
  while (end < text.length && text[end] !== 0x20 && text[end] !== 0) end++;
  return end > at + 3 ? text.toString('latin1', at + 3, end) : undefined;
}

/**
 * For a deliver_sm or data_sm whose esm_class marks a receipt: the id of the message it reports on, from the
 * receipted_message_id TLV, else from the `id:` field of the text. Undefined for an ordinary message.
 */
export function receiptedMessageId(pdu: Buffer, id: number): ReceiptRef | undefined {
  const esm = esmClassOffset(pdu);
  if (esm < 0 || (pdu[esm]! & ESM_CLASS_RECEIPT_BITS) === 0) return undefined;
  const intermediate = (pdu[esm]! & ESM_CLASS_RECEIPT_BITS) === ESM_CLASS_INTERMEDIATE;
  const messageId = receiptId(pdu, id, esm);
  return messageId === undefined ? undefined : { messageId, intermediate };
}

function receiptId(pdu: Buffer, id: number, esm: number): string | undefined {
  let tlvStart: number;
  let text: Buffer | undefined;
  if (id === Cmd.data_sm) {
    tlvStart = esm + 3; // esm_class, registered_delivery, data_coding
  } else {
    // deliver_sm: esm_class, protocol_id, priority_flag, schedule_delivery_time, validity_period,
    // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id, sm_length, short_message.
    let o = skipCString(pdu, esm + 3);
    if (o < 0) return undefined;
    o = skipCString(pdu, o);
    if (o < 0 || o + 5 > pdu.length) return undefined;
    const smLength = pdu[o + 4]!;
    const smStart = o + 5;
    if (smStart + smLength > pdu.length) return undefined;
    text = pdu.subarray(smStart, smStart + smLength);
    tlvStart = smStart + smLength;
  }
  const tlv = findTlv(pdu, tlvStart, TLV_RECEIPTED_MESSAGE_ID);
  if (tlv !== undefined && tlv.length > 0) {
    const nul = tlv.indexOf(0);
    const value = tlv.toString('latin1', 0, nul < 0 ? tlv.length : nul);
    if (value !== '') return value;
  }
  if (text === undefined || text.length === 0) text = findTlv(pdu, tlvStart, TLV_MESSAGE_PAYLOAD);
  return text === undefined ? undefined : idFromText(text);
}
