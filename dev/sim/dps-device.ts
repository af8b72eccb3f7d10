/**
 * The device side of DPS (api-version 2019-03-31), which `azure-iot-provisioning-device-http` calls:
 * `PUT /{idScope}/registrations/{registrationId}/register` and operation-status polling. Who the device is comes from
 * attestation.ts (SAS, TLS client certificate, TPM challenge). Allocation follows the enrollment's policy; `custom`
 * calls the enrollment's webhook as DPS does (custom-allocation.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';

import type { DeviceRegistrationState, HubDevice } from '../../shared/dps-types';
import { type AdrPolicyRef, IssuanceProblem, type LocalAdr } from './adr';
import { knowsIssuance, policyOf } from './adr-link';
import { checkCsr, CsrProblem } from './adr-pki';
import {
  admittedBy,
  attest,
  type AttestationContext,
  type Attested,
  type DeviceCredentials,
  presentedChain,
} from './attestation';
import { type Allocation, callWebhook, enrollmentForWebhook, type WebhookRetry } from './custom-allocation';
import { deleteDevice, storeDevice } from './iothub';
import type { HubData, RegistrationRecord } from './state';
import { tpmChallenge, tpmHubIdentity } from './tpm-attestation';
import { header, HttpError, newEtag, readJson, sendJson } from './wire';

export type { DeviceCredentials } from './attestation';
export { presentedChain } from './attestation';
export type { WebhookRetry } from './custom-allocation';

export interface DeviceSideContext extends AttestationContext {
  /** The local ADR: the policies enrollments name, and the registry devices of their namespaces. */
  adr: LocalAdr;
  linkedHubs: () => string[];
  hub: (hostName: string) => HubData | undefined;
  chargeRegistration: () => void;
  /** DPS's per-device polling limit; throws 429 with Retry-After when spent. Polls are not billed operations. */
  chargePoll: (registrationId: string) => void;
  /** Retry-After (seconds) DPS sends while a registration is assigning. */
  pollAfterSeconds: number;
  webhook: { timeoutMs: number; retry: WebhookRetry };
  changed: () => void;
}

interface Operation {
  registrationId: string;
  done?: { status: DeviceRegistrationState['status']; registrationState: DeviceRegistrationState };
}

const operations = new Map<string, Operation>();

/** Rendezvous hashing, as a stand-in for DPS's "evenly weighted distribution". */
function hashed(registrationId: string, hubs: string[]): string {
  const score = (hub: string) =>
    createHash('sha256').update(`${hub.toLowerCase()}|${registrationId.toLowerCase()}`).digest().readUInt32BE(0);
  return [...hubs].sort((a, b) => score(b) - score(a))[0];
}

async function allocate(
  ctx: DeviceSideContext,
  attested: Attested,
  registrationId: string,
  devicePayload: unknown,
  issuance?: { policy: AdrPolicyRef; csr: string },
): Promise<Operation['done']> {
  const { source } = attested;
  const enrollment = source.individual ?? source.group;
  const key = registrationId.toLowerCase();
  const existing = ctx.state.registrations.get(key);
  const now = new Date().toISOString();
  const record = (fields: Partial<RegistrationRecord> & Pick<RegistrationRecord, 'status'>): Operation['done'] => {
    const state: RegistrationRecord = {
      registrationId,
      createdDateTimeUtc: existing?.createdDateTimeUtc ?? now,
      lastUpdatedDateTimeUtc: now,
      etag: newEtag(),
      enrollmentGroupId: source.group?.enrollmentGroupId,
      ...fields,
    };
    ctx.state.registrations.set(key, state);
    ctx.changed();
    const { enrollmentGroupId: _g, ...registrationState } = state;
    return { status: state.status, registrationState };
  };

  // DPS checks individual enrollments before groups: a disabled one under this ID shuts the device out; so does a
  // disabled entry holding a certificate of the device's chain (attestation.ts).
  const blocking = ctx.state.enrollments.get(key);
  if (
    blocking?.provisioningStatus === 'disabled' ||
    enrollment.provisioningStatus === 'disabled' ||
    attested.disallowedBy
  ) {
    return record({ status: 'disabled', assignedHub: existing?.assignedHub, deviceId: existing?.deviceId });
  }

  const deviceIdOf = source.individual?.deviceId || registrationId;
  // A device provisioned through an enrollment that names an ADR policy is registered in its namespace; a disabled
  // registry device "cannot … reprovision" (RegistryDevicePropertiesBase.enablementState).
  const linkedPolicy = policyOf(enrollment);
  if (linkedPolicy && ctx.adr.admitDevice(linkedPolicy.namespaceName, deviceIdOf) === 'Disabled')
    return record({ status: 'disabled', assignedHub: existing?.assignedHub, deviceId: existing?.deviceId });

  const allLinked = ctx.linkedHubs();
  let linked = enrollment.iotHubs?.length ? enrollment.iotHubs : allLinked;
  const policy = enrollment.reprovisionPolicy ?? {};
  const current = existing?.status === 'assigned' ? existing.assignedHub : undefined;
  if (current && policy.updateHubAssignment === false) linked = [current];
  const deviceId = source.individual?.deviceId || registrationId;

  let allocation: Allocation;
  if (enrollment.allocationPolicy === 'custom') {
    const runtime: Record<string, unknown> = { registrationId, ...attested.runtime };
    if (current) Object.assign(runtime, { currentIotHubHostName: current, currentDeviceId: existing?.deviceId });
    if (devicePayload !== undefined) runtime.payload = devicePayload;
    const request = {
      [source.individual ? 'individualEnrollment' : 'enrollmentGroup']: enrollmentForWebhook(enrollment),
      deviceRuntimeContext: runtime,
      linkedHubs: linked,
    };
    allocation = await callWebhook(ctx, source, request, linked);
  } else if (current && policy.updateHubAssignment === false) {
    allocation = { hub: current };
  } else if (enrollment.allocationPolicy === 'static') {
    allocation = { hub: enrollment.iotHubHostName ?? linked[0] };
  } else {
    allocation = { hub: hashed(registrationId, linked) };
  }
  if (allocation.error || !allocation.hub)
    return record({
      status: 'failed',
      ...(allocation.error ?? { errorCode: 400207, errorMessage: 'No IoT hub could be chosen.' }),
    });

  const target = ctx.hub(allocation.hub);
  if (!target)
    return record({ status: 'failed', errorCode: 400207, errorMessage: `IoT hub ${allocation.hub} is not linked.` });
  // The policy's issuing CA signs before the hub identity is made: a policy that cannot issue leaves no identity behind.
  let chain: Buffer[] | undefined;
  if (issuance) {
    try {
      chain = await ctx.adr.issue(issuance.policy, issuance.csr, registrationId);
    } catch (err) {
      if (!(err instanceof IssuanceProblem || err instanceof CsrProblem)) throw err;
      return record({ status: 'failed', errorCode: 400004, errorMessage: err.message });
    }
  }
  const initialTwin = allocation.initialTwin ?? enrollment.initialTwin;
  const moved = !!current && current.toLowerCase() !== allocation.hub.toLowerCase();
  const previous = moved ? ctx.hub(current)?.twins.get(deviceId.toLowerCase()) : undefined;
  const reset = !current || (moved && policy.migrateDeviceData === false);
  const tpmIdentity = attested.tpm && tpmHubIdentity(attested.tpm, `${allocation.hub}/devices/${deviceId}`);
  storeDevice(
    target,
    {
      deviceId,
      authentication: chain ? CA_AUTHENTICATION : (tpmIdentity?.authentication ?? attested.auth),
      capabilities: enrollment.capabilities,
    },
    target.devices.get(deviceId.toLowerCase()),
  );
  const twin = target.twins.get(deviceId.toLowerCase());
  if (twin) {
    const base = reset ? initialTwin : moved ? previous : undefined;
    if (base)
      target.twins.set(deviceId.toLowerCase(), {
        ...twin,
        etag: newEtag(),
        tags: { ...(base.tags ?? {}) },
        properties: { desired: { ...(base.properties?.desired ?? {}) }, reported: {} },
      });
  }
  // DPS's published substatus: a device provisioned again to the hub it had is `reprovisionedToInitialAssignment`;
  // one moved is `deviceDataMigrated` or `deviceDataReset`, and its identity leaves the old hub.
  if (moved) {
    const old = ctx.hub(current);
    if (old) deleteDevice(old, existing?.deviceId ?? deviceId);
  }
  const substatus = !current
    ? 'initialAssignment'
    : !moved
      ? 'reprovisionedToInitialAssignment'
      : policy.migrateDeviceData !== false
        ? 'deviceDataMigrated'
        : 'deviceDataReset';
  const done = record({
    status: 'assigned',
    substatus,
    assignedHub: allocation.hub,
    deviceId,
    payload: allocation.payload,
  });
  // Only the device sees these, in its own answer: the service API's registration state has neither.
  if (done) Object.assign(done.registrationState, admittedBy(attested));
  if (done && tpmIdentity) done.registrationState.tpm = { authenticationKey: tpmIdentity.authenticationKey };
  // The chain goes to the device in this answer only: the status lookup and the service API never show it.
  if (done && chain)
    Object.assign(done.registrationState, { issuedCertificateChain: chain.map((c) => c.toString('base64')) });
  return done;
}

/**
 * How a device with an issued certificate exists on its hub: authenticated by the CA that issued its certificate, which
 * the hub trusts through ADR's credential sync (concept-certificate-issuance, "IoT Hub trust and credential sync"); no
 * thumbprint is pinned, since the certificate changes at every renewal. Inferred from Microsoft's pages, not verified
 * against a hub.
 */
const CA_AUTHENTICATION: HubDevice['authentication'] = {
  type: 'certificateAuthority',
  symmetricKey: { primaryKey: null, secondaryKey: null },
  x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
};

/** A device API answer, whatever carries it (HTTP response, MQTT `$dps/registrations/res/{status}` message). */
export interface DeviceAnswer {
  status: number;
  body: unknown;
  retryAfterSeconds?: number;
}

/** The body of a register call (DeviceRegistration in the published device API). */
export interface RegisterBody {
  registrationId?: string;
  payload?: unknown;
  tpm?: { endorsementKey?: unknown; storageRootKey?: unknown };
  /** 2026-11-01: base64 DER PKCS#10, CN = the registration ID, for an operational certificate. */
  csr?: unknown;
}

/** Refusals of a request, before any registration starts. */
const badRequest = (message: string) => new HttpError(400, 400004, message);

/** `PUT …/register` (HTTP) or `$dps/registrations/PUT/iotdps-register` (MQTT): starts the registration. */
export async function startRegistration(
  ctx: DeviceSideContext,
  credentials: DeviceCredentials,
  registrationId: string,
  body: RegisterBody | undefined,
  apiVersion: string | null,
): Promise<DeviceAnswer> {
  ctx.chargeRegistration();
  if (body?.registrationId?.toLowerCase() !== registrationId.toLowerCase())
    throw new HttpError(400, 400004, 'The body registrationId must match the URL.');
  if (body.tpm !== undefined && (typeof body.tpm !== 'object' || body.tpm === null))
    throw new HttpError(400, 400004, 'tpm must be an object with endorsementKey and storageRootKey.');
  if (body.tpm && !credentials.sas) return tpmChallenge(ctx, registrationId, body.tpm);
  if (body.csr !== undefined && !knowsIssuance(apiVersion))
    throw badRequest(`csr is not part of DeviceRegistration in api-version ${apiVersion}: use 2026-11-01.`);
  const attested = attest(ctx, credentials, registrationId);
  let issuance: { policy: AdrPolicyRef; csr: string } | undefined;
  if (body.csr !== undefined) {
    // Assumed (DPS documents no code): both refusals are a 400 at once, before the registration starts.
    const policy = policyOf(attested.source.individual ?? attested.source.group);
    if (!policy)
      throw badRequest('A csr needs an enrollment that names an ADR certificate policy; this one names none.');
    try {
      await checkCsr(body.csr as string, registrationId);
    } catch (err) {
      if (err instanceof CsrProblem) throw badRequest(err.message);
      throw err;
    }
    issuance = { policy, csr: body.csr as string };
  }
  const id = `4.${randomUUID().replace(/-/g, '').slice(0, 16)}.${randomUUID()}`;
  const op: Operation = { registrationId };
  operations.set(id, op);
  void allocate(ctx, attested, registrationId, body.payload, issuance).then(
    (done) => {
      op.done = done;
    },
    (err) => {
      op.done = {
        status: 'failed',
        registrationState: { registrationId, status: 'failed', errorCode: 500000, errorMessage: String(err) },
      };
    },
  );
  return { status: 202, body: { operationId: id, status: 'assigning' }, retryAfterSeconds: ctx.pollAfterSeconds };
}

/** `GET …/operations/{id}` (HTTP) or `$dps/registrations/GET/iotdps-get-operationstatus` (MQTT). */
export function operationStatus(
  ctx: DeviceSideContext,
  credentials: DeviceCredentials,
  registrationId: string,
  operationId: string,
): DeviceAnswer {
  attest(ctx, credentials, registrationId);
  ctx.chargePoll(registrationId);
  const op = operations.get(operationId);
  if (!op || op.registrationId.toLowerCase() !== registrationId.toLowerCase())
    throw new HttpError(404, 404203, `Operation ${operationId} not found.`);
  if (!op.done)
    return { status: 202, body: { operationId, status: 'assigning' }, retryAfterSeconds: ctx.pollAfterSeconds };
  operations.delete(operationId);
  return { status: 200, body: { operationId, status: op.done.status, registrationState: op.done.registrationState } };
}

/** `POST /{idScope}/registrations/{registrationId}` (DeviceRegistrationStatusLookup): the device's own registration. */
export function registrationStatus(
  ctx: DeviceSideContext,
  credentials: DeviceCredentials,
  registrationId: string,
  body: RegisterBody | undefined,
): DeviceAnswer {
  // device.json 2026-11-01: "Including this field in the RuntimeRegistration_DeviceRegistrationStatusLookup operation
  // will result in a bad request."
  if (body?.csr !== undefined) throw badRequest('csr is not taken by the registration status lookup.');
  attest(ctx, credentials, registrationId);
  const record = ctx.state.registrations.get(registrationId.toLowerCase());
  if (!record) throw new HttpError(404, 404201, `No registration for ${registrationId}.`);
  const { enrollmentGroupId: _g, ...registrationState } = record;
  return { status: 200, body: registrationState };
}

export async function handleDeviceSide(
  ctx: DeviceSideContext,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
): Promise<boolean> {
  const [idScope, registrations, registrationId, verb, operationId] = segments;
  if (registrations?.toLowerCase() !== 'registrations' || !registrationId) return false;
  if (idScope !== ctx.idScope) throw new HttpError(401, 401002, `Unknown ID scope ${idScope}.`);
  const credentials = { sas: header(req, 'authorization'), chain: presentedChain(req.socket as TLSSocket) };
  const apiVersion = new URL(req.url ?? '/', 'https://x').searchParams.get('api-version');
  try {
    return await route(ctx, req, res, registrationId, operationId, verb, credentials, apiVersion);
  } catch (err) {
    // 2026-11-01 publishes `x-ms-error-code` on every error answer; its values are not published (the numeric code, assumed).
    if (err instanceof HttpError && knowsIssuance(apiVersion)) err.headers['x-ms-error-code'] = String(err.code);
    throw err;
  }
}

async function route(
  ctx: DeviceSideContext,
  req: IncomingMessage,
  res: ServerResponse,
  registrationId: string,
  operationId: string | undefined,
  verb: string | undefined,
  credentials: DeviceCredentials,
  apiVersion: string | null,
): Promise<boolean> {
  const send = (a: DeviceAnswer) =>
    sendJson(res, a.status, a.body, a.retryAfterSeconds ? { 'retry-after': String(a.retryAfterSeconds) } : {});

  if (req.method === 'PUT' && verb === 'register' && operationId === undefined) {
    const body = await readJson<RegisterBody>(req);
    send(await startRegistration(ctx, credentials, registrationId, body, apiVersion));
    return true;
  }
  if (req.method === 'GET' && verb === 'operations' && operationId) {
    send(operationStatus(ctx, credentials, registrationId, operationId));
    return true;
  }
  if (req.method === 'POST' && verb === undefined) {
    send(registrationStatus(ctx, credentials, registrationId, await readJson<RegisterBody>(req)));
    return true;
  }
  return false;
}
