// The statisticPort server: /lbstat (the original's JSON), /lbinfo (nodes, pins), /metrics (Prometheus),
// and the original's admin endpoints /lbstop, /lbloglevel and /lbnoderegex. One table of routes.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiConfig, HostPort } from '../config/types.js';
import { normaliseLogLevel, type Logger } from '../log.js';
import { closeHttpServer, listen } from '../listen.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';
import type { Stats } from '../stats/stats.js';
import { PinError, compilePinRegex, type NodePins } from '../algorithms/pins.js';
import { isIP } from 'node:net';
import { Dashboard } from './dashboard.js';
import { boundPort, type BoundListener } from '../bound-listeners.js';

export interface ApiSources {
  readonly stats: Stats;
  readonly registry: NodeRegistry;
  readonly version: string;
  /** The SMSCs of /lbinfo: a list, or the current one (it changes with a reload). */
  readonly smppRemoteServers: readonly HostPort[] | (() => readonly HostPort[]);
  /** With workers: the whole daemon's /lbstat and /metrics, gathered from every process. */
  readonly daemonFigures?: { lbstat(): Promise<object>; metrics(): Promise<string> };
  /** The regex pins /lbnoderegex edits; absent means the endpoint answers 404. */
  readonly pins?: NodePins;
  /** The logger whose level /lbloglevel sets (the root: every child follows it). */
  readonly rootLog?: Logger;
  /** Stops the daemon as SIGTERM does (/lbstop); called after the answer is sent. */
  readonly requestStop?: (reason: string) => void;
  /** Called after /lbloglevel or /lbnoderegex changed something (with workers, the primary passes it on). */
  readonly adminChanged?: () => void;
  /** The dashboard page and the state it polls (`/`, `/dashboard`, `/dashboard/state`). */
  readonly dashboard?: Dashboard;
  /** Every listening point the daemon bound, with its real port (/lbinfo). */
  readonly listeners?: () => readonly BoundListener[];
  /** Sections the protocol services add to /lbinfo (the SMPP sessions). */
  readonly serviceInfo?: () => Record<string, unknown>;
}

/** What a route does with a request; `query` is the parsed query string. */
type Handler = (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => void | Promise<void>;

interface Route {
  readonly handler: Handler;
  /** Actions (they change something) refuse HEAD, so that a probe never stops the daemon. */
  readonly action?: boolean;
  /** One line for the 404 page's list of endpoints. */
  readonly help: string;
}

export class ApiServer {
  private server: Server | undefined;
  /** Every endpoint. Add a route here (path → handler); nothing else dispatches. */
  private readonly routes: ReadonlyMap<string, Route>;

  constructor(
    private readonly config: ApiConfig,
    private readonly sources: ApiSources,
    private readonly log: Logger,
  ) {
    const routes = new Map<string, Route>([
      ['/lbstat', { help: 'statistics (JSON)', handler: async (_req, res) => this.json(res, 200, await (this.sources.daemonFigures?.lbstat() ?? this.sources.stats.lbstat())) }],
      ['/lbinfo', { help: 'nodes and regex pins (JSON)', handler: (_req, res) => this.json(res, 200, this.lbinfo()) }],
      ['/metrics', { help: 'Prometheus metrics', handler: (_req, res) => this.metrics(res) }],
      ['/lbloglevel', { help: 'lbloglevel?logLevel=DEBUG: change the log level', action: true, handler: (_req, res, query) => this.logLevel(res, query) }],
      ['/lbstop', { help: 'stop the balancer gracefully (as SIGTERM)', action: true, handler: (_req, res) => this.stopDaemon(res) }],
    ]);
    if (sources.pins) {
      routes.set('/lbnoderegex', { help: 'lbnoderegex?regex=R&ip=I&port=P: pin keys matching R to a node; ?regex=R alone removes it', action: true, handler: (_req, res, query) => this.nodeRegex(res, query) });
    }
    const dashboard = sources.dashboard;
    if (dashboard) {
      for (const path of Dashboard.PATHS) routes.set(path, { help: path === '/dashboard/state' ? 'what the dashboard shows (JSON)' : 'the dashboard (HTML)', handler: (_req, res) => void dashboard.serve(path, res) });
    }
    this.routes = routes;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.onRequest(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'statistics request failed');
        if (!res.headersSent) this.send(res, 500, 'text/plain', 'internal error\n');
        else res.destroy();
      });
    });
    await listen(server, this.config.port!, this.config.host);
    this.server = server;
    this.sources.dashboard?.start();
    this.log.info(`Statistics and admin endpoints (${[...this.routes.keys()].join(', ')}) listening on ${this.config.host}:${this.port}`);
  }

  /** The port bound once started (statisticPort may be 0), else the configured one. */
  get port(): number {
    return this.server ? boundPort(this.server) : this.config.port!;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.sources.dashboard?.stop();
    if (!server) return;
    await closeHttpServer(server);
  }

  private send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    this.send(res, status, 'application/json', JSON.stringify(body, null, 2) + '\n');
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
    const route = this.routes.get(path);
    const allowed = route?.action ? ['GET', 'POST'] : ['GET', 'HEAD'];
    if (route !== undefined && !allowed.includes(req.method ?? '')) {
      res.setHeader('allow', allowed.join(', '));
      this.send(res, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    if (this.config.securityRequired && !this.authorised(req, query)) {
      res.setHeader('www-authenticate', 'Basic realm="sipbalancer"');
      this.send(res, 401, 'text/plain', 'login required\n');
      return;
    }
    if (route === undefined) {
      const endpoints = [...this.routes].map(([p, r]) => `${p}: ${r.help}`);
      this.json(res, 404, { error: `no endpoint ${path}`, endpoints });
      return;
    }
    await route.handler(req, res, query);
  }

  /** HTTP Basic, or the original's `?login=&password=` query parameters. */
  private authorised(req: IncomingMessage, query: URLSearchParams): boolean {
    const header = req.headers.authorization ?? '';
    let login: string | null = query.get('login');
    let password: string | null = query.get('password');
    if (header.startsWith('Basic ')) {
      const [l, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
      login = l ?? '';
      password = rest.join(':');
    }
    if (login === null || password === null) return false;
    // Both compared in constant time, so a wrong guess tells nothing of how close it was.
    return sameSecret(login, this.config.login ?? '') && sameSecret(password, this.config.password ?? '');
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const registry = this.sources.stats.registry;
    this.send(res, 200, registry.contentType, await (this.sources.daemonFigures?.metrics() ?? registry.metrics()));
  }

  /** /lbloglevel?logLevel=DEBUG: the log4j names (ALL, TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF) and ours. */
  private logLevel(res: ServerResponse, query: URLSearchParams): void {
    const root = this.sources.rootLog;
    const asked = query.get('logLevel') ?? query.get('loglevel') ?? query.get('level');
    if (root === undefined) {
      this.json(res, 404, { error: 'the log level cannot be changed in this process' });
      return;
    }
    const level = asked === null ? undefined : normaliseLogLevel(asked);
    if (level === undefined) {
      this.json(res, 400, {
        error: asked === null ? 'logLevel is missing' : `unknown log level "${asked}"`,
        expected: 'ALL, TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF (log4j) or trace, debug, info, warn, error, fatal, silent',
        logLevel: root.level,
      });
      return;
    }
    const previous = root.level;
    root.level = level;
    // At warn, so that the change is in the log whatever the new level (unless silent).
    root.warn({ previous, level }, `log level changed from ${previous} to ${level} through /lbloglevel`);
    this.sources.adminChanged?.();
    this.json(res, 200, { logLevel: level, previous });
  }

  /** /lbstop: answers, then stops the daemon as SIGTERM does (the API port closes first, as in the original). */
  private stopDaemon(res: ServerResponse): void {
    const stop = this.sources.requestStop;
    if (stop === undefined) {
      this.json(res, 404, { error: 'this process cannot be stopped through the API' });
      return;
    }
    this.log.warn('Stop requested through /lbstop');
    res.once('finish', () => stop('/lbstop'));
    this.json(res, 202, { stopping: true, message: 'sipbalancer is stopping gracefully (as on SIGTERM)' });
  }

  /** /lbnoderegex?regex=&ip=&port= adds a pin; ?regex= alone removes it. A bad input changes nothing. */
  private nodeRegex(res: ServerResponse, query: URLSearchParams): void {
    const pins = this.sources.pins!;
    const regex = query.get('regex');
    const ip = query.get('ip');
    const port = query.get('port');
    if (regex === null || regex === '') {
      this.json(res, 400, { error: 'regex is missing', usage: '/lbnoderegex?regex=R&ip=I&port=P adds a pin; /lbnoderegex?regex=R removes it' });
      return;
    }
    try {
      if (ip === null && port === null) {
        compilePinRegex(regex);
        if (!pins.remove(regex)) {
          this.json(res, 404, { error: `no pin with regex ${regex}`, pins: pins.toJSON() });
          return;
        }
        this.log.info(`Regex pin ${regex} removed through /lbnoderegex`);
        this.sources.adminChanged?.();
        this.json(res, 200, { removed: regex, pins: pins.toJSON() });
        return;
      }
      if (ip === null || port === null) throw new PinError('ip and port go together (both to add a pin, neither to remove one)');
      const pin = pins.set(regex, ip, port);
      const node = pins.nodeOf(pin);
      this.log.info(`Regex pin ${pin.regex.source} → ${pin.ip}:${pin.port} set through /lbnoderegex${node ? ` (node ${node})` : ' (no live node there yet)'}`);
      this.sources.adminChanged?.();
      this.json(res, 200, { pinned: { regex: pin.regex.source, ip: pin.ip, port: pin.port, live: node !== undefined }, pins: pins.toJSON() });
    } catch (err) {
      if (!(err instanceof PinError)) throw err;
      this.json(res, 400, { error: err.message, pins: pins.toJSON() });
    }
  }

  /** The original's shape ({"Nodes info":{nodesIPv4,nodesIPv6,smppRemoteServers}}) with every node field, and the pins. */
  lbinfo(): Record<string, unknown> {
    const now = Date.now();
    const nodes = this.sources.registry.all();
    // A session id is what `stop` and `shutdown` need: shown only to authenticated callers (securityRequired,
    // which the router has checked already); otherwise the id is a digest of it (issue 10, finding 6).
    const reveal = this.config.securityRequired;
    const shown = (n: ServerNode): Record<string, unknown> => {
      const j = n.toJSON(now);
      if (!reveal) {
        j.id = `node-${createHash('sha256').update(n.id).digest('hex').slice(0, 12)}`;
        delete j.sessionId;
      }
      return j;
    };
    return {
      'Nodes info': {
        latestVersion: this.sources.registry.latestVersion,
        nodesIPv4: nodes.filter((n) => isIP(n.ip) !== 6).map(shown),
        nodesIPv6: nodes.filter((n) => isIP(n.ip) === 6).map(shown),
        smppRemoteServers: (typeof this.sources.smppRemoteServers === 'function' ? this.sources.smppRemoteServers() : this.sources.smppRemoteServers).map((s) => `${s.host}:${s.port}`),
      },
      ...(this.sources.pins ? { 'Regex pins': this.sources.pins.toJSON() } : {}),
      ...(this.sources.listeners ? { 'Listening points': this.sources.listeners() } : {}),
      ...this.sources.serviceInfo?.(),
    };
  }
}

/** Constant-time comparison of two secrets of any length (compared as SHA-256 digests). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
