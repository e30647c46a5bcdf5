// Mixed transports across the two legs (src/sip/transport/legs.ts): internal-leg transport, Contact marking,
// and the flow alias that brings a node's request back to a WebSocket/TLS client's connection.

import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/sip/message.js';
import { flowOf, internalLegTransport, markClientContact, nodeRequestTarget, withUriParams, withoutFlow } from '../../src/sip/transport/legs.js';
import { parseUri } from '../../src/sip/uri.js';

const invite = (contact: string | undefined, ruri = 'sip:bob@10.0.0.1:5060'): ReturnType<typeof parseMessage> =>
  parseMessage(
    `INVITE ${ruri} SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n` +
      (contact !== undefined ? `Contact: ${contact}\r\n` : '') +
      'Content-Length: 0\r\n\r\n',
  );

describe('internalLegTransport', () => {
  it('keeps the client transport by default', () => {
    for (const t of ['udp', 'tcp', 'tls', 'ws', 'wss'] as const) expect(internalLegTransport(t, { terminateTLSTraffic: false, internalTransport: undefined })).toBe(t);
  });
  it('terminates TLS to TCP and WSS to WS with terminateTLSTraffic', () => {
    const sip = { terminateTLSTraffic: true, internalTransport: undefined };
    expect(internalLegTransport('tls', sip)).toBe('tcp');
    expect(internalLegTransport('wss', sip)).toBe('ws');
    expect(internalLegTransport('udp', sip)).toBe('udp');
    expect(internalLegTransport('ws', sip)).toBe('ws');
  });
  it('forces internalTransport on every client, ahead of terminateTLSTraffic', () => {
    expect(internalLegTransport('wss', { terminateTLSTraffic: true, internalTransport: 'udp' })).toBe('udp');
    expect(internalLegTransport('tls', { terminateTLSTraffic: false, internalTransport: 'tcp' })).toBe('tcp');
  });
});

describe('withUriParams', () => {
  it('adds parameters inside the angle brackets of a name-addr, before URI headers', () => {
    expect(withUriParams('"A <b>" <sip:a@h:5>;expires=60', ';transport=tls')).toBe('"A <b>" <sip:a@h:5;transport=tls>;expires=60');
    expect(withUriParams('<sip:a@h?X=1>', ';x')).toBe('<sip:a@h;x?X=1>');
  });
  it('wraps an addr-spec in angle brackets so that header parameters stay header parameters', () => {
    expect(withUriParams('sip:a@h:5;expires=60', ';transport=tls')).toBe('<sip:a@h:5;transport=tls>;expires=60');
    expect(withUriParams('sip:a@h', ';transport=ws')).toBe('<sip:a@h;transport=ws>');
  });
});

describe('markClientContact', () => {
  const wss = { transport: 'wss' as const, remoteAddress: '192.0.2.7', remotePort: 40000 };
  it('leaves the Contact of a client reachable at its Contact alone when both legs use its transport', () => {
    const m = invite('<sip:a@192.0.2.7:40000;transport=tls>');
    expect(markClientContact(m, { transport: 'tls', remoteAddress: '192.0.2.7', remotePort: 40000 }, 'tls')).toBe(false);
    expect(m.header('contact')).toBe('<sip:a@192.0.2.7:40000;transport=tls>');
    const udp = invite('<sip:a@192.0.2.7:5060>');
    expect(markClientContact(udp, { transport: 'udp', remoteAddress: '192.0.2.9', remotePort: 5060 }, 'udp')).toBe(false);
  });
  it('gives a WebSocket client the flow alias even when both legs are WebSockets (its Contact host is unreachable)', () => {
    const m = invite('<sip:a@abc.invalid;transport=ws>');
    expect(markClientContact(m, wss, 'wss')).toBe(true);
    expect(m.header('contact')).toBe('<sip:a@abc.invalid;transport=ws;lbflow=192.0.2.7~40000~wss>');
  });
  it('adds the flow alias of a WebSocket client (its Contact host is .invalid), keeping its transport', () => {
    const m = invite('<sip:a@abc.invalid;transport=ws>;+sip.instance="<urn:uuid:1>"');
    expect(markClientContact(m, wss, 'udp')).toBe(true);
    expect(m.header('contact')).toBe('<sip:a@abc.invalid;transport=ws;lbflow=192.0.2.7~40000~wss>;+sip.instance="<urn:uuid:1>"');
  });
  it('adds ;transport=tls to a TLS client Contact without one; no alias when the Contact names the connection', () => {
    const m = invite('<sip:a@192.0.2.7:40000>');
    markClientContact(m, { transport: 'tls', remoteAddress: '192.0.2.7', remotePort: 40000 }, 'tcp');
    expect(m.header('contact')).toBe('<sip:a@192.0.2.7:40000;transport=tls>');
  });
  it('does not touch a TCP or UDP client beyond the transport parameter, nor a star or a missing Contact', () => {
    const m = invite('<sip:a@192.0.2.7:5070>');
    markClientContact(m, { transport: 'tcp', remoteAddress: '192.0.2.9', remotePort: 1 }, 'udp');
    expect(m.header('contact')).toBe('<sip:a@192.0.2.7:5070;transport=tcp>');
    const star = invite('*');
    expect(markClientContact(star, wss, 'udp')).toBe(false);
    expect(markClientContact(invite(undefined), wss, 'udp')).toBe(false);
  });
  it('replaces a flow alias the client wrote itself (it could name another client\'s connection)', () => {
    const m = invite('<sip:a@abc.invalid;lbflow=192.0.2.99~1234~wss;transport=ws>');
    expect(markClientContact(m, wss, 'udp')).toBe(true);
    expect(m.header('contact')).toBe('<sip:a@abc.invalid;transport=ws;lbflow=192.0.2.7~40000~wss>');
    const udp = invite('<sip:a@192.0.2.7:5060;lbflow=192.0.2.99~1234~wss>');
    expect(markClientContact(udp, { transport: 'udp', remoteAddress: '192.0.2.7', remotePort: 5060 }, 'udp')).toBe(true);
    expect(udp.header('contact')).toBe('<sip:a@192.0.2.7:5060>');
  });
  it('marks every Contact of a REGISTER', () => {
    const m = parseMessage(
      'REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\n' +
        'Contact: <sip:a@abc.invalid;transport=ws>;expires=600\r\nContact: <sip:a@def.invalid;transport=ws;lbflow=9.9.9.9~1~ws>\r\nContent-Length: 0\r\n\r\n',
    );
    expect(markClientContact(m, wss, 'udp')).toBe(true);
    expect(m.headerValues('contact')).toEqual(['<sip:a@abc.invalid;transport=ws;lbflow=192.0.2.7~40000~wss>;expires=600', '<sip:a@def.invalid;transport=ws;lbflow=192.0.2.7~40000~wss>']);
  });
  it('marks IPv6 connections', () => {
    const m = invite('<sip:a@abc.invalid;transport=ws>');
    markClientContact(m, { transport: 'ws', remoteAddress: '::1', remotePort: 5 }, 'udp');
    expect(flowOf(parseUri('sip:a@abc.invalid;transport=ws;lbflow=::1~5~ws')!)).toEqual({ host: '::1', port: 5, transport: 'ws' });
    expect(m.header('contact')).toContain(';lbflow=::1~5~ws>');
  });
});

describe('flow alias routing', () => {
  it('reads the alias and refuses malformed ones', () => {
    expect(flowOf(parseUri('sip:a@h;lbflow=1.2.3.4~5060~wss')!)).toEqual({ host: '1.2.3.4', port: 5060, transport: 'wss' });
    expect(flowOf(parseUri('sip:a@h;lbflow=1.2.3.4~99999~wss')!)).toBeUndefined();
    expect(flowOf(parseUri('sip:a@h;lbflow=1.2.3.4~5060~sctp')!)).toBeUndefined();
    expect(flowOf(parseUri('sip:a@h;lbflow=junk')!)).toBeUndefined();
    expect(flowOf(parseUri('sip:a@h')!)).toBeUndefined();
  });
  it('removes the alias from a URI', () => {
    expect(withoutFlow('sip:a@h;transport=ws;lbflow=1.2.3.4~1~ws')).toBe('sip:a@h;transport=ws');
    expect(withoutFlow('sip:a@h;lbflow=1.2.3.4~1~ws;ob')).toBe('sip:a@h;ob');
    expect(withoutFlow('sip:a@h;lbflow=1.2.3.4~1~ws?X=1')).toBe('sip:a@h?X=1');
    expect(withoutFlow('sip:a@h;ob')).toBe('sip:a@h;ob');
  });
  it('routes a node request to the connection named by its Request-URI alias and hands the client its own URI', () => {
    const m = invite(undefined, 'sip:a@abc.invalid;transport=ws;lbflow=192.0.2.7~40000~wss');
    const target = nodeRequestTarget(m, undefined)!;
    expect([target.host, target.port, target.params]).toEqual(['192.0.2.7', 40000, ';transport=wss']);
    expect(m.requestUri).toBe('sip:a@abc.invalid;transport=ws');
    expect(m.toString()).toMatch(/^INVITE sip:a@abc\.invalid;transport=ws SIP\/2\.0\r\n/);
  });
  it('follows a remaining Route first, leaving the Request-URI alone', () => {
    const m = invite(undefined, 'sip:a@abc.invalid;transport=ws;lbflow=192.0.2.7~40000~wss');
    const target = nodeRequestTarget(m, '<sip:proxy.example.com:5070;lr>')!;
    expect([target.host, target.port]).toEqual(['proxy.example.com', 5070]);
    expect(m.requestUri).toContain('lbflow=');
  });
});
