// Registers a SIP server (here, a sipp UAS) with the balancer the way a third-party server does (manual, "Using
// the Load Balancer with Third-Party SIP Servers"): an OPTIONS with Mobicents-Heartbeat every interval to the
// balancer's internal port, whose body advertises the node. Stopping it simulates the node's death.

import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export interface HeartbeatNode {
  /** The node's address and ports as advertised in the body. */
  ip?: string;
  udpPort: number;
  tcpPort?: number;
  hostname?: string;
  version?: string;
  sessionId?: string;
  /** Further key=value lines (e.g. GRACEFUL_SHUTDOWN: 'true'). */
  extra?: Record<string, string>;
}

export interface HeartbeatOptions {
  /** The balancer port to send to (its internal port, normally). */
  balancerPort: number;
  balancerHost?: string;
  node: HeartbeatNode;
  intervalMs?: number;
  /** The header that marks a heartbeat (the original uses Mobicents-Heartbeat; Restcomm-Heartbeat is accepted too). */
  headerName?: string;
  method?: 'OPTIONS' | 'INFO';
}

export interface HeartbeatSender {
  /** The local UDP port the OPTIONS are sent from (its Via), where the balancer's 200 OK arrive. */
  readonly localPort: number;
  /** Heartbeats sent and 200 OK answers received so far. */
  readonly sent: number;
  readonly answered: number;
  /** Resolves once `count` heartbeats in all have been answered 200, or rejects after `timeoutMs`. */
  waitAnswered(count?: number, timeoutMs?: number): Promise<void>;
  /** Sends one heartbeat now (besides the timer). */
  beat(): void;
  /** Stops sending (the node will expire after nodeTimeout) and closes the socket. */
  stop(): Promise<void>;
}

/** The OPTIONS request the manual shows, for `opts` and sequence number `cseq`. */
export function heartbeatRequest(opts: HeartbeatOptions, localPort: number, cseq: number, callId: string): Buffer {
  const host = opts.balancerHost ?? '127.0.0.1';
  const n = opts.node;
  const ip = n.ip ?? '127.0.0.1';
  const lines = [
    `ip=${ip}`,
    `udpPort=${n.udpPort}`,
    `tcpPort=${n.tcpPort ?? n.udpPort}`,
    `hostname=${n.hostname ?? `node-${n.udpPort}`}`,
    `version=${n.version ?? '0'}`,
    `sessionId=${n.sessionId ?? `session-${n.udpPort}`}`,
    ...Object.entries(n.extra ?? {}).map(([k, v]) => `${k}=${v}`),
  ];
  const body = lines.join('\n') + '\n';
  const method = opts.method ?? 'OPTIONS';
  const head = [
    `${method} sip:X@${host}:${opts.balancerPort};lr SIP/2.0`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    `From: <sip:third-party-app-server-heartbeating-service@sip-servlets.com>;tag=${callId.slice(0, 8)}`,
    `To: <sip:sip-load-balancer@sip-servlets.com>`,
    // The Via names our own socket so the balancer's 200 OK comes back here, not to the sipp UAS.
    `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK-hb-${callId.slice(0, 8)}-${cseq}`,
    'Max-Forwards: 70',
    `Contact: <sip:sender@127.0.0.1:${localPort};transport=udp;lr>`,
    `Route: <sip:lbaddress_InternalPort@${host}:${opts.balancerPort};node_host=${ip};node_port=${n.udpPort};lr>`,
    'Content-Type: text/plain;charset=UTF-8',
    `${opts.headerName ?? 'Mobicents-Heartbeat'}: 1`,
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return Buffer.from(head.join('\r\n') + '\r\n\r\n' + body, 'utf8');
}

export async function startHeartbeat(opts: HeartbeatOptions): Promise<HeartbeatSender> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // A send to a port nobody listens on yet yields ICMP errors; they must not crash the test process.
  socket.on('error', () => {});
  const localPort = socket.address().port;
  const callId = `${randomBytes(8).toString('hex')}@127.0.0.1`;
  let cseq = 0;
  let sent = 0;
  let answered = 0;
  let waiters: { target: number; resolve: () => void }[] = [];
  socket.on('message', (msg) => {
    if (!msg.subarray(0, 12).toString('latin1').startsWith('SIP/2.0 200')) return;
    answered++;
    waiters = waiters.filter((w) => {
      if (answered >= w.target) w.resolve();
      return answered < w.target;
    });
  });
  let closed = false;
  const beat = (): void => {
    if (closed) return;
    cseq++;
    sent++;
    socket.send(heartbeatRequest(opts, localPort, cseq, callId), opts.balancerPort, opts.balancerHost ?? '127.0.0.1');
  };
  beat();
  const timer = setInterval(beat, opts.intervalMs ?? 1000);
  return {
    localPort,
    get sent() {
      return sent;
    },
    get answered() {
      return answered;
    },
    beat,
    waitAnswered(count = 1, timeoutMs = 5000) {
      const target = count;
      if (answered >= target) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`heartbeat for node ${opts.node.udpPort}: ${count} answer(s) not received in ${timeoutMs} ms (sent ${sent}, answered ${answered})`)), timeoutMs);
        waiters.push({ target, resolve: () => { clearTimeout(t); resolve(); } });
      });
    },
    async stop() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
