// The Via header value (RFC 3261 20.42, RFC 3581): read in place from a list item, and rewritten when
// the balancer stamps received/rport.

import { isWs, lowerAscii, sameLower } from './grammar.js';

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
