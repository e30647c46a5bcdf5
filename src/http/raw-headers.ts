// The per-request header work of the proxy, done in one pass over Node's flat rawHeaders arrays
// ([name, value, name, value, …]) so that no headers object is built on either side: hop-by-hop fields
// dropped (RFC 9110 §7.6.1), X-Forwarded-For/-Proto/-Host added, and what node choice needs picked up.

/** True when `name` equals the all-lowercase ASCII `lower`, ignoring case, without allocating. */
export function eqIgnoreCase(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = name.charCodeAt(i);
    if (c !== lower.charCodeAt(i) && (c | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Connection options that are not field names, so a Connection header naming only them needs no second pass. */
function namesOnlyStandardOptions(connection: string): boolean {
  for (const part of connection.split(',')) {
    const t = part.trim().toLowerCase();
    if (t !== '' && t !== 'keep-alive' && t !== 'close' && t !== 'upgrade') return false;
  }
  return true;
}

/** Removes the fields named in Connection values from a flat header list (the rare second pass). */
function dropConnectionListed(out: string[], connection: string): string[] {
  const names = new Set<string>();
  for (const part of connection.split(',')) {
    const t = part.trim().toLowerCase();
    // Host and the body framing are never hop-by-hop, whatever a peer says.
    if (t !== '' && t !== 'host' && t !== 'content-length' && t !== 'transfer-encoding') names.add(t);
  }
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!names.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  }
  return kept;
}

/** True for the hop-by-hop fields of RFC 9110 §7.6.1 plus the legacy Keep-Alive and Proxy-Connection. */
export function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return eqIgnoreCase(name, 'te');
    case 7:
      return eqIgnoreCase(name, 'trailer') || eqIgnoreCase(name, 'upgrade');
    case 10:
      return eqIgnoreCase(name, 'connection') || eqIgnoreCase(name, 'keep-alive');
    case 16:
      return eqIgnoreCase(name, 'proxy-connection');
    default:
      return false;
  }
}

export interface OutgoingRequestHead {
  /** Flat header list for http.request: the client's fields minus hop-by-hop ones, plus X-Forwarded-*. */
  readonly headers: string[];
  /** The Cookie header (several joined with "; "), for session stickiness. */
  readonly cookie: string | undefined;
  /** True when the request announces a body (Transfer-Encoding, or a Content-Length other than 0). */
  readonly hasBody: boolean;
  /** False for an HTTP/1.0 request without Host: the sender must add one for the HTTP/1.1 hop. */
  readonly hasHost: boolean;
}

/**
 * Builds the header list sent to the node from the client's rawHeaders. X-Forwarded-For gets the client
 * appended to earlier hops; X-Forwarded-Proto and -Host are what this balancer saw (it is the edge).
 */
export function outgoingRequestHead(raw: readonly string[], clientAddress: string | undefined, encrypted: boolean): OutgoingRequestHead {
  const out: string[] = [];
  let cookie: string | undefined;
  let host: string | undefined;
  let forwardedFor: string | undefined;
  let connection: string | undefined;
  let hasBody = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    switch (name.length) {
      case 2: // TE
        if (eqIgnoreCase(name, 'te')) continue;
        break;
      case 4:
        if (eqIgnoreCase(name, 'host')) host = value;
        break;
      case 6:
        if (eqIgnoreCase(name, 'cookie')) cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        break;
      case 7: // Trailer, Upgrade
        if (eqIgnoreCase(name, 'trailer') || eqIgnoreCase(name, 'upgrade')) continue;
        break;
      case 10: // Connection, Keep-Alive
        if (eqIgnoreCase(name, 'connection')) {
          connection = connection === undefined ? value : `${connection}, ${value}`;
          continue;
        }
        if (eqIgnoreCase(name, 'keep-alive')) continue;
        break;
      case 14:
        if (eqIgnoreCase(name, 'content-length') && value !== '0') hasBody = true;
        break;
      case 15:
        if (eqIgnoreCase(name, 'x-forwarded-for')) {
          forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
          continue;
        }
        break;
      case 16: // Proxy-Connection, X-Forwarded-Host (replaced)
        if (eqIgnoreCase(name, 'proxy-connection') || eqIgnoreCase(name, 'x-forwarded-host')) continue;
        break;
      case 17: // X-Forwarded-Proto (replaced); Transfer-Encoding is kept: Node frames the body from it
        if (eqIgnoreCase(name, 'x-forwarded-proto')) continue;
        if (eqIgnoreCase(name, 'transfer-encoding')) hasBody = true;
        break;
    }
    out.push(name, value);
  }
  const client = clientAddress === undefined ? 'unknown' : clientAddress.startsWith('::ffff:') ? clientAddress.slice(7) : clientAddress;
  out.push('X-Forwarded-For', forwardedFor === undefined || forwardedFor === '' ? client : `${forwardedFor}, ${client}`);
  out.push('X-Forwarded-Proto', encrypted ? 'https' : 'http');
  if (host !== undefined) out.push('X-Forwarded-Host', host);
  const headers = connection !== undefined && !namesOnlyStandardOptions(connection) ? dropConnectionListed(out, connection) : out;
  return { headers, cookie, hasBody, hasHost: host !== undefined };
}

export interface IncomingResponseHead {
  /** Flat header list for res.writeHead: the node's fields minus hop-by-hop ones and Transfer-Encoding. */
  readonly headers: string[];
  /** Set-Cookie values, for learning jvmRoutes; undefined when there are none. */
  readonly setCookie: string[] | undefined;
}

/** Filters a node response's rawHeaders for the client; Node re-frames the body (chunked or not) itself. */
export function incomingResponseHead(raw: readonly string[]): IncomingResponseHead {
  const out: string[] = [];
  let setCookie: string[] | undefined;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    switch (name.length) {
      case 2:
        if (eqIgnoreCase(name, 'te')) continue;
        break;
      case 7:
        if (eqIgnoreCase(name, 'trailer') || eqIgnoreCase(name, 'upgrade')) continue;
        break;
      case 10:
        if (eqIgnoreCase(name, 'connection')) {
          connection = connection === undefined ? value : `${connection}, ${value}`;
          continue;
        }
        if (eqIgnoreCase(name, 'keep-alive')) continue;
        if (eqIgnoreCase(name, 'set-cookie')) (setCookie ??= []).push(value);
        break;
      case 16:
        if (eqIgnoreCase(name, 'proxy-connection')) continue;
        break;
      case 17:
        if (eqIgnoreCase(name, 'transfer-encoding')) continue;
        break;
    }
    out.push(name, value);
  }
  const headers = connection !== undefined && !namesOnlyStandardOptions(connection) ? dropConnectionListed(out, connection) : out;
  return { headers, setCookie };
}
