/**
 * The device side of DPS (api-version 2019-03-31), which `azure-iot-provisioning-device-http` calls:
 * `PUT /{idScope}/registrations/{registrationId}/register` and operation-status polling. Symmetric-key devices
 * authenticate with a SAS, X.509 devices with their TLS client certificate. Allocation follows the enrollment's
 * policy; for `custom` the simulator POSTs DPS's AllocationRequest to the enrollment's webhook and treats the answer
 * as DPS does: 200 with a linked hub assigns; any other 4xx below 429 fails the registration (401 → 400209, else
 * 400207); 429 and every 5xx are retried, ten times, 1 s first and 9 s more each time.
 */
import { createHash, randomUUID, type X509Certificate } from 'node:crypto';
import { X509Certificate as NodeX509 } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';

import type {
  DeviceRegistrationState,
  EnrollmentGroup,
  HubDevice,
  IndividualEnrollment,
  TwinState,
} from '../../shared/dps-types';
import { certificateInfo } from './certificates';
import { deleteDevice, storeDevice } from './iothub';
import { deriveDeviceKey, parseSas, verifySas } from './sas';
import type { HubData, RegistrationRecord, SimState } from './state';
import { header, HttpError, newEtag, readJson, sendJson } from './wire';

export interface WebhookRetry {
  attempts: number;
  firstDelayMs: number;
  incrementMs: number;
}

export interface DeviceSideContext {
  state: SimState;
  idScope: string;
  linkedHubs: () => string[];
  hub: (hostName: string) => HubData | undefined;
  certificates: Map<string, Map<string, X509Certificate>>;
  chargeRegistration: () => void;
  /** Retry-After (seconds) DPS sends while a registration is assigning. */
  pollAfterSeconds: number;
  webhook: { timeoutMs: number; retry: WebhookRetry };
  changed: () => void;
}

type Source =
  { individual: IndividualEnrollment; group?: undefined } | { group: EnrollmentGroup; individual?: undefined };

interface Attested {
  source: Source;
  auth: HubDevice['authentication'];
  runtime: Record<string, unknown>;
}

interface Operation {
  registrationId: string;
  done?: { status: DeviceRegistrationState['status']; registrationState: DeviceRegistrationState };
}

const operations = new Map<string, Operation>();

/** What a device presents, whatever the transport: a SAS (HTTP Authorization, MQTT password) or its TLS chain. */
export interface DeviceCredentials {
  sas?: string;
  chain: NodeX509[];
}

function attestSymmetricKey(ctx: DeviceSideContext, sas: string, registrationId: string): Attested {
  const token = parseSas(sas);
  const resource = `${ctx.idScope}/registrations/${registrationId}`;
  const individual = ctx.state.enrollments.get(registrationId.toLowerCase());
  const tryKeys = (keys: (string | undefined)[]) => {
    try {
      verifySas(
        token,
        resource,
        keys.filter((k): k is string => !!k),
      );
      return true;
    } catch {
      return false;
    }
  };
  if (individual?.attestation.type === 'symmetricKey') {
    const k = individual.attestation.symmetricKey ?? {};
    if (tryKeys([k.primaryKey, k.secondaryKey]))
      return {
        source: { individual },
        auth: { type: 'sas', symmetricKey: { primaryKey: k.primaryKey, secondaryKey: k.secondaryKey } },
        runtime: { symmetricKey: {} },
      };
  }
  for (const group of ctx.state.groups.values()) {
    if (group.attestation.type !== 'symmetricKey') continue;
    const k = group.attestation.symmetricKey ?? {};
    const derived = [k.primaryKey, k.secondaryKey].map((key) => key && deriveDeviceKey(key, registrationId));
    if (tryKeys(derived))
      return {
        source: { group },
        auth: { type: 'sas', symmetricKey: { primaryKey: derived[0], secondaryKey: derived[1] } },
        runtime: { symmetricKey: {} },
      };
  }
  verifySas(token, resource, []); // throws the precise 401 (expired, wrong resource, bad signature)
  throw new HttpError(401, 401002, 'Unauthorized');
}

/** The certificate chain a TLS client presented (leaf first). */
export function presentedChain(socket: TLSSocket): NodeX509[] {
  const chain: NodeX509[] = [];
  let peer: PeerCertificate | DetailedPeerCertificate | undefined = socket.getPeerCertificate?.(true);
  const seen = new Set<string>();
  while (peer && peer.raw && !seen.has(peer.fingerprint256)) {
    seen.add(peer.fingerprint256);
    chain.push(new NodeX509(peer.raw));
    peer = (peer as DetailedPeerCertificate).issuerCertificate;
  }
  return chain;
}

function attestX509(ctx: DeviceSideContext, chain: NodeX509[], registrationId: string): Attested {
  const leaf = chain[0];
  if (!leaf) throw new HttpError(401, 401002, 'No client certificate was presented.');
  const cn = /CN=([^\n,]+)/.exec(leaf.subject)?.[1];
  if (cn?.toLowerCase() !== registrationId.toLowerCase())
    throw new HttpError(401, 401002, `The certificate's CN (${cn}) is not the registration ID.`);
  // The X.509 context in the shape of DPS's own registration state (`X509RegistrationResult`): the likeliest reading
  // of the "certificate details" Microsoft documents; the webhook reads the other shapes too (x509-context.ts).
  const runtime = { x509: { certificateInfo: certificateInfo(leaf) } };
  const individual = ctx.state.enrollments.get(registrationId.toLowerCase());
  if (individual?.attestation.type === 'x509') {
    const slots = individual.attestation.x509?.clientCertificates ?? {};
    const thumbs = [slots.primary?.info?.sha256Thumbprint, slots.secondary?.info?.sha256Thumbprint];
    const mine = leaf.fingerprint256.replace(/:/g, '');
    if (thumbs.includes(mine)) {
      const sha1 = leaf.fingerprint.replace(/:/g, '');
      return {
        source: { individual },
        auth: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: sha1, secondaryThumbprint: null } },
        runtime,
      };
    }
  }
  const now = Date.now();
  for (const group of ctx.state.groups.values()) {
    if (group.attestation.type !== 'x509') continue;
    const signers = ctx.certificates.get('g:' + group.enrollmentGroupId.toLowerCase());
    for (const signer of signers?.values() ?? []) {
      if (new Date(signer.validTo).getTime() < now) continue;
      // The signer must have issued some certificate of the presented chain, and every link below it must verify.
      const at = chain.findIndex((c) => c.checkIssued(signer) && c.verify(signer.publicKey));
      const linksHold =
        at >= 0 && chain.slice(0, at).every((c, i) => c.checkIssued(chain[i + 1]) && c.verify(chain[i + 1].publicKey));
      if (linksHold && chain.slice(0, at + 1).every((c) => new Date(c.validTo).getTime() > now)) {
        const x509 = {
          ...runtime.x509,
          enrollmentGroupId: group.enrollmentGroupId,
          signingCertificateInfo: certificateInfo(signer),
        };
        return { source: { group }, auth: { type: 'certificateAuthority' }, runtime: { x509 } };
      }
    }
  }
  throw new HttpError(401, 401002, 'The client certificate matches no enrollment.');
}

function attest(ctx: DeviceSideContext, credentials: DeviceCredentials, registrationId: string): Attested {
  if (credentials.sas) return attestSymmetricKey(ctx, credentials.sas, registrationId);
  if (credentials.chain.length) return attestX509(ctx, credentials.chain, registrationId);
  throw new HttpError(401, 401002, 'No credentials: send a SharedAccessSignature or a client certificate.');
}

/** Rendezvous hashing, as a stand-in for DPS's "evenly weighted distribution". */
function hashed(registrationId: string, hubs: string[]): string {
  const score = (hub: string) =>
    createHash('sha256').update(`${hub.toLowerCase()}|${registrationId.toLowerCase()}`).digest().readUInt32BE(0);
  return [...hubs].sort((a, b) => score(b) - score(a))[0];
}

interface Allocation {
  hub?: string;
  initialTwin?: TwinState;
  payload?: unknown;
  error?: { errorCode: number; errorMessage: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Strips secrets DPS does not hand to the webhook (symmetric keys) and our private fields. */
function enrollmentForWebhook<T extends IndividualEnrollment | EnrollmentGroup>(e: T): T {
  const copy = JSON.parse(JSON.stringify(e)) as T;
  if (copy.attestation.symmetricKey) copy.attestation.symmetricKey = {};
  return copy;
}

async function callWebhook(
  ctx: DeviceSideContext,
  source: Source,
  body: unknown,
  linked: string[],
): Promise<Allocation> {
  const url = (source.individual ?? source.group).customAllocationDefinition?.webhookUrl as string;
  const { attempts, firstDelayMs, incrementMs } = ctx.webhook.retry;
  let lastStatus = 0;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await sleep(firstDelayMs + (attempt - 1) * incrementMs);
    let status: number;
    let text = '';
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(ctx.webhook.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch {
      status = 0; // unreachable or timed out: DPS retries
    }
    lastStatus = status;
    if (status === 200) {
      let answer: { iotHubHostName?: string; initialTwin?: TwinState; payload?: unknown };
      try {
        answer = JSON.parse(text);
      } catch {
        return {
          error: {
            errorCode: 400207,
            errorMessage: 'Custom allocation failed: the webhook answered 200 with a body that is not JSON.',
          },
        };
      }
      if (!answer.iotHubHostName)
        return {
          error: {
            errorCode: 400208,
            errorMessage: 'Custom allocation webhook did not specify an IoT hub (CustomAllocationIotHubNotSpecified).',
          },
        };
      const hub = linked.find((h) => h.toLowerCase() === answer.iotHubHostName?.toLowerCase());
      if (!hub)
        return {
          error: {
            errorCode: 400207,
            errorMessage: `Custom allocation failed: ${answer.iotHubHostName} is not a linked IoT hub.`,
          },
        };
      return { hub, initialTwin: answer.initialTwin, payload: answer.payload };
    }
    if (status === 401)
      return {
        error: {
          errorCode: 400209,
          errorMessage: 'Custom allocation webhook refused our call (CustomAllocationUnauthorizedAccess).',
        },
      };
    if (status !== 0 && status < 429)
      return {
        error: {
          errorCode: 400207,
          errorMessage: `Custom allocation failed with status code ${status}: ${text.slice(0, 500)}`,
        },
      };
  }
  return {
    error: {
      errorCode: 400207,
      errorMessage: `Custom allocation failed after ${attempts} attempts (last status ${lastStatus || 'unreachable'}).`,
    },
  };
}

async function allocate(
  ctx: DeviceSideContext,
  attested: Attested,
  registrationId: string,
  devicePayload: unknown,
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

  // DPS checks individual enrollments before groups: a disabled one under this ID shuts the device out.
  const blocking = ctx.state.enrollments.get(key);
  if (blocking?.provisioningStatus === 'disabled' || enrollment.provisioningStatus === 'disabled') {
    return record({ status: 'disabled', assignedHub: existing?.assignedHub, deviceId: existing?.deviceId });
  }

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
  const initialTwin = allocation.initialTwin ?? enrollment.initialTwin;
  const moved = !!current && current.toLowerCase() !== allocation.hub.toLowerCase();
  const previous = moved ? ctx.hub(current)?.twins.get(deviceId.toLowerCase()) : undefined;
  const reset = !current || (moved && policy.migrateDeviceData === false);
  storeDevice(
    target,
    { deviceId, authentication: attested.auth, capabilities: enrollment.capabilities },
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
  return record({ status: 'assigned', substatus, assignedHub: allocation.hub, deviceId, payload: allocation.payload });
}

/** A device API answer, whatever carries it (HTTP response, MQTT `$dps/registrations/res/{status}` message). */
export interface DeviceAnswer {
  status: number;
  body: unknown;
  retryAfterSeconds?: number;
}

/** `PUT …/register` (HTTP) or `$dps/registrations/PUT/iotdps-register` (MQTT): starts the registration. */
export function startRegistration(
  ctx: DeviceSideContext,
  credentials: DeviceCredentials,
  registrationId: string,
  body: { registrationId?: string; payload?: unknown; tpm?: unknown } | undefined,
): DeviceAnswer {
  ctx.chargeRegistration();
  if (body?.registrationId?.toLowerCase() !== registrationId.toLowerCase())
    throw new HttpError(400, 400004, 'The body registrationId must match the URL.');
  if (body.tpm)
    throw new HttpError(
      400,
      400004,
      'TPM attestation is not simulated locally: it needs a TPM to answer the nonce challenge.',
    );
  const attested = attest(ctx, credentials, registrationId);
  const id = `4.${randomUUID().replace(/-/g, '').slice(0, 16)}.${randomUUID()}`;
  const op: Operation = { registrationId };
  operations.set(id, op);
  void allocate(ctx, attested, registrationId, body.payload).then(
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
): DeviceAnswer {
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
  const send = (a: DeviceAnswer) =>
    sendJson(res, a.status, a.body, a.retryAfterSeconds ? { 'retry-after': String(a.retryAfterSeconds) } : {});

  if (req.method === 'PUT' && verb === 'register' && operationId === undefined) {
    const body = await readJson<{ registrationId?: string; payload?: unknown; tpm?: unknown }>(req);
    send(startRegistration(ctx, credentials, registrationId, body));
    return true;
  }
  if (req.method === 'GET' && verb === 'operations' && operationId) {
    send(operationStatus(ctx, credentials, registrationId, operationId));
    return true;
  }
  if (req.method === 'POST' && verb === undefined) {
    send(registrationStatus(ctx, credentials, registrationId));
    return true;
  }
  return false;
}
