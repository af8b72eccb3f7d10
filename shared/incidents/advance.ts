/**
 * The incident worker: one call does a bounded share of whatever the incident needs next — resolve its scope, make
 * its plan, run its approved steps, or undo it — checkpoints, and says whether more remains (the trigger then
 * queues the next share). One worker at a time holds the incident's lease; a message that finds it held comes back
 * when the lease ends, so a worker killed mid-share (its lease left behind) is taken over once the lease expires.
 * No retry inside a share waits past its deadline (the share's calls carry it: shared/retry.ts `stopAt`): a retry
 * that would is not started, and the share ends with what it checkpointed, its next share queued for when that try
 * would have come — never killed by the host's timeout in the middle of a wait. Nor is a batch's item, nor a DPS call's
 * wait for its pace slot, started past it; and a share that outlives its lease anyway writes nothing more once another
 * worker has taken it (lease.ts).
 */
import { randomUUID } from 'node:crypto';

import { connectedAtStart } from './connected';
import { deadlineOf, DEFAULT_AUTO_APPROVE_MAX_DEVICES, emit, type IncidentDeps, millis, now } from './deps';
import { settled, stoppedEarly } from './early-end';
import { dropLease, fenced, LeaseLostError, takeLease } from './lease';
import { finishStep, startStep } from './page-walker';
import { resolveScope } from './resolve';
import { approvalFor } from './rules/approval';
import type { Incident } from './rules/model';
import { soonestEnd } from './rules/outage';
import { DEFAULT_IMPORT_JOB_THRESHOLD, foundNothing, planIncident } from './rules/plan';
import type { Target } from './rules/resolution';
import type { StepState } from './rules/step-state';
import { whatIsLeft } from './stalled';
import { RUNNERS } from './steps';
import { undoIncident } from './undo';

export interface Advanced {
  incident?: Incident;
  /** More work remains: queue another share. */
  more: boolean;
  /** Queue the next share to arrive this much later: another worker holds the incident, or its hubs are down. */
  retryAfterMs?: number;
}

async function* pagesOf(deps: IncidentDeps, incident: Incident): AsyncGenerator<Target[]> {
  const repo = await deps.incidents();
  for (let page = 0; page < incident.resolution.pages; page++) yield (await repo.targets(incident.id, page)) ?? [];
}

/**
 * The plan from every page, and who lets it run (rules/plan.ts approvalFor): small plans an admin submitted over
 * HTTP run at once, the rest wait for an admin — another than the submitter when the plan is wide. A scope that
 * matched nothing ends `nothingFound`, saying what it did not find, and is never reported contained.
 */
async function makePlan(deps: IncidentDeps, incident: Incident): Promise<Incident> {
  const pages: Target[][] = [];
  for await (const page of pagesOf(deps, incident)) pages.push(page);
  const { plan, steps } = planIncident(
    incident.request,
    incident.resolution.caGroups,
    pages,
    deps.importJobThreshold ?? DEFAULT_IMPORT_JOB_THRESHOLD,
    {
      ca: incident.resolution.ca,
      source: incident.source,
      missingGroups: incident.resolution.missingGroups,
      adrNamespace: deps.deviceRegistry ? deps.adrNamespace : undefined,
    },
  );
  // Before any step runs: how many of its devices are connected now (the view compares it with later).
  const connected = await connectedAtStart(deps, pages, plan.perHub);
  const max = deps.autoApproveMaxDevices ?? DEFAULT_AUTO_APPROVE_MAX_DEVICES;
  const approval = approvalFor(plan, incident.source, { maxDevices: max, fourEyes: deps.fourEyes ?? true });
  const nothing = foundNothing(plan);
  const status = nothing ? 'nothingFound' : approval.auto ? 'running' : 'awaitingApproval';
  // Only an incident still planning gets its plan: one cancelled meanwhile stays cancelled, and never runs.
  const planned = (await (
    await deps.incidents()
  ).update(incident.id, (i) =>
    i.status !== 'planning'
      ? undefined
      : {
          ...i,
          plan,
          steps,
          approval,
          connectedAtStart: connected,
          plannedAt: now(deps),
          status,
          ...(nothing
            ? {
                completedAt: now(deps),
                notes: [
                  ...i.notes,
                  `nothing of the scope was found: no device, enrollment group or CA certificate to act on${plan.notFound.count ? ` (not found: ${plan.notFound.sample.join(', ')}${plan.notFound.count > plan.notFound.sample.length ? ', …' : ''})` : ''}; what it named stays refused until it is released`,
                ],
              }
            : {}),
          ...(status === 'running'
            ? { approvedBy: `auto-approved (${approval.why}; submitted by ${i.submittedBy})`, approvedAt: now(deps) }
            : {}),
        },
  )) as Incident;
  if (!['running', 'awaitingApproval', 'nothingFound'].includes(planned.status)) return planned;
  await emit(deps, nothing ? 'incident.nothingFound' : 'incident.planned', incident.id, {
    devices: plan.devices,
    perHub: plan.perHub,
    autoApproved: status === 'running',
    approval,
  });
  return planned;
}

/**
 * Runs the approved steps in order — DPS, then ADR's rotation, then every hub in parallel (each within its own
 * throttle), then ADR's registry devices (DPS already refuses these devices: disconnecting them comes first), then
 * records.
 */
async function execute(deps: IncidentDeps, incident: Incident, deadline: number): Promise<Advanced> {
  const steps = incident.steps as StepState[];
  const phases: Array<StepState['kind']> = ['refuse', 'dps', 'adrRotate', 'hub', 'adrDevices', 'registrations'];
  let current = incident;
  for (const kind of phases) {
    const indexes = [...steps.keys()].filter(
      (i) => steps[i].kind === kind && !['done', 'failed'].includes(steps[i].state),
    );
    const finished = await settled(
      indexes.map(async (i) => {
        const started = await startStep(deps, incident.id, i);
        const ended = await RUNNERS[kind](deps, started, i, deadline);
        if (ended) {
          const done = await finishStep(deps, incident.id, i);
          const s = (done.steps as StepState[])[i];
          await emit(deps, 'incident.step', incident.id, {
            step: s.kind,
            ...(s.kind === 'hub' ? { hub: s.hub, path: s.path } : {}),
            done: s.done,
          });
        }
        return ended;
      }),
    );
    current = (await (await deps.incidents()).get(incident.id)) as Incident;
    for (const s of current.steps as StepState[])
      deps.metrics?.incidentProgress(incident.id, s.kind === 'hub' ? `hub ${s.hub}` : s.kind, s.done, s.total);
    if (finished.some((f) => !f)) {
      // Every step left waiting for its hub or DPS (outage-wait.ts): the next share comes when the first wait ends.
      const open = indexes.filter((_, k) => !finished[k]).map((i) => (current.steps as StepState[])[i].waiting);
      return { incident: current, more: true, retryAfterMs: soonestEnd(open, millis(deps)) };
    }
  }
  // The end is judged on the incident as it is written, not as this share last read it: an admin's re-drive may have
  // put a step back to run meanwhile, and then this is not the end (the next share runs that step).
  let status: Incident['status'] | undefined;
  current = (await (
    await deps.incidents()
  ).update(incident.id, (i) => {
    const steps = (i.steps ?? []) as StepState[];
    status = undefined;
    if (steps.some((s) => s.state !== 'done' && s.state !== 'failed')) return undefined;
    const failed = steps.filter((s) => s.state === 'failed');
    status = failed.length ? 'failed' : i.request.mode === 'contain' ? 'contained' : 'quarantined';
    // A failed run says what is left, and why, where an operator reads first.
    const why = failed.flatMap((s) => s.errors.slice(0, 3));
    const note = failed.length ? [`${now(deps)}: ended failed; ${whatIsLeft(i)}; ${why.join('; ')}`] : [];
    return { ...i, status, completedAt: now(deps), notes: [...i.notes, ...note] };
  })) as Incident;
  if (!status) return { incident: current, more: true };
  await emit(deps, `incident.${status}`, incident.id, { devices: current.plan?.devices });
  return { incident: current, more: false };
}

/** Does the next bounded share of the incident's work. Safe to call again for the same incident at any point. */
export async function advanceIncident(deps: IncidentDeps, incidentId: string): Promise<Advanced> {
  const owner = randomUUID();
  const incident = await takeLease(deps, incidentId, owner);
  if (!incident) return heldElsewhere(deps, incidentId);
  const deadline = deadlineOf(deps);
  try {
    return await share(shareDeps(deps, incident, owner, deadline), incident, deadline);
  } catch (err) {
    // Outlived its lease, and another worker took the incident over: that one goes on; this one wrote nothing since.
    if (err instanceof LeaseLostError) {
      deps.log?.(`incident ${incidentId}: ${err.message}`);
      return heldElsewhere(deps, incidentId);
    }
    const after = stoppedEarly(err, millis(deps));
    if (after === undefined) throw err;
    deps.log?.(`incident ${incidentId}: share ended early (${(err as Error).message}); the next in ${after} ms`);
    return { incident: await (await deps.incidents()).get(incidentId), more: true, retryAfterMs: after };
  } finally {
    await dropLease(deps, incidentId, owner);
  }
}

/** Another worker holds the incident: this message comes back when that lease ends. */
async function heldElsewhere(deps: IncidentDeps, incidentId: string): Promise<Advanced> {
  const held = await (await deps.incidents()).get(incidentId);
  if (!held) return { more: false };
  return { incident: held, more: true, retryAfterMs: Math.max(1000, (held.lease?.until ?? 0) - millis(deps)) };
}

/**
 * What a share works with: its deadline carried into every retry (no wait past it) and every DPS call (no wait for a
 * pace slot past it: shared/pacing), its writes of the incident fenced by its lease (lease.ts), and the incident's
 * filing day for its audit records, known from the incident it holds.
 */
function shareDeps(deps: IncidentDeps, incident: Incident, owner: string, deadline: number): IncidentDeps {
  return {
    ...deps,
    retry: { ...deps.retry, stopAt: deadline, now: () => millis(deps) },
    incidents: async () => fenced(await deps.incidents(), incident.id, owner),
    enrollments: async () => {
      const dps = await deps.enrollments();
      return dps.until?.({ stopAt: deadline, now: () => millis(deps) }) ?? dps;
    },
    received: { ...deps.received, [incident.id]: incident.receivedAt },
  };
}

/** One share's work, by status; `deps` carry the share's deadline into every retry. */
async function share(deps: IncidentDeps, started: Incident, deadline: number): Promise<Advanced> {
  let incident = started;
  switch (incident.status) {
    case 'received':
    case 'planning': {
      if (incident.status === 'received')
        incident = (await (
          await deps.incidents()
        ).update(incident.id, (i) => (i.status === 'received' ? { ...i, status: 'planning' } : undefined))) as Incident;
      incident = await resolveScope(deps, incident, deadline);
      // Cancelled while resolving: the next share undoes what was found.
      if (incident.status === 'cancelling') return { incident, more: true };
      if (incident.resolution.phase !== 'done') return { incident, more: true };
      incident = await makePlan(deps, incident);
      return { incident, more: incident.status === 'running' || incident.status === 'cancelling' };
    }
    case 'running':
      return execute(deps, incident, deadline);
    case 'cancelling':
    case 'releasing':
      return undoIncident(deps, incident, deadline);
    default:
      return { incident, more: false };
  }
}
