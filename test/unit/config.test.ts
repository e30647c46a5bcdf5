import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigText, parseProperties, type LoadedConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';

const example1 = readFileSync(new URL('../fixtures/manual-example-1.properties', import.meta.url), 'latin1');

function problems(text: string, file = 'lb.properties'): string[] {
  try {
    loadConfigText(text, file);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

function load(text: string): LoadedConfig {
  return loadConfigText(text, 'lb.properties');
}

describe('java.util.Properties syntax (dot-properties)', () => {
  it('reads key=value, key = value, key:value and key value', () => {
    const { props } = parseProperties('a=1\nb = 2\nc:3\nd 4\n');
    expect([...props].map(([k, p]) => [k, p.value])).toEqual([['a', '1'], ['b', '2'], ['c', '3'], ['d', '4']]);
  });

  it('joins continuation lines and reports the line where the key starts', () => {
    const { props } = parseProperties('# comment\nremoteServers = 127.0.0.1:1,\\\n    127.0.0.1:2\nx=y\n');
    expect(props.get('remoteServers')).toEqual({ value: '127.0.0.1:1,127.0.0.1:2', line: 2 });
    expect(props.get('x')?.line).toBe(4);
  });

  it('decodes \\uXXXX escapes and ignores ! comments', () => {
    const { props } = parseProperties('! a comment\nsmppName=SMPP \\u00e9\n');
    expect(props.get('smppName')?.value).toBe('SMPP é');
    expect(props.size).toBe(1);
  });

  it('uses the last of repeated keys and warns about it', () => {
    const loaded = load('httpPort=1111\nhttpPort=2222\n');
    expect(loaded.config.http.port).toBe(2222);
    expect(loaded.warnings.join('\n')).toContain('httpPort is set 2 times (lines 1, 2)');
  });
});

describe("the manual's Example 1", () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
  });

  it('with the TelestaxProxyAlgorithm line in, fails naming the key, the value and the supported names', () => {
    const p = problems(example1.replaceAll('/home/konstantinnosach/tmp/keystore', certs.p12));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^lb\.properties:61: algorithmClass=org\.mobicens\.tools\.telestaxproxy\.TelestaxProxyAlgorithm: TelestaxProxyAlgorithm is a commercial/);
    expect(p[0]).toContain('call-id-affinity');
    expect(p[0]).toContain('CallIDAffinityBalancerAlgorithm');
  });

  it('with that line commented out and real PKCS#12 keystores, loads with the documented values', () => {
    const text = example1
      .replace('algorithmClass=org.mobicens.tools.telestaxproxy', '#algorithmClass=org.mobicens.tools.telestaxproxy')
      .replaceAll('/home/konstantinnosach/tmp/keystore', certs.p12);
    const { config, warnings } = load(text.replaceAll('=123456', `=${certs.password}`));
    expect(config.host).toBe('192.168.1.70');
    expect(config.sip.external).toEqual({ udp: 5060, tcp: 5060, tls: 5061 });
    expect(config.sip.internal).toEqual({ udp: 5065, tcp: 5065, tls: 5066 });
    expect(config.sip.singleEntryMode).toBe(false);
    expect(config.http).toMatchObject({ port: 2080, httpsPort: 2081, isRemoteServerSsl: true });
    expect(config.smpp).toMatchObject({ port: 2776, sslPort: 2876, timeoutResponseMs: 10_000, timeoutEnquireMs: 50_000, reconnectPeriodMs: 1000 });
    expect(config.smpp.remoteServers).toEqual([{ host: '127.0.0.1', port: 10021 }, { host: '127.0.0.1', port: 10022 }, { host: '127.0.0.1', port: 10023 }]);
    expect(config.registry).toMatchObject({ nodeTimeoutMs: 8400, heartbeatIntervalMs: 150 });
    expect(config.api.port).toBe(2006);
    expect(config.algorithm.name).toBe('call-id-affinity');
    expect(config.tls.material?.pfx).toBeInstanceOf(Buffer);
    expect(config.tls.material?.ca?.length).toBe(1);
    expect(config.tls.minVersion).toBe('TLSv1.2');
    expect(config.tls.clientAuth).toBe('none');
    const all = warnings.join('\n');
    expect(all).toMatch(/rmiRegistryPort=2000: accepted but not used: RMI heartbeats are Java-only/);
    expect(all).toMatch(/TLS_CLIENT_PROTOCOLS=TLSv1: TLSv1 is obsolete/);
    expect(all).toMatch(/lb\.properties:\d+: point=: unknown key, ignored/);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.sip.external)).toBe(true);
  });

  it("with the manual's keystore paths (absent here), fails because TLS listeners are enabled", () => {
    const text = example1.replace('algorithmClass=org.mobicens.tools.telestaxproxy', '#x=');
    const p = problems(text);
    expect(p).toEqual([
      'lb.properties:185: javax.net.ssl.keyStore=/home/konstantinnosach/tmp/keystore: no such file (needed by externalSecurePort, internalSecurePort, httpsPort, smppSslPort)',
      'lb.properties:189: javax.net.ssl.trustStore=/home/konstantinnosach/tmp/keystore: no such file',
    ]);
  });
});

describe('listening points', () => {
  it('defaults to UDP and TCP 5060 outside, single-entry mode inside, HTTP 2080, statistics 2006, heartbeat 2610', () => {
    const { config } = load('');
    expect(config.sip.external).toEqual({ udp: 5060, tcp: 5060 });
    expect(config.sip.singleEntryMode).toBe(true);
    expect(config.http.port).toBe(2080);
    expect(config.api.port).toBe(2006);
    expect(config.registry.heartbeatPort).toBe(2610);
    expect(config.smpp.port).toBeUndefined();
  });

  it('switches a listener off with an empty value', () => {
    const { config } = load('httpPort=\nstatisticPort=\nheartbeatPort=\n');
    expect(config.http.port).toBeUndefined();
    expect(config.api.port).toBeUndefined();
    expect(config.registry.heartbeatPort).toBeUndefined();
  });

  it('takes per-transport keys over the legacy ones, and an empty one removes that transport', () => {
    const { config } = load('externalPort=5060\nexternalTcpPort=\nexternalWsPort=5062\ninternalUdpPort=5065\n');
    expect(config.sip.external).toEqual({ udp: 5060, ws: 5062 });
    expect(config.sip.internal).toEqual({ udp: 5065 });
  });

  it('does not add the default 5060 when only per-transport keys are given', () => {
    expect(load('externalUdpPort=5070\n').config.sip.external).toEqual({ udp: 5070 });
  });

  it('uses WS/WSS instead of TCP/TLS with isTransportWs', () => {
    const certs = makeTestCertificates();
    const { config } = load(`isTransportWs=true\nexternalPort=5060\nexternalSecurePort=5061\njavax.net.ssl.keyStore=${certs.pemKeystore}\n`);
    expect(config.sip.external).toEqual({ udp: 5060, ws: 5060, wss: 5061 });
  });

  it('refuses two listeners on one port', () => {
    expect(problems('externalPort=5060\ninternalPort=5060\n')).toEqual([
      'lb.properties:2: internalPort=5060: port 5060 on 127.0.0.1 is already used by externalPort; each listener needs its own port',
    ]);
    expect(problems('httpPort=2006\n')).toEqual(['lb.properties:1: httpPort=2006: port 2006 on 127.0.0.1 is already used by statisticPort; each listener needs its own port']);
  });

  it('accepts port 0 (any free port) on every listener, and never calls two of them a clash', () => {
    const { config } = load('externalPort=0\ninternalPort=0\nheartbeatPort=0\nstatisticPort=0\nhttpPort=0\nhttpsPort=0\nsmppPort=0\nsmppSslPort=0\njavax.net.ssl.keyStore=' + makeTestCertificates().pemKeystore + '\n');
    expect(config.sip.external).toEqual({ udp: 0, tcp: 0 });
    expect(config.sip.internal).toEqual({ udp: 0, tcp: 0 });
    expect([config.registry.heartbeatPort, config.api.port, config.http.port, config.http.httpsPort, config.smpp.port, config.smpp.sslPort]).toEqual([0, 0, 0, 0, 0, 0]);
    // An advertised port is not a listener: 0 stays an error there.
    expect(problems('externalIpLoadBalancerAddress=10.0.0.1\nexternalIpLoadBalancerPort=0\n')).toEqual([
      'lb.properties:2: externalIpLoadBalancerPort=0: expected a port number from 1 to 65535, or nothing to switch it off',
      'lb.properties:1: externalIpLoadBalancerAddress=10.0.0.1: an IP load balancer address needs its port: set externalIpLoadBalancerPort (or externalIpLoadBalancerUdpPort, …)',
    ]);
  });

  it('needs a port with an IP load balancer address', () => {
    expect(problems('externalIpLoadBalancerAddress=10.0.0.1\n')).toEqual([
      'lb.properties:1: externalIpLoadBalancerAddress=10.0.0.1: an IP load balancer address needs its port: set externalIpLoadBalancerPort (or externalIpLoadBalancerUdpPort, …)',
    ]);
    expect(load('externalIpLoadBalancerAddress=10.0.0.1\nexternalIpLoadBalancerPort=5060\n').config.sip.externalIpLoadBalancer).toEqual({ address: '10.0.0.1', ports: { udp: 5060, tcp: 5060 } });
  });

  it('reads extraServerNodes with the default port 5060', () => {
    expect(load('extraServerNodes=222.221.21.12:21,45.6.6.7:9003,33.5.6.7\n').config.sip.extraServerNodes).toEqual([
      { host: '222.221.21.12', port: 21 },
      { host: '45.6.6.7', port: 9003 },
      { host: '33.5.6.7', port: 5060 },
    ]);
  });
});

describe('validation messages', () => {
  it.each([
    ['httpPort=70000', 'lb.properties:1: httpPort=70000: expected a port number from 1 to 65535 (0: any free port), or nothing to switch it off'],
    ['httpPort=abc', 'lb.properties:1: httpPort=abc: expected a port number from 1 to 65535 (0: any free port), or nothing to switch it off'],
    ['nodeTimeout=10', 'lb.properties:1: nodeTimeout=10: expected a whole number at least 15 (milliseconds)'],
    ['heartbeatInterval=fast', 'lb.properties:1: heartbeatInterval=fast: expected a whole number at least 15 (milliseconds)'],
    ['isSendTrying=maybe', 'lb.properties:1: isSendTrying=maybe: expected true or false'],
    ['host=not a host', 'lb.properties:1: host=not a host: expected an IP address or host name'],
    ['internalTransport=SCTP', 'lb.properties:1: internalTransport=SCTP: expected one of UDP, TCP, TLS, WS, WSS'],
    ['remoteServers=127.0.0.1', 'lb.properties:1: remoteServers=127.0.0.1: "127.0.0.1" is not host:port'],
    ['logLevel=loud', 'lb.properties:1: logLevel=loud: expected one of fatal, error, warn, info, debug, trace, silent'],
    ['trafficPercentageIncrease=200', 'lb.properties:1: trafficPercentageIncrease=200: expected a whole number from 1 to 100 (percent)'],
    ['sipHeaderAffinityExclusionPattern=(', 'lb.properties:1: sipHeaderAffinityExclusionPattern=(: expected a regular expression (Invalid regular expression: /(/: Unterminated group)'],
    ['gov.nist.javax.sip.TLS_CLIENT_AUTH_TYPE=Sometimes', 'lb.properties:1: gov.nist.javax.sip.TLS_CLIENT_AUTH_TYPE=Sometimes: expected Enabled (require a client certificate), Want (request one), Disabled or DisabledAll'],
    ['affinityStore=mysql://x', 'lb.properties:1: affinityStore=mysql://x: expected memory or redis://host:port'],
    ['algorithmClass=com.example.Nope', 'lb.properties:1: algorithmClass=com.example.Nope: not a known algorithm; expected one of'],
  ])('%s', (line, message) => {
    const p = problems(`${line}\n`);
    expect(p).toHaveLength(1);
    expect(p[0]!.startsWith(message)).toBe(true);
  });

  it('reports every problem at once, each with its own line', () => {
    expect(problems('# c\nhttpPort=x\n\nnodeTimeout=1\n')).toEqual([
      'lb.properties:4: nodeTimeout=1: expected a whole number at least 15 (milliseconds)',
      'lb.properties:2: httpPort=x: expected a port number from 1 to 65535 (0: any free port), or nothing to switch it off',
    ]);
  });

  it('puts a host in two subcluster groups on its line', () => {
    expect(problems('a=b\nsubclusterMap=( 192.168.1.1, 192.168.1.2 ) ( 10.10.10.10,192.168.1.2)\n')).toEqual([
      'lb.properties:2: subclusterMap=( 192.168.1.1, 192.168.1.2 ) ( 10.10.10.10,192.168.1.2): host 192.168.1.2 is in group 1 and in group 2; a host may belong to one group only',
    ]);
    expect(load('subclusterMap=( 192.168.1.1, 192.168.1.2 ) ( 10.10.10.10,20.20.20.20, 30.30.30.30)\n').config.algorithm.subclusterMap).toEqual([
      ['192.168.1.1', '192.168.1.2'],
      ['10.10.10.10', '20.20.20.20', '30.30.30.30'],
    ]);
  });

  it('warns about unknown keys with a suggestion, never fails on them', () => {
    const { warnings } = load('nodeTimout=9000\ncompletelyUnknown=1\n');
    expect(warnings).toContain('lb.properties:1: nodeTimout=9000: unknown key, ignored (did you mean nodeTimeout?)');
    expect(warnings).toContain('lb.properties:2: completelyUnknown=1: unknown key, ignored');
  });

  it('accepts JAIN SIP stack keys as not applicable, without warnings', () => {
    const loaded = load('javax.sip.STACK_NAME = SipBalancerForwarder\ngov.nist.javax.sip.THREAD_POOL_SIZE = 64\n');
    expect(loaded.warnings).toEqual([]);
    expect(loaded.notApplicable).toEqual(['javax.sip.STACK_NAME', 'gov.nist.javax.sip.THREAD_POOL_SIZE']);
  });
});

describe('keystores, recognised by content', () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
  });
  const tlsOn = 'externalTlsPort=5061\n';

  it('reads a PEM keystore (certificate and key in one file)', () => {
    const { config } = load(`${tlsOn}javax.net.ssl.keyStore=${certs.pemKeystore}\n`);
    expect(config.tls.material?.cert).toContain('BEGIN CERTIFICATE');
    expect(config.tls.material?.key).toContain('PRIVATE KEY');
  });

  it('reads a PKCS#12 keystore whatever its file name, and refuses a wrong password', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-'));
    const renamed = join(dir, 'keystore.jks');
    writeFileSync(renamed, readFileSync(certs.p12));
    expect(load(`${tlsOn}javax.net.ssl.keyStore=${renamed}\njavax.net.ssl.keyStorePassword=${certs.password}\n`).config.tls.material?.pfx).toBeInstanceOf(Buffer);
    expect(problems(`${tlsOn}javax.net.ssl.keyStore=${renamed}\njavax.net.ssl.keyStorePassword=wrong\n`)).toEqual([
      `lb.properties:2: javax.net.ssl.keyStore=${renamed}: the password (keyStorePassword) does not open it (needed by externalTlsPort)`,
    ]);
  });

  it('explains how to convert a Java KeyStore', () => {
    const jks = join(mkdtempSync(join(tmpdir(), 'ks-')), 'keystore');
    writeFileSync(jks, Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 1]));
    const p = problems(`${tlsOn}javax.net.ssl.keyStore=${jks}\n`);
    expect(p[0]).toContain('is a Java JKS keystore, which Node.js cannot read; convert it to PKCS#12 with keytool -importkeystore');
    expect(p[0]).toContain('-deststoretype PKCS12');
  });

  it('reads a PKCS#12 trust store holding only certificates', () => {
    const { config } = load(`${tlsOn}javax.net.ssl.keyStore=${certs.pemKeystore}\njavax.net.ssl.trustStore=${certs.trustP12}\njavax.net.ssl.trustStorePassword=${certs.password}\n`);
    expect(config.tls.material?.ca).toHaveLength(1);
  });

  it('ignores a missing keystore when no TLS listener is enabled, and requires one when it is', () => {
    expect(problems('javax.net.ssl.keyStore=/nonexistent\n')).toEqual([]);
    expect(problems('httpsPort=2081\n')).toEqual([
      'lb.properties: javax.net.ssl.keyStore: a TLS listener is enabled (httpsPort) but no keystore is set: set javax.net.ssl.keyStore (PEM or PKCS#12) and javax.net.ssl.keyStorePassword',
    ]);
  });

  it('keeps TLS 1.2 as the floor unless legacy protocols are allowed explicitly', () => {
    const base = `${tlsOn}javax.net.ssl.keyStore=${certs.pemKeystore}\ngov.nist.javax.sip.TLS_CLIENT_PROTOCOLS=TLSv1,TLSv1.2\n`;
    expect(load(base).config.tls.minVersion).toBe('TLSv1.2');
    expect(load(`${base}tlsAllowLegacyProtocols=true\n`).config.tls.minVersion).toBe('TLSv1');
    expect(load(`${tlsOn}javax.net.ssl.keyStore=${certs.pemKeystore}\ngov.nist.java.sip.TLS_CLIENT_AUTH_TYPE=Want\n`).config.tls.clientAuth).toBe('request');
  });
});

describe('keys of the original that act only in some set-ups (no silent no-ops)', () => {
  it('userAffinity* set the user-based cache unless callIdAffinity* are set; other algorithms warn', () => {
    const ub = load('algorithmClass=UserBasedAlgorithm\nuserAffinityMaxTimeInCache=42\nuserAffinityGroupFailover=true\n');
    expect(ub.config.algorithm).toMatchObject({ callIdAffinityMaxTimeInCacheSeconds: 42, callIdAffinityGroupFailover: true });
    expect(ub.warnings.join('\n')).not.toContain('userAffinity');
    const both = load('algorithmClass=user-based\nuserAffinityMaxTimeInCache=42\ncallIdAffinityMaxTimeInCache=7\n');
    expect(both.config.algorithm.callIdAffinityMaxTimeInCacheSeconds).toBe(7);
    expect(both.warnings.join('\n')).toMatch(/userAffinityMaxTimeInCache=42: callIdAffinityMaxTimeInCache is set too and wins/);
    const other = load('userAffinityGroupFailover=true\n');
    expect(other.config.algorithm.callIdAffinityGroupFailover).toBe(false);
    expect(other.warnings.join('\n')).toMatch(/userAffinityGroupFailover=true: only the user-based algorithm reads it \(algorithmClass is call-id-affinity\)/);
    expect(problems('algorithmClass=user-based\nuserAffinityMaxTimeInCache=soon\n')[0]).toMatch(/userAffinityMaxTimeInCache/);
  });

  it('externalTransport and internalTransport act; maxConnectionSize and the 5xx details alone are warned with why', () => {
    const { config, warnings } = load('externalTransport=TCP\ninternalTransport=UDP\nmaxConnectionSize=10\nisSend5xxResponseReasonHeader=down\n');
    expect(config.sip).toMatchObject({ externalTransport: 'tcp', internalTransport: 'udp' });
    const all = warnings.join('\n');
    expect(all).toMatch(/maxConnectionSize=10: not used: in the original it sized the SMPP Netty worker pool/);
    expect(all).toMatch(/isSend5xxResponseReasonHeader=down: has no effect without isSend5xxResponse=true/);
    expect(all).not.toMatch(/Transport/);
  });
});

describe('SMPP toProviderAlgorithmClass', () => {
  it('defaults to round robin and reads the original class names and short names', () => {
    expect(load('smppPort=2776\n').config.smpp.toProvider).toBe('round-robin');
    expect(load('toProviderAlgorithmClass=org.mobicents.tools.smpp.multiplexer.ActiveStandbyAlgorithm\n').config.smpp.toProvider).toBe('active-standby');
    expect(load('toProviderAlgorithmClass=round-robin\n').config.smpp.toProvider).toBe('round-robin');
  });

  it('refuses an unknown algorithm with file and line', () => {
    expect(problems('host=127.0.0.1\ntoProviderAlgorithmClass=Random\n')).toEqual([expect.stringMatching(/lb\.properties:2.*toProviderAlgorithmClass.*active-standby/)]);
  });
});

describe('SMPP muxMode', () => {
  it('defaults to mux mode (the original\'s default) with a bounded receipt memory; muxMode=false is regular mode', () => {
    expect(load('smppPort=2776\n').config.smpp).toMatchObject({ muxMode: true, muxReceiptMemory: 200_000, muxReceiptLifetimeMs: 3_600_000 });
    expect(load('muxMode=false\n').config.smpp.muxMode).toBe(false);
    expect(load('muxReceiptMemory=0\nmuxReceiptLifetime=60000\n').config.smpp).toMatchObject({ muxReceiptMemory: 0, muxReceiptLifetimeMs: 60_000 });
  });

  it('accepts toNodeAlgorithmClass round robin in mux mode and says what other values do', () => {
    expect(load('toNodeAlgorithmClass=org.mobicents.tools.smpp.multiplexer.RoundRobinAlgorithm\n').warnings.join('\n')).not.toMatch(/toNodeAlgorithmClass/);
    expect(load('toNodeAlgorithmClass=SubmitToAllAlgorithm\n').warnings.join('\n')).toMatch(/toNodeAlgorithmClass=SubmitToAllAlgorithm: mux mode delivers .* round robin/);
    expect(load('muxMode=false\ntoNodeAlgorithmClass=RoundRobin\n').warnings.join('\n')).toMatch(/no effect in regular mode/);
  });
});
