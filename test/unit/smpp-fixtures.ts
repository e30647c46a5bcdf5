// Shared pieces of the SMPP state-machine unit tests: a socket that records writes, a context, and PDUs.

import { EventEmitter } from 'node:events';
import type { SmppConfig } from '../../src/config/types.js';
import type { SmppContext } from '../../src/smpp/context.js';
import { SmppStats } from '../../src/smpp/smpp-stats.js';
import { silentLogger } from '../../src/log.js';
import { Cmd, encodeBind, encodePdu } from '../../src/smpp/pdu.js';

/** Enough of net.Socket for PduConnection: records what is written, emits what the test pushes. */
export class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  ended = false;
  setNoDelay(): this {
    return this;
  }
  write(b: Buffer): boolean {
    this.written.push(Buffer.from(b));
    return true;
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.emit('close');
    return this;
  }
  /** Delivers bytes as if they came from the peer. */
  push(...pdus: Buffer[]): void {
    this.emit('data', Buffer.concat(pdus));
  }
}

export function smppConfig(over: Partial<SmppConfig> = {}): SmppConfig {
  return {
    externalHost: '127.0.0.1',
    remoteServers: [],
    isRemoteServerSsl: false,
    maxPduSize: 65536,
    timeoutResponseMs: 1000,
    timeoutConnectionMs: 500,
    timeoutEnquireMs: 2000,
    reconnectPeriodMs: 100,
    timeoutConnectionCheckClientSideMs: 300,
    timeoutConnectionCheckServerSideMs: 300,
    maxConnectionSize: 10,
    toProvider: 'round-robin',
    ...over,
  } as SmppConfig;
}

export function smppContext(over: Partial<SmppContext> = {}, config: Partial<SmppConfig> = {}): SmppContext {
  return {
    config: smppConfig(config),
    stats: new SmppStats(),
    log: silentLogger(),
    idleSupervision: false,
    connect: { timeoutMs: 1000, maxPduSize: 65536 },
    ...over,
  };
}

export const bindPdu = (seq: number, systemId = 'esme', password = 'pw'): Buffer =>
  encodeBind({ commandId: Cmd.bind_transceiver, systemId, password, systemType: '', interfaceVersion: 0x34, addrTon: 0, addrNpi: 0, addressRange: '' }, seq);

export const submitPdu = (seq: number): Buffer => encodePdu(Cmd.submit_sm, 0, seq, Buffer.from('\0\0\0', 'latin1'));
