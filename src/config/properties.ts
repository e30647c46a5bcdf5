// lb.properties text (java.util.Properties syntax) → key → value and the line it was written on, so
// every problem can be reported as file:line.

import { parseLines, type Pair } from 'dot-properties';
import type { RawProperty } from './reader.js';

/** Parses properties text (java.util.Properties syntax) into key → value and line number (last one wins). */
export function parseProperties(text: string): { props: Map<string, RawProperty>; duplicates: { key: string; lines: number[] }[] } {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const lineOf = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const props = new Map<string, RawProperty>();
  const seen = new Map<string, number[]>();
  for (const node of parseLines(text, true)) {
    if (node.type !== 'PAIR') continue;
    const pair = node as Required<Pair>;
    const line = lineOf(pair.range[0]);
    props.set(pair.key, { value: pair.value, line });
    seen.set(pair.key, [...(seen.get(pair.key) ?? []), line]);
  }
  const duplicates = [...seen].filter(([, lines]) => lines.length > 1).map(([key, lines]) => ({ key, lines }));
  return { props, duplicates };
}
