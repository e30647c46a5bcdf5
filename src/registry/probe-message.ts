// The static-node probe's messages on the wire: the OPTIONS request it sends and the little it reads of an
// answer (status and Call-ID). What the answers mean for a node is probe.ts's.

import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { StaticNodeEntry } from '../config/types.js';

/** The first line's status and the Call-ID of a SIP response head, or undefined. */
export function readResponseHead(text: string): { status: number; callId: string } | undefined {
  const m = /^SIP\/2\.0 (\d{3}) /.exec(text);
  const c = /^(?:call-id|i)[ \t]*:[ \t]*(\S+)[ \t]*$/im.exec(text);
  if (!m || !c) return undefined;
  return { status: Number(m[1]), callId: c[1]! };
}

/** The OPTIONS probe to `entry` (resolved to `ip`), sent from localHost:localPort. */
export function optionsRequest(e: StaticNodeEntry, ip: string, cseq: number, localHost: string, localPort: number, callId: string, branch: string): string {
  const hostPart = isIP(ip) === 6 ? `[${ip}]` : ip;
  const local = isIP(localHost) === 6 ? `[${localHost}]` : localHost;
  return (
    `OPTIONS sip:${hostPart}:${e.port}${e.transport === 'udp' ? '' : `;transport=${e.transport}`} SIP/2.0\r\n` +
    `Via: SIP/2.0/${e.transport.toUpperCase()} ${local}:${localPort};branch=${branch};rport\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:sipbalancer@${local}>;tag=${randomBytes(4).toString('hex')}\r\n` +
    `To: <sip:${hostPart}:${e.port}>\r\n` +
    `Call-ID: ${callId}\r\n` +
    `CSeq: ${cseq} OPTIONS\r\n` +
    `User-Agent: sipbalancer probe\r\n` +
    `Accept: application/sdp\r\n` +
    `Content-Length: 0\r\n\r\n`
  );
}
