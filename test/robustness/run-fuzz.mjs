#!/usr/bin/env node
// `npm run fuzz -- --count N --seed S [--runs K]`: the fuzz suites of test/robustness/fuzz.test.ts, long. N is the
// number of cases of the largest target (the others scale with it); K runs use seeds S, S+1, …. Prints the seed
// of every failing run, with the command that replays it.

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : def;
};
const count = opt('count', 20_000);
const seed = opt('seed', Math.floor(Math.random() * 2 ** 31));
const runs = opt('runs', 1);
if (![count, seed, runs].every(Number.isFinite)) {
  console.error('usage: npm run fuzz -- --count N --seed S [--runs K]');
  process.exit(2);
}

const failed = [];
for (let r = 0; r < runs; r++) {
  const s = seed + r;
  console.log(`fuzz: seed ${s}, ${count} cases for the largest target`);
  const res = spawnSync('npx', ['vitest', 'run', 'test/robustness/fuzz.test.ts'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FUZZ_SEED: String(s), FUZZ_COUNT: String(count) },
  });
  if (res.status !== 0) {
    failed.push(s);
    console.log(`fuzz: FAILED with seed ${s} — replay: npm run fuzz -- --count ${count} --seed ${s}`);
  }
}
if (failed.length > 0) {
  console.log(`fuzz: failing seeds: ${failed.join(', ')}`);
  process.exit(1);
}
console.log(`fuzz: ${runs} run(s) passed (seeds ${seed}…${seed + runs - 1})`);
