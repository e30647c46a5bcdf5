import { describe, expect, it } from 'vitest';
import { affinityKeyFunction, httpQueryParameter, sipKeyExtractor } from '../../src/algorithms/affinity-key.js';
import { request } from './algorithm-fixtures.js';

describe('sipHeaderAffinityKey', () => {
  const req = request({ callId: 'c1@h', fromUser: 'alice', toUser: '+15551234', fromUri: 'sip:alice@a.example', toUri: 'tel:+15551234', headers: { 'X-Tenant': ' acme ', 'Call-ID': 'c1@h' } });

  it('Call-ID is the default (also the empty value and the compact form i)', () => {
    for (const spec of ['Call-ID', 'call-id', '', 'i']) expect(sipKeyExtractor(spec)(req)).toBe('c1@h');
  });

  it('from.user and to.user are the user parts (a tel number for tel: URIs)', () => {
    expect(sipKeyExtractor('from.user')(req)).toBe('alice');
    expect(sipKeyExtractor('to.user')(req)).toBe('+15551234');
  });

  it('From is the From URI and To the To user, as in the original', () => {
    expect(sipKeyExtractor('From')(req)).toBe('sip:alice@a.example');
    expect(sipKeyExtractor('To')(req)).toBe('+15551234');
    expect(sipKeyExtractor('to.uri')(req)).toBe('tel:+15551234');
  });

  it('any other name is that header, trimmed', () => {
    expect(sipKeyExtractor('X-Tenant')(req)).toBe('acme');
    expect(sipKeyExtractor('X-Missing')(req)).toBe('');
  });

  it('uses the fallback key when the key matches the exclusion pattern or is empty', () => {
    const key = affinityKeyFunction({ key: 'from.user', exclusionPattern: /^anonymous$/i, fallbackKey: 'Call-ID' });
    expect(key(request({ fromUser: 'bob', callId: 'x' }))).toBe('bob');
    expect(key(request({ fromUser: 'Anonymous', callId: 'x' }))).toBe('x');
    expect(key(request({ fromUser: '', callId: 'y' }))).toBe('y');
  });

  it('falls back to the Call-ID when the fallback key is empty too', () => {
    const key = affinityKeyFunction({ key: 'X-A', fallbackKey: 'X-B' });
    expect(key(request({ callId: 'z' }))).toBe('z');
  });
});

describe('httpAffinityKey', () => {
  it('reads the query parameter', () => {
    expect(httpQueryParameter({ url: '/app?x=1&appsession=abc%20d' }, 'appsession')).toBe('abc d');
    expect(httpQueryParameter({ url: '/app?appsession=abc#frag' }, 'appsession')).toBe('abc');
  });

  it('is undefined when absent or empty', () => {
    expect(httpQueryParameter({ url: '/app' }, 'appsession')).toBeUndefined();
    expect(httpQueryParameter({ url: '/app?appsession=' }, 'appsession')).toBeUndefined();
    expect(httpQueryParameter({ url: undefined }, 'appsession')).toBeUndefined();
  });
});
