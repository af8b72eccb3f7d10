/**
 * Walks a step through the incident's pages of targets, a batch at a time, checkpointing the step's position (page,
 * offset within the page's matching targets), its count and its errors after every batch. A worker stopped anywhere
 * goes on from the batch after the last checkpoint; a batch done again is harmless, since every action is idempotent.
 */
import { type IncidentDeps, millis, now } from './deps';
import type { Incident } from './rules/model';
import type { Target } from './rules/resolution';
import type { StepState } from './rules/step-state';

export interface Walk {
  /** Which targets of a page the step acts on. */
  matches: (t: Target) => boolean;
  batch: number;
  /** Acts on one batch; answers the errors to record. */
  act: (targets: Target[]) => Promise<string[]>;
}

/** Changes step `index` of the incident, under its etag, and answers the incident as written. */
export async function updateStep(
  deps: IncidentDeps,
  incidentId: string,
  index: number,
  change: (step: StepState) => void,
): Promise<Incident> {
  return (await (
    await deps.incidents()
  ).update(incidentId, (i) => {
    change((i.steps as StepState[])[index]);
    return i;
  })) as Incident;
}

/** Answers true when the step has walked every page, false when the deadline stopped it first. */
export async function walkPages(deps: IncidentDeps, incident: Incident, index: number, walk: Walk, deadline: number) {
  const repo = await deps.incidents();
  let step = (incident.steps as StepState[])[index];
  const pages = incident.resolution.pages;
  while (step.page < pages) {
    const targets = ((await repo.targets(incident.id, step.page)) ?? []).filter(walk.matches);
    if (step.offset >= targets.length) {
      step = (await updateStep(deps, incident.id, index, (s) => Object.assign(s, { page: step.page + 1, offset: 0 })))
        .steps![index];
      continue;
    }
    if (millis(deps) >= deadline) return false;
    const slice = targets.slice(step.offset, step.offset + walk.batch);
    const errors = await walk.act(slice);
    step = (
      await updateStep(deps, incident.id, index, (s) => {
        // From the checkpoint this share read, not from the stored step: a write applied twice counts once.
        s.offset = step.offset + slice.length;
        s.done = Math.min(s.total, step.done + slice.length);
        s.errors = [...step.errors, ...errors];
      })
    ).steps![index];
  }
  return true;
}

export async function startStep(deps: IncidentDeps, incidentId: string, index: number) {
  return updateStep(deps, incidentId, index, (s) => {
    if (s.state === 'pending') Object.assign(s, { state: 'running', startedAt: now(deps) });
  });
}

export async function finishStep(deps: IncidentDeps, incidentId: string, index: number) {
  return updateStep(deps, incidentId, index, (s) => {
    Object.assign(s, { state: s.errors.length ? 'failed' : 'done', finishedAt: now(deps) });
  });
}
