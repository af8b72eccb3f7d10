/**
 * DPS's custom allocation contract ("Understand custom allocation policies"): the AllocationRequest DPS POSTs and
 * the AllocationResponse it expects. Parsing is strict about what the decision needs and gives a reason DPS
 * shows the operator when it is missing (a 400, never a 500).
 */
import type { EnrollmentGroup, IndividualEnrollment, TwinState } from '../dps-types';

export interface DeviceRuntimeContext {
  registrationId: string;
  currentIotHubHostName?: string;
  currentDeviceId?: string;
  x509?: Record<string, unknown>;
  symmetricKey?: Record<string, unknown>;
  tpm?: { endorsementKey?: string; storageRootKey?: string };
  payload?: unknown;
}

export interface AllocationRequest {
  individualEnrollment?: IndividualEnrollment;
  enrollmentGroup?: EnrollmentGroup;
  deviceRuntimeContext: DeviceRuntimeContext;
  linkedHubs: string[];
}

export interface AllocationResponse {
  iotHubHostName: string;
  initialTwin?: TwinState;
  payload?: unknown;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a property case-insensitively: older docs spell `currentIoTHubHostName`. */
function prop(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
}

export function parseAllocationRequest(body: unknown): Parsed<AllocationRequest> {
  if (!isObject(body)) return { ok: false, reason: 'The body must be a JSON object (DPS AllocationRequest).' };
  const ctx = prop(body, 'deviceRuntimeContext');
  if (!isObject(ctx)) return { ok: false, reason: 'deviceRuntimeContext is missing.' };
  const registrationId = prop(ctx, 'registrationId');
  if (typeof registrationId !== 'string' || registrationId.trim() === '')
    return { ok: false, reason: 'deviceRuntimeContext.registrationId is missing.' };
  const linkedHubs = prop(body, 'linkedHubs');
  if (!Array.isArray(linkedHubs) || linkedHubs.length === 0)
    return { ok: false, reason: 'linkedHubs is missing or empty: there is no IoT hub to choose from.' };
  if (!linkedHubs.every((h) => typeof h === 'string' && h !== ''))
    return { ok: false, reason: 'linkedHubs must hold IoT hub host names.' };
  const individualEnrollment = prop(body, 'individualEnrollment');
  const enrollmentGroup = prop(body, 'enrollmentGroup');
  if (!isObject(individualEnrollment) && !isObject(enrollmentGroup))
    return { ok: false, reason: 'Neither individualEnrollment nor enrollmentGroup is present.' };
  const current = prop(ctx, 'currentIotHubHostName');
  const currentDeviceId = prop(ctx, 'currentDeviceId');
  return {
    ok: true,
    value: {
      individualEnrollment: isObject(individualEnrollment)
        ? (individualEnrollment as unknown as IndividualEnrollment)
        : undefined,
      enrollmentGroup: isObject(enrollmentGroup) ? (enrollmentGroup as unknown as EnrollmentGroup) : undefined,
      deviceRuntimeContext: {
        ...(ctx as object),
        registrationId,
        currentIotHubHostName: typeof current === 'string' && current !== '' ? current : undefined,
        currentDeviceId: typeof currentDeviceId === 'string' ? currentDeviceId : undefined,
      } as DeviceRuntimeContext,
      linkedHubs: linkedHubs as string[],
    },
  };
}
