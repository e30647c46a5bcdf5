import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { hashString, murmur3Bytes } from '../../src/algorithms/hash.js';
import { HashRing } from '../../src/algorithms/hash-ring.js';

describe('hash', () => {
  it('is MurmurHash3 x86_32 (published test vectors)', () => {
    expect(hashString('')).toBe(0);
    expect(hashString('', 1)).toBe(0x514e28b7);
    expect(hashString('hello')).toBe(0x248bfa47);
    expect(hashString('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
    expect(murmur3Bytes(new Uint8Array([0x21, 0x43, 0x65, 0x87]), 4, 0)).toBe(0xf55b516b);
  });

  it('hashes the UTF-8 bytes, so non-ASCII keys hash the same on every instance', () => {
    expect(hashString('é')).toBe(murmur3Bytes(new Uint8Array([0xc3, 0xa9])));
    expect(hashString('日本')).toBe(murmur3Bytes(new Uint8Array(Buffer.from('日本', 'utf8'))));
  });

  it('handles keys longer than its scratch buffer', () => {
    const long = 'x'.repeat(5000);
    expect(hashString(long)).toBe(murmur3Bytes(new Uint8Array(Buffer.from(long))));
  });
});

describe('hash ring', () => {
  const names = ['10.0.0.1:5060', '10.0.0.2:5060', '10.0.0.3:5060', '10.0.0.4:5060'];
  const ringOf = (members: string[]): HashRing<string> => {
    const r = new HashRing<string>((s) => s);
    r.build(members);
    return r;
  };

  it('spreads 30,000 random Call-IDs over 3 nodes at 33.3% ± 2% each', () => {
    const ring = ringOf(names.slice(0, 3));
    const counts = new Map<string, number>();
    for (let i = 0; i < 30_000; i++) {
      const n = ring.lookup(randomUUID())!;
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    expect(counts.size).toBe(3);
    for (const c of counts.values()) expect(Math.abs((c / 30_000) * 100 - 100 / 3)).toBeLessThan(2);
  });

  it('gives the same node on two rings built from the same nodes in another order', () => {
    const a = ringOf(names);
    const b = ringOf([...names].reverse());
    for (let i = 0; i < 10_000; i++) {
      const key = randomUUID();
      expect(b.lookup(key)).toBe(a.lookup(key));
    }
  });

  it('moves only the keys of a removed node, spread over all survivors within ± 5%', () => {
    const before = ringOf(names);
    const after = ringOf(names.filter((n) => n !== names[1]));
    const moved = new Map<string, number>();
    let movedTotal = 0;
    for (let i = 0; i < 30_000; i++) {
      const key = randomUUID();
      const was = before.lookup(key)!;
      const now = after.lookup(key)!;
      if (was !== names[1]) expect(now).toBe(was);
      else {
        movedTotal++;
        moved.set(now, (moved.get(now) ?? 0) + 1);
      }
    }
    expect(moved.size).toBe(3);
    for (const c of moved.values()) expect(Math.abs((c / movedTotal) * 100 - 100 / 3)).toBeLessThan(5);
  });

  it('is empty without members and wraps round past the last point', () => {
    const empty = new HashRing<string>((s) => s);
    empty.build([]);
    expect(empty.lookup('x')).toBeUndefined();
    const one = ringOf(['only']);
    expect(one.lookupHash(0xffffffff)).toBe('only');
    expect(one.lookupHash(0)).toBe('only');
  });

  it('rejects a virtual node count that is not a positive integer', () => {
    expect(() => new HashRing<string>((s) => s, 0)).toThrow(/positive integer/);
  });
});
