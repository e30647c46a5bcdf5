// SMPP broker counters (manual "Getting statistic" 3.a–g, plus the original's notBind/notResponded), owned by
// the SMPP module and registered with the shared /lbstat document and Prometheus registry.

import type { Registry } from 'prom-client';
import type { SmppRejectReason } from '../errors.js';
import { CounterMap, promCounter, promCounterMap } from '../stats/counters.js';
import type { ProtocolStats } from '../stats/stats.js';
import { commandName } from './pdu.js';

/**
 * Counts by SMPP command_id on the relay's hot path: an array slot per defined command (ids up to 0x3FF,
 * request or response), named only when read; other ids fall back to the name map.
 */
export class CommandCounterMap extends CounterMap<string> {
  private readonly slots = new Float64Array(2048);

  incId(id: number): void {
    const low = id & 0x7fffffff;
    if (low < 1024) this.slots[low + (id >= 0x80000000 ? 1024 : 0)]! += 1;
    else this.inc(commandName(id));
  }

  private merged(): Map<string, number> {
    const out = new Map<string, number>(super.entries());
    for (let i = 0; i < 2048; i++) {
      const v = this.slots[i]!;
      if (v === 0) continue;
      const name = commandName(i < 1024 ? i : (0x80000000 + i - 1024) >>> 0);
      out.set(name, (out.get(name) ?? 0) + v);
    }
    return out;
  }

  override get(key: string): number {
    return this.merged().get(key) ?? 0;
  }

  override total(): number {
    let sum = super.total();
    for (const v of this.slots) sum += v;
    return sum;
  }

  override entries(): IterableIterator<[string, number]> {
    return this.merged().entries();
  }

  override toJSON(): Record<string, number> {
    return Object.fromEntries(this.merged());
  }
}

export class SmppStats implements ProtocolStats {
  readonly protocol = 'smpp';
  requestsToServer = 0;
  requestsToClient = 0;
  bytesToServer = 0;
  bytesToClient = 0;
  /** Keyed by command name (submit_sm, …) or 0x-hex for unknown ids. */
  readonly requestsByCommand = new CommandCounterMap();
  readonly responsesByCommand = new CommandCounterMap();
  activeConnections = 0;
  notBindClients = 0;
  notRespondedPackets = 0;
  /** PDUs refused with generic_nack or an error status, by reason. */
  readonly rejected = new CounterMap<SmppRejectReason>();

  activeConnectionCount(): number {
    return this.activeConnections;
  }

  lbstatFields(): Record<string, unknown> {
    return {
      NumberOfActiveSmppConnections: this.activeConnections,
      NumberOfSmppBytesToClient: this.bytesToClient,
      NumberOfSmppBytesToServer: this.bytesToServer,
      NumberOfSmppRequestsToClient: this.requestsToClient,
      NumberOfSmppRequestsToServer: this.requestsToServer,
      SmppRequestsByCommandId: this.requestsByCommand.toJSON(),
      SmppResponsesByCommandId: this.responsesByCommand.toJSON(),
      SmppNotBindClients: this.notBindClients,
      SmppNotRespondedPackets: this.notRespondedPackets,
      SmppRejectedByReason: this.rejected.toJSON(),
    };
  }

  register(registry: Registry): void {
    promCounter(registry, 'sipbalancer_smpp_requests_to_server_total', 'SMPP requests relayed to SMSCs', () => this.requestsToServer);
    promCounter(registry, 'sipbalancer_smpp_requests_to_client_total', 'SMPP requests relayed to ESMEs', () => this.requestsToClient);
    promCounter(registry, 'sipbalancer_smpp_bytes_to_server_total', 'SMPP bytes sent to SMSCs', () => this.bytesToServer);
    promCounter(registry, 'sipbalancer_smpp_bytes_to_client_total', 'SMPP bytes sent to ESMEs', () => this.bytesToClient);
    promCounterMap(registry, 'sipbalancer_smpp_requests_total', 'SMPP requests, by command', 'command', this.requestsByCommand);
    promCounterMap(registry, 'sipbalancer_smpp_responses_total', 'SMPP responses, by command', 'command', this.responsesByCommand);
    promCounter(registry, 'sipbalancer_smpp_not_bound_clients_total', 'ESME connections closed for not binding in time', () => this.notBindClients);
    promCounter(registry, 'sipbalancer_smpp_not_responded_total', 'SMPP requests answered by the broker after timeoutResponse', () => this.notRespondedPackets);
    promCounterMap(registry, 'sipbalancer_smpp_rejected_total', 'SMPP PDUs refused, by reason', 'reason', this.rejected);
  }
}
