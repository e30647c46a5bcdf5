// TLS on both sides of the SMPP broker: ESMEs on smppSslPort, and isRemoteServerSsl=true towards an SMSC
// that only speaks TLS, verified against the trust store.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { RawSmsc, SmscSimulator, bindEsme, closeSession, request, smppDaemonProperties } from '../helpers/smpp.js';

describe('SMPP broker over TLS', () => {
  let dir: string;
  let cert: string;
  let key: string;
  let smsc: SmscSimulator;
  let daemon: Daemon;
  let sslPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'smpp-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'), 'latin1');
    key = readFileSync(join(dir, 'key.pem'), 'latin1');
    writeFileSync(join(dir, 'keystore.pem'), cert + key);
    smsc = await new SmscSimulator('tlsSmsc', { key, cert }).listen();
    daemon = await startDaemon({
      properties: smppDaemonProperties({ muxMode: false,
        smppSslPort: 0,
        remoteServers: `127.0.0.1:${smsc.port}`,
        isRemoteServerSsl: true,
        'javax.net.ssl.keyStore': join(dir, 'keystore.pem'),
        'javax.net.ssl.keyStorePassword': '',
        'javax.net.ssl.trustStore': join(dir, 'cert.pem'),
      }),
    });
    sslPort = daemon.port('smppSslPort');
  });

  afterAll(async () => {
    await daemon?.stop();
    await smsc?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds an ESME over TLS to an SMSC over TLS and relays submit_sm', async () => {
    const { session, resp } = await bindEsme({ port: sslPort, systemId: 'secure', tls: { ca: cert } });
    try {
      expect(resp.command_status).toBe(0);
      expect(resp.system_id).toBe('tlsSmsc');
      expect(smsc.binds).toEqual(['secure']);
      const r = await request(session, 'submit_sm', { destination_addr: '1', short_message: 'over tls' });
      expect(r.command_status).toBe(0);
      expect(smsc.submits.map((s) => s.shortMessage)).toEqual(['over tls']);
    } finally {
      await closeSession(session);
    }
  });

  it('connects through the shared TLS builder: an SMSC certificate without an IP SAN is trusted by the trust store, enabledCipherSuites applies, the balancer offers its own certificate', async () => {
    // The SMSC's certificate names only a host (reached here by IP), it demands a client certificate
    // signed as the balancer's, and it speaks TLS 1.2 with two ciphers: the balancer's list picks one.
    const smscDir = mkdtempSync(join(tmpdir(), 'smpp-tls-smsc-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=smsc.example',
      '-addext', 'subjectAltName=DNS:smsc.example',
      '-keyout', join(smscDir, 'key.pem'), '-out', join(smscDir, 'cert.pem'),
    ], { stdio: 'ignore' });
    const smscCert = readFileSync(join(smscDir, 'cert.pem'), 'latin1');
    const raw = await new RawSmsc({
      key: readFileSync(join(smscDir, 'key.pem'), 'latin1'), cert: smscCert,
      requestCert: true, rejectUnauthorized: true, ca: [cert],
      maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384',
    }).listen();
    writeFileSync(join(smscDir, 'trust.pem'), smscCert);
    const lb = await startDaemon({
      properties: smppDaemonProperties({ muxMode: false,
        remoteServers: `127.0.0.1:${raw.port}`,
        isRemoteServerSsl: true,
        enabledCipherSuites: 'ECDHE-RSA-AES256-GCM-SHA384',
        'javax.net.ssl.keyStore': join(dir, 'keystore.pem'),
        'javax.net.ssl.keyStorePassword': '',
        'javax.net.ssl.trustStore': join(smscDir, 'trust.pem'),
      }),
    });
    try {
      const { session, resp } = await bindEsme({ port: lb.port('smppPort'), systemId: 'nosan' });
      expect(resp.command_status).toBe(0);
      expect(raw.binds).toBe(1);
      expect(raw.tlsPeers).toEqual([{ cipher: 'ECDHE-RSA-AES256-GCM-SHA384', clientCn: 'localhost' }]);
      const r = await request(session, 'submit_sm', { destination_addr: '1', short_message: 'no ip san' });
      expect(r.command_status).toBe(0);
      await closeSession(session);
    } finally {
      await lb.stop();
      await raw.close();
      rmSync(smscDir, { recursive: true, force: true });
    }
  });

  it('mux mode: ESMEs over TLS share one TLS bind to the SMSC', async () => {
    const sim = await new SmscSimulator('muxTls', { key, cert }).listen();
    const mux = await startDaemon({
      properties: smppDaemonProperties({
        smppSslPort: 0,
        remoteServers: `127.0.0.1:${sim.port}`,
        isRemoteServerSsl: true,
        'javax.net.ssl.keyStore': join(dir, 'keystore.pem'),
        'javax.net.ssl.keyStorePassword': '',
        'javax.net.ssl.trustStore': join(dir, 'cert.pem'),
      }),
    });
    const bound = [];
    try {
      const muxSslPort = mux.port('smppSslPort');
      for (let i = 0; i < 3; i++) bound.push(await bindEsme({ port: muxSslPort, systemId: 'secure-mux', tls: { ca: cert } }));
      expect(bound.map((b) => [b.resp.command_status, b.resp.system_id])).toEqual(Array(3).fill([0, 'loadbalancer']));
      expect(sim.binds).toEqual(['secure-mux']);
      const rs = await Promise.all(bound.map((b, i) => request(b.session, 'submit_sm', { destination_addr: '1', short_message: `tls-${i}` })));
      expect(rs.map((r) => r.command_status)).toEqual([0, 0, 0]);
      expect(sim.submits.map((x) => x.shortMessage).sort()).toEqual(['tls-0', 'tls-1', 'tls-2']);
    } finally {
      for (const b of bound) await closeSession(b.session);
      await mux.stop();
      await sim.kill();
    }
  });

  it('refuses an SMSC whose certificate the trust store does not vouch for: the ESME gets bind_resp 0x08', async () => {
    const untrusting = await startDaemon({
      properties: smppDaemonProperties({ muxMode: false, remoteServers: `127.0.0.1:${smsc.port}`, isRemoteServerSsl: true }),
    });
    const smppPort = untrusting.port('smppPort');
    try {
      const { session, resp } = await bindEsme({ port: smppPort, systemId: 'untrusted' });
      expect(resp.command_status).toBe(0x08);
      await closeSession(session);
      expect(smsc.binds).not.toContain('untrusted');
    } finally {
      await untrusting.stop();
    }
  });
});
