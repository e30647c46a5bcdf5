// config/tls.properties works as documented: with the certificate its comments tell you to make (paths and
// ports moved to temporary ones), the daemon starts and serves SIP over TLS and WSS.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ROOT, startDaemon, type Daemon } from '../helpers/daemon.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';
import { installJsSipGlobals, startJsSip } from '../helpers/jssip.js';

describe('config/tls.properties', () => {
  let certs: TestCertificates;
  let lb: Daemon;
  const port: Record<string, number> = {};

  beforeAll(async () => {
    certs = makeTestCertificates();
    // The files the sample's comments make: keystore.pem (certificate + key) and cert.pem.
    writeFileSync(join(certs.dir, 'cert.pem'), readFileSync(certs.certPem));
    let text = readFileSync(join(ROOT, 'config', 'tls.properties'), 'utf8').replaceAll('config/tls/', `${certs.dir}/`);
    const keys = ['externalUdpPort', 'externalTcpPort', 'externalTlsPort', 'externalWsPort', 'externalWssPort', 'internalUdpPort', 'internalTcpPort', 'internalTlsPort', 'heartbeatPort', 'statisticPort'];
    // The sample as shipped, every port set to 0: the daemon binds free ones and reports them.
    for (const k of keys) {
      expect(text).toMatch(new RegExp(`^${k}=\\d+$`, 'm'));
      text = text.replace(new RegExp(`^${k}=\\d+$`, 'm'), `${k}=0`);
    }
    lb = await startDaemon({ properties: text });
    for (const k of keys) port[k] = lb.port(k);
  });

  afterAll(async () => {
    await lb?.stop();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  it('serves TLS on externalTlsPort with the sample keystore', async () => {
    const ca = readFileSync(certs.certPem, 'utf8');
    const socket = tlsConnect({ host: '127.0.0.1', port: port.externalTlsPort!, ca });
    const proto = await new Promise<string | null>((resolve, reject) => {
      socket.once('secureConnect', () => resolve(socket.getProtocol()));
      socket.once('error', reject);
    });
    socket.destroy();
    expect(['TLSv1.2', 'TLSv1.3']).toContain(proto);
  });

  it('accepts JsSIP over WSS on externalWssPort', async () => {
    installJsSipGlobals(readFileSync(certs.certPem, 'utf8'));
    const agent = await startJsSip(`wss://127.0.0.1:${port.externalWssPort}`, 'sample');
    expect(agent.ua.isConnected()).toBe(true);
    await agent.stop();
  });
});
