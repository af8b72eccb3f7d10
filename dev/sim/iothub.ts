/**
 * The IoT Hub registry API (api-version 2021-04-12) that `azure-iothub`'s `Registry` calls: devices, bulk device
 * operations (at most 100), twins, device queries with continuation, and registry statistics.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { HubBulkResult, HubDevice, HubTwin } from '../../shared/dps-types';
import { countRemoval } from './removals';
import { type HubData, pageOf } from './state';
import { header, HttpError, ifMatchAllows, newEtag, readJson, sendJson } from './wire';

export const HUB_BULK_MAX = 100;

export interface HubContext {
  hostName: string;
  data: HubData;
  /** Charges the identity-registry throttle; throws 429 when spent. */
  charge: (operations: number) => void;
  changed: () => void;
}

const newKey = () => randomBytes(32).toString('base64');

/** What IoT Hub answers for a time that never happened (a device never connected, a status never changed). */
const NEVER = '0001-01-01T00:00:00Z';

/**
 * Stores a device as the hub would: only the fields a caller may set are taken (anything else a client sends, such
 * as the read-only times, is the hub's to fill), server-side fields filled, a twin made on creation.
 */
export function storeDevice(hub: HubData, input: HubDevice, existing: HubDevice | undefined): HubDevice {
  const auth = input.authentication ?? { type: 'sas' as const };
  const statusChanged = existing && (input.status ?? 'enabled') !== existing.status;
  const device: HubDevice = {
    deviceId: input.deviceId,
    generationId: existing?.generationId ?? String(Date.now()) + Math.floor(Math.random() * 1000),
    etag: newEtag(),
    status: input.status ?? 'enabled',
    statusReason: input.statusReason ?? null,
    connectionState: existing?.connectionState ?? 'Disconnected',
    connectionStateUpdatedTime: existing?.connectionStateUpdatedTime ?? NEVER,
    statusUpdatedTime: statusChanged ? new Date().toISOString() : (existing?.statusUpdatedTime ?? NEVER),
    lastActivityTime: existing?.lastActivityTime ?? NEVER,
    cloudToDeviceMessageCount: existing?.cloudToDeviceMessageCount ?? 0,
    capabilities: input.capabilities ?? { iotEdge: false },
    authentication:
      auth.type === 'sas'
        ? {
            type: 'sas',
            symmetricKey: {
              primaryKey: auth.symmetricKey?.primaryKey || newKey(),
              secondaryKey: auth.symmetricKey?.secondaryKey || newKey(),
            },
          }
        : auth,
  };
  const key = input.deviceId.toLowerCase();
  hub.devices.set(key, device);
  const twin = hub.twins.get(key);
  hub.twins.set(key, {
    deviceId: device.deviceId,
    etag: twin?.etag ?? newEtag(),
    tags: twin?.tags ?? {},
    properties: twin?.properties ?? { desired: {}, reported: {} },
    status: device.status,
  });
  hub.watch?.device(device.deviceId, device);
  return device;
}

export function deleteDevice(hub: HubData, deviceId: string): void {
  if (hub.devices.has(deviceId.toLowerCase())) countRemoval(hub.removed, deviceId);
  hub.devices.delete(deviceId.toLowerCase());
  hub.twins.delete(deviceId.toLowerCase());
  hub.watch?.device(deviceId, undefined);
}

function notFound(id: string): HttpError {
  return new HttpError(404, 'DeviceNotFound', `Device ${id} not found.`);
}

type Condition = { path: string[]; values: unknown[] };

const LITERAL = /'([^']*)'|"([^"]*)"|(-?\d+(?:\.\d+)?)|\b(true|false)\b/gi;

function literalOf(m: RegExpExecArray): unknown {
  if (m[1] !== undefined) return m[1];
  if (m[2] !== undefined) return m[2];
  if (m[3] !== undefined) return Number(m[3]);
  return m[4].toLowerCase() === 'true';
}

/**
 * The subset of the IoT Hub query language the simulator answers: `SELECT * FROM devices [WHERE a.b = 'x' [AND ...]]`,
 * and `a.b IN ['x', 'y']` (the query language's IN over a list of values, as the backend reads a set of devices).
 */
export function parseDeviceQuery(sql: string): Condition[] {
  const m = /^\s*select\s+\*\s+from\s+devices(?:\s+where\s+(.+?))?\s*$/is.exec(sql);
  if (!m)
    throw new HttpError(
      400,
      'SqlQueryInvalid',
      `The simulator answers only SELECT * FROM devices [WHERE path = value AND ... | path IN [values]]; got: ${sql}`,
    );
  if (!m[1]) return [];
  return m[1].split(/\s+and\s+(?=(?:[^'"]|'[^']*'|"[^"]*")*$)/i).map((part) => {
    const list = /^\s*([\w.$]+)\s+in\s+\[(.*)\]\s*$/is.exec(part);
    if (list) {
      const values = [...list[2].matchAll(LITERAL)].map((v) => literalOf(v as RegExpExecArray));
      return { path: list[1].split('.'), values };
    }
    const c = /^\s*([\w.$]+)\s*=\s*('(?:[^']*)'|"(?:[^"]*)"|-?\d+(?:\.\d+)?|true|false)\s*$/i.exec(part);
    if (!c) throw new HttpError(400, 'SqlQueryInvalid', `Unsupported condition: ${part}`);
    const raw = c[2];
    const value = /^['"]/.test(raw) ? raw.slice(1, -1) : raw === 'true' ? true : raw === 'false' ? false : Number(raw);
    return { path: c[1].split('.'), values: [value] };
  });
}

function matches(twin: HubTwin, conditions: Condition[]): boolean {
  return conditions.every(({ path, values }) => {
    let node: unknown = twin;
    for (const p of path) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[p] : undefined;
    return values.includes(node);
  });
}

function bulk(ctx: HubContext, body: unknown): HubBulkResult {
  if (!Array.isArray(body) || body.length === 0)
    throw new HttpError(400, 'ArgumentInvalid', 'The body must be a non-empty array of devices.');
  if (body.length > HUB_BULK_MAX)
    throw new HttpError(400, 'TooManyDevices', `A bulk operation takes at most ${HUB_BULK_MAX} devices.`);
  ctx.charge(body.length);
  const errors: HubBulkResult['errors'] = [];
  // ExportImportDevice (the swagger's): `id`, `eTag`, `importMode`, and the settable fields of a device.
  for (const item of body as Array<Omit<HubDevice, 'deviceId'> & { id?: string; importMode?: string; eTag?: string }>) {
    const id = item.id;
    const mode = (item.importMode ?? 'create').toLowerCase();
    const existing = id ? ctx.data.devices.get(id.toLowerCase()) : undefined;
    const fail = (errorCode: string, errorStatus: string) =>
      errors.push({ deviceId: id ?? '', errorCode, errorStatus });
    if (!id) {
      fail('ArgumentInvalid', 'Device id is missing.');
      continue;
    }
    const etag = item.eTag;
    const settable = {
      deviceId: id,
      status: item.status,
      statusReason: item.statusReason,
      authentication: item.authentication,
      capabilities: item.capabilities,
    };
    switch (mode) {
      case 'create':
        if (existing) fail('DeviceAlreadyExists', `Device ${id} already exists.`);
        else storeDevice(ctx.data, settable, undefined);
        break;
      case 'update':
      case 'updateifmatchetag':
        if (!existing) fail('DeviceNotFound', `Device ${id} not found.`);
        else if (mode === 'updateifmatchetag' && !ifMatchAllows(etag ?? '"none"', existing.etag))
          fail('PreconditionFailed', 'Etag mismatch.');
        else storeDevice(ctx.data, settable, existing);
        break;
      case 'delete':
      case 'deleteifmatchetag':
        if (!existing) fail('DeviceNotFound', `Device ${id} not found.`);
        else if (mode === 'deleteifmatchetag' && !ifMatchAllows(etag ?? '"none"', existing.etag))
          fail('PreconditionFailed', 'Etag mismatch.');
        else deleteDevice(ctx.data, id);
        break;
      default:
        fail('ArgumentInvalid', `Unknown importMode ${item.importMode}.`);
    }
  }
  ctx.changed();
  return { isSuccessful: errors.length === 0, errors, warnings: [] };
}

export async function handleHub(
  ctx: HubContext,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
): Promise<boolean> {
  const method = req.method ?? 'GET';
  const [collection, id, sub] = segments.map((s, i) => (i === 1 ? s : s.toLowerCase()));
  const { data } = ctx;

  // Service statistics (Statistics_GetServiceStatistics): the devices connected over MQTT now.
  if (collection === 'statistics' && id?.toLowerCase() === 'service' && method === 'GET') {
    ctx.charge(1);
    const connected = [...data.devices.values()].filter((d) => d.connectionState === 'Connected').length;
    return (sendJson(res, 200, { connectedDeviceCount: connected }), true);
  }
  if (collection === 'statistics' && id?.toLowerCase() === 'devices' && method === 'GET') {
    ctx.charge(1);
    const devices = [...data.devices.values()];
    const enabled = devices.filter((d) => d.status !== 'disabled').length;
    return (
      sendJson(res, 200, {
        totalDeviceCount: devices.length,
        enabledDeviceCount: enabled,
        disabledDeviceCount: devices.length - enabled,
      }),
      true
    );
  }

  if (collection === 'devices') {
    if (id === undefined && method === 'POST') return (sendJson(res, 200, bulk(ctx, await readJson(req))), true);
    if (id === undefined && method === 'GET') {
      ctx.charge(1);
      return (sendJson(res, 200, [...data.devices.values()].slice(0, 1000)), true);
    }
    if (id?.toLowerCase() === 'query' && method === 'POST' && sub === undefined) {
      ctx.charge(1);
      const body = await readJson<{ query?: string }>(req);
      const conditions = parseDeviceQuery(body?.query ?? '');
      const twins = [...data.twins.values()].filter((t) => matches(t, conditions));
      const { page, next } = pageOf(twins, header(req, 'x-ms-max-item-count'), header(req, 'x-ms-continuation'));
      return (
        sendJson(res, 200, page, { 'x-ms-item-type': 'Twin', ...(next ? { 'x-ms-continuation': next } : {}) }),
        true
      );
    }
    if (id === undefined || sub !== undefined) return false;
    ctx.charge(1);
    const key = id.toLowerCase();
    const existing = data.devices.get(key);
    const ifMatch = header(req, 'if-match');
    if (method === 'GET') {
      if (!existing) throw notFound(id);
      return (sendJson(res, 200, existing, { etag: existing.etag as string }), true);
    }
    if (method === 'PUT') {
      const body = await readJson<HubDevice>(req);
      if (!body?.deviceId || body.deviceId.toLowerCase() !== key)
        throw new HttpError(400, 'ArgumentInvalid', 'The body deviceId must match the URL.');
      if (!ifMatch && existing) throw new HttpError(409, 'DeviceAlreadyExists', `Device ${id} already exists.`);
      if (ifMatch && !existing) throw notFound(id);
      if (!ifMatchAllows(ifMatch, existing?.etag)) throw new HttpError(412, 'PreconditionFailed', 'Etag mismatch.');
      const stored = storeDevice(data, body, existing);
      ctx.changed();
      return (sendJson(res, 200, stored, { etag: stored.etag as string }), true);
    }
    if (method === 'DELETE') {
      if (!existing) throw notFound(id);
      if (!ifMatchAllows(ifMatch, existing.etag)) throw new HttpError(412, 'PreconditionFailed', 'Etag mismatch.');
      deleteDevice(data, id);
      ctx.changed();
      return (sendJson(res, 204, undefined), true);
    }
  }

  if (collection === 'twins' && id !== undefined && sub === undefined) {
    ctx.charge(1);
    const twin = data.twins.get(id.toLowerCase());
    if (!twin) throw notFound(id);
    if (method === 'GET') return (sendJson(res, 200, twin, { etag: twin.etag as string }), true);
    if (method === 'PATCH') {
      const patch = (await readJson<HubTwin>(req)) ?? ({} as HubTwin);
      if (!ifMatchAllows(header(req, 'if-match'), twin.etag))
        throw new HttpError(412, 'PreconditionFailed', 'Etag mismatch.');
      const next: HubTwin = {
        ...twin,
        etag: newEtag(),
        tags: { ...twin.tags, ...patch.tags },
        properties: { ...twin.properties, desired: { ...twin.properties?.desired, ...patch.properties?.desired } },
      };
      data.twins.set(id.toLowerCase(), next);
      if (patch.properties?.desired) data.watch?.desired(twin.deviceId, patch.properties.desired);
      ctx.changed();
      return (sendJson(res, 200, next), true);
    }
  }
  return false;
}
