// requestCheckPattern (the original's error-based node removal, #109): when a request URI matches the pattern,
// a 4xx or 5xx answer from its node marks the node bad, so later requests go to other nodes. The marking goes
// through node health (quarantine and return as for SIP traffic health) and is counted.

import type { Logger } from '../log.js';
import type { NodeHealthMonitor } from '../algorithms/health.js';
import type { ServerNode } from '../registry/server-node.js';
import type { HttpStats } from './http-stats.js';

/** Request targets longer than this are not tested (a check URL is short; a client's long URL is not one). */
const MAX_CHECKED_URL_LENGTH = 2048;

export class RequestCheck {
  constructor(
    private readonly pattern: RegExp,
    private readonly health: NodeHealthMonitor,
    private readonly stats: HttpStats,
    private readonly log: Logger,
  ) {}

  /** A node answered `status` to a request for `url`. */
  onResponse(node: ServerNode, url: string, status: number): void {
    if (status < 400 || status > 599 || url.length > MAX_CHECKED_URL_LENGTH || !this.pattern.test(url)) return;
    this.stats.requestCheckFailures++;
    if (node.state === 'bad') return;
    if (this.health.markBadNow(node, `answered ${status} to ${url.slice(0, 200)}, which matches requestCheckPattern ${this.pattern.source}`)) {
      this.stats.requestCheckMarkedBad++;
      this.log.debug({ node: node.id, status }, 'requestCheckPattern marked a node bad');
    }
  }
}
