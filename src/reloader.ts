// Hot reload (issue 13): SIGHUP, or a change of the file seen by a poll every configReloadPeriod ms (the
// original polled every 2 s), re-reads and validates the whole file with the start-up loader. An invalid file
// changes nothing: every problem is logged as at start-up (file:line) and the failure counted. A valid one is
// applied by the daemon (LoadBalancer, or the primary of workers=N, which passes it to every worker) without
// closing a socket; a changed key that needs a restart keeps its running value and is logged, one line each.

import { readFile, stat } from 'node:fs/promises';
import type { Config } from './config/types.js';
import type { Logger } from './log.js';
import type { Stats } from './stats/stats.js';
import type { EventJournal } from './stats/events.js';
import { ConfigError } from './errors.js';
import { describeChange, planReload, type ReloadPlan } from './reload/changes.js';

const FILE_CHANGED = 'file changed';

/** What a reload is applied to: the daemon of one process, or the primary of workers=N. */
export interface ReloadTarget {
  /** The configuration in force. */
  readonly config: Config;
  readonly stats: Stats;
  /** The dashboard's journal of reloads, when the process has one. */
  readonly journal?: EventJournal;
  /** Applies a validated configuration; throws (having changed nothing) when a part of it cannot start. */
  reload(next: Config): Promise<void>;
}

export class ConfigReloader {
  private timer: NodeJS.Timeout | undefined;
  private periodMs = 0;
  /** The file's size, mtime and inode at the last look, and the text last tried (applied or refused). */
  private signature = '';
  private lastText: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private stopped = false;

  constructor(
    private readonly target: ReloadTarget,
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  /** Remembers the file as it is now (the one the daemon started with) and starts the watch. */
  async start(): Promise<void> {
    this.signature = await this.statSignature();
    this.lastText = await readFile(this.file, 'latin1').catch(() => undefined);
    this.schedule();
    const period = this.target.config.configReloadPeriodMs;
    this.log.info(period > 0 ? `Reloading ${this.file} on SIGHUP and when it changes (checked every ${period} ms, configReloadPeriod)` : `Reloading ${this.file} on SIGHUP (configReloadPeriod=0: the file is not watched)`);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads, validates and applies the file; resolves true when it was applied. Reloads run one after another. */
  reload(trigger: string): Promise<boolean> {
    this.queued++;
    const run = this.chain.then(() => this.run(trigger)).finally(() => this.queued--);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.periodMs = this.target.config.configReloadPeriodMs;
    if (this.periodMs <= 0 || this.stopped) return;
    this.timer = setInterval(() => void this.poll(), this.periodMs);
    this.timer.unref();
  }

  /** One look at the file: a new size, mtime or inode whose text differs from the last one tried reloads. */
  private async poll(): Promise<void> {
    if (this.queued > 0 || this.stopped) return;
    const signature = await this.statSignature();
    if (signature === this.signature) return;
    this.signature = signature;
    if (signature === 'missing') return;
    const text = await readFile(this.file, 'latin1').catch(() => undefined);
    if (text === undefined || text === this.lastText) return;
    await this.reload(FILE_CHANGED);
  }

  private async statSignature(): Promise<string> {
    try {
      const s = await stat(this.file);
      return `${s.size}:${s.mtimeMs}:${s.ino}`;
    } catch {
      return 'missing';
    }
  }

  private async run(trigger: string): Promise<boolean> {
    const { log, target } = this;
    const stats = target.stats;
    let text: string;
    try {
      text = await readFile(this.file, 'latin1');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return this.refused(trigger, [`${this.file}: cannot read the configuration file: ${e.code === 'ENOENT' ? 'no such file' : e.message}`]);
    }
    // The watch's look may come after a SIGHUP applied the same text: nothing new to do.
    if (trigger === FILE_CHANGED && text === this.lastText) return true;
    this.lastText = text;
    let plan: ReloadPlan;
    try {
      plan = planReload(target.config, text, target.config.file);
    } catch (err) {
      if (!(err instanceof ConfigError)) return this.refused(trigger, [`${this.file}: ${(err as Error).message}`]);
      for (const w of err.warnings) log.warn(w);
      return this.refused(trigger, err.problems);
    }
    for (const w of plan.loaded.warnings) log.warn(w);
    for (const c of plan.restart) log.warn(`${describeChange(c)}: needs a restart; the running value is kept until then`);
    try {
      await target.reload(plan.effective);
    } catch (err) {
      return this.refused(trigger, [(err as Error).message]);
    }
    stats.reloads.succeeded++;
    for (const c of plan.live) log.info(`reloaded ${describeChange(c)}`);
    const summary =
      plan.live.length === 0 && plan.restart.length === 0
        ? 'no key changed'
        : `${plan.live.length} key(s) applied live${plan.live.length > 0 ? ` (${plan.live.map((c) => c.key).join(', ')})` : ''}` +
          (plan.restart.length > 0 ? `, ${plan.restart.length} kept until a restart (${plan.restart.map((c) => c.key).join(', ')})` : '');
    log.info(`Configuration reloaded (${trigger}): ${summary}`);
    target.journal?.add('reload', `${trigger}: ${summary}`);
    if (target.config.configReloadPeriodMs !== this.periodMs) this.schedule();
    return true;
  }

  /** An invalid file (or a part that cannot start): nothing changed; every problem on its own line. */
  private refused(trigger: string, problems: readonly string[]): false {
    this.target.stats.reloads.failed++;
    this.log.error(`Configuration reload (${trigger}) refused: ${problems.length} problem(s); the running configuration is unchanged`);
    for (const p of problems) this.log.error(p);
    this.target.journal?.add('reload-failed', `${trigger}: ${problems[0] ?? 'refused'}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`);
    return false;
  }
}
