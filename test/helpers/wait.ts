// The one poll-until helper: checks a condition (a counter that moves, a log line, a socket state) every 25 ms
// until it holds or the time is up. Tests wait on what would change, never on a fixed sleep.

export const POLL_MS = 25;

/**
 * Resolves once `check` holds; rejects after `timeoutMs`, naming `what` (by default the condition's own source,
 * so a failure says what was awaited).
 */
export async function waitUntil(check: () => boolean | Promise<boolean>, what?: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what ?? describe(check)}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function describe(check: () => unknown): string {
  const source = check.toString().replace(/\s+/g, ' ');
  return source.length > 200 ? `${source.slice(0, 200)}…` : source;
}
