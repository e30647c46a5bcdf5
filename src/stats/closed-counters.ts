// Counters whose labels come from what peers send (methods, status codes) but whose set of series is
// closed: the RFC methods and registered codes, anything else folded into its class or `other`, so that
// invented methods cannot grow /lbstat and /metrics without bound (issue 16, finding 2).

import { STATUS_CODES } from 'node:http';
import { CounterMap } from './counters.js';

/** The SIP methods of RFC 3261 and its extensions (IANA "Methods and Response Codes"). */
export const SIP_METHODS: ReadonlySet<string> = new Set([
  'ACK', 'BYE', 'CANCEL', 'INFO', 'INVITE', 'MESSAGE', 'NOTIFY', 'OPTIONS', 'PRACK', 'PUBLISH', 'REFER', 'REGISTER', 'SUBSCRIBE', 'UPDATE',
]);

/** The registered SIP response codes (IANA); others are counted by class (`4xx`). */
export const SIP_STATUS_CODES: ReadonlySet<number> = new Set([
  100, 180, 181, 182, 183, 199, 200, 202, 204, 300, 301, 302, 305, 380, 400, 401, 402, 403, 404, 405, 406, 407, 408, 410, 412,
  413, 414, 415, 416, 417, 420, 421, 422, 423, 424, 425, 428, 429, 430, 433, 436, 437, 438, 439, 440, 469, 470, 480, 481, 482,
  483, 484, 485, 486, 487, 488, 489, 491, 493, 494, 500, 501, 502, 503, 504, 505, 513, 555, 580, 600, 603, 604, 606, 607, 608,
]);

/** The HTTP methods of RFC 9110 and PATCH (RFC 5789). */
export const HTTP_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** The HTTP status codes Node knows by name; others are counted by class. */
export const HTTP_STATUS_CODES: ReadonlySet<number> = new Set(Object.keys(STATUS_CODES).map(Number));

export const OTHER = 'other';

/** A counter per method: the known ones by name, every other under `other`. */
export class MethodCounter extends CounterMap<string> {
  constructor(private readonly known: ReadonlySet<string>) {
    super();
  }

  override inc(method: string, by = 1): void {
    super.inc(this.known.has(method) ? method : OTHER, by);
  }

  override get(method: string): number {
    return super.get(this.known.has(method) ? method : OTHER);
  }
}

/** A counter per status: registered codes by number, other codes by class (`1xx`…`6xx`), nonsense as `other`. */
export class StatusCounter extends CounterMap<string | number> {
  constructor(private readonly known: ReadonlySet<number>) {
    super();
  }

  override inc(status: string | number, by = 1): void {
    super.inc(this.label(status), by);
  }

  override get(status: string | number): number {
    return super.get(this.label(status));
  }

  private label(status: string | number): string | number {
    if (typeof status === 'number' && this.known.has(status)) return status;
    if (status === OTHER || (typeof status === 'string' && /^[1-6]xx$/.test(status))) return status;
    const n = Number(status);
    return Number.isInteger(n) && n >= 100 && n <= 699 ? `${Math.floor(n / 100)}xx` : OTHER;
  }
}
