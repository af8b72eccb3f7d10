/**
 * The steps of an approved incident, each resumable: an alert's refusals (every device found, then its groups and
 * CA), DPS (groups, then each device's enrollment or block), Azure Device Registry (adr-rotate.ts, adr-devices.ts), each
 * hub's registrations disabled or deleted (in bulk, or by an import job: hub-import-job.ts), and — when containing —
 * the DPS registration records. A step that needs DPS or a hub waits for it when it stays unreachable (outage-wait.ts).
 */
import { DPS_BATCH, DPS_SINGLE_IN_FLIGHT, HUB_BATCH, REGISTRATION_BATCH } from '../limits';
import { runAdrDevices } from './adr-devices';
import { runAdrRotate } from './adr-rotate';
import { holdDeny, type IncidentDeps, lower, millis } from './deps';
import { disableEnrollment, disableGroup, disallowCa } from './dps-holds';
import { deleteRegistration } from './dps-records';
import { settledEach, untilDeadline } from './early-end';
import { deleteHubDevices, disableHubDevices } from './hub-devices';
import { runHubImportJob } from './hub-import-job';
import { DPS, unlessDown } from './outage-wait';
import { updateStep, walkPages } from './page-walker';
import { directDenyEntries, targetDenyEntries } from './rules/deny-entries';
import type { Incident } from './rules/model';
import type { Target } from './rules/resolution';
import type { StepState } from './rules/step-state';
import { dpsActionFor } from './rules/target-actions';

type Runner = (deps: IncidentDeps, incident: Incident, index: number, deadline: number) => Promise<boolean>;

const onHub = (hub: string) => (t: Target) => !!t.deviceId && lower(t.hub ?? '') === lower(hub);

/** An alert's refusals, once an admin approved them: the devices resolution found, page by page, then the rest. */
const runRefuse: Runner = (deps, incident, index, deadline) =>
  unlessDown(deps, incident, index, DPS, () => refuse(deps, incident, index, deadline));

const refuse: Runner = async (deps, incident, index, deadline) => {
  const walked = await walkPages(
    deps,
    incident,
    index,
    {
      matches: () => true,
      batch: Number.MAX_SAFE_INTEGER,
      act: async (targets) => {
        await holdDeny(deps, incident.id, targetDenyEntries(incident.request, targets));
        return [];
      },
    },
    deadline,
  );
  if (!walked) return false;
  const { caGroups, ca } = incident.resolution;
  await holdDeny(deps, incident.id, directDenyEntries(incident.request, caGroups, ca));
  if (ca) await disallowCa(deps, incident.id, ca);
  await updateStep(deps, incident.id, index, (s) => {
    s.done = s.total;
  });
  return true;
};

/** DPS's groups, then each device's enrollment or block; DPS unreachable is waited for. */
const runDps: Runner = (deps, incident, index, deadline) =>
  unlessDown(deps, incident, index, DPS, () => disableInDps(deps, incident, index, deadline));

const disableInDps: Runner = async (deps, started, index, deadline) => {
  let incident = started;
  let step = (incident.steps as StepState[])[index] as Extract<StepState, { kind: 'dps' }>;
  while (step.groupsDone < step.groupsToDisable.length) {
    if (millis(deps) >= deadline) return false;
    await disableGroup(deps, incident.id, step.groupsToDisable[step.groupsDone]);
    incident = await updateStep(deps, incident.id, index, (s) => {
      const d = s as typeof step;
      // Both from the checkpoint this share read, not from the stored step: a write applied twice counts once.
      d.groupsDone = step.groupsDone + 1;
      d.done = Math.min(d.total, step.done + 1);
    });
    step = (incident.steps as StepState[])[index] as typeof step;
  }
  const disabled = new Set(step.groupsToDisable.map(lower));
  return walkPages(
    deps,
    incident,
    index,
    {
      matches: (t) => !!dpsActionFor(t, disabled),
      batch: DPS_BATCH,
      act: async (targets) => {
        // One change per registration ID (compared as DPS compares them, without case), several at once: each is
        // held, written under its etag or created, and audited on its own (dps-holds.ts), so they do not meet.
        const actions = new Map<string, NonNullable<ReturnType<typeof dpsActionFor>>>();
        for (const t of targets) {
          const action = dpsActionFor(t, disabled);
          if (action && !actions.has(lower(action.registrationId))) actions.set(lower(action.registrationId), action);
        }
        await settledEach([...actions.values()], DPS_SINGLE_IN_FLIGHT, untilDeadline(deps, deadline), (action) =>
          disableEnrollment(deps, incident.id, action.registrationId, action.type === 'blockGroupDevice'),
        );
        return [];
      },
    },
    deadline,
  );
};

/** A hub's devices, in bulk or by an import job; a hub that stays unreachable is waited for (outage-wait.ts). */
const runHub: Runner = (deps, incident, index, deadline) => {
  const step = (incident.steps as StepState[])[index] as Extract<StepState, { kind: 'hub' }>;
  if (step.path === 'importJob')
    return unlessDown(deps, incident, index, step.hub, () => runHubImportJob(deps, incident, index, deadline));
  return unlessDown(deps, incident, index, step.hub, () =>
    walkPages(
      deps,
      incident,
      index,
      {
        matches: onHub(step.hub),
        batch: HUB_BATCH,
        act: (targets) => {
          const ids = targets.map((t) => t.deviceId as string);
          return step.action === 'delete'
            ? deleteHubDevices(deps, incident.id, step.hub, ids)
            : disableHubDevices(deps, incident.id, step.hub, ids);
        },
      },
      deadline,
    ),
  );
};

/**
 * Each contained device's DPS registration record deleted and audited, several at once (DPS deletes them one by one):
 * each record's delete judges its own lost answers (dps-records.ts), and the step checkpoints past a batch only once
 * every record of it is done; a batch cut short by a failure, DPS down or the deadline is done again from its start.
 */
const runRegistrations: Runner = (deps, incident, index, deadline) =>
  unlessDown(deps, incident, index, DPS, () =>
    walkPages(
      deps,
      incident,
      index,
      {
        matches: (t) => !!t.hub && !!t.deviceId,
        batch: REGISTRATION_BATCH,
        act: async (targets) => {
          // One delete per record (a registration ID compared without case, as DPS and the audit id compare it).
          const ids = [...new Map(targets.map((t) => [lower(t.registrationId), t.registrationId])).values()];
          await settledEach(ids, DPS_SINGLE_IN_FLIGHT, untilDeadline(deps, deadline), (id) =>
            deleteRegistration(deps, incident.id, id),
          );
          return [];
        },
      },
      deadline,
    ),
  );

export const RUNNERS: Record<StepState['kind'], Runner> = {
  refuse: runRefuse,
  dps: runDps,
  adrRotate: runAdrRotate,
  adrDevices: runAdrDevices,
  hub: runHub,
  registrations: runRegistrations,
};
