// SIP over TLS (src/sip/transport/tls.ts, config/tls-options.ts) with real sockets on 127.0.0.1: the client-certificate
// policies, the protocol floor, handshake failures counted, outgoing TLS verified against the trust store.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer, type TLSSocket } from 'node:tls';
import type { TlsConfig } from '../../src/config/types.js';
import { SipStats } from '../../src/sip/sip-stats.js';
import { silentLogger } from '../../src/log.js';
import type { SipMessage } from '../../src/sip/message.js';
import { TlsListeningPoint } from '../../src/sip/transport/tls.js';
import { hasIdentity, clientTlsOptions, serverTlsOptions } from '../../src/config/tls-options.js';
import { freePort } from '../helpers/ports.js';
import {} from '../helpers/tls-ua.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';
import { waitUntil } from '../helpers/wait.js';

const OPTIONS = 'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';

let certs: TestCertificates;
let other: TestCertificates;
let cert: string;
let key: string;
beforeAll(() => {
  certs = makeTestCertificates();
  other = makeTestCertificates();
  cert = readFileSync(certs.certPem, 'utf8');
  key = readFileSync(certs.keyPem, 'utf8');
});
afterAll(() => {
  for (const c of [certs, other]) if (c) rmSync(c.dir, { recursive: true, force: true });
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tlsConfig(over: Partial<TlsConfig> = {}): TlsConfig {
  return { material: { cert, key, ca: [cert] }, clientAuth: 'none', minVersion: 'TLSv1.2', skipServerVerification: false, ...over };
}

async function listening(tls: TlsConfig): Promise<{ lp: TlsListeningPoint; stats: SipStats; received: SipMessage[]; port: number }> {
  const stats = new SipStats();
  const received: SipMessage[] = [];
  const lp = new TlsListeningPoint({ side: 'external', host: '127.0.0.1', port: 0, maxMessageSize: 65_536, idleTimeoutMs: 60_000, stats, log: silentLogger(), onMessage: (m) => received.push(m) }, tls);
  await lp.start();
  cleanups.push(() => lp.stop());
  return { lp, stats, received, port: lp.port };
}

function dial(port: number, opts: { cert?: string; key?: string; maxVersion?: 'TLSv1.1' } = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: cert, ...opts });
    cleanups.push(() => void s.destroy());
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('TLS options', () => {
  it('maps the client-certificate policies: Enabled requires, Want requests, Disabled does not ask', () => {
    expect(serverTlsOptions(tlsConfig({ clientAuth: 'require' }))).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(serverTlsOptions(tlsConfig({ clientAuth: 'request' }))).toMatchObject({ requestCert: true, rejectUnauthorized: false });
    expect(serverTlsOptions(tlsConfig({ clientAuth: 'none' }))).toMatchObject({ requestCert: false, rejectUnauthorized: false });
  });
  it('serves a PKCS#12 identity with its passphrase, and carries the floor and ciphers', () => {
    const pfx = Buffer.from('x');
    const o = serverTlsOptions({ material: { pfx, passphrase: 'p' }, clientAuth: 'none', minVersion: 'TLSv1.3', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', skipServerVerification: false });
    expect(o).toMatchObject({ pfx, passphrase: 'p', minVersion: 'TLSv1.3', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    expect(o.cert).toBeUndefined();
  });
  it('verifies nodes against the trust store unless told to skip, and offers our certificate', () => {
    expect(clientTlsOptions(tlsConfig())).toMatchObject({ rejectUnauthorized: true, ca: [cert], cert, key });
    expect(clientTlsOptions(tlsConfig({ skipServerVerification: true })).rejectUnauthorized).toBe(false);
  });
  it('knows when there is an identity to serve', () => {
    expect(hasIdentity(tlsConfig())).toBe(true);
    expect(hasIdentity(tlsConfig({ material: { ca: [cert] } }))).toBe(false);
  });
});

describe('TlsListeningPoint', () => {
  it('frames SIP over TLS and counts the connection under tls', async () => {
    const h = await listening(tlsConfig());
    const s = await dial(h.port);
    s.write(OPTIONS);
    await waitUntil(() => h.received.length === 1);
    expect(h.received[0]!.callId).toBe('c1');
    expect(h.stats.activeConnections.get('tls')).toBe(1);
    s.destroy();
    await waitUntil(() => h.stats.activeConnections.get('tls') === 0);
  });

  it('Enabled: refuses a client without a certificate and counts the failed handshake; accepts a trusted one', async () => {
    const h = await listening(tlsConfig({ clientAuth: 'require' }));
    const s = tlsConnect({ host: '127.0.0.1', port: h.port, ca: cert });
    s.on('error', () => undefined);
    s.once('secureConnect', () => s.write(OPTIONS));
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    await waitUntil(() => h.stats.tlsHandshakeFailures === 1);
    expect(h.received).toHaveLength(0);
    const ok = await dial(h.port, { cert, key });
    ok.write(OPTIONS);
    await waitUntil(() => h.received.length === 1);
  });

  it('Want: accepts a client without a certificate', async () => {
    const h = await listening(tlsConfig({ clientAuth: 'request' }));
    const s = await dial(h.port);
    s.write(OPTIONS);
    await waitUntil(() => h.received.length === 1);
    expect(h.stats.tlsHandshakeFailures).toBe(0);
  });

  it('refuses TLS 1.1 below the TLSv1.2 floor and counts it', async () => {
    const h = await listening(tlsConfig());
    await expect(dial(h.port, { maxVersion: 'TLSv1.1' })).rejects.toThrow();
    await waitUntil(() => h.stats.tlsHandshakeFailures === 1);
  });

  it('disconnects a client that speaks plain text to the TLS port, and counts it', async () => {
    const h = await listening(tlsConfig());
    const s = netConnect({ host: '127.0.0.1', port: h.port });
    s.on('error', () => undefined);
    s.once('connect', () => s.write(OPTIONS));
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    await waitUntil(() => h.stats.tlsHandshakeFailures === 1);
  });

  it('connects out to a node verified by the trust store; refuses (and counts) an untrusted node unless verification is skipped', async () => {
    const nodePort = await freePort();
    const got: string[] = [];
    const sockets: TLSSocket[] = [];
    const node = tlsServer({ cert: readFileSync(other.certPem), key: readFileSync(other.keyPem) }, (s) => {
      sockets.push(s);
      s.on('data', (d: Buffer) => got.push(d.toString()));
    });
    await new Promise<void>((r) => node.listen(nodePort, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => node.close(() => r()));
    });

    const strict = await listening(tlsConfig());
    const err = await new Promise<Error>((resolve) => strict.lp.sendTo(Buffer.from(OPTIONS), '127.0.0.1', nodePort, resolve));
    expect(err.message).toMatch(/self-signed|certificate/i);
    expect(strict.stats.tlsHandshakeFailures).toBe(1);

    const lab = await listening(tlsConfig({ skipServerVerification: true }));
    lab.lp.sendTo(Buffer.from(OPTIONS), '127.0.0.1', nodePort, (e) => got.push(`error ${e.message}`));
    await waitUntil(() => got.join('').includes('Call-ID: c1'));
    expect(got.some((g) => g.startsWith('error'))).toBe(false);
  });
});
