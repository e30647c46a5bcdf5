import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCustomAlgorithm } from '../../src/algorithms/custom.js';
import { CustomAlgorithmError } from '../../src/errors.js';
import { contextFor, node, nodes, request } from './algorithm-fixtures.js';
import { ServerNode } from '../../src/registry/server-node.js';

const dir = mkdtempSync(join(tmpdir(), 'sipbalancer-custom-'));
const config = join(dir, 'lb.properties');
writeFileSync(config, '');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return `./${name}`;
}

const FIRST_NODE = `
  nodesChanged(live) { this.live = live.filter((n) => n.state === 'active'); }
  pickForSipRequest(req) { return this.live[0]; }
`;

describe('custom algorithm modules', () => {
  it('loads a class exported as default, relative to the configuration file', async () => {
    const spec = write('class.mjs', `export default class { name = 'first'; ${FIRST_NODE} }`);
    const algo = await loadCustomAlgorithm(spec, config);
    await algo.init(contextFor());
    const ns = nodes(2);
    algo.nodesChanged(ns);
    expect(algo.name).toBe('first');
    expect(algo.pickForSipRequest(request())).toBe(ns[0]);
    expect(algo.pickForHttpRequest({ url: '/' } as never)).toBeUndefined();
    await algo.stop();
  });

  it('loads a factory exported as createAlgorithm, and gives it the properties in init', async () => {
    const spec = write('factory.mjs', `export function createAlgorithm() { return { init(ctx) { this.ip = ctx.properties.pinnedIp; }, nodesChanged(live) { this.live = live; }, pickForSipRequest() { return this.live.find((n) => n.ip === this.ip); } }; }`);
    const algo = await loadCustomAlgorithm(spec, config);
    await algo.init(contextFor({ pinnedIp: '10.0.0.2' }));
    const ns = nodes(3);
    algo.nodesChanged(ns);
    expect(algo.pickForSipRequest(request())).toBe(ns[1]);
    expect(algo.name).toBe(spec);
  });

  it('loads a CommonJS module and a package from node_modules next to the configuration', async () => {
    const cjs = write('cjs.cjs', `module.exports = { Algorithm: class { ${FIRST_NODE} } };`);
    const a = await loadCustomAlgorithm(cjs, config);
    const ns = nodes(1);
    a.nodesChanged(ns);
    expect(a.pickForSipRequest(request())).toBe(ns[0]);

    const pkg = join(dir, 'node_modules', 'lb-algo-test');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'lb-algo-test', type: 'module', exports: { '.': { import: './index.js', require: './index.js' } } }));
    writeFileSync(join(pkg, 'index.js'), `export default class { name = 'from-package'; ${FIRST_NODE} }`);
    const b = await loadCustomAlgorithm('lb-algo-test', config);
    expect(b.name).toBe('from-package');
  });

  it('says clearly what is wrong when the module cannot be used', async () => {
    await expect(loadCustomAlgorithm('./missing.mjs', config)).rejects.toBeInstanceOf(CustomAlgorithmError);
    await expect(loadCustomAlgorithm('./missing.mjs', config)).rejects.toThrow(/algorithmClass=\.\/missing\.mjs: the module could not be loaded: not found/);
    await expect(loadCustomAlgorithm(write('syntax.mjs', 'export default class {'), config)).rejects.toThrow(/could not be loaded: .*syntax/i);
    await expect(loadCustomAlgorithm(write('nopick.mjs', 'export default class { nodesChanged() {} }'), config)).rejects.toThrow(/lacks the method pickForSipRequest/);
    await expect(loadCustomAlgorithm(write('nothing.mjs', 'export default 42'), config)).rejects.toThrow(/must export .* it exports number/);
    await expect(loadCustomAlgorithm(write('throws.mjs', 'export default function () { throw new Error("no licence") }'), config)).rejects.toThrow(/the factory threw: no licence/);
    await expect(loadCustomAlgorithm(write('badopt.mjs', 'export default { stop: 1, nodesChanged() {}, pickForSipRequest() {} }'), config)).rejects.toThrow(/stop must be a method/)
    await expect(loadCustomAlgorithm('no-such-package-for-sipbalancer', config)).rejects.toThrow(/could not be loaded/);
  });

  it('turns an exception or a foreign object from a pick into "no node", not a crash', async () => {
    const spec = write('buggy.mjs', `export default { nodesChanged() {}, pickForSipRequest(req) { if (req.fromUser === 'x') throw new Error('boom'); return { ip: '1.2.3.4' }; } }`);
    const algo = await loadCustomAlgorithm(spec, config);
    await algo.init(contextFor());
    expect(algo.pickForSipRequest(request({ fromUser: 'x' }))).toBeUndefined();
    expect(algo.pickForSipRequest(request({ fromUser: 'y' }))).toBeUndefined();
  });

  it('defaults pickForAssignedSipRequest to the assigned node unless it is bad', async () => {
    const algo = await loadCustomAlgorithm(write('assigned.mjs', `export default class { ${FIRST_NODE} }`), config);
    const ns = nodes(2);
    algo.nodesChanged(ns);
    expect(algo.pickForAssignedSipRequest!(request(), ns[1], '0')).toBe(ns[1]);
    ns[1]!.state = 'bad';
    expect(algo.pickForAssignedSipRequest!(request(), ns[1], '0')).toBe(ns[0]);
  });

  it('the shipped example loads and routes by caller prefix', async () => {
    const example = fileURLToPath(new URL('../../config/custom-algorithm.example.js', import.meta.url));
    const algo = await loadCustomAlgorithm(example, config);
    await algo.init(contextFor({ prefixNodeMap: '+33:10.0.0.5,+49:10.0.0.6' }));
    const ns = ['10.0.0.4', '10.0.0.5', '10.0.0.6'].map((ip) => node(ip));
    algo.nodesChanged(ns);
    expect(algo.pickForSipRequest(request({ fromUser: '+33612345678' }))).toBe(ns[1]);
    expect(algo.pickForSipRequest(request({ fromUser: '+4930123' }))).toBe(ns[2]);
    expect(algo.pickForSipRequest(request({ fromUser: 'alice' }))).toBeInstanceOf(ServerNode);
  });
});
