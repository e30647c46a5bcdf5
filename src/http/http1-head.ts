// Minimal HTTP/1.1 head parsing for the fast path: request and status lines and the header fields as a flat
// [name, value, …] list. Anything unusual returns undefined, and the caller hands the connection to Node's
// own HTTP server, whose strict parser answers it (so this parser never has to be lenient).

import { eqIgnoreCase } from './raw-headers.js';

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  readonly rawHeaders: string[];
  /** Content-Length of the body, 0 when absent. */
  readonly contentLength: number;
  /** The client asked to close the connection after this exchange. */
  readonly close: boolean;
}

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  readonly rawHeaders: string[];
  /** -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly close: boolean;
}

function hasToken(value: string, token: string): boolean {
  for (const part of value.split(',')) if (eqIgnoreCase(part.trim(), token)) return true;
  return false;
}

/** True when a field name is a token (RFC 9110 §5.1): no separators, no spaces, no controls. */
function isToken(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x3a || c === 0x22 || c === 0x28 || c === 0x29 || c === 0x2c || c === 0x2f ||
      (c >= 0x3b && c <= 0x40) || (c >= 0x5b && c <= 0x5d) || c === 0x7b || c === 0x7d) return false;
  }
  return true;
}

/** Parses header lines from `from` to the end of `head` (which excludes the final empty line). */
function parseFields(head: string, from: number, out: string[]): boolean {
  let pos = from;
  const end = head.length;
  while (pos < end) {
    let eol = head.indexOf('\r\n', pos);
    if (eol < 0) eol = end;
    const colon = head.indexOf(':', pos);
    if (colon < 0 || colon > eol) return false;
    const name = head.slice(pos, colon);
    if (!isToken(name)) return false; // also rejects obs-fold lines, which start with a space
    const value = head.slice(colon + 1, eol).trim();
    // A lone CR or LF inside a line could be read as a line break by the next hop.
    if (value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0 || value.indexOf('\0') >= 0) return false;
    out.push(name, value);
    pos = eol + 2;
  }
  return true;
}

/**
 * An HTTP/1.1 request head the fast path can relay as is (`head` without the final CRLFCRLF), or undefined:
 * other versions, absolute-form targets, Upgrade, Expect, Transfer-Encoding bodies, odd Content-Length.
 */
export function parseRequestHead(head: string): RequestHead | undefined {
  const lineEnd = head.indexOf('\r\n');
  const line = lineEnd < 0 ? head : head.slice(0, lineEnd);
  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 <= sp1 + 1) return undefined;
  if (line.slice(sp2 + 1) !== 'HTTP/1.1') return undefined;
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  if (target.charCodeAt(0) !== 0x2f || target.indexOf(' ') >= 0 || !isToken(method)) return undefined;
  const rawHeaders: string[] = [];
  if (lineEnd >= 0 && !parseFields(head, lineEnd + 2, rawHeaders)) return undefined;
  let contentLength = 0;
  let seenLength = false;
  let close = false;
  let host = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    switch (name.length) {
      case 4:
        if (eqIgnoreCase(name, 'host')) {
          if (host) return undefined;
          host = true;
        }
        break;
      case 6:
        if (eqIgnoreCase(name, 'expect')) return undefined;
        break;
      case 7:
        if (eqIgnoreCase(name, 'upgrade')) return undefined;
        break;
      case 10:
        if (eqIgnoreCase(name, 'connection') && hasToken(value, 'close')) close = true;
        break;
      case 14:
        if (eqIgnoreCase(name, 'content-length')) {
          if (seenLength || value.length === 0 || value.length > 15) return undefined;
          for (let k = 0; k < value.length; k++) {
            const c = value.charCodeAt(k);
            if (c < 0x30 || c > 0x39) return undefined;
          }
          contentLength = Number(value);
          seenLength = true;
        }
        break;
      case 17:
        if (eqIgnoreCase(name, 'transfer-encoding')) return undefined;
        break;
    }
  }
  if (!host) return undefined;
  return { method, target, rawHeaders, contentLength, close };
}

/** A node's response head (`head` without the final CRLFCRLF), or undefined when it is not HTTP/1.x. */
export function parseResponseHead(head: string): ResponseHead | undefined {
  const lineEnd = head.indexOf('\r\n');
  const line = lineEnd < 0 ? head : head.slice(0, lineEnd);
  if (!line.startsWith('HTTP/1.') || line.length < 12 || line.charCodeAt(8) !== 0x20) return undefined;
  const http10 = line.charCodeAt(7) === 0x30;
  const status = Number(line.slice(9, 12));
  if (!Number.isInteger(status) || status < 100 || status > 999) return undefined;
  const reason = line.length > 13 ? line.slice(13) : '';
  const rawHeaders: string[] = [];
  if (lineEnd >= 0 && !parseFields(head, lineEnd + 2, rawHeaders)) return undefined;
  let contentLength = -1;
  let chunked = false;
  let close = http10;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (name.length === 14 && eqIgnoreCase(name, 'content-length')) {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0 || (contentLength >= 0 && contentLength !== n)) return undefined;
      contentLength = n;
    } else if (name.length === 17 && eqIgnoreCase(name, 'transfer-encoding')) {
      // Chunked must be the final coding; anything else is read until the node closes.
      const parts = value.split(',');
      chunked = eqIgnoreCase(parts[parts.length - 1]!.trim(), 'chunked');
      if (!chunked) close = true;
    } else if (name.length === 10 && eqIgnoreCase(name, 'connection')) {
      if (hasToken(value, 'close')) close = true;
      else if (http10 && hasToken(value, 'keep-alive')) close = false;
    }
  }
  // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3); the pair is a smuggling sign: do not reuse.
  if (chunked && contentLength >= 0) {
    contentLength = -1;
    close = true;
  }
  return { status, reason, rawHeaders, contentLength, chunked, close };
}
