// The TLS section of lb.properties: the keystore and trust store (PEM or PKCS#12, recognised by content),
// client authentication, protocol floor and ciphers, shared by the SIP, HTTP and SMPP listeners.

import { readIdentity, readTrustedCertificates } from './keystore.js';
import type { PropertyReader } from './reader.js';
import { CAP, type SipSection } from './sip-section.js';
import type { HttpConfig, SmppConfig, TlsConfig, TlsMaterial } from './types.js';

const TLS_PROTOCOLS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type TlsProtocol = (typeof TLS_PROTOCOLS)[number];

function tlsRank(p: TlsProtocol): number {
  return TLS_PROTOCOLS.indexOf(p);
}

/** Reads the TLS keys; the identity is required (and read) only when a TLS listener is on. */
export function readTlsSection(r: PropertyReader, { sip, portOrigin }: SipSection, http: HttpConfig, smpp: SmppConfig): TlsConfig {
  return readTls(r, {
    listenerKeys: [
      ...(['external', 'internal'] as const).flatMap((side) =>
        (['tls', 'wss'] as const).filter((t) => sip[side][t] !== undefined).map((t) => portOrigin.get(`${side}${CAP[t]}Port`) ?? `${side}${CAP[t]}Port`),
      ),
      ...(http.httpsPort !== undefined ? ['httpsPort'] : []),
      ...(smpp.sslPort !== undefined ? ['smppSslPort'] : []),
    ],
    outgoingTls: http.isRemoteServerSsl,
  });
}

function readTls(r: PropertyReader, need: { listenerKeys: string[]; outgoingTls: boolean }): TlsConfig {
  const ksRaw = r.raw('javax.net.ssl.keyStore', ['keyStore']);
  const ksPass = r.raw('javax.net.ssl.keyStorePassword', ['keyStorePassword'])?.value;
  const tsRaw = r.raw('javax.net.ssl.trustStore', ['trustStore']);
  const tsPass = r.raw('javax.net.ssl.trustStorePassword', ['trustStorePassword'])?.value;
  const allowLegacy = r.bool('tlsAllowLegacyProtocols', false);
  const skipServerVerification = r.bool('tlsSkipServerVerification', false);
  const ciphersList = r.list('enabledCipherSuites', [], ['gov.nist.javax.sip.ENABLED_CIPHER_SUITES']);
  const authRaw = r.raw('gov.nist.javax.sip.TLS_CLIENT_AUTH_TYPE', ['gov.nist.java.sip.TLS_CLIENT_AUTH_TYPE', 'tlsClientAuthType']);
  let clientAuth: TlsConfig['clientAuth'] = 'none';
  if (authRaw) {
    const v = authRaw.value.trim().toLowerCase();
    if (v === 'enabled') clientAuth = 'require';
    else if (v === 'want') clientAuth = 'request';
    else if (v === 'disabled' || v === 'disabledall' || v === '') clientAuth = 'none';
    else r.error(authRaw, authRaw.key, 'expected Enabled (require a client certificate), Want (request one), Disabled or DisabledAll');
  }
  r.sources.push(authRaw ? { key: 'TLS_CLIENT_AUTH_TYPE', value: clientAuth, source: 'file', line: authRaw.line } : { key: 'TLS_CLIENT_AUTH_TYPE', value: clientAuth, source: 'default' });

  let minVersion: TlsProtocol = 'TLSv1.2';
  const protoRaw = r.raw('gov.nist.javax.sip.TLS_CLIENT_PROTOCOLS', ['gov.nist.java.sip.TLS_CLIENT_PROTOCOLS', 'tlsClientProtocols']);
  if (protoRaw) {
    const asked = protoRaw.value.split(',').map((s) => s.trim()).filter(Boolean);
    const valid: TlsProtocol[] = [];
    for (const a of asked) {
      const match = TLS_PROTOCOLS.find((t) => t.toLowerCase() === a.toLowerCase());
      if (match) valid.push(match);
      else r.error(protoRaw, protoRaw.key, `"${a}" is not a TLS protocol; expected ${TLS_PROTOCOLS.join(', ')}`);
    }
    if (valid.length > 0) {
      const lowest = valid.reduce((a, b) => (tlsRank(a) <= tlsRank(b) ? a : b));
      if (tlsRank(lowest) < tlsRank('TLSv1.2') && !allowLegacy) {
        r.warn(protoRaw, protoRaw.key, `${lowest} is obsolete (RFC 8996); TLSv1.2 stays the minimum unless tlsAllowLegacyProtocols=true`);
      } else {
        minVersion = lowest;
      }
    }
  }
  r.sources.push({ key: 'tlsMinVersion', value: minVersion, source: protoRaw ? 'file' : 'default', line: protoRaw?.line });

  let material: TlsMaterial | undefined;
  // Outgoing TLS alone (isRemoteServerSsl) offers the keystore's certificate when one is set, for nodes and SMSCs that require one.
  const needIdentity = need.listenerKeys.length > 0 || (need.outgoingTls && ksRaw !== undefined && ksRaw.value.trim() !== '');
  const needTrust = needIdentity || need.outgoingTls;
  if (needIdentity) {
    if (!ksRaw || ksRaw.value.trim() === '') {
      r.error(undefined, 'javax.net.ssl.keyStore', `a TLS listener is enabled (${need.listenerKeys.join(', ')}) but no keystore is set: set javax.net.ssl.keyStore (PEM or PKCS#12) and javax.net.ssl.keyStorePassword`);
    } else {
      try {
        const identity = readIdentity(ksRaw.value.trim(), ksPass);
        material = { ...identity };
      } catch (err) {
        r.error(ksRaw, ksRaw.key, `${(err as Error).message} (needed by ${need.listenerKeys.length > 0 ? need.listenerKeys.join(', ') : 'isRemoteServerSsl'})`);
      }
    }
  }
  if (needTrust && tsRaw && tsRaw.value.trim() !== '') {
    try {
      material = { ...material, ca: readTrustedCertificates(tsRaw.value.trim(), tsPass) };
    } catch (err) {
      r.error(tsRaw, tsRaw.key, (err as Error).message);
    }
  }
  const ciphers = ciphersList.length > 0 ? ciphersList.join(':') : allowLegacy && tlsRank(minVersion) < tlsRank('TLSv1.2') ? 'DEFAULT@SECLEVEL=0' : undefined;
  return { material, clientAuth, minVersion, ciphers, skipServerVerification };
}
