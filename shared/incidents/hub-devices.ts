/**
 * A hub step's batch, in one bulk registry call: devices deleted (contain) or disabled under their etags
 * (quarantine, each held). Safe to send again: a lost answer's retry reads "not found" as deleted by the lost try,
 * and an etag mismatch as a reason to read the device again — disabled with this incident's reason is its own work
 * (rules/hub-answers.ts). Each device gets one audit record per step, under an id of its own, whether the change
 * was answered, lost, or made by a share that stopped before recording it.
 */
import { audit } from '../audit';
import type { HubDevice } from '../dps-types';
import { actorOf, dateOf, type IncidentDeps, lower, millis, onceFor } from './deps';
import { callsTo } from './outage-wait';
import { holdId } from './repositories';
import { disabledReason, judgeBulkAnswer, judgeDisabled } from './rules/hub-answers';

/** How often a device changed by another writer between our read and our disable is read and tried again. */
const DISABLE_ROUNDS = 3;

export async function deleteHubDevices(deps: IncidentDeps, incidentId: string, hubName: string, deviceIds: string[]) {
  const hub = (await deps.hubs()).hub(hubName);
  const calls = callsTo(deps, hubName);
  const result = await calls.call(() =>
    hub.bulkDevices(
      'delete',
      deviceIds.map((deviceId) => ({ deviceId })),
    ),
  );
  const verdicts = judgeBulkAnswer(deviceIds, result.errors, calls.answerLost());
  const store = await deps.store();
  const errors: string[] = [];
  await Promise.all(
    deviceIds.map((id) => {
      const verdict = verdicts.get(id.toLowerCase());
      if (verdict?.outcome === 'failed' || verdict?.outcome === 'recheck') {
        errors.push(`${hubName}/${id}: ${verdict.outcome === 'failed' ? verdict.reason : 'precondition failed'}`);
        return undefined;
      }
      // Absent: deleted by a try whose answer was lost, by a share that stopped before this record, or never there.
      const before =
        verdict?.outcome !== 'absent'
          ? { registered: true }
          : verdict.answerLost
            ? { registered: true, answerLost: true }
            : { registered: 'notFound' };
      return audit(
        store,
        {
          actor: actorOf(incidentId),
          action: 'deleteDevice',
          target: { kind: 'device', id, hub: hubName },
          before,
          after: { registered: false },
        },
        dateOf(deps),
        onceFor(deps, incidentId, lower(hubName), id, 'deleted'),
      );
    }),
  );
  return errors;
}

/** Hub devices disabled, each held first; answers the errors the hub gave. */
export async function disableHubDevices(deps: IncidentDeps, incidentId: string, hubName: string, deviceIds: string[]) {
  const hub = (await deps.hubs()).hub(hubName);
  const holds = await deps.holds();
  const reads = callsTo(deps, hubName);
  const found = (await Promise.all(deviceIds.map((id) => reads.call(() => hub.getDevice(id))))).filter(
    (d): d is HubDevice => !!d,
  );
  await Promise.all(
    found.map((d) =>
      holds.acquire(
        holdId.device(hubName, d.deviceId),
        incidentId,
        d.status !== 'disabled' ? { type: 'enableDevice', hub: hubName, deviceId: d.deviceId } : undefined,
        millis(deps),
      ),
    ),
  );
  const store = await deps.store();
  const record = (d: HubDevice) =>
    audit(
      store,
      {
        actor: actorOf(incidentId),
        action: 'disableDevice',
        target: { kind: 'device', id: d.deviceId, hub: hubName },
        before: { status: 'enabled' },
        after: { status: 'disabled' },
      },
      dateOf(deps),
      onceFor(deps, incidentId, lower(hubName), d.deviceId, 'disabled'),
    );
  // Disabled by this incident already (a share that stopped before its records): recorded now, once.
  await Promise.all(found.filter((d) => judgeDisabled(d, incidentId) === 'ours').map(record));
  const errors: string[] = [];
  let pending = found.filter((d) => d.status !== 'disabled');
  for (let round = 0; pending.length && round < DISABLE_ROUNDS; round++) {
    const batch = pending;
    const calls = callsTo(deps, hubName);
    const result = await calls.call(() =>
      hub.bulkDevices(
        'updateIfMatchETag',
        batch.map((d) => ({ ...d, status: 'disabled', statusReason: disabledReason(incidentId) })),
      ),
    );
    const verdicts = judgeBulkAnswer(
      batch.map((d) => d.deviceId),
      result.errors,
      calls.answerLost(),
    );
    pending = [];
    for (const d of batch) {
      const verdict = verdicts.get(d.deviceId.toLowerCase());
      if (verdict?.outcome === 'applied') await record(d);
      else if (verdict?.outcome === 'failed') errors.push(`${hubName}/${d.deviceId}: ${verdict.reason}`);
      else {
        // The etag moved (our own lost disable, or another writer), or the device is gone: read it and judge.
        const fresh = await reads.call(() => hub.getDevice(d.deviceId));
        const now = judgeDisabled(fresh, incidentId);
        if (now === 'ours') await record(d);
        else if (now === 'enabled') pending.push(fresh as HubDevice);
      }
    }
  }
  for (const d of pending)
    errors.push(
      `${hubName}/${d.deviceId}: changed by another writer ${DISABLE_ROUNDS} times while it was being disabled`,
    );
  return errors;
}
