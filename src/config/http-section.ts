// The HTTP section of lb.properties: the HTTP/HTTPS balancer's ports and behaviour.

import type { PropertyReader } from './reader.js';
import type { HttpConfig } from './types.js';

export function readHttpSection(r: PropertyReader, host: string): HttpConfig {
  const http: HttpConfig = {
    port: r.port('httpPort', 2080),
    httpsPort: r.port('httpsPort'),
    host: r.string('httpHost', host)!,
    unavailableHost: r.string('unavailableHost'),
    isRemoteServerSsl: r.bool('isRemoteServerSsl', false),
    httpsRedirect: r.bool('httpsRedirect', false),
    requestCheckPattern: r.regex('requestCheckPattern'),
    fastPath: r.bool('httpFastPath', true),
  };

  if (http.requestCheckPattern) {
    r.warn(r.raw('requestCheckPattern'), 'requestCheckPattern', 'accepted but not used yet: HTTP answers do not mark nodes bad in this version (SIP traffic health and heartbeats do)');
  }
  return http;
}
