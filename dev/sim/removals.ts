/**
 * What the simulator counts of removals, so a test or a bench can say "removed once / left / twice" from the
 * services' side rather than from the backend's own records: every hub device delete it applies (REST, bulk, import
 * job, a re-provisioned device leaving its old hub) and every DPS registration record it deletes, per identity,
 * since the simulator started. A delete that finds nothing is not counted: it removed nothing.
 */
import type { HubData, SimState } from './state';

export function countRemoval(counts: Map<string, number>, id: string): void {
  const key = id.toLowerCase();
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

export interface RemovalTally {
  /** Removed exactly once and gone. */
  once: number;
  /** Removed more than once (gone or back again). */
  twice: number;
  /** Still there. */
  left: number;
  /** Gone, with no removal counted: never there, or removed before the counters started. */
  absent: number;
  /** The first few of each kind that is not `once`, for a message. */
  sample: { twice: string[]; left: string[]; absent: string[] };
}

const SAMPLE = 10;

function tally(items: Array<{ key: string; removed: number; present: boolean }>): RemovalTally {
  const result: RemovalTally = { once: 0, twice: 0, left: 0, absent: 0, sample: { twice: [], left: [], absent: [] } };
  const note = (kind: 'twice' | 'left' | 'absent', key: string) => {
    result[kind]++;
    if (result.sample[kind].length < SAMPLE) result.sample[kind].push(key);
  };
  for (const { key, removed, present } of items) {
    if (removed > 1) note('twice', key);
    else if (present) note('left', key);
    else if (removed === 1) result.once++;
    else note('absent', key);
  }
  return result;
}

/** How each of these hub devices fared: `hub` is a host name, `deviceId` as the hub knows it. */
export function tallyHubRemovals(state: SimState, devices: Array<{ hub: string; deviceId: string }>): RemovalTally {
  return tally(
    devices.map(({ hub, deviceId }) => {
      const data = state.hubs.get(hub.toLowerCase()) as HubData;
      const key = deviceId.toLowerCase();
      return { key: `${hub}/${deviceId}`, removed: data.removed.get(key) ?? 0, present: data.devices.has(key) };
    }),
  );
}

/** How each of these DPS registration records fared. */
export function tallyRegistrationRemovals(state: SimState, registrationIds: string[]): RemovalTally {
  return tally(
    registrationIds.map((id) => ({
      key: id,
      removed: state.registrationsRemoved.get(id.toLowerCase()) ?? 0,
      present: state.registrations.has(id.toLowerCase()),
    })),
  );
}
