/**
 * The incident's lease: one worker at a time does a share of its work. A share ends at its deadline, and what it had
 * in flight then may still answer afterwards, so the lease outlives the deadline by `LEASE_MARGIN_MS`. No margin can
 * bound a slow store or a paused process, though, so the lease is also a fence: every write of the incident by a
 * share goes under the incident's etag and is refused (`LeaseLostError`) once another worker holds the lease — a share
 * that outlived its lease never writes a checkpoint from its stale read over the newer worker's (moving a step back,
 * dropping the errors it recorded).
 */
import { DEFAULT_BUDGET_MS, type IncidentDeps, millis } from './deps';
import type { IncidentRepository } from './repositories';
import type { Incident } from './rules/model';

/**
 * How long the lease outlives a share's deadline. Past the deadline no batch and no item of one is started
 * (page-walker.ts, early-end.ts), no retry waits and no DPS call waits for its pace slot: what is left is the calls
 * already in flight — a DPS or IoT Hub call is abandoned after 30 s, a bulk one after 60 s
 * (shared/azure/iot-deadlines.ts; test/unit/incidents/lease.test.ts keeps the two in step) — and a round of checkpoint
 * and audit writes after them. A longer margin only delays the takeover of a share whose worker died.
 */
export const LEASE_MARGIN_MS = 90_000;

/** Another worker took the incident's lease: this share writes nothing more of it, and ends. */
export class LeaseLostError extends Error {
  constructor(
    readonly incidentId: string,
    readonly heldBy: string | undefined,
  ) {
    super(
      `incident ${incidentId}: the lease was taken over${heldBy ? ` (now held by ${heldBy})` : ''}; this share ends`,
    );
    this.name = 'LeaseLostError';
  }
}

/** Takes the incident's lease when it is free, expired or already this owner's; answers the incident, else undefined. */
export async function takeLease(deps: IncidentDeps, id: string, owner: string): Promise<Incident | undefined> {
  const until = millis(deps) + (deps.budgetMs ?? DEFAULT_BUDGET_MS) + LEASE_MARGIN_MS;
  let taken = false;
  const incident = await (
    await deps.incidents()
  ).update(id, (i) => {
    taken = !i.lease || i.lease.until < millis(deps) || i.lease.owner === owner;
    return taken ? { ...i, lease: { owner, until } } : undefined;
  });
  return taken ? incident : undefined;
}

export async function dropLease(deps: IncidentDeps, id: string, owner: string) {
  await (await deps.incidents()).update(id, (i) => (i.lease?.owner === owner ? { ...i, lease: undefined } : undefined));
}

/**
 * The incidents as a share that holds incident `id`'s lease writes them: its every update of that incident checks,
 * on the very read its etag-guarded write replaces, that `owner` still holds the lease — expired but not taken is
 * still held (no one else writes meanwhile) — and throws LeaseLostError instead of writing when it does not.
 */
export function fenced(repo: IncidentRepository, id: string, owner: string): IncidentRepository {
  return {
    create: (incident) => repo.create(incident),
    get: (incidentId) => repo.get(incidentId),
    list: (pageSize, token) => repo.list(pageSize, token),
    putTargets: (incidentId, page, targets) => repo.putTargets(incidentId, page, targets),
    targets: (incidentId, page) => repo.targets(incidentId, page),
    async update(incidentId, change) {
      if (incidentId !== id) return repo.update(incidentId, change);
      const seen: { lost: boolean; holder?: string } = { lost: false };
      const written = await repo.update(incidentId, (i) => {
        // Judged on every try of the etag loop: a takeover between our read and our write meets 412, and then this.
        seen.lost = i.lease?.owner !== owner;
        seen.holder = i.lease?.owner;
        return seen.lost ? undefined : change(i);
      });
      if (seen.lost) throw new LeaseLostError(incidentId, seen.holder);
      return written;
    },
  };
}
