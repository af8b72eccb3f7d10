/**
 * What an operator decides about an incident: approve its plan, cancel it before approval, release it after its
 * run. Each records who decided and queues the worker; deciding the same thing twice is harmless, and a decision
 * the incident's status does not allow is a conflict that says why. A wide plan (rules/plan.ts approvalFor; the state machine is rules/decisions.ts) is
 * approved by an admin other than its submitter: four eyes, compared by principal (a user's object id, never the
 * client app both may sign in through).
 */
import { QUEUES } from '../containers';
import { emit, type IncidentDeps, now } from './deps';
import { type Decision, transition } from './rules/decisions';
import type { Incident } from './rules/model';

export type { Decision } from './rules/decisions';

export type DecisionResult =
  | { kind: 'done' | 'unchanged'; incident: Incident }
  | { kind: 'notFound' }
  | { kind: 'conflict'; reason: string }
  | { kind: 'forbidden'; reason: string };

const samePrincipal = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

export async function decideIncident(
  deps: IncidentDeps,
  id: string,
  decision: Decision,
  by: string,
): Promise<DecisionResult> {
  let outcome = { kind: 'notFound' } as DecisionResult;
  await (
    await deps.incidents()
  ).update(id, (i) => {
    const step = transition(i.status, decision);
    if ('unchanged' in step) {
      outcome = { kind: 'unchanged', incident: i };
      return undefined;
    }
    if ('refused' in step) {
      outcome = { kind: 'conflict', reason: `incident ${id} is ${i.status}: ${step.refused}` };
      return undefined;
    }
    if (decision === 'approve' && i.approval?.otherAdmin && samePrincipal(i.submittedBy, by)) {
      outcome = {
        kind: 'forbidden',
        reason: `incident ${id} was submitted by ${by}, and ${i.approval.why}: another admin must approve it`,
      };
      return undefined;
    }
    const next: Incident = { ...i, status: step.to };
    if (decision === 'approve') Object.assign(next, { approvedBy: by, approvedAt: now(deps) });
    if (decision === 'cancel') Object.assign(next, { cancelledBy: by });
    if (decision === 'release') Object.assign(next, { releasedBy: by, undo: undefined });
    outcome = { kind: 'done', incident: next };
    return next;
  });
  if (outcome.kind === 'done') {
    await (await deps.queues()).send(QUEUES.incidentSteps, { incidentId: id });
    await emit(deps, `incident.${decision}`, id, { by });
  }
  return outcome;
}
