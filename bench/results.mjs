// Raw results of the benchmarks: every published table's figures are committed beside its script, in a file
// named by the day (a second run that day gets `-2`, never overwriting the first), with the machine, the Node
// version, the commit measured and the load average, so that a reader can check any table.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

/** Where to write: `--results FILE` as given, `none` for nowhere, else `<dir>/<day>[-n].json`. */
export function resultsPath(dir, option, startedAt = new Date()) {
  if (option === 'none') return undefined;
  if (option) return option;
  mkdirSync(dir, { recursive: true });
  const day = startedAt.toISOString().slice(0, 10);
  for (let n = 1; ; n++) {
    const p = join(dir, n === 1 ? `${day}.json` : `${day}-${n}.json`);
    if (!existsSync(p)) return p;
  }
}

/** What every results file says about where it was measured. */
export function machineFacts() {
  let commit;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = undefined;
  }
  return { machine: `${cpus().length} cores (${cpus()[0]?.model ?? '?'})`, node: process.version, commit, loadAverage: loadavg() };
}

/** Writes `doc` (NaN as null) and says where. */
export function writeResults(path, doc) {
  if (!path) return;
  writeFileSync(path, JSON.stringify(doc, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 1) + '\n');
  console.log(`Raw results: ${path}`);
}
