// The pino logger factory: JSON lines by default, human-readable on a TTY or with --log-format pretty.

import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogFormat = 'json' | 'pretty';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Maps the original's log4j level names (and ours) to pino levels; undefined for an unknown name. */
export function normaliseLogLevel(level: string): string | undefined {
  const l = level.trim().toLowerCase();
  const alias: Record<string, string> = { warning: 'warn', all: 'trace', off: 'silent', finest: 'trace', fine: 'debug', severe: 'error' };
  const name = alias[l] ?? l;
  return (LOG_LEVELS as readonly string[]).includes(name) ? name : undefined;
}

export function createLogger(opts: { level?: string; format?: LogFormat } = {}): Logger {
  const format = opts.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const level = opts.level ?? 'info';
  if (format === 'pretty') {
    return pino({
      level,
      base: undefined,
      transport: {
        target: 'pino-pretty',
        options: { colorize: process.stdout.isTTY === true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname', sync: true },
      },
    });
  }
  // Synchronous writes so that the last lines before exit are never lost.
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 1, sync: true }));
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
