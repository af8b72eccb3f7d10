/**
 * The steps of an approved incident, each resumable: an alert's refusals (every device found, then its groups and
 * CA), DPS (groups, then each device's enrollment or block), Azure Device Registry (adr-rotate.ts, adr-devices.ts), each
 * hub's registrations disabled or deleted (in bulk, or by an import job: hub-import-job.ts), and — when containing —
 * the DPS registration records.
 */
import { audit } from '../audit';
import { NotFoundError } from '../errors';
import { DPS_BATCH, HUB_BATCH } from '../limits';
import { runAdrDevices } from './adr-devices';
import { runAdrRotate } from './adr-rotate';
import { actorOf, dateOf, holdDeny, type IncidentDeps, lower, millis, withRetry } from './deps';
import { disableEnrollment, disableGroup, disableHubDevices, disallowCa } from './holds';
import { runHubImportJob } from './hub-import-job';
import { updateStep, walkPages } from './page-walker';
import type { Incident, StepState, Target } from './rules/model';
import { directDenyEntries, dpsActionFor, targetDenyEntries } from './rules/plan';

type Runner = (deps: IncidentDeps, incident: Incident, index: number, deadline: number) => Promise<boolean>;

const onHub = (hub: string) => (t: Target) => !!t.deviceId && lower(t.hub ?? '') === lower(hub);

/** An alert's refusals, once an admin approved them: the devices resolution found, page by page, then the rest. */
const runRefuse: Runner = async (deps, incident, index, deadline) => {
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

const runDps: Runner = async (deps, incident, index, deadline) => {
  let step = (incident.steps as StepState[])[index] as Extract<StepState, { kind: 'dps' }>;
  while (step.groupsDone < step.groupsToDisable.length) {
    if (millis(deps) >= deadline) return false;
    await disableGroup(deps, incident.id, step.groupsToDisable[step.groupsDone]);
    const updated = await updateStep(deps, incident.id, index, (s) => {
      const d = s as typeof step;
      d.groupsDone = step.groupsDone + 1;
      d.done = Math.min(d.total, d.done + 1);
    });
    step = (updated.steps as StepState[])[index] as typeof step;
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
        for (const t of targets) {
          const action = dpsActionFor(t, disabled);
          if (action)
            await disableEnrollment(deps, incident.id, action.registrationId, action.type === 'blockGroupDevice');
        }
        return [];
      },
    },
    deadline,
  );
};

async function deleteHubDevices(deps: IncidentDeps, incidentId: string, hubName: string, deviceIds: string[]) {
  const hub = (await deps.hubs()).hub(hubName);
  const result = await withRetry(deps)(() =>
    hub.bulkDevices(
      'delete',
      deviceIds.map((deviceId) => ({ deviceId })),
    ),
  );
  // Each device of the batch gets exactly one audit record, under an id of its own: a batch replayed after a crash
  // (between the delete and its audit) records the devices it finds gone then, and nothing twice.
  const failed = new Map(result.errors.map((e) => [lower(e.deviceId), e.errorCode]));
  const store = await deps.store();
  await Promise.all(
    deviceIds
      .filter((id) => !failed.has(lower(id)) || failed.get(lower(id)) === 'DeviceNotFound')
      .map((id) =>
        audit(
          store,
          {
            actor: actorOf(incidentId),
            action: 'deleteDevice',
            target: { kind: 'device', id, hub: hubName },
            // Not found: deleted by an earlier attempt of this batch, or gone before the incident reached it.
            before: { registered: failed.has(lower(id)) ? 'notFound' : true },
            after: { registered: false },
          },
          dateOf(deps),
          `${incidentId}.${lower(hubName)}.${lower(id)}.deleted`,
        ),
      ),
  );
  return result.errors
    .filter((e) => e.errorCode !== 'DeviceNotFound')
    .map((e) => `${hubName}/${e.deviceId}: ${e.errorCode} ${e.errorStatus}`);
}

const runHub: Runner = async (deps, incident, index, deadline) => {
  const step = (incident.steps as StepState[])[index] as Extract<StepState, { kind: 'hub' }>;
  if (step.path === 'importJob') return runHubImportJob(deps, incident, index, deadline);
  return walkPages(
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
  );
};

const runRegistrations: Runner = (deps, incident, index, deadline) =>
  walkPages(
    deps,
    incident,
    index,
    {
      matches: (t) => !!t.hub && !!t.deviceId,
      batch: DPS_BATCH,
      act: async (targets) => {
        const dps = await deps.enrollments();
        for (const t of targets)
          await withRetry(deps)(() => dps.deleteRegistrationState(t.registrationId)).catch((err) => {
            if (!(err instanceof NotFoundError)) throw err;
          });
        return [];
      },
    },
    deadline,
  );

export const RUNNERS: Record<StepState['kind'], Runner> = {
  refuse: runRefuse,
  dps: runDps,
  adrRotate: runAdrRotate,
  adrDevices: runAdrDevices,
  hub: runHub,
  registrations: runRegistrations,
};
