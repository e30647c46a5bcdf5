// Cost of one pick per algorithm (new calls with random Call-IDs, then repeats of known ones) and of a ring
// rebuild, measured on the built daemon (run `npm run build` first): node bench/algorithms/run.mjs
import { randomUUID } from 'node:crypto';
import { createBuiltInAlgorithm } from '../../dist/algorithms/index.js';
import { loadConfigText } from '../../dist/config/load.js';
import { silentLogger } from '../../dist/log.js';
import { NodeRegistry } from '../../dist/registry/node-registry.js';
import { ServerNode } from '../../dist/registry/server-node.js';
import { HashRing } from '../../dist/algorithms/hash-ring.js';

const NAMES = ['round-robin', 'call-id-affinity', 'header-consistent-hash', 'persistent-consistent-hash', 'cluster-subdomain-affinity', 'user-based', 'weighted', 'least-calls', 'active-standby'];
const CALLS = 200_000;

function request(callId) {
  return { method: 'INVITE', callId, fromUser: 'alice', toUser: callId.slice(0, 8), fromUri: 'sip:alice@a', toUri: 'sip:b@b', header: () => undefined };
}

async function bench(name, nodeCount) {
  const config = loadConfigText(`algorithmClass=${name}\n`).config;
  const log = silentLogger();
  const algo = createBuiltInAlgorithm(name);
  await algo.init({ config, properties: config.properties, registry: new NodeRegistry({ nodeTimeoutMs: 8400, heartbeatIntervalMs: 150 }, log), log });
  const nodes = Array.from({ length: nodeCount }, (_, i) => new ServerNode({ ip: `10.0.${i >> 8}.${i & 255}`, ports: { udp: 5060 }, sessionId: `s${i}` }, Date.now()));
  algo.nodesChanged(nodes);
  const reqs = Array.from({ length: CALLS }, () => request(randomUUID()));
  let t = process.hrtime.bigint();
  for (const r of reqs) algo.pickForSipRequest(r);
  const fresh = Number(process.hrtime.bigint() - t) / CALLS;
  t = process.hrtime.bigint();
  for (const r of reqs) algo.pickForSipRequest(r);
  const known = Number(process.hrtime.bigint() - t) / CALLS;
  await algo.stop();
  return { fresh, known };
}

console.log(`| algorithm | new call, 3 nodes (ns) | known call, 3 nodes (ns) | new call, 50 nodes (ns) |`);
console.log(`|---|---:|---:|---:|`);
for (const name of NAMES) {
  const a = await bench(name, 3);
  const b = await bench(name, 50);
  console.log(`| ${name} | ${a.fresh.toFixed(0)} | ${a.known.toFixed(0)} | ${b.fresh.toFixed(0)} |`);
}
for (const n of [3, 50, 200]) {
  const ring = new HashRing((s) => s);
  const members = Array.from({ length: n }, (_, i) => `10.0.0.${i}:5060`);
  const t = process.hrtime.bigint();
  ring.build(members);
  console.log(`ring build, ${n} nodes × 2048 virtual nodes: ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1)} ms`);
}
