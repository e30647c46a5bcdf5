// The SMSCs an ESME can be bound to: remoteServers plus registry nodes that advertise an smppPort, taken
// round robin. The list is rebuilt when the registry changes, so next() is an index increment.

import type { HostPort } from '../config/types.js';
import type { NodeRegistry } from '../registry/node-registry.js';

export class SmscList {
  private list: readonly HostPort[] = [];
  private index = 0;
  private readonly onChange = (): void => this.rebuild();

  constructor(
    private readonly remoteServers: readonly HostPort[],
    private readonly registry?: NodeRegistry,
  ) {
    this.rebuild();
    registry?.on('changed', this.onChange);
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

  servers(): readonly HostPort[] {
    return this.list;
  }

  dispose(): void {
    this.registry?.off('changed', this.onChange);
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
    this.list = list;
  }
}
