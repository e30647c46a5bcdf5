// The retry rule both HTTP paths follow when a node connection fails before any byte of the answer.
import { describe, expect, it, vi } from 'vitest';
import { nodeAfterFailure, type FailedAttempt } from '../../src/http/backend-failure.js';
import { HttpStats } from '../../src/http/http-stats.js';
import type { HttpNodeChooser, NodeChoice } from '../../src/http/node-chooser.js';
import type { ServerNode } from '../../src/registry/server-node.js';

const failedNode = { id: 'a' } as ServerNode;
const other: NodeChoice = { node: { id: 'b' } as ServerNode, port: 8080, reason: 'round-robin' };

function attempt(over: Partial<FailedAttempt> = {}): FailedAttempt {
  return { node: failedNode, code: 'ECONNREFUSED', reusedConnection: false, method: 'GET', hasBody: false, retries: 0, ...over };
}

function run(failed: FailedAttempt) {
  const stats = new HttpStats();
  const markRefused = vi.fn();
  const chooser = { markRefused } as unknown as HttpNodeChooser;
  const choose = vi.fn((_exclude: ServerNode | undefined) => other);
  const next = nodeAfterFailure(failed, { stats, maxRetries: 2, refusedForMs: 5000 }, chooser, choose);
  return { next, stats, markRefused, choose };
}

describe('after a failed node connection', () => {
  it('sends an idempotent request without body to another node, counting the failure and keeping a refusing node out', () => {
    const { next, stats, markRefused, choose } = run(attempt());
    expect(next).toBe(other);
    expect(choose).toHaveBeenCalledWith(failedNode);
    expect(stats.backendErrors).toBe(1);
    expect(markRefused).toHaveBeenCalledWith(failedNode, 5000);
  });

  it('gives a POST or a request with a body no retry', () => {
    expect(run(attempt({ method: 'POST' })).next).toBeUndefined();
    expect(run(attempt({ method: 'PUT', hasBody: true })).next).toBeUndefined();
  });

  it('stops after maxRetries further nodes', () => {
    expect(run(attempt({ retries: 1 })).next).toBe(other);
    expect(run(attempt({ retries: 2 })).next).toBeUndefined();
  });

  it('takes a reset on a reused connection as stale: not counted, any node including the same, one retry more', () => {
    const { next, stats, markRefused, choose } = run(attempt({ code: 'ECONNRESET', reusedConnection: true, retries: 2 }));
    expect(next).toBe(other);
    expect(choose).toHaveBeenCalledWith(undefined);
    expect(stats.backendErrors).toBe(0);
    expect(markRefused).not.toHaveBeenCalled();
  });

  it('counts a reset on a fresh connection and retries elsewhere', () => {
    const { stats, choose } = run(attempt({ code: 'ECONNRESET' }));
    expect(stats.backendErrors).toBe(1);
    expect(choose).toHaveBeenCalledWith(failedNode);
  });
});
