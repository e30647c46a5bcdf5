// What in an HTTP request names the node that owns its session: the jvmRoute of a JSESSIONID
// (cookie, `;jsessionid=` path parameter, `jsessionid` query parameter) and a Restcomm instance id in the URL.
// Plain string scans (indexOf), no regular expressions: these run on every request.

const COOKIE_NAME = 'jsessionid';

/** The jvmRoute of a session id `<id>.<jvmRoute>`: the text after the last dot, or undefined. */
export function jvmRouteOfSessionId(sessionId: string): string | undefined {
  const dot = sessionId.lastIndexOf('.');
  if (dot < 0 || dot === sessionId.length - 1) return undefined;
  return sessionId.slice(dot + 1);
}

/** Case-insensitive indexOf of an all-lowercase ASCII needle, without lowercasing the haystack. */
function indexOfIgnoreCase(haystack: string, needle: string, from: number): number {
  const last = haystack.length - needle.length;
  const first = needle.charCodeAt(0);
  for (let i = from; i <= last; i++) {
    if ((haystack.charCodeAt(i) | 0x20) !== first) continue;
    let j = 1;
    while (j < needle.length) {
      const c = haystack.charCodeAt(i + j);
      const n = needle.charCodeAt(j);
      // Letters compare case-insensitively; '=' and ';' must match exactly.
      if (c !== n && !(n >= 0x61 && n <= 0x7a && (c | 0x20) === n)) break;
      j++;
    }
    if (j === needle.length) return i;
  }
  return -1;
}

/** The value of the JSESSIONID cookie in a Cookie header (name matched without case), or undefined. */
export function sessionIdFromCookie(cookie: string | undefined): string | undefined {
  if (cookie === undefined) return undefined;
  let from = 0;
  for (;;) {
    const at = indexOfIgnoreCase(cookie, 'jsessionid=', from);
    if (at < 0) return undefined;
    // A cookie name starts the header or follows "; " (or ";" / "," from sloppy clients).
    let k = at - 1;
    while (k >= 0 && cookie.charCodeAt(k) === 0x20) k--;
    if (k < 0 || cookie[k] === ';' || cookie[k] === ',') {
      const start = at + COOKIE_NAME.length + 1;
      let end = cookie.indexOf(';', start);
      if (end < 0) end = cookie.length;
      let value = cookie.slice(start, end).trim();
      if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"') value = value.slice(1, -1);
      return value === '' ? undefined : value;
    }
    from = at + 1;
  }
}

/** The session id of a `;jsessionid=` path parameter or a `jsessionid` query parameter of a request target. */
export function sessionIdFromUrl(url: string): string | undefined {
  const query = url.indexOf('?');
  const pathEnd = query < 0 ? url.length : query;
  // Path parameter: /app/page;jsessionid=abc.node1?x=1
  const semi = url.indexOf(';', 0);
  if (semi >= 0 && semi < pathEnd) {
    const at = indexOfIgnoreCase(url, ';jsessionid=', semi);
    if (at >= 0 && at < pathEnd) {
      const start = at + COOKIE_NAME.length + 2;
      let end = start;
      while (end < pathEnd && url[end] !== ';' && url[end] !== '/') end++;
      if (end > start) return url.slice(start, end);
    }
  }
  if (query < 0) return undefined;
  // Query parameter: ?jsessionid=abc.node1 or &jsessionid=abc.node1
  let from = query + 1;
  while (from < url.length) {
    let amp = url.indexOf('&', from);
    if (amp < 0) amp = url.length;
    const eq = url.indexOf('=', from);
    if (eq > from && eq < amp && eq - from === COOKIE_NAME.length && indexOfIgnoreCase(url, COOKIE_NAME, from) === from) {
      const value = url.slice(eq + 1, amp);
      if (value !== '') return value;
    }
    from = amp + 1;
  }
  return undefined;
}

/** The jvmRoute a request asks for, from the cookie first, then the path parameter, then the query. */
export function requestedJvmRoute(url: string, cookie: string | undefined): string | undefined {
  const fromCookie = sessionIdFromCookie(cookie);
  if (fromCookie !== undefined) {
    const route = jvmRouteOfSessionId(fromCookie);
    if (route !== undefined) return route;
  }
  // Cheap pre-check: most requests carry no jsessionid in the URL at all.
  if (url.indexOf('=') < 0) return undefined;
  const fromUrl = sessionIdFromUrl(url);
  return fromUrl === undefined ? undefined : jvmRouteOfSessionId(fromUrl);
}

/** The JSESSIONID value of one Set-Cookie line (which sets exactly one cookie, whose name comes first). */
function sessionIdOfSetCookieLine(line: string): string | undefined {
  const eq = line.indexOf('=');
  if (eq < 0 || line.slice(0, eq).trim().toLowerCase() !== COOKIE_NAME) return undefined;
  let end = line.indexOf(';', eq + 1);
  if (end < 0) end = line.length;
  let value = line.slice(eq + 1, end).trim();
  if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"') value = value.slice(1, -1);
  return value === '' ? undefined : value;
}

/** The jvmRoute a node announces in `Set-Cookie: JSESSIONID=<id>.<route>`, or undefined. */
export function jvmRouteFromSetCookie(setCookie: string | readonly string[] | undefined): string | undefined {
  if (setCookie === undefined) return undefined;
  for (const line of typeof setCookie === 'string' ? [setCookie] : setCookie) {
    const value = sessionIdOfSetCookieLine(line);
    const route = value === undefined ? undefined : jvmRouteOfSessionId(value);
    if (route !== undefined) return route;
  }
  return undefined;
}

/** The session id a node sets in `Set-Cookie: JSESSIONID=<id>` (with or without a jvmRoute), or undefined. */
export function sessionIdFromSetCookie(setCookie: string | readonly string[] | undefined): string | undefined {
  if (setCookie === undefined) return undefined;
  for (const line of typeof setCookie === 'string' ? [setCookie] : setCookie) {
    const value = sessionIdOfSetCookieLine(line);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** The session id a request carries: the JSESSIONID cookie first, then the URL's path or query parameter. */
export function requestedSessionId(url: string, cookie: string | undefined): string | undefined {
  const fromCookie = sessionIdFromCookie(cookie);
  if (fromCookie !== undefined) return fromCookie;
  if (url.indexOf('=') < 0) return undefined;
  return sessionIdFromUrl(url);
}

/**
 * The Restcomm instance id in a REST URL `…/Accounts/<sid>/Calls…/<instanceId>-<callSid>…`: the call sid
 * segment after a `Calls` segment holds the id of the Restcomm instance that created the call, before
 * its first dash. Undefined when the URL has no such segment.
 */
export function restcommInstanceId(url: string): string | undefined {
  const accounts = url.indexOf('/Accounts/');
  if (accounts < 0) return undefined;
  const calls = url.indexOf('/Calls', accounts + 10);
  if (calls < 0) return undefined;
  const segmentEnd = url.indexOf('/', calls + 6);
  if (segmentEnd < 0) return undefined;
  let end = segmentEnd + 1;
  while (end < url.length && url[end] !== '/' && url[end] !== '?' && url[end] !== '#') end++;
  const callSid = url.slice(segmentEnd + 1, end);
  const dash = callSid.indexOf('-');
  if (dash <= 0) return undefined;
  return callSid.slice(0, dash);
}
