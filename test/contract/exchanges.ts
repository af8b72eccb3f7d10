/**
 * Every HTTP exchange with the simulated DPS and IoT hubs, checked against the published contract: the request our
 * adapters (and the device SDK) sent, and the answer the simulator gave, each against the operation's schema; the
 * api-version every operation requires. Routes are the operations the spec defines that the simulator serves.
 */
import type { ValidateFunction } from 'ajv';

import type { WireExchange } from '../../dev/sim/wire';
import { ADR } from './adr-contract';
import { DPS_DEVICE, DPS_DEVICE_2026, DPS_SERVICE, DPS_SERVICE_2026 } from './dps-contract';
import { IOT_HUB } from './iothub-contract';
import { compileDefinitions } from './schema-kit';

/** One request and its answer, as the simulator recorded them. */
export type Exchange = WireExchange;

export type Api = 'dps-service' | 'dps-device' | 'iothub' | 'adr';

interface Operation {
  api: Api;
  method: string;
  path: RegExp;
  /** The spec's operationId (IoT Hub: the swagger's). */
  id: string;
  request?: string;
  /** Schema per success status; '' = no body. `A|B`: either. Errors take the API's error schema. */
  responses: Record<number, string>;
}

const seg = '[^/]+';
const ns = `/subscriptions/${seg}/resourceGroups/${seg}/providers/Microsoft\\.DeviceRegistry/namespaces/${seg}`;
const ca = `${ns}/certificateAuthorities/${seg}`;
const op = (
  api: Api,
  method: string,
  path: string,
  id: string,
  responses: Operation['responses'],
  request?: string,
) => ({
  api,
  method,
  path: new RegExp(`^${path}$`, 'i'),
  id,
  request,
  responses,
});

export const OPERATIONS: Operation[] = [
  op('dps-service', 'PUT', `/enrollments/${seg}`, 'IndividualEnrollment_CreateOrUpdate', { 200: 'IndividualEnrollment' }, 'IndividualEnrollment'),
  op('dps-service', 'GET', `/enrollments/(?!query$)${seg}`, 'IndividualEnrollment_Get', { 200: 'IndividualEnrollment' }),
  op('dps-service', 'DELETE', `/enrollments/${seg}`, 'IndividualEnrollment_Delete', { 204: '' }),
  op('dps-service', 'POST', `/enrollments/${seg}/attestationmechanism`, 'IndividualEnrollment_GetAttestationMechanism', { 200: 'AttestationMechanism' }),
  op('dps-service', 'POST', '/enrollments', 'IndividualEnrollment_RunBulkOperation', { 200: 'BulkEnrollmentOperationResult' }, 'BulkEnrollmentOperation'),
  op('dps-service', 'POST', '/enrollments/query', 'IndividualEnrollment_Query', { 200: '[IndividualEnrollment]' }, 'QuerySpecification'),
  op('dps-service', 'PUT', `/enrollmentGroups/${seg}`, 'EnrollmentGroup_CreateOrUpdate', { 200: 'EnrollmentGroup' }, 'EnrollmentGroup'),
  op('dps-service', 'GET', `/enrollmentGroups/(?!query$)${seg}`, 'EnrollmentGroup_Get', { 200: 'EnrollmentGroup' }),
  op('dps-service', 'DELETE', `/enrollmentGroups/${seg}`, 'EnrollmentGroup_Delete', { 204: '' }),
  op('dps-service', 'POST', '/enrollmentGroups/query', 'EnrollmentGroup_Query', { 200: '[EnrollmentGroup]' }, 'QuerySpecification'),
  op('dps-service', 'GET', `/registrations/${seg}`, 'DeviceRegistrationState_Get', { 200: 'DeviceRegistrationState' }),
  op('dps-service', 'DELETE', `/registrations/${seg}`, 'DeviceRegistrationState_Delete', { 204: '' }),
  op('dps-service', 'POST', `/registrations/${seg}/query`, 'DeviceRegistrationState_Query', { 200: '[DeviceRegistrationState]' }),
  op('dps-device', 'PUT', `/${seg}/registrations/${seg}/register`, 'RuntimeRegistration_RegisterDevice', { 200: 'RegistrationOperationStatus', 202: 'RegistrationOperationStatus', 401: 'TpmAuthenticationChallenge|ProvisioningServiceErrorDetails' }, 'DeviceRegistration'),
  op('dps-device', 'GET', `/${seg}/registrations/${seg}/operations/${seg}`, 'RuntimeRegistration_OperationStatusLookup', { 200: 'RegistrationOperationStatus', 202: 'RegistrationOperationStatus' }),
  op('dps-device', 'POST', `/${seg}/registrations/${seg}`, 'RuntimeRegistration_DeviceRegistrationStatusLookup', { 200: 'DeviceRegistrationResult' }, 'DeviceRegistration'),
  op('adr', 'PUT', ns, 'Namespaces_CreateOrReplace', { 200: 'Namespace', 201: 'Namespace' }, 'Namespace'),
  op('adr', 'GET', ns, 'Namespaces_Get', { 200: 'Namespace' }),
  op('adr', 'PUT', ca, 'CertificateAuthorities_CreateOrReplace', { 200: 'CertificateAuthority', 201: 'CertificateAuthority' }, 'CertificateAuthority'),
  op('adr', 'GET', ca, 'CertificateAuthorities_Get', { 200: 'CertificateAuthority' }),
  op('adr', 'GET', `${ns}/certificateAuthorities`, 'CertificateAuthorities_ListByNamespace', { 200: 'CertificateAuthorityList' }),
  op('adr', 'POST', `${ca}/revokeAndRotate`, 'CertificateAuthorities_RevokeAndRotate', { 202: '', 204: '' }),
  op('adr', 'PUT', `${ca}/certificatePolicies/${seg}`, 'CertificatePolicies_CreateOrReplace', { 200: 'CertificatePolicy', 201: 'CertificatePolicy' }, 'CertificatePolicy'),
  op('adr', 'GET', `${ca}/certificatePolicies/${seg}`, 'CertificatePolicies_Get', { 200: 'CertificatePolicy' }),
  op('adr', 'GET', `${ca}/certificatePolicies`, 'CertificatePolicies_ListByCertificateAuthority', { 200: 'CertificatePolicyList' }),
  op('adr', 'PUT', `${ns}/registryDevices/${seg}`, 'RegistryDevices_CreateOrReplace', { 200: 'RegistryDevice', 201: 'RegistryDevice' }, 'RegistryDevice'),
  op('adr', 'PATCH', `${ns}/registryDevices/${seg}`, 'RegistryDevices_Update', { 200: 'RegistryDevice', 202: '' }, 'RegistryDeviceUpdate'),
  op('adr', 'GET', `${ns}/registryDevices/${seg}`, 'RegistryDevices_Get', { 200: 'RegistryDevice' }),
  op('adr', 'GET', `${ns}/registryDevices`, 'RegistryDevices_ListByNamespace', { 200: 'RegistryDeviceList' }),
  op('adr', 'GET', `/subscriptions/${seg}/providers/Microsoft\\.DeviceRegistry/locations/${seg}/operationStatuses/${seg}`, 'OperationStatus_Get', { 200: 'OperationStatusResult' }),
  op('adr', 'GET', `/subscriptions/${seg}/providers/Microsoft\\.DeviceRegistry/locations/${seg}/asyncOperationStatuses/${seg}`, 'AsyncOperationStatus_Get', { 200: 'OperationStatusResult' }),
  op('iothub', 'PUT', `/devices/${seg}`, 'Devices_CreateOrUpdateIdentity', { 200: 'Device' }, 'Device'),
  op('iothub', 'GET', `/devices/(?!query$)${seg}`, 'Devices_GetIdentity', { 200: 'Device' }),
  op('iothub', 'DELETE', `/devices/${seg}`, 'Devices_DeleteIdentity', { 204: '' }),
  op('iothub', 'POST', '/devices', 'BulkRegistry_UpdateRegistry', { 200: 'BulkRegistryOperationResult', 400: 'BulkRegistryOperationResult|HubError' }, '[ExportImportDevice]'),
  op('iothub', 'POST', '/devices/query', 'Query_GetTwins', { 200: '[Twin]' }, 'QuerySpecification'),
  op('iothub', 'GET', `/twins/${seg}`, 'Devices_GetTwin', { 200: 'Twin' }),
  op('iothub', 'PATCH', `/twins/${seg}`, 'Devices_UpdateTwin', { 200: 'Twin' }, 'Twin'),
  op('iothub', 'GET', '/statistics/devices', 'Statistics_GetDeviceStatistics', { 200: 'RegistryStatistics' }),
  op('iothub', 'GET', '/statistics/service', 'Statistics_GetServiceStatistics', { 200: 'ServiceStatistics' }),
  op('iothub', 'POST', '/jobs/create', 'Jobs_CreateImportExportJob', { 200: 'JobProperties' }, 'JobProperties'),
  op('iothub', 'GET', `/jobs/(?!create$)${seg}`, 'Jobs_GetImportExportJob', { 200: 'JobProperties' }),
  op('iothub', 'GET', '/jobs', 'Jobs_GetImportExportJobs', { 200: '[JobProperties]' }),
]; // prettier-ignore

type Validators = Record<Api, (name: string) => ValidateFunction>;
const validators: Validators = {
  'dps-service': compileDefinitions(DPS_SERVICE),
  'dps-device': compileDefinitions(DPS_DEVICE),
  iothub: compileDefinitions(IOT_HUB),
  adr: compileDefinitions(ADR),
};
/** DPS 2026-11-01's shapes (certificate issuance); every other api-version is checked against 2021-10-01's. */
const validators2026: Validators = {
  ...validators,
  'dps-service': compileDefinitions(DPS_SERVICE_2026),
  'dps-device': compileDefinitions(DPS_DEVICE_2026),
};
const validatorsFor = (apiVersion: string | null) => (apiVersion === '2026-11-01' ? validators2026 : validators);
const ERROR_SCHEMA: Record<Api, string> = {
  'dps-service': 'ProvisioningServiceErrorDetails',
  'dps-device': 'ProvisioningServiceErrorDetails',
  iothub: 'HubError',
  adr: 'ErrorResponse',
};

export function apiOf(host: string): Api | undefined {
  if (host.startsWith('global.') && host.endsWith('.azure-devices-provisioning.net')) return 'dps-device';
  if (host.endsWith('.azure-devices-provisioning.net')) return 'dps-service';
  if (host.endsWith('.azure-devices.net')) return 'iothub';
  if (host === 'management.azure.com') return 'adr';
  return undefined;
}

export function operationOf(e: Pick<Exchange, 'host' | 'method' | 'url'>): Operation | undefined {
  const api = apiOf(e.host);
  const path = new URL(e.url, 'https://x').pathname.replace(/\/$/, '');
  return OPERATIONS.find((o) => o.api === api && o.method === e.method && o.path.test(path));
}

/** Why `text` is not one of `names` (`A|B`), or undefined when it is. */
function mismatch(api: Api, names: string, text: string, apiVersion: string | null): string | undefined {
  if (names === '') return text.trim() === '' ? undefined : 'a body where the operation has none';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `not JSON: ${text.slice(0, 80)}`;
  }
  const problems: string[] = [];
  for (const name of names.split('|')) {
    const validate = validatorsFor(apiVersion)[api](name);
    if (validate(value)) return undefined;
    problems.push(
      `${name}: ${(validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`).join('; ')}`,
    );
  }
  return problems.join(' | ');
}

/** What is wrong with one exchange, in words; empty when it keeps the contract. */
export function checkExchange(e: Exchange): string[] {
  const operation = operationOf(e);
  const where = `${e.method} ${e.host}${e.url.split('?')[0]} → ${e.status}`;
  if (!operation) return [`${where}: no such operation in the published contract`];
  const problems: string[] = [];
  const apiVersion = new URL(e.url, 'https://x').searchParams.get('api-version');
  // Refusing a call without one is the contract kept; answering it is not.
  if (!apiVersion && e.status !== 400) problems.push(`${where}: no api-version (required by every operation)`);
  // Only a request a test marks as outside the contract on purpose may break it, and then it must be refused (400).
  if (e.outsideContract && e.status !== 400)
    problems.push(`${where}: a request sent outside the contract was answered`);
  if (operation.request && e.requestBody.trim() && !e.outsideContract) {
    const wrong = mismatch(operation.api, operation.request, e.requestBody, apiVersion);
    if (wrong) problems.push(`${where}: request ${wrong}`);
  }
  const expected = operation.responses[e.status] ?? (e.status >= 400 ? ERROR_SCHEMA[operation.api] : undefined);
  if (expected === undefined) problems.push(`${where}: status ${e.status} is not an answer of ${operation.id}`);
  else {
    const wrong = mismatch(operation.api, expected, e.responseBody, apiVersion);
    if (wrong) problems.push(`${where}: response ${wrong}`);
  }
  return problems;
}
