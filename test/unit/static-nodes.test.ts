// The staticNodes entry and nodeProbeAliveStatuses parsers, and the probe's reading of a response head.
import { describe, expect, it } from 'vitest';
import { parseStaticNode, parseStatusRanges } from '../../src/registry/static-nodes.js';
import { readResponseHead } from '../../src/registry/probe-message.js';

describe('staticNodes entries', () => {
  it('reads host:port with transport and version, udp and version 0 by default, IPv6 in brackets', () => {
    expect(parseStaticNode('10.0.0.5:5060')).toEqual({ host: '10.0.0.5', port: 5060, transport: 'udp', version: '0' });
    expect(parseStaticNode(' pbx.example.net:5061;transport=TLS;version=7 ')).toEqual({ host: 'pbx.example.net', port: 5061, transport: 'tls', version: '7' });
    expect(parseStaticNode('[::1]:5070;transport=tcp')).toEqual({ host: '::1', port: 5070, transport: 'tcp', version: '0' });
  });

  it('says what is wrong with an entry', () => {
    expect(parseStaticNode('10.0.0.5')).toMatch(/is not host:port/);
    expect(parseStaticNode('10.0.0.5:0')).toMatch(/port must be a number from 1 to 65535/);
    expect(parseStaticNode('10.0.0.5:70000')).toMatch(/port must be/);
    expect(parseStaticNode('bad_host:5060')).toMatch(/not an IP address or host name/);
    expect(parseStaticNode('10.0.0.5:5060;transport=ws')).toMatch(/expected udp, tcp or tls/);
    expect(parseStaticNode('10.0.0.5:5060;weight=2')).toMatch(/unknown parameter/);
    expect(parseStaticNode('[10.0.0.5]:5060')).toMatch(/not an IPv6 address/);
  });
});

describe('nodeProbeAliveStatuses', () => {
  it('reads codes and inclusive ranges', () => {
    expect(parseStatusRanges('200-299, 404,405')).toEqual([[200, 299], [404, 404], [405, 405]]);
  });
  it('refuses what is not a status', () => {
    expect(parseStatusRanges('99')).toMatch(/not a SIP status code/);
    expect(parseStatusRanges('300-200')).toMatch(/not a SIP status code/);
    expect(parseStatusRanges('')).toMatch(/at least one/);
  });
});

describe('probe response heads', () => {
  it('reads the status and the Call-ID (long or compact form)', () => {
    expect(readResponseHead('SIP/2.0 200 OK\r\nVia: x\r\nCall-ID: abc@h\r\n')).toEqual({ status: 200, callId: 'abc@h' });
    expect(readResponseHead('SIP/2.0 405 Method Not Allowed\r\ni: q1\r\n')).toEqual({ status: 405, callId: 'q1' });
    expect(readResponseHead('OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n')).toBeUndefined();
  });
});
