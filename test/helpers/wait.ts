// The one poll-until helper: checks a condition (a counter that moves, a log line, a socket state) every 50 ms
// until it holds or the time is up. Tests wait on what would change, never on a fixed sleep.

export const POLL_MS = 25;

/** Resolves once `check` holds; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
