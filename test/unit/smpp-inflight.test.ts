// Sequence renumbering: the table that maps the broker's numbers back to the sender's.

import { describe, expect, it } from 'vitest';
import { InflightTable } from '../../src/smpp/inflight.js';
import { Cmd } from '../../src/smpp/pdu.js';

describe('InflightTable', () => {
  it('gives each relayed request the connection’s next number and restores the original on the response', () => {
    const t = new InflightTable();
    const a = t.add(500, Cmd.submit_sm, 1000);
    const b = t.add(500, Cmd.submit_sm, 1000); // two ESMEs may use the same number; the SMSC sees distinct ones
    expect(a).toBe(1);
    expect(b).toBe(2);
    expect(t.take(b)).toBe(true);
    expect(t.taken.originalSeq).toBe(500);
    expect(t.take(b)).toBe(false);
    expect(t.size).toBe(1);
  });

  it('wraps after 0x7FFFFFFF to 1', () => {
    const t = new InflightTable();
    (t as unknown as { next: number }).next = 0x7fffffff;
    expect(t.nextSequence()).toBe(0x7fffffff);
    expect(t.nextSequence()).toBe(1);
  });

  it('expires only entries whose deadline passed, oldest first', () => {
    const t = new InflightTable();
    t.add(10, Cmd.submit_sm, 100);
    const kept = t.add(11, Cmd.data_sm, 200);
    const expired: number[] = [];
    t.expire(150, (e) => expired.push(e.originalSeq));
    expect(expired).toEqual([10]);
    expect(t.take(kept)).toBe(true);
    expect(t.taken.commandId).toBe(Cmd.data_sm);
  });

  it('drains everything when the far side is gone', () => {
    const t = new InflightTable();
    t.add(1, Cmd.submit_sm, 100);
    t.add(2, Cmd.query_sm, 100);
    const seen: number[] = [];
    t.drain((e) => seen.push(e.originalSeq));
    expect(seen).toEqual([1, 2]);
    expect(t.size).toBe(0);
  });

  it('grows past its initial size and keeps every entry', () => {
    const t = new InflightTable();
    const seqs = Array.from({ length: 1000 }, (_, i) => t.add(10_000 + i, Cmd.submit_sm, 100 + i));
    expect(t.size).toBe(1000);
    for (const [i, seq] of seqs.entries()) {
      if (i % 2 === 0) {
        expect(t.take(seq)).toBe(true);
        expect(t.taken.originalSeq).toBe(10_000 + i);
      }
    }
    const expired: number[] = [];
    t.expire(100 + 10, (e) => expired.push(e.originalSeq));
    expect(expired).toEqual([10_001, 10_003, 10_005, 10_007, 10_009]);
    expect(t.size).toBe(495);
  });

  it('keeps entries apart across the wrap from 0x7FFFFFFF to 1', () => {
    const t = new InflightTable();
    (t as unknown as { next: number }).next = 0x7fffffff - 70;
    const seqs = Array.from({ length: 140 }, (_, i) => t.add(i, Cmd.submit_sm, 1));
    expect(seqs).toContain(0x7fffffff);
    expect(seqs).toContain(1);
    for (const [i, seq] of seqs.entries()) {
      expect(t.take(seq)).toBe(true);
      expect(t.taken.originalSeq).toBe(i);
    }
    expect(t.size).toBe(0);
  });

  it('ignores sequence number 0 and numbers it never gave out', () => {
    const t = new InflightTable();
    t.add(1, Cmd.submit_sm, 1);
    expect(t.take(0)).toBe(false);
    expect(t.take(65)).toBe(false);
    expect(t.size).toBe(1);
  });
});
