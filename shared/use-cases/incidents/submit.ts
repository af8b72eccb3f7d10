/**
 * Accepting an incident: it is recorded with who submitted it, what it names directly is denied at once (the webhook
 * refuses it within seconds; no connected device is harmed), and the worker is queued to resolve and plan the rest.
 * The same incident submitted again (a re-delivered alert) changes nothing.
 */
import type { IncidentRequest } from '../../breach/incident';
import { type Incident, newIncident } from '../../breach/model';
import { directDenyEntries } from '../../breach/plan';
import { QUEUES } from '../../containers';
import { emit, holdDeny, type IncidentDeps, now } from './deps';
import { firstResolution } from './resolve';

export type SubmitResult =
  { kind: 'accepted' | 'duplicate'; incident: Incident } | { kind: 'conflict'; reason: string };

export async function submitIncident(
  deps: IncidentDeps,
  request: IncidentRequest,
  by: { principal: string; source: Incident['source'] },
): Promise<SubmitResult> {
  const repo = await deps.incidents();
  const { created, incident } = await repo.create(newIncident(request, by.principal, by.source, now()));
  if (!created) {
    return JSON.stringify(incident.request) === JSON.stringify(request)
      ? { kind: 'duplicate', incident }
      : { kind: 'conflict', reason: `incident ${request.id} already exists with another scope, reason or mode` };
  }
  // Refuse first: everything named directly, and a compromised CA by its subject (found among the few groups).
  const first = await firstResolution(deps, incident);
  await holdDeny(deps, request.id, directDenyEntries(request, first.resolution.caGroups));
  const denied = (await repo.update(request.id, (i) => ({
    ...i,
    deniedAt: now(),
    resolution: first.resolution,
    notes: [...i.notes, ...first.notes],
  }))) as Incident;
  await (await deps.queues()).send(QUEUES.incidentSteps, { incidentId: request.id });
  await emit(deps, 'incident.received', request.id, {
    reason: request.reason,
    mode: request.mode,
    scope: request.scope,
    submittedBy: by.principal,
  });
  return { kind: 'accepted', incident: denied };
}
