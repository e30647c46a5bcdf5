// The SMSCs an ESME can be bound to: remoteServers plus registry nodes that advertise an smppPort, tried in
// the order toProviderAlgorithmClass gives (round robin, or active-standby: the list's order). The list is
// rebuilt when the registry changes, so picking is an index increment.

import type { HostPort } from '../config/types.js';
import type { NodeRegistry } from '../registry/node-registry.js';

export class SmscList {
  private list: readonly HostPort[] = [];
  private index = 0;
  private readonly onRegistryChange = (): void => this.rebuild();

  /** Called after the list changed (a node advertising an smppPort came or went, or remoteServers was reloaded). */
  onChange: (() => void) | undefined;

  constructor(
    private remoteServers: readonly HostPort[],
    private readonly registry?: NodeRegistry,
  ) {
    this.rebuild();
    registry?.on('changed', this.onRegistryChange);
  }

  get size(): number {
    return this.list.length;
  }

  /** The next server in round-robin order, or undefined when there is none. */
  next(): HostPort | undefined {
    const list = this.list;
    if (list.length === 0) return undefined;
    const server = list[this.index % list.length]!;
    this.index = (this.index + 1) % list.length;
    return server;
  }

  /**
   * The servers to try for one bind, in order. Round robin starts at the next server in turn; active-standby
   * starts at the first. `avoid` (the SMSC just lost) goes last.
   */
  order(policy: 'round-robin' | 'active-standby', avoid?: HostPort): HostPort[] {
    const list = this.list;
    if (list.length === 0) return [];
    const start = policy === 'round-robin' ? this.index % list.length : 0;
    if (policy === 'round-robin') this.index = (this.index + 1) % list.length;
    const ordered = [...list.slice(start), ...list.slice(0, start)];
    if (avoid === undefined || ordered.length < 2) return ordered;
    const lost = ordered.filter((s) => s.host === avoid.host && s.port === avoid.port);
    return [...ordered.filter((s) => !lost.includes(s)), ...lost];
  }

  /** Replaces `remoteServers` (hot reload); nodes that advertise an smppPort stay. */
  setRemoteServers(servers: readonly HostPort[]): void {
    this.remoteServers = servers;
    this.rebuild();
  }

  servers(): readonly HostPort[] {
    return this.list;
  }

  dispose(): void {
    this.registry?.off('changed', this.onRegistryChange);
  }

  private rebuild(): void {
    const seen = new Set<string>();
    const list: HostPort[] = [];
    const add = (host: string, port: number): void => {
      const key = `${host}:${port}`;
      if (seen.has(key)) return;
      seen.add(key);
      list.push({ host, port });
    };
    for (const s of this.remoteServers) add(s.host, s.port);
    for (const node of this.registry?.all() ?? []) {
      if (node.smppPort !== undefined && node.state === 'active') add(node.ip, node.smppPort);
    }
    const old = this.list;
    this.list = list;
    if (old.length !== list.length || old.some((s, i) => s.host !== list[i]!.host || s.port !== list[i]!.port)) this.onChange?.();
  }
}
