// A byte-exact SIP message framer and editor for a stateless proxy: headers are kept as latin1 text (so
// any byte round-trips), read lazily, edited in place, and untouched header lines are written back as-is.

import { headerParam, uriOfNameAddr, userOfUri } from './uri.js';
import { SipParseError } from '../errors.js';
import { allocOutgoing } from './out-buffer.js';

const CR = 13;
const LF = 10;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

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
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string; latin1Write(text: string, offset: number, length: number): number };

/** Bytes [start, end) of a buffer as latin1 text (every byte one char, so any byte round-trips). */
function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as Latin1Buffer).latin1Slice(start, end);
}

/**
 * One header field line. While untouched it is only offsets into the bytes it was read from: its name
 * and value are decoded on first read, and it is written back by copying those bytes.
 */
export class HeaderField {
  /** Lowercase full name (compact forms expanded): the lookup key. */
  readonly key: string;
  /** The bytes the line was read from, until the value is edited. */
  private src: Buffer | undefined;
  /** Offsets of the line in `src`: name, value (after the colon) and end of the last folded line. */
  private readonly nameStart: number;
  private readonly nameEnd: number;
  private readonly valueStart: number;
  private readonly lineEnd: number;
  private readonly folded: boolean;
  private nameText: string | undefined;
  private valueText: string | undefined;

  private constructor(key: string, src: Buffer | undefined, nameStart: number, nameEnd: number, valueStart: number, lineEnd: number, folded: boolean) {
    this.key = key;
    this.src = src;
    this.nameStart = nameStart;
    this.nameEnd = nameEnd;
    this.valueStart = valueStart;
    this.lineEnd = lineEnd;
    this.folded = folded;
  }

  /** A field read from bytes. */
  static read(key: string, src: Buffer, nameStart: number, nameEnd: number, valueStart: number, lineEnd: number, folded: boolean): HeaderField {
    return new HeaderField(key, src, nameStart, nameEnd, valueStart, lineEnd, folded);
  }

  /** A new field (written as `Name: value`). */
  static of(name: string, value: string, key = headerKey(name)): HeaderField {
    const f = new HeaderField(key, undefined, 0, 0, 0, 0, false);
    f.nameText = name;
    f.valueText = value;
    return f;
  }

  /** The name as written. */
  get name(): string {
    return (this.nameText ??= latin1(this.src!, this.nameStart, this.nameEnd));
  }

  /** The value, folded lines joined by one space, outer whitespace trimmed. */
  get value(): string {
    if (this.valueText === undefined) {
      const raw = latin1(this.src!, this.valueStart, this.lineEnd);
      this.valueText = (this.folded ? unfold(raw) : raw).trim();
    }
    return this.valueText;
  }

  set value(v: string) {
    this.nameText ??= this.name;
    this.valueText = v;
    this.src = undefined;
  }

  /** True while the line is written back byte for byte. */
  get untouched(): boolean {
    return this.src !== undefined;
  }

  /** The line as it will be written, without its CRLF. */
  line(): string {
    return this.src ? latin1(this.src, this.nameStart, this.lineEnd) : `${this.nameText}: ${this.valueText}`;
  }

  /** Where the untouched line lies in `buffer`, or -1 when it is not there. */
  rangeIn(buffer: Buffer): number {
    return this.src === buffer ? this.nameStart : -1;
  }

  get rangeEnd(): number {
    return this.lineEnd;
  }
}

/** A parsed Via value (RFC 3261 20.42), tolerant of the linear whitespace the grammar allows. */
export interface ViaValue {
  /** The sent-protocol transport, uppercase: UDP, TCP, TLS, WS, WSS, SCTP, … */
  readonly transport: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly branch: string | undefined;
  readonly received: string | undefined;
  /** undefined: no rport; '': rport without a value; else the value. */
  readonly rport: string | undefined;
  /**
   * The parameters as written (`;branch=…;rport`, or ''): split into a list only when a Via is rewritten
   * (viaParams), so that reading a Via builds one string per parameter it needs and no list.
   */
  readonly paramsText: string;
  /** Every parameter in order, names lowercased, value undefined when absent (split on first use). */
  readonly params: readonly (readonly [string, string | undefined])[];
}

/** A Via as parsed: its parameter list is split from paramsText only when someone reads it. */
class ParsedVia implements ViaValue {
  private list: [string, string | undefined][] | undefined = undefined;
  constructor(
    readonly transport: string,
    readonly host: string,
    readonly port: number | undefined,
    readonly branch: string | undefined,
    readonly received: string | undefined,
    readonly rport: string | undefined,
    readonly paramsText: string,
  ) {}

  get params(): readonly (readonly [string, string | undefined])[] {
    return (this.list ??= viaParams(this));
  }
}

/** Every parameter of a Via in order, names lowercased, value undefined when absent. */
export function viaParams(v: Pick<ViaValue, 'paramsText'>): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  const text = v.paramsText;
  let i = 0;
  while (i < text.length) {
    let semi = text.indexOf(';', i + 1);
    if (semi < 0) semi = text.length;
    const eq = text.indexOf('=', i + 1);
    const hasValue = eq >= 0 && eq < semi;
    const name = lowerAscii(text.slice(i + 1, hasValue ? eq : semi).trim());
    out.push([name, hasValue ? text.slice(eq + 1, semi).trim() : undefined]);
    i = semi;
  }
  return out;
}

const TOKEN_CHARS = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || "-.!%*_+`'~".includes(ch)) t[c] = 1;
  }
  return t;
})();

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] === 0) return false;
  }
  return true;
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === CR || c === LF;
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

function skipWs(value: string, i: number, end: number): number {
  while (i < end && isWs(value.charCodeAt(i))) i++;
  return i;
}

/** End of a run of characters that are not whitespace and not `stop`, at most `end`. */
function runEnd(value: string, i: number, stop: number, end: number): number {
  while (i < end) {
    const c = value.charCodeAt(i);
    if (c === stop || isWs(c)) break;
    i++;
  }
  return i;
}

/** Parses one Via value (`value[start, end)`, all of it by default); undefined when it is not a Via. */
export function parseVia(value: string, start = 0, end = value.length): ViaValue | undefined {
  const n = end;
  let i = skipWs(value, start, n);
  let e = runEnd(value, i, 47, n); // protocol name
  if (e === i) return undefined;
  i = skipWs(value, e, n);
  if (i >= n || value.charCodeAt(i) !== 47) return undefined;
  i = skipWs(value, i + 1, n);
  e = runEnd(value, i, 47, n); // version
  if (e === i) return undefined;
  i = skipWs(value, e, n);
  if (i >= n || value.charCodeAt(i) !== 47) return undefined;
  i = skipWs(value, i + 1, n);
  e = runEnd(value, i, 59, n);
  if (e === i) return undefined;
  let transport = value.slice(i, e);
  if (transport !== 'UDP' && transport !== 'TCP') transport = transport.toUpperCase();
  i = skipWs(value, e, n);
  let host: string;
  if (i < n && value.charCodeAt(i) === 91 /* [ */) {
    const close = value.indexOf(']', i);
    if (close < 0 || close >= n) return undefined;
    host = value.slice(i, close + 1);
    i = close + 1;
  } else {
    const hs = i;
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c === 58 || c === 59 || isWs(c)) break;
      i++;
    }
    host = value.slice(hs, i);
  }
  if (host.length === 0) return undefined;
  i = skipWs(value, i, n);
  let port: number | undefined;
  if (i < n && value.charCodeAt(i) === 58) {
    i = skipWs(value, i + 1, n);
    let p = 0;
    const ps = i;
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c < 48 || c > 57) break;
      p = p * 10 + (c - 48);
      i++;
    }
    if (i === ps || i - ps > 5 || p > 65535) return undefined;
    port = p;
  }
  i = skipWs(value, i, n);
  const paramsStart = i;
  let branch: string | undefined;
  let received: string | undefined;
  let rport: string | undefined;
  // Parameters are checked here but only the three the proxy reads become strings.
  while (i < n) {
    if (value.charCodeAt(i) !== 59) return undefined;
    i++;
    let semi = value.indexOf(';', i);
    if (semi < 0 || semi > n) semi = n;
    let eq = value.indexOf('=', i);
    if (eq >= semi) eq = -1;
    let ns = i;
    let ne = eq >= 0 ? eq : semi;
    while (ns < ne && isWs(value.charCodeAt(ns))) ns++;
    while (ne > ns && isWs(value.charCodeAt(ne - 1))) ne--;
    if (ne === ns) return undefined;
    const which = paramName(value, ns, ne);
    if (which !== 0) {
      let val: string | undefined;
      if (eq >= 0) {
        val = value.slice(eq + 1, semi);
        if (isWs(val.charCodeAt(0)) || isWs(val.charCodeAt(val.length - 1))) val = val.trim();
      }
      if (which === 1) branch = val;
      else if (which === 2) received = val;
      else rport = val ?? '';
    }
    i = semi;
  }
  let pe = n;
  while (pe > paramsStart && isWs(value.charCodeAt(pe - 1))) pe--;
  const paramsText = pe > paramsStart ? value.slice(paramsStart, pe) : '';
  return new ParsedVia(transport, host, port, branch, received, rport, paramsText);
}

/** 1 for branch, 2 for received, 3 for rport (any case), 0 for another name, read in place. */
function paramName(s: string, start: number, end: number): number {
  const len = end - start;
  if (len === 6) {
    if (sameLower(s, start, 'branch')) return 1;
  } else if (len === 8) {
    if (sameLower(s, start, 'received')) return 2;
  } else if (len === 5) {
    if (sameLower(s, start, 'rport')) return 3;
  }
  return 0;
}

/** True when `s` at `start` is `lower` in any ASCII case (letters folded, other characters exact). */
function sameLower(s: string, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = s.charCodeAt(start + i);
    if ((c >= 65 && c <= 90 ? c | 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Lowercases only when needed (parameter names are nearly always lowercase already). */
function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.toLowerCase();
  }
  return s;
}

/** Writes a Via value from its parts, for values the balancer rewrites (received/rport). */
export function formatVia(v: ViaValue): string {
  return `SIP/2.0/${v.transport} ${v.host}${v.port !== undefined ? `:${v.port}` : ''}${v.paramsText}`;
}

/** Parameters written back as `;k=v` text. */
function paramsTextOf(params: readonly (readonly [string, string | undefined])[]): string {
  let s = '';
  for (const [k, val] of params) s += val === undefined ? `;${k}` : `;${k}=${val}`;
  return s;
}

/** The same Via with received and rport set (rport only replaced when present or forced). */
export function withReceived(v: ViaValue, received: string | undefined, rport: number | undefined): ViaValue {
  const params: [string, string | undefined][] = [];
  let sawRport = false;
  let sawReceived = false;
  for (const [k, val] of v.params) {
    if (k === 'received') {
      sawReceived = true;
      if (received !== undefined) params.push([k, received]);
    } else if (k === 'rport') {
      sawRport = true;
      params.push([k, rport !== undefined ? String(rport) : val]);
    } else params.push([k, val]);
  }
  if (!sawReceived && received !== undefined) params.push(['received', received]);
  if (!sawRport && rport !== undefined) params.push(['rport', String(rport)]);
  return new ParsedVia(v.transport, v.host, v.port, v.branch, received ?? v.received, rport !== undefined ? String(rport) : v.rport, paramsTextOf(params));
}

/** A Via without received and rport (isUseWithNexmo). */
export function withoutReceived(via: ViaValue): ViaValue {
  const params = via.params.filter(([k]) => k !== 'received' && k !== 'rport');
  return new ParsedVia(via.transport, via.host, via.port, via.branch, undefined, undefined, paramsTextOf(params));
}

export class SipMessage {
  /** True for requests, false for responses. */
  readonly isRequest: boolean;
  /** Request method ('' for responses). */
  readonly method: string;
  /** Status code (0 for requests). */
  readonly status: number;
  readonly reason: string;
  readonly headers: HeaderField[];
  readonly body: Buffer;
  private requestUriText: string;
  private startLine: string | undefined;
  /** The bytes this message was read from (header block and body), while nothing was edited. */
  private source: Buffer | undefined;
  /** The buffer untouched header lines (and the start line) lie in, and the start line's range there. */
  private readonly src: Buffer;
  private lineStart: number;
  private readonly lineEnd: number;
  private hasContentLength: boolean;

  // Lazily read values, as plain fields so that every message has the same shape (monomorphic access).
  private cVia: ViaValue | null | undefined = undefined;
  private cCallId: string | undefined = undefined;
  private cCSeq: { num: number; method: string } | undefined = undefined;
  private cFrom: string | undefined = undefined;
  private cTo: string | undefined = undefined;

  constructor(init: {
    isRequest: boolean;
    method: string;
    requestUri: string;
    status: number;
    reason: string;
    startLine: string | undefined;
    headers: HeaderField[];
    body: Buffer;
    source: Buffer | undefined;
    hasContentLength: boolean;
    src?: Buffer;
    lineStart?: number;
    lineEnd?: number;
  }) {
    this.isRequest = init.isRequest;
    this.method = init.method;
    this.requestUriText = init.requestUri;
    this.status = init.status;
    this.reason = init.reason;
    this.startLine = init.startLine;
    this.headers = init.headers;
    this.body = init.body;
    this.source = init.source;
    this.hasContentLength = init.hasContentLength;
    this.src = init.src ?? EMPTY;
    this.lineStart = init.lineStart ?? -1;
    this.lineEnd = init.lineEnd ?? -1;
  }

  /** The Request-URI as written ('' for responses). */
  get requestUri(): string {
    return this.requestUriText;
  }

  setRequestUri(uri: string): void {
    this.requestUriText = uri;
    this.startLine = undefined;
    this.lineStart = -1;
    this.source = undefined;
  }

  // ---- lazy reads ------------------------------------------------------------------------------

  /** First value of a header (any case, compact forms accepted): the whole field value, not split. */
  header(name: string): string | undefined {
    const key = headerKey(name);
    for (const h of this.headers) if (h.key === key) return h.value;
    return undefined;
  }

  hasHeader(name: string): boolean {
    return this.header(name) !== undefined;
  }

  /** Every value of a list header, split on top-level commas, in order. */
  headerValues(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const h of this.headers) if (h.key === key) out.push(...splitList(h.value));
    return out;
  }

  get callId(): string {
    return (this.cCallId ??= this.header('call-id') ?? '');
  }

  get cseq(): { num: number; method: string } {
    return (this.cCSeq ??= parseCSeq(this.header('cseq') ?? '') ?? { num: 0, method: '' });
  }

  /** Framing parsed CSeq already; keep it. */
  primeCSeq(cseq: { num: number; method: string }): void {
    this.cCSeq = cseq;
  }

  get from(): string {
    return (this.cFrom ??= this.header('from') ?? '');
  }

  get to(): string {
    return (this.cTo ??= this.header('to') ?? '');
  }

  get fromTag(): string | undefined {
    return headerParam(this.from, 'tag');
  }

  get toTag(): string | undefined {
    return headerParam(this.to, 'tag');
  }

  get fromUri(): string {
    return uriOfNameAddr(this.from);
  }

  get toUri(): string {
    return uriOfNameAddr(this.to);
  }

  get fromUser(): string {
    return userOfUri(this.fromUri);
  }

  get toUser(): string {
    return userOfUri(this.toUri);
  }

  /** Max-Forwards as a number, undefined when absent or not a number. */
  get maxForwards(): number | undefined {
    const v = this.header('max-forwards');
    if (v === undefined) return undefined;
    const n = parseDecimal(v);
    return n < 0 ? undefined : n;
  }

  get contentLength(): number {
    return this.body.length;
  }

  /** The top Via value, parsed (cached until a Via edit). */
  get topVia(): ViaValue | undefined {
    if (this.cVia === undefined) this.cVia = this.readTopVia();
    return this.cVia ?? undefined;
  }

  /** Parses the first Via item in place (no slice of the list): the first field with a non-empty first item. */
  private readTopVia(): ViaValue | null {
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      if (h.key !== 'via') continue;
      const value = h.value;
      const comma = firstListComma(value);
      const end = comma < 0 ? value.length : comma;
      let s = 0;
      while (s < end && isWs(value.charCodeAt(s))) s++;
      if (s === end) continue;
      return parseVia(value, s, end) ?? null;
    }
    return null;
  }

  /** Number of Via values. */
  viaCount(): number {
    return this.headerValues('via').length;
  }

  /** The first value of a list header (first comma item of its first field). */
  firstListValue(name: string): string | undefined {
    const key = headerKey(name);
    for (const h of this.headers) {
      if (h.key !== key) continue;
      const comma = firstListComma(h.value);
      const item = comma < 0 ? h.value : h.value.slice(0, comma).trim();
      if (item !== '') return item;
    }
    return undefined;
  }

  // ---- edits -------------------------------------------------------------------------------------

  private edited(): void {
    this.source = undefined;
  }

  /** Removes the first value of a list header (splitting a comma list when needed); returns it. */
  removeFirstListValue(name: string): string | undefined {
    const key = headerKey(name);
    for (let idx = 0; idx < this.headers.length; idx++) {
      const h = this.headers[idx]!;
      if (h.key !== key) continue;
      const comma = firstListComma(h.value);
      if (comma < 0) {
        this.headers.splice(idx, 1);
        this.edited();
        if (key === 'via') this.cVia = undefined;
        if (h.value.trim() === '') continue;
        return h.value;
      }
      const first = h.value.slice(0, comma).trim();
      h.value = h.value.slice(comma + 1).trim();
      this.edited();
      if (key === 'via') this.cVia = undefined;
      return first;
    }
    return undefined;
  }

  /** Adds a value on top of a list header: a new field line before the first field of that name. */
  prependListValue(name: string, value: string): void {
    const key = headerKey(name);
    let idx = this.headers.findIndex((h) => h.key === key);
    if (idx < 0) idx = key === 'via' ? 0 : this.headers.length;
    this.headers.splice(idx, 0, HeaderField.of(name, value, key));
    this.edited();
    if (key === 'via') this.cVia = undefined;
  }

  /** Replaces the first value of a list header (first comma item of its first field). */
  replaceFirstListValue(name: string, value: string): void {
    const key = headerKey(name);
    for (const h of this.headers) {
      if (h.key !== key) continue;
      const comma = firstListComma(h.value);
      h.value = comma < 0 ? value : `${value},${h.value.slice(comma + 1)}`;
      this.edited();
      if (key === 'via') this.cVia = undefined;
      return;
    }
  }

  removeTopVia(): string | undefined {
    return this.removeFirstListValue('via');
  }

  /** removeFirstListValue without building the removed value. */
  dropFirstListValue(name: string): void {
    const key = headerKey(name);
    const headers = this.headers;
    for (let idx = 0; idx < headers.length; idx++) {
      const h = headers[idx]!;
      if (h.key !== key) continue;
      const value = h.value;
      const comma = firstListComma(value);
      this.edited();
      if (key === 'via') this.cVia = undefined;
      if (comma < 0) {
        headers.splice(idx, 1);
        if (value === '') continue;
        return;
      }
      let rest = comma + 1;
      while (rest < value.length && isWs(value.charCodeAt(rest))) rest++;
      h.value = value.slice(rest);
      return;
    }
  }

  prependVia(value: string): void {
    this.prependListValue('Via', value);
  }

  setTopVia(v: ViaValue): void {
    this.replaceFirstListValue('via', formatVia(v));
    this.cVia = v;
  }

  /** Sets a header's value (the first field of that name), or adds it at the end. */
  setHeader(name: string, value: string): void {
    const key = headerKey(name);
    for (const h of this.headers) {
      if (h.key === key) {
        h.value = value;
          this.edited();
        return;
      }
    }
    this.addHeader(name, value);
  }

  addHeader(name: string, value: string): void {
    this.headers.push(HeaderField.of(name, value));
    this.edited();
  }

  /** Removes every field of a header; returns how many were removed. */
  removeHeader(name: string): number {
    const key = headerKey(name);
    let removed = 0;
    for (let i = this.headers.length - 1; i >= 0; i--) {
      if (this.headers[i]!.key === key) {
        this.headers.splice(i, 1);
        removed++;
      }
    }
    if (removed > 0) this.edited();
    return removed;
  }

  setMaxForwards(n: number): void {
    this.setHeader('Max-Forwards', String(n));
  }

  // ---- output ------------------------------------------------------------------------------------

  /** The start line as it will be written. */
  get firstLine(): string {
    if (this.startLine === undefined) {
      this.startLine = this.isRequest ? `${this.method} ${this.requestUriText} SIP/2.0` : `SIP/2.0 ${this.status} ${this.reason}`;
    }
    return this.startLine;
  }

  /**
   * The message as bytes: the original bytes when nothing was edited; else the untouched lines copied
   * from the original bytes (adjacent ones in one copy) and only the edited lines written as text.
   */
  toBuffer(): Buffer {
    if (this.source) return this.source;
    const src = this.src;
    const headers = this.headers;
    const firstFromSource = this.lineStart >= 0;
    let length = firstFromSource ? this.lineEnd - this.lineStart + 2 : this.firstLine.length + 2;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      const at = h.rangeIn(src);
      length += (at >= 0 ? h.rangeEnd - at : h.line().length) + 2;
    }
    const contentLength = this.hasContentLength ? '' : `Content-Length: ${this.body.length}\r\n`;
    length += contentLength.length + 2 + this.body.length;
    const out = allocOutgoing(length);
    let off = 0;
    // A run of source bytes not yet copied, and text not yet written.
    let runStart = -1;
    let runEnd = -1;
    let text = '';
    if (firstFromSource) {
      runStart = this.lineStart;
      runEnd = this.lineEnd + 2;
    } else text = this.firstLine + '\r\n';
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      const at = h.rangeIn(src);
      if (at >= 0) {
        if (text !== '') {
          off += (out as Latin1Buffer).latin1Write(text, off, text.length);
          text = '';
        }
        if (runStart >= 0 && runEnd === at) runEnd = h.rangeEnd + 2;
        else {
          if (runStart >= 0) off += src.copy(out, off, runStart, runEnd);
          runStart = at;
          runEnd = h.rangeEnd + 2;
        }
      } else {
        if (runStart >= 0) {
          off += src.copy(out, off, runStart, runEnd);
          runStart = -1;
        }
        text += h.line() + '\r\n';
      }
    }
    if (runStart >= 0) off += src.copy(out, off, runStart, runEnd);
    text += contentLength + '\r\n';
    off += (out as Latin1Buffer).latin1Write(text, off, text.length);
    this.body.copy(out, off);
    return out;
  }

  toString(): string {
    return this.toBuffer().toString('latin1');
  }
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
function parseDecimal(v: string): number {
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

const EMPTY = Buffer.alloc(0);

function unfold(value: string): string {
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

/** Sets a parsed head's body and source bytes (used by the datagram parser and the stream framer). */
export function attach(message: SipMessage, buf: Buffer, start: number, bodyStart: number, bodyEnd: number): SipMessage {
  // The constructor fields are private; set them once here, where framing knows them.
  const m = message as unknown as { body: Buffer; source: Buffer | undefined };
  m.body = buf.subarray(bodyStart, bodyEnd);
  m.source = buf.subarray(start, bodyEnd);
  return message;
}

export type DatagramParse = { kind: 'message'; message: SipMessage } | { kind: 'keepalive' } | { kind: 'malformed'; error: string };

/**
 * One datagram, one message (RFC 3261 18.3): bytes past Content-Length are discarded; a Content-Length
 * larger than what arrived makes the message malformed. Leading CRLFs are keep-alives (RFC 5626).
 */
export function parseDatagram(buf: Buffer): DatagramParse {
  let start = 0;
  while (start < buf.length && (buf[start] === CR || buf[start] === LF)) start++;
  if (start === buf.length) return { kind: 'keepalive' };
  const headEnd = buf.indexOf(CRLFCRLF, start);
  if (headEnd < 0) return { kind: 'malformed', error: 'no end of headers' };
  const head = parseHead(buf, start, headEnd);
  if (!head.ok) return { kind: 'malformed', error: head.error };
  const bodyStart = headEnd + 4;
  let bodyEnd = buf.length;
  if (head.contentLength !== undefined) {
    if (bodyStart + head.contentLength > buf.length) return { kind: 'malformed', error: 'Content-Length larger than the body' };
    bodyEnd = bodyStart + head.contentLength;
  }
  return { kind: 'message', message: attach(head.message, buf, start, bodyStart, bodyEnd) };
}

/** Parses one complete message from a string (tests, replies); throws SipParseError when malformed. */
export function parseMessage(text: string | Buffer): SipMessage {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const r = parseDatagram(buf);
  if (r.kind === 'message') return r.message;
  throw new SipParseError(r.kind === 'keepalive' ? 'keep-alive, not a message' : r.error);
}
