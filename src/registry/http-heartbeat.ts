// The JSON heartbeat protocol of the original's nodes (POST / with {"start"|"heartbeat"|"shutdown"|"stop":{…}}),
// tolerant of numbers or strings, and answering NOK to unknown sessions so nodes re-register after a restart.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { closeHttpServer, listen } from '../listen.js';
import type { HeartbeatStats } from '../stats/stats.js';
import type { NodeRegistry } from './node-registry.js';
import { ServerNode, type ServerNodeInit } from './server-node.js';
import type { SipTransport } from '../config/types.js';
import { isIP } from 'node:net';
import type { NodeSources } from './node-sources.js';
import { RateLimitedLog } from '../log-limit.js';
import { HeartbeatError } from '../errors.js';
import { boundPort } from '../bound-listeners.js';

const MAX_BODY = 64 * 1024;
const PORT_KEYS: Record<string, SipTransport> = { udpPort: 'udp', tcpPort: 'tcp', tlsPort: 'tls', wsPort: 'ws', wssPort: 'wss' };
/** Fields of a start message that are not free-form properties. */
const KNOWN_FIELDS = new Set(['hostName', 'hostname', 'ip', 'httpPort', 'sslPort', 'smppPort', 'version', 'sessionId', 'jvmRoute', ...Object.keys(PORT_KEYS)]);

function asString(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function asPort(field: string, v: unknown): number | undefined {
  const s = asString(v);
  if (s === undefined || s === '' || s === '0' || s === '-1') return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new HeartbeatError(`${field}=${s}: expected a port number from 1 to 65535`);
  return n;
}

/**
 * The node of a `start` body (also used for SIP heartbeat bodies). Ports may be strings or numbers;
 * every other field becomes a property.
 */
export function nodeFromStartBody(body: Record<string, unknown>): ServerNodeInit {
  const ip = asString(body.ip);
  if (!ip || !isIP(ip)) throw new HeartbeatError(`ip=${ip ?? ''}: expected the node's IP address`);
  const ports: Partial<Record<SipTransport, number>> = {};
  for (const [field, transport] of Object.entries(PORT_KEYS)) {
    const p = asPort(field, body[field]);
    if (p !== undefined) ports[transport] = p;
  }
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) {
    if (KNOWN_FIELDS.has(k)) continue;
    const s = asString(v);
    if (s !== undefined) properties[k] = s;
  }
  const sessionId = asString(body.sessionId);
  return {
    ip,
    hostname: asString(body.hostName) ?? asString(body.hostname) ?? ip,
    ports,
    httpPort: asPort('httpPort', body.httpPort),
    sslPort: asPort('sslPort', body.sslPort),
    smppPort: asPort('smppPort', body.smppPort),
    version: asString(body.version) || '0',
    sessionId: sessionId === '' ? undefined : sessionId,
    jvmRoute: asString(body.jvmRoute) || undefined,
    properties,
  };
}

export type HeartbeatReply = { status: number; body: Record<string, string> };

/** Applies one JSON heartbeat message to the registry; pure apart from the registry. */
export function handleHeartbeatMessage(message: unknown, registry: NodeRegistry, stats: HeartbeatStats): HeartbeatReply {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) throw new HeartbeatError('expected a JSON object with one command');
  const entries = Object.entries(message as Record<string, unknown>);
  if (entries.length !== 1) throw new HeartbeatError(`expected exactly one command (start, heartbeat, shutdown, stop); got ${entries.length}`);
  const [command, payload] = entries[0]!;
  const body = (payload && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
  const sessionOf = (): ServerNode | undefined => {
    const id = asString(body.sessionId);
    return id ? registry.get(ServerNode.idOf({ ip: '', sessionId: id })) : undefined;
  };
  switch (command) {
    case 'start': {
      const init = nodeFromStartBody(body);
      registry.register(init, { reset: true });
      stats.commands.inc('start');
      return { status: 200, body: { start: 'OK' } };
    }
    case 'heartbeat': {
      if (asString(body.sessionId) === undefined) throw new HeartbeatError('heartbeat: expected {"heartbeat":{"sessionId":…}}');
      const node = sessionOf();
      if (!node) {
        stats.unknownSession++;
        return { status: 404, body: { heartbeat: 'NOK' } };
      }
      registry.touch(node.id);
      stats.commands.inc('heartbeat');
      return { status: 200, body: { heartbeat: 'OK' } };
    }
    case 'shutdown': {
      const node = sessionOf();
      if (!node) {
        stats.unknownSession++;
        return { status: 404, body: { shutdown: 'NOK' } };
      }
      registry.touch(node.id);
      registry.setState(node, 'graceful', 'the node announced a graceful shutdown');
      stats.commands.inc('shutdown');
      return { status: 200, body: { shutdown: 'OK' } };
    }
    case 'stop': {
      const node = sessionOf();
      if (node) registry.remove(node, 'the node sent stop');
      stats.commands.inc('stop');
      return { status: 200, body: { stop: 'OK' } };
    }
    default:
      throw new HeartbeatError(`unknown command "${command}"; expected start, heartbeat, shutdown or stop`);
  }
}

export class HttpHeartbeatServer {
  private server: Server | undefined;
  private readonly warnings: RateLimitedLog;

  constructor(
    private readonly address: { host: string; port: number },
    private readonly registry: NodeRegistry,
    private readonly stats: HeartbeatStats,
    private readonly log: Logger,
    /** nodeAllowedSources: other sources get 403 (counted, warned once per interval). */
    private readonly sources?: NodeSources,
  ) {
    this.warnings = new RateLimitedLog(log);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    await listen(server, this.address.port, this.address.host);
    server.on('error', (err) => this.log.error({ err }, 'heartbeat server error'));
    this.server = server;
    this.log.info(`JSON heartbeat listener bound to ${this.address.host}, port ${this.port}`);
  }

  /** The port bound once started (heartbeatPort may be 0), else the configured one. */
  get port(): number {
    return this.server ? boundPort(this.server) : this.address.port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await closeHttpServer(server);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, body: object): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const remote = req.socket.remoteAddress ?? '';
    if (this.sources && !this.sources.allows(remote)) {
      this.stats.refusedSource++;
      this.warnings.warn('source-not-allowed', `Refused a JSON heartbeat from ${remote}: not in nodeAllowedSources`);
      res.setHeader('connection', 'close');
      reply(403, { error: 'this address may not act as a node (nodeAllowedSources)' });
      return;
    }
    if (req.method !== 'POST') {
      this.stats.invalid++;
      res.setHeader('allow', 'POST');
      reply(405, { error: 'heartbeats are POST / with a JSON body' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (tooLarge) {
        this.stats.invalid++;
        reply(413, { error: `heartbeat body larger than ${MAX_BODY} bytes` });
        return;
      }
      let message: unknown;
      try {
        message = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        this.stats.invalid++;
        this.warnings.warn('bad-json', `heartbeat with bad JSON from ${remote}: ${(err as Error).message}`);
        reply(400, { error: `bad JSON: ${(err as Error).message}` });
        return;
      }
      try {
        const result = handleHeartbeatMessage(message, this.registry, this.stats);
        if (result.status === 404) this.log.debug({ remote: req.socket.remoteAddress, message }, 'heartbeat from an unknown session: answered NOK so the node re-registers');
        reply(result.status, result.body);
      } catch (err) {
        this.stats.invalid++;
        if (!(err instanceof HeartbeatError)) {
          // A bug, not bad input: answered and logged here, never left to the process-wide handler.
          this.warnings.warn('error', `heartbeat from ${remote} failed: ${(err as Error).message}`, err);
          reply(500, { error: 'internal error' });
          return;
        }
        this.warnings.warn('invalid', `invalid heartbeat from ${remote}: ${err.message}`);
        reply(400, { error: err.message });
      }
    });
  }
}
