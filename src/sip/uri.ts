// SIP URIs and name-addr values (RFC 3261 19.1, 20.10), read with plain string scans: the parts a proxy
// routes on (host, port, transport, lr, the balancer's node_host/node_port/version) and header parameters.

export interface SipUri {
  /** Lowercase scheme: sip, sips, tel, … */
  readonly scheme: string;
  /** User part without password ('' when absent). */
  readonly user: string;
  /** Host as written (IPv6 references keep their brackets). */
  readonly host: string;
  readonly port: number | undefined;
  /** The URI parameters as written, starting with ';' ('' when none). */
  readonly params: string;
  /** The headers part as written, starting with '?' ('' when none). */
  readonly headers: string;
}

/** Index of `ch` outside double quotes, from `from`, or -1. */
function indexOutsideQuotes(s: string, ch: number, from = 0): number {
  let quoted = false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (quoted) {
      if (c === 92) i++;
      else if (c === 34) quoted = false;
    } else if (c === 34) quoted = true;
    else if (c === ch) return i;
  }
  return -1;
}

/** The URI of a name-addr or addr-spec value (From, To, Contact, Route): `"A" <sip:a@b;lr>;tag=1` → `sip:a@b;lr`. */
export function uriOfNameAddr(value: string): string {
  const lt = indexOutsideQuotes(value, 60);
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    return (gt < 0 ? value.slice(lt + 1) : value.slice(lt + 1, gt)).trim();
  }
  // addr-spec form: parameters after ';' belong to the header, not the URI.
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim();
}

/** The header parameters part of a name-addr value (after the URI), starting with ';' or ''. */
function headerParamsOf(value: string): string {
  const lt = indexOutsideQuotes(value, 60);
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    return gt < 0 ? '' : value.slice(gt + 1);
  }
  const semi = value.indexOf(';');
  return semi < 0 ? '' : value.slice(semi);
}

/** A parameter of a `;a=1;b;c=2` list (name case-insensitive): its value, '' when valueless, undefined when absent. */
export function paramOf(params: string, name: string): string | undefined {
  let i = params.indexOf(';');
  while (i >= 0 && i < params.length) {
    let next = params.indexOf(';', i + 1);
    if (next < 0) next = params.length;
    const part = params.slice(i + 1, next);
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (key.length === name.length && key.toLowerCase() === name) {
      return eq < 0 ? '' : unquote(part.slice(eq + 1).trim());
    }
    i = next;
  }
  return undefined;
}

function unquote(v: string): string {
  return v.length >= 2 && v.charCodeAt(0) === 34 && v.charCodeAt(v.length - 1) === 34 ? v.slice(1, -1) : v;
}

/** A header parameter of a name-addr value (`tag` of From/To), undefined when absent. */
export function headerParam(value: string, name: string): string | undefined {
  return paramOf(headerParamsOf(value), name);
}

/** Parses sip:, sips: and other scheme:user@host:port;params?headers URIs; undefined when malformed. */
export function parseUri(uri: string): SipUri | undefined {
  const colon = uri.indexOf(':');
  if (colon <= 0) return undefined;
  const scheme = uri.slice(0, colon).toLowerCase();
  let rest = uri.slice(colon + 1);
  let headers = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q);
    rest = rest.slice(0, q);
  }
  if (scheme !== 'sip' && scheme !== 'sips') {
    // tel: and unknown schemes: no host; the "user" is what comes before the parameters.
    const semi = rest.indexOf(';');
    return { scheme, user: semi < 0 ? rest : rest.slice(0, semi), host: '', port: undefined, params: semi < 0 ? '' : rest.slice(semi), headers };
  }
  let user = '';
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    const pw = user.indexOf(':');
    if (pw >= 0) user = user.slice(0, pw);
    rest = rest.slice(at + 1);
  }
  let host: string;
  let i: number;
  if (rest.charCodeAt(0) === 91) {
    const close = rest.indexOf(']');
    if (close < 0) return undefined;
    host = rest.slice(0, close + 1);
    i = close + 1;
  } else {
    i = 0;
    while (i < rest.length && rest.charCodeAt(i) !== 58 && rest.charCodeAt(i) !== 59) i++;
    host = rest.slice(0, i);
  }
  if (host.length === 0) return undefined;
  let port: number | undefined;
  if (rest.charCodeAt(i) === 58) {
    const ps = ++i;
    while (i < rest.length && rest.charCodeAt(i) >= 48 && rest.charCodeAt(i) <= 57) i++;
    if (i === ps || i - ps > 5) return undefined;
    port = Number(rest.slice(ps, i));
    if (port > 65535) return undefined;
  }
  if (i < rest.length && rest.charCodeAt(i) !== 59) return undefined;
  return { scheme, user, host, port, params: rest.slice(i), headers };
}

/** The user part of a URI (the number of a tel: URI), '' when absent. */
export function userOfUri(uri: string): string {
  const u = parseUri(uri);
  return u ? u.user : '';
}

/** The host without IPv6 brackets (for sockets and comparisons). */
export function bareHost(host: string): string {
  return host.charCodeAt(0) === 91 ? host.slice(1, -1) : host;
}

/** The host for a URI or Via: IPv6 literals in brackets. */
export function uriHost(host: string): string {
  return host.includes(':') && host.charCodeAt(0) !== 91 ? `[${host}]` : host;
}

/** The transport a URI asks for, lowercase (`transport` parameter; tls for sips:), or undefined. */
export function uriTransport(u: SipUri): string | undefined {
  const t = paramOf(u.params, 'transport');
  if (t) return t.toLowerCase();
  return u.scheme === 'sips' ? 'tls' : undefined;
}

/** The default port of a transport (RFC 3261 19.1.2, RFC 7118). */
export function defaultPort(transport: string): number {
  return transport === 'tls' || transport === 'wss' ? 5061 : transport === 'ws' ? 80 : 5060;
}

/** True for an IPv4 or IPv6 literal (brackets allowed), false for a host name: a cheap test for the hot path. */
export function isIpLiteral(host: string): boolean {
  if (host.includes(':')) return true;
  if (host.length === 0 || host.length > 15) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c !== 46 && (c < 48 || c > 57)) return false;
  }
  return true;
}
