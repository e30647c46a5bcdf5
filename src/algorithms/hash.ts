// A fixed 32-bit hash (MurmurHash3 x86_32 over the UTF-8 bytes of a string) for consistent hashing:
// the same value on every balancer instance, every Node version and after restarts, unlike any
// per-process string hashing. Murmur3 rather than FNV-1a because ring positions need its avalanche.

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** MurmurHash3 x86_32 of `bytes[0..length)` with `seed`, as an unsigned 32-bit integer. */
export function murmur3Bytes(bytes: Uint8Array, length: number = bytes.length, seed = 0): number {
  let h = seed >>> 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // The 1–3 trailing bytes (the reference code's fall-through switch, written without fall-through).
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[blocks]!;
    if (tail > 1) k ^= bytes[blocks + 1]! << 8;
    if (tail > 2) k ^= bytes[blocks + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  return fmix32(h ^ length);
}

/** Murmur3's finaliser: mixes every input bit into every output bit (unsigned 32-bit result). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * FNV-1a over the UTF-16 code units of `s`: a cheap stable hash for picking among a few nodes by index (the same
 * on every instance), where ring positions would want murmur3's avalanche.
 */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** MurmurHash3 x86_32 of the UTF-8 encoding of `text` (no allocation for strings that fit the scratch buffer). */
export function hashString(text: string, seed = 0): number {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  if (text.length * 3 > scratch.length) scratch = new Uint8Array(Math.max(text.length * 3, scratch.length * 2));
  const { written } = encoder.encodeInto(text, scratch);
  return murmur3Bytes(scratch, written, seed);
}
