// Test certificates made with the openssl command: a self-signed PEM pair and PKCS#12 bundles.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  readonly dir: string;
  /** Certificate and key in one PEM file (a PEM keystore). */
  readonly pemKeystore: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** PKCS#12 with certificate and key, password `password`. */
  readonly p12: string;
  /** PKCS#12 with only the certificate (a trust store), password `password`. */
  readonly trustP12: string;
  readonly password: string;
}

export function makeTestCertificates(cn = '127.0.0.1'): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'sipbalancer-tls-'));
  const certPem = join(dir, 'cert.pem');
  const keyPem = join(dir, 'key.pem');
  const password = '123456';
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=IP:${cn}`, '-keyout', keyPem, '-out', certPem, '-days', '2'], { stdio: 'ignore' });
  const pemKeystore = join(dir, 'keystore.pem');
  writeFileSync(pemKeystore, Buffer.concat([readFileSync(certPem), readFileSync(keyPem)]));
  const p12 = join(dir, 'keystore.p12');
  execFileSync('openssl', ['pkcs12', '-export', '-in', certPem, '-inkey', keyPem, '-out', p12, '-passout', `pass:${password}`], { stdio: 'ignore' });
  const trustP12 = join(dir, 'truststore.p12');
  execFileSync('openssl', ['pkcs12', '-export', '-nokeys', '-in', certPem, '-out', trustP12, '-passout', `pass:${password}`], { stdio: 'ignore' });
  return { dir, pemKeystore, certPem, keyPem, p12, trustP12, password };
}

/**
 * lb.properties for a SIP daemon with a TLS identity (the PKCS#12 bundle of `certs`): internal UDP and TCP,
 * heartbeat and statistics on port 0 (read back with daemon.port), HTTP off; `extra` adds the external side.
 */
export function tlsSipDaemonProperties(certs: TestCertificates, extra: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  return {
    host: '127.0.0.1',
    internalUdpPort: 0,
    internalTcpPort: 0,
    heartbeatPort: 0,
    statisticPort: 0,
    httpPort: '',
    nodeTimeout: 3000,
    'javax.net.ssl.keyStore': certs.p12,
    'javax.net.ssl.keyStorePassword': certs.password,
    ...extra,
  };
}
