/**
 * The operation a request is, named as the project's ports name it (`bulkEnrollments`, `getDevice`, …) for DPS and
 * IoT Hub, and as the SDKs name it for Cosmos (`read`, `query`, …) and Storage (`sendMessage`, `uploadBlob`, …).
 * Told from the method, the path and a few headers, as the services themselves route. Anything else is named
 * `METHOD first-segment`, so a rule can still name it.
 */
import type { IncomingMessage } from 'node:http';

import type { FaultCall } from './injector';

const pathOf = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://x');
const partsOf = (url: URL) => url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
const other = (method: string, parts: string[]) => `${method} ${parts[0] ?? '/'}`;

function dpsService(method: string, parts: string[]): string {
  const [collection = '', id, sub] = parts.map((p, i) => (i === 1 ? p : p.toLowerCase()));
  const query = id?.toLowerCase() === 'query' && sub === undefined;
  if (collection === 'enrollments' || collection === 'enrollmentgroups') {
    const group = collection === 'enrollmentgroups';
    if (method === 'POST' && id === undefined) return group ? 'bulkGroups' : 'bulkEnrollments';
    if (method === 'POST' && query) return group ? 'queryGroups' : 'queryEnrollments';
    if (method === 'POST' && sub === 'attestationmechanism') return group ? 'getGroupAttestation' : 'getAttestation';
    const verb = { GET: 'get', PUT: 'put', DELETE: 'delete' }[method];
    if (verb && id !== undefined && sub === undefined) return `${verb}${group ? 'Group' : 'Enrollment'}`;
  }
  if (collection === 'registrations' && id !== undefined) {
    if (method === 'POST' && sub === 'query') return 'queryRegistrationStates';
    if (method === 'GET' && sub === undefined) return 'getRegistrationState';
    if (method === 'DELETE' && sub === undefined) return 'deleteRegistrationState';
  }
  return other(method, parts);
}

function dpsDevice(method: string, parts: string[]): string {
  const [, registrations, , verb, operationId] = parts;
  if (registrations?.toLowerCase() === 'registrations') {
    if (method === 'PUT' && verb === 'register') return 'register';
    if (method === 'GET' && verb === 'operations' && operationId) return 'operationStatus';
    if (method === 'POST' && verb === undefined) return 'registrationStatus';
  }
  return other(method, parts);
}

function hub(method: string, parts: string[]): string {
  const [collection = '', id, sub] = parts.map((p, i) => (i === 1 ? p : p.toLowerCase()));
  if (collection === 'statistics') return 'statistics';
  if (collection === 'jobs') {
    if (method === 'POST' && id === 'create') return 'startImportJob';
    return id === undefined ? 'listJobs' : 'getJob';
  }
  if (collection === 'devices') {
    if (id === undefined) return method === 'POST' ? 'bulkDevices' : 'listDevices';
    if (method === 'POST' && id.toLowerCase() === 'query' && sub === undefined) return 'queryTwins';
    const verb = { GET: 'get', PUT: 'put', DELETE: 'delete' }[method];
    if (verb && sub === undefined) return `${verb}Device`;
  }
  if (collection === 'twins') return method === 'PATCH' ? 'updateTwin' : 'getTwin';
  return other(method, parts);
}

/** A request to the simulator's one listener: DPS (service or device API) or a hub, told apart by host. */
export function simulatorCall(req: IncomingMessage, host: string, dpsHost: string): FaultCall {
  const method = req.method ?? 'GET';
  const parts = partsOf(pathOf(req));
  if (host === dpsHost) return { service: 'dps', target: host, operation: dpsService(method, parts) };
  if (host.endsWith('.azure-devices-provisioning.net'))
    return { service: 'dps', target: host, operation: dpsDevice(method, parts) };
  return { service: 'iothub', target: host, operation: hub(method, parts) };
}

/** A Cosmos REST call: `/dbs/{db}/colls/{container}/docs[/{id}]`, told apart by method and the SDK's headers. */
export function cosmosCall(req: IncomingMessage): FaultCall {
  const method = req.method ?? 'GET';
  const parts = partsOf(pathOf(req));
  const target = parts[2]?.toLowerCase() === 'colls' ? parts[3] : undefined;
  const h = (name: string) => String(req.headers[name] ?? '').toLowerCase();
  const kind = parts[4]?.toLowerCase();
  let operation = 'metadata';
  if (parts.length === 0) operation = 'databaseAccount';
  else if (kind === 'pkranges') operation = 'partitionKeyRanges';
  else if (kind === 'docs' && parts.length === 5 && method === 'POST') {
    if (h('x-ms-cosmos-is-query-plan-request') === 'true') operation = 'queryPlan';
    else if (h('x-ms-documentdb-isquery') === 'true') operation = 'query';
    else if (h('x-ms-cosmos-is-batch-request') === 'true')
      operation = h('x-ms-cosmos-batch-atomic') === 'false' ? 'bulk' : 'batch';
    else operation = h('x-ms-documentdb-is-upsert') === 'true' ? 'upsert' : 'create';
  } else if (kind === 'docs' && parts.length === 6)
    operation = { GET: 'read', PUT: 'replace', DELETE: 'delete', PATCH: 'patch' }[method] ?? other(method, parts);
  else if (kind === 'docs' && method === 'GET') operation = 'readAll';
  return { service: 'cosmos', target, operation };
}

/** A Storage call to Azurite: `/{account}/{queue}/messages[/{id}]` or `/{account}/{container}/{blob}`. */
export function storageCall(req: IncomingMessage, api: 'queue' | 'blob'): FaultCall {
  const method = req.method ?? 'GET';
  const url = pathOf(req);
  const [, target, ...rest] = partsOf(url);
  const comp = url.searchParams.get('comp');
  let operation = other(method, rest.length ? rest : [target ?? '/']);
  if (api === 'queue') {
    if (rest[0] === 'messages') {
      const id = rest[1];
      if (method === 'POST') operation = 'sendMessage';
      else if (method === 'GET')
        operation = url.searchParams.get('peekonly') === 'true' ? 'peekMessages' : 'receiveMessages';
      else if (method === 'DELETE') operation = id ? 'deleteMessage' : 'clearMessages';
      else if (method === 'PUT') operation = 'updateMessage';
    } else if (target && rest.length === 0)
      operation =
        comp === 'metadata'
          ? 'getQueueProperties'
          : ({ PUT: 'createQueue', DELETE: 'deleteQueue' }[method] ?? operation);
    else if (!target) operation = 'listQueues';
  } else if (rest.length === 0 && target) {
    if (comp === 'list') operation = 'listBlobs';
    else
      operation =
        {
          PUT: 'createContainer',
          DELETE: 'deleteContainer',
          GET: 'getContainerProperties',
          HEAD: 'getContainerProperties',
        }[method] ?? operation;
  } else if (target) {
    const byComp: Record<string, string> = {
      block: 'stageBlock',
      blocklist: 'commitBlockList',
      appendblock: 'appendBlock',
      snapshot: 'createSnapshot',
    };
    if (method === 'PUT') operation = comp ? (byComp[comp] ?? `setBlob ${comp}`) : 'uploadBlob';
    else if (method === 'GET')
      operation = 'downloadBlob'; // the whole blob or a range of it (x-ms-range)
    else if (method === 'HEAD') operation = 'getBlobProperties';
    else if (method === 'DELETE') operation = 'deleteBlob';
  } else if (method === 'POST' && comp === 'userdelegationkey') operation = 'getUserDelegationKey';
  else operation = 'listContainers';
  return { service: 'storage', target, operation };
}
