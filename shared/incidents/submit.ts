/**
 * Accepting an incident: it is recorded with who submitted it and where from, what it may refuse at once is denied
 * (the webhook refuses it within seconds; no connected device is harmed), and the worker is queued to resolve and
 * plan the rest. An operator's incident refuses everything its scope names and has DPS disallow a compromised CA;
 * an alert refuses only the certificates and devices it names one by one (rules/plan.ts immediateDenyEntries). The
 * same incident submitted again (a re-delivered alert, a client's retry) changes nothing, and finishes the refusals
 * if a first attempt stopped before them. A create whose answer was lost (the store sends it again and meets 409)
 * is known as the submitter's own — the same request from the same submitter, not yet announced — so it is
 * accepted and `incident.received` goes out once: announced, then marked (at least once: a submission that stops
 * between the two announces it again when retried).
 */
import { QUEUES } from '../containers';
import { checkPolicyScope } from './adr-scope';
import { DEFAULT_ALERT_IMMEDIATE_DENY_MAX, emit, holdDeny, type IncidentDeps, now } from './deps';
import { disallowCa } from './dps-holds';
import { firstResolution } from './first-resolution';
import { immediateDenyEntries } from './rules/deny-entries';
import type { IncidentRequest } from './rules/incident';
import { type Incident, newIncident } from './rules/model';

export type SubmitResult =
  { kind: 'accepted' | 'duplicate'; incident: Incident } | { kind: 'conflict'; reason: string };

async function refuseNow(deps: IncidentDeps, incident: Incident): Promise<Incident> {
  const { id } = incident.request;
  const first = await firstResolution(deps, incident);
  const { caGroups, ca } = first.resolution;
  const cap = deps.alertImmediateDenyMax ?? DEFAULT_ALERT_IMMEDIATE_DENY_MAX;
  const entries = immediateDenyEntries(incident, caGroups, ca, cap);
  await holdDeny(deps, id, entries);
  if (incident.source === 'http' && ca) await disallowCa(deps, id, ca);
  const notes = [...first.notes];
  if (incident.source === 'alert')
    notes.push(
      `an alert: ${entries.length} identit${entries.length === 1 ? 'y' : 'ies'} it named one by one refused at once (at most ${cap}); groups, CAs, lots and the devices found behind them are refused once an admin approves`,
    );
  const denied = (await (
    await deps.incidents()
  ).update(id, (i) => ({
    ...i,
    deniedAt: now(deps),
    resolution: first.resolution,
    notes: [...i.notes, ...notes],
  }))) as Incident;
  await (await deps.queues()).send(QUEUES.incidentSteps, { incidentId: id });
  return denied;
}

export async function submitIncident(
  deps: IncidentDeps,
  request: IncidentRequest,
  by: { principal: string; source: Incident['source'] },
): Promise<SubmitResult> {
  // A compromised ADR policy must be one this backend administers, and exist: bad input otherwise (a 400).
  await checkPolicyScope(deps, request);
  const repo = await deps.incidents();
  const { created, incident } = await repo.create(newIncident(request, by.principal, by.source, now(deps)));
  if (!created && JSON.stringify(incident.request) !== JSON.stringify(request))
    return { kind: 'conflict', reason: `incident ${request.id} already exists with another scope, reason or mode` };
  const ours =
    created || (!incident.announcedAt && incident.submittedBy === by.principal && incident.source === by.source);
  const denied = incident.deniedAt ? incident : await refuseNow(deps, incident);
  if (!ours) return { kind: 'duplicate', incident: denied };
  await emit(deps, 'incident.received', request.id, {
    reason: request.reason,
    mode: request.mode,
    scope: { ...request.scope, caCertificate: request.scope.caCertificate ? '(PEM)' : undefined },
    submittedBy: by.principal,
    source: by.source,
  });
  const announced = await repo.update(request.id, (i) =>
    i.announcedAt ? undefined : { ...i, announcedAt: now(deps) },
  );
  return { kind: 'accepted', incident: announced ?? denied };
}
