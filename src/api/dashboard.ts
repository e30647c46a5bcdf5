// The dashboard on statisticPort: `/` and `/dashboard` serve the page, `/dashboard/state` the JSON it polls
// (nodes, rates over the last minute, active calls and connections, drops by reason, recent events).
// Rates come from a one-second sampler of the traffic counters, so a page opened now shows the last minute.

import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';
import type { Stats } from '../stats/stats.js';
import type { EventJournal } from '../stats/events.js';
import { DASHBOARD_HTML, DASHBOARD_SCRIPT, DASHBOARD_STYLE } from './dashboard-page.js';
import { guardedInterval } from '../timers.js';

export interface DashboardSources {
  readonly stats: Stats;
  readonly registry: NodeRegistry;
  readonly journal: EventJournal;
  readonly version: string;
  readonly algorithmName: () => string;
  readonly activeCalls: () => number;
  readonly reloads?: () => { readonly succeeded: number; readonly failed: number };
}

type Protocol = 'sip' | 'http' | 'smpp';
type Totals = Record<Protocol, number>;

const WINDOW_SECONDS = 60;

/** Traffic totals sampled once a second; the last WINDOW_SECONDS + 1 samples are kept. */
export class RateSampler {
  private readonly samples: { at: number; totals: Totals }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly read: () => Totals,
    private readonly now: () => number = Date.now,
  ) {}

  start(intervalMs = 1000): void {
    this.sample();
    this.timer = guardedInterval('Dashboard sample', intervalMs, () => this.sample());
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(): void {
    this.samples.push({ at: this.now(), totals: this.read() });
    if (this.samples.length > WINDOW_SECONDS + 1) this.samples.shift();
  }

  /** Per protocol: the mean rate per second over the kept window (up to now) and the per-sample rates. */
  rates(): { windowSeconds: number } & Record<Protocol, { perSecond: number; series: number[] }> {
    const now = { at: this.now(), totals: this.read() };
    const first = this.samples[0] ?? now;
    const span = Math.max(1, now.at - first.at) / 1000;
    const out = { windowSeconds: Math.round(span) } as { windowSeconds: number } & Record<Protocol, { perSecond: number; series: number[] }>;
    for (const p of ['sip', 'http', 'smpp'] as const) {
      const series: number[] = [];
      for (let i = 1; i < this.samples.length; i++) {
        const a = this.samples[i - 1]!;
        const b = this.samples[i]!;
        series.push(round2(((b.totals[p] - a.totals[p]) * 1000) / Math.max(1, b.at - a.at)));
      }
      out[p] = { perSecond: round2((now.totals[p] - first.totals[p]) / span), series };
    }
    return out;
  }
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** sha256 source hashes for the Content-Security-Policy: only our own inline script and style may run. */
function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}
const CSP = [
  "default-src 'none'",
  `script-src ${cspHash(DASHBOARD_SCRIPT)}`,
  `style-src ${cspHash(DASHBOARD_STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export class Dashboard {
  /** The paths the API server routes here. */
  static readonly PATHS = ['/', '/dashboard', '/dashboard/state'] as const;
  private readonly sampler: RateSampler;

  constructor(private readonly sources: DashboardSources) {
    const { stats } = sources;
    this.sampler = new RateSampler(() => {
      const registered = stats.protocolFields();
      return {
        sip: num(registered.NumberOfRequestsProcessed) + num(registered.NumberOfResponsesProcessed),
        http: num(registered.NumberOfHttpRequests),
        smpp: num(registered.NumberOfSmppRequestsToServer) + num(registered.NumberOfSmppRequestsToClient),
      };
    });
  }

  start(): void {
    this.sampler.start();
  }

  stop(): void {
    this.sampler.stop();
  }

  /** Serves the page or its state; false for a path that is not one of PATHS. */
  serve(path: string, res: ServerResponse): boolean {
    if (path === '/' || path === '/dashboard') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(DASHBOARD_HTML),
        'cache-control': 'no-store',
        'content-security-policy': CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(DASHBOARD_HTML);
      return true;
    }
    if (path === '/dashboard/state') {
      const body = JSON.stringify(this.state());
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(body);
      return true;
    }
    return false;
  }

  /** What the page shows, as JSON. */
  state(): Record<string, unknown> {
    const { stats, registry, journal } = this.sources;
    const now = Date.now();
    const latest = registry.latestVersion;
    const dropped: Record<string, number> = {};
    const add = (key: string, n: number): void => {
      if (n > 0) dropped[key] = n;
    };
    // Each protocol only through its /lbstat fields: the API imports no protocol.
    const registered = stats.protocolFields();
    for (const [reason, n] of Object.entries((registered.SipDroppedByReason ?? {}) as Record<string, unknown>)) add(`SIP ${reason}`, num(n));
    add('SIP malformed', num(registered.SipMalformedMessages));
    add('SIP looped', num(registered.SipLoopedRequests));
    add('SIP no node (503)', num(registered.SipNoNodeAvailable));
    add('HTTP no node', num(registered.HttpNoNodeAvailable));
    add('HTTP backend errors', num(registered.HttpBackendErrors));
    for (const [reason, n] of Object.entries((registered.SmppRejectedByReason ?? {}) as Record<string, unknown>)) add(`SMPP ${reason}`, num(n));
    add('SMPP not responded', num(registered.SmppNotRespondedPackets));
    return {
      version: this.sources.version,
      uptimeSeconds: Math.round(process.uptime()),
      algorithm: this.sources.algorithmName(),
      nodes: registry.all().map((n) => nodeRow(n, now, n.version === latest)),
      rates: this.sampler.rates(),
      activeCalls: this.sources.activeCalls(),
      connections: { sip: num(registered.NumberOfActiveSipConnections), http: num(registered.NumberOfActiveHttpConnections), smpp: num(registered.NumberOfActiveSmppConnections) },
      dropped,
      reloads: this.sources.reloads?.() ?? { succeeded: 0, failed: 0 },
      nodeEvents: journal.recent(['node-added', 'node-removed', 'node-state', 'probe']).slice(0, 20),
      reloadEvents: journal.recent(['reload', 'reload-failed']).slice(0, 10),
    };
  }
}

function nodeRow(n: ServerNode, now: number, latest: boolean): Record<string, unknown> {
  const transports = Object.entries(n.ports).map(([t, p]) => `${t}:${String(p)}`);
  if (n.httpPort !== undefined) transports.push(`http:${n.httpPort}`);
  if (n.sslPort !== undefined) transports.push(`https:${n.sslPort}`);
  if (n.smppPort !== undefined) transports.push(`smpp:${n.smppPort}`);
  return {
    id: n.id,
    hostname: n.hostname,
    address: n.ip,
    transports,
    version: n.version,
    latest,
    state: n.state,
    reason: n.badReason,
    heartbeatAgeMs: n.permanent ? undefined : now - n.lastSeen,
    probe: n.probe && { state: n.probe.state, rttMs: n.probe.lastRttMs, ageMs: n.probe.lastAnswerAt !== undefined ? now - n.probe.lastAnswerAt : undefined },
    newCalls: n.newCalls,
    routedRequests: n.routedRequests,
  };
}
