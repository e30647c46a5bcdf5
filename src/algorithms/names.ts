// The names algorithmClass accepts: our built-in names, and the Java class names the manual prints,
// matched on the last segment so the manual's misspelt packages (org.mobicens…, org.mobicients…) work.

/** Every built-in algorithm name, with what it is, for messages and the README. */
export const BUILT_IN_ALGORITHMS: Readonly<Record<string, string>> = {
  'call-id-affinity': 'Call-ID → node map, new calls round robin (the default)',
  'round-robin': 'every new call to the next active node',
  'header-consistent-hash': 'consistent hash ring over a SIP header / HTTP parameter',
  'persistent-consistent-hash': 'consistent hash that remembers assignments (memory or Redis)',
  'cluster-subdomain-affinity': 'Call-ID affinity with failover inside subcluster groups',
  'user-based': 'affinity by To user / From URI',
  'active-standby': 'one node takes all traffic until it fails',
  weighted: 'smooth weighted round robin with Call-ID affinity',
  'least-calls': 'new calls to the node with the fewest active calls',
};

/** Java class simple names of the original (and its docs) → built-in names. */
const JAVA_CLASS_NAMES: Readonly<Record<string, string>> = {
  CallIDAffinityBalancerAlgorithm: 'call-id-affinity',
  DefaultBalancerAlgorithm: 'round-robin',
  RoundRobinBalancerAlgorithm: 'round-robin',
  HeaderConsistentHashBalancerAlgorithm: 'header-consistent-hash',
  PureConsistentHashBalancerAlgorithm: 'header-consistent-hash',
  PersistentConsistentHashBalancerAlgorithm: 'persistent-consistent-hash',
  ClusterSubdomainAffinityAlgorithm: 'cluster-subdomain-affinity',
  UserBasedAlgorithm: 'user-based',
  ActiveStandbyAlgorithm: 'active-standby',
};

/** Java algorithms of the original that this daemon deliberately does not have, with the reason. */
const NOT_PROVIDED: Readonly<Record<string, string>> = {
  TelestaxProxyAlgorithm: 'a commercial DID-routing proxy backed by a MyBatis database; it is not part of this load balancer',
  WorstCaseUdpTestAffinityAlgorithm: "a test-only algorithm of the original's own test suite",
};

export type AlgorithmNameResult =
  | { kind: 'built-in'; name: string }
  | { kind: 'module'; specifier: string }
  | { kind: 'unknown'; reason: string };

/** Resolves an algorithmClass value. */
export function resolveAlgorithmName(value: string): AlgorithmNameResult {
  const v = value.trim();
  if (v === '') return { kind: 'built-in', name: 'call-id-affinity' };
  const lower = v.toLowerCase();
  if (Object.hasOwn(BUILT_IN_ALGORITHMS, lower)) return { kind: 'built-in', name: lower };
  // A path (./x.js, ../x.mjs, /abs/x.js) or a package name given with the npm: prefix.
  if (/^(\.{1,2}\/|\/)/.test(v) || /\.(c|m)?js$/.test(v)) return { kind: 'module', specifier: v };
  if (v.startsWith('npm:')) return { kind: 'module', specifier: v.slice(4) };
  const last = v.slice(v.lastIndexOf('.') + 1);
  if (Object.hasOwn(JAVA_CLASS_NAMES, last)) return { kind: 'built-in', name: JAVA_CLASS_NAMES[last]! };
  if (Object.hasOwn(NOT_PROVIDED, last)) return { kind: 'unknown', reason: `${last} is ${NOT_PROVIDED[last]}` };
  return { kind: 'unknown', reason: 'not a known algorithm' };
}

/** The names to offer in an error message. */
export function supportedAlgorithmNames(): string {
  return `${Object.keys(BUILT_IN_ALGORITHMS).join(', ')}; the Java names ${Object.keys(JAVA_CLASS_NAMES).join(', ')}; or a path to a .js module`;
}
