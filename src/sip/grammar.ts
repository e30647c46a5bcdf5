// The character-level SIP grammar (RFC 3261 25): header names and their compact forms, token and
// whitespace classes, list splitting, CSeq and decimals, line unfolding. Pure functions over text.

/** RFC 3261 7.3.3 and the IANA registry: compact header names → full names (lowercase). */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'accept-contact', b: 'referred-by', c: 'content-type', d: 'request-disposition', e: 'content-encoding',
  f: 'from', i: 'call-id', j: 'reject-contact', k: 'supported', l: 'content-length', m: 'contact', n: 'identity-info',
  o: 'event', r: 'refer-to', s: 'subject', t: 'to', u: 'allow-events', v: 'via', x: 'session-expires', y: 'identity',
};

/** Lowercase full header name for a name as written ("v" → "via", "CALL-ID" → "call-id"). */
export function headerKey(name: string): string {
  const cached = keyCache.get(name);
  if (cached !== undefined) return cached;
  const lower = name.toLowerCase();
  const key = (lower.length === 1 && COMPACT_FORMS[lower]) || lower;
  // Bounded so that a peer sending random header names cannot grow it without limit.
  if (keyCache.size < 2000) keyCache.set(name, key);
  return key;
}
const keyCache = new Map<string, string>();

/** Node's unchecked latin1 accessors (present on every Buffer, not in its typings). */
export type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string; latin1Write(text: string, offset: number, length: number): number };

/** Bytes [start, end) of a buffer as latin1 text (every byte one char, so any byte round-trips). */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as Latin1Buffer).latin1Slice(start, end);
}

export const TOKEN_CHARS = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || "-.!%*_+`'~".includes(ch)) t[c] = 1;
  }
  return t;
})();

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] === 0) return false;
  }
  return true;
}

export function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

/** Index of the first comma outside quotes and angle brackets in a list header value, or -1. */
export function firstListComma(value: string): number {
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 92 /* \ */) i++;
      else if (c === 34) quoted = false;
    } else if (c === 34) quoted = true;
    else if (c === 60) angle = true;
    else if (c === 62) angle = false;
    else if (c === 44 && !angle) return i;
  }
  return -1;
}

/** Splits a list header value (Via, Route, Record-Route, Contact) on top-level commas. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let rest = value;
  for (;;) {
    const comma = firstListComma(rest);
    if (comma < 0) {
      const last = rest.trim();
      if (last !== '') out.push(last);
      return out;
    }
    const item = rest.slice(0, comma).trim();
    if (item !== '') out.push(item);
    rest = rest.slice(comma + 1);
  }
}

/** True when `s` at `start` is `lower` in any ASCII case (letters folded, other characters exact). */
export function sameLower(s: string, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = s.charCodeAt(start + i);
    if ((c >= 65 && c <= 90 ? c | 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Lowercases only when needed (parameter names are nearly always lowercase already). */
export function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.toLowerCase();
  }
  return s;
}

/** Parses "num METHOD"; undefined when malformed (RFC 3261: num < 2**31). */
export function parseCSeq(value: string): { num: number; method: string } | undefined {
  let i = 0;
  const n = value.length;
  while (i < n && isWs(value.charCodeAt(i))) i++;
  const s = i;
  while (i < n && value.charCodeAt(i) >= 48 && value.charCodeAt(i) <= 57) i++;
  if (i === s || i - s > 10) return undefined;
  const num = Number(value.slice(s, i));
  if (num > 2147483647) return undefined;
  const ws = i;
  while (i < n && isWs(value.charCodeAt(i))) i++;
  if (i === ws) return undefined;
  const method = value.slice(i).trim();
  if (!isToken(method)) return undefined;
  return { num, method };
}

/** A non-negative decimal number of at most 9 digits, or -1. */
export function parseDecimal(v: string): number {
  const s = v.trim();
  if (s.length === 0 || s.length > 9) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

export function unfold(value: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const crlf = value.indexOf('\r\n', i);
    if (crlf < 0) return out + value.slice(i);
    out += value.slice(i, crlf).trimEnd() + ' ';
    i = crlf + 2;
    while (i < value.length && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++;
  }
}

/** Case-insensitive (ASCII) substring test against a lowercase needle, without building strings. */
export function containsLower(hay: string, needle: string): boolean {
  const n = needle.length;
  const first = needle.charCodeAt(0);
  for (let i = 0; i + n <= hay.length; i++) {
    if ((hay.charCodeAt(i) | 0x20) !== (first | 0x20)) continue;
    let j = 1;
    while (j < n) {
      const c = hay.charCodeAt(i + j);
      if ((c >= 65 && c <= 90 ? c | 0x20 : c) !== needle.charCodeAt(j)) break;
      j++;
    }
    if (j === n) return true;
  }
  return false;
}
