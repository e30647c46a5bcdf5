// The HTTP section of lb.properties: the HTTP/HTTPS balancer's ports and behaviour.

import type { PropertyReader } from './reader.js';
import type { HttpConfig } from './types.js';

export function readHttpSection(r: PropertyReader, host: string): HttpConfig {
  const http: HttpConfig = {
    port: r.listenPort('httpPort', 2080),
    httpsPort: r.listenPort('httpsPort'),
    host: r.string('httpHost', host)!,
    unavailableHost: r.string('unavailableHost'),
    isRemoteServerSsl: r.bool('isRemoteServerSsl', false),
    httpsRedirect: r.bool('httpsRedirect', false),
    requestCheckPattern: r.regex('requestCheckPattern'),
    fastPath: r.bool('httpFastPath', true),
  };
  return http;
}
