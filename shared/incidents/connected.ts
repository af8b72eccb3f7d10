/**
 * "Is the device off the network?" How many of an incident's devices each hub shows connected (`connectionState`,
 * as IoT Hub's service API gives it to the backend): counted when the incident is planned — before any step ran —
 * and kept on it, and counted again on demand (`GET /api/incidents/{id}/connected`). Bounded: only the incident's
 * own devices are read, 100 to a registry query (`SELECT * FROM devices WHERE deviceId IN [...]`, paged), and at most
 * `CONNECTED_READ_CAP` of them; a hub that cannot be read is said so, never fails the incident.
 */
import { OutOfTimeError } from '../retry';
import { type IncidentDeps, lower, now, withRetry } from './deps';
import type { ConnectedCounts, Incident, Target } from './rules/model';

/** Devices read per count, across hubs: ten queries' worth (IoT Hub S1 allows 20 queries a minute per unit). */
export const CONNECTED_READ_CAP = 1000;
const IDS_PER_QUERY = 100;

/** A string literal of the query language; undefined for an ID it cannot quote (both quote characters in it). */
function literal(id: string): string | undefined {
  if (!id.includes("'")) return `'${id}'`;
  if (!id.includes('"')) return `"${id}"`;
  return undefined;
}

/** The query for one slice of device IDs (those that cannot be quoted are left out, and so not counted as read). */
export function connectedQuery(ids: readonly string[]): { sql: string; read: number } {
  const quoted = ids.map(literal).filter((q): q is string => !!q);
  return { sql: `SELECT * FROM devices WHERE deviceId IN [${quoted.join(', ')}]`, read: quoted.length };
}

/** The incident's devices per hub, distinct, from its pages in order, until `cap` of them are collected. */
async function devicesPerHub(pages: AsyncIterable<Target[]>, cap: number) {
  const perHub = new Map<string, Map<string, string>>();
  let collected = 0;
  let capped = false;
  for await (const page of pages) {
    for (const t of page) {
      if (!t.hub || !t.deviceId) continue;
      const ids = perHub.get(t.hub) ?? new Map<string, string>();
      perHub.set(t.hub, ids);
      if (ids.has(lower(t.deviceId))) continue;
      if (collected >= cap) {
        capped = true;
        break;
      }
      ids.set(lower(t.deviceId), t.deviceId);
      collected++;
    }
    if (capped) break;
  }
  return { perHub, capped };
}

/** Counts, hub by hub, the devices of `pages` the hub shows connected; `targeted` comes from the plan. */
export async function countConnected(
  deps: IncidentDeps,
  pages: AsyncIterable<Target[]>,
  targeted: Record<string, number>,
  cap = CONNECTED_READ_CAP,
): Promise<ConnectedCounts> {
  const at = now(deps);
  const { perHub, capped } = await devicesPerHub(pages, cap);
  const hubs = await deps.hubs();
  const r = withRetry(deps);
  const counts: ConnectedCounts = { at, perHub: {}, capped };
  for (const hub of new Set([...Object.keys(targeted), ...perHub.keys()])) {
    const ids = [...(perHub.get(hub)?.values() ?? [])];
    const entry = { targeted: targeted[hub] ?? ids.length, read: 0, connected: 0 };
    counts.perHub[hub] = entry;
    try {
      const registry = hubs.hub(hub);
      for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
        const { sql, read } = connectedQuery(ids.slice(i, i + IDS_PER_QUERY));
        if (read === 0) continue;
        let token: string | undefined;
        do {
          const page = await r(() => registry.queryTwins(sql, IDS_PER_QUERY, token));
          entry.connected += page.items.filter((t) => t.connectionState === 'Connected').length;
          token = page.continuationToken;
        } while (token);
        entry.read += read;
      }
    } catch (err) {
      if (err instanceof OutOfTimeError) throw err; // the share's time is up: the plan is made by the next share
      counts.unavailable = { ...counts.unavailable, [hub]: err instanceof Error ? err.message : String(err) };
    }
  }
  return counts;
}

async function* pagesOf(deps: IncidentDeps, incident: Incident): AsyncGenerator<Target[]> {
  const repo = await deps.incidents();
  for (let page = 0; page < incident.resolution.pages; page++) yield (await repo.targets(incident.id, page)) ?? [];
}

/** At planning: from the pages the plan was made from (already read). */
export function connectedAtStart(deps: IncidentDeps, pages: Target[][], targeted: Record<string, number>) {
  async function* each() {
    yield* pages;
  }
  return countConnected(deps, each(), targeted);
}

/** On demand: the incident's devices read again, beside what was counted when it was planned. */
export async function connectedNow(
  deps: IncidentDeps,
  incident: Incident,
): Promise<{ atStart?: ConnectedCounts; now: ConnectedCounts }> {
  const counts = await countConnected(deps, pagesOf(deps, incident), incident.plan?.perHub ?? {});
  return { ...(incident.connectedAtStart ? { atStart: incident.connectedAtStart } : {}), now: counts };
}
