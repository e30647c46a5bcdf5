// Answers the balancer gives itself (503 without a node, redirect to HTTPS) and the address forms they use.

import { isIP } from 'node:net';

/** `host` or `host:port` (IPv6 in brackets) → host and port, with `defaultPort` when none is given. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const value = text.trim();
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    const host = value.slice(1, close < 0 ? value.length : close);
    const rest = close < 0 ? '' : value.slice(close + 1);
    return { host, port: rest.startsWith(':') ? Number(rest.slice(1)) || defaultPort : defaultPort };
  }
  // A bare IPv6 address has several colons and no port.
  if (isIP(value) === 6) return { host: value, port: defaultPort };
  const colon = value.lastIndexOf(':');
  if (colon < 0) return { host: value, port: defaultPort };
  return { host: value.slice(0, colon), port: Number(value.slice(colon + 1)) || defaultPort };
}

/** The https:// URL of the same resource on the HTTPS port, from the request's Host (or our address). */
export function redirectLocation(hostHeader: string | undefined, fallbackHost: string, httpsPort: number, url: string): string {
  let host = hostHeader !== undefined && hostHeader !== '' ? parseHostPort(hostHeader, 80).host : fallbackHost;
  if (host.includes(':')) host = `[${host}]`;
  const path = url.startsWith('/') ? url : `/${url}`;
  return httpsPort === 443 ? `https://${host}${path}` : `https://${host}:${httpsPort}${path}`;
}

export function serviceUnavailableBody(): string {
  return 'No application server is available to take this request. Try again later.\n';
}

/** A reply the balancer gives itself: written by the node:http path, serialised by the raw paths (rawReply). */
export interface OwnReply {
  readonly status: number;
  readonly reason: string;
  readonly body: string;
  /** Fields beside Content-Type and Content-Length. */
  readonly headers: Readonly<Record<string, string>>;
}

/** No node can take the request (both HTTP paths and the WebSocket upgrade). */
export function serviceUnavailable(retryAfterSeconds: number): OwnReply {
  return { status: 503, reason: 'Service Unavailable', body: serviceUnavailableBody(), headers: { 'Retry-After': String(retryAfterSeconds) } };
}

/** The node failed before it answered, and no other node could take the request. */
export const BAD_GATEWAY: OwnReply = { status: 502, reason: 'Bad Gateway', body: 'The application server did not answer.\n', headers: {} };

/**
 * The reply as bytes for a socket the balancer writes itself (fast path, WebSocket upgrade): text/plain with its
 * length; no body for a HEAD request; `close` adds Connection: close.
 */
export function rawReply(reply: OwnReply, opts: { close: boolean; head?: boolean }): string {
  let text = `HTTP/1.1 ${reply.status} ${reply.reason}\r\n`;
  for (const [name, value] of Object.entries(reply.headers)) text += `${name}: ${value}\r\n`;
  text += `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(reply.body)}\r\n`;
  if (opts.close) text += 'Connection: close\r\n';
  return `${text}\r\n${opts.head === true ? '' : reply.body}`;
}
