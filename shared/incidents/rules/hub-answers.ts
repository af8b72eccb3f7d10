/**
 * Reading IoT Hub's per-device answers to a bulk registry call (pure). A bulk call whose answer was lost is sent
 * again, so its answer may speak of our own earlier try: a device "not found" on a delete was deleted by it (or was
 * never there), an etag that no longer matches on an update-if-match may be our own disable having landed — which
 * only a fresh read can tell. Codes come as names (`DeviceNotFound`) or numbers (`404001`); both are read.
 */
import type { HubBulkResult, HubDevice } from '../../dps-types';

export type DeviceVerdict =
  /** This call did it. */
  | { outcome: 'applied' }
  /** Not on the hub: removed by an earlier try whose answer was lost (`answerLost`), or not there at all. */
  | { outcome: 'absent'; answerLost: boolean }
  /** The etag did not match: read the device again and judge it (`judgeDisabled`). */
  | { outcome: 'recheck' }
  | { outcome: 'failed'; reason: string };

const NOT_FOUND = new Set(['devicenotfound', '404001']);
const PRECONDITION = new Set(['preconditionfailed', '412001']);

/**
 * Each device of the batch, by its lower-cased ID. `answerLost`: an earlier try of this same call lost its answer,
 * so a device now "not found" was most likely removed by it. An error about a device not in the batch is ignored.
 */
export function judgeBulkAnswer(
  deviceIds: string[],
  errors: HubBulkResult['errors'],
  answerLost: boolean,
): Map<string, DeviceVerdict> {
  const byId = new Map(errors.map((e) => [String(e.deviceId).toLowerCase(), e]));
  return new Map(
    deviceIds.map((id): [string, DeviceVerdict] => {
      const key = id.toLowerCase();
      const error = byId.get(key);
      if (!error) return [key, { outcome: 'applied' }];
      const code = String(error.errorCode).toLowerCase();
      if (NOT_FOUND.has(code)) return [key, { outcome: 'absent', answerLost }];
      if (PRECONDITION.has(code)) return [key, { outcome: 'recheck' }];
      return [key, { outcome: 'failed', reason: `${error.errorCode} ${error.errorStatus ?? ''}`.trim() }];
    }),
  );
}

/** The status reason an incident writes on what it disables: how a later read tells its own disable from others'. */
export const disabledReason = (incidentId: string) => `incident ${incidentId}`;

export type DisabledVerdict =
  /** Disabled by this incident (this try, a lost answer's, or a share that stopped before its audit). */
  | 'ours'
  /** Deleted meanwhile: nothing left to disable. */
  | 'gone'
  /** Disabled, but not by this incident: its hold keeps it disabled; nothing of this incident's to record. */
  | 'disabledByOther'
  /** Still enabled (changed by another writer since it was read): try again with this fresh read. */
  | 'enabled';

export function judgeDisabled(device: HubDevice | undefined, incidentId: string): DisabledVerdict {
  if (!device) return 'gone';
  if (device.status !== 'disabled') return 'enabled';
  return device.statusReason === disabledReason(incidentId) ? 'ours' : 'disabledByOther';
}
