// TLS on both sides of the SMPP broker: ESMEs on smppSslPort, and isRemoteServerSsl=true towards an SMSC
// that only speaks TLS, verified against the trust store.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePorts } from '../helpers/ports.js';
import { SmscSimulator, bindEsme, closeSession, request, smppDaemonProperties } from '../helpers/smpp.js';

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
    let smppPort: number;
    [smppPort, sslPort] = (await freePorts(2)) as [number, number];
    daemon = await startDaemon({
      properties: await smppDaemonProperties({
        smppPort,
        smppSslPort: sslPort,
        remoteServers: `127.0.0.1:${smsc.port}`,
        isRemoteServerSsl: true,
        'javax.net.ssl.keyStore': join(dir, 'keystore.pem'),
        'javax.net.ssl.keyStorePassword': '',
        'javax.net.ssl.trustStore': join(dir, 'cert.pem'),
      }),
    });
    await daemon.waitForLog(`SMPP Load Balancer uses port : ${sslPort} for TLS clients.`);
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

  it('refuses an SMSC whose certificate the trust store does not vouch for: the ESME gets bind_resp 0x08', async () => {
    const [smppPort] = (await freePorts(1)) as [number];
    const untrusting = await startDaemon({
      properties: await smppDaemonProperties({ smppPort, remoteServers: `127.0.0.1:${smsc.port}`, isRemoteServerSsl: true }),
    });
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
