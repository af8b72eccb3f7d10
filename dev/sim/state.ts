/** The simulator's memory: what DPS and each IoT hub hold. Maps are keyed by lower-cased ids (both services compare ids case-insensitively). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

import type {
  DeviceRegistrationState,
  EnrollmentGroup,
  HubDevice,
  HubTwin,
  IndividualEnrollment,
} from '../../shared/dps-types';

export interface RegistrationRecord extends DeviceRegistrationState {
  /** Which enrollment the device came through, for the per-group registration query and containment. */
  enrollmentGroupId?: string;
}

/**
 * Told of every change the registry makes, whatever made it (REST, bulk, import job, DPS), so that the hub's device
 * endpoint (hub-mqtt.ts) can follow: disconnect a device that was disabled or deleted, push desired properties.
 */
export interface HubWatch {
  /** After a device was stored (`device`) or deleted (undefined). */
  device(deviceId: string, device: HubDevice | undefined): void;
  /** After the service patched a twin's desired properties with `patch`. */
  desired(deviceId: string, patch: Record<string, unknown>): void;
}

export interface HubData {
  devices: Map<string, HubDevice>;
  twins: Map<string, HubTwin>;
  watch?: HubWatch;
  /** Deletes applied per device (lower-cased ID) since start, by whatever made them: see removals.ts. */
  removed: Map<string, number>;
}

export interface SimState {
  enrollments: Map<string, IndividualEnrollment>;
  groups: Map<string, EnrollmentGroup>;
  registrations: Map<string, RegistrationRecord>;
  hubs: Map<string, HubData>;
  /** Registration records deleted per registration ID (lower-cased) since start: see removals.ts. */
  registrationsRemoved: Map<string, number>;
}

export function emptyState(hostNames: string[]): SimState {
  return {
    enrollments: new Map(),
    groups: new Map(),
    registrations: new Map(),
    hubs: new Map(
      hostNames.map((h) => [h.toLowerCase(), { devices: new Map(), twins: new Map(), removed: new Map() }]),
    ),
    registrationsRemoved: new Map(),
  };
}

type Snapshot = {
  enrollments: [string, IndividualEnrollment][];
  groups: [string, EnrollmentGroup][];
  registrations: [string, RegistrationRecord][];
  hubs: [string, { devices: [string, HubDevice][]; twins: [string, HubTwin][] }][];
};

export function saveState(state: SimState, file: string): void {
  const snapshot: Snapshot = {
    enrollments: [...state.enrollments],
    groups: [...state.groups],
    registrations: [...state.registrations],
    hubs: [...state.hubs].map(([h, d]) => [h, { devices: [...d.devices], twins: [...d.twins] }]),
  };
  writeFileSync(file, JSON.stringify(snapshot));
}

/** Loads a snapshot into `state`; hubs no longer configured are dropped. */
export function loadState(state: SimState, file: string): boolean {
  if (!existsSync(file)) return false;
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  snapshot.enrollments.forEach(([k, v]) => state.enrollments.set(k, v));
  snapshot.groups.forEach(([k, v]) => state.groups.set(k, v));
  snapshot.registrations.forEach(([k, v]) => state.registrations.set(k, v));
  for (const [host, data] of snapshot.hubs) {
    const hub = state.hubs.get(host);
    if (!hub) continue;
    data.devices.forEach(([k, v]) => hub.devices.set(k, v));
    data.twins.forEach(([k, v]) => hub.twins.set(k, v));
  }
  return true;
}

/** One page of `items` after the opaque `continuation`, as both services page their queries. */
export function pageOf<T>(
  items: T[],
  maxItemCount: string | undefined,
  continuation: string | undefined,
): { page: T[]; next?: string } {
  const size = Math.max(1, Math.min(Number(maxItemCount) || 100, 1000));
  const start = continuation ? Number(Buffer.from(continuation, 'base64').toString('utf8')) || 0 : 0;
  const page = items.slice(start, start + size);
  const end = start + page.length;
  return { page, next: end < items.length ? Buffer.from(String(end)).toString('base64') : undefined };
}
