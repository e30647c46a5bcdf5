// Node TLS options from config.tls, for every TLS listener (SIP TLS/WSS, HTTPS, SMPP) and every TLS
// connection the balancer opens to a node: identity, trust store, client-certificate policy, floor, ciphers.

import type { ConnectionOptions, TlsOptions } from 'node:tls';
import type { TlsConfig } from './types.js';
import { StartupError } from '../errors.js';

/** True when config.tls holds a certificate and key the balancer can serve. */
export function hasIdentity(tls: TlsConfig): boolean {
  const m = tls.material;
  return m !== undefined && (m.pfx !== undefined || (m.cert !== undefined && m.key !== undefined));
}

/**
 * Options for tls.createServer()/https.createServer(). Client certificates: 'require' (Enabled) refuses a
 * client without a trusted certificate during the handshake; 'request' (Want) asks for one and accepts
 * the connection either way; 'none' (Disabled, DisabledAll) does not ask. With `listenerKey`, a missing
 * certificate stops start-up naming that key.
 */
export function serverTlsOptions(tls: TlsConfig, listenerKey?: string): TlsOptions {
  if (listenerKey !== undefined && !hasIdentity(tls)) {
    throw new StartupError(
      `${listenerKey} needs a certificate and its private key: set javax.net.ssl.keyStore (PEM with both, or PKCS#12 with javax.net.ssl.keyStorePassword)`,
    );
  }
  return {
    ...common(tls),
    requestCert: tls.clientAuth !== 'none',
    rejectUnauthorized: tls.clientAuth === 'require',
  };
}

/**
 * Options for TLS connections to nodes (SIP TLS/WSS, HTTPS backends): the node's certificate must chain to
 * the trust store unless tlsSkipServerVerification is set. Our own certificate is offered, so nodes that
 * require client certificates accept the balancer.
 */
export function clientTlsOptions(tls: TlsConfig): ConnectionOptions {
  return {
    ...common(tls),
    rejectUnauthorized: !tls.skipServerVerification,
    // Nodes are addressed by IP from their heartbeats and often carry certificates for a host name: the
    // trust store decides who is a node (the original trusted every certificate).
    checkServerIdentity: () => undefined,
  };
}

/** Identity (PKCS#12, else PEM certificate and key), trust store, protocol floor and ciphers. */
function common(tls: TlsConfig): TlsOptions & ConnectionOptions {
  const m = tls.material ?? {};
  const options: TlsOptions & ConnectionOptions = { minVersion: tls.minVersion };
  if (m.pfx !== undefined) {
    options.pfx = m.pfx;
    options.passphrase = m.passphrase;
  } else if (m.cert !== undefined && m.key !== undefined) {
    options.cert = m.cert;
    options.key = m.key;
    if (m.passphrase !== undefined) options.passphrase = m.passphrase;
  }
  if (m.ca !== undefined) options.ca = m.ca;
  if (tls.ciphers !== undefined) options.ciphers = tls.ciphers;
  return options;
}
