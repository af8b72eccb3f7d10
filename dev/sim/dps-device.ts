/**
 * The device side of DPS (api-version 2019-03-31), which `azure-iot-provisioning-device-http` calls:
 * `PUT /{idScope}/registrations/{registrationId}/register` and operation-status polling. Who the device is comes from
 * attestation.ts (SAS, TLS client certificate, TPM challenge); what DPS then does with it, from the hub it picks to
 * the registration record, is dps-allocation.ts.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';

import { type AdrPolicyRef } from './adr';
import { knowsIssuance, policyOf } from './adr-link';
import { checkCsr, CsrProblem } from './adr-pki';
import { attest, type DeviceCredentials, presentedChain } from './attestation';
import { allocate, type AllocationContext, type Registered } from './dps-allocation';
import { tpmChallenge } from './tpm-attestation';
import { header, HttpError, readJson, sendJson } from './wire';

export type { DeviceCredentials } from './attestation';
export { presentedChain } from './attestation';
export type { WebhookRetry } from './custom-allocation';

export interface DeviceSideContext extends AllocationContext {
  chargeRegistration: () => void;
  /** DPS's per-device polling limit; throws 429 with Retry-After when spent. Polls are not billed operations. */
  chargePoll: (registrationId: string) => void;
  /** Retry-After (seconds) DPS sends while a registration is assigning. */
  pollAfterSeconds: number;
}

interface Operation {
  registrationId: string;
  done?: Registered;
}

const operations = new Map<string, Operation>();

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
