import { describe, expect, it } from 'vitest';
import type { IncomingHttpHeaders } from 'node:http';
import { addForwardedHeaders, connectionOptions, hasHopByHop, hasNoBody, isIdempotent, stripHopByHop } from '../../src/http/headers.js';
import { offersSip } from '../../src/http/balancer.js';
import { parseHostPort, redirectLocation } from '../../src/http/replies.js';

describe('hop-by-hop fields (RFC 9110 §7.6.1)', () => {
  it('removes Connection, Keep-Alive, Proxy-Connection, TE, Trailer and Upgrade', () => {
    const h: IncomingHttpHeaders = {
      host: 'lb', connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive',
      te: 'trailers', trailer: 'x-sum', upgrade: 'h2c', accept: '*/*',
    };
    expect(stripHopByHop(h)).toBe(true);
    expect(h).toEqual({ host: 'lb', accept: '*/*' });
  });
  it('removes the fields the Connection header names', () => {
    const h: IncomingHttpHeaders = { host: 'lb', connection: 'close, X-Secret, x-other', 'x-secret': '1', 'x-other': '2', 'x-kept': '3' };
    stripHopByHop(h);
    expect(h).toEqual({ host: 'lb', 'x-kept': '3' });
  });
  it('never removes Host or Transfer-Encoding even when Connection names them', () => {
    const h: IncomingHttpHeaders = { host: 'lb', connection: 'host, transfer-encoding', 'transfer-encoding': 'chunked' };
    stripHopByHop(h);
    expect(h).toEqual({ host: 'lb', 'transfer-encoding': 'chunked' });
  });
  it('keeps Connection: Upgrade and Upgrade for a WebSocket handshake', () => {
    const h: IncomingHttpHeaders = { host: 'lb', connection: 'keep-alive, Upgrade', upgrade: 'websocket', 'keep-alive': '5' };
    stripHopByHop(h, true);
    expect(h).toEqual({ host: 'lb', connection: 'Upgrade', upgrade: 'websocket' });
  });
  it('reports plain requests as needing no work', () => {
    expect(hasHopByHop({ host: 'a', accept: '*/*' })).toBe(false);
    expect(hasHopByHop({ host: 'a', connection: 'close' })).toBe(true);
    expect(stripHopByHop({ host: 'a' })).toBe(false);
  });
  it('splits Connection options without case', () => {
    expect(connectionOptions('Keep-Alive, X-A')).toEqual(['keep-alive', 'x-a']);
    expect(connectionOptions(undefined)).toEqual([]);
  });
});

describe('X-Forwarded-*', () => {
  it('appends the client to X-Forwarded-For and sets Proto and Host', () => {
    const h: IncomingHttpHeaders = { host: 'shop.example:2080', 'x-forwarded-for': '10.0.0.1' };
    addForwardedHeaders(h, '::ffff:192.0.2.7', false);
    expect(h['x-forwarded-for']).toBe('10.0.0.1, 192.0.2.7');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('shop.example:2080');
  });
  it('says https for the TLS listener', () => {
    const h: IncomingHttpHeaders = { host: 'a' };
    addForwardedHeaders(h, '127.0.0.1', true);
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('https');
  });
});

describe('retry rules', () => {
  it('knows the idempotent methods', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) expect(isIdempotent(m)).toBe(true);
    for (const m of ['POST', 'PATCH', undefined]) expect(isIdempotent(m)).toBe(false);
  });
  it('knows a request without body', () => {
    expect(hasNoBody({})).toBe(true);
    expect(hasNoBody({ 'content-length': '0' })).toBe(true);
    expect(hasNoBody({ 'content-length': '5' })).toBe(false);
    expect(hasNoBody({ 'transfer-encoding': 'chunked' })).toBe(false);
  });
});

describe('WebSocket subprotocol', () => {
  it('recognises sip in a list', () => {
    expect(offersSip('sip')).toBe(true);
    expect(offersSip('chat, SIP')).toBe(true);
    expect(offersSip('sips-not, chat')).toBe(false);
  });
});

describe('addresses of replies', () => {
  it('parses host and host:port with a default port', () => {
    expect(parseHostPort('maint.example', 80)).toEqual({ host: 'maint.example', port: 80 });
    expect(parseHostPort('127.0.0.1:8081', 80)).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(parseHostPort('[::1]:8081', 80)).toEqual({ host: '::1', port: 8081 });
    expect(parseHostPort('::1', 80)).toEqual({ host: '::1', port: 80 });
  });
  it('redirects to the same host on the HTTPS port', () => {
    expect(redirectLocation('shop.example:2080', '0.0.0.0', 2081, '/a?b=1')).toBe('https://shop.example:2081/a?b=1');
    expect(redirectLocation('shop.example', '0.0.0.0', 443, '/')).toBe('https://shop.example/');
    expect(redirectLocation('[::1]:2080', '0.0.0.0', 2081, '/x')).toBe('https://[::1]:2081/x');
    expect(redirectLocation(undefined, '10.0.0.5', 2081, '/x')).toBe('https://10.0.0.5:2081/x');
  });
});
