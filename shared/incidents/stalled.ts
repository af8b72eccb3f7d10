/**
 * The `incident-steps` message failed its last delivery and went to the poison queue: nothing will move the incident
 * again until an operator re-drives it. The incident says so in its notes — why, and what is left — and lets go of
 * its lease so a re-driven message may go on at once. Its status stays where the work stopped (the holds and deny
 * entries it took are still in force, which is what a stopped containment must keep).
 */
import { emit, type IncidentDeps, now } from './deps';
import type { Incident, StepState } from './rules/model';

const FINAL = new Set(['quarantined', 'contained', 'failed', 'nothingFound', 'cancelled', 'released']);

function stepLeft(step: StepState): string {
  const where = step.kind === 'hub' ? ` on ${step.hub} (${step.action})` : '';
  const waiting = step.waiting ? `, unreachable since ${step.waiting.since}` : '';
  return `${step.kind}${where} ${step.done}/${step.total}${waiting}`;
}

/** What the incident has not done yet, as an operator reads it. */
export function whatIsLeft(incident: Incident): string {
  if (incident.status === 'received' || incident.status === 'planning')
    return `resolution stopped in phase ${incident.resolution.phase} after ${incident.resolution.pages} pages of targets`;
  const open = (incident.steps ?? []).filter((s) => s.state !== 'done');
  return open.length ? `steps left: ${open.map(stepLeft).join(', ')}` : `nothing left but the ${incident.status} phase`;
}

export async function noteStalled(deps: IncidentDeps, incidentId: string, why: string): Promise<Incident | undefined> {
  let noted: Incident | undefined;
  const at = now(deps);
  await (
    await deps.incidents()
  ).update(incidentId, (incident) => {
    if (FINAL.has(incident.status)) return undefined;
    const note = `${at}: stopped — the incident-steps message is in the poison queue (${why}); ${whatIsLeft(incident)}`;
    noted = { ...incident, notes: [...incident.notes, note], lease: undefined };
    return noted;
  });
  if (noted) await emit(deps, 'incident.stalled', incidentId, { status: noted.status, note: noted.notes.at(-1) });
  return noted;
}
