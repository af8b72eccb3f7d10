/**
 * The DPS service API (api-version 2021-10-01) that `azure-iot-provisioning-service` calls: individual enrollments,
 * enrollment groups, bulk operations, queries with continuation, and device registration states.
 */
import type { X509Certificate } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { BulkEnrollmentOperationResult, EnrollmentGroup, IndividualEnrollment } from '../../shared/dps-types';
import { knowsIssuance, namesToStore, withoutNames } from './adr-link';
import { withInfo } from './certificates';
import { countRemoval } from './removals';
import { pageOf, type SimState } from './state';
import { type BulkCounting, bulkOperations } from './throttle';
import { header, HttpError, ifMatchAllows, newEtag, readJson, sendJson } from './wire';

export interface DpsServiceContext {
  state: SimState;
  linkedHubs: () => string[];
  bulkLimit: number;
  /** How a bulk call counts against the operations quota. */
  bulkCounting: BulkCounting;
  /** Certificates of X.509 enrollments and groups, by enrollment key, for device attestation. */
  certificates: Map<string, Map<string, X509Certificate>>;
  /** Charges the operations quota; throws 429 when spent. */
  charge: (operations: number) => void;
  changed: () => void;
}

const REGISTRATION_ID = /^[a-z0-9](?:[a-z0-9:._-]{0,126}[a-z0-9])?$/i;
const newKey = () => randomBytes(64).toString('base64');

export function checkRegistrationId(id: string): void {
  if (!REGISTRATION_ID.test(id))
    throw new HttpError(
      400,
      400004,
      `Registration ID '${id}' is invalid: at most 128 alphanumerics or : . _ -, not starting or ending with a special character.`,
    );
}

type Entry = IndividualEnrollment | EnrollmentGroup;

function normalize<T extends Entry>(
  ctx: DpsServiceContext,
  key: string,
  input: T,
  existing: T | undefined,
  isGroup: boolean,
): T {
  const att = input.attestation;
  if (!att || !['tpm', 'x509', 'symmetricKey'].includes(att.type))
    throw new HttpError(400, 400004, 'attestation.type must be tpm, x509 or symmetricKey.');
  if (isGroup && att.type === 'tpm')
    throw new HttpError(400, 400004, 'Enrollment groups do not support TPM attestation.');
  const now = new Date().toISOString();
  const out: T = {
    ...input,
    provisioningStatus: input.provisioningStatus ?? 'enabled',
    reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true, ...input.reprovisionPolicy },
    allocationPolicy: input.allocationPolicy ?? 'hashed',
    capabilities: input.capabilities ?? { iotEdge: false },
    createdDateTimeUtc: existing?.createdDateTimeUtc ?? now,
    lastUpdatedDateTimeUtc: now,
    etag: newEtag(),
  };
  if (att.type === 'tpm') {
    const ek = att.tpm?.endorsementKey;
    if (!ek || !/^[A-Za-z0-9+/]+={0,2}$/.test(ek))
      throw new HttpError(400, 400004, 'attestation.tpm.endorsementKey must be base64.');
    out.attestation = { type: 'tpm', tpm: { endorsementKey: ek, storageRootKey: att.tpm?.storageRootKey } };
  } else if (att.type === 'symmetricKey') {
    out.attestation = {
      type: 'symmetricKey',
      symmetricKey: {
        primaryKey: att.symmetricKey?.primaryKey || newKey(),
        secondaryKey: att.symmetricKey?.secondaryKey || newKey(),
      },
    };
  } else {
    const kept = new Map<string, X509Certificate>();
    const x = att.x509 ?? {};
    const held = ctx.certificates.get(key) ?? new Map<string, X509Certificate>();
    const client = withInfo(x.clientCertificates, kept, held);
    const signing = withInfo(x.signingCertificates, kept, held);
    if (isGroup ? !signing?.primary && !x.caReferences?.primary : !client?.primary) {
      throw new HttpError(
        400,
        400004,
        isGroup
          ? 'An X.509 group needs signingCertificates.primary or caReferences.primary.'
          : 'An X.509 enrollment needs clientCertificates.primary.',
      );
    }
    out.attestation = {
      type: 'x509',
      x509: { clientCertificates: client, signingCertificates: signing, caReferences: x.caReferences },
    };
    ctx.certificates.set(key, kept);
  }
  const linked = ctx.linkedHubs().map((h) => h.toLowerCase());
  for (const hub of out.iotHubs ?? [])
    if (!linked.includes(hub.toLowerCase()))
      throw new HttpError(400, 400004, `IoT hub ${hub} is not linked to this provisioning service.`);
  if (out.allocationPolicy === 'custom') {
    const url = out.customAllocationDefinition?.webhookUrl;
    if (!url) throw new HttpError(400, 400004, 'allocationPolicy custom needs customAllocationDefinition.webhookUrl.');
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && !['127.0.0.1', 'localhost'].includes(parsed.hostname))
      throw new HttpError(400, 400004, 'The custom allocation webhook must be HTTPS.');
  }
  return out;
}

function put<T extends Entry>(
  ctx: DpsServiceContext,
  map: Map<string, T>,
  id: string,
  input: T,
  ifMatch: string | undefined,
  isGroup: boolean,
  apiVersion: string | null,
): T {
  const key = id.toLowerCase();
  const existing = map.get(key);
  if (ifMatch && ifMatch !== '*' && !existing)
    throw new HttpError(412, 412001, 'Precondition failed: the enrollment does not exist.');
  // A put without If-Match is a create: DPS answers 409 when the record exists (the Python data-plane client, which
  // adds no header, meets ResourceExistsError on an existing group: azure-sdk-for-python#35187; the C# client the
  // same without an etag: azure-iot-sdk-csharp#3076; the Node client sends the record's etag since
  // azure-iot-sdk-node#165). An update names what it replaces: its etag, or `*`.
  if (!ifMatch && existing)
    throw new HttpError(409, 409201, `${isGroup ? 'Enrollment group' : 'Enrollment'} ${id} already exists.`);
  if (!ifMatchAllows(ifMatch, existing?.etag))
    throw new HttpError(412, 412001, 'Precondition failed: the etag does not match.');
  // The ADR policy names (2026-11-01) are checked before anything is stored; older versions keep what is stored.
  const names = namesToStore(input, existing, apiVersion);
  const stored = { ...withoutNames(normalize(ctx, (isGroup ? 'g:' : 'e:') + key, input, existing, isGroup)), ...names };
  map.set(key, stored);
  ctx.changed();
  return stored;
}

function bulk(
  ctx: DpsServiceContext,
  body: { mode?: string; enrollments?: IndividualEnrollment[] } | undefined,
  apiVersion: string | null,
): BulkEnrollmentOperationResult {
  const mode = body?.mode?.toLowerCase();
  const list = body?.enrollments;
  if (!mode || !['create', 'update', 'updateifmatchetag', 'delete'].includes(mode))
    throw new HttpError(400, 400004, 'mode must be create, update, updateIfMatchETag or delete.');
  if (!Array.isArray(list) || list.length === 0)
    throw new HttpError(400, 400004, 'enrollments must be a non-empty array.');
  if (list.length > ctx.bulkLimit)
    throw new HttpError(400, 400004, `A bulk operation takes at most ${ctx.bulkLimit} enrollments.`);
  ctx.charge(bulkOperations(ctx.bulkCounting, list.length));
  const errors: BulkEnrollmentOperationResult['errors'] = [];
  for (const e of list) {
    const id = e?.registrationId ?? '';
    try {
      checkRegistrationId(id);
      const key = id.toLowerCase();
      const existing = ctx.state.enrollments.get(key);
      if (mode === 'create' && existing) throw new HttpError(409, 409201, `Enrollment ${id} already exists.`);
      if (mode === 'delete') {
        if (!existing) throw new HttpError(404, 404201, `Enrollment ${id} not found.`);
        if (!ifMatchAllows(e.etag, existing.etag))
          throw new HttpError(412, 412001, 'Precondition failed: the etag does not match.');
        ctx.state.enrollments.delete(key);
        ctx.certificates.delete('e:' + key);
        continue;
      }
      if (mode !== 'create' && !existing) throw new HttpError(404, 404201, `Enrollment ${id} not found.`);
      // `update` replaces what is there whatever its etag (the record exists: checked above); `create` makes it.
      const etag = mode === 'updateifmatchetag' ? (e.etag ?? '"missing"') : mode === 'update' ? '*' : undefined;
      put(ctx, ctx.state.enrollments, id, { ...e, etag: undefined }, etag, false, apiVersion);
    } catch (err) {
      const h = err instanceof HttpError ? err : new HttpError(500, 500000, String(err));
      errors.push({ registrationId: id, errorCode: Number(h.code), errorStatus: h.message });
    }
  }
  ctx.changed();
  return { isSuccessful: errors.length === 0, errors };
}

function query<T>(req: IncomingMessage, res: ServerResponse, items: T[], itemType: string): void {
  const { page, next } = pageOf(items, header(req, 'x-ms-max-item-count'), header(req, 'x-ms-continuation'));
  sendJson(res, 200, page, { 'x-ms-item-type': itemType, ...(next ? { 'x-ms-continuation': next } : {}) });
}

/** Routes one service-API request; `segments` are the decoded path parts. Returns false when no route matched. */
export async function handleDpsService(
  ctx: DpsServiceContext,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
): Promise<boolean> {
  const method = req.method ?? 'GET';
  const [collection, id, sub] = segments;
  const kind = collection?.toLowerCase();
  const { state } = ctx;
  const apiVersion = new URL(req.url ?? '/', 'https://x').searchParams.get('api-version');
  // What this api-version shows of an enrollment: before 2026-11-01, nothing of its ADR policy.
  const show = <T extends object>(e: T): T => (knowsIssuance(apiVersion) ? e : withoutNames(e));

  if (kind === 'enrollments' || kind === 'enrollmentgroups') {
    const isGroup = kind === 'enrollmentgroups';
    const map = (isGroup ? state.groups : state.enrollments) as Map<string, Entry>;
    const noun = isGroup ? 'Enrollment group' : 'Enrollment';
    if (method === 'POST' && id === undefined && !isGroup)
      return (sendJson(res, 200, bulk(ctx, await readJson(req), apiVersion)), true);
    if (method === 'POST' && id?.toLowerCase() === 'query' && sub === undefined) {
      ctx.charge(1);
      return (query(req, res, [...map.values()].map(show), isGroup ? 'EnrollmentGroup' : 'Enrollment'), true);
    }
    if (id === undefined) return false;
    ctx.charge(1);
    const key = id.toLowerCase();
    if (sub?.toLowerCase() === 'attestationmechanism' && method === 'POST') {
      const found = map.get(key);
      if (!found) throw new HttpError(404, isGroup ? 404204 : 404201, `${noun} ${id} not found.`);
      return (sendJson(res, 200, found.attestation), true);
    }
    if (sub !== undefined) return false;
    if (method === 'GET') {
      const found = map.get(key);
      if (!found) throw new HttpError(404, isGroup ? 404204 : 404201, `${noun} ${id} not found.`);
      return (sendJson(res, 200, show(found), { etag: found.etag as string }), true);
    }
    if (method === 'PUT') {
      const body = await readJson<Entry>(req);
      if (!body) throw new HttpError(400, 400004, 'The request body is empty.');
      const bodyId = isGroup
        ? (body as EnrollmentGroup).enrollmentGroupId
        : (body as IndividualEnrollment).registrationId;
      if (!bodyId || bodyId.toLowerCase() !== key)
        throw new HttpError(400, 400004, `The body's id '${bodyId}' does not match the URL's '${id}'.`);
      checkRegistrationId(id);
      const stored = put(ctx, map, id, { ...body, etag: undefined }, header(req, 'if-match'), isGroup, apiVersion);
      return (sendJson(res, 200, show(stored), { etag: stored.etag as string }), true);
    }
    if (method === 'DELETE') {
      const found = map.get(key);
      if (!found) throw new HttpError(404, isGroup ? 404204 : 404201, `${noun} ${id} not found.`);
      if (!ifMatchAllows(header(req, 'if-match'), found.etag))
        throw new HttpError(412, 412001, 'Precondition failed: the etag does not match.');
      map.delete(key);
      ctx.certificates.delete((isGroup ? 'g:' : 'e:') + key);
      ctx.changed();
      return (sendJson(res, 204, undefined), true);
    }
    return false;
  }

  if (kind === 'registrations' && id !== undefined) {
    ctx.charge(1);
    if (method === 'POST' && sub?.toLowerCase() === 'query') {
      const items = [...state.registrations.values()].filter(
        (r) => r.enrollmentGroupId?.toLowerCase() === id.toLowerCase(),
      );
      return (
        query(
          req,
          res,
          items.map(({ enrollmentGroupId: _g, ...r }) => r),
          'DeviceRegistration',
        ),
        true
      );
    }
    if (sub !== undefined) return false;
    const found = state.registrations.get(id.toLowerCase());
    if (method === 'GET') {
      if (!found) throw new HttpError(404, 404202, `Registration ${id} not found.`);
      const { enrollmentGroupId: _g, ...record } = found;
      return (sendJson(res, 200, record, { etag: found.etag as string }), true);
    }
    if (method === 'DELETE') {
      if (!found) throw new HttpError(404, 404202, `Registration ${id} not found.`);
      if (!ifMatchAllows(header(req, 'if-match'), found.etag))
        throw new HttpError(412, 412001, 'Precondition failed: the etag does not match.');
      state.registrations.delete(id.toLowerCase());
      countRemoval(state.registrationsRemoved, id);
      ctx.changed();
      return (sendJson(res, 204, undefined), true);
    }
  }
  return false;
}
