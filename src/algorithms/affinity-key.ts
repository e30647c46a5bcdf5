// The affinity key of a request: which part of a SIP message (sipHeaderAffinityKey, with the exclusion
// pattern and fallback key) or of an HTTP URL (the httpAffinityKey query parameter) ties it to a node.

import type { IncomingMessage } from 'node:http';
import type { AlgorithmSipRequest } from './algorithm.js';

export type SipKeyExtractor = (req: AlgorithmSipRequest) => string;

/**
 * One extractor per sipHeaderAffinityKey value, resolved once at start-up:
 * - `Call-ID` (or `i`): the Call-ID;
 * - `from.user` / `to.user`: the user part (or tel number) of the From / To URI;
 * - `From`: the From URI (the original's rule), `To`: the To user part or tel number (the original's rule);
 * - `from.uri` / `to.uri`: the URI without display name and parameters;
 * - any other name: the first value of that header as written.
 */
export function sipKeyExtractor(spec: string): SipKeyExtractor {
  const name = spec.trim();
  switch (name.toLowerCase()) {
    case '':
    case 'call-id':
    case 'i':
      return (req) => req.callId;
    case 'from.user':
      return (req) => req.fromUser;
    case 'to.user':
    case 'to':
    case 't':
      return (req) => req.toUser;
    case 'from':
    case 'f':
    case 'from.uri':
      return (req) => req.fromUri;
    case 'to.uri':
      return (req) => req.toUri;
    default:
      return (req) => req.header(name)?.trim() ?? '';
  }
}

export interface AffinityKeyOptions {
  readonly key: string;
  readonly exclusionPattern?: RegExp;
  readonly fallbackKey: string;
}

/**
 * The key of a SIP request: the primary key, unless it is empty or matches the exclusion pattern (e.g.
 * anonymous callers), then the fallback key, and the Call-ID as the last resort so every request has one.
 */
export function affinityKeyFunction(opts: AffinityKeyOptions): SipKeyExtractor {
  const primary = sipKeyExtractor(opts.key);
  const fallback = sipKeyExtractor(opts.fallbackKey);
  const exclusion = opts.exclusionPattern;
  return (req) => {
    const value = primary(req);
    if (value !== '' && !(exclusion && exclusion.test(value))) return value;
    const second = fallback(req);
    return second !== '' ? second : req.callId;
  };
}

/** The value of query parameter `param` in the request URL, or undefined when it is absent or empty. */
export function httpQueryParameter(req: Pick<IncomingMessage, 'url'>, param: string): string | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const hash = url.indexOf('#', q);
  const value = new URLSearchParams(url.slice(q + 1, hash < 0 ? undefined : hash)).get(param);
  return value === null || value === '' ? undefined : value;
}
