// One header field line of a parsed message: offsets into the bytes it was read from while untouched
// (decoded on first read, written back by copying those bytes), or text once edited or added.

import { headerKey, latin1, unfold } from './grammar.js';

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
