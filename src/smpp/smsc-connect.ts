// The client part's first steps (INITIAL → OPEN → BINDING → BOUND): open a TCP or TLS connection to an
// SMSC and bind with the ESME's credentials. Resolves, never rejects: the caller tries the next SMSC.

import net from 'node:net';
import tls from 'node:tls';
import type { HostPort } from '../config/types.js';
import { PduConnection } from './connection.js';
import { Cmd, RESPONSE_BIT, commandId, commandStatus, encodeBind, sequenceNumber, type BindFields } from './pdu.js';

export interface SmscConnectOptions {
  /**
   * TLS towards the SMSC (isRemoteServerSsl), built by the shared builder (config/tls-options.ts) like SIP
   * and HTTP node connections: trust store, the balancer's own certificate, enabledCipherSuites, floor and
   * host-name policy. Undefined: plain TCP.
   */
  readonly tls?: tls.ConnectionOptions;
  readonly localAddress?: string;
  /** For the TCP/TLS connect and for the bind_resp. */
  readonly timeoutMs: number;
  readonly maxPduSize: number;
  readonly countBytes: (n: number) => void;
  /** False: the bind's bytes are not counted (mux mode). */
  readonly countBind?: boolean;
  readonly onSocketOpen: () => void;
  readonly onSocketClose: () => void;
  /** The TCP (or TLS) connection is up and the bind is about to go out. */
  readonly onConnected?: () => void;
}

export interface BindOutcome {
  /** The bound connection, when the SMSC accepted the bind. */
  readonly conn?: PduConnection;
  /** The SMSC's bind_resp (or generic_nack), when it answered. */
  readonly resp?: Buffer;
  /** Why it failed, for the log. */
  readonly error?: string;
}

export function connectAndBind(target: HostPort, bind: BindFields, seq: number, opts: SmscConnectOptions): Promise<BindOutcome> {
  return new Promise<BindOutcome>((resolve) => {
    let settled = false;
    let conn: PduConnection | undefined;
    const socket = opts.tls
      ? tls.connect({
          ...opts.tls,
          host: target.host,
          port: target.port,
          // Passed through to net.connect (smppInternalHost); the tls typings omit it.
          ...({ localAddress: opts.localAddress } as object),
          servername: net.isIP(target.host) === 0 ? target.host : undefined,
        })
      : net.connect({ host: target.host, port: target.port, localAddress: opts.localAddress });
    opts.onSocketOpen();
    socket.once('close', () => {
      opts.onSocketClose();
      finish({ error: 'connection closed before bind_resp' });
    });
    socket.on('error', (err) => finish({ error: err.message }));
    const timer = setTimeout(() => finish({ error: `no bind_resp within ${opts.timeoutMs} ms` }), opts.timeoutMs);

    function finish(outcome: BindOutcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome.conn === undefined) {
        if (conn) conn.destroy();
        else socket.destroy();
      }
      resolve(outcome);
    }

    socket.once(opts.tls !== undefined ? 'secureConnect' : 'connect', () => {
      conn = new PduConnection(socket, opts.maxPduSize, opts.countBytes, Date.now());
      const c = conn;
      c.onFramingError = () => finish({ error: 'bad command_length from SMSC' });
      c.onPdu = (pdu) => {
        const id = commandId(pdu);
        if (sequenceNumber(pdu) !== seq || (id !== ((bind.commandId | RESPONSE_BIT) >>> 0) && id !== Cmd.generic_nack)) return undefined;
        const resp = Buffer.from(pdu);
        if (id === Cmd.generic_nack || commandStatus(pdu) !== 0) {
          finish({ resp, error: `bind refused with status 0x${commandStatus(pdu).toString(16)}` });
        } else {
          c.onPdu = () => undefined;
          finish({ conn: c, resp });
        }
        return undefined;
      };
      opts.onConnected?.();
      c.write(encodeBind(bind, seq), opts.countBind ?? true);
    });
  });
}
