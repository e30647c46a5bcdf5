// The statisticPort server: /lbstat (the original's JSON), /lbinfo (nodes), /metrics (Prometheus).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ApiConfig, HostPort } from '../config/types.js';
import type { Logger } from '../log.js';
import { closeHttpServer, listen } from '../listen.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { Stats } from '../stats/stats.js';
import { isIP } from 'node:net';

export interface ApiSources {
  readonly stats: Stats;
  readonly registry: NodeRegistry;
  readonly version: string;
  readonly smppRemoteServers: readonly HostPort[];
  /** With workers: the whole daemon's /lbstat and /metrics, gathered from every process. */
  readonly daemonFigures?: { lbstat(): Promise<object>; metrics(): Promise<string> };
}

export class ApiServer {
  private server: Server | undefined;

  constructor(
    private readonly config: ApiConfig,
    private readonly sources: ApiSources,
    private readonly log: Logger,
  ) {}

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
    this.log.info(`Statistics (/lbstat, /lbinfo, /metrics) listening on ${this.config.host}:${this.config.port}`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeHttpServer(server);
  }

  private send(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      this.send(res, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    if (this.config.securityRequired && !this.authorised(req)) {
      res.setHeader('www-authenticate', 'Basic realm="sipbalancer"');
      this.send(res, 401, 'text/plain', 'login required\n');
      return;
    }
    switch (path) {
      case '/lbstat':
        this.send(res, 200, 'application/json', JSON.stringify(await (this.sources.daemonFigures?.lbstat() ?? this.sources.stats.lbstat()), null, 2) + '\n');
        return;
      case '/lbinfo':
        this.send(res, 200, 'application/json', JSON.stringify(this.lbinfo(), null, 2) + '\n');
        return;
      case '/metrics': {
        const registry = this.sources.stats.registry;
        this.send(res, 200, registry.contentType, await (this.sources.daemonFigures?.metrics() ?? registry.metrics()));
        return;
      }
      default:
        this.send(res, 404, 'application/json', JSON.stringify({ error: 'not found', endpoints: ['/lbstat', '/lbinfo', '/metrics'] }) + '\n');
    }
  }

  private authorised(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Basic ')) return false;
    const [login, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
    return login === this.config.login && rest.join(':') === this.config.password;
  }

  /** The original's shape ({"Nodes info":{nodesIPv4,nodesIPv6,smppRemoteServers}}) with every node field. */
  lbinfo(): Record<string, unknown> {
    const now = Date.now();
    const nodes = this.sources.registry.all();
    return {
      'Nodes info': {
        latestVersion: this.sources.registry.latestVersion,
        nodesIPv4: nodes.filter((n) => isIP(n.ip) !== 6).map((n) => n.toJSON(now)),
        nodesIPv6: nodes.filter((n) => isIP(n.ip) === 6).map((n) => n.toJSON(now)),
        smppRemoteServers: this.sources.smppRemoteServers.map((s) => `${s.host}:${s.port}`),
      },
    };
  }
}
