// Static nodes probed with SIP OPTIONS, for servers that cannot heartbeat (Asterisk, FreeSWITCH, a carrier):
// each `staticNodes` entry is a never-expiring registry node; it is out (bad) after nodeProbeFailures missed
// probes in a row and back after nodeProbeSuccesses answers. A node that also heartbeats at the same address
// is one node: the static entry steps aside and its probes are applied to the heartbeating node.

import { createSocket, type Socket } from 'node:dgram';
import { connect as tcpConnect, isIP, type Socket as TcpSocket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { lookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import type { ProbeConfig, StaticNodeEntry } from '../config/types.js';
import type { Logger } from '../log.js';
import type { NodeRegistry } from './node-registry.js';
import type { ProbeState, ServerNode } from './server-node.js';
import { guardedInterval } from '../timers.js';
import { optionsRequest, readResponseHead } from './probe-message.js';

export interface ProbeOptions extends Omit<ProbeConfig, 'staticNodes'> {
  /** The address probes are sent from (the balancer's internal host). */
  readonly localHost: string;
  /** TLS client options for transport=tls (trust store, verification). */
  readonly tls?: { readonly ca?: string | Buffer | (string | Buffer)[]; readonly rejectUnauthorized?: boolean };
}

const BAD_PREFIX = 'probe: ';

/** One probed address and what the probes found there. */
class Target {
  /** The static node we registered, while no heartbeating node sits at the same address. */
  own: ServerNode | undefined;
  readonly status: ProbeState = { state: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 };
  /** Call-ID of the probe in flight and when it was sent. */
  pendingCallId: string | undefined;
  pendingSince = 0;
  /** True while a node is bad because of this prober (so that only we restore it). */
  markedBad = false;
  cseq = 1;

  constructor(
    readonly entry: StaticNodeEntry,
    readonly ip: string,
  ) {}

  get key(): string {
    return targetKey(this.entry);
  }
}

function targetKey(e: StaticNodeEntry): string {
  return `${e.transport}:${e.host}:${e.port}:${e.version}`;
}

export class NodeProber {
  private targets = new Map<string, Target>();
  private opts: ProbeOptions;
  private udp4: Socket | undefined;
  private udp6: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private readonly byCallId = new Map<string, Target>();
  private readonly onAdded = (node: ServerNode): void => this.heartbeatingNodeAdded(node);
  private readonly onRemoved = (node: ServerNode): void => this.nodeRemoved(node);

  constructor(
    private readonly registry: NodeRegistry,
    opts: ProbeOptions,
    private readonly log: Logger,
    /** Reports state changes (for the dashboard's node events). */
    private readonly onEvent: (text: string) => void = () => undefined,
  ) {
    this.opts = opts;
  }

  /** Resolves the entries, registers them and sends the first probes at once. */
  async start(entries: readonly StaticNodeEntry[]): Promise<void> {
    this.registry.on('added', this.onAdded);
    this.registry.on('removed', this.onRemoved);
    await this.update(entries, this.opts);
  }

  /**
   * Applies a new list and new timing (start-up and hot reload): entries no longer listed are removed,
   * new ones registered and probed at once, unchanged ones keep their probe state.
   */
  async update(entries: readonly StaticNodeEntry[], opts: ProbeOptions): Promise<void> {
    const resolved = await Promise.all(entries.map(async (e) => ({ e, ip: isIP(e.host) ? e.host : (await lookup(e.host)).address })));
    const timingChanged = opts.intervalMs !== this.opts.intervalMs || this.timer === undefined;
    this.opts = opts;
    const wanted = new Map(resolved.map(({ e, ip }) => [targetKey(e), { e, ip }]));
    for (const [key, target] of this.targets) {
      const next = wanted.get(key);
      if (next && next.ip === target.ip) continue;
      this.targets.delete(key);
      if (target.own) this.registry.remove(target.own, 'removed from staticNodes');
      else {
        const hb = this.heartbeatingNodeAt(target);
        if (hb) {
          hb.probe = undefined;
          if (target.markedBad) this.registry.setState(hb, 'active', 'no longer probed');
        }
      }
    }
    const fresh: Target[] = [];
    for (const [key, { e, ip }] of wanted) {
      if (this.targets.has(key)) continue;
      const target = new Target(e, ip);
      this.targets.set(key, target);
      this.attach(target);
      fresh.push(target);
    }
    if (this.targets.size > 0) await this.openSockets();
    if (timingChanged) this.schedule();
    for (const t of fresh) this.send(t);
    if (this.targets.size === 0) this.closeTimers();
  }

  stop(): void {
    this.registry.off('added', this.onAdded);
    this.registry.off('removed', this.onRemoved);
    this.closeTimers();
    this.udp4?.close();
    this.udp6?.close();
    this.udp4 = this.udp6 = undefined;
    this.byCallId.clear();
  }

  /** How long after a node stops answering it is out, at most (for logs and documentation). */
  static detectionBoundMs(opts: Pick<ProbeConfig, 'intervalMs' | 'timeoutMs' | 'failures'>): number {
    return opts.failures * opts.intervalMs + opts.timeoutMs;
  }

  private closeTimers(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timer = this.timeoutTimer = undefined;
  }

  private schedule(): void {
    this.closeTimers();
    this.timer = guardedInterval('Static node probe round', this.opts.intervalMs, () => this.round(), this.log);
  }

  private round(): void {
    for (const t of this.targets.values()) this.send(t);
    // One timer per round expires the probes still unanswered after nodeProbeTimeout.
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = setTimeout(() => this.expire(), this.opts.timeoutMs + 5);
    this.timeoutTimer.unref();
  }

  private expire(): void {
    const deadline = Date.now() - this.opts.timeoutMs;
    for (const t of this.targets.values()) {
      if (t.pendingCallId !== undefined && t.pendingSince <= deadline) this.missed(t, `no answer within ${this.opts.timeoutMs} ms`);
    }
  }

  /** Registers the target's own node unless a heartbeating node already sits at its address. */
  private attach(target: Target, leaving?: ServerNode): void {
    const hb = this.heartbeatingNodeAt(target, leaving);
    if (hb) {
      hb.probe = target.status;
      return;
    }
    const e = target.entry;
    const node = this.registry.register({
      ip: target.ip,
      hostname: `static-${e.host}:${e.port}`,
      ports: { [e.transport]: e.port },
      version: e.version,
      permanent: true,
      properties: { staticNode: 'true' },
    });
    node.probe = target.status;
    target.own = node;
    if (target.status.state !== 'up') {
      this.registry.setState(node, 'bad', `${BAD_PREFIX}${target.status.state === 'unknown' ? 'waiting for the first answer to OPTIONS' : 'not answering OPTIONS'}`);
      target.markedBad = true;
    }
  }

  private heartbeatingNodeAt(target: Target, leaving?: ServerNode): ServerNode | undefined {
    for (const node of this.registry.all()) {
      if (node !== target.own && node !== leaving && !node.permanent && node.ip === target.ip && node.ports[target.entry.transport] === target.entry.port) return node;
    }
    return undefined;
  }

  private heartbeatingNodeAdded(node: ServerNode): void {
    if (node.permanent) return;
    for (const t of this.targets.values()) {
      if (t.own && node.ip === t.ip && node.ports[t.entry.transport] === t.entry.port) {
        // One node, not two: the heartbeating node takes over and carries the probe state.
        const own = t.own;
        t.own = undefined;
        node.probe = t.status;
        this.registry.remove(own, 'the node heartbeats now (one node, probed and heartbeating)');
        if (t.status.state === 'down') {
          this.registry.setState(node, 'bad', `${BAD_PREFIX}not answering OPTIONS`);
          t.markedBad = true;
        } else t.markedBad = false;
      }
    }
  }

  private nodeRemoved(node: ServerNode): void {
    if (node.permanent) return;
    for (const t of this.targets.values()) {
      if (!t.own && node.probe === t.status && this.targets.get(t.key) === t) {
        // The heartbeating node left: the static entry is the node again.
        node.probe = undefined;
        this.attach(t, node);
      }
    }
  }

  /** The node the target's results apply to. */
  private nodeOf(t: Target): ServerNode | undefined {
    return t.own ?? this.heartbeatingNodeAt(t);
  }

  private async openSockets(): Promise<void> {
    const needV4 = [...this.targets.values()].some((t) => t.entry.transport === 'udp' && isIP(t.ip) === 4);
    const needV6 = [...this.targets.values()].some((t) => t.entry.transport === 'udp' && isIP(t.ip) === 6);
    if (needV4 && !this.udp4) this.udp4 = await this.bindUdp('udp4', isIP(this.opts.localHost) === 4 ? this.opts.localHost : '0.0.0.0');
    if (needV6 && !this.udp6) this.udp6 = await this.bindUdp('udp6', isIP(this.opts.localHost) === 6 ? this.opts.localHost : '::');
  }

  private bindUdp(type: 'udp4' | 'udp6', host: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = createSocket(type);
      socket.once('error', reject);
      socket.on('message', (msg) => this.onResponse(msg.toString('latin1')));
      socket.bind(0, host, () => {
        socket.off('error', reject);
        // An ICMP error on a probe socket is a miss for that probe, found by the timeout; never a crash.
        socket.on('error', (err) => this.log.debug({ err }, 'probe socket error'));
        socket.unref();
        resolve(socket);
      });
    });
  }

  private send(t: Target): void {
    if (t.pendingCallId !== undefined) {
      // The previous probe is still unanswered: it counts as missed before a new one goes out.
      if (Date.now() - t.pendingSince >= this.opts.timeoutMs) this.missed(t, `no answer within ${this.opts.timeoutMs} ms`);
      else return;
    }
    const callId = `${randomBytes(8).toString('hex')}@sipbalancer-probe`;
    const branch = `z9hG4bK-sbprobe-${randomBytes(6).toString('hex')}`;
    t.pendingCallId = callId;
    t.pendingSince = Date.now();
    t.status.lastProbeAt = t.pendingSince;
    this.byCallId.set(callId, t);
    if (t.entry.transport === 'udp') {
      const socket = isIP(t.ip) === 6 ? this.udp6 : this.udp4;
      if (!socket) return;
      const addr = socket.address();
      socket.send(optionsRequest(t.entry, t.ip, t.cseq++, addr.address === '0.0.0.0' || addr.address === '::' ? this.opts.localHost : addr.address, addr.port, callId, branch), t.entry.port, t.ip);
      return;
    }
    this.sendOnStream(t, callId, branch);
  }

  /** TCP/TLS: one connection per probe, closed after the answer (the round-trip time includes the connect). */
  private sendOnStream(t: Target, callId: string, branch: string): void {
    const e = t.entry;
    const onConnect = (): void => {
      socket.write(optionsRequest(t.entry, t.ip, t.cseq++, socket.localAddress ?? this.opts.localHost, socket.localPort ?? 0, callId, branch));
    };
    const socket: TcpSocket =
      e.transport === 'tls'
        ? tlsConnect({ host: t.ip, port: e.port, servername: isIP(e.host) ? undefined : e.host, ca: this.opts.tls?.ca, rejectUnauthorized: this.opts.tls?.rejectUnauthorized ?? true }, onConnect)
        : tcpConnect({ host: t.ip, port: e.port, localAddress: isIP(this.opts.localHost) === isIP(t.ip) ? this.opts.localHost : undefined }, onConnect);
    let head = '';
    socket.setTimeout(this.opts.timeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end >= 0) {
        this.onResponse(head.slice(0, end + 2));
        socket.destroy();
      } else if (head.length > 65_536) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (t.pendingCallId === callId) this.missed(t, 'connection closed without an answer');
    });
  }

  private onResponse(text: string): void {
    const head = readResponseHead(text);
    if (!head) return;
    const t = this.byCallId.get(head.callId);
    if (!t || t.pendingCallId !== head.callId) return;
    if (head.status < 200) return; // provisional: wait for the final answer
    const rtt = Date.now() - t.pendingSince;
    this.byCallId.delete(head.callId);
    t.pendingCallId = undefined;
    if (this.opts.aliveStatuses.some(([lo, hi]) => head.status >= lo && head.status <= hi)) this.answered(t, rtt, head.status);
    else this.missed(t, `answered ${head.status}`, rtt);
  }

  private answered(t: Target, rtt: number, status: number): void {
    const s = t.status;
    s.lastRttMs = rtt;
    s.lastAnswerAt = Date.now();
    s.lastStatus = status;
    s.consecutiveFailures = 0;
    s.consecutiveSuccesses++;
    // The first answer after start-up brings a node in at once; a node that was out needs nodeProbeSuccesses.
    if (s.state === 'unknown' || (s.state === 'down' && s.consecutiveSuccesses >= this.opts.successes)) this.moveTo(t, 'up');
  }

  private missed(t: Target, why: string, rtt?: number): void {
    if (t.pendingCallId !== undefined) this.byCallId.delete(t.pendingCallId);
    t.pendingCallId = undefined;
    const s = t.status;
    if (rtt !== undefined) s.lastRttMs = rtt;
    s.consecutiveSuccesses = 0;
    s.consecutiveFailures++;
    s.lastFailure = why;
    if (s.state !== 'down' && s.consecutiveFailures >= this.opts.failures) this.moveTo(t, 'down');
  }

  /**
   * The one place a target goes up or down: the node's registry state, the dashboard's event and the log line
   * all follow from here, worded from the counts answered() and missed() just recorded.
   */
  private moveTo(t: Target, to: 'up' | 'down'): void {
    const s = t.status;
    const was = s.state;
    s.state = to;
    const node = this.nodeOf(t);
    const where = `${t.entry.host}:${t.entry.port}`;
    if (to === 'up') {
      if (node && t.markedBad) this.registry.setState(node, 'active', `answered ${s.consecutiveSuccesses} OPTIONS probe(s) (${s.lastStatus}, ${s.lastRttMs} ms)`);
      t.markedBad = false;
      if (was === 'down') this.onEvent(`static node ${where} answers OPTIONS again: back in`);
      this.log.info(`Probed node ${where} (${t.entry.transport}) is up: answered ${s.lastStatus} in ${s.lastRttMs} ms`);
      return;
    }
    const why = s.lastFailure ?? 'no answer';
    if (node) {
      this.registry.setState(node, 'bad', `${BAD_PREFIX}${s.consecutiveFailures} OPTIONS probes missed (last: ${why})`);
      t.markedBad = node.state === 'bad';
    }
    this.onEvent(`static node ${where} missed ${s.consecutiveFailures} OPTIONS probes (${why}): out`);
    this.log.warn(`Probed node ${where} (${t.entry.transport}) is down: ${s.consecutiveFailures} probes missed (last: ${why})`);
  }
}
