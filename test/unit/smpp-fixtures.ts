// Shared pieces of the SMPP state-machine unit tests: a socket that records writes, a context, and PDUs.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { SmppConfig } from '../../src/config/types.js';
import type { SmppContext } from '../../src/smpp/context.js';
import { SmppStats } from '../../src/smpp/smpp-stats.js';
import { silentLogger } from '../../src/log.js';
import { RateLimitedLog } from '../../src/log-limit.js';
import { Cmd, PduFramer, commandId, encodeBind, encodePdu, sequenceNumber } from '../../src/smpp/pdu.js';

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
    muxMode: false,
    muxReceiptMemory: 1000,
    muxReceiptLifetimeMs: 60_000,
    ...over,
  } as SmppConfig;
}

export function smppContext(over: Partial<SmppContext> = {}, config: Partial<SmppConfig> = {}): SmppContext {
  return {
    config: smppConfig(config),
    stats: new SmppStats(),
    log: silentLogger(),
    warnings: new RateLimitedLog(silentLogger()),
    idleSupervision: false,
    countSessionBytes: true,
    connect: { timeoutMs: 1000, maxPduSize: 65536 },
    ...over,
  };
}

export const bindPdu = (seq: number, systemId = 'esme', password = 'pw'): Buffer =>
  encodeBind({ commandId: Cmd.bind_transceiver, systemId, password, systemType: '', interfaceVersion: 0x34, addrTon: 0, addrNpi: 0, addressRange: '' }, seq);

export const submitPdu = (seq: number): Buffer => encodePdu(Cmd.submit_sm, 0, seq, Buffer.from('\0\0\0', 'latin1'));

/** Answers binds with `bindStatus`, enquire_link and unbind; records everything else. */
export class TinySmsc {
  readonly received: Buffer[] = [];
  readonly sockets: net.Socket[] = [];
  bindStatus = 0;
  /** When true, binds get no answer (a bind still pending). */
  holdBinds = false;
  /** When true, enquire_link gets no answer (a hung SMSC); `enquires` counts them. */
  mute = false;
  enquires = 0;
  /** Binds and unbinds received, across connections. */
  binds = 0;
  unbinds = 0;
  port = 0;
  private readonly server = net.createServer((socket) => {
    this.sockets.push(socket);
    socket.on('error', () => undefined);
    const framer = new PduFramer(65536, (pdu) => {
      const id = commandId(pdu);
      const seq = sequenceNumber(pdu);
      if (id === Cmd.bind_transceiver) this.binds++;
      if (id === Cmd.unbind) this.unbinds++;
      if (id === Cmd.bind_transceiver && !this.holdBinds) socket.write(encodePdu(Cmd.bind_transceiver_resp, this.bindStatus, seq, Buffer.from('tiny\0')));
      else if (id === Cmd.enquire_link) {
        this.enquires++;
        if (!this.mute) socket.write(encodePdu(Cmd.enquire_link_resp, 0, seq));
      }
      else if (id === Cmd.unbind) socket.write(encodePdu(Cmd.unbind_resp, 0, seq));
      else this.received.push(Buffer.from(pdu));
    }, () => socket.destroy());
    socket.on('data', (c: Buffer) => framer.push(c));
  });

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  send(pdu: Buffer): void {
    this.sockets[this.sockets.length - 1]!.write(pdu);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
