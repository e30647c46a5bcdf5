// SMPP peers for end-to-end tests: ESMEs and SMSC simulators built on the `smpp` npm package (0.5.x), and a
// raw SMSC simulator that records the exact bytes it receives (the package re-encodes what it decodes).

import { createRequire } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import type { EventEmitter } from 'node:events';
import { Cmd, PduFramer, commandId, encodePdu, sequenceNumber } from '../../src/smpp/pdu.js';

const require = createRequire(import.meta.url);

/** A decoded PDU as the smpp package gives it. */
export interface SmppPdu {
  command: string;
  command_id: number;
  command_status: number;
  sequence_number: number;
  system_id?: string;
  message_id?: string;
  short_message?: unknown;
  [field: string]: unknown;
  response(options?: Record<string, unknown>): SmppPdu;
}

type Send = (options: Record<string, unknown>, onResponse?: (pdu: SmppPdu) => void) => boolean;

export interface SmppSession extends EventEmitter {
  readonly socket: net.Socket;
  send(pdu: SmppPdu, onResponse?: (pdu: SmppPdu) => void): boolean;
  close(cb?: () => void): void;
  destroy(cb?: () => void): void;
  bind_transceiver: Send;
  bind_transmitter: Send;
  submit_sm: Send;
  deliver_sm: Send;
  data_sm: Send;
  query_sm: Send;
  enquire_link: Send;
  unbind: Send;
}

interface SmppServer extends net.Server {
  sessions: SmppSession[];
}

interface SmppModule {
  connect(options: Record<string, unknown>): SmppSession;
  createServer(options: Record<string, unknown>, listener: (session: SmppSession) => void): SmppServer;
}

export const smpp = require('smpp') as SmppModule;

/** Resolves with the response to a request, or rejects after `timeoutMs`. */
export function request(session: SmppSession, command: keyof SmppSession & string, options: Record<string, unknown> = {}, timeoutMs = 5000): Promise<SmppPdu> {
  return new Promise<SmppPdu>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no response to ${command} within ${timeoutMs} ms`)), timeoutMs);
    const send = session[command] as Send;
    const sent = send.call(session, options, (pdu: SmppPdu) => {
      clearTimeout(timer);
      resolve(pdu);
    });
    if (!sent) {
      clearTimeout(timer);
      reject(new Error(`${command}: session not writable`));
    }
  });
}

export interface EsmeOptions {
  readonly port: number;
  readonly systemId: string;
  readonly password?: string;
  readonly tls?: { ca: string };
}

/** Connects an ESME and binds it as a transceiver; resolves with the session and the bind_resp. */
export async function bindEsme(opts: EsmeOptions): Promise<{ session: SmppSession; resp: SmppPdu }> {
  const session = smpp.connect({
    url: `${opts.tls ? 'ssmpp' : 'smpp'}://127.0.0.1:${opts.port}`,
    ...(opts.tls ? { ca: opts.tls.ca, servername: 'localhost' } : {}),
  });
  session.on('error', () => undefined);
  // Answer the broker's enquire_link like a healthy ESME.
  session.on('enquire_link', (pdu: SmppPdu) => session.send(pdu.response()));
  const resp = await request(session, 'bind_transceiver', { system_id: opts.systemId, password: opts.password ?? 'pw' });
  return { session, resp };
}

export function closeSession(session: SmppSession): Promise<void> {
  return new Promise<void>((resolve) => {
    if (session.socket.destroyed) return resolve();
    session.socket.once('close', () => resolve());
    session.destroy();
  });
}

export interface SubmitRecord {
  readonly systemId: string;
  /** The sequence number the SMSC saw (the broker's numbering on this connection). */
  readonly seq: number;
  readonly shortMessage: string;
}

/** An SMSC simulator on the smpp package: accepts any bind, answers submit_sm with a message id. */
export class SmscSimulator {
  readonly binds: string[] = [];
  readonly submits: SubmitRecord[] = [];
  /** seq of every enquire_link the broker sent. */
  enquireLinks = 0;
  /** unbind requests received from the broker. */
  unbinds = 0;
  /** The password of every bind, in order. */
  readonly passwords: string[] = [];
  /** When true, submit_sm gets no answer (enquire_link still does) until releaseHeld(). */
  silent = false;
  /** The answers held back while silent. */
  private held: (() => void)[] = [];
  /** When true, nothing is answered at all: a hung SMSC whose TCP connections stay open. */
  dead = false;
  private readonly server: SmppServer;
  private readonly bound = new Map<string, SmppSession>();
  port = 0;

  constructor(readonly name: string, tlsOptions?: { key: string; cert: string }) {
    this.server = smpp.createServer({ ...tlsOptions }, (session) => this.onSession(session));
  }

  async listen(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get sessionCount(): number {
    return this.server.sessions.length;
  }

  private onSession(session: SmppSession): void {
    session.on('error', () => undefined);
    let systemId = '';
    session.on('bind_transceiver', (pdu: SmppPdu) => {
      systemId = String(pdu.system_id);
      this.binds.push(systemId);
      this.passwords.push(String(pdu.password));
      this.bound.set(systemId, session);
      session.send(pdu.response({ system_id: this.name }));
    });
    session.on('submit_sm', (pdu: SmppPdu) => {
      this.submits.push({ systemId, seq: pdu.sequence_number, shortMessage: String(pdu.short_message && (pdu.short_message as { message?: string }).message) });
      const messageId = `${this.name}-${this.submits.length}`;
      if (this.dead) return;
      if (this.silent) this.held.push(() => session.send(pdu.response({ message_id: messageId })));
      else session.send(pdu.response({ message_id: messageId }));
    });
    session.on('enquire_link', (pdu: SmppPdu) => {
      this.enquireLinks++;
      if (!this.dead) session.send(pdu.response());
    });
    session.on('unbind', (pdu: SmppPdu) => {
      this.unbinds++;
      if (this.bound.get(systemId) === session) this.bound.delete(systemId);
      session.send(pdu.response());
      session.close();
    });
  }

  /** Sends deliver_sm to the ESME bound with `systemId` through this SMSC; resolves with its response. */
  deliver(systemId: string, text: string): Promise<SmppPdu> {
    const session = this.bound.get(systemId);
    if (!session) return Promise.reject(new Error(`${systemId} is not bound to ${this.name}`));
    return request(session, 'deliver_sm', { source_addr: '123', destination_addr: '456', short_message: text });
  }

  /** Sends the submit_sm_resp held back while silent, in order. */
  releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const answer of held) answer();
  }

  /** Sends a delivery receipt (esm_class 0x04, receipted_message_id and the `id:` text) for `messageId`. */
  deliverReceipt(systemId: string, messageId: string): Promise<SmppPdu> {
    const session = this.bound.get(systemId);
    if (!session) return Promise.reject(new Error(`${systemId} is not bound to ${this.name}`));
    return request(session, 'deliver_sm', {
      source_addr: '456',
      destination_addr: '123',
      esm_class: 0x04,
      receipted_message_id: messageId,
      short_message: `id:${messageId} sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:DELIVRD err:000 text:`,
    });
  }

  /** Drops every connection and stops listening (a crashed SMSC). */
  async kill(): Promise<void> {
    for (const s of [...this.server.sessions]) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * An SMSC simulator with raw sockets and the broker's own framer: answers bind and enquire_link, records
 * every other PDU's bytes exactly as received, and answers submit_sm with submit_sm_resp.
 */
export class RawSmsc {
  readonly received: Buffer[] = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  /** A non-zero status refuses every bind with it (an SMSC that does not know the ESME). */
  refuseBind = 0;
  binds = 0;
  /** How every answer is written: replace it to send something else (the SMSC-side fuzzer mutates them). */
  answer: (socket: net.Socket, pdu: Buffer) => void = (socket, pdu) => void socket.write(pdu);
  /** Over TLS: each connection's negotiated cipher and the CN of the certificate the balancer offered. */
  readonly tlsPeers: { cipher: string; clientCn: string | undefined }[] = [];

  constructor(tlsOptions?: tls.TlsOptions) {
    const onSocket = (socket: net.Socket): void => {
      this.sockets.add(socket);
      if (socket instanceof tls.TLSSocket) {
        const cn = socket.getPeerCertificate().subject?.CN;
        this.tlsPeers.push({ cipher: socket.getCipher().name, clientCn: Array.isArray(cn) ? cn[0] : cn });
      }
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      const framer = new PduFramer(1 << 20, (pdu) => this.onPdu(socket, Buffer.from(pdu)), () => socket.destroy());
      socket.on('data', (chunk: Buffer) => framer.push(chunk));
    };
    this.server = tlsOptions ? tls.createServer(tlsOptions, onSocket) : net.createServer(onSocket);
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  private onPdu(socket: net.Socket, pdu: Buffer): void {
    const id = commandId(pdu);
    const seq = sequenceNumber(pdu);
    if (id === Cmd.bind_transceiver || id === Cmd.bind_transmitter || id === Cmd.bind_receiver) {
      this.binds++;
      this.answer(socket, encodePdu((id | 0x80000000) >>> 0, this.refuseBind, seq, Buffer.from('raw\0', 'latin1')));
      return;
    }
    if (id === Cmd.enquire_link) {
      this.answer(socket, encodePdu(Cmd.enquire_link_resp, 0, seq));
      return;
    }
    this.received.push(pdu);
    if (id === Cmd.submit_sm) this.answer(socket, encodePdu(Cmd.submit_sm_resp, 0, seq, Buffer.from(`m${this.received.length}\0`, 'latin1')));
    if (id === Cmd.unbind) this.answer(socket, encodePdu(Cmd.unbind_resp, 0, seq));
  }

  /** Writes raw bytes to every connected broker session (deliver_sm tests). */
  sendToAll(bytes: Buffer): void {
    for (const s of this.sockets) s.write(bytes);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A raw TCP client: writes bytes and collects PDUs (for malformed input the smpp package cannot send). */
export class RawEsme {
  readonly pdus: Buffer[] = [];
  readonly socket: net.Socket;
  closed = false;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.on('error', () => undefined);
    const framer = new PduFramer(1 << 20, (pdu) => {
      this.pdus.push(Buffer.from(pdu));
    }, () => undefined);
    this.socket.on('data', (chunk: Buffer) => framer.push(chunk));
    this.socket.on('close', () => {
      this.closed = true;
    });
  }

  connected(): Promise<void> {
    return new Promise<void>((resolve) => this.socket.once('connect', () => resolve()));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * lb.properties for a daemon that runs the SMPP broker alone: port 0 for the SIP, heartbeat, statistics and
 * SMPP listeners (the daemon reports what it bound: daemon.port('smppPort')), HTTP off.
 */
export function smppDaemonProperties(extra: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  return { host: '127.0.0.1', externalPort: 0, heartbeatPort: 0, statisticPort: 0, smppPort: 0, httpPort: '', ...extra };
}
