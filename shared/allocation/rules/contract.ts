/**
 * DPS's custom allocation contract ("Understand custom allocation policies"): the AllocationRequest DPS POSTs and
 * the AllocationResponse it expects. Parsing is strict about what the decision needs and gives a reason DPS
 * shows the operator when it is missing (a 400, never a 500).
 */
import type { EnrollmentGroup, IndividualEnrollment, TwinState, X509CertificateInfo } from '../../dps-types';
import { requestProblem } from './request-validation';
import { readX509Context, type X509Shape } from './x509-context';

export interface DeviceRuntimeContext {
  registrationId: string;
  currentIotHubHostName?: string;
  currentDeviceId?: string;
  /** The device certificate, read from whichever shape DPS sent (x509-context.ts). */
  x509?: Partial<X509CertificateInfo>;
  /** The CA certificate of the group that verified the device's chain (`signingCertificateInfo`), when DPS says. */
  x509Signer?: Partial<X509CertificateInfo>;
  /** DPS sent a certificate context this webhook cannot read: why. Revocation by certificate cannot be checked. */
  x509Unreadable?: string;
  /** Which shape the certificate came in, for the logs. */
  x509Shape?: X509Shape;
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

/**
 * A property read with exactly the spelling the schema (request-schema.ts) validates: a case-insensitive read could
 * pick up a key the schema never checked (`EnrollmentGroup: {}` beside a valid body) and fail later as a 500.
 */
const prop = (obj: Record<string, unknown>, name: string): unknown =>
  Object.prototype.hasOwnProperty.call(obj, name) ? obj[name] : undefined;

/** The hub DPS assigned before; older docs spell it `currentIoTHubHostName`, and the schema validates both spellings. */
const currentHub = (ctx: Record<string, unknown>): unknown =>
  prop(ctx, 'currentIotHubHostName') ?? prop(ctx, 'currentIoTHubHostName');

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
  // Everything else the decision reads, typed and capped: a 400 that names the path, never a TypeError later.
  const problem = requestProblem(body);
  if (problem) return { ok: false, reason: problem };
  const current = currentHub(ctx);
  const currentDeviceId = prop(ctx, 'currentDeviceId');
  const x509 = readX509Context(prop(ctx, 'x509'));
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
        x509: x509.kind === 'read' ? x509.info : undefined,
        x509Signer: x509.kind === 'read' ? x509.signer : undefined,
        x509Shape: x509.kind === 'read' ? x509.shape : undefined,
        x509Unreadable: x509.kind === 'unreadable' ? x509.reason : undefined,
      } as DeviceRuntimeContext,
      linkedHubs: linkedHubs as string[],
    },
  };
}
