// Typed access to the properties of one lb.properties file: every read records the key as known and the
// value's source, and every problem becomes one line "<file>:<line>: <key>=<value>: <what was expected>".

import type { ValueSource } from './types.js';

export interface RawProperty {
  readonly value: string;
  readonly line: number;
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

export class PropertyReader {
  readonly known = new Set<string>();
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  readonly sources: ValueSource[] = [];

  constructor(
    readonly file: string,
    private readonly props: ReadonlyMap<string, RawProperty>,
  ) {}

  /** The raw property (marking it known), trying `aliases` after `key`. */
  raw(key: string, aliases: readonly string[] = []): (RawProperty & { key: string }) | undefined {
    this.known.add(key);
    for (const a of aliases) this.known.add(a);
    for (const k of [key, ...aliases]) {
      const p = this.props.get(k);
      if (p) return { ...p, key: k };
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.props.has(key);
  }

  /** Records a problem with a property. */
  error(p: { key: string; value: string; line: number } | undefined, key: string, expected: string): void {
    if (p) this.errors.push(`${this.file}:${p.line}: ${p.key}=${p.value}: ${expected}`);
    else this.errors.push(`${this.file}: ${key}: ${expected}`);
  }

  warn(p: { key: string; value: string; line: number } | undefined, key: string, message: string): void {
    if (p) this.warnings.push(`${this.file}:${p.line}: ${p.key}=${p.value}: ${message}`);
    else this.warnings.push(`${this.file}: ${key}: ${message}`);
  }

  private note(key: string, value: unknown, p: RawProperty | undefined): void {
    const shown = value === undefined ? '(off)' : Array.isArray(value) ? value.join(',') : String(value);
    this.sources.push(p ? { key, value: shown, source: 'file', line: p.line } : { key, value: shown, source: 'default' });
  }

  /** A string; an empty value counts as absent. */
  string(key: string, def?: string, aliases: readonly string[] = []): string | undefined {
    const p = this.raw(key, aliases);
    const v = p?.value.trim();
    const result = v === undefined || v === '' ? def : v;
    this.note(key, result, v ? p : undefined);
    return result;
  }

  int(key: string, def: number, opts: { min?: number; max?: number; aliases?: readonly string[]; unit?: string } = {}): number {
    return this.optionalInt(key, opts) ?? this.defaulted(key, def);
  }

  /** An integer, or undefined when absent or empty. */
  optionalInt(key: string, opts: { min?: number; max?: number; aliases?: readonly string[]; unit?: string } = {}): number | undefined {
    const p = this.raw(key, opts.aliases);
    const v = p?.value.trim();
    if (!p || v === '' || v === undefined) {
      if (p) this.note(key, undefined, undefined);
      return undefined;
    }
    const n = /^-?\d+$/.test(v) ? Number(v) : NaN;
    const min = opts.min ?? 0;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
      this.error(p, key, `expected a whole number ${range}${opts.unit ? ` (${opts.unit})` : ''}`);
      return undefined;
    }
    this.note(key, n, p);
    return n;
  }

  private defaulted(key: string, def: number): number {
    if (!this.sources.some((s) => s.key === key)) this.note(key, def, undefined);
    return def;
  }

  /**
   * A port (an advertised one: 1–65535): absent → `def`; present but empty → off (undefined), as in the original.
   */
  port(key: string, def?: number, aliases: readonly string[] = []): number | undefined {
    return this.portIn(key, def, aliases, 1, 'expected a port number from 1 to 65535, or nothing to switch it off');
  }

  /**
   * A listening port: as port(), and 0 binds any free port (the daemon logs and shows in /lbinfo which one).
   */
  listenPort(key: string, def?: number, aliases: readonly string[] = []): number | undefined {
    return this.portIn(key, def, aliases, 0, 'expected a port number from 1 to 65535 (0: any free port), or nothing to switch it off');
  }

  private portIn(key: string, def: number | undefined, aliases: readonly string[], min: number, expected: string): number | undefined {
    const p = this.raw(key, aliases);
    if (!p) {
      this.note(key, def, undefined);
      return def;
    }
    const v = p.value.trim();
    if (v === '') {
      this.note(key, undefined, p);
      return undefined;
    }
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(n >= min && n <= 65535)) {
      this.error(p, key, expected);
      return undefined;
    }
    this.note(key, n, p);
    return n;
  }

  bool(key: string, def: boolean, aliases: readonly string[] = []): boolean {
    const p = this.raw(key, aliases);
    const v = p?.value.trim().toLowerCase();
    if (!p || v === '' || v === undefined) {
      this.note(key, def, undefined);
      return def;
    }
    if (TRUE.has(v)) {
      this.note(key, true, p);
      return true;
    }
    if (FALSE.has(v)) {
      this.note(key, false, p);
      return false;
    }
    this.error(p, key, 'expected true or false');
    return def;
  }

  /** One of `choices` (case-insensitive), returned lower-case. */
  choice<T extends string>(key: string, choices: readonly T[], def?: T, aliases: readonly string[] = []): T | undefined {
    const p = this.raw(key, aliases);
    const v = p?.value.trim().toLowerCase();
    if (!p || !v) {
      this.note(key, def, undefined);
      return def;
    }
    const found = choices.find((c) => c.toLowerCase() === v);
    if (!found) {
      this.error(p, key, `expected one of ${choices.join(', ')}`);
      return def;
    }
    this.note(key, found, p);
    return found;
  }

  /** A comma-separated list, blanks dropped. */
  list(key: string, def: readonly string[] = [], aliases: readonly string[] = []): string[] {
    const p = this.raw(key, aliases);
    if (!p) {
      this.note(key, def, undefined);
      return [...def];
    }
    const items = p.value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    this.note(key, items, p);
    return items;
  }

  regex(key: string, aliases: readonly string[] = []): RegExp | undefined {
    const p = this.raw(key, aliases);
    const v = p?.value.trim();
    if (!p || !v) return undefined;
    try {
      const re = new RegExp(v);
      this.note(key, v, p);
      return re;
    } catch (err) {
      this.error(p, key, `expected a regular expression (${(err as Error).message})`);
      return undefined;
    }
  }
}
