// How the process ends: on SIGINT/SIGTERM (and /lbstop) it stops every part in order and exits 0; on an
// uncaught exception, which Node documents as leaving the process in an undefined state, it logs the
// exception with its stack, stops accepting, gives the work in flight up to shutdownTimeout ms, stops and
// exits with CRASH_EXIT_CODE, so that a supervisor (systemd, Docker, the primary of workers=N) starts a
// fresh process. Either way the process is gone within shutdownTimeout ms.

import type { Logger } from './log.js';

/** The exit code after an uncaught exception: EX_SOFTWARE of sysexits.h, "internal software error". */
export const CRASH_EXIT_CODE = 70;

/** What is being shut down: the balancer, the primary of workers=N, or one worker. */
export interface StoppableDaemon {
  /** Stops accepting and resolves when the work in flight is done (optional). */
  drain?(): Promise<void>;
  stop(): Promise<void>;
}

export interface ShutdownOptions {
  /** Bound on the whole shutdown (drain and stop), in milliseconds. */
  readonly timeoutMs: number | (() => number);
  /** Ends the process (process.exit; replaced in unit tests). */
  readonly exit?: (code: number) => void;
}

export class Shutdown {
  private stopping = false;
  private readonly exit: (code: number) => void;

  constructor(
    private readonly daemon: StoppableDaemon,
    private readonly log: Logger,
    private readonly opts: ShutdownOptions,
  ) {
    this.exit = opts.exit ?? ((code) => process.exit(code));
  }

  /** Listens for the signals (unless the process leaves them to another, as a worker does) and for uncaught exceptions. */
  install(proc: NodeJS.EventEmitter = process, signals = true): void {
    if (signals) {
      proc.on('SIGINT', () => this.request('SIGINT'));
      proc.on('SIGTERM', () => this.request('SIGTERM'));
    }
    proc.on('uncaughtException', (err: unknown, origin: string) => this.crash(err, origin));
  }

  /** The bound in force (a hot reload may change shutdownTimeout). */
  private timeoutMs(): number {
    const t = this.opts.timeoutMs;
    return typeof t === 'function' ? t() : t;
  }

  /** A requested stop (a signal, /lbstop): stop in order, exit 0. */
  request(reason: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info(`${reason} received: shutting down`);
    this.run(false, 0);
  }

  /** An uncaught exception: log it, stop accepting, let the work in flight finish (bounded), exit CRASH_EXIT_CODE. */
  crash(err: unknown, origin = 'uncaughtException'): void {
    if (this.stopping) {
      // The shutdown in progress may be what is failing: do not wait for it.
      this.log.fatal({ err, origin }, `uncaught exception while shutting down: exiting now with code ${CRASH_EXIT_CODE}`);
      this.exit(CRASH_EXIT_CODE);
      return;
    }
    this.stopping = true;
    this.log.fatal(
      { err, origin },
      `uncaught exception: ${err instanceof Error ? err.message : String(err)}; no longer accepting, work in flight gets up to shutdownTimeout (${this.timeoutMs()} ms), then the process exits with code ${CRASH_EXIT_CODE} for its supervisor to restart it`,
    );
    this.run(true, CRASH_EXIT_CODE);
  }

  private run(drain: boolean, code: number): void {
    const timeoutMs = this.timeoutMs();
    const timer = setTimeout(() => {
      this.log.warn(`shutdown did not finish within shutdownTimeout (${timeoutMs} ms); exiting anyway`);
      this.exit(code);
    }, timeoutMs);
    const steps = async (): Promise<void> => {
      if (drain && this.daemon.drain) await this.daemon.drain();
      await this.daemon.stop();
    };
    steps().then(
      () => {
        clearTimeout(timer);
        this.exit(code);
      },
      (err: unknown) => {
        clearTimeout(timer);
        this.log.error({ err }, 'shutdown failed');
        this.exit(code === 0 ? 1 : code);
      },
    );
  }
}
