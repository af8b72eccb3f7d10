/**
 * Incidents as a use case over in-memory stores finds them when it audits: an incident's audit records are filed
 * under the day it was received (shared/incidents/deps.ts `filingDayOf`), so the incidents a test's steps act for
 * must exist. For tests that call a step's helpers directly, without submitting an incident first.
 */
import type { IncidentRepository } from '../../shared/incidents';
import { newIncident } from '../../shared/incidents/rules/model';
import type { Target } from '../../shared/incidents/rules/resolution';
import type { StepState } from '../../shared/incidents/rules/step-state';
import { CosmosIncidentRepository } from '../../shared/incidents/store/incident-repository';
import type { DocumentStore } from '../../shared/ports';

export function receivedIncidents(
  store: DocumentStore,
  ids: string[],
  receivedAt = '2026-11-25T08:00:00.000Z',
): () => Promise<IncidentRepository> {
  const repo = new CosmosIncidentRepository(store);
  const made = Promise.all(
    ids.map((id) =>
      repo.create(
        newIncident({ id, reason: 'r', mode: 'contain', scope: { enrollmentGroupId: 'g' } }, 'a', 'http', receivedAt),
      ),
    ),
  ).then(() => repo);
  return () => made;
}

/** An approved incident whose `steps` are under way over the target `pages`, as a share finds it. */
export async function runningIncident(repo: IncidentRepository, id: string, steps: StepState[], pages: Target[][]) {
  const base = newIncident(
    { id, reason: 'r', mode: 'contain', scope: { enrollmentGroupId: 'g' } },
    'a',
    'http',
    '2026-11-25T09:00:00Z',
  );
  await repo.create({ ...base, status: 'running', resolution: { ...base.resolution, pages: pages.length }, steps });
  for (const [page, list] of pages.entries()) await repo.putTargets(id, page, list);
}
