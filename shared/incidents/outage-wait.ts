/**
 * A dependency — a hub, or DPS — that stays unreachable past the in-invocation retries is waited for, not skipped; a
 * hub down does not hold up the other hubs. Its step records the outage and answers "not finished"; the share
 * ends normally and the worker queues the next one after the wait (advance.ts), so a known outage spends none of the
 * message's deliveries — the poison budget is for work that fails, and this step has its own budget
 * (rules/outage.ts): past it, the step fails, saying what is unreachable and how much is left. Only the dependency's
 * own calls count: a failing store (Cosmos DB holds the very checkpoint a wait would be written to) still fails the
 * share, and is left to the queue's redelivery.
 */
import { TransientError } from '../errors';
import { type IncidentDeps, millis, tracked } from './deps';
import { updateStep } from './page-walker';
import type { Incident } from './rules/model';
import { afterOutage } from './rules/outage';
import type { StepState } from './rules/step-state';

/** The name DPS's calls go under (a hub's are its host name). */
export const DPS = 'DPS';

/** A dependency's calls failed past their retries: it is taken to be down. */
export class UnreachableError extends Error {
  constructor(
    readonly dependency: string,
    readonly fault: TransientError,
  ) {
    super(`${dependency} unreachable: ${fault.message}`);
    this.name = 'UnreachableError';
  }
}

/**
 * Calls to one dependency, retried (tracked: see deps.ts); a transient fault that outlasts the retries names it.
 * `answerLost` says whether an earlier try lost its answer (so "not found" may be our own work).
 */
export function callsTo(deps: IncidentDeps, dependency: string) {
  const tries = tracked(deps);
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await tries.call(fn);
    } catch (err) {
      throw err instanceof TransientError ? new UnreachableError(dependency, err) : err;
    }
  };
  return { call, answerLost: tries.answerLost };
}

/** What is left of a step, as the operator reads it when the step gives up. */
function leftOf(step: StepState): string {
  const left = `${step.total - step.done} of ${step.total}`;
  switch (step.kind) {
    case 'hub':
      return `${left} devices left on ${step.hub} (${step.action} not done)`;
    case 'dps':
      return `${left} DPS changes left (groups, enrollments and blocks not disabled)`;
    case 'registrations':
      return `${left} DPS registration records left (not deleted)`;
    default:
      return `${left} left (${step.kind} not done)`;
  }
}

/**
 * Runs a step's work (`run` answers whether the step ended) unless the step is still inside a recorded wait for
 * `dependency`. It answering again ends the wait; it unreachable starts or extends the wait, or — past the outage
 * budget — ends the step with the reason in its errors (so it is `failed`, and the incident with it), marked
 * `gaveUp` so an admin's re-drive may try it again from its checkpoint (redrive.ts).
 */
export async function unlessDown(
  deps: IncidentDeps,
  incident: Incident,
  index: number,
  dependency: string,
  run: () => Promise<boolean>,
): Promise<boolean> {
  const step = (incident.steps as StepState[])[index];
  if (step.waiting && Date.parse(step.waiting.until) > millis(deps)) return false;
  try {
    const ended = await run();
    if (step.waiting) await updateStep(deps, incident.id, index, (s) => void delete s.waiting);
    return ended;
  } catch (err) {
    if (!(err instanceof UnreachableError) || err.dependency !== dependency) throw err;
    let gaveUp = false;
    await updateStep(deps, incident.id, index, (s) => {
      const verdict = afterOutage(s.waiting, millis(deps), err.fault.message, leftOf(s), deps.maxOutageMs);
      if ('wait' in verdict) s.waiting = verdict.wait;
      else {
        gaveUp = true;
        delete s.waiting;
        s.gaveUp = `${dependency}: ${verdict.giveUp}`;
        s.errors = [...s.errors, s.gaveUp];
      }
    });
    deps.log?.(`incident ${incident.id}: ${err.message}${gaveUp ? '; gave up' : '; waiting'}`);
    return gaveUp;
  }
}
