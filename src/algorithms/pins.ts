// Regex pins (the original's /lbnoderegex, #89): requests whose affinity key matches an operator's regex go
// to one node while it lives. A wrapper around any algorithm, consulted before it for initial requests.

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { AlgorithmContext, AlgorithmSipRequest, BalancerAlgorithm } from './algorithm.js';
import { httpQueryParameter } from './affinity-key.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';

/** Bounds that keep a pin cheap on the per-message path, whatever an operator (or a client's key) brings. */
export const MAX_PINS = 64;
export const MAX_PIN_REGEX_LENGTH = 200;
/** Keys longer than this are not tested (Call-IDs and user parts are far shorter; a longer one is abuse). */
export const MAX_PIN_KEY_LENGTH = 256;
/** Unbounded quantifiers (*, +, {n,}) a pattern may hold: with star height 1, matching is O(key^3) at worst. */
const MAX_UNBOUNDED_QUANTIFIERS = 3;

export interface Pin {
  readonly regex: RegExp;
  readonly ip: string;
  readonly port: number;
  /** Requests sent to the pinned node because of this pin. */
  hits: number;
}

/** A pin as it travels between processes. */
export interface PinSpec {
  readonly regex: string;
  readonly ip: string;
  readonly port: number;
}

export class PinError extends Error {
  override readonly name = 'PinError';
}

/**
 * Checks that a pattern cannot backtrack catastrophically on a key a client chose: bounded length, no
 * backreference, and no quantified group that itself holds a quantifier or an alternation (the shapes of
 * exponential backtracking, such as (a+)+ and (a|a)*). Returns the compiled RegExp or throws PinError.
 */
export function compilePinRegex(source: string): RegExp {
  if (source.length === 0) throw new PinError('regex is empty');
  if (source.length > MAX_PIN_REGEX_LENGTH) throw new PinError(`regex is longer than ${MAX_PIN_REGEX_LENGTH} characters`);
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch (err) {
    throw new PinError(`invalid regex: ${(err as Error).message}`);
  }
  // Walk the pattern: for each open group, whether it holds a quantifier or an alternation so far.
  const groups: { risky: boolean }[] = [];
  let unbounded = 0;
  let inClass = false;
  const quantifierAt = (i: number): 'bounded' | 'unbounded' | undefined => {
    const c = source[i];
    if (c === '*' || c === '+') return 'unbounded';
    if (c === '?') return 'bounded';
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (!m) return undefined;
      return m[2] !== undefined && m[3] === '' ? 'unbounded' : 'bounded';
    }
    return undefined;
  };
  const markQuantified = (): void => {
    for (const g of groups) g.risky = true;
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && source[i + 2] === '<')) throw new PinError('backreferences are not allowed in a pin regex');
      i++;
      const q = quantifierAt(i + 1);
      if (q !== undefined) {
        if (q === 'unbounded') unbounded++;
        markQuantified();
      }
      continue;
    }
    if (inClass) {
      if (c === ']') {
        inClass = false;
        const q = quantifierAt(i + 1);
        if (q !== undefined) {
          if (q === 'unbounded') unbounded++;
          markQuantified();
        }
      }
      continue;
    }
    if (c === '[') {
      inClass = true;
      continue;
    }
    if (c === '(') {
      groups.push({ risky: false });
      continue;
    }
    if (c === '|') {
      if (groups.length > 0) groups[groups.length - 1]!.risky = true;
      continue;
    }
    if (c === ')') {
      const g = groups.pop();
      const q = quantifierAt(i + 1);
      if (q !== undefined) {
        if (g?.risky && (q === 'unbounded' || source[i + 1] === '{')) {
          throw new PinError('a repeated group may not contain a quantifier or an alternation (catastrophic backtracking)');
        }
        if (q === 'unbounded') unbounded++;
        markQuantified();
      } else if (g?.risky && groups.length > 0) {
        // An inner group with a quantifier makes its enclosing groups risky too.
        groups[groups.length - 1]!.risky = true;
      }
      continue;
    }
    const q = quantifierAt(i + 1);
    if (q !== undefined && c !== '*' && c !== '+' && c !== '?' && c !== '}') {
      if (q === 'unbounded') unbounded++;
      markQuantified();
    }
  }
  if (unbounded > MAX_UNBOUNDED_QUANTIFIERS) throw new PinError(`at most ${MAX_UNBOUNDED_QUANTIFIERS} unbounded quantifiers (*, +, {n,}) in a pin regex`);
  return regex;
}

/** The table of pins, edited by /lbnoderegex and read by PinnedAlgorithm. */
export class NodePins {
  private pins: Pin[] = [];

  constructor(private readonly registry: NodeRegistry) {}

  get size(): number {
    return this.pins.length;
  }

  /** Adds (or replaces, for the same regex source) a pin; throws PinError on a bad regex, address or port. */
  set(regexSource: string, ip: string, portText: string): Pin {
    const regex = compilePinRegex(regexSource);
    if (isIP(ip) === 0) throw new PinError(`ip "${ip}" is not an IP address`);
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw new PinError(`port "${portText}" is not a port number (1-65535)`);
    const existing = this.pins.findIndex((p) => p.regex.source === regex.source);
    if (existing < 0 && this.pins.length >= MAX_PINS) throw new PinError(`there are ${MAX_PINS} pins already; remove one first`);
    const pin: Pin = { regex, ip, port: Number(portText), hits: 0 };
    // Copy on write: the per-message path iterates the array without locks or surprises.
    const next = [...this.pins];
    if (existing >= 0) next[existing] = pin;
    else next.push(pin);
    this.pins = next;
    return pin;
  }

  /** Removes the pin with this regex source; true when there was one. */
  remove(regexSource: string): boolean {
    const next = this.pins.filter((p) => p.regex.source !== regexSource && p.regex.source !== safeSource(regexSource));
    const removed = next.length !== this.pins.length;
    this.pins = next;
    return removed;
  }

  /** The live node `pin` names, able to take new work, or undefined. */
  nodeOf(pin: Pin): ServerNode | undefined {
    const node = this.registry.findByAddress(pin.ip, pin.port);
    return node !== undefined && node.acceptsNewWork ? node : undefined;
  }

  /** The node of the first pin whose regex finds a match in `key`, or undefined. */
  match(key: string): ServerNode | undefined {
    if (key === '' || key.length > MAX_PIN_KEY_LENGTH) return undefined;
    for (const pin of this.pins) {
      if (!pin.regex.test(key)) continue;
      const node = this.nodeOf(pin);
      if (node === undefined) continue;
      pin.hits++;
      return node;
    }
    return undefined;
  }

  /** The pins as they were set (regex source, ip, port), for another process to copy (workers). */
  specs(): PinSpec[] {
    return this.pins.map((p) => ({ regex: p.regex.source, ip: p.ip, port: p.port }));
  }

  /** Replaces every pin by copies of another process's (workers); an entry that does not compile is skipped. */
  replaceAll(specs: readonly PinSpec[]): void {
    const previous = new Map(this.pins.map((p) => [`${p.regex.source} ${p.ip}:${p.port}`, p]));
    const next: Pin[] = [];
    for (const spec of specs.slice(0, MAX_PINS)) {
      const kept = previous.get(`${spec.regex} ${spec.ip}:${spec.port}`);
      if (kept) next.push(kept);
      else {
        try {
          next.push({ regex: compilePinRegex(spec.regex), ip: spec.ip, port: spec.port, hits: 0 });
        } catch {
          // The primary compiled it already; a pattern that fails here is left out rather than trusted.
        }
      }
    }
    this.pins = next;
  }

  /** The pins as /lbinfo lists them. */
  toJSON(): Record<string, unknown>[] {
    return this.pins.map((p) => {
      const node = this.nodeOf(p);
      return { regex: p.regex.source, ip: p.ip, port: p.port, node: node?.toString() ?? null, live: node !== undefined, hits: p.hits };
    });
  }
}

/** How `new RegExp(s).source` writes s (e.g. "/" becomes "\/"), so a pin is removed by what was given. */
function safeSource(s: string): string {
  try {
    return new RegExp(s).source;
  } catch {
    return s;
  }
}

/**
 * Any algorithm with the pins in front: an initial SIP request (or an HTTP request carrying the
 * httpAffinityKey parameter) whose key matches a pin goes to the pinned node, which the inner algorithm
 * is told of (so the rest of the call stays there); everything else is the inner algorithm's.
 */
export class PinnedAlgorithm implements BalancerAlgorithm {
  /** The inner algorithm's figures, present only when it has them. */
  readonly activeCalls?: () => number;
  readonly statistics?: () => Readonly<Record<string, number | boolean>>;

  constructor(
    readonly inner: BalancerAlgorithm,
    readonly pins: NodePins,
    /** The HTTP query parameter that carries a key (httpAffinityKey). */
    private readonly httpKey: string,
  ) {
    if (inner.activeCalls) this.activeCalls = () => inner.activeCalls!();
    if (inner.statistics) this.statistics = () => inner.statistics!();
  }

  get name(): string {
    return this.inner.name;
  }

  /** The inner algorithm is usually built and initialised already (loadAlgorithm); this is for completeness. */
  init(ctx: AlgorithmContext): void | Promise<void> {
    return this.inner.init(ctx);
  }

  nodesChanged(live: readonly ServerNode[]): void {
    this.inner.nodesChanged(live);
  }

  pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined {
    if (this.pins.size > 0) {
      const node = this.pins.match(this.affinityKeyOf(req));
      if (node !== undefined) {
        this.inner.assignToNode?.(req, node);
        return node;
      }
    }
    return this.inner.pickForSipRequest(req);
  }

  pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined, version: string): ServerNode | undefined {
    if (this.inner.pickForAssignedSipRequest) return this.inner.pickForAssignedSipRequest(req, assigned, version);
    return assigned !== undefined && assigned.state !== 'bad' ? assigned : this.pickForSipRequest(req);
  }

  assignToNode(req: AlgorithmSipRequest, node: ServerNode): void {
    this.inner.assignToNode?.(req, node);
  }

  pickForHttpRequest(req: IncomingMessage): ServerNode | undefined {
    if (this.pins.size > 0) {
      const key = httpQueryParameter(req, this.httpKey);
      const node = key === undefined ? undefined : this.pins.match(key);
      if (node !== undefined) return node;
    }
    return this.inner.pickForHttpRequest(req);
  }

  affinityKeyOf(req: AlgorithmSipRequest): string {
    return this.inner.affinityKeyOf?.(req) ?? req.callId;
  }

  stop(): void | Promise<void> {
    return this.inner.stop();
  }
}
