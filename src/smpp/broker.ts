// The SMPP broker: listens for ESMEs (TCP on smppPort, TLS on smppSslPort) and hands each one to regular mode
// (a session with its own upstream SMSC connection) or to mux mode (the user space of its system_id, sharing
// one bind per SMSC); drives every timer from one sweep timer; follows the server list at run time.

import net from 'node:net';
import tls from 'node:tls';
import type { Config, HostPort } from '../config/types.js';
import type { Logger } from '../log.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { SmppStats } from './smpp-stats.js';
import { listen } from '../listen.js';
import { clientTlsOptions, serverTlsOptions } from '../config/tls-options.js';
import { SmscList } from './server-list.js';
import { SmppSession, type SessionContext } from './session.js';
import { RateLimitedLog } from '../log-limit.js';
import { MuxLobby } from './mux/lobby.js';
import { guardedInterval } from '../timers.js';
import type { BoundListeners } from '../bound-listeners.js';

/** How often a drain looks whether the requests in flight are answered. */
const DRAIN_CHECK_MS = 20;

export class SmppBroker {
  private readonly sessions = new Set<SmppSession>();
  private readonly servers: net.Server[] = [];
  private readonly list: SmscList;
  private readonly sessionCtx: SessionContext;
  /** Mux mode's ESMEs and user spaces; undefined in regular mode. */
  private readonly mux: MuxLobby | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Set by the first drain(): the listeners' close, and the wait for the requests in flight. */
  private draining: { closed: Promise<void>[]; idle: Promise<void> } | undefined;

  constructor(
    private readonly config: Config,
    registry: NodeRegistry | undefined,
    private readonly stats: SmppStats,
    private readonly log: Logger,
    private readonly listeners?: BoundListeners,
  ) {
    const smpp = config.smpp;
    this.list = new SmscList(smpp.remoteServers, registry);
    this.sessionCtx = {
      config: smpp,
      stats,
      log,
      warnings: new RateLimitedLog(log),
      servers: this.list,
      idleSupervision: smpp.muxMode,
      countSessionBytes: !smpp.muxMode,
      connect: {
        tls: smpp.isRemoteServerSsl ? clientTlsOptions(config.tls) : undefined,
        localAddress: smpp.internalHost,
        timeoutMs: smpp.timeoutResponseMs,
        maxPduSize: smpp.maxPduSize,
      },
      onClosed: (session) => this.sessions.delete(session),
    };
    this.mux = smpp.muxMode ? new MuxLobby(this.sessionCtx, this.list) : undefined;
    this.list.onChange = () => {
      const servers = this.list.servers().map((s) => `${s.host}:${s.port}`).join(', ');
      this.log.info(`SMPP remote servers now: ${servers === '' ? '(none)' : servers}`);
      this.mux?.serversChanged();
    };
  }

  /**
   * Replaces `remoteServers` (hot reload). Mux mode binds every user space to the new SMSCs and drains the
   * removed ones; regular mode uses the new list for the next binds and leaves bound sessions where they are.
   */
  setRemoteServers(servers: readonly HostPort[]): void {
    this.list.setRemoteServers(servers);
  }

  /** The SMPP sessions for /lbinfo: mux mode's user spaces, or regular mode's ESME/SMSC pairs. */
  info(): Record<string, unknown> {
    return {
      mode: this.mux ? 'mux' : 'regular',
      remoteServers: this.list.servers().map((s) => `${s.host}:${s.port}`),
      ...(this.mux ? { userSpaces: this.mux.info() } : { sessions: [...this.sessions].map((s) => s.info()) }),
    };
  }

  /** Sessions open now (for tests and /lbinfo). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  async start(): Promise<void> {
    const smpp = this.config.smpp;
    const host = smpp.externalHost;
    if (smpp.port !== undefined) {
      const server = net.createServer((socket) => this.accept(socket));
      const port = await this.listen(server, host, smpp.port, 'smppPort');
      this.log.info(`SMPP Load Balancer started at ${host} : ${port}`);
    }
    if (smpp.sslPort !== undefined) {
      const server = tls.createServer(
        serverTlsOptions(this.config.tls, `smppSslPort=${smpp.sslPort}`),
        (socket) => this.accept(socket),
      );
      server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'TLS handshake with an ESME failed'));
      const port = await this.listen(server, host, smpp.sslPort, 'smppSslPort');
      this.log.info(`SMPP Load Balancer uses port : ${port} for TLS clients.`);
    }
    const servers = this.list.servers().map((s) => `${s.host}:${s.port}`).join(', ');
    this.log.info(`SMPP remote servers: ${servers === '' ? '(none yet)' : servers}; ${this.mux ? 'mux mode (the ESMEs of a system_id share one bind per SMSC)' : 'regular mode (one SMSC bind per ESME)'}`);
    const sweepMs = Math.max(
      5,
      Math.min(1000, Math.floor(Math.min(smpp.timeoutResponseMs, smpp.timeoutConnectionMs, smpp.timeoutEnquireMs,
        smpp.timeoutConnectionCheckClientSideMs, smpp.timeoutConnectionCheckServerSideMs) / 5)),
    );
    this.sweepTimer = guardedInterval('SMPP session sweep', sweepMs, () => this.sweep(), this.log);
  }

  /** Requests awaiting an answer, either way, in every session. */
  get inflight(): number {
    let n = this.mux?.inflight ?? 0;
    for (const session of this.sessions) n += session.inflight;
    return n;
  }

  /**
   * Stops accepting ESMEs and resolves once every request in flight has its answer: from the peer, or the
   * broker's own ESME_RSYSERR after timeoutResponse, which the sweep (still running) sends. So the wait is bounded
   * by timeoutResponse, and the whole shutdown by shutdownTimeout.
   */
  drain(): Promise<void> {
    if (!this.draining) {
      const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      const pending = this.inflight;
      if (pending > 0) this.log.info(`SMPP: no new ESME connections; waiting for the answers to ${pending} request(s) in flight`);
      this.draining = { closed, idle: this.whenIdle(this.config.smpp.timeoutResponseMs + 1000) };
    }
    return this.draining.idle;
  }

  /** Drains, then unbinds every ESME and SMSC and closes their connections. */
  async stop(): Promise<void> {
    await this.drain();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const session of [...this.sessions]) session.shutdown();
    this.sessions.clear();
    this.mux?.shutdown();
    await Promise.all(this.draining!.closed);
    this.servers.length = 0;
    this.list.dispose();
    this.log.info(`SMPP Load Balancer stopped at ${this.config.smpp.externalHost}`);
  }

  /** Resolves when nothing is in flight, or after `boundMs` (a peer that never answers an enquire_link). */
  private whenIdle(boundMs: number): Promise<void> {
    const deadline = Date.now() + boundMs;
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.inflight > 0 && Date.now() < deadline) return;
        clearInterval(timer);
        resolve();
      };
      const timer = setInterval(check, DRAIN_CHECK_MS);
      timer.unref();
      check();
    });
  }

  private accept(socket: net.Socket): void {
    if (this.mux) {
      this.mux.accept(socket, Date.now());
      return;
    }
    const session = new SmppSession(socket, this.sessionCtx, Date.now());
    this.sessions.add(session);
  }

  private sweep(): void {
    const now = Date.now();
    for (const session of this.sessions) session.sweep(now);
    this.mux?.sweep(now);
  }

  /** Binds a listener; resolves with its port (the bound one: the configuration may say 0). */
  private async listen(server: net.Server, host: string, port: number, key: string): Promise<number> {
    const bound = await listen(server, port, host, { what: `SMPP (${key})`, onError: (err) => this.log.error({ err }, `SMPP listener ${host}:${bound} failed`) });
    this.servers.push(server);
    this.listeners?.add(key, 'tcp', host, bound);
    return bound;
  }
}
