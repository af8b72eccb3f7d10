/**
 * An admin's re-drive (`POST /api/incidents/{id}/redrive`): the steps that gave up waiting for a hub or DPS are tried
 * again from their checkpoints, or the work of an incident whose message went to the poison queue is queued again
 * (rules/redrive.ts says which). Recorded on the incident (a note, the count of re-drives) and in the audit under an
 * id of its own per re-drive, so a lost answer's retry records it once; then the worker is queued.
 */
import { audit } from '../audit';
import { QUEUES } from '../containers';
import type { DecisionResult } from './decide';
import { dateOf, emit, type IncidentDeps, now, onceFor } from './deps';
import type { Incident } from './rules/model';
import { redriveOf, retryStep, stepName } from './rules/redrive';
import type { StepState } from './rules/step-state';

export async function redriveIncident(deps: IncidentDeps, id: string, by: string): Promise<DecisionResult> {
  let outcome: DecisionResult = { kind: 'notFound' };
  let record: { from: string; to: string; retried: string[]; count: number } | undefined;
  await (
    await deps.incidents()
  ).update(id, (i) => {
    const verdict = redriveOf(i);
    if ('refused' in verdict) {
      outcome = { kind: 'conflict', reason: `incident ${id} is ${i.status}: ${verdict.refused}` };
      return undefined;
    }
    const steps = (i.steps ?? []) as StepState[];
    const retried = verdict.retry.map((k) => stepName(steps[k]));
    const gaveUp = verdict.retry.map((k) => steps[k].gaveUp);
    for (const k of verdict.retry) retryStep(steps[k]);
    const count = (i.redrives ?? 0) + 1;
    const what = retried.length
      ? `retried from their checkpoints: ${retried.join(', ')} (they had given up: ${gaveUp.join('; ')})`
      : 'its work queued again';
    const next: Incident = {
      ...i,
      status: verdict.status,
      redrives: count,
      notes: [...i.notes, `${now(deps)}: re-driven by ${by}: ${what}`],
    };
    if (verdict.status !== i.status) delete next.completedAt;
    record = { from: i.status, to: verdict.status, retried, count };
    outcome = { kind: 'done', incident: next };
    return next;
  });
  if (!record) return outcome;
  await audit(
    await deps.store(),
    {
      actor: by,
      action: 'redriveIncident',
      target: { kind: 'incident', id },
      before: { status: record.from },
      after: { status: record.to, retried: record.retried },
    },
    dateOf(deps),
    onceFor(deps, id, 'redrive', String(record.count)),
  );
  await (await deps.queues()).send(QUEUES.incidentSteps, { incidentId: id });
  await emit(deps, 'incident.redriven', id, { by, retried: record.retried });
  return outcome;
}
