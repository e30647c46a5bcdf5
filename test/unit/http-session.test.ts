import { describe, expect, it } from 'vitest';
import {
  jvmRouteFromSetCookie,
  jvmRouteOfSessionId,
  requestedJvmRoute,
  requestedSessionId,
  restcommInstanceId,
  sessionIdFromSetCookie,
  sessionIdFromCookie,
  sessionIdFromUrl,
} from '../../src/http/session.js';

describe('jvmRoute of a session id <sessionId>.<jvmRoute>', () => {
  it('is the text after the last dot', () => {
    expect(jvmRouteOfSessionId('abc.node2')).toBe('node2');
    expect(jvmRouteOfSessionId('a.b.c.node3')).toBe('node3');
  });
  it('is absent without a dot or with nothing after it', () => {
    expect(jvmRouteOfSessionId('abcdef')).toBeUndefined();
    expect(jvmRouteOfSessionId('abc.')).toBeUndefined();
  });
});

describe('JSESSIONID cookie', () => {
  it('is found alone, first, middle and last', () => {
    expect(sessionIdFromCookie('JSESSIONID=abc.node2')).toBe('abc.node2');
    expect(sessionIdFromCookie('JSESSIONID=abc.n1; theme=dark')).toBe('abc.n1');
    expect(sessionIdFromCookie('a=1; JSESSIONID=x.n2; b=2')).toBe('x.n2');
    expect(sessionIdFromCookie('a=1;JSESSIONID=x.n3')).toBe('x.n3');
  });
  it('matches the name without case and unquotes the value', () => {
    expect(sessionIdFromCookie('jsessionid=abc.node2')).toBe('abc.node2');
    expect(sessionIdFromCookie('JSESSIONID="abc.node2"')).toBe('abc.node2');
  });
  it('does not take a cookie whose name only ends in jsessionid', () => {
    expect(sessionIdFromCookie('MYJSESSIONID=abc.node2')).toBeUndefined();
    expect(sessionIdFromCookie('XJSESSIONID=abc.n1; JSESSIONID=def.n2')).toBe('def.n2');
  });
  it('is absent without the cookie', () => {
    expect(sessionIdFromCookie(undefined)).toBeUndefined();
    expect(sessionIdFromCookie('a=1; b=2')).toBeUndefined();
    expect(sessionIdFromCookie('JSESSIONID=')).toBeUndefined();
  });
});

describe('jsessionid in the URL', () => {
  it('is read from a ;jsessionid= path parameter', () => {
    expect(sessionIdFromUrl('/app/page;jsessionid=abc.node1')).toBe('abc.node1');
    expect(sessionIdFromUrl('/app/page;jsessionid=abc.node1?x=1')).toBe('abc.node1');
    expect(sessionIdFromUrl('/app/page;JSESSIONID=abc.node1;other=2')).toBe('abc.node1');
  });
  it('is read from a jsessionid query parameter', () => {
    expect(sessionIdFromUrl('/app?jsessionid=abc.node1')).toBe('abc.node1');
    expect(sessionIdFromUrl('/app?a=1&jsessionid=abc.node1&b=2')).toBe('abc.node1');
  });
  it('ignores other parameters that merely contain the name', () => {
    expect(sessionIdFromUrl('/app?myjsessionid=abc.node1')).toBeUndefined();
    expect(sessionIdFromUrl('/app?x=jsessionid=abc.node1')).toBeUndefined();
    expect(sessionIdFromUrl('/app/page')).toBeUndefined();
  });
});

describe('requested jvmRoute', () => {
  it('prefers the cookie, then the path parameter, then the query', () => {
    expect(requestedJvmRoute('/a;jsessionid=x.path?jsessionid=y.query', 'JSESSIONID=z.cookie')).toBe('cookie');
    expect(requestedJvmRoute('/a;jsessionid=x.path?jsessionid=y.query', undefined)).toBe('path');
    expect(requestedJvmRoute('/a?jsessionid=y.query', 'other=1')).toBe('query');
  });
  it('falls back to the URL when the cookie has no route', () => {
    expect(requestedJvmRoute('/a?jsessionid=y.query', 'JSESSIONID=noroute')).toBe('query');
  });
  it('is absent for a plain request', () => {
    expect(requestedJvmRoute('/index.html', undefined)).toBeUndefined();
  });
});

describe('Set-Cookie of a node response', () => {
  it('gives the route of a JSESSIONID cookie', () => {
    expect(jvmRouteFromSetCookie(['JSESSIONID=abc.node3; Path=/; HttpOnly'])).toBe('node3');
    expect(jvmRouteFromSetCookie(['theme=dark', 'JSESSIONID=abc.node3'])).toBe('node3');
    expect(jvmRouteFromSetCookie('JSESSIONID="q.r7"; Path=/')).toBe('r7');
  });
  it('gives nothing for other cookies or a session without route', () => {
    expect(jvmRouteFromSetCookie(['theme=dark.blue'])).toBeUndefined();
    expect(jvmRouteFromSetCookie(['JSESSIONID=abc; Path=/x.y'])).toBeUndefined();
    expect(jvmRouteFromSetCookie(undefined)).toBeUndefined();
  });
});

describe('session ids without jvmRoute', () => {
  it('are read from the Set-Cookie of a node, route or not', () => {
    expect(sessionIdFromSetCookie(['theme=dark', 'JSESSIONID=abc; Path=/'])).toBe('abc');
    expect(sessionIdFromSetCookie('JSESSIONID="q.r7"; Path=/')).toBe('q.r7');
    expect(sessionIdFromSetCookie(['JSESSIONID=; Path=/'])).toBeUndefined();
    expect(sessionIdFromSetCookie(undefined)).toBeUndefined();
  });
  it('are read from a request: the cookie first, then the URL', () => {
    expect(requestedSessionId('/app;jsessionid=fromurl', 'JSESSIONID=fromcookie')).toBe('fromcookie');
    expect(requestedSessionId('/app;jsessionid=fromurl', undefined)).toBe('fromurl');
    expect(requestedSessionId('/app?jsessionid=q1', 'theme=dark')).toBe('q1');
    expect(requestedSessionId('/app', 'theme=dark')).toBeUndefined();
  });
});

describe('Restcomm instance id in the URL', () => {
  const instance = 'ID8a1b2c3d4e5f60718293a4b5c6d7e8f9';
  it('is the part of the call sid before its dash', () => {
    expect(restcommInstanceId(`/restcomm/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Calls/${instance}-CA0123`)).toBe(instance);
    expect(restcommInstanceId(`/restcomm/2012-04-24/Accounts/AC1/Calls.json/${instance}-CA0123?x=1`)).toBe(instance);
    expect(restcommInstanceId(`/restcomm/2012-04-24/Accounts/AC1/Calls/${instance}-CA0123/Recordings`)).toBe(instance);
  });
  it('is absent for other URLs', () => {
    expect(restcommInstanceId('/restcomm/2012-04-24/Accounts/AC1/Calls')).toBeUndefined();
    expect(restcommInstanceId('/restcomm/2012-04-24/Accounts/AC1/Calls/CA0123')).toBeUndefined();
    expect(restcommInstanceId('/restcomm/2012-04-24/Accounts/AC1/SMS/Messages/ID1-SM2')).toBeUndefined();
    expect(restcommInstanceId('/index.html')).toBeUndefined();
  });
});
