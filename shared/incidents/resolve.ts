/**
 * Resolving an incident's scope into pages of targets, through DPS, a bounded slice at a time (one DPS page, or 50
 * named IDs): each slice is followed by a checkpoint (its page of targets written, the continuation token kept in
 * the incident), so a worker stopped anywhere goes on from there. Every page's devices are denied as they are found
 * (an alert's only once an admin approves).
 */
import { holdDeny, type IncidentDeps, millis, withRetry } from './deps';
import { type Slice, SLICES } from './resolve-phases';
import { targetDenyEntries } from './rules/deny-entries';
import type { Incident } from './rules/model';
import type { ResolutionCursor } from './rules/resolution';

/** One bounded piece of resolution from the cursor (a slice of the phase it is in): what it found and where the next one starts. */
async function resolveSlice(deps: IncidentDeps, incident: Incident): Promise<Slice> {
  const cursor = incident.resolution;
  const move = (phase: ResolutionCursor['phase'], extra: Partial<ResolutionCursor> = {}): ResolutionCursor => ({
    ...cursor,
    phase,
    index: 0,
    continuationToken: undefined,
    ...extra,
  });
  return SLICES[cursor.phase]({
    deps,
    incident,
    dps: await deps.enrollments(),
    r: withRetry(deps),
    scope: incident.request.scope,
    cursor,
    notes: [],
    move,
  });
}

/**
 * Resolves until the scope is exhausted or the deadline passes; answers the incident as checkpointed. Each slice's
 * targets become one page, written (and its devices denied) before the cursor moves past it: a worker stopped
 * between the two writes the same page again from the same continuation token.
 */
export async function resolveScope(deps: IncidentDeps, incident: Incident, deadline: number): Promise<Incident> {
  const repo = await deps.incidents();
  let current = incident;
  // A cancel arriving meanwhile stops resolution at the next checkpoint; what was found is then released.
  while (current.resolution.phase !== 'done' && current.status === 'planning' && millis(deps) < deadline) {
    const slice = await resolveSlice(deps, current);
    const page = current.resolution.pages;
    if (slice.targets.length) {
      await repo.putTargets(current.id, page, slice.targets);
      // An operator's incident refuses what it finds at once; an alert's waits for an admin (its refuse step).
      if (current.source === 'http')
        await holdDeny(deps, current.id, targetDenyEntries(current.request, slice.targets));
    }
    const pages = page + (slice.targets.length ? 1 : 0);
    current = (await repo.update(current.id, (i) => ({
      ...i,
      notes: [...i.notes, ...slice.notes],
      resolution: { ...slice.next, pages },
    }))) as Incident;
  }
  return current;
}
