// TLS settings of the SIP listening points (TLS, WSS) and of the TLS connections the balancer opens to nodes,
// from config.tls: identity, trust store, client-certificate policy, protocol floor and ciphers.

import type { ConnectionOptions, TlsOptions } from 'node:tls';
import type { TlsConfig } from '../../config/types.js';

/** True when config.tls holds a certificate and key the balancer can serve. */
export function hasIdentity(tls: TlsConfig): boolean {
  const m = tls.material;
  return m !== undefined && (m.pfx !== undefined || (m.cert !== undefined && m.key !== undefined));
}

/**
 * Options for tls.createServer()/https.createServer(). Client certificates: 'require' (Enabled) refuses a
 * client without a trusted certificate during the handshake; 'request' (Want) asks for one and accepts
 * the connection either way; 'none' (Disabled, DisabledAll) does not ask.
 */
export function sipServerTlsOptions(tls: TlsConfig): TlsOptions {
  return {
    ...common(tls),
    requestCert: tls.clientAuth !== 'none',
    rejectUnauthorized: tls.clientAuth === 'require',
  };
}

/**
 * Options for tls.connect() to a node's TLS (or WSS) port: the node's certificate must chain to the trust
 * store unless tlsSkipServerVerification is set. Our own certificate is offered, so nodes that require
 * client certificates accept the balancer.
 */
export function sipClientTlsOptions(tls: TlsConfig): ConnectionOptions {
  return {
    ...common(tls),
    rejectUnauthorized: !tls.skipServerVerification,
    // Nodes are addressed by IP from their heartbeats and often carry certificates for a host name: the
    // trust store decides who is a node, as it does for the HTTP balancer's TLS connections to nodes.
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
