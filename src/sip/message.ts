// A parsed SIP message for a stateless proxy: the header model (fields read lazily from the bytes they
// came in) and its editor (Via, Route, Record-Route, Max-Forwards...). Writing it out is serialise.ts;
// the framers are datagram.ts and stream-framer.ts over head-parser.ts. The rest of the daemon imports
// the SIP message API from here.

import { headerParam, uriOfNameAddr, userOfUri } from './uri.js';
import { firstListComma, headerKey, isWs, parseCSeq, parseDecimal, splitList } from './grammar.js';
import { HeaderField } from './header-field.js';
import { formatVia, parseVia, type ViaValue } from './via.js';
import { serialise } from './serialise.js';

export { COMPACT_FORMS, firstListComma, headerKey, parseCSeq, splitList } from './grammar.js';
export { HeaderField } from './header-field.js';
export { formatVia, parseVia, viaParams, withReceived, withoutReceived, type ViaValue } from './via.js';
export { attach, parseHead, type HeadParse } from './head-parser.js';
export { parseDatagram, parseMessage, type DatagramParse } from './datagram.js';

export const EMPTY = Buffer.alloc(0);

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
   * The message as bytes: the original bytes when nothing was edited; else an edit of them (serialise).
   */
  toBuffer(): Buffer {
    if (this.source) return this.source;
    const fromSource = this.lineStart >= 0;
    return serialise(this.src, fromSource ? this.lineStart : -1, fromSource ? this.lineEnd : -1, fromSource ? '' : this.firstLine, this.headers, this.hasContentLength, this.body);
  }

  toString(): string {
    return this.toBuffer().toString('latin1');
  }
}
