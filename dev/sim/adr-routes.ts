/**
 * The resource-manager surface of the local ADR at `https://management.azure.com`, on the simulator's listener (the
 * adapters' loopback agent dials it like any IoT host): the 2026-11-01 paths of Azure/azure-rest-api-specs
 * `specification/deviceregistry/resource-manager/Microsoft.DeviceRegistry/DeviceRegistry/stable/2026-11-01/
 * deviceregistry.json` for namespaces, certificate authorities (with `revokeAndRotate`), certificate policies, registry
 * devices and async operation statuses. Errors in ARM's shape `{ error: { code, message } }`. A bearer token is
 * required but not verified (there is no local Entra ID).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { ADR_API_VERSION, type LocalAdr } from './adr';
import type { ArmResource } from './adr-store';
import { HttpError, readJson, sendJson } from './wire';

const SUB = '/subscriptions/([^/]+)';
const NS = `${SUB}/resourceGroups/([^/]+)/providers/Microsoft\\.DeviceRegistry/namespaces/([^/]+)`;
const CA = `${NS}/certificateAuthorities/([^/]+)`;
const re = (path: string) => new RegExp(`^${path}$`, 'i');
const ROUTES = {
  namespace: re(NS),
  cas: re(`${NS}/certificateAuthorities`),
  ca: re(CA),
  revoke: re(`${CA}/revokeAndRotate`),
  policies: re(`${CA}/certificatePolicies`),
  policy: re(`${CA}/certificatePolicies/([^/]+)`),
  devices: re(`${NS}/registryDevices`),
  device: re(`${NS}/registryDevices/([^/]+)`),
  operation: re(
    `${SUB}/providers/Microsoft\\.DeviceRegistry/locations/([^/]+)/(operationStatuses|asyncOperationStatuses)/([^/]+)`,
  ),
};

/** What ARM shows of a resource: the CA's PEM stays inside the simulator (the spec exposes subject and validity only). */
function view(resource: ArmResource): ArmResource {
  const { certificatePem: _pem, ...properties } = resource.properties;
  return { ...resource, properties };
}

function sendArmError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { error: { code: String(err.code), message: err.message } }, err.headers);
}

export async function handleAdr(adr: LocalAdr, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  try {
    return await route(adr, req, res, url);
  } catch (err) {
    const e = err instanceof HttpError ? err : new HttpError(500, 'InternalServerError', String(err));
    if (!res.headersSent) sendArmError(res, e);
    return true;
  }
}

async function route(adr: LocalAdr, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const version = url.searchParams.get('api-version');
  if (!version)
    throw new HttpError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  if (version !== ADR_API_VERSION)
    throw new HttpError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${version}' is invalid. The supported version here is '${ADR_API_VERSION}'.`,
    );
  if (!/^Bearer \S+/.test(req.headers.authorization ?? ''))
    throw new HttpError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
  const path = url.pathname.replace(/\/$/, '');
  const method = req.method ?? 'GET';
  const origin = `https://${url.host}`;
  const id = decodeURIComponent(path);
  let m: RegExpExecArray | null;

  // Creates finish at once; the 201 still names its async operation, as ArmResourceCreateOrReplaceAsync does.
  const written = ({ resource, created }: { resource: ArmResource; created: boolean }) => {
    const headers: Record<string, string> = {};
    if (created) {
      const op = { id: randomUUID(), status: 'Succeeded' as const, startTime: new Date().toISOString() };
      adr.operations.set(op.id, { ...op, name: op.id, endTime: op.startTime, percentComplete: 100 });
      headers['azure-asyncoperation'] = operationUrl(origin, url, adr.location, op.id);
    }
    sendJson(res, created ? 201 : 200, view(resource), headers);
    return true;
  };
  const found = (resource: ArmResource | undefined, what: string) => {
    if (!resource) throw new HttpError(404, 'ResourceNotFound', `${what} was not found.`);
    sendJson(res, 200, view(resource));
    return true;
  };
  const list = (items: [string, ArmResource][]) => (sendJson(res, 200, { value: items.map(([, r]) => view(r)) }), true);
  const body = async () => (await readJson<Partial<ArmResource>>(req)) ?? {};

  if ((m = ROUTES.operation.exec(path)) && method === 'GET') {
    const op = adr.operations.get(m[4]);
    if (!op) throw new HttpError(404, 'ResourceNotFound', `Operation ${m[4]} was not found.`);
    const statusId = `/subscriptions/${m[1]}/providers/Microsoft.DeviceRegistry/locations/${m[2]}/${m[3]}/${op.id}`;
    sendJson(res, 200, { ...op, id: statusId }, op.status === 'InProgress' ? { 'retry-after': '1' } : {});
    return true;
  }
  if ((m = ROUTES.revoke.exec(path)) && method === 'POST') {
    const op = adr.revokeAndRotate(m[3], m[4]);
    const where = operationUrl(origin, url, adr.location, op.id);
    sendJson(res, 202, undefined, { location: where, 'azure-asyncoperation': where, 'retry-after': '1' });
    return true;
  }
  if ((m = ROUTES.policy.exec(path))) {
    if (method === 'PUT') return written(adr.putPolicy(id, m[3], m[4], m[5], await body()));
    if (method === 'GET') return found(adr.policy(m[3], m[4], m[5]), `Certificate policy ${m[5]}`);
  }
  if ((m = ROUTES.policies.exec(path)) && method === 'GET') return list(adr.policiesOf(m[3], m[4]));
  if ((m = ROUTES.ca.exec(path))) {
    if (method === 'PUT') return written(await adr.putCa(id, m[3], m[4], await body()));
    if (method === 'GET') return found(adr.ca(m[3], m[4]), `Certificate authority ${m[4]}`);
  }
  if ((m = ROUTES.cas.exec(path)) && method === 'GET') return list(adr.casOf(m[3]));
  if ((m = ROUTES.device.exec(path))) {
    if (method === 'PUT') return written(adr.putDevice(id, m[3], m[4], await body()));
    if (method === 'PATCH') return written(adr.putDevice(id, m[3], m[4], await body(), true));
    if (method === 'GET') return found(adr.device(m[3], m[4]), `Registry device ${m[4]}`);
  }
  if ((m = ROUTES.devices.exec(path)) && method === 'GET') return list(adr.devicesOf(m[3]));
  if ((m = ROUTES.namespace.exec(path))) {
    if (method === 'PUT') return written(adr.putNamespace(id, m[3], await body()));
    if (method === 'GET') return found(adr.namespace(m[3]), `Namespace ${m[3]}`);
  }
  return false;
}

/** The operation-status URL (the spec's example: `…/locations/{location}/operationStatuses/{id}?api-version=…`). */
function operationUrl(origin: string, url: URL, location: string, id: string): string {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(url.pathname)?.[1];
  return `${origin}/subscriptions/${sub}/providers/Microsoft.DeviceRegistry/locations/${location}/operationStatuses/${id}?api-version=${ADR_API_VERSION}`;
}
