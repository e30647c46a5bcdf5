// Custom algorithms (algorithmClass=./path/to/module.js or a package name): loads the module, builds the
// algorithm from what it exports (a class, a factory or an object), checks it has the methods the
// balancer calls, and guards every per-message call so a bug in the module fails one message, not the
// balancer.

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { resolve, dirname, isAbsolute, join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { AlgorithmContext, AlgorithmSipRequest, BalancerAlgorithm } from './algorithm.js';
import { ServerNode } from '../registry/server-node.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { CustomAlgorithmError } from '../errors.js';

/** Methods a custom algorithm must have; the others of BalancerAlgorithm are optional. */
export const REQUIRED_METHODS = ['nodesChanged', 'pickForSipRequest'] as const;
export const OPTIONAL_METHODS = ['init', 'stop', 'pickForHttpRequest', 'pickForAssignedSipRequest', 'assignToNode', 'activeCalls'] as const;
/** The export names looked for, in order (then the module itself, for a module of plain functions). */
const EXPORT_NAMES = ['default', 'createAlgorithm', 'Algorithm'] as const;

function isPath(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/') || specifier.startsWith('file:') || isAbsolute(specifier);
}

/** The URL to import: a path relative to the configuration file, or a package resolved from its directory. */
export function resolveCustomModule(specifier: string, configFile: string): string {
  const base = dirname(resolve(configFile));
  if (specifier.startsWith('file:')) return specifier;
  if (isPath(specifier)) return pathToFileURL(resolve(base, specifier)).href;
  try {
    // A package installed next to the configuration (its node_modules), else next to the balancer.
    return pathToFileURL(createRequire(join(base, 'lb.properties')).resolve(specifier)).href;
  } catch {
    return specifier;
  }
}

/** Builds the algorithm instance from a loaded module's namespace. */
export function instantiateCustom(mod: Record<string, unknown>, specifier: string): BalancerAlgorithm {
  const found = EXPORT_NAMES.find((n) => mod[n] !== undefined && mod[n] !== null);
  // A CommonJS module's exports arrive as `default`; an ES module may export the methods themselves.
  let exported: unknown = found ? mod[found] : mod;
  if (exported && typeof exported === 'object' && !hasMethod(exported, 'pickForSipRequest')) {
    const inner = (exported as Record<string, unknown>).createAlgorithm ?? (exported as Record<string, unknown>).Algorithm;
    if (inner !== undefined) exported = inner;
  }
  let instance: unknown = exported;
  if (typeof exported === 'function') {
    const isClass = /^class[\s{]/.test(Function.prototype.toString.call(exported));
    try {
      instance = isClass ? new (exported as new () => unknown)() : (exported as () => unknown)();
    } catch (err) {
      throw new CustomAlgorithmError(`algorithmClass=${specifier}: ${isClass ? 'the constructor' : 'the factory'} threw: ${(err as Error).message}`);
    }
  }
  if (instance === null || typeof instance !== 'object') {
    throw new CustomAlgorithmError(
      `algorithmClass=${specifier}: the module must export (as default, createAlgorithm or Algorithm) a class, a factory function or an object implementing ${REQUIRED_METHODS.join(' and ')}; it exports ${describe(instance)}`,
    );
  }
  const missing = REQUIRED_METHODS.filter((m) => !hasMethod(instance, m));
  if (missing.length > 0) {
    throw new CustomAlgorithmError(
      `algorithmClass=${specifier}: the algorithm lacks the method${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (required: ${REQUIRED_METHODS.join(', ')}; optional: ${OPTIONAL_METHODS.join(', ')})`,
    );
  }
  const wrong = OPTIONAL_METHODS.filter((m) => (instance as Record<string, unknown>)[m] !== undefined && !hasMethod(instance, m));
  if (wrong.length > 0) throw new CustomAlgorithmError(`algorithmClass=${specifier}: ${wrong.join(', ')} must be a method`);
  return new GuardedAlgorithm(instance as Partial<BalancerAlgorithm> & Pick<BalancerAlgorithm, 'nodesChanged' | 'pickForSipRequest'>, specifier);
}

/** Imports and builds a custom algorithm; throws a CustomAlgorithmError with a message for the operator. */
export async function loadCustomAlgorithm(specifier: string, configFile: string): Promise<BalancerAlgorithm> {
  const target = resolveCustomModule(specifier, configFile);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(target)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const where = target.startsWith('file:') ? ` (${new URL(target).pathname})` : '';
    const why = e.code === 'ERR_MODULE_NOT_FOUND' ? `not found${where}` : `${e.name}: ${e.message}${where}`;
    throw new CustomAlgorithmError(`algorithmClass=${specifier}: the module could not be loaded: ${why}`);
  }
  return instantiateCustom(mod, specifier);
}

function hasMethod(obj: unknown, name: string): boolean {
  return typeof (obj as Record<string, unknown> | null)?.[name] === 'function';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object with ${Object.keys(value).join(', ') || 'no keys'}`;
  return typeof value;
}

/**
 * The custom algorithm behind the interface the balancer calls: missing optional methods get defaults,
 * and an exception (or something that is not a node) from a per-message method counts as "no node"
 * and is logged (the first and then every 1000th), instead of failing the forwarder.
 */
export class GuardedAlgorithm implements BalancerAlgorithm {
  readonly name: string;
  private log: Logger = silentLogger();
  private failures = 0;

  constructor(
    private readonly inner: Partial<BalancerAlgorithm> & Pick<BalancerAlgorithm, 'nodesChanged' | 'pickForSipRequest'>,
    specifier: string,
  ) {
    this.name = typeof inner.name === 'string' && inner.name !== '' ? inner.name : specifier;
  }

  /** The module's own object. */
  get implementation(): object {
    return this.inner;
  }

  async init(ctx: AlgorithmContext): Promise<void> {
    this.log = ctx.log;
    // init runs at start-up: a failure there stops start-up (the caller reports it).
    await this.inner.init?.(ctx);
  }

  nodesChanged(live: readonly ServerNode[]): void {
    this.guard('nodesChanged', () => this.inner.nodesChanged(live));
  }

  pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined {
    return this.node('pickForSipRequest', () => this.inner.pickForSipRequest(req));
  }

  pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined, version: string): ServerNode | undefined {
    const inner = this.inner.pickForAssignedSipRequest;
    if (!inner) return assigned && assigned.state !== 'bad' ? assigned : this.pickForSipRequest(req);
    return this.node('pickForAssignedSipRequest', () => inner.call(this.inner, req, assigned, version));
  }

  assignToNode(req: AlgorithmSipRequest, node: ServerNode): void {
    const inner = this.inner.assignToNode;
    if (inner) this.guard('assignToNode', () => inner.call(this.inner, req, node));
  }

  pickForHttpRequest(req: IncomingMessage): ServerNode | undefined {
    const inner = this.inner.pickForHttpRequest;
    return inner ? this.node('pickForHttpRequest', () => inner.call(this.inner, req)) : undefined;
  }

  activeCalls(): number {
    const inner = this.inner.activeCalls;
    const n = inner ? this.guard('activeCalls', () => inner.call(this.inner)) : 0;
    return typeof n === 'number' && Number.isFinite(n) ? n : 0;
  }

  async stop(): Promise<void> {
    try {
      await this.inner.stop?.();
    } catch (err) {
      this.log.error(`custom algorithm ${this.name}: stop failed: ${(err as Error).message}`);
    }
  }

  private node(method: string, call: () => ServerNode | undefined): ServerNode | undefined {
    const result = this.guard(method, call);
    if (result === undefined || result === null) return undefined;
    if (result instanceof ServerNode) return result;
    this.report(method, new Error(`returned ${describe(result)}, not one of the nodes it was given`));
    return undefined;
  }

  private guard<T>(method: string, call: () => T): T | undefined {
    try {
      return call();
    } catch (err) {
      this.report(method, err as Error);
      return undefined;
    }
  }

  private report(method: string, err: Error): void {
    if (this.failures++ % 1000 === 0) {
      this.log.error({ failures: this.failures }, `custom algorithm ${this.name}: ${method} failed (${this.failures} so far): ${err.message}`);
    }
  }
}
