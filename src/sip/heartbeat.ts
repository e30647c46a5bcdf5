// SIP heartbeats of third-party servers (manual, "Using the Load Balancer with Third-Party SIP Servers"):
// OPTIONS or INFO with a Mobicents-Heartbeat (or Restcomm-Heartbeat) header, body of key=value lines.

import { isIP } from 'node:net';
import type { SipMessage } from './message.js';
import type { ServerNodeInit } from '../registry/server-node.js';
import type { SipTransport } from '../config/types.js';

export function isSipHeartbeat(msg: SipMessage): boolean {
  return (
    (msg.method === 'OPTIONS' || msg.method === 'INFO') &&
    (msg.header('mobicents-heartbeat') !== undefined || msg.header('restcomm-heartbeat') !== undefined)
  );
}

export interface SipHeartbeat {
  readonly node: ServerNodeInit;
  /** GRACEFUL_SHUTDOWN=true: the node takes no new calls but keeps its dialogs. */
  readonly graceful: boolean;
}

const PORT_KEYS: Readonly<Record<string, SipTransport>> = { udpport: 'udp', tcpport: 'tcp', tlsport: 'tls', wsport: 'ws', wssport: 'wss' };

/**
 * Reads the key=value body (keys case-insensitive). The node's ip defaults to the packet's source when
 * the body has none or it is not an IP literal. Undefined when the body names no SIP port at all.
 */
export function parseSipHeartbeat(body: string, sourceAddress: string): SipHeartbeat | undefined {
  const ports: Partial<Record<SipTransport, number>> = {};
  const properties: Record<string, string> = {};
  let ip: string | undefined;
  let hostname: string | undefined;
  let version: string | undefined;
  let sessionId: string | undefined;
  let httpPort: number | undefined;
  let graceful = false;
  for (const line of body.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const lower = key.toLowerCase();
    const transport = PORT_KEYS[lower];
    if (transport) {
      const port = Number(value);
      if (Number.isInteger(port) && port > 0 && port < 65536) ports[transport] = port;
      continue;
    }
    switch (lower) {
      case 'ip':
        ip = value;
        break;
      case 'hostname':
        hostname = value;
        break;
      case 'version':
        version = value;
        break;
      case 'sessionid':
        sessionId = value;
        break;
      case 'httpport': {
        const p = Number(value);
        if (Number.isInteger(p) && p > 0 && p < 65536) httpPort = p;
        break;
      }
      case 'graceful_shutdown':
        graceful = value.toLowerCase() === 'true';
        break;
      default:
        properties[key] = value;
    }
  }
  if (Object.keys(ports).length === 0) return undefined;
  return {
    node: {
      ip: ip !== undefined && isIP(ip) !== 0 ? ip : sourceAddress,
      hostname,
      ports,
      httpPort,
      version: version || '0',
      sessionId: sessionId || undefined,
      properties,
    },
    graceful,
  };
}
