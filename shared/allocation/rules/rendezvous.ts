/**
 * Weighted rendezvous (highest random weight) hashing: each hub scores every key; the highest score wins. Adding
 * a hub moves only the keys that now score highest on it; removing one moves only its own keys. Weighted with
 * the logarithmic method (score = −weight / ln(u)), so a hub of weight 2 takes twice the keys of weight 1.
 *
 * The hash is FNV-1a per string, combined with MurmurHash3's finaliser: deterministic across processes, versions
 * and machines, well mixed, and ~50× cheaper than SHA-256 — it runs for every linked hub on every registration.
 */

export interface WeightedHub {
  hostName: string;
  weight?: number;
}

function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEED_A = 0x811c9dc5;
const SEED_B = 0x9e3779b9;

/** Two independent 32-bit hashes of a lower-cased name (host names and registration IDs are case-insensitive). */
function hashPair(text: string): [number, number] {
  const lower = text.toLowerCase();
  return [fnv1a(lower, SEED_A), fnv1a(lower, SEED_B)];
}

const hubHashes = new Map<string, [number, number]>();
function hubHash(hostName: string): [number, number] {
  let h = hubHashes.get(hostName);
  if (!h) {
    h = hashPair(hostName);
    if (hubHashes.size < 10_000) hubHashes.set(hostName, h);
  }
  return h;
}

/** A uniform number in (0, 1) from hub and key, with 53 bits of mixing. */
function uniform(hub: [number, number], key: [number, number]): number {
  const a = fmix32(hub[0] ^ key[0]);
  const b = fmix32((hub[1] ^ key[1] ^ Math.imul(a, 0x27d4eb2f)) >>> 0);
  return (a * 2 ** 21 + (b >>> 11) + 1) / (2 ** 53 + 1);
}

function scoreWith(hub: WeightedHub, key: [number, number]): number {
  return -(hub.weight ?? 1) / Math.log(uniform(hubHash(hub.hostName), key));
}

export function score(hub: WeightedHub, key: string): number {
  return scoreWith(hub, hashPair(key));
}

/** A scoring function for one key: hashes the key once, then scores any hub; weight 0 scores −∞. */
export function scorer(key: string): (hub: WeightedHub) => number {
  const k = hashPair(key);
  return (hub) => ((hub.weight ?? 1) > 0 ? scoreWith(hub, k) : -Infinity);
}

/** The hubs ordered best first for `key`; ties (practically impossible) fall back to the host name. */
export function rank<T extends WeightedHub>(key: string, hubs: readonly T[]): Array<T & { score: number }> {
  const k = hashPair(key);
  return hubs
    .filter((h) => (h.weight ?? 1) > 0)
    .map((h) => ({ ...h, score: scoreWith(h, k) }))
    .sort((a, b) => b.score - a.score || a.hostName.localeCompare(b.hostName));
}
