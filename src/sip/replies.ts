// Stateless replies the balancer itself sends (100 Trying, 200 to heartbeats, 483, 503): built from the
// request's Via, From, To, Call-ID and CSeq lines, copied byte for byte (RFC 3261 8.2.6.2).

import { randomBytes } from 'node:crypto';
import type { SipMessage } from './message.js';
import { headerParam } from './uri.js';
import { fnv1a } from '../algorithms/hash.js';
import { allocOutgoing, writeLatin1 } from './out-buffer.js';

const COPIED = new Set(['via', 'from', 'call-id', 'cseq']);
/** One random prefix per process; the Call-ID makes each tag distinct per dialog. */
const TAG_PREFIX = randomBytes(4).toString('hex');

export const REASONS: Readonly<Record<number, string>> = {
  100: 'Trying',
  200: 'OK',
  403: 'Forbidden',
  483: 'Too Many Hops',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
};

/** A deterministic To tag for a reply to this request (retransmissions get the same tag). */
export function replyTag(req: SipMessage): string {
  return `${TAG_PREFIX}${fnv1a(req.callId).toString(16)}`;
}

/** The bytes of a response to `req`; `extra` header lines are added before Content-Length. */
export function buildReply(req: SipMessage, status: number, reason = REASONS[status] ?? 'Unknown', extra: readonly (readonly [string, string])[] = []): Buffer {
  let s = `SIP/2.0 ${status} ${reason}\r\n`;
  for (const h of req.headers) {
    if (COPIED.has(h.key)) s += h.line() + '\r\n';
    else if (h.key === 'to') {
      // A final response from us ends the transaction here: it needs a To tag (100 Trying must not add one).
      const needsTag = status > 100 && headerParam(h.value, 'tag') === undefined;
      s += (needsTag ? `${h.name}: ${h.value};tag=${replyTag(req)}` : h.line()) + '\r\n';
    }
  }
  for (const [name, value] of extra) s += `${name}: ${value}\r\n`;
  s += 'Content-Length: 0\r\n\r\n';
  const out = allocOutgoing(s.length);
  writeLatin1(out, s, 0);
  return out;
}
