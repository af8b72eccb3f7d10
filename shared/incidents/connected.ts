/**
 * "Is the device off the network?" How many of an incident's devices each hub shows connected (`connectionState`,
 * as IoT Hub's service API gives it to the backend): counted when the incident is planned — before any step ran —
 * and kept on it, and counted again on demand (`GET /api/incidents/{id}/connected`). Bounded: only the incident's
 * own devices are read, 100 to a registry query (`SELECT * FROM devices WHERE deviceId IN [...]`, paged), and at most
 * `CONNECTED_READ_CAP` of them, from at most `CONNECTED_PAGE_CAP` pages of targets; a hub that cannot be read is said
 * so, never fails the incident.
 *
 * Informational, so it never holds containment up (review finding 2): a throttled hub is not waited for — it is
 * marked unavailable for that count (the console polls, and any Reader may call it: waiting out IoT Hub's query
 * throttle inside planning would hold the plan for minutes per hub); a lost answer is tried once more; and the whole
 * count ends by its own deadline (`CONNECTED_BUDGET_MS`, within the share's), the hubs left unread said so. The
 * on-demand count is kept on the incident and answered again for `CONNECTED_CACHE_MS` while its status stays.
 */
import { OutOfTimeError, retryIdempotent, type RetryOptions } from '../retry';
import { type IncidentDeps, lower, millis, now } from './deps';
import type { ConnectedCounts, Incident } from './rules/model';
import type { Target } from './rules/resolution';

/** Devices read per count, across hubs: ten queries' worth (IoT Hub S1 allows 20 queries a minute per unit). */
export const CONNECTED_READ_CAP = 1000;
const IDS_PER_QUERY = 100;
/** Pages of targets read per count: an incident whose targets are mostly on no hub is not read whole each time. */
export const CONNECTED_PAGE_CAP = 50;
/** The longest one count takes (less when the share ends sooner). */
export const CONNECTED_BUDGET_MS = 15_000;
/** An on-demand count younger than this is answered again instead of asking the hubs. */
export const CONNECTED_CACHE_MS = 60_000;

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

/**
 * The incident's devices per hub, distinct, from its pages in order, until `cap` of them are collected or
 * `CONNECTED_PAGE_CAP` pages are read (either: `capped`).
 */
async function devicesPerHub(pages: AsyncIterable<Target[]>, cap: number) {
  const perHub = new Map<string, Map<string, string>>();
  let collected = 0;
  let capped = false;
  let read = 0;
  for await (const page of pages) {
    if (read++ >= CONNECTED_PAGE_CAP) {
      capped = true;
      break;
    }
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
  const stopAt = Math.min(deps.retry?.stopAt ?? Infinity, millis(deps) + CONNECTED_BUDGET_MS);
  const { perHub, capped } = await devicesPerHub(pages, cap);
  const hubs = await deps.hubs();
  // Throttling never waited out (one try), a lost answer tried once more, no wait past the count's deadline.
  const options: RetryOptions = { ...deps.retry, attempts: 1, transientAttempts: 2, stopAt, now: () => millis(deps) };
  const counts: ConnectedCounts = { at, perHub: {}, capped };
  const unavailable = (hub: string, why: string) => (counts.unavailable = { ...counts.unavailable, [hub]: why });
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
          if (millis(deps) >= stopAt) throw new Error('not read: the count ran out of time');
          const page = await retryIdempotent(() => registry.queryTwins(sql, IDS_PER_QUERY, token), options);
          entry.connected += page.items.filter((t) => t.connectionState === 'Connected').length;
          token = page.continuationToken;
        } while (token);
        entry.read += read;
      }
    } catch (err) {
      const fault = err instanceof OutOfTimeError ? err.fault : err;
      unavailable(hub, fault instanceof Error ? fault.message : String(fault));
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

/**
 * On demand: the incident's devices read again, beside what was counted when it was planned. A count younger than
 * `CONNECTED_CACHE_MS` (kept on the incident), made in the status the incident is in now, is answered as it is:
 * callers polling cannot spend the hubs' queries; a change of status is worth a new count.
 */
export async function connectedNow(
  deps: IncidentDeps,
  incident: Incident,
): Promise<{ atStart?: ConnectedCounts; now: ConnectedCounts }> {
  const atStart = incident.connectedAtStart ? { atStart: incident.connectedAtStart } : {};
  if (incident.connectedNow) {
    const { status, ...kept } = incident.connectedNow;
    const age = millis(deps) - Date.parse(kept.at);
    if (status === incident.status && age >= 0 && age < CONNECTED_CACHE_MS) return { ...atStart, now: kept };
  }
  const counts = await countConnected(deps, pagesOf(deps, incident), incident.plan?.perHub ?? {});
  // Kept unless a count as fresh, in the same status, landed meanwhile; the incident's other fields are left as they are.
  await (
    await deps.incidents()
  ).update(incident.id, (i) =>
    i.connectedNow?.status === incident.status && Date.parse(i.connectedNow.at) >= Date.parse(counts.at)
      ? undefined
      : { ...i, connectedNow: { ...counts, status: incident.status } },
  );
  return { ...atStart, now: counts };
}
