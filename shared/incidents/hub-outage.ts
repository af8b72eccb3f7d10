/**
 * A hub that stays unreachable past the in-invocation retries is waited for, not skipped, and does not hold up the
 * other hubs. Its step records the outage and answers "not finished"; the share ends normally and the worker queues
 * the next one after the wait (advance.ts), so a known outage spends none of the message's deliveries — the poison
 * budget is for work that fails, and this step has its own budget (rules/outage.ts): past it, the step fails,
 * saying which hub and how much is left. Only the hub's own calls count: a failing store still fails the share.
 */
import { TransientError } from '../errors';
import { type IncidentDeps, millis, tracked } from './deps';
import { updateStep } from './page-walker';
import type { Incident, StepState } from './rules/model';
import { afterOutage } from './rules/outage';

/** The hub's calls failed past their retries: the hub is taken to be down. */
export class HubUnreachableError extends Error {
  constructor(
    readonly hub: string,
    readonly fault: TransientError,
  ) {
    super(`${hub} unreachable: ${fault.message}`);
    this.name = 'HubUnreachableError';
  }
}

/** Calls to one hub, retried (tracked: see deps.ts); a transient fault that outlasts the retries names the hub. */
export function hubCalls(deps: IncidentDeps, hub: string) {
  const tries = tracked(deps);
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await tries.call(fn);
    } catch (err) {
      throw err instanceof TransientError ? new HubUnreachableError(hub, err) : err;
    }
  };
  return { call, answerLost: tries.answerLost };
}

/**
 * Runs a hub step's work (`run` answers whether the step ended) unless the step is still inside a recorded wait.
 * The hub answering again ends the wait; the hub unreachable starts or extends it, or — past the outage budget —
 * ends the step with the reason in its errors (so it is `failed`, and the incident with it).
 */
export async function unlessHubDown(
  deps: IncidentDeps,
  incident: Incident,
  index: number,
  run: () => Promise<boolean>,
): Promise<boolean> {
  const step = (incident.steps as StepState[])[index] as Extract<StepState, { kind: 'hub' }>;
  if (step.waiting && Date.parse(step.waiting.until) > millis(deps)) return false;
  try {
    const ended = await run();
    if (step.waiting) await updateStep(deps, incident.id, index, (s) => void delete s.waiting);
    return ended;
  } catch (err) {
    if (!(err instanceof HubUnreachableError)) throw err;
    let gaveUp = false;
    await updateStep(deps, incident.id, index, (s) => {
      const left = `${s.total - s.done} of ${s.total} devices left on ${step.hub} (${step.action} not done)`;
      const verdict = afterOutage(s.waiting, millis(deps), err.fault.message, left, deps.maxHubOutageMs);
      if ('wait' in verdict) s.waiting = verdict.wait;
      else {
        gaveUp = true;
        delete s.waiting;
        s.errors = [...s.errors, `${step.hub}: ${verdict.giveUp}`];
      }
    });
    deps.log?.(`incident ${incident.id}: ${err.message}${gaveUp ? '; gave up' : '; waiting'}`);
    return gaveUp;
  }
}
