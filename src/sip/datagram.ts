// The datagram framer: one UDP datagram (or WebSocket message) is one SIP message (RFC 3261 18.3).

import { SipParseError } from '../errors.js';
import { attach, parseHead } from './head-parser.js';
import type { SipMessage } from './message.js';

const CR = 13;
const LF = 10;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

export type DatagramParse = { kind: 'message'; message: SipMessage } | { kind: 'keepalive' } | { kind: 'malformed'; error: string };

/**
 * One datagram, one message (RFC 3261 18.3): bytes past Content-Length are discarded; a Content-Length
 * larger than what arrived makes the message malformed. Leading CRLFs are keep-alives (RFC 5626).
 */
export function parseDatagram(buf: Buffer): DatagramParse {
  let start = 0;
  while (start < buf.length && (buf[start] === CR || buf[start] === LF)) start++;
  if (start === buf.length) return { kind: 'keepalive' };
  const headEnd = buf.indexOf(CRLFCRLF, start);
  if (headEnd < 0) return { kind: 'malformed', error: 'no end of headers' };
  const head = parseHead(buf, start, headEnd);
  if (!head.ok) return { kind: 'malformed', error: head.error };
  const bodyStart = headEnd + 4;
  let bodyEnd = buf.length;
  if (head.contentLength !== undefined) {
    if (bodyStart + head.contentLength > buf.length) return { kind: 'malformed', error: 'Content-Length larger than the body' };
    bodyEnd = bodyStart + head.contentLength;
  }
  return { kind: 'message', message: attach(head.message, buf, start, bodyStart, bodyEnd) };
}

/** Parses one complete message from a string (tests, replies); throws SipParseError when malformed. */
export function parseMessage(text: string | Buffer): SipMessage {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const r = parseDatagram(buf);
  if (r.kind === 'message') return r.message;
  throw new SipParseError(r.kind === 'keepalive' ? 'keep-alive, not a message' : r.error);
}
