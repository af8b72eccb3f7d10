/**
 * What an admin's re-drive does to an incident (pure). A step that gave up waiting for a hub or DPS (outage-wait.ts
 * `gaveUp`) is tried again from its checkpoint — its page and position, an import job's id — with the give-up taken
 * out of its errors (the note keeps it); its other errors stand, since they are the services' own answers about
 * devices, which a retry would not change. A failed incident with such a step runs again; one whose work stopped
 * (its message in the poison queue) is queued again as it is. Anything else has nothing to re-drive.
 */
import type { Incident, IncidentStatus } from './model';
import type { StepState } from './step-state';

/** Statuses whose work a queue message carries: one that went to the poison queue left the incident here. */
const IN_FLIGHT: IncidentStatus[] = ['received', 'planning', 'running', 'cancelling', 'releasing'];

export type Redrive = { retry: number[]; status: IncidentStatus } | { refused: string };

export function redriveOf(incident: Pick<Incident, 'status' | 'steps'>): Redrive {
  const retry = (incident.steps ?? []).flatMap((s, i) => (s.state === 'failed' && s.gaveUp ? [i] : []));
  if (incident.status === 'failed')
    return retry.length
      ? { retry, status: 'running' }
      : {
          refused:
            'none of its failed steps gave up on an outage: their errors are the services’ own answers about devices, which a retry would not change; release it, or report a new incident',
        };
  if (IN_FLIGHT.includes(incident.status)) return { retry, status: incident.status };
  return { refused: `only a failed incident, or one whose work stopped (${IN_FLIGHT.join(', ')}), can be re-driven` };
}

/** A step tried again from its checkpoint: running, its give-up (and any wait) gone, its other errors kept. */
export function retryStep(step: StepState): void {
  step.state = 'running';
  step.errors = step.errors.filter((e) => e !== step.gaveUp);
  delete step.gaveUp;
  delete step.waiting;
  delete step.finishedAt;
}

/** A step as the re-drive's note names it. */
export const stepName = (s: StepState) => (s.kind === 'hub' ? `hub ${s.hub} (${s.action})` : s.kind);
