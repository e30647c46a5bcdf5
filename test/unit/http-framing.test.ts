import { describe, expect, it } from 'vitest';
import { ChunkedBodyEnd } from '../../src/http/chunked.js';
import { parseRequestHead, parseResponseHead } from '../../src/http/http1-head.js';
import { incomingResponseHead, isHopByHop, outgoingRequestHead } from '../../src/http/raw-headers.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('end of a chunked body (RFC 9112 §7.1)', () => {
  it('finds the end of a body in one piece, with following bytes left over', () => {
    const body = '5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n';
    expect(new ChunkedBodyEnd().scan(b(body + 'NEXT'))).toBe(body.length);
  });
  it('finds it across pieces split anywhere', () => {
    const body = 'a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\nX-Sum: 1\r\n\r\n';
    for (let cut = 1; cut < body.length; cut++) {
      const scanner = new ChunkedBodyEnd();
      expect(scanner.scan(b(body.slice(0, cut)))).toBe(-1);
      expect(scanner.scan(b(body.slice(cut)))).toBe(body.length - cut);
      expect(scanner.done).toBe(true);
    }
  });
  it('rejects what is not chunked framing', () => {
    expect(() => new ChunkedBodyEnd().scan(b('zz\r\n'))).toThrow();
    expect(() => new ChunkedBodyEnd().scan(b('3\r\nabcX'))).toThrow();
    expect(() => new ChunkedBodyEnd().scan(b('1234567890abc\r\n'))).toThrow();
  });
});

describe('request heads the fast path relays', () => {
  it('parses an HTTP/1.1 request with its fields in order', () => {
    const head = parseRequestHead('POST /a?b=1 HTTP/1.1\r\nHost: lb\r\nContent-Length: 12\r\nCookie: JSESSIONID=x.n1');
    expect(head).toEqual({ method: 'POST', target: '/a?b=1', rawHeaders: ['Host', 'lb', 'Content-Length', '12', 'Cookie', 'JSESSIONID=x.n1'], contentLength: 12, close: false });
  });
  it('notes Connection: close', () => {
    expect(parseRequestHead('GET / HTTP/1.1\r\nHost: lb\r\nConnection: keep-alive, Close')?.close).toBe(true);
  });
  it('leaves to node:http what it does not relay itself', () => {
    for (const head of [
      'GET / HTTP/1.0\r\nHost: lb',
      'GET http://x/ HTTP/1.1\r\nHost: lb',
      'GET / HTTP/1.1',
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b',
      'GET / HTTP/1.1\r\nHost: lb\r\nUpgrade: websocket\r\nConnection: Upgrade',
      'PUT / HTTP/1.1\r\nHost: lb\r\nExpect: 100-continue\r\nContent-Length: 5',
      'POST / HTTP/1.1\r\nHost: lb\r\nTransfer-Encoding: chunked',
      'POST / HTTP/1.1\r\nHost: lb\r\nContent-Length: 5\r\nContent-Length: 6',
      'POST / HTTP/1.1\r\nHost: lb\r\nContent-Length: -1',
      'GET / HTTP/1.1\r\nHost: lb\r\n folded',
      'GET / HTTP/1.1\r\nHost : lb',
      'GET / HTTP/1.1\r\nHost: lb\r\nX: a\nb',
    ]) expect(parseRequestHead(head), head).toBeUndefined();
  });
});

describe('response heads from nodes', () => {
  it('reads status, length and framing', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 827')).toMatchObject({ status: 200, reason: 'OK', contentLength: 827, chunked: false, close: false });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked')).toMatchObject({ chunked: true, contentLength: -1 });
    expect(parseResponseHead('HTTP/1.1 204 No Content')).toMatchObject({ status: 204, contentLength: -1 });
    expect(parseResponseHead('HTTP/1.0 200 OK\r\nContent-Length: 1')?.close).toBe(true);
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1')?.close).toBe(true);
  });
  it('does not reuse a connection whose response has both Transfer-Encoding and Content-Length', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked')).toMatchObject({ chunked: true, contentLength: -1, close: true });
  });
  it('rejects what is not HTTP/1.x', () => {
    expect(parseResponseHead('HTTP/2 200')).toBeUndefined();
    expect(parseResponseHead('HTTP/1.1 2x0 OK')).toBeUndefined();
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2')).toBeUndefined();
  });
});

describe('headers rewritten on the fast path', () => {
  it('drops hop-by-hop request fields, keeps the rest in order and adds X-Forwarded-*', () => {
    const out = outgoingRequestHead(
      ['Host', 'shop', 'Connection', 'keep-alive, X-Private', 'X-Private', '1', 'Keep-Alive', '5', 'TE', 'trailers', 'Cookie', 'a=1', 'X-Forwarded-For', '10.0.0.1', 'X-Forwarded-Proto', 'spoofed'],
      '::ffff:192.0.2.9',
      false,
    );
    expect(out.headers).toEqual(['Host', 'shop', 'Cookie', 'a=1', 'X-Forwarded-For', '10.0.0.1, 192.0.2.9', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Host', 'shop']);
    expect(out.cookie).toBe('a=1');
    expect(out.hasBody).toBe(false);
  });
  it('notes a body from Content-Length or Transfer-Encoding', () => {
    expect(outgoingRequestHead(['Content-Length', '3'], '1.2.3.4', true).hasBody).toBe(true);
    expect(outgoingRequestHead(['Content-Length', '0'], '1.2.3.4', true).hasBody).toBe(false);
    expect(outgoingRequestHead(['Transfer-Encoding', 'chunked'], '1.2.3.4', true).hasBody).toBe(true);
  });
  it('drops hop-by-hop response fields and collects Set-Cookie', () => {
    const out = incomingResponseHead(['Content-Type', 'text/html', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'Set-Cookie', 'JSESSIONID=a.n1', 'Transfer-Encoding', 'chunked', 'set-cookie', 'b=2']);
    expect(out.headers).toEqual(['Content-Type', 'text/html', 'Set-Cookie', 'JSESSIONID=a.n1', 'set-cookie', 'b=2']);
    expect(out.setCookie).toEqual(['JSESSIONID=a.n1', 'b=2']);
  });
  it('knows the hop-by-hop names in any case', () => {
    for (const n of ['Connection', 'KEEP-ALIVE', 'te', 'Trailer', 'Upgrade', 'Proxy-Connection']) expect(isHopByHop(n)).toBe(true);
    for (const n of ['Host', 'Cookie', 'Content-Length', 'Transfer-Encoding']) expect(isHopByHop(n)).toBe(false);
  });
});
