// A deterministic mutation fuzzer's parts: a seeded PRNG and byte/line mutators that keep inputs close to
// valid (so they pass the first checks and reach deeper code), plus the seed of a run from the environment.

/** mulberry32: small, fast, deterministic for a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rand = () => number;

export const int = (r: Rand, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;

/** The run's base seed and case count: FUZZ_SEED / FUZZ_COUNT (set by `npm run fuzz`), else the bounded defaults. */
export function fuzzRun(defaultCount: number): { seed: number; count: number } {
  const seed = Number(process.env.FUZZ_SEED ?? 4475);
  const count = Number(process.env.FUZZ_COUNT ?? defaultCount);
  return { seed: Number.isFinite(seed) ? seed : 4475, count: Number.isFinite(count) && count > 0 ? count : defaultCount };
}

/** A distinct seed per target, so targets do not share a sequence. */
export function targetSeed(seed: number, target: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < target.length; i++) h = Math.imul(h ^ target.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Values that tend to break parsers: numbers at their limits, separators, encodings, long runs. */
const NASTY = [
  '0', '-1', '4294967296', '18446744073709551616', '99999999999999999999', '1e308', 'NaN', '0x7fffffff',
  ';', ',', ':', '<', '>', '"', '\\', '%00', '%', '\0', '\r', '\n', '\r\n', '\r\n\r\n', ' ', '\t', '[', ']', '::',
  '[::1]', '127.0.0.1:0', '127.0.0.1:99999', ';rport=99999', ';received=', ';branch=', ';lr', ';maddr=127.0.0.1',
  'sip:', 'sips:', 'tel:', '@', 'é', '\u00ff\u00fe', '\uffff',
];

/** One mutation of `input` (a Buffer, treated as latin1 text for the line-aware ones). */
export function mutate(r: Rand, input: Buffer): Buffer {
  const rounds = 1 + int(r, 4);
  let b = input;
  for (let i = 0; i < rounds; i++) b = mutateOnce(r, b);
  return b;
}

function mutateOnce(r: Rand, b: Buffer): Buffer {
  if (b.length === 0) return Buffer.from(pick(r, NASTY), 'latin1');
  const at = int(r, b.length);
  switch (int(r, 12)) {
    case 0: {
      // Flip a bit.
      const c = Buffer.from(b);
      c[at] = c[at]! ^ (1 << int(r, 8));
      return c;
    }
    case 1: {
      // Set a byte to something interesting.
      const c = Buffer.from(b);
      c[at] = pick(r, [0, 0x0a, 0x0d, 0x20, 0x3a, 0x3b, 0x2c, 0x22, 0x3c, 0x3e, 0x7f, 0x80, 0xff]);
      return c;
    }
    case 2:
      // Delete a run.
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 16)))]);
    case 3:
      // Insert a nasty token.
      return Buffer.concat([b.subarray(0, at), Buffer.from(pick(r, NASTY), 'latin1'), b.subarray(at)]);
    case 4:
      // Truncate.
      return b.subarray(0, at);
    case 5: {
      // Repeat a run many times (long headers, long tokens).
      const len = 1 + int(r, 32);
      const run = b.subarray(at, at + len);
      return Buffer.concat([b.subarray(0, at), ...Array<Buffer>(1 + int(r, 200)).fill(run), b.subarray(at)]);
    }
    default:
      return mutateLines(r, b);
  }
}

function mutateLines(r: Rand, b: Buffer): Buffer {
  const text = b.toString('latin1');
  const lines = text.split('\r\n');
  const i = int(r, lines.length);
  switch (int(r, 6)) {
    case 0:
      lines.splice(i, 1);
      break;
    case 1:
      lines.splice(i, 0, lines[int(r, lines.length)]!);
      break;
    case 2: {
      const j = int(r, lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      break;
    }
    case 3: {
      // Replace a header's value (or a start-line token) by a nasty one.
      const line = lines[i]!;
      const colon = line.indexOf(':');
      lines[i] = colon > 0 ? `${line.slice(0, colon + 1)} ${pick(r, NASTY)}` : line.split(' ').map((t) => (r() < 0.3 ? pick(r, NASTY) : t)).join(' ');
      break;
    }
    case 4: {
      // Replace a number by an extreme.
      lines[i] = lines[i]!.replace(/\d+/, () => pick(r, ['0', '-1', '65536', '4294967296', '99999999999999999999999']));
      break;
    }
    default:
      // Bare LF line ends, or folding.
      return Buffer.from(r() < 0.5 ? lines.join('\n') : lines.join('\r\n ').replace(/\r\n \r\n /, '\r\n\r\n'), 'latin1');
  }
  return Buffer.from(lines.join('\r\n'), 'latin1');
}
