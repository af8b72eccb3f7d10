/**
 * Weighted rendezvous (highest random weight) hashing: each hub scores every key; the highest score wins. Adding
 * a hub moves only the keys that now score highest on it; removing one moves only its own keys. Weighted with
 * the logarithmic method (score = −weight / ln(u)), so a hub of weight 2 takes twice the keys of weight 1.
 */
import { createHash } from 'node:crypto';

export interface WeightedHub {
  hostName: string;
  weight?: number;
}

/** A uniform number in (0, 1) from SHA-256 of hub and key: stable across processes, versions and machines. */
function uniform(hub: string, key: string): number {
  const digest = createHash('sha256').update(hub.toLowerCase()).update('\0').update(key.toLowerCase()).digest();
  return (digest.readUIntBE(0, 6) + 1) / (2 ** 48 + 1);
}

export function score(hub: WeightedHub, key: string): number {
  return -(hub.weight ?? 1) / Math.log(uniform(hub.hostName, key));
}

/** The hubs ordered best first for `key`; ties (practically impossible) fall back to the host name. */
export function rank<T extends WeightedHub>(key: string, hubs: readonly T[]): Array<T & { score: number }> {
  return hubs
    .filter((h) => (h.weight ?? 1) > 0)
    .map((h) => ({ ...h, score: score(h, key) }))
    .sort((a, b) => b.score - a.score || a.hostName.localeCompare(b.hostName));
}
