// TLS settings of the HTTPS listener and of the TLS connections to nodes (isRemoteServerSsl), from config.tls.

import type { AgentOptions as HttpsAgentOptions } from 'node:https';
import type { TlsOptions } from 'node:tls';
import type { TlsConfig } from '../config/types.js';
import { StartupError } from '../service.js';

/** Options for https.createServer(); fails start-up when there is no certificate to serve. */
export function httpsServerOptions(tls: TlsConfig, httpsPort: number): TlsOptions {
  const m = tls.material;
  if (m === undefined || (m.pfx === undefined && (m.cert === undefined || m.key === undefined))) {
    throw new StartupError(
      `httpsPort=${httpsPort} needs a certificate and its private key: set javax.net.ssl.keyStore (PEM with both, or PKCS#12 with javax.net.ssl.keyStorePassword)`,
    );
  }
  const options: TlsOptions = {
    minVersion: tls.minVersion,
    requestCert: tls.clientAuth !== 'none',
    rejectUnauthorized: tls.clientAuth === 'require',
  };
  if (m.pfx !== undefined) {
    options.pfx = m.pfx;
    options.passphrase = m.passphrase;
  } else {
    options.cert = m.cert;
    options.key = m.key;
    if (m.passphrase !== undefined) options.passphrase = m.passphrase;
  }
  if (m.ca !== undefined) options.ca = m.ca;
  if (tls.ciphers !== undefined) options.ciphers = tls.ciphers;
  return options;
}

/** Options for the https.Agent that reaches nodes over TLS: the trust store, unless verification is off. */
export function backendTlsOptions(tls: TlsConfig): HttpsAgentOptions {
  const options: HttpsAgentOptions = {
    rejectUnauthorized: !tls.skipServerVerification,
    minVersion: tls.minVersion,
  };
  if (tls.material?.ca !== undefined) options.ca = tls.material.ca;
  if (tls.ciphers !== undefined) options.ciphers = tls.ciphers;
  // Nodes are addressed by IP and commonly carry certificates for their host name; identity is the
  // trust store's business here, as in the original (which trusted all).
  options.checkServerIdentity = () => undefined;
  return options;
}
