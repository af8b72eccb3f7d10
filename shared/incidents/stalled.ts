/**
 * The `incident-steps` message failed its last delivery and went to the poison queue: nothing will move the incident
 * again until an operator re-drives it. The incident says so in its notes — why, and what is left — and lets go of
 * its lease so a re-driven message may go on at once (an admin's re-drive: redrive.ts). Its status stays where the
 * work stopped (the holds and deny entries it took are still in force, which is what a stopped containment must keep).
 * A hub or DPS that stays down is waited for without spending deliveries (outage-wait.ts); Cosmos DB cannot be: it
 * holds the checkpoint a wait would be written to, so its outage is left to redelivery, and the note says so — when
 * Cosmos is back to take the note (until then the host's log has it).
 */
import { TransientError } from '../errors';
import { emit, type IncidentDeps, now } from './deps';
import type { Incident } from './rules/model';
import type { StepState } from './rules/step-state';

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

/** Why a store fault stopped the incident, and what to do: nothing for any other fault. */
function storeDown(fault: unknown, incidentId: string): string {
  if (!(fault instanceof TransientError && fault.service === 'cosmos')) return '';
  return `; Cosmos DB, which holds the incident's checkpoint, stayed unreachable past the retries: an outage of the store cannot be waited for from a checkpoint like a hub's or DPS's, so it was left to the queue's redelivery — re-drive the incident once Cosmos answers (POST /api/incidents/${incidentId}/redrive)`;
}

/** `fault`: the error of the last delivery, when known (a store fault is named in the note). */
export async function noteStalled(
  deps: IncidentDeps,
  incidentId: string,
  why: string,
  fault?: unknown,
): Promise<Incident | undefined> {
  let noted: Incident | undefined;
  const at = now(deps);
  await (
    await deps.incidents()
  ).update(incidentId, (incident) => {
    if (FINAL.has(incident.status)) return undefined;
    const note = `${at}: stopped — the incident-steps message is in the poison queue (${why}); ${whatIsLeft(incident)}${storeDown(fault, incidentId)}`;
    noted = { ...incident, notes: [...incident.notes, note], lease: undefined };
    return noted;
  });
  if (noted) await emit(deps, 'incident.stalled', incidentId, { status: noted.status, note: noted.notes.at(-1) });
  return noted;
}
