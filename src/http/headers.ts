// Header rules of a forwarding proxy (RFC 9110 §7.6): hop-by-hop fields stay on their hop, and the
// X-Forwarded-For/-Proto/-Host fields tell the node who the client was.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Fields that describe one connection, never forwarded (RFC 9110 §7.6.1, plus the legacy Proxy-Connection
 * and Keep-Alive). Transfer-Encoding is hop-by-hop too, but it is left in place: Node frames the body on
 * the next hop from it (a chunked request stays chunked) and http-proxy-3 drops it from responses.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
]);

type Headers = IncomingHttpHeaders | OutgoingHttpHeaders;

/** The field names listed in Connection (lower case), which are hop-by-hop for this message. */
export function connectionOptions(connection: string | string[] | number | undefined): string[] {
  if (connection === undefined || typeof connection === 'number') return [];
  const text = Array.isArray(connection) ? connection.join(',') : connection;
  const out: string[] = [];
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') out.push(name);
  }
  return out;
}

/**
 * Removes the hop-by-hop fields of `headers` in place (the field names are Node's lower-case keys).
 * `keepUpgrade` keeps Connection and Upgrade for a WebSocket handshake, which must reach the node.
 * Returns true when anything was removed.
 */
export function stripHopByHop(headers: Headers, keepUpgrade = false): boolean {
  let removed = false;
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const name of connectionOptions(connection)) {
      if (keepUpgrade && name === 'upgrade') continue;
      if (name in headers && name !== 'connection' && name !== 'transfer-encoding' && name !== 'host') {
        delete headers[name];
        removed = true;
      }
    }
  }
  for (const name of HOP_BY_HOP) {
    if (keepUpgrade && (name === 'connection' || name === 'upgrade')) continue;
    if (headers[name] !== undefined) {
      delete headers[name];
      removed = true;
    }
  }
  if (keepUpgrade && headers.connection !== undefined) headers.connection = 'Upgrade';
  return removed;
}

/**
 * True when a request needs hop-by-hop filtering at all: a cheap test on the few fields that can carry
 * connection-level meaning, so that plain requests skip the work.
 */
export function hasHopByHop(headers: IncomingHttpHeaders): boolean {
  return (
    headers.connection !== undefined ||
    headers['keep-alive'] !== undefined ||
    headers['proxy-connection'] !== undefined ||
    headers.te !== undefined ||
    headers.trailer !== undefined ||
    headers.upgrade !== undefined
  );
}

/**
 * Adds X-Forwarded-For (appending the client to any earlier hops), X-Forwarded-Proto and X-Forwarded-Host
 * (what this balancer saw: it is the edge). Mutates `headers`.
 */
export function addForwardedHeaders(headers: IncomingHttpHeaders, clientAddress: string | undefined, encrypted: boolean): void {
  const client = clientAddress === undefined ? 'unknown' : clientAddress.startsWith('::ffff:') ? clientAddress.slice(7) : clientAddress;
  const previous = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = previous === undefined || previous === '' ? client : `${previous}, ${client}`;
  headers['x-forwarded-proto'] = encrypted ? 'https' : 'http';
  if (headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** True for methods a proxy may send again after a failed connection (RFC 9110 §9.2.2). */
export function isIdempotent(method: string | undefined): boolean {
  return method !== undefined && IDEMPOTENT.has(method);
}

/** True when a request carries no body (so it can be sent again without having kept it). */
export function hasNoBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}
