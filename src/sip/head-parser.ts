// Parses a start line and header block straight from the bytes (no string per header until it is read),
// checking what a proxy must reject (RFC 3261 8.1.1, 18.3): repeated core headers, bad Content-Length,
// bad CSeq. Shared by the datagram parser and the stream framer.

import { COMPACT_FORMS, TOKEN_CHARS, headerKey, isToken, latin1, parseCSeq, parseDecimal, sameLower } from './grammar.js';
import { HeaderField } from './header-field.js';
import { EMPTY, SipMessage } from './message.js';

const CR = 13;
const LF = 10;

/** Result of parsing a header block: the message, or why it is malformed (with its body length when known). */
export type HeadParse = { ok: true; message: SipMessage; contentLength: number | undefined } | { ok: false; error: string; contentLength?: number };

/** Header names a proxy meets every second, by a hash of their lowercase bytes, so that no string is made for them. */
const KNOWN_KEYS = new Map<number, string>();
for (const key of [
  'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'route', 'record-route', 'content-length',
  'content-type', 'content-encoding', 'subject', 'user-agent', 'server', 'allow', 'supported', 'require', 'expires',
  'accept', 'accept-encoding', 'accept-language', 'authorization', 'proxy-authorization', 'www-authenticate',
  'proxy-authenticate', 'event', 'allow-events', 'refer-to', 'referred-by', 'session-expires', 'min-se', 'date',
  'p-asserted-identity', 'privacy', 'reason', 'retry-after', 'timestamp', 'organization', 'x-sip-balancer-initialremoteaddr',
  'x-sip-balancer-initialremoteport', 'mobicents-heartbeat', 'restcomm-heartbeat', 'path', 'rseq', 'rack', 'warning',
]) {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  if (!KNOWN_KEYS.has(h)) KNOWN_KEYS.set(h, key);
}

/** The key of the header name at buf[start, end), whose lowercase hash is `hash`. */
function keyAt(buf: Buffer, start: number, end: number, hash: number): string {
  const len = end - start;
  if (len === 1) {
    const compact = COMPACT_FORMS[String.fromCharCode(buf[start]! | 0x20)];
    if (compact) return compact;
  } else {
    const known = KNOWN_KEYS.get(hash);
    if (known !== undefined && known.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if ((buf[start + i]! | 0x20) !== (known.charCodeAt(i) | 0x20)) {
          same = false;
          break;
        }
      }
      if (same) return known;
    }
  }
  return headerKey(latin1(buf, start, end));
}

/** A non-negative decimal of at most 9 digits in buf[start, end), blanks around it allowed; -1 otherwise. */
function decimalAt(buf: Buffer, start: number, end: number): number {
  while (start < end && (buf[start] === 32 || buf[start] === 9)) start++;
  while (end > start && (buf[end - 1] === 32 || buf[end - 1] === 9)) end--;
  if (end === start || end - start > 9) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

/**
 * Parses the start line and header fields of `buf[start, headEnd)` (headEnd = index of the blank line's
 * CRLFCRLF) straight from the bytes. The body is attached by the caller once its length is known.
 */
export function parseHead(buf: Buffer, start: number, headEnd: number): HeadParse {
  // Native byte searches (memchr) beat a JavaScript loop over the bytes by an order of magnitude.
  let lineEnd = buf.indexOf(CR, start);
  while (lineEnd >= 0 && lineEnd < headEnd && buf[lineEnd + 1] !== LF) lineEnd = buf.indexOf(CR, lineEnd + 1);
  if (lineEnd < 0 || lineEnd > headEnd) lineEnd = headEnd;
  const first = latin1(buf, start, lineEnd);
  let isRequest: boolean;
  let method = '';
  let requestUri = '';
  let status = 0;
  let reason = '';
  if (first.length > 8 && (first.charCodeAt(7) === 48 || first.charCodeAt(7) === 32) && sameLower(first, 0, 'sip/')) {
    // Response: SIP/2.0 SP 3DIGIT SP reason (read in place: no string but the reason)
    isRequest = false;
    if (!sameLower(first, 4, '2.0 ')) return { ok: false, error: 'unsupported SIP version' };
    if (first.length < 11 || (first.length > 11 && first.charCodeAt(11) !== 32)) return { ok: false, error: 'bad status code' };
    status = 0;
    for (let i = 8; i < 11; i++) {
      const c = first.charCodeAt(i);
      if (c < 48 || c > 57) return { ok: false, error: 'bad status code' };
      status = status * 10 + (c - 48);
    }
    if (status < 100 || status > 699) return { ok: false, error: 'bad status code' };
    reason = first.length > 12 ? first.slice(12) : '';
  } else {
    isRequest = true;
    const sp1 = first.indexOf(' ');
    const sp2 = first.lastIndexOf(' ');
    if (sp1 <= 0 || sp2 === sp1) return { ok: false, error: 'bad request line' };
    method = first.slice(0, sp1);
    requestUri = first.slice(sp1 + 1, sp2);
    const version = first.slice(sp2 + 1);
    if (!isToken(method)) return { ok: false, error: 'bad method' };
    if (version !== 'SIP/2.0' && version.toUpperCase() !== 'SIP/2.0') return { ok: false, error: 'unsupported SIP version' };
    if (requestUri.length === 0 || requestUri.includes(' ') || requestUri.includes('\t') || requestUri.charCodeAt(0) === 60 || !requestUri.includes(':')) {
      return { ok: false, error: 'bad Request-URI' };
    }
  }

  const headers: HeaderField[] = [];
  let pos = lineEnd + 2;
  let contentLength: number | undefined;
  let callIds = 0;
  let cseqs = 0;
  let froms = 0;
  let tos = 0;
  let vias = 0;
  let cseqField: HeaderField | undefined;
  while (pos < headEnd) {
    // Name: token characters, hashed lowercase on the way.
    const nameStart = pos;
    let hash = 0;
    while (pos < headEnd) {
      const c = buf[pos]!;
      if (c >= 128 || TOKEN_CHARS[c] === 0) break;
      hash = (Math.imul(hash, 31) + (c >= 65 && c <= 90 ? c | 0x20 : c)) | 0;
      pos++;
    }
    const nameEnd = pos;
    if (nameEnd === nameStart) return { ok: false, error: 'header line without a name' };
    while (pos < headEnd && (buf[pos] === 32 || buf[pos] === 9)) pos++;
    if (buf[pos] !== 58 /* : */) return { ok: false, error: 'bad header name' };
    const valueStart = pos + 1;
    // Value: up to a CRLF not followed by whitespace (folded lines belong to the field, RFC 3261 7.3.1).
    let end = valueStart;
    let folded = false;
    for (;;) {
      end = buf.indexOf(CR, end);
      if (end < 0 || end >= headEnd) {
        end = headEnd;
        break;
      }
      if (buf[end + 1] !== LF) {
        end++;
        continue;
      }
      const next = buf[end + 2];
      if (end + 2 < headEnd && (next === 32 || next === 9)) {
        folded = true;
        end += 2;
        continue;
      }
      break;
    }
    const key = keyAt(buf, nameStart, nameEnd, hash);
    const field = HeaderField.read(key, buf, nameStart, nameEnd, valueStart, end, folded);
    headers.push(field);
    pos = end + 2;
    switch (key) {
      case 'content-length': {
        const n = folded ? parseDecimal(field.value) : decimalAt(buf, valueStart, end);
        if (n < 0) return { ok: false, error: 'bad Content-Length' };
        if (contentLength !== undefined && contentLength !== n) return { ok: false, error: 'conflicting Content-Length' };
        contentLength = n;
        break;
      }
      case 'call-id':
        callIds++;
        break;
      case 'cseq':
        cseqs++;
        cseqField = field;
        break;
      case 'from':
        froms++;
        break;
      case 'to':
        tos++;
        break;
      case 'via':
        vias++;
        break;
    }
  }
  const fail = (error: string): HeadParse => ({ ok: false, error, contentLength });
  if (callIds !== 1 || cseqs !== 1 || froms !== 1 || tos !== 1) return fail('missing or repeated Call-ID, CSeq, From or To');
  if (vias === 0) return fail('no Via');
  const cseq = parseCSeq(cseqField!.value);
  if (!cseq) return fail('bad CSeq');
  if (isRequest && cseq.method !== method) return fail('CSeq method does not match the request method');
  const message = new SipMessage({
    isRequest,
    method,
    requestUri,
    status,
    reason,
    startLine: first,
    headers,
    body: EMPTY,
    source: undefined,
    hasContentLength: contentLength !== undefined,
    src: buf,
    lineStart: start,
    lineEnd,
  });
  message.primeCSeq(cseq);
  return { ok: true, message, contentLength };
}

/** Sets a parsed head's body and source bytes (used by the datagram parser and the stream framer). */
export function attach(message: SipMessage, buf: Buffer, start: number, bodyStart: number, bodyEnd: number): SipMessage {
  // The constructor fields are private; set them once here, where framing knows them.
  const m = message as unknown as { body: Buffer; source: Buffer | undefined };
  m.body = buf.subarray(bodyStart, bodyEnd);
  m.source = buf.subarray(start, bodyEnd);
  return message;
}
